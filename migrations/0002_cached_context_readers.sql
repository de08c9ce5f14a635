-- The context readers that query a table were plain SQL functions. PostgreSQL cannot
-- inline a SQL function whose body reads a table, and before version 18 it parses and
-- plans such a function's query again on every call: every policy that asked for the
-- organization's kind re-planned a query on each statement. PL/pgSQL keeps the plan for
-- the life of the connection. Measured with scripts/bench-tenant-read (interleaved
-- rounds): the single-statement tenant read went from about 0.77x to about 0.84x of the
-- bare read. Same semantics, same owners and grants (CREATE OR REPLACE keeps them).

CREATE OR REPLACE FUNCTION enclave.current_org_kind() RETURNS text
    LANGUAGE plpgsql STABLE
    AS $$
    BEGIN
        RETURN (SELECT o.kind FROM public.organizations o WHERE o.id = enclave.current_org_id());
    END $$;

CREATE OR REPLACE FUNCTION enclave.current_member_role() RETURNS text
    LANGUAGE plpgsql STABLE
    AS $$
    BEGIN
        RETURN (SELECT m.role FROM public.memberships m
                 WHERE m.org_id = enclave.current_org_id()
                   AND m.user_id = enclave.current_user_id());
    END $$;

CREATE OR REPLACE FUNCTION enclave.current_workspace_id() RETURNS uuid
    LANGUAGE plpgsql STABLE
    AS $$
    BEGIN
        RETURN (SELECT w.workspace_id FROM agency.client_workspaces w
                 WHERE w.org_id = enclave.current_org_id()
                   AND w.workspace_id = NULLIF(pg_catalog.current_setting('enclave.workspace_id', true), '')::uuid
                   AND w.archived_at IS NULL);
    END $$;

CREATE OR REPLACE FUNCTION enclave.system_path_active() RETURNS boolean
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        RETURN pg_current_xact_id_if_assigned() IS NOT NULL
           AND EXISTS (SELECT 1 FROM enclave.audit_log a
                        WHERE a.xact_id = pg_current_xact_id_if_assigned()
                          AND a.path = 'system');
    END $$;
