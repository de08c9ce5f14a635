-- Issue 16: one page, one resolution. A page used to ask the database who is looking
-- four times (the user, their organizations, the organization's membership, the client
-- named in the URL), each its own transaction or call, before its data. This function
-- answers all of it in one statement, with the same checks: the user-only context for
-- the user and their organizations, then enter_context for the organization (membership)
-- and, when the URL names a client the user may open, for that client (assignment). Like
-- resolve_context it runs as the caller: every row it returns passed the policies of a
-- context enter_context sealed, and the contexts end with the statement.
--
-- A missing organization choice, a membership that ended and a client that is not open
-- to the user are answers, not errors (org_id / workspace_id NULL): the header still
-- shows the user and their organizations. An unknown user raises, as enter_user does.
CREATE FUNCTION enclave.page_context(p_user uuid, p_org uuid, p_client_slug text)
    RETURNS TABLE (user_name text, user_email text, organizations jsonb,
                   org_id uuid, org_name text, org_kind text, role text, clients jsonb,
                   workspace_id uuid, workspace_name text)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_workspace uuid;
    BEGIN
        PERFORM enclave.enter_user(p_user);
        SELECT u.display_name, u.email INTO user_name, user_email
          FROM public.users u WHERE u.id = p_user;
        SELECT coalesce(jsonb_agg(jsonb_build_object('org_id', o.org_id, 'name', o.name,
                                                     'kind', o.kind, 'role', o.role)
                                  ORDER BY o.name, o.org_id), '[]'::jsonb)
          INTO organizations
          FROM enclave.my_organizations() o;
        clients := '[]'::jsonb;
        IF p_org IS NULL OR NOT EXISTS (SELECT 1 FROM public.memberships m
                                         WHERE m.org_id = p_org AND m.user_id = p_user) THEN
            RETURN NEXT;
            RETURN;
        END IF;
        PERFORM enclave.enter_context(p_org, NULL, p_user);
        SELECT coalesce(jsonb_agg(jsonb_build_object('workspace_id', w.workspace_id,
                                                     'name', w.name, 'slug', w.slug)
                                  ORDER BY w.name, w.workspace_id), '[]'::jsonb),
               (array_agg(w.workspace_id) FILTER (WHERE w.slug = p_client_slug))[1]
          INTO clients, v_workspace
          FROM enclave.visible_client_workspaces() w;
        IF v_workspace IS NOT NULL THEN
            PERFORM enclave.enter_context(p_org, v_workspace, p_user);
        END IF;
        SELECT d.org_id, d.org_name, d.org_kind, d.role, d.workspace_id, d.workspace_name
          INTO org_id, org_name, org_kind, role, workspace_id, workspace_name
          FROM enclave.describe_context() d;
        RETURN NEXT;
    END $$;

GRANT EXECUTE ON FUNCTION enclave.page_context(uuid, uuid, text) TO enclave_runtime;
