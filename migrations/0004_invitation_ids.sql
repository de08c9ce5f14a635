-- The invitation mail, sealed and queued in the same transaction as the invitation,
-- carries the link, and the link names the invitation. So the server chooses the
-- invitation id up front (a random UUID; the secret token, not the id, is what proves
-- the link) and passes it in. Replaces 0003's invite_member, which chose the id itself.

DROP FUNCTION enclave.invite_member(text, text, bytea, boolean, interval, text, bytea);

CREATE FUNCTION enclave.invite_member(
        p_invitation uuid, p_email text, p_role text, p_token_hash bytea, p_any_email boolean, p_valid_for interval,
        p_mail_subject text, p_mail_sealed_body bytea)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := enclave.current_org_id();
        v_email text := lower(btrim(coalesce(p_email, '')));
        v_id uuid;
    BEGIN
        PERFORM enclave.require_manager('manage members');
        IF v_email !~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' OR length(v_email) > 320 THEN
            RAISE EXCEPTION 'enter a valid email address' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF p_role IS NULL OR p_role NOT IN ('admin', 'member') THEN
            RAISE EXCEPTION 'invite as an admin or a member' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF EXISTS (SELECT 1 FROM public.memberships m JOIN public.users u ON u.id = m.user_id
                    WHERE m.org_id = v_org AND lower(u.email) = v_email) THEN
            RAISE EXCEPTION '% is already a member', v_email USING ERRCODE = 'invalid_parameter_value';
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

GRANT EXECUTE ON FUNCTION enclave.invite_member(uuid, text, text, bytea, boolean, interval, text, bytea)
    TO enclave_runtime;
