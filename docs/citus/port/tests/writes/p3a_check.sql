-- (a) definer write + definer read + enqueue in one transaction (runtime role; psql $VARS).
\pset footer off
\echo '=== A1 SME: enter_context, save_persona (definer), definer read, enqueue'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered;
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT enclave.w_def_count_personas() AS personas_definer_read;
SELECT count(*) AS guidelines FROM enclave.w_def_read_brand_guidelines(:'sme', NULL, :'nora', :'p_nora');
INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb) RETURNING input->'tenant'->>'org' = :'sme' AS stamped;
ROLLBACK;
\echo '=== A2 agency (ada, Acme): enter_context, save_persona (definer), definer read, enqueue'
BEGIN;
SELECT enclave.enter_context(:'ag', :'acme', :'ada', :'p_ada') IS NULL AS entered;
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT enclave.w_def_count_personas() AS personas_definer_read;
INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb) RETURNING input->'tenant'->>'workspace' = :'acme' AS stamped;
ROLLBACK;
\echo '=== A3 forged context (SET LOCAL, no seal): the definer reader sees nothing (the owner is under FORCE RLS)'
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enclave.org_id = :'sme'; SET LOCAL enclave.user_id = :'nora'; SET LOCAL enclave.workspace_id = '';
SELECT enclave.w_def_count_personas() AS personas_definer_read_forged;
ROLLBACK;
\echo '=== A4 runtime read after a definer write (what (a) forbids): plain SELECT on the view'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered;
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT count(*) FROM public.personas_unified WHERE org_id = :'sme';
ROLLBACK;
\echo '=== A5 definer write, then enter_context again (owner, same user): works?'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered;
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered_again;
SELECT enclave.w_def_count_personas() AS personas_definer_read;
ROLLBACK;
\echo '=== A6 runtime read first, then definer write, definer read, enqueue'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered;
SELECT count(*) AS personas_runtime_read_before FROM public.personas_unified WHERE org_id = :'sme';
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT enclave.w_def_count_personas() AS personas_definer_read;
INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb) RETURNING input->'tenant'->>'org' = :'sme' AS stamped;
ROLLBACK;
\echo '=== A7 the application''s job start: create_job (definer) then the enqueue (app/src/jobs/mod.rs start())'
BEGIN;
SELECT enclave.enter_context(:'ag', :'acme', :'ada', :'p_ada') IS NULL AS entered;
SELECT job_id IS NOT NULL AS job, created FROM enclave.create_job('import_csv', gen_random_uuid(), NULL, '{}'::jsonb);
INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb) RETURNING input->'tenant'->>'workspace' = :'acme' AS stamped;
ROLLBACK;
