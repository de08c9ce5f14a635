-- Bulk import of personas and campaigns from a CRM's CSV export.
--
-- An uploaded file is kept as an import batch of the scope (the SME, or one agency
-- client) until it is imported: the mapping and preview steps read it again, and the
-- import writes every accepted row and the batch's report in one transaction. Same
-- tenancy shape as the marketing tables (0007): one table per side, kind pinned on the
-- row, RLS with FORCE, writes through router functions that take no org or client id.

CREATE TABLE public.import_batches (
    org_id       uuid NOT NULL,
    batch_id     uuid NOT NULL DEFAULT gen_random_uuid(),
    org_kind     text NOT NULL DEFAULT 'sme' CONSTRAINT import_batches_org_kind_sme CHECK (org_kind = 'sme'),
    resource     text NOT NULL CHECK (resource IN ('personas', 'campaigns')),
    file_name    text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
    content      text NOT NULL CHECK (octet_length(content) <= 10485760),
    row_count    integer NOT NULL CHECK (row_count BETWEEN 1 AND 5000),
    status       text NOT NULL DEFAULT 'uploaded' CHECK (status IN ('uploaded', 'imported')),
    report       jsonb,
    created_by   uuid NOT NULL REFERENCES public.users (id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    imported_at  timestamptz,
    PRIMARY KEY (org_id, batch_id),
    CHECK ((status = 'imported') = (report IS NOT NULL AND imported_at IS NOT NULL)),
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind)
);
CREATE TABLE agency.import_batches (
    org_id        uuid NOT NULL,
    workspace_id  uuid NOT NULL,
    batch_id      uuid NOT NULL DEFAULT gen_random_uuid(),
    org_kind      text NOT NULL DEFAULT 'agency' CONSTRAINT import_batches_org_kind_agency CHECK (org_kind = 'agency'),
    resource      text NOT NULL CHECK (resource IN ('personas', 'campaigns')),
    file_name     text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
    content       text NOT NULL CHECK (octet_length(content) <= 10485760),
    row_count     integer NOT NULL CHECK (row_count BETWEEN 1 AND 5000),
    status        text NOT NULL DEFAULT 'uploaded' CHECK (status IN ('uploaded', 'imported')),
    report        jsonb,
    created_by    uuid NOT NULL REFERENCES public.users (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    imported_at   timestamptz,
    PRIMARY KEY (org_id, workspace_id, batch_id),
    CHECK ((status = 'imported') = (report IS NOT NULL AND imported_at IS NOT NULL)),
    FOREIGN KEY (org_id, workspace_id) REFERENCES agency.client_workspaces (org_id, workspace_id),
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind)
);
CREATE INDEX import_batches_recent_idx ON public.import_batches (org_id, created_at DESC);
CREATE INDEX agency_import_batches_recent_idx ON agency.import_batches (org_id, workspace_id, created_at DESC);

ALTER TABLE public.import_batches ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.import_batches FORCE ROW LEVEL SECURITY;
CREATE POLICY import_batches_sme ON public.import_batches
    USING (org_id = (SELECT enclave.current_org_id()) AND org_kind = 'sme')
    WITH CHECK (org_id = (SELECT enclave.current_org_id()) AND org_kind = 'sme');
ALTER TABLE agency.import_batches ENABLE ROW LEVEL SECURITY;
ALTER TABLE agency.import_batches FORCE ROW LEVEL SECURITY;
CREATE POLICY import_batches_client ON agency.import_batches
    USING (org_id = (SELECT enclave.current_org_id())
           AND workspace_id = (SELECT enclave.current_workspace_id()) AND org_kind = 'agency')
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
           AND workspace_id = (SELECT enclave.current_workspace_id()) AND org_kind = 'agency');

CREATE VIEW public.import_batches_unified WITH (security_invoker = on) AS
    SELECT 'sme'::text AS source, b.org_id, NULL::uuid AS workspace_id, b.batch_id, b.resource,
           b.file_name, b.content, b.row_count, b.status, b.report, b.created_by, b.created_at,
           b.imported_at
      FROM public.import_batches b
    UNION ALL
    SELECT 'agency'::text, b.org_id, b.workspace_id, b.batch_id, b.resource,
           b.file_name, b.content, b.row_count, b.status, b.report, b.created_by, b.created_at,
           b.imported_at
      FROM agency.import_batches b;

-- Keeps an uploaded file in the current scope; returns the batch id.
CREATE FUNCTION enclave.save_import_batch(
        p_resource text, p_file_name text, p_content text, p_row_count integer)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope(); v_id uuid := gen_random_uuid();
    BEGIN
        IF s.o_kind = 'sme' THEN
            INSERT INTO public.import_batches (org_id, batch_id, resource, file_name, content, row_count, created_by)
            VALUES (s.o_org, v_id, p_resource, p_file_name, p_content, p_row_count, enclave.current_user_id());
        ELSE
            INSERT INTO agency.import_batches (org_id, workspace_id, batch_id, resource, file_name, content,
                                               row_count, created_by)
            VALUES (s.o_org, s.o_workspace, v_id, p_resource, p_file_name, p_content, p_row_count,
                    enclave.current_user_id());
        END IF;
        RETURN v_id;
    END $$;

-- Marks a batch of the current scope imported with its report. Refuses a batch that is
-- not waiting (imported already, or not of this scope), so a file is imported once even
-- when two people press "Import" together: the loser's whole transaction rolls back.
CREATE FUNCTION enclave.finish_import_batch(p_batch uuid, p_report jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope(); v_count integer;
    BEGIN
        IF s.o_kind = 'sme' THEN
            UPDATE public.import_batches SET status = 'imported', report = p_report, imported_at = now()
             WHERE org_id = s.o_org AND batch_id = p_batch AND status = 'uploaded';
        ELSE
            UPDATE agency.import_batches SET status = 'imported', report = p_report, imported_at = now()
             WHERE org_id = s.o_org AND workspace_id = s.o_workspace AND batch_id = p_batch
               AND status = 'uploaded';
        END IF;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        IF v_count = 0 THEN
            RAISE EXCEPTION 'this file has already been imported, or it is not in this workspace'
                USING ERRCODE = 'serialization_failure';
        END IF;
    END $$;

GRANT SELECT ON public.import_batches, agency.import_batches, public.import_batches_unified TO enclave_runtime;
GRANT EXECUTE ON FUNCTION
    enclave.save_import_batch(text, text, text, integer),
    enclave.finish_import_batch(uuid, jsonb)
    TO enclave_runtime;
