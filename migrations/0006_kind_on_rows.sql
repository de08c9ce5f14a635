-- The organization's kind travels on every kind-specific row, pinned and tied to the
-- organization by a foreign key, so policies check the row instead of looking the kind
-- up per statement.
--
-- Why this still enforces the kind in the database (docs/ARCHITECTURE.md, "Kind on the
-- row"): `org_kind` is NOT NULL, pinned by a CHECK to the table's side ('sme' in public,
-- 'agency' in agency), and the foreign key (org_id, org_kind) -> organizations (id, kind)
-- makes it equal to the organization's real kind, which a trigger keeps permanent. So a
-- row in an SME table can only belong to an SME organization; the policy
-- `org_id = current_org_id() AND org_kind = 'sme'` then shows and accepts rows only
-- when the context's organization is an SME. An agency context sees no row and cannot
-- write one (its org_id with 'sme' breaks the foreign key; with 'agency' the CHECK and
-- the policy). The same holds the other way round.
--
-- Measured with scripts/bench-tenant-read (see ARCHITECTURE): the per-statement kind
-- lookup was the largest cost left on the single-statement tenant read.

ALTER TABLE public.organizations ADD CONSTRAINT organizations_id_kind_key UNIQUE (id, kind);

ALTER TABLE public.brand_guidelines
    ADD COLUMN org_kind text NOT NULL DEFAULT 'sme' CONSTRAINT brand_guidelines_org_kind_sme CHECK (org_kind = 'sme'),
    ADD CONSTRAINT brand_guidelines_org_kind_fk FOREIGN KEY (org_id, org_kind)
        REFERENCES public.organizations (id, kind);
ALTER TABLE agency.client_workspaces
    ADD COLUMN org_kind text NOT NULL DEFAULT 'agency' CONSTRAINT client_workspaces_org_kind_agency CHECK (org_kind = 'agency'),
    ADD CONSTRAINT client_workspaces_org_kind_fk FOREIGN KEY (org_id, org_kind)
        REFERENCES public.organizations (id, kind);
ALTER TABLE agency.client_assignments
    ADD COLUMN org_kind text NOT NULL DEFAULT 'agency' CONSTRAINT client_assignments_org_kind_agency CHECK (org_kind = 'agency'),
    ADD CONSTRAINT client_assignments_org_kind_fk FOREIGN KEY (org_id, org_kind)
        REFERENCES public.organizations (id, kind);
ALTER TABLE agency.brand_guidelines
    ADD COLUMN org_kind text NOT NULL DEFAULT 'agency' CONSTRAINT brand_guidelines_org_kind_agency CHECK (org_kind = 'agency'),
    ADD CONSTRAINT brand_guidelines_org_kind_fk FOREIGN KEY (org_id, org_kind)
        REFERENCES public.organizations (id, kind);

DROP POLICY brand_guidelines_sme ON public.brand_guidelines;
CREATE POLICY brand_guidelines_sme ON public.brand_guidelines
    USING (org_id = (SELECT enclave.current_org_id()) AND org_kind = 'sme')
    WITH CHECK (org_id = (SELECT enclave.current_org_id()) AND org_kind = 'sme');

DROP POLICY client_workspaces_visible ON agency.client_workspaces;
CREATE POLICY client_workspaces_visible ON agency.client_workspaces
    USING (org_id = (SELECT enclave.current_org_id())
           AND org_kind = 'agency'
           AND ((SELECT enclave.current_member_role()) IN ('owner', 'admin')
                OR EXISTS (SELECT 1 FROM agency.client_assignments a
                            WHERE a.org_id = client_workspaces.org_id
                              AND a.workspace_id = client_workspaces.workspace_id
                              AND a.user_id = (SELECT enclave.current_user_id()))))
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
           AND org_kind = 'agency'
           AND (SELECT enclave.current_member_role()) IN ('owner', 'admin'));

DROP POLICY client_assignments_visible ON agency.client_assignments;
CREATE POLICY client_assignments_visible ON agency.client_assignments
    USING (org_id = (SELECT enclave.current_org_id())
           AND org_kind = 'agency'
           AND ((SELECT enclave.current_member_role()) IN ('owner', 'admin')
                OR user_id = (SELECT enclave.current_user_id())))
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
           AND org_kind = 'agency'
           AND (SELECT enclave.current_member_role()) IN ('owner', 'admin'));

DROP POLICY brand_guidelines_client ON agency.brand_guidelines;
CREATE POLICY brand_guidelines_client ON agency.brand_guidelines
    USING (org_id = (SELECT enclave.current_org_id())
           AND workspace_id = (SELECT enclave.current_workspace_id())
           AND org_kind = 'agency')
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
           AND workspace_id = (SELECT enclave.current_workspace_id())
           AND org_kind = 'agency');
