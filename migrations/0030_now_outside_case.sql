-- Transaction time through a variable where an UPDATE put now() inside CASE or COALESCE
-- (issue 14). Citus refuses that on a distributed table ("non-IMMUTABLE functions are not
-- allowed in CASE or COALESCE statements"; met by the jobs suite run against a cluster: a
-- job's status could not be set, so jobs stayed queued). now() is the transaction's start
-- time, so a variable set from it at the top of the function is the same value: the same
-- answers on one node. The four functions that did it: set_job_status, record_mail_attempt,
-- record_seat_sync, archive_client (which the Citus recipe had rewritten on its own).
-- set_job_status also writes its CASEs as `CASE WHEN p_status = …` instead of `CASE p_status
-- WHEN …`: Citus evaluates the parameter on the coordinator and then compares the text
-- with a boolean ("operator does not exist: text = boolean", the next error the suite met).

CREATE OR REPLACE FUNCTION enclave.set_job_status(p_job uuid, p_status text, p_error text, p_result jsonb)
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    DECLARE s record := enclave.require_scope(); v_attempts integer; v_allowed text[]; v_now timestamptz := now();
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
                   attempts = CASE WHEN p_status = 'running' THEN j.attempts + 1 WHEN p_status = 'queued' THEN 0 ELSE j.attempts END,
                   progress = CASE WHEN p_status = 'done' THEN 100 WHEN p_status IN ('running', 'queued') THEN 0 ELSE j.progress END,
                   step = CASE WHEN p_status = 'queued' THEN '' WHEN p_status = 'running' THEN 'starting' WHEN p_status = 'done' THEN 'done' ELSE j.step END,
                   error = CASE WHEN p_status IN ('retrying', 'failed') THEN left(p_error, 2000)
                                WHEN p_status IN ('done', 'queued') THEN NULL ELSE j.error END,
                   result = CASE WHEN p_status = 'done' THEN p_result ELSE j.result END,
                   finished_at = CASE WHEN p_status IN ('done', 'failed') THEN v_now ELSE NULL END,
                   updated_at = v_now
             WHERE j.org_id = s.o_org AND j.job_id = p_job AND j.status = ANY (v_allowed)
            RETURNING j.attempts INTO v_attempts;
        ELSE
            UPDATE agency.jobs j SET
                   status = p_status,
                   attempts = CASE WHEN p_status = 'running' THEN j.attempts + 1 WHEN p_status = 'queued' THEN 0 ELSE j.attempts END,
                   progress = CASE WHEN p_status = 'done' THEN 100 WHEN p_status IN ('running', 'queued') THEN 0 ELSE j.progress END,
                   step = CASE WHEN p_status = 'queued' THEN '' WHEN p_status = 'running' THEN 'starting' WHEN p_status = 'done' THEN 'done' ELSE j.step END,
                   error = CASE WHEN p_status IN ('retrying', 'failed') THEN left(p_error, 2000)
                                WHEN p_status IN ('done', 'queued') THEN NULL ELSE j.error END,
                   result = CASE WHEN p_status = 'done' THEN p_result ELSE j.result END,
                   finished_at = CASE WHEN p_status IN ('done', 'failed') THEN v_now ELSE NULL END,
                   updated_at = v_now
             WHERE j.org_id = s.o_org AND j.workspace_id = s.o_workspace AND j.job_id = p_job
               AND j.status = ANY (v_allowed)
            RETURNING j.attempts INTO v_attempts;
        END IF;
        IF v_attempts IS NULL THEN
            RAISE EXCEPTION 'this job cannot become % now (it is not in this workspace, or it is in another state)', p_status
                USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN v_attempts;
    END $function$;
CREATE OR REPLACE FUNCTION enclave.record_mail_attempt(p_org uuid, p_mail uuid, p_error text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    DECLARE v_now timestamptz := now();
    BEGIN
        IF NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'mail delivery runs on the system path' USING ERRCODE = 'insufficient_privilege';
        END IF;
        UPDATE public.mail_outbox o
           SET attempts = o.attempts + 1,
               sent_at = CASE WHEN p_error IS NULL THEN v_now END,
               last_error = left(p_error, 1000),
               next_attempt_at = v_now + interval '1 minute' * power(2, o.attempts)
         WHERE o.org_id = p_org AND o.mail_id = p_mail AND o.sent_at IS NULL;
    END $function$;
CREATE OR REPLACE FUNCTION enclave.record_seat_sync(p_org uuid, p_error text)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    DECLARE v_now timestamptz := now();
    BEGIN
        PERFORM enclave.require_system_path('record a seat sync');
        UPDATE public.org_billing
           SET seat_sync_error = left(p_error, 2000),
               seat_sync_failed_at = CASE WHEN p_error IS NULL THEN NULL ELSE v_now END,
               seat_sync_attempts = CASE WHEN p_error IS NULL THEN 0 ELSE seat_sync_attempts + 1 END
         WHERE org_id = p_org;
        IF p_error IS NOT NULL THEN
            INSERT INTO enclave.audit_log (path, actor, org_id, action, detail)
                 VALUES ('system', 'billing', p_org, 'seat sync failed', jsonb_build_object('error', left(p_error, 500)));
        END IF;
    END $function$;
CREATE OR REPLACE FUNCTION enclave.archive_client(p_workspace uuid, p_archived boolean)
 RETURNS void
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    DECLARE v_org uuid := enclave.require_agency_manager(); v_now timestamptz := now();
    BEGIN
        IF NOT p_archived AND EXISTS (SELECT 1 FROM agency.client_workspaces w
                                       WHERE w.org_id = v_org AND w.workspace_id = p_workspace
                                         AND w.archived_at IS NOT NULL) THEN
            PERFORM enclave.require_client_slot(v_org);
        END IF;
        UPDATE agency.client_workspaces
           SET archived_at = CASE WHEN p_archived THEN coalesce(archived_at, v_now) END
         WHERE org_id = v_org AND workspace_id = p_workspace;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'that client is not in this organization' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM enclave.audit_tenant(CASE WHEN p_archived THEN 'archive client' ELSE 'restore client' END,
                                     jsonb_build_object('workspace_id', p_workspace));
    END $function$;
