\echo '=== f1: enter_context; definer write (save_persona); runtime read of public.personas'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT count(*) FROM public.personas;
ROLLBACK;
\echo '=== f1b: runtime read first, then the definer write'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT count(*) FROM public.personas;
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
ROLLBACK;
\echo '=== f1c: definer write, then read through the view personas_unified'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT count(*) FROM public.personas_unified;
ROLLBACK;
\echo '=== f1d: write and enqueue in one transaction (distributed tenant write + local underway.task)'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb) RETURNING input->'tenant'->>'org' = :'sme' AS stamped;
SELECT count(*) AS my_tasks FROM underway.task;
ROLLBACK;
