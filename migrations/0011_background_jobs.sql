-- Background jobs (issue 5) on underway's queue.
--
-- `enclave migrate` runs underway's own migrations (schema `underway`, owned by the owner
-- role) just before this one; see docs/JOB_QUEUE.md for the choice of library.
--
-- * Every queue is registered here with its path, tenant or system; a queue is never
--   both, and a task for an unregistered queue cannot be inserted.
-- * A tenant task is stamped by the database with the organization, client workspace
--   and user of the transaction that enqueues it (`input.tenant`), taken from the
--   verified context, never from the caller's input; without a context the insert is
--   refused. A system task cannot be enqueued from inside a tenant context (underway's
--   scheduler enqueues on a bare connection); it is audited when it runs, on the system
--   path. The stamp never changes afterwards (a move to the dead-letter queue keeps it).
-- * underway.task holds only ids. It is RLS-forced: inside a tenant context only that
--   organization's tasks are visible; the queue's own plumbing (dequeue, heartbeats,
--   retries) runs in transactions without a context and sees the whole queue.
-- * What people see of a job (status, progress, the reason it failed) lives in the
--   tenant tables public.jobs / agency.jobs, RLS-forced like every tenant table and
--   written through router functions.

CREATE TABLE enclave.job_queues (
    name         text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_.]{1,62}$'),
    path         text NOT NULL CHECK (path IN ('tenant', 'system')),
    description  text NOT NULL
);
COMMENT ON TABLE enclave.job_queues IS 'enclave:platform every job queue and the path its jobs run on (tenant or system, never both).';
INSERT INTO enclave.job_queues (name, path, description) VALUES
    ('generate_outputs',      'tenant', 'drafts campaign outputs from the campaign, its brand guidelines and personas'),
    ('generate_outputs.dead', 'tenant', 'generate_outputs jobs that failed every attempt'),
    ('import_csv',            'tenant', 'imports a large CSV file of personas or campaigns'),
    ('import_csv.dead',       'tenant', 'import_csv jobs that failed every attempt'),
    ('noop',                  'tenant', 'does nothing in its tenant context (benchmarks and checks of the queue)'),
    ('noop.dead',             'tenant', 'noop jobs that failed every attempt'),
    ('session_sweep',         'system', 'removes expired sessions of every user'),
    ('session_sweep.dead',    'system', 'session sweeps that failed every attempt'),
    ('task_cleanup',          'system', 'removes finished tasks of every tenant after their time to live'),
    ('task_cleanup.dead',     'system', 'task cleanups that failed every attempt');

CREATE FUNCTION enclave.stamp_job_task() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_path text; v_old_path text;
    BEGIN
        SELECT q.path INTO v_path FROM enclave.job_queues q WHERE q.name = NEW.task_queue_name;
        IF v_path IS NULL THEN
            RAISE EXCEPTION 'job queue % is not registered in enclave.job_queues', NEW.task_queue_name
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF TG_OP = 'UPDATE' THEN
            SELECT q.path INTO v_old_path FROM enclave.job_queues q WHERE q.name = OLD.task_queue_name;
            IF v_path IS DISTINCT FROM v_old_path
               OR NEW.input -> 'tenant' IS DISTINCT FROM OLD.input -> 'tenant' THEN
                RAISE EXCEPTION 'a job keeps the path and the tenant it was enqueued with'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END IF;
        IF jsonb_typeof(NEW.input) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION 'job input must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF v_path = 'tenant' THEN
            IF enclave.current_org_id() IS NULL OR enclave.current_member_role() IS NULL THEN
                RAISE EXCEPTION 'a tenant job can only be enqueued inside a tenant context'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF enclave.current_org_kind() = 'agency' AND enclave.current_workspace_id() IS NULL THEN
                RAISE EXCEPTION 'an agency job needs an open client workspace'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            NEW.input := jsonb_set(NEW.input, '{tenant}', jsonb_build_object(
                'org', enclave.current_org_id(),
                'workspace', enclave.current_workspace_id(),
                'user', enclave.current_user_id()));
        ELSE
            IF enclave.current_org_id() IS NOT NULL THEN
                RAISE EXCEPTION 'a system job cannot be enqueued from inside a tenant context'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            NEW.input := NEW.input - 'tenant';
        END IF;
        RETURN NEW;
    END $$;

