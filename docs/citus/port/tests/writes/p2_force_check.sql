-- force_delegation in BEGIN … COMMIT, as the runtime role (psql $VARS). Each step echoes;
-- ON_ERROR_STOP off so every transaction runs to its end (an error aborts the rest of it).
\pset footer off
SET citus.log_remote_commands = on;
\echo '=== F1 enter_context (delegated), definer write (delegated), delegated read, coordinator router read, enqueue'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.w_save_persona(:'sme', NULL, 'Citus test', 'tester', '', '', '{}');   -- bare call: an expression around it is not delegated
SELECT enclave.w_count_personas(:'sme') AS personas_delegated_read;
SELECT count(*) AS personas_router_read FROM public.personas WHERE org_id = :'sme';
SELECT enclave.current_org_id() = :'sme' AS coordinator_has_context;
INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb) RETURNING input->'tenant'->>'org' = :'sme' AS stamped;
ROLLBACK;
\echo '=== F2 read_brand_guidelines first (delegated), then the write, then reads'
BEGIN;
SELECT org_id = :'sme' AS own FROM enclave.read_brand_guidelines(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.current_org_id() = :'sme' AS coordinator_has_context;
SELECT enclave.w_save_persona(:'sme', NULL, 'Citus test', 'tester', '', '', '{}');   -- bare call: an expression around it is not delegated
SELECT enclave.w_count_personas(:'sme') AS personas_delegated_read;
ROLLBACK;
\echo '=== F2b the same as F2, then a coordinator router read, then an enqueue'
BEGIN;
SELECT org_id = :'sme' AS own FROM enclave.read_brand_guidelines(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.w_save_persona(:'sme', NULL, 'Citus test', 'tester', '', '', '{}');
SELECT count(*) AS personas_router_read FROM public.personas WHERE org_id = :'sme';
SELECT count(*) AS personas_multishard_read FROM public.personas;
INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb) RETURNING input->'tenant'->>'org' = :'sme' AS stamped;
ROLLBACK;
\echo '=== F3 enter_context on the coordinator too (an expression: not delegated), delegated definer write, router read, enqueue, delegated read'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered_on_coordinator;
SELECT enclave.w_save_persona(:'sme', NULL, 'Citus test', 'tester', '', '', '{}');
SELECT count(*) AS personas_router_read FROM public.personas WHERE org_id = :'sme';
SELECT count(*) AS personas_unified_read FROM public.personas_unified WHERE org_id = :'sme';
INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb) RETURNING input->'tenant'->>'org' = :'sme' AS stamped;
SELECT enclave.w_count_personas(:'sme') AS personas_delegated_read;
ROLLBACK;
\echo '=== F4 two organizations in one transaction: delegated calls for the SME, then for the agency'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.w_count_personas(:'sme') AS sme_personas;
SELECT enclave.w_count_personas(:'ag') AS agency_personas_via_sme_context;
SELECT enclave.enter_context(:'ag', :'acme', :'ada', :'p_ada');
SELECT enclave.w_count_personas(:'sme') AS sme_personas_after_agency_entry;
ROLLBACK;
\echo '=== F5 a delegated function that reads every shard, in a transaction'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.w_count_all_personas(:'sme') AS all_personas;
ROLLBACK;
\echo '=== F5b the same, single statement (no BEGIN)'
SELECT enclave.w_count_all_personas(:'sme') AS all_personas_single_statement;
\echo '=== F6 reference tables after a delegated call'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT count(*) AS organizations_visible FROM public.organizations;
SELECT count(*) AS plans FROM enclave.plans;
SELECT enclave.w_save_persona(:'sme', NULL, 'Citus test', 'tester', '', '', '{}');
SELECT count(*) AS organizations_visible_after_write FROM public.organizations;
ROLLBACK;
\echo '=== F7 forged in force mode: the agency with nora''s proof, delegated'
BEGIN;
SELECT enclave.enter_context(:'ag', NULL, :'nora', :'p_nora');
ROLLBACK;
\echo '=== F7b forged: SET LOCAL context (propagated) with a seal from an earlier transaction, then the delegated write'
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enclave.org_id = :'sme'; SET LOCAL enclave.user_id = :'nora'; SET LOCAL enclave.workspace_id = '';
SET LOCAL enclave.context_seal = 'f16b38fd565c84251d702124b432b47aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
SELECT enclave.w_save_persona(:'sme', NULL, 'forged', 'tester', '', '', '{}');
ROLLBACK;
