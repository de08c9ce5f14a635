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
--
-- Written out rather than calling my_organizations(), visible_client_workspaces() and
-- describe_context(): those are SQL functions that read tables, which PostgreSQL plans
-- again on every call; here the statements keep their plans for the connection's life
-- (measured: 3.2 ms through the helpers, see ARCHITECTURE "A page's statements"). The
-- organization's name, kind and role come from the user's own memberships, read in the
-- sealed user context; enter_context still checks the membership itself.
CREATE FUNCTION enclave.page_context(p_user uuid, p_org uuid, p_client_slug text)
    RETURNS TABLE (user_name text, user_email text, organizations jsonb,
                   org_id uuid, org_name text, org_kind text, role text, clients jsonb,
                   workspace_id uuid, workspace_name text)
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org jsonb;
        v_workspace uuid;
        v_workspace_name text;
    BEGIN
        PERFORM enclave.enter_user(p_user);
        SELECT u.display_name, u.email INTO user_name, user_email
          FROM public.users u WHERE u.id = p_user;
        SELECT coalesce(jsonb_agg(jsonb_build_object('org_id', o.id, 'name', o.name,
                                                     'kind', o.kind, 'role', m.role)
                                  ORDER BY o.name, o.id), '[]'::jsonb)
          INTO organizations
          FROM public.memberships m JOIN public.organizations o ON o.id = m.org_id
         WHERE m.user_id = p_user;
        clients := '[]'::jsonb;
        SELECT e INTO v_org FROM jsonb_array_elements(organizations) e
         WHERE (e ->> 'org_id')::uuid = p_org;
        IF v_org IS NULL THEN
            RETURN NEXT;
            RETURN;
        END IF;
        PERFORM enclave.enter_context(p_org, NULL, p_user);
        org_id := p_org;
        org_name := v_org ->> 'name';
        org_kind := v_org ->> 'kind';
        role := v_org ->> 'role';
        IF org_kind = 'agency' THEN
            SELECT coalesce(jsonb_agg(jsonb_build_object('workspace_id', w.workspace_id,
                                                         'name', w.name, 'slug', w.slug)
                                      ORDER BY w.name, w.workspace_id), '[]'::jsonb),
                   (array_agg(w.workspace_id) FILTER (WHERE w.slug = p_client_slug))[1],
                   (array_agg(w.name) FILTER (WHERE w.slug = p_client_slug))[1]
              INTO clients, v_workspace, v_workspace_name
              FROM agency.client_workspaces w
             WHERE w.org_id = p_org AND w.archived_at IS NULL;
            IF v_workspace IS NOT NULL THEN
                -- Archived or unassigned since the list was read: the answer is "not
                -- open to you", in the organization's context (the failed entry's
                -- settings go with its subtransaction).
                BEGIN
                    PERFORM enclave.enter_context(p_org, v_workspace, p_user);
                    workspace_id := v_workspace;
                    workspace_name := v_workspace_name;
                EXCEPTION WHEN insufficient_privilege THEN
                    NULL;
                END;
            END IF;
        END IF;
        RETURN NEXT;
    END $$;

GRANT EXECUTE ON FUNCTION enclave.page_context(uuid, uuid, text) TO enclave_runtime;
