-- Check (c): the hole of REPORT.md section 5 is closed on the cluster. Restrictive
-- policies became PERMISSIVE on the shards, so `billing_writable_*` (true whenever the
-- organization is writable, and with no context at all) let any row in. After 0028 there
-- are none; these must all be refused on the cluster:
--   c1 a read-only organization's writes (past due, grace over): insert, update, delete;
--      reads keep working; a writable organization's write goes through;
--   c2 a full organization's invitation (seats), by the router and by a direct INSERT as
--      the owner role in an honest context; with a free seat it goes through;
--   c3 an insert for organization B in organization A's honest context (owner role, which
--      holds INSERT; the runtime role has no DML at all), both directions;
--   c4 an insert as the owner role with no context at all.
-- Run as superuser with the variables of ids.sh: psql -v ON_ERROR_STOP=1 $VARS -f limits.sql
-- Billing state and overrides are set here (superuser) and removed at the end; every
-- write tried is rolled back. Each check raises 'FAIL (c…)' when it does not hold.
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = notice;
-- psql does not substitute inside $$ … $$: the ids go to the DO blocks as session settings
-- (again after each \c).
SELECT set_config('citus_test.sme', :'sme', false), set_config('citus_test.ag', :'ag', false),
       set_config('citus_test.acme', :'acme', false), set_config('citus_test.nora', :'nora', false),
       set_config('citus_test.ada', :'ada', false) \g /dev/null
-- Leftovers of an interrupted earlier run.
DELETE FROM public.org_billing WHERE org_id = :'sme' AND stripe_customer_id = 'cus_CitusReadOnly';
DELETE FROM enclave.entitlement_overrides WHERE org_id = :'ag' AND reason = 'citus test: every seat taken';
SELECT persona_id AS sme_persona FROM public.personas WHERE org_id = :'sme' ORDER BY persona_id LIMIT 1 \gset
SELECT (SELECT count(*) FROM public.memberships WHERE org_id = :'ag') AS ag_members \gset

-- c3 / c4 first, with both organizations writable ------------------------------------------
\echo '--- c3: an insert for organization B in organization A''s honest context (owner role)'
BEGIN;
SET LOCAL ROLE enclave_owner;
SELECT enclave.enter_context(:'ag', :'acme', :'ada', :'p_ada') IS NOT DISTINCT FROM NULL AS entered_agency \g /dev/null
SELECT set_config('citus_test.sme', :'sme', false), set_config('citus_test.ag', :'ag', false),
       set_config('citus_test.acme', :'acme', false), set_config('citus_test.nora', :'nora', false),
       set_config('citus_test.ada', :'ada', false) \g /dev/null
DO $$ BEGIN
    INSERT INTO public.personas (org_id, name) VALUES (current_setting('citus_test.sme')::uuid, 'Citus c3 cross-org');
    RAISE EXCEPTION 'FAIL (c3): in the agency''s context the owner role inserted a persona for the SME';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'ok (c3): agency context -> SME row refused: % (%)', SQLERRM, SQLSTATE;
END $$;
ROLLBACK;
BEGIN;
SET LOCAL ROLE enclave_owner;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
SELECT set_config('citus_test.sme', :'sme', false), set_config('citus_test.ag', :'ag', false),
       set_config('citus_test.acme', :'acme', false), set_config('citus_test.nora', :'nora', false),
       set_config('citus_test.ada', :'ada', false) \g /dev/null
DO $$ BEGIN
    INSERT INTO agency.personas (org_id, workspace_id, name)
         VALUES (current_setting('citus_test.ag')::uuid, current_setting('citus_test.acme')::uuid, 'Citus c3 cross-org');
    RAISE EXCEPTION 'FAIL (c3): in the SME''s context the owner role inserted a persona for the agency''s client';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'ok (c3): SME context -> agency row refused: % (%)', SQLERRM, SQLSTATE;
END $$;
ROLLBACK;

\echo '--- c4: an insert as the owner role with no context at all'
BEGIN;
SET LOCAL ROLE enclave_owner;
SELECT set_config('citus_test.sme', :'sme', false), set_config('citus_test.ag', :'ag', false),
       set_config('citus_test.acme', :'acme', false), set_config('citus_test.nora', :'nora', false),
       set_config('citus_test.ada', :'ada', false) \g /dev/null
