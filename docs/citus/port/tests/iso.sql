-- Step 4: isolation on the distributed schema, as the runtime role (enclave_app).
\set ON_ERROR_STOP off
\pset footer off
\echo '=== A. honest SME context (nora)'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.current_org_id() = :'sme' AS coordinator_verifies;
\i counts.sql
SELECT current_setting('enclave.context_seal') AS seal_a \gset
COMMIT;
\echo '=== B. honest agency context (ada, client Acme)'
BEGIN;
SELECT enclave.enter_context(:'ag', :'acme', :'ada', :'p_ada');
\i counts.sql
COMMIT;
\echo '=== C. forged: SET LOCAL of all settings (propagated), no seal'
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enclave.org_id = :'sme'; SET LOCAL enclave.user_id = :'nora'; SET LOCAL enclave.workspace_id = '';
\i counts.sql
COMMIT;
\echo '=== D. replay: seal of A in a new transaction'
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enclave.org_id = :'sme'; SET LOCAL enclave.user_id = :'nora'; SET LOCAL enclave.workspace_id = ''; SET LOCAL enclave.context_seal = :'seal_a';
\i counts.sql
COMMIT;
\echo '=== E. honest SME, then org switched to the agency by SET LOCAL'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enclave.org_id = :'ag';
\i counts.sql
COMMIT;
\echo '=== F. forged system seal'
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enclave.system_seal = 'ab12';
\i counts.sql
COMMIT;
\echo '=== G. choosing the distributed transaction id'
BEGIN;
SELECT assign_distributed_transaction_id(0, 1, now());
ROLLBACK;
\echo '=== H. set_config (0023 style) after a sealed SET LOCAL context'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT set_config('enclave.org_id', :'ag', true);
SELECT count(*) AS personas_seen FROM public.personas_unified;
COMMIT;
\echo '=== I. system path through its door (open_system_path with the system proof)'
BEGIN;
SELECT enclave.open_system_path('citus-test', 'isolation check', '{}'::jsonb, :'p_sys');
SELECT enclave.system_path_active();
SELECT (SELECT count(*) FROM public.mail_outbox) AS outbox, (SELECT count(*) FROM public.org_billing) AS billing,
       (SELECT count(DISTINCT org_id) FROM public.usage_daily) AS usage_daily_orgs, (SELECT count(*) FROM public.users) AS users;
COMMIT;
\echo '=== J. user-only context (page_context, cleo: agency, client Blue Harbor not assigned)'
SELECT user_name, jsonb_array_length(organizations) AS orgs, org_kind, role, jsonb_array_length(clients) AS clients, workspace_id
  FROM enclave.page_context(:'cleo', :'ag', 'blue-harbor-bank', :'p_cleo');
SELECT user_name, org_kind, role, jsonb_array_length(clients) AS clients, workspace_id IS NOT NULL AS in_client
  FROM enclave.page_context(:'ada', :'ag', (SELECT NULL::text), :'p_ada');
\echo '=== K. single-statement read_brand_guidelines'
SELECT org_id = :'sme' AS own, voice IS NOT NULL AS has_voice FROM enclave.read_brand_guidelines(:'sme', NULL, :'nora', :'p_nora');
