-- Check (d): iso.sql and jk.sql (REPORT.md section 4) as assertions, as the runtime role:
--   psql -v ON_ERROR_STOP=1 -h … -U enclave_app -d enclave $VARS -f iso_assert.sql   (ids.sh for $VARS)
-- Every case raises 'FAIL (d) …' when it does not hold; cases whose point is an error
-- catch exactly that error. Nothing is kept (J3's save is rolled back).
\set ON_ERROR_STOP on
\pset footer off
SET client_min_messages = notice;
SELECT set_config('citus_test.sme', :'sme', false), set_config('citus_test.ag', :'ag', false),
       set_config('citus_test.acme', :'acme', false), set_config('citus_test.nora', :'nora', false),
       set_config('citus_test.ada', :'ada', false), set_config('citus_test.cleo', :'cleo', false),
       set_config('citus_test.p_nora', :'p_nora', false), set_config('citus_test.p_ada', :'p_ada', false),
       set_config('citus_test.p_cleo', :'p_cleo', false) \g /dev/null

-- A. honest SME context (nora)
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
SELECT set_config('citus_test.case', 'A honest SME (nora)', true), set_config('citus_test.org', :'sme', true),
       set_config('citus_test.ws', '', true),
       set_config('citus_test.expect', '{"personas": 3, "personas_unified": 3, "campaigns": 5, "campaign_outputs": 6,
           "memberships": 2, "users": 2, "organizations": 1, "brand_guidelines": 1, "brand_guideline_versions": 1,
           "enclave.plan_grants": 1, "enclave.plans": 6, "agency.personas": 0, "agency.client_workspaces": 0}', true) \g /dev/null
\ir assert_own.sql
SELECT current_setting('enclave.context_seal') AS seal_a \gset
COMMIT;

-- B. honest agency context (ada, client Acme)
BEGIN;
SELECT enclave.enter_context(:'ag', :'acme', :'ada', :'p_ada') \g /dev/null
SELECT set_config('citus_test.case', 'B honest agency (ada, Acme)', true), set_config('citus_test.org', :'ag', true),
       set_config('citus_test.ws', :'acme', true),
       set_config('citus_test.expect', '{"agency.personas": 2, "personas_unified": 2, "agency.campaigns": 3,
           "agency.campaign_outputs": 3, "agency.client_workspaces": 2, "agency.client_assignments": 3,
           "memberships": 3, "users": 3, "organizations": 1, "agency.brand_guidelines": 1, "personas": 0}', true) \g /dev/null
\ir assert_own.sql
COMMIT;

-- C. forged: SET LOCAL of all the settings (propagated), no seal
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enclave.org_id = :'sme'; SET LOCAL enclave.user_id = :'nora'; SET LOCAL enclave.workspace_id = '';
SELECT set_config('citus_test.case', 'C forged SET LOCAL, no seal', true) \g /dev/null
\ir assert_forged.sql
COMMIT;

-- D. replay of A's seal in a new transaction
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enclave.org_id = :'sme'; SET LOCAL enclave.user_id = :'nora'; SET LOCAL enclave.workspace_id = '';
SET LOCAL enclave.context_seal = :'seal_a';
SELECT set_config('citus_test.case', 'D replayed seal', true) \g /dev/null
\ir assert_forged.sql
COMMIT;

-- D2. the same replay, then keep_context() (0032), a definer that writes the four settings
--     again: it copies what is there and grants nothing
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enclave.org_id = :'sme'; SET LOCAL enclave.user_id = :'nora'; SET LOCAL enclave.workspace_id = '';
SET LOCAL enclave.context_seal = :'seal_a';
SELECT enclave.keep_context() \g /dev/null
SELECT set_config('citus_test.case', 'D2 replayed seal, then keep_context()', true) \g /dev/null
\ir assert_forged.sql
COMMIT;

-- E. honest SME, then the organization switched to the agency by SET LOCAL
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enclave.org_id = :'ag';
SELECT set_config('citus_test.case', 'E honest SME then org switched by SET LOCAL', true) \g /dev/null
\ir assert_forged.sql
COMMIT;

-- F. forged system seal
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enclave.system_seal = 'ab12';
SELECT set_config('citus_test.case', 'F forged system seal', true) \g /dev/null
\ir assert_forged.sql
COMMIT;

-- G. choosing one's own distributed transaction id (seal replay) is refused
BEGIN;
DO $$ BEGIN
    PERFORM assign_distributed_transaction_id(0, 1, now());
    RAISE EXCEPTION 'FAIL (d) G: the runtime role chose its distributed transaction id';
EXCEPTION WHEN insufficient_privilege THEN
    RAISE NOTICE 'ok (d) G assign_distributed_transaction_id: %', SQLERRM;
END $$;
ROLLBACK;

-- H. set_config (0023 style) after a sealed SET LOCAL context: the workers keep the sealed
--    context (the known hazard, REPORT.md): never another organization's rows.
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') \g /dev/null
SELECT set_config('enclave.org_id', :'ag', true) \g /dev/null
DO $$ DECLARE n bigint; v_foreign bigint; v_sme uuid := current_setting('citus_test.sme')::uuid; BEGIN
    -- (a variable: current_setting in the query would run on the workers, which lack citus_test.*)
    SELECT count(*), count(*) FILTER (WHERE org_id <> v_sme) INTO n, v_foreign FROM public.personas_unified;
    IF v_foreign <> 0 OR n NOT IN (0, 3) THEN
        RAISE EXCEPTION 'FAIL (d) H: % personas, % of another organization', n, v_foreign;
    END IF;
    RAISE NOTICE 'ok (d) H set_config after a sealed context: % personas, 0 of another organization', n;
END $$;
COMMIT;

-- I. the system path through its door
BEGIN;
SELECT enclave.open_system_path('citus-test', 'isolation check', '{}'::jsonb, :'p_sys') \g /dev/null
DO $$ DECLARE n bigint; BEGIN
    IF NOT enclave.system_path_active() THEN
        RAISE EXCEPTION 'FAIL (d) I: open_system_path with the system proof did not open the system path';
    END IF;
    SELECT count(*) INTO n FROM public.users;
    IF n <> 5 THEN RAISE EXCEPTION 'FAIL (d) I: the system path sees % users, 5 expected', n; END IF;
    RAISE NOTICE 'ok (d) I system path: active, % users', n;
END $$;
COMMIT;

-- J/K. the single-statement doors sent as single statements (no transaction block), as
--      TenantDb::read sends them: seal_context makes Citus assign a distributed transaction
--      id (a query in a subtransaction), so they work, with the honest answers.
SELECT role AS j_role, workspace_id IS NULL AS j_no_workspace, jsonb_array_length(clients) AS j_clients
  FROM enclave.page_context(:'cleo', :'ag', 'blue-harbor-bank', :'p_cleo') \gset
SELECT count(*) AS k_rows, coalesce(bool_and(org_id = :'sme'::uuid), false) AS k_own
  FROM enclave.read_brand_guidelines(:'sme', NULL, :'nora', :'p_nora') \gset
SELECT set_config('citus_test.j', :'j_role' || '/' || :'j_no_workspace' || '/' || :'j_clients', false),
       set_config('citus_test.k', :'k_rows' || '/' || :'k_own', false) \g /dev/null
DO $$ BEGIN
    IF current_setting('citus_test.j') <> 'member/t/1' THEN
        RAISE EXCEPTION 'FAIL (d) J: single-statement page_context(cleo, Blue Harbor) gave %, expected member/t/1', current_setting('citus_test.j');
    END IF;
    RAISE NOTICE 'ok (d) J single-statement page_context(cleo, unassigned Blue Harbor): member, no workspace, 1 client';
    IF current_setting('citus_test.k') <> '1/t' THEN
        RAISE EXCEPTION 'FAIL (d) K: single-statement read_brand_guidelines(SME, nora) gave %, expected 1/t', current_setting('citus_test.k');
    END IF;
    RAISE NOTICE 'ok (d) K single-statement read_brand_guidelines: its own row';
END $$;
-- A seal set by hand (session settings, no door) verifies nowhere in a single statement.
SELECT set_config('enclave.org_id', :'sme', false), set_config('enclave.user_id', :'nora', false),
       set_config('enclave.context_seal', repeat('0', 64), false) \g /dev/null
SELECT count(*) AS l_rows FROM public.personas_unified \gset
SELECT set_config('enclave.org_id', '', false), set_config('enclave.user_id', '', false), set_config('enclave.context_seal', '', false) \g /dev/null
SELECT set_config('citus_test.l', :'l_rows', false) \g /dev/null
DO $$ BEGIN
    IF current_setting('citus_test.l') <> '0' THEN
        RAISE EXCEPTION 'FAIL (d) L: a hand-made seal in a single statement saw % personas', current_setting('citus_test.l');
    END IF;
    RAISE NOTICE 'ok (d) L single statement with a hand-made seal: 0 personas';
END $$;

-- J2/K2. the same doors inside BEGIN … COMMIT work
BEGIN;
DO $$ DECLARE v_own boolean; BEGIN
    SELECT bool_and(org_id = current_setting('citus_test.sme')::uuid AND voice IS NOT NULL) INTO v_own
      FROM enclave.read_brand_guidelines(current_setting('citus_test.sme')::uuid, NULL,
                                         current_setting('citus_test.nora')::uuid, current_setting('citus_test.p_nora'));
    IF v_own IS NOT TRUE THEN RAISE EXCEPTION 'FAIL (d) K2: read_brand_guidelines in a transaction: %', v_own; END IF;
    RAISE NOTICE 'ok (d) K2 read_brand_guidelines in BEGIN … COMMIT: own row';
END $$;
COMMIT;
BEGIN;
DO $$ DECLARE r record; BEGIN
    SELECT * INTO r FROM enclave.page_context(current_setting('citus_test.cleo')::uuid, current_setting('citus_test.ag')::uuid,
                                              'blue-harbor-bank', current_setting('citus_test.p_cleo'));
    IF r.role IS DISTINCT FROM 'member' OR r.workspace_id IS NOT NULL OR jsonb_array_length(r.clients) <> 1 THEN
        RAISE EXCEPTION 'FAIL (d) J2: page_context(cleo, Blue Harbor): role %, workspace %, clients %', r.role, r.workspace_id, r.clients;
    END IF;
    RAISE NOTICE 'ok (d) J2 page_context(cleo, unassigned Blue Harbor): member, 1 client, no workspace';
END $$;
COMMIT;
BEGIN;
DO $$ DECLARE r record; BEGIN
    SELECT * INTO r FROM enclave.page_context(current_setting('citus_test.ada')::uuid, current_setting('citus_test.ag')::uuid,
                                              'acme-outdoors', current_setting('citus_test.p_ada'));
    IF r.role IS DISTINCT FROM 'owner' OR r.workspace_id IS DISTINCT FROM current_setting('citus_test.acme')::uuid
       OR jsonb_array_length(r.clients) <> 2 THEN
        RAISE EXCEPTION 'FAIL (d) J2: page_context(ada, Acme): role %, workspace %, clients %', r.role, r.workspace_id, r.clients;
    END IF;
    RAISE NOTICE 'ok (d) J2 page_context(ada, Acme): owner, 2 clients, in Acme';
END $$;
COMMIT;

-- J3. the client page_context enters reaches the workers (migration 0032: Citus forgets the
--     SET LOCALs of the subtransaction page_context enters the client in): the client's
--     rows show, only its own, and a save in the client passes the shard's policy (rolled
--     back).
BEGIN;
SELECT workspace_id AS j3_workspace
  FROM enclave.page_context(:'ada', :'ag', 'acme-outdoors', :'p_ada') \gset