DO $$ BEGIN
    INSERT INTO public.personas (org_id, name) VALUES (current_setting('citus_test.sme')::uuid, 'Citus c4 no context');
    RAISE EXCEPTION 'FAIL (c4): the owner role with no context inserted into public.personas';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'ok (c4): no context -> public.personas refused: % (%)', SQLERRM, SQLSTATE;
END $$;
DO $$ BEGIN
    INSERT INTO agency.personas (org_id, workspace_id, name)
         VALUES (current_setting('citus_test.ag')::uuid, current_setting('citus_test.acme')::uuid, 'Citus c4 no context');
    RAISE EXCEPTION 'FAIL (c4): the owner role with no context inserted into agency.personas';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'ok (c4): no context -> agency.personas refused: % (%)', SQLERRM, SQLSTATE;
END $$;
DO $$ BEGIN
    INSERT INTO public.memberships (org_id, user_id, role)
         VALUES (current_setting('citus_test.ag')::uuid, current_setting('citus_test.nora')::uuid, 'owner');
    RAISE EXCEPTION 'FAIL (c4): the owner role with no context made nora an owner of the agency';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'ok (c4): no context -> public.memberships refused: % (%)', SQLERRM, SQLSTATE;
END $$;
ROLLBACK;

-- c1: the SME read-only, c2: the agency's seats full (superuser writes) ----------------------
DELETE FROM public.org_billing WHERE org_id = :'sme';
INSERT INTO public.org_billing (org_id, plan_id, status, stripe_customer_id, grace_ends_at)
     VALUES (:'sme', 'sme_business', 'past_due', 'cus_CitusReadOnly', now() - interval '1 minute');
DELETE FROM enclave.entitlement_overrides WHERE org_id = :'ag' AND feature = 'seats';
INSERT INTO enclave.entitlement_overrides (org_id, feature, value, reason, granted_by)
     VALUES (:'ag', 'seats', :ag_members, 'citus test: every seat taken', :'ada');

\echo '--- c1: read-only organization (SME past due, grace over), as the runtime role'
\c - enclave_app
SET client_min_messages = notice;
SELECT set_config('citus_test.sme', :'sme', false), set_config('citus_test.ag', :'ag', false),
       set_config('citus_test.acme', :'acme', false), set_config('citus_test.nora', :'nora', false),
       set_config('citus_test.ada', :'ada', false) \g /dev/null
SELECT set_config('citus_test.sme_persona', :'sme_persona', false) \g /dev/null
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
DO $$ BEGIN
    PERFORM enclave.save_persona(NULL, 'Citus c1 new', 'tester', '', '', '{}');
    RAISE EXCEPTION 'FAIL (c1): a read-only organization inserted a persona';
EXCEPTION WHEN SQLSTATE 'EN402' THEN
    IF SQLERRM NOT LIKE '%read-only%' THEN RAISE EXCEPTION 'FAIL (c1): wrong refusal: %', SQLERRM; END IF;
    RAISE NOTICE 'ok (c1): insert refused: %', SQLERRM;
END $$;
DO $$ BEGIN
    PERFORM enclave.save_persona(current_setting('citus_test.sme_persona')::uuid, 'Citus c1 renamed', 'tester', '', '', '{}');
    RAISE EXCEPTION 'FAIL (c1): a read-only organization updated a persona';
EXCEPTION WHEN SQLSTATE 'EN402' THEN
    IF SQLERRM NOT LIKE '%read-only%' THEN RAISE EXCEPTION 'FAIL (c1): wrong refusal: %', SQLERRM; END IF;
    RAISE NOTICE 'ok (c1): update refused (EN402 read-only)';
END $$;
DO $$ BEGIN
    PERFORM enclave.delete_resource('personas', current_setting('citus_test.sme_persona')::uuid);
    RAISE EXCEPTION 'FAIL (c1): a read-only organization deleted a persona';
EXCEPTION WHEN SQLSTATE 'EN402' THEN
    IF SQLERRM NOT LIKE '%read-only%' THEN RAISE EXCEPTION 'FAIL (c1): wrong refusal: %', SQLERRM; END IF;
    RAISE NOTICE 'ok (c1): delete refused (EN402 read-only)';
END $$;
DO $$ BEGIN
    PERFORM enclave.save_brand_guidelines('Voice', 'Tone', 'Colours', 'Do', 'Dont', NULL);
    RAISE EXCEPTION 'FAIL (c1): a read-only organization saved its brand guidelines';
