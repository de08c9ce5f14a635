-- Two hardening fixes in the identity functions.
--
-- 1. Only a verified address is a person's identity. Until now every sign-in copied the
--    provider's `email` claim into users.email, verified or not, and member lists and
--    the "already a member" check read users.email: anyone whose provider lets them
--    claim an address unverified could appear as that address. Now users.email changes
--    only to a verified address (or while the one it holds is itself unverified), and
--    users.email_verified says which it is; lists show and invitations match verified
--    addresses only. Operator-created users (seed, `create_user`) count as verified:
--    the operator vouched for them.
--
-- 2. Invitations per organization per day are capped in the database (every instance
--    of the server shares the count), so an admin's stolen session cannot turn the
--    outbox into a spam cannon. The per-address limit of the web server stays in front.

ALTER TABLE public.users ADD COLUMN email_verified boolean NOT NULL DEFAULT true;

-- A user whose address came from sign-in is verified only if one of their identities
-- verified that very address.
UPDATE public.users u
   SET email_verified = EXISTS (
           SELECT 1 FROM public.user_identities i
            WHERE i.user_id = u.id AND i.email_verified AND lower(i.email) = lower(u.email))
 WHERE EXISTS (SELECT 1 FROM public.user_identities i WHERE i.user_id = u.id);

CREATE OR REPLACE FUNCTION enclave.sign_in_identity(
        p_issuer text, p_subject text, p_email text, p_email_verified boolean, p_name text)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_user uuid;
        v_verified boolean := coalesce(p_email_verified, false);
        v_name text := left(coalesce(nullif(btrim(p_name), ''), split_part(p_email, '@', 1), 'New user'), 200);
    BEGIN
        IF p_email IS NULL OR position('@' in p_email) < 2 THEN
            RAISE EXCEPTION 'the identity provider did not share an email address'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO enclave.audit_log (path, actor, action, detail)
             VALUES ('system', 'sign-in', 'sign in with OpenID Connect',
                     jsonb_build_object('issuer', p_issuer, 'subject', p_subject,
                                        'email_verified', v_verified));
        SELECT i.user_id INTO v_user FROM public.user_identities i
         WHERE i.issuer = p_issuer AND i.subject = p_subject;
        IF v_user IS NULL THEN
            INSERT INTO public.users (email, email_verified, display_name)
                 VALUES (p_email, v_verified, v_name)
              RETURNING id INTO v_user;
            INSERT INTO public.user_identities (issuer, subject, user_id, email, email_verified)
                 VALUES (p_issuer, p_subject, v_user, p_email, v_verified);
        ELSE
            UPDATE public.user_identities
               SET email = p_email, email_verified = v_verified, last_sign_in_at = now()
             WHERE issuer = p_issuer AND subject = p_subject;
            -- A verified address replaces whatever was there; an unverified one never
            -- replaces a verified one.
            UPDATE public.users
               SET email = p_email, email_verified = v_verified
             WHERE id = v_user AND (v_verified OR NOT email_verified);
        END IF;
        RETURN v_user;
    END $$;

-- Same columns as before: an unverified address is not shown (NULL).
CREATE OR REPLACE FUNCTION enclave.list_members()
    RETURNS TABLE (user_id uuid, display_name text, email text, role text, joined_at timestamptz)
    LANGUAGE sql STABLE
    AS $$
        SELECT u.id, u.display_name, CASE WHEN u.email_verified THEN u.email END, m.role, m.created_at
          FROM public.memberships m JOIN public.users u ON u.id = m.user_id
         WHERE m.org_id = enclave.current_org_id()
         ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.display_name
    $$;

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
        PERFORM enclave.audit_tenant('invite member',
            jsonb_build_object('invitation_id', v_id, 'email', v_email, 'role', p_role,
                               'any_email', coalesce(p_any_email, false)));
        RETURN v_id;
    END $$;