-- underway 0.2.0 dead-letters a task by renaming its queue, which the task's attempt
-- rows still reference, so the move fails (maxcountryman/underway#127, fixed upstream
-- after 0.2.0 by moving both). Cascading the rename makes the move work here.
ALTER TABLE underway.task_attempt
    DROP CONSTRAINT task_attempt_task_queue_name_task_id_fkey,
    ADD CONSTRAINT task_attempt_task_queue_name_task_id_fkey
        FOREIGN KEY (task_queue_name, task_id) REFERENCES underway.task (task_queue_name, id)
        ON UPDATE CASCADE ON DELETE CASCADE;

-- On update only when the queue or the input is written (a dead-letter move), not on the
-- state and heartbeat updates every job makes.
CREATE TRIGGER task_stamp BEFORE INSERT OR UPDATE OF task_queue_name, input ON underway.task
    FOR EACH ROW EXECUTE FUNCTION enclave.stamp_job_task();

-- underway 0.2.0 has no index for its dequeue (queue, state, order): without one every
-- dequeue reads every task the queue ever kept (until their time to live runs out).
CREATE INDEX task_dequeue_idx ON underway.task (task_queue_name, state, priority DESC, created_at, id);

ALTER TABLE underway.task ENABLE ROW LEVEL SECURITY;
ALTER TABLE underway.task FORCE ROW LEVEL SECURITY;
CREATE POLICY task_scope ON underway.task
    USING ((SELECT enclave.current_org_id()) IS NULL
           OR (input #>> '{tenant,org}')::uuid = (SELECT enclave.current_org_id()))
    WITH CHECK ((SELECT enclave.current_org_id()) IS NULL
           OR (input #>> '{tenant,org}')::uuid = (SELECT enclave.current_org_id()));

-- What people see of their jobs ---------------------------------------------------------
CREATE TABLE public.jobs (
    org_id           uuid NOT NULL,
    job_id           uuid NOT NULL DEFAULT gen_random_uuid(),
    org_kind         text NOT NULL DEFAULT 'sme' CONSTRAINT jobs_org_kind_sme CHECK (org_kind = 'sme'),
    job_type         text NOT NULL CHECK (job_type IN ('generate_outputs', 'import_csv')),
    subject_id       uuid NOT NULL,
    idempotency_key  text CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'retrying', 'done', 'failed')),
    progress         smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    step             text NOT NULL DEFAULT '' CHECK (length(step) <= 200),
    error            text CHECK (length(error) <= 2000),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    detail           jsonb NOT NULL DEFAULT '{}',
    result           jsonb,
    created_by       uuid NOT NULL REFERENCES public.users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    PRIMARY KEY (org_id, job_id),
    UNIQUE (org_id, idempotency_key),
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind)
);
CREATE TABLE agency.jobs (
    org_id           uuid NOT NULL,
    workspace_id     uuid NOT NULL,
    job_id           uuid NOT NULL DEFAULT gen_random_uuid(),
    org_kind         text NOT NULL DEFAULT 'agency' CONSTRAINT jobs_org_kind_agency CHECK (org_kind = 'agency'),
    job_type         text NOT NULL CHECK (job_type IN ('generate_outputs', 'import_csv')),
    subject_id       uuid NOT NULL,
    idempotency_key  text CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    status           text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'retrying', 'done', 'failed')),
    progress         smallint NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
    step             text NOT NULL DEFAULT '' CHECK (length(step) <= 200),
    error            text CHECK (length(error) <= 2000),
    attempts         integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    detail           jsonb NOT NULL DEFAULT '{}',
    result           jsonb,
    created_by       uuid NOT NULL REFERENCES public.users (id),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    PRIMARY KEY (org_id, workspace_id, job_id),
    UNIQUE (org_id, workspace_id, idempotency_key),
    FOREIGN KEY (org_id, workspace_id) REFERENCES agency.client_workspaces (org_id, workspace_id),
    FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind)
);
-- One job of a type at a time per subject: pressing "Generate" twice gives the same job.
CREATE UNIQUE INDEX jobs_one_active_idx ON public.jobs (org_id, job_type, subject_id)
    WHERE status IN ('queued', 'running', 'retrying');