EXCEPTION WHEN SQLSTATE 'EN402' THEN
    RAISE NOTICE 'ok (c1): brand guidelines save refused (EN402 read-only)';
END $$;
ROLLBACK;
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
DO $$ DECLARE n bigint; BEGIN
    SELECT count(*) INTO n FROM public.personas_unified;
    IF n <> 3 THEN RAISE EXCEPTION 'FAIL (c1): the read-only SME reads % personas, 3 expected', n; END IF;
    RAISE NOTICE 'ok (c1): reads still work for the read-only organization (% personas)', n;
END $$;
COMMIT;
BEGIN;
SELECT enclave.enter_context(:'ag', :'acme', :'ada', :'p_ada') \g /dev/null
DO $$ BEGIN
    IF enclave.save_persona(NULL, 'Citus c1 writable', 'tester', '', '', '{}') IS NULL THEN
        RAISE EXCEPTION 'FAIL (c1): the writable agency''s save_persona returned NULL';
    END IF;
    RAISE NOTICE 'ok (c1): the writable organization''s save_persona went through';
END $$;
ROLLBACK;

\echo '--- c2: seats (agency: every seat taken by an override; SME: room left)'
BEGIN;
SELECT enclave.enter_context(:'ag', NULL, :'ada', :'p_ada') \g /dev/null
DO $$ BEGIN
    PERFORM enclave.invite_member(gen_random_uuid(), 'citus-c2@example.com', 'member', sha256('citus-c2'), true,
                                  interval '7 days', 'Invitation', '\x00'::bytea);
    RAISE EXCEPTION 'FAIL (c2): an organization with every seat taken sent an invitation';
EXCEPTION WHEN SQLSTATE 'EN402' THEN
    IF SQLERRM NOT LIKE '%seats%' THEN RAISE EXCEPTION 'FAIL (c2): wrong refusal: %', SQLERRM; END IF;
    RAISE NOTICE 'ok (c2): invite_member refused: %', SQLERRM;
END $$;
ROLLBACK;
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
DO $$ BEGIN
    IF enclave.invite_member(gen_random_uuid(), 'citus-c2@example.com', 'member', sha256('citus-c2'), true,
                             interval '7 days', 'Invitation', '\x00'::bytea) IS NULL THEN
        RAISE EXCEPTION 'FAIL (c2): invite_member with a free seat returned NULL';
    END IF;
    RAISE NOTICE 'ok (c2): with a free seat (SME, read-only but invitations stay writable) invite_member went through';
END $$;
ROLLBACK;
\c - postgres
SET client_min_messages = notice;
SELECT set_config('citus_test.sme', :'sme', false), set_config('citus_test.ag', :'ag', false),
       set_config('citus_test.acme', :'acme', false), set_config('citus_test.nora', :'nora', false),
       set_config('citus_test.ada', :'ada', false) \g /dev/null
BEGIN;
SET LOCAL ROLE enclave_owner;
SELECT enclave.enter_context(:'ag', NULL, :'ada', :'p_ada') \g /dev/null
DO $$ BEGIN
    INSERT INTO public.invitations (org_id, email, role, token_hash, invited_by, expires_at)
         VALUES (current_setting('citus_test.ag')::uuid, 'citus-c2-direct@example.com', 'member', sha256('citus-c2-direct'),
                 current_setting('citus_test.ada')::uuid, now() + interval '1 day');
    RAISE EXCEPTION 'FAIL (c2): a direct INSERT took a seat that does not exist';
EXCEPTION WHEN SQLSTATE 'EN402' THEN
    IF SQLERRM NOT LIKE '%seats%' THEN RAISE EXCEPTION 'FAIL (c2): wrong refusal: %', SQLERRM; END IF;
    RAISE NOTICE 'ok (c2): direct INSERT into invitations (owner role, honest context) refused (EN402 seats)';
END $$;
ROLLBACK;

-- Back to the seeded state.
DELETE FROM public.org_billing WHERE org_id = :'sme' AND stripe_customer_id = 'cus_CitusReadOnly';
DELETE FROM enclave.entitlement_overrides WHERE org_id = :'ag' AND reason = 'citus test: every seat taken';
SELECT (SELECT count(*) FROM public.personas) AS personas, (SELECT count(*) FROM agency.personas) AS agency_personas,
       (SELECT count(*) FROM public.invitations) AS invitations, (SELECT count(*) FROM public.memberships) AS memberships;
