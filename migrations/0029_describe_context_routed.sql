-- describe_context in a shape Citus can run (issue 14), the same answer on one node.
--
-- On Citus, memberships and client_workspaces are distributed by org_id; organizations and
-- users are reference tables. The 0001 query (a SQL function) was refused there when
-- called with the verified context ("complex joins are only supported when all distributed
-- tables are co-located and joined on their distribution columns"; met by running the Rust
-- isolation suite against a cluster): the client workspaces were LEFT JOINed on
-- `workspace_id = current_workspace_id()`, which is NULL outside a client, and a join
-- condition that folds to false is one Citus cannot push down. Now: PL/pgSQL (it keeps its
-- plans per connection, see 0002), memberships first, the verified ids in variables, and
-- the client workspace joined only when there is one (on org_id, the distribution column).
CREATE OR REPLACE FUNCTION enclave.describe_context()
    RETURNS TABLE (org_id uuid, org_name text, org_kind text, role text,
                   workspace_id uuid, workspace_name text, user_name text, user_email text)
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    #variable_conflict use_column
    DECLARE
        v_org uuid := enclave.current_org_id();
        v_user uuid := enclave.current_user_id();
        v_workspace uuid := enclave.current_workspace_id();
    BEGIN
        IF v_workspace IS NULL THEN
            RETURN QUERY
            SELECT o.id, o.name, o.kind, m.role, NULL::uuid, NULL::text, u.display_name, u.email
              FROM public.memberships m
              JOIN public.organizations o ON o.id = m.org_id
              JOIN public.users u ON u.id = m.user_id
             WHERE m.org_id = v_org AND m.user_id = v_user;
        ELSE
            RETURN QUERY
            SELECT o.id, o.name, o.kind, m.role, w.workspace_id, w.name, u.display_name, u.email
              FROM public.memberships m
              JOIN public.organizations o ON o.id = m.org_id
              JOIN public.users u ON u.id = m.user_id
              JOIN agency.client_workspaces w ON w.org_id = m.org_id AND w.workspace_id = v_workspace
             WHERE m.org_id = v_org AND m.user_id = v_user;
        END IF;
    END $$;
