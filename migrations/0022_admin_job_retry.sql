-- Retry from the admin console's Jobs screen (issue 12).
--
-- A failed task (underway keeps it, failed, in `<queue>.dead`) is queued again as a new
-- task in its own queue, with a fresh round of attempts; the failed one is marked
-- `cancelled` so it leaves the list and keeps its attempts and errors as history.
--
-- * A tenant task is re-enqueued inside its tenant's context, entered here the way
--   admin_org_usage enters it (as the user who enqueued it while they are still a member,
--   otherwise as the organization's first owner), so the queue's own trigger stamps the
--   new task: the tenant it runs for is the database's, as for every tenant task.
-- * When the task reports to a tracked job (public.jobs / agency.jobs), the job goes from
--   failed back to queued in the same transaction, through the same router function the
--   tenant's own Retry uses. That transition happens once: if the tenant retried first
--   (or the admin twice), it is refused and nothing is queued, so a job never runs twice.
-- * A system task is re-enqueued outside any context, as the scheduler enqueues it.
-- * The admin's row in the audit log (admin_begin) names the queue and the task.

CREATE FUNCTION enclave.admin_retry_task(p_queue text, p_task uuid) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_was_org text := current_setting('enclave.org_id', true);
        v_was_user text := current_setting('enclave.user_id', true);
        v_was_workspace text := current_setting('enclave.workspace_id', true);
        v_task underway.task%ROWTYPE;
        v_base text;
        v_path text;
        v_org uuid;
        v_workspace uuid;
        v_user uuid;
        v_job uuid;
        v_new uuid := gen_random_uuid();
    BEGIN
        PERFORM enclave.require_admin();
        SELECT t.* INTO v_task FROM underway.task t
         WHERE t.task_queue_name = p_queue AND t.id = p_task AND t.state = 'failed'
           FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'that job is no longer failed: it was retried already or removed'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        v_base := regexp_replace(p_queue, '\.dead$', '');
        SELECT q.path INTO v_path FROM enclave.job_queues q WHERE q.name = v_base;
        IF v_path IS NULL OR v_base LIKE '%.dead' THEN
            RAISE EXCEPTION 'queue % is not a registered job queue', v_base
                USING ERRCODE = 'invalid_parameter_value';
        END IF;

        IF v_path = 'tenant' THEN
            v_org := (v_task.input #>> '{tenant,org}')::uuid;
            v_workspace := (v_task.input #>> '{tenant,workspace}')::uuid;
            v_job := (v_task.input ->> 'job')::uuid;
            PERFORM set_config('enclave.org_id', v_org::text, true);
            PERFORM set_config('enclave.user_id', '', true);
            PERFORM set_config('enclave.workspace_id', '', true);
            SELECT m.user_id INTO v_user FROM public.memberships m
             WHERE m.org_id = v_org
             ORDER BY m.user_id = (v_task.input #>> '{tenant,user}')::uuid DESC,
                      m.role = 'owner' DESC, m.created_at
             LIMIT 1;
            IF v_user IS NULL THEN
                RAISE EXCEPTION 'the organization this job belongs to has no members left to run it'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            PERFORM set_config('enclave.user_id', v_user::text, true);
            PERFORM set_config('enclave.workspace_id', coalesce(v_workspace::text, ''), true);
            IF v_workspace IS NOT NULL AND enclave.current_workspace_id() IS NULL THEN
                RAISE EXCEPTION 'the client workspace this job belongs to is archived, or the person who started the job can no longer open it'
                    USING ERRCODE = 'invalid_parameter_value';
            END IF;
            IF v_job IS NOT NULL THEN
                -- Refused (40001) unless the job is failed: the tenant's Retry got there first.
                PERFORM enclave.set_job_status(v_job, 'queued', NULL, NULL);
            END IF;
        END IF;

        -- The trigger stamps a tenant task from the context just entered (and strips any
        -- stamp from a system task).
        INSERT INTO underway.task (id, task_queue_name, input, timeout, heartbeat, ttl,
                                   retry_policy, concurrency_key, priority)
             VALUES (v_new, v_base, v_task.input - 'tenant', v_task.timeout, v_task.heartbeat,
                     v_task.ttl, v_task.retry_policy, v_task.concurrency_key, v_task.priority);

        PERFORM set_config('enclave.org_id', coalesce(v_was_org, ''), true);
        PERFORM set_config('enclave.user_id', coalesce(v_was_user, ''), true);
        PERFORM set_config('enclave.workspace_id', coalesce(v_was_workspace, ''), true);
        UPDATE underway.task SET state = 'cancelled', updated_at = now(), completed_at = now()
         WHERE task_queue_name = p_queue AND id = p_task;
        RETURN v_new;
    END $$;

GRANT EXECUTE ON FUNCTION enclave.admin_retry_task(text, uuid) TO enclave_runtime;
INSERT INTO enclave.definer_registry (function, path, rules) VALUES
    ('enclave.admin_retry_task(text, uuid)', 'system',
     'require_admin; only a failed task; a tenant task is re-enqueued inside its own tenant''s context (stamped by the queue trigger) and its tracked job moves failed to queued through set_job_status, refused if not failed; a system task outside any context; the context is restored after');