CREATE UNIQUE INDEX agency_jobs_one_active_idx ON agency.jobs (org_id, workspace_id, job_type, subject_id)
    WHERE status IN ('queued', 'running', 'retrying');
CREATE INDEX jobs_recent_idx ON public.jobs (org_id, created_at DESC);
CREATE INDEX agency_jobs_recent_idx ON agency.jobs (org_id, workspace_id, created_at DESC);

ALTER TABLE public.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY jobs_sme ON public.jobs
    USING (org_id = (SELECT enclave.current_org_id()) AND org_kind = 'sme')
    WITH CHECK (org_id = (SELECT enclave.current_org_id()) AND org_kind = 'sme');
ALTER TABLE agency.jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE agency.jobs FORCE ROW LEVEL SECURITY;
CREATE POLICY jobs_client ON agency.jobs
    USING (org_id = (SELECT enclave.current_org_id())
           AND workspace_id = (SELECT enclave.current_workspace_id()) AND org_kind = 'agency')
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
           AND workspace_id = (SELECT enclave.current_workspace_id()) AND org_kind = 'agency');

CREATE VIEW public.jobs_unified WITH (security_invoker = on) AS
    SELECT 'sme'::text AS source, j.org_id, NULL::uuid AS workspace_id, j.job_id, j.job_type,
           j.subject_id, j.idempotency_key, j.status, j.progress, j.step, j.error, j.attempts, j.detail, j.result,
           j.created_by, j.created_at, j.updated_at, j.finished_at
      FROM public.jobs j
    UNION ALL
    SELECT 'agency'::text, j.org_id, j.workspace_id, j.job_id, j.job_type,
           j.subject_id, j.idempotency_key, j.status, j.progress, j.step, j.error, j.attempts, j.detail, j.result,
           j.created_by, j.created_at, j.updated_at, j.finished_at
      FROM agency.jobs j;

-- Creates a job of the current scope, or returns the one already waiting or running for
-- the same subject (or with the same idempotency key): `created` says which. The caller
-- enqueues the task in the same transaction only when `created`.
CREATE FUNCTION enclave.create_job(p_type text, p_subject uuid, p_key text, p_detail jsonb,
                                   OUT job_id uuid, OUT created boolean)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope();
    BEGIN
        -- Serialises concurrent presses for one subject (and one key) in this scope.
        PERFORM pg_advisory_xact_lock(hashtextextended(
            concat_ws('/', 'job', s.o_org, s.o_workspace, p_type, p_subject), 0));
        IF p_key IS NOT NULL THEN
            PERFORM pg_advisory_xact_lock(hashtextextended(
                concat_ws('/', 'job-key', s.o_org, s.o_workspace, p_key), 0));
        END IF;
        SELECT j.job_id INTO job_id FROM public.jobs_unified j
         WHERE j.org_id = s.o_org AND j.workspace_id IS NOT DISTINCT FROM s.o_workspace
           AND ((j.job_type = p_type AND j.subject_id = p_subject
                 AND j.status IN ('queued', 'running', 'retrying'))
                OR j.idempotency_key = p_key)
         LIMIT 1;
        IF job_id IS NOT NULL THEN
            created := false;
            RETURN;
        END IF;
        job_id := gen_random_uuid();
        created := true;
        IF s.o_kind = 'sme' THEN
            INSERT INTO public.jobs (org_id, job_id, job_type, subject_id, idempotency_key, detail, created_by)
            VALUES (s.o_org, job_id, p_type, p_subject, p_key, coalesce(p_detail, '{}'), enclave.current_user_id());
        ELSE
            INSERT INTO agency.jobs (org_id, workspace_id, job_id, job_type, subject_id, idempotency_key, detail, created_by)
            VALUES (s.o_org, s.o_workspace, job_id, p_type, p_subject, p_key, coalesce(p_detail, '{}'),
                    enclave.current_user_id());
        END IF;
    END $$;

