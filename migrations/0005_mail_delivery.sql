-- Mail delivery. One sender serves every organization's outbox, so it works on the
-- audited system path: `enclave.claim_mail` and `enclave.record_mail_attempt` refuse to
-- run unless the transaction wrote its `system` audit row first. Sealed bodies are
-- opened by the sender (it holds the key), never by the database.

ALTER TABLE public.mail_outbox
    ADD COLUMN next_attempt_at timestamptz NOT NULL DEFAULT now();

-- Permissive policies are OR-ed: managers of the organization (0003), or the system path.
CREATE POLICY mail_outbox_delivery ON public.mail_outbox
    USING ((SELECT enclave.system_path_active()))
    WITH CHECK ((SELECT enclave.system_path_active()));

-- Retries: at most this many attempts, the wait doubling from one minute.
CREATE FUNCTION enclave.claim_mail(p_limit integer)
    RETURNS TABLE (org_id uuid, mail_id uuid, to_address text, subject text,
                   sealed_body bytea, attempts integer)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'mail delivery runs on the system path' USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN QUERY
            SELECT o.org_id, o.mail_id, o.to_address, o.subject, o.sealed_body, o.attempts
              FROM public.mail_outbox o
             WHERE o.sent_at IS NULL AND o.attempts < 8 AND o.next_attempt_at <= now()
             ORDER BY o.next_attempt_at
             LIMIT greatest(1, least(p_limit, 100))
               FOR UPDATE SKIP LOCKED;
    END $$;

-- p_error NULL: delivered.
CREATE FUNCTION enclave.record_mail_attempt(p_org uuid, p_mail uuid, p_error text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'mail delivery runs on the system path' USING ERRCODE = 'insufficient_privilege';
        END IF;
        UPDATE public.mail_outbox o
           SET attempts = o.attempts + 1,
               sent_at = CASE WHEN p_error IS NULL THEN now() END,
               last_error = left(p_error, 1000),
               next_attempt_at = now() + interval '1 minute' * power(2, o.attempts)
         WHERE o.org_id = p_org AND o.mail_id = p_mail AND o.sent_at IS NULL;
    END $$;

-- Wakes a sender listening on `enclave_mail_queued` when the transaction that queued
-- mail commits (NOTIFY is delivered at commit, never for a rolled-back insert).
CREATE FUNCTION enclave.notify_mail_queued() RETURNS trigger
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM pg_notify('enclave_mail_queued', '');
        RETURN NULL;
    END $$;

CREATE TRIGGER mail_outbox_queued AFTER INSERT ON public.mail_outbox
    FOR EACH STATEMENT EXECUTE FUNCTION enclave.notify_mail_queued();

GRANT EXECUTE ON FUNCTION enclave.claim_mail(integer), enclave.record_mail_attempt(uuid, uuid, text)
    TO enclave_runtime;
