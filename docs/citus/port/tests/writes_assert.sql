-- Check (h), as enclave_app with ids.sh's variables: a router's write (SECURITY DEFINER,
-- the owner) followed in the same transaction by what the application does next, on Citus
-- (docs/citus/port/WRITES.md, P2). The agency: the SME is read-only after limits.sql.
\set ON_ERROR_STOP on
SELECT set_config('citus_test.ag', :'ag', false), set_config('citus_test.acme', :'acme', false),
       set_config('citus_test.ada', :'ada', false), set_config('citus_test.p_ada', :'p_ada', false) \g /dev/null

-- h1. save_persona, then the enqueue of a job: stamped with the client, in one transaction.
BEGIN;
DO $$ DECLARE v_stamp text; BEGIN
    PERFORM enclave.enter_context(current_setting('citus_test.ag')::uuid, current_setting('citus_test.acme')::uuid,
                                  current_setting('citus_test.ada')::uuid, current_setting('citus_test.p_ada'));
    PERFORM enclave.save_persona(NULL, 'Citus write test', 'tester', '', '', '{}');
    INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb)
        RETURNING input #>> '{tenant,workspace}' INTO v_stamp;
    IF v_stamp IS DISTINCT FROM current_setting('citus_test.acme') THEN
        RAISE EXCEPTION 'FAIL (h) h1: the job after a write was stamped with workspace %', v_stamp;
    END IF;
    RAISE NOTICE 'ok (h) h1 a router''s write, then a job enqueued in the same transaction: stamped with the client';
END $$;
ROLLBACK;

-- h2. the application's job start: create_job (a router), then the enqueue.
BEGIN;
DO $$ DECLARE v_job uuid; v_stamp text; BEGIN
    PERFORM enclave.enter_context(current_setting('citus_test.ag')::uuid, current_setting('citus_test.acme')::uuid,
                                  current_setting('citus_test.ada')::uuid, current_setting('citus_test.p_ada'));
    SELECT job_id INTO v_job FROM enclave.create_job('import_csv', gen_random_uuid(), NULL, '{}'::jsonb);
    INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb)
        RETURNING input #>> '{tenant,org}' INTO v_stamp;
    IF v_job IS NULL OR v_stamp IS DISTINCT FROM current_setting('citus_test.ag') THEN
        RAISE EXCEPTION 'FAIL (h) h2: job %, stamp %', v_job, v_stamp;
    END IF;
    RAISE NOTICE 'ok (h) h2 create_job, then its task enqueued: stamped with the organization';
END $$;
ROLLBACK;

-- h3. a forged context cannot enqueue after all: the queue's policy refuses it.
BEGIN;
SET LOCAL citus.propagate_set_commands = 'local';
SELECT set_config('enclave.org_id', :'ag', true), set_config('enclave.user_id', :'ada', true),
       set_config('enclave.workspace_id', :'acme', true) \g /dev/null
DO $$ BEGIN
    INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{}'::jsonb);
    RAISE EXCEPTION 'FAIL (h) h3: a forged context enqueued a job';
EXCEPTION WHEN OTHERS THEN
    IF SQLERRM LIKE 'FAIL%' THEN RAISE; END IF;
    RAISE NOTICE 'ok (h) h3 a forged context cannot enqueue: %', SQLERRM;
END $$;
ROLLBACK;