-- The worker's bookkeeping, in the job's own tenant context. `p_status` is one of
-- running (an attempt starts: attempts + 1), retrying / failed (with the error in plain
-- words), done (with the result), queued (a person pressed Retry on a failed job).
-- Refuses a move that makes no sense (for example Retry on a job that is running).
CREATE FUNCTION enclave.set_job_status(p_job uuid, p_status text, p_error text, p_result jsonb)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope(); v_attempts integer; v_allowed text[];
    BEGIN
        v_allowed := CASE p_status
            WHEN 'running'  THEN ARRAY['queued', 'retrying', 'running']
            WHEN 'retrying' THEN ARRAY['running']
            WHEN 'failed'   THEN ARRAY['queued', 'running', 'retrying']
            WHEN 'done'     THEN ARRAY['running']
            WHEN 'queued'   THEN ARRAY['failed']
        END;
        IF v_allowed IS NULL THEN
            RAISE EXCEPTION 'unknown job status %', p_status USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF s.o_kind = 'sme' THEN
            UPDATE public.jobs j SET
                   status = p_status,
                   attempts = CASE p_status WHEN 'running' THEN j.attempts + 1 WHEN 'queued' THEN 0 ELSE j.attempts END,
                   progress = CASE p_status WHEN 'done' THEN 100 WHEN 'running' THEN 0 WHEN 'queued' THEN 0 ELSE j.progress END,
                   step = CASE p_status WHEN 'queued' THEN '' WHEN 'running' THEN 'starting' WHEN 'done' THEN 'done' ELSE j.step END,
                   error = CASE WHEN p_status IN ('retrying', 'failed') THEN left(p_error, 2000)
                                WHEN p_status IN ('done', 'queued') THEN NULL ELSE j.error END,
                   result = CASE p_status WHEN 'done' THEN p_result ELSE j.result END,
                   finished_at = CASE WHEN p_status IN ('done', 'failed') THEN now() ELSE NULL END,
                   updated_at = now()
             WHERE j.org_id = s.o_org AND j.job_id = p_job AND j.status = ANY (v_allowed)
            RETURNING j.attempts INTO v_attempts;
        ELSE
            UPDATE agency.jobs j SET
                   status = p_status,
                   attempts = CASE p_status WHEN 'running' THEN j.attempts + 1 WHEN 'queued' THEN 0 ELSE j.attempts END,
                   progress = CASE p_status WHEN 'done' THEN 100 WHEN 'running' THEN 0 WHEN 'queued' THEN 0 ELSE j.progress END,
                   step = CASE p_status WHEN 'queued' THEN '' WHEN 'running' THEN 'starting' WHEN 'done' THEN 'done' ELSE j.step END,
                   error = CASE WHEN p_status IN ('retrying', 'failed') THEN left(p_error, 2000)
                                WHEN p_status IN ('done', 'queued') THEN NULL ELSE j.error END,
                   result = CASE p_status WHEN 'done' THEN p_result ELSE j.result END,
                   finished_at = CASE WHEN p_status IN ('done', 'failed') THEN now() ELSE NULL END,
                   updated_at = now()
             WHERE j.org_id = s.o_org AND j.workspace_id = s.o_workspace AND j.job_id = p_job
               AND j.status = ANY (v_allowed)
            RETURNING j.attempts INTO v_attempts;
        END IF;
        IF v_attempts IS NULL THEN
            RAISE EXCEPTION 'this job cannot become % now (it is not in this workspace, or it is in another state)', p_status
                USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN v_attempts;
    END $$;

