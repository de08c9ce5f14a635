-- Queued mail on Citus (issue 14). Mail delivery, which works on one node, did not on the
-- cluster at all; found by running server/tests/mail_delivery.rs against it:
--
-- 1. The outbox's statement trigger (0005) NOTIFYs `enclave_mail_queued`, but on Citus it
--    fires on the worker that holds the shard, where no sender listens: the sender heard
--    nothing and mail waited for the five-minute sweep. invite_member, the only function
--    that queues mail, runs on the coordinator, so it notifies there too. (Notifications of
--    one transaction with the same channel and payload are delivered once, so on one node
--    the trigger and this make one wake-up.)
-- 2. claim_mail took due mail with one `SELECT … ORDER BY … LIMIT … FOR UPDATE SKIP LOCKED`
--    over every organization: Citus refuses row locks in a query that spans shards. It now
--    picks the due mail without locking, then locks each row by its key (a query on one
--    shard), skipping rows another sender holds or has sent meanwhile, as before.
-- 3. record_mail_attempt computed the next attempt as `v_now + interval * power(2,
--    o.attempts)`: timestamptz + interval is STABLE (time zones), and Citus refuses a STABLE
--    function over a column in an UPDATE. It reads the attempts first (the row is the one
--    the claim locked) and writes constants.

CREATE OR REPLACE FUNCTION enclave.claim_mail(p_limit integer)
    RETURNS TABLE (org_id uuid, mail_id uuid, to_address text, subject text,
                   sealed_body bytea, attempts integer)
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        due record;
    BEGIN
        IF NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'mail delivery runs on the system path' USING ERRCODE = 'insufficient_privilege';
        END IF;
        FOR due IN
            SELECT o.org_id, o.mail_id
              FROM public.mail_outbox o
             WHERE o.sent_at IS NULL AND o.attempts < 8 AND o.next_attempt_at <= now()
             ORDER BY o.next_attempt_at
             LIMIT greatest(1, least(p_limit, 100))
        LOOP
            RETURN QUERY
                SELECT o.org_id, o.mail_id, o.to_address, o.subject, o.sealed_body, o.attempts
                  FROM public.mail_outbox o
                 WHERE o.org_id = due.org_id AND o.mail_id = due.mail_id
                   AND o.sent_at IS NULL AND o.attempts < 8 AND o.next_attempt_at <= now()
                   FOR UPDATE SKIP LOCKED;
        END LOOP;
    END $$;

CREATE OR REPLACE FUNCTION enclave.invite_member(
        p_invitation uuid, p_email text, p_role text, p_token_hash bytea, p_any_email boolean, p_valid_for interval,
        p_mail_subject text, p_mail_sealed_body bytea)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := enclave.current_org_id();
        v_email text := lower(btrim(coalesce(p_email, '')));
        v_id uuid;
        v_today integer;
        c_per_day constant integer := 100;
    BEGIN
        PERFORM enclave.require_manager('manage members');
        IF v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' OR length(v_email) > 320 THEN
            RAISE EXCEPTION 'enter a valid email address' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_role IS NULL OR p_role NOT IN ('admin', 'member') THEN
            RAISE EXCEPTION 'invite as an admin or a member' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF EXISTS (SELECT 1 FROM public.memberships m JOIN public.users u ON u.id = m.user_id
                    WHERE m.org_id = v_org AND u.email_verified AND lower(u.email) = v_email) THEN
            RAISE EXCEPTION '% is already a member', v_email USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- Counted under a transaction lock per organization, so concurrent invitations
        -- cannot all slip under the cap.
        PERFORM pg_advisory_xact_lock(7235013, hashtext(v_org::text));
        SELECT count(*) INTO v_today FROM public.invitations i
         WHERE i.org_id = v_org AND i.created_at > now() - interval '1 day';
        IF v_today >= c_per_day THEN
            RAISE EXCEPTION 'This organization has sent % invitations in the last 24 hours, the most allowed. Try again tomorrow, or ask the people you meant to invite to use an invitation already sent.', c_per_day
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO public.invitations (org_id, invitation_id, email, role, token_hash, any_email, invited_by, expires_at)
             VALUES (v_org, p_invitation, v_email, p_role, p_token_hash, coalesce(p_any_email, false),
                     enclave.current_user_id(), now() + p_valid_for)
          RETURNING invitation_id INTO v_id;
        INSERT INTO public.mail_outbox (org_id, to_address, subject, sealed_body)
             VALUES (v_org, v_email, p_mail_subject, p_mail_sealed_body);
        -- Delivered at commit, on the node the sender listens on (see 1. above).
        PERFORM pg_notify('enclave_mail_queued', '');
        PERFORM enclave.audit_tenant('invite member',
            jsonb_build_object('invitation_id', v_id, 'email', v_email, 'role', p_role,
                               'any_email', coalesce(p_any_email, false)));
        RETURN v_id;
    END $$;

CREATE OR REPLACE FUNCTION enclave.record_mail_attempt(p_org uuid, p_mail uuid, p_error text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_now timestamptz := now();
        v_attempts integer;
    BEGIN
        IF NOT enclave.system_path_active() THEN
            RAISE EXCEPTION 'mail delivery runs on the system path' USING ERRCODE = 'insufficient_privilege';
        END IF;
        SELECT o.attempts INTO v_attempts
          FROM public.mail_outbox o
         WHERE o.org_id = p_org AND o.mail_id = p_mail AND o.sent_at IS NULL
           FOR UPDATE;
        IF NOT FOUND THEN
            RETURN;
        END IF;
        UPDATE public.mail_outbox o
           SET attempts = v_attempts + 1,
               sent_at = CASE WHEN p_error IS NULL THEN v_now END,
               last_error = left(p_error, 1000),
               next_attempt_at = v_now + interval '1 minute' * power(2, v_attempts)
         WHERE o.org_id = p_org AND o.mail_id = p_mail AND o.sent_at IS NULL;
    END $$;
