\echo '=== f2: save_persona SECURITY INVOKER (runtime holds INSERT/UPDATE): write, read, enqueue, read'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
SELECT enclave.save_persona(NULL, 'Citus test', 'tester', '', '', '{}') IS NOT NULL AS saved;
SELECT count(*) FROM public.personas;
SELECT count(*) FROM public.personas_unified;
INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb) RETURNING input->'tenant'->>'org' = :'sme' AS stamped;
SELECT count(*) AS my_tasks FROM underway.task;
COMMIT;
SELECT count(*) AS after_commit_tasks_as_superuser FROM underway.task \g
\echo '=== f2b: runtime INSERT of another org''s persona in the sealed SME context'
BEGIN;
SELECT enclave.enter_context(:'sme', NULL, :'nora', :'p_nora');
INSERT INTO public.personas (org_id, persona_id, name, org_kind) VALUES (:'ag', gen_random_uuid(), 'x', 'sme');
ROLLBACK;
\echo '=== f2c: forged context, runtime INSERT'
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local'; SET LOCAL enclave.org_id = :'sme'; SET LOCAL enclave.user_id = :'nora';
INSERT INTO public.personas (org_id, persona_id, name, org_kind) VALUES (:'sme', gen_random_uuid(), 'x', 'sme');
ROLLBACK;
