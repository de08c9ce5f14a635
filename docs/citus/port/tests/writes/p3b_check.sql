-- (b) invoker router write + runtime read + enqueue (runtime role; psql $VARS).
\pset footer off
\echo '=== B1 SME: enter_context, save_persona (invoker), table read, view read, enqueue'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered;
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT count(*) AS personas FROM public.personas WHERE org_id = :'sme';
SELECT count(*) AS personas_unified FROM public.personas_unified;
INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb) RETURNING input->'tenant'->>'org' = :'sme' AS stamped;
ROLLBACK;
\echo '=== B2 agency (ada, Acme): the same'
BEGIN;
SELECT enclave.enter_context(:'ag', :'acme', :'ada', :'p_ada') IS NULL AS entered;
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT count(*) AS personas_unified FROM public.personas_unified;
INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb) RETURNING input->'tenant'->>'workspace' = :'acme' AS stamped;
ROLLBACK;
\echo '=== B3 invoker write, then a definer that reads the same shard group (enter_context again)'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered;
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered_again;
ROLLBACK;
\echo '=== B4 invoker write, then a definer write of another table of the group (save_brand_guidelines, still definer)'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered;
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT enclave.save_brand_guidelines('v', 't', 'p', 'd', 'n', 1) IS NOT NULL AS saved_guidelines;
ROLLBACK;
\echo '=== B5 forged context (SET LOCAL, no seal), direct INSERT by the runtime role (expect RLS refusal)'
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SET LOCAL enclave.org_id = :'sme'; SET LOCAL enclave.user_id = :'nora'; SET LOCAL enclave.workspace_id = '';
INSERT INTO public.personas (org_id, persona_id, name) VALUES (:'sme', gen_random_uuid(), 'forged');
ROLLBACK;
\echo '=== B6 honest SME context, direct INSERT of an agency row (expect RLS refusal)'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered;
INSERT INTO public.personas (org_id, persona_id, name) VALUES (:'ag', gen_random_uuid(), 'cross');
ROLLBACK;
\echo '=== B7 honest SME context, direct UPDATE bypassing the router (what the grant newly allows)'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora') IS NULL AS entered;
UPDATE public.personas SET updated_by = :'ada', created_at = '2000-01-01' WHERE org_id = :'sme' RETURNING name, updated_by = :'ada' AS foreign_user_written, created_at;
ROLLBACK;
