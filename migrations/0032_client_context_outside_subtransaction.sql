-- Agency client pages on Citus (issue 14). page_context enters the URL's client inside an
-- EXCEPTION block (a client archived or unassigned since the list was read is "not open to
-- you", in the organization's context). PostgreSQL keeps a released subtransaction's
-- settings, but Citus forgets the SET LOCALs made inside a subtransaction when it ends: the
-- workers kept the organization's context without the client, so a client page showed none
-- of its rows there and its saves were refused by the policies (found by the server-function
-- property test run against a cluster). keep_context writes the four settings again, as they
-- are, outside the block.

-- Copies what is there, seal included: nothing becomes valid that was not (a value the
-- runtime role wrote itself stays unsealed). On one node it changes nothing.
CREATE FUNCTION enclave.keep_context() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.put_context(current_setting('enclave.org_id', true),
                                    current_setting('enclave.user_id', true),
                                    current_setting('enclave.workspace_id', true),
                                    current_setting('enclave.context_seal', true));
    END $$;

REVOKE ALL ON FUNCTION enclave.keep_context() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION enclave.keep_context() TO enclave_runtime;

INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.keep_context()', 'context',
     'writes the transaction''s four context settings again exactly as they are (for the Citus workers after a subtransaction); grants nothing: an unsealed or forged value stays refused');

CREATE OR REPLACE FUNCTION enclave.page_context(p_user uuid, p_org uuid, p_client_slug text, p_proof text)
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
        PERFORM enclave.enter_user(p_user, p_proof);
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
        PERFORM enclave.enter_context(p_org, NULL, p_user, p_proof);
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
                    PERFORM enclave.enter_context(p_org, v_workspace, p_user, p_proof);
                    workspace_id := v_workspace;
                    workspace_name := v_workspace_name;
                EXCEPTION WHEN insufficient_privilege THEN
                    NULL;
                END;
                -- Written again outside the block, for the Citus workers (see keep_context).
                IF workspace_id IS NOT NULL THEN
                    PERFORM enclave.keep_context();
                END IF;
            END IF;
        END IF;
        RETURN NEXT;
    END $$;