-- Progress of a running job: a percentage and the name of the step.
CREATE FUNCTION enclave.set_job_progress(p_job uuid, p_progress integer, p_step text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope();
    BEGIN
        IF s.o_kind = 'sme' THEN
            UPDATE public.jobs j SET progress = greatest(0, least(100, p_progress)), step = left(p_step, 200),
                   updated_at = now()
             WHERE j.org_id = s.o_org AND j.job_id = p_job AND j.status = 'running';
        ELSE
            UPDATE agency.jobs j SET progress = greatest(0, least(100, p_progress)), step = left(p_step, 200),
                   updated_at = now()
             WHERE j.org_id = s.o_org AND j.workspace_id = s.o_workspace AND j.job_id = p_job
               AND j.status = 'running';
        END IF;
    END $$;

-- Generated outputs carry a key (job and channel) so a job that runs again after a crash
-- or a lost acknowledgement cannot add the same draft twice.
ALTER TABLE public.campaign_outputs ADD COLUMN generation_key text CHECK (length(generation_key) <= 200);
ALTER TABLE agency.campaign_outputs ADD COLUMN generation_key text CHECK (length(generation_key) <= 200);
CREATE UNIQUE INDEX campaign_outputs_generation_key_idx
    ON public.campaign_outputs (org_id, campaign_id, generation_key) WHERE generation_key IS NOT NULL;
CREATE UNIQUE INDEX agency_campaign_outputs_generation_key_idx
    ON agency.campaign_outputs (org_id, workspace_id, campaign_id, generation_key) WHERE generation_key IS NOT NULL;

-- Saves a generated draft once per key; returns false when it was already there.
CREATE FUNCTION enclave.save_generated_output(p_campaign uuid, p_key text, p_channel text,
                                              p_headline text, p_body text) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE s record := enclave.require_scope(); v_count integer;
    BEGIN
        IF p_key IS NULL THEN
            RAISE EXCEPTION 'a generated output needs its key' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF s.o_kind = 'sme' THEN
            INSERT INTO public.campaign_outputs (org_id, campaign_id, channel, headline, body, generation_key)
            VALUES (s.o_org, p_campaign, p_channel, p_headline, p_body, p_key)
            ON CONFLICT (org_id, campaign_id, generation_key) WHERE generation_key IS NOT NULL DO NOTHING;
        ELSE
            INSERT INTO agency.campaign_outputs (org_id, workspace_id, campaign_id, channel, headline, body, generation_key)
            VALUES (s.o_org, s.o_workspace, p_campaign, p_channel, p_headline, p_body, p_key)
            ON CONFLICT (org_id, workspace_id, campaign_id, generation_key) WHERE generation_key IS NOT NULL DO NOTHING;
        END IF;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        RETURN v_count = 1;
    END $$;

-- The queue is platform plumbing: the runtime role works it (the worker runs as the
-- runtime role), RLS above keeps a tenant context to its own tasks.
GRANT USAGE ON SCHEMA underway TO enclave_runtime;
GRANT SELECT, INSERT ON underway.task_queue TO enclave_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON underway.task, underway.task_attempt, underway.task_schedule
    TO enclave_runtime;
GRANT SELECT ON enclave.job_queues TO enclave_runtime;
GRANT SELECT ON public.jobs, agency.jobs, public.jobs_unified TO enclave_runtime;
GRANT EXECUTE ON FUNCTION
    enclave.create_job(text, uuid, text, jsonb),
    enclave.set_job_status(uuid, text, text, jsonb),
    enclave.set_job_progress(uuid, integer, text),
    enclave.save_generated_output(uuid, text, text, text, text)
    TO enclave_runtime;
