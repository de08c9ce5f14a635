-- Agency client workspaces, managed by the agency's owners and admins: add (slug from the
-- name), rename, archive or restore, and assign staff. Every change is audited. Staff
-- with role `member` see only the clients they are assigned to (0001's policies).

CREATE FUNCTION enclave.require_agency() RETURNS uuid
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF enclave.current_org_kind() IS DISTINCT FROM 'agency' THEN
            RAISE EXCEPTION 'only agencies have client workspaces' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN enclave.current_org_id();
    END $$;

CREATE FUNCTION enclave.require_agency_manager() RETURNS uuid
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.require_agency();
        PERFORM enclave.require_manager('manage clients');
        RETURN enclave.current_org_id();
    END $$;

CREATE FUNCTION enclave.check_client_name(p_name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF length(btrim(coalesce(p_name, ''))) NOT BETWEEN 1 AND 200 THEN
            RAISE EXCEPTION 'the client needs a name of 1 to 200 characters'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN btrim(p_name);
    END $$;

CREATE FUNCTION enclave.add_client(p_name text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org  uuid := enclave.require_agency_manager();
        v_name text := enclave.check_client_name(p_name);
        v_base text := left(trim(BOTH '-' FROM regexp_replace(lower(v_name), '[^a-z0-9]+', '-', 'g')), 40);
        v_id   uuid;
    BEGIN
        IF length(v_base) < 2 THEN
            v_base := 'client';
        END IF;
        FOR attempt IN 1..5 LOOP
            BEGIN
                INSERT INTO agency.client_workspaces (org_id, name, slug)
                     VALUES (v_org, v_name, CASE WHEN attempt = 1 THEN v_base
                                                 ELSE v_base || '-' || substr(md5(random()::text), 1, 6) END)
                  RETURNING workspace_id INTO v_id;
                EXIT;
            EXCEPTION WHEN unique_violation THEN
                v_id := NULL;
            END;
        END LOOP;
        IF v_id IS NULL THEN
            RAISE EXCEPTION 'could not find a free address for this client; try another name'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM enclave.audit_tenant('add client', jsonb_build_object('workspace_id', v_id, 'name', v_name));
        RETURN v_id;
    END $$;

CREATE FUNCTION enclave.rename_client(p_workspace uuid, p_name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org  uuid := enclave.require_agency_manager();
        v_name text := enclave.check_client_name(p_name);
    BEGIN
        UPDATE agency.client_workspaces SET name = v_name
         WHERE org_id = v_org AND workspace_id = p_workspace;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'that client is not in this organization' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM enclave.audit_tenant('rename client', jsonb_build_object('workspace_id', p_workspace, 'name', v_name));
    END $$;

CREATE FUNCTION enclave.archive_client(p_workspace uuid, p_archived boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_org uuid := enclave.require_agency_manager();
    BEGIN
        UPDATE agency.client_workspaces
           SET archived_at = CASE WHEN p_archived THEN coalesce(archived_at, now()) END
         WHERE org_id = v_org AND workspace_id = p_workspace;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'that client is not in this organization' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM enclave.audit_tenant(CASE WHEN p_archived THEN 'archive client' ELSE 'restore client' END,
                                     jsonb_build_object('workspace_id', p_workspace));
    END $$;

CREATE FUNCTION enclave.set_client_assignment(p_workspace uuid, p_user uuid, p_assigned boolean) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_org uuid := enclave.require_agency_manager();
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM agency.client_workspaces w
                        WHERE w.org_id = v_org AND w.workspace_id = p_workspace) THEN
            RAISE EXCEPTION 'that client is not in this organization' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM public.memberships m WHERE m.org_id = v_org AND m.user_id = p_user) THEN
            RAISE EXCEPTION 'that person is not a member of this organization' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_assigned THEN
            INSERT INTO agency.client_assignments (org_id, workspace_id, user_id)
                 VALUES (v_org, p_workspace, p_user) ON CONFLICT DO NOTHING;
        ELSE
            DELETE FROM agency.client_assignments
             WHERE org_id = v_org AND workspace_id = p_workspace AND user_id = p_user;
        END IF;
        PERFORM enclave.audit_tenant(CASE WHEN p_assigned THEN 'assign client' ELSE 'unassign client' END,
                                     jsonb_build_object('workspace_id', p_workspace, 'user_id', p_user));
    END $$;

-- The clients the caller may see (managers: all, archived too; staff: their assigned,
-- open ones), with the ids of the staff assigned (managers only see assignments of others).
CREATE FUNCTION enclave.list_clients()
    RETURNS TABLE (workspace_id uuid, name text, slug text, archived boolean, staff uuid[])
    LANGUAGE sql STABLE
    AS $$
        SELECT w.workspace_id, w.name, w.slug, w.archived_at IS NOT NULL,
               coalesce((SELECT array_agg(a.user_id ORDER BY a.user_id) FROM agency.client_assignments a
                          WHERE a.org_id = w.org_id AND a.workspace_id = w.workspace_id), '{}')
          FROM agency.client_workspaces w
         WHERE w.org_id = enclave.current_org_id()
           AND (w.archived_at IS NULL OR enclave.current_member_role() IN ('owner', 'admin'))
         ORDER BY w.archived_at IS NOT NULL, w.name
    $$;

GRANT EXECUTE ON FUNCTION enclave.require_agency(), enclave.add_client(text), enclave.rename_client(uuid, text),
    enclave.archive_client(uuid, boolean), enclave.set_client_assignment(uuid, uuid, boolean),
    enclave.list_clients()
    TO enclave_runtime;