SELECT count(*) AS j3_rows, coalesce(bool_and(workspace_id = :'acme'::uuid), false) AS j3_own
  FROM public.personas_unified \gset
SELECT enclave.save_persona(NULL, 'J3', 'Buyer', 'goals', 'pains', ARRAY['email']) IS NOT NULL AS j3_saved \gset
SELECT set_config('citus_test.j3', :'j3_workspace' || '/' || :'j3_rows' || '/' || :'j3_own' || '/' || :'j3_saved', true) \g /dev/null
DO $$ BEGIN
    IF current_setting('citus_test.j3') <> current_setting('citus_test.acme') || '/2/t/t' THEN
        RAISE EXCEPTION 'FAIL (d) J3: after page_context(ada, Acme) the workers gave workspace/rows/own/saved %, expected %/2/t/t',
            current_setting('citus_test.j3'), current_setting('citus_test.acme');
    END IF;
    RAISE NOTICE 'ok (d) J3 page_context(ada, Acme) then Acme''s personas (2, its own) and a save in Acme';
END $$;
ROLLBACK;

-- K3. forged: the agency's guidelines with nora's proof
BEGIN;
DO $$ BEGIN
    PERFORM * FROM enclave.read_brand_guidelines(current_setting('citus_test.ag')::uuid, NULL,
                                                 current_setting('citus_test.nora')::uuid, current_setting('citus_test.p_nora'));
    RAISE EXCEPTION 'FAIL (d) K3: read_brand_guidelines of the agency with nora''s proof worked';
EXCEPTION WHEN OTHERS THEN
    IF SQLERRM LIKE 'FAIL%' THEN RAISE; END IF;
    IF SQLERRM NOT LIKE '%not a member%' THEN RAISE EXCEPTION 'FAIL (d) K3: unexpected error: %', SQLERRM; END IF;
    RAISE NOTICE 'ok (d) K3 another organization with nora''s proof: %', SQLERRM;
END $$;
ROLLBACK;
