-- Identity: OpenID Connect identities, the user-only context, organizations created at
-- onboarding, members, invitations (hashed single-use tokens), the mail outbox and the
-- index of server sessions by user (for "sign out of all devices").

-- Identities --------------------------------------------------------------------------
-- A person is keyed by (issuer, subject), never by email: two providers asserting the same
-- address are two identities unless the user links them.
CREATE TABLE public.user_identities (
    issuer          text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 500),
    subject         text NOT NULL CHECK (length(subject) BETWEEN 1 AND 255),
    user_id         uuid NOT NULL REFERENCES public.users (id),
    email           text CHECK (email IS NULL OR length(email) <= 320),
    email_verified  boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (issuer, subject)
);
COMMENT ON TABLE public.user_identities IS 'enclave:global sign-in identities (issuer, subject) of a user; visible to that user.';
CREATE INDEX user_identities_user_idx ON public.user_identities (user_id);
ALTER TABLE public.user_identities ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.user_identities FORCE ROW LEVEL SECURITY;
CREATE POLICY user_identities_own ON public.user_identities
    USING (user_id = (SELECT enclave.current_user_id()) OR (SELECT enclave.system_path_active()))
    WITH CHECK ((SELECT enclave.system_path_active()));

-- A signed-in user sees their own memberships in every organization and the organizations
-- they belong to (the organization switcher). Read-only: writes keep their policies.
-- The extra index serves that lookup; memberships would be a reference table in a
-- sharded deployment (see docs/ARCHITECTURE.md).
CREATE INDEX memberships_user_idx ON public.memberships (user_id, org_id);
CREATE POLICY memberships_own ON public.memberships FOR SELECT
    USING (user_id = (SELECT enclave.current_user_id()));
CREATE POLICY organizations_member ON public.organizations FOR SELECT
    USING (EXISTS (SELECT 1 FROM public.memberships m
                    WHERE m.org_id = organizations.id
                      AND m.user_id = (SELECT enclave.current_user_id())));

-- Tenant audit rows: who, what, when, which organization. Only definer functions call it.
CREATE FUNCTION enclave.audit_tenant(p_action text, p_detail jsonb) RETURNS void
    LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
        INSERT INTO enclave.audit_log (path, actor, action, org_id, detail)
        VALUES ('tenant', coalesce(enclave.current_user_id()::text, 'unknown'), p_action,
                enclave.current_org_id(), coalesce(p_detail, '{}'::jsonb))
    $$;

-- Sign-in provisioning: called by the server after it verified an ID token (signature,
-- issuer, audience, expiry, nonce). Finds or creates the user of (issuer, subject). It is
-- a system-path act (it reads identities of users who are not yet known), so it writes its
-- system audit row first.
CREATE FUNCTION enclave.sign_in_identity(
        p_issuer text, p_subject text, p_email text, p_email_verified boolean, p_name text)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_user uuid;
        v_name text := left(coalesce(nullif(btrim(p_name), ''), split_part(p_email, '@', 1), 'New user'), 200);
    BEGIN
        IF p_email IS NULL OR position('@' in p_email) < 2 THEN
            RAISE EXCEPTION 'the identity provider did not share an email address'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO enclave.audit_log (path, actor, action, detail)
             VALUES ('system', 'sign-in', 'sign in with OpenID Connect',
                     jsonb_build_object('issuer', p_issuer, 'subject', p_subject));
        SELECT i.user_id INTO v_user FROM public.user_identities i
         WHERE i.issuer = p_issuer AND i.subject = p_subject;
        IF v_user IS NULL THEN
            INSERT INTO public.users (email, display_name) VALUES (p_email, v_name)
                RETURNING id INTO v_user;
            INSERT INTO public.user_identities (issuer, subject, user_id, email, email_verified)
                 VALUES (p_issuer, p_subject, v_user, p_email, p_email_verified);
        ELSE
            UPDATE public.user_identities
               SET email = p_email, email_verified = p_email_verified, last_sign_in_at = now()
             WHERE issuer = p_issuer AND subject = p_subject;
            UPDATE public.users SET email = p_email WHERE id = v_user;
        END IF;
        RETURN v_user;
    END $$;

-- The user-only context (signed in, no organization chosen yet): onboarding, the
-- organization switcher, accepting invitations. Tenant tables show nothing in it.
CREATE FUNCTION enclave.enter_user(p_user uuid) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF p_user IS NULL THEN
            RAISE EXCEPTION 'a user context needs a user' USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM set_config('enclave.org_id', '', true);
        PERFORM set_config('enclave.workspace_id', '', true);
        PERFORM set_config('enclave.user_id', p_user::text, true);
        IF NOT EXISTS (SELECT 1 FROM public.users u WHERE u.id = p_user) THEN
            RAISE EXCEPTION 'unknown user' USING ERRCODE = 'insufficient_privilege';
        END IF;
    END $$;

-- The signed-in user's organizations (runs in a user or tenant context).
CREATE FUNCTION enclave.my_organizations()
    RETURNS TABLE (org_id uuid, name text, kind text, slug text, role text)
    LANGUAGE sql STABLE
    AS $$
        SELECT o.id, o.name, o.kind, o.slug, m.role
          FROM public.memberships m JOIN public.organizations o ON o.id = m.org_id
         WHERE m.user_id = enclave.current_user_id()
         ORDER BY o.name, o.id
    $$;

-- Organization names: 1 to 200 characters after trimming. Returns the trimmed name.
CREATE FUNCTION enclave.check_org_name(p_name text) RETURNS text
    LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        IF length(btrim(coalesce(p_name, ''))) NOT BETWEEN 1 AND 200 THEN
            RAISE EXCEPTION 'the organization needs a name of 1 to 200 characters'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        RETURN btrim(p_name);
    END $$;

-- Onboarding: the signed-in user creates an organization and becomes its owner. The slug
-- is derived from the name; a taken slug gets a short random suffix.
CREATE FUNCTION enclave.onboard_organization(p_kind text, p_name text) RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_user uuid := enclave.current_user_id();
        v_base text := left(trim(BOTH '-' FROM regexp_replace(lower(coalesce(p_name, '')), '[^a-z0-9]+', '-', 'g')), 40);
        v_slug text;
        v_org  uuid;
    BEGIN
        IF v_user IS NULL THEN
            RAISE EXCEPTION 'sign in first' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF p_kind IS NULL OR p_kind NOT IN ('sme', 'agency') THEN
            RAISE EXCEPTION 'choose whether the organization is a business (SME) or an agency'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM enclave.check_org_name(p_name);
        IF length(v_base) < 2 THEN
            v_base := 'org';
        END IF;
        FOR attempt IN 1..5 LOOP
            v_slug := CASE WHEN attempt = 1 THEN v_base
                           ELSE v_base || '-' || substr(md5(random()::text), 1, 6) END;
            BEGIN
                v_org := enclave.create_organization(p_kind, btrim(p_name), v_slug, v_user);
                EXIT;
            EXCEPTION WHEN unique_violation THEN
                v_org := NULL;
            END;
        END LOOP;
        IF v_org IS NULL THEN
            RAISE EXCEPTION 'could not find a free address for this organization; try another name'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO enclave.audit_log (path, actor, action, org_id, detail)
             VALUES ('tenant', v_user::text, 'create organization', v_org,
                     jsonb_build_object('kind', p_kind, 'name', btrim(p_name)));
        RETURN v_org;
    END $$;

CREATE FUNCTION enclave.rename_organization(p_name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_name text;
    BEGIN
        PERFORM enclave.require_manager('rename the organization');
        v_name := enclave.check_org_name(p_name);
        UPDATE public.organizations SET name = v_name WHERE id = enclave.current_org_id();
        PERFORM enclave.audit_tenant('rename organization', jsonb_build_object('name', v_name));
    END $$;

-- Members -------------------------------------------------------------------------------
-- Owners and admins manage members; only owners grant or take away ownership; the last
-- owner can be neither demoted nor removed, and cannot leave.
CREATE FUNCTION enclave.require_manager(p_action text) RETURNS text
    LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE v_role text := enclave.current_member_role();
    BEGIN
        IF v_role IS NULL OR v_role NOT IN ('owner', 'admin') THEN
            RAISE EXCEPTION 'only owners and admins can %', p_action
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN v_role;
    END $$;

CREATE FUNCTION enclave.ensure_another_owner(p_org uuid, p_user uuid) RETURNS void
    LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        -- Lock the owners so two concurrent demotions cannot both see "another owner".
        PERFORM 1 FROM public.memberships m WHERE m.org_id = p_org AND m.role = 'owner' FOR UPDATE;
        IF NOT EXISTS (SELECT 1 FROM public.memberships m
                        WHERE m.org_id = p_org AND m.role = 'owner' AND m.user_id <> p_user) THEN
            RAISE EXCEPTION 'the organization needs at least one other owner first'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
    END $$;

CREATE FUNCTION enclave.change_member_role(p_user uuid, p_role text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := enclave.current_org_id();
        v_me text := enclave.require_manager('manage members');
        v_old text;
    BEGIN
        IF p_role IS NULL OR p_role NOT IN ('owner', 'admin', 'member') THEN
            RAISE EXCEPTION 'unknown role' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        SELECT m.role INTO v_old FROM public.memberships m WHERE m.org_id = v_org AND m.user_id = p_user FOR UPDATE;
        IF v_old IS NULL THEN
            RAISE EXCEPTION 'that person is not a member of this organization'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF (v_old = 'owner' OR p_role = 'owner') AND v_me <> 'owner' THEN
            RAISE EXCEPTION 'only owners can grant or take away ownership'
                USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF v_old = 'owner' AND p_role <> 'owner' THEN
            PERFORM enclave.ensure_another_owner(v_org, p_user);
        END IF;
        UPDATE public.memberships SET role = p_role WHERE org_id = v_org AND user_id = p_user;
        PERFORM enclave.audit_tenant('change member role',
            jsonb_build_object('user_id', p_user, 'from', v_old, 'to', p_role));
    END $$;

CREATE FUNCTION enclave.remove_member(p_user uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_org uuid := enclave.current_org_id();
        v_me text;
        v_old text;
    BEGIN
        IF p_user IS NOT DISTINCT FROM enclave.current_user_id() THEN
            v_me := enclave.current_member_role();   -- leaving needs no manager role
        ELSE
            v_me := enclave.require_manager('manage members');
        END IF;
        SELECT m.role INTO v_old FROM public.memberships m WHERE m.org_id = v_org AND m.user_id = p_user FOR UPDATE;
        IF v_old IS NULL THEN
            RAISE EXCEPTION 'that person is not a member of this organization'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF v_old = 'owner' AND v_me <> 'owner' THEN
            RAISE EXCEPTION 'only owners can remove an owner' USING ERRCODE = 'insufficient_privilege';
        END IF;
        IF v_old = 'owner' THEN
            PERFORM enclave.ensure_another_owner(v_org, p_user);
        END IF;
        DELETE FROM public.memberships WHERE org_id = v_org AND user_id = p_user;
        PERFORM enclave.audit_tenant(
            CASE WHEN p_user = enclave.current_user_id() THEN 'leave organization' ELSE 'remove member' END,
            jsonb_build_object('user_id', p_user, 'role', v_old));
    END $$;

CREATE FUNCTION enclave.list_members()
    RETURNS TABLE (user_id uuid, display_name text, email text, role text, joined_at timestamptz)
    LANGUAGE sql STABLE
    AS $$
        SELECT u.id, u.display_name, u.email, m.role, m.created_at
          FROM public.memberships m JOIN public.users u ON u.id = m.user_id
         WHERE m.org_id = enclave.current_org_id()
         ORDER BY CASE m.role WHEN 'owner' THEN 0 WHEN 'admin' THEN 1 ELSE 2 END, u.display_name
    $$;

-- Invitations ---------------------------------------------------------------------------
-- The token is generated and hashed by the server; only its SHA-256 is stored. The link
-- carries (organization, invitation, secret), so a secret is looked up only within the
-- invitation it was issued for.
CREATE TABLE public.invitations (
    org_id          uuid NOT NULL REFERENCES public.organizations (id),
    invitation_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    email           text NOT NULL CHECK (position('@' in email) > 1 AND length(email) <= 320),
    role            text NOT NULL CHECK (role IN ('admin', 'member')),
    token_hash      bytea NOT NULL CHECK (length(token_hash) = 32),
    any_email       boolean NOT NULL DEFAULT false,
    invited_by      uuid NOT NULL REFERENCES public.users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    accepted_at     timestamptz,
    accepted_by     uuid REFERENCES public.users (id),
    revoked_at      timestamptz,
    PRIMARY KEY (org_id, invitation_id),
    FOREIGN KEY (org_id, invited_by) REFERENCES public.memberships (org_id, user_id) ON DELETE CASCADE
);
ALTER TABLE public.invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY invitations_org ON public.invitations
    USING (org_id = (SELECT enclave.current_org_id()))
    WITH CHECK (org_id = (SELECT enclave.current_org_id()));

-- Mail waiting for delivery. The body is sealed by the server (AES-GCM) because an
-- invitation mail carries its link; delivery clears it.
CREATE TABLE public.mail_outbox (
    org_id        uuid NOT NULL REFERENCES public.organizations (id),
    mail_id       uuid NOT NULL DEFAULT gen_random_uuid(),
    to_address    text NOT NULL CHECK (position('@' in to_address) > 1 AND length(to_address) <= 320),
    subject       text NOT NULL CHECK (length(subject) BETWEEN 1 AND 300),
    sealed_body   bytea,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    PRIMARY KEY (org_id, mail_id)
);
ALTER TABLE public.mail_outbox ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.mail_outbox FORCE ROW LEVEL SECURITY;
CREATE POLICY mail_outbox_managers ON public.mail_outbox
    USING (org_id = (SELECT enclave.current_org_id())
           AND (SELECT enclave.current_member_role()) IN ('owner', 'admin'))
    WITH CHECK (org_id = (SELECT enclave.current_org_id())
           AND (SELECT enclave.current_member_role()) IN ('owner', 'admin'));

CREATE FUNCTION enclave.invite_member(
        p_email text, p_role text, p_token_hash bytea, p_any_email boolean, p_valid_for interval,
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
        INSERT INTO public.invitations (org_id, email, role, token_hash, any_email, invited_by, expires_at)
             VALUES (v_org, v_email, p_role, p_token_hash, coalesce(p_any_email, false),
                     enclave.current_user_id(), now() + p_valid_for)
          RETURNING invitation_id INTO v_id;
        INSERT INTO public.mail_outbox (org_id, to_address, subject, sealed_body)
             VALUES (v_org, v_email, p_mail_subject, p_mail_sealed_body);
        PERFORM enclave.audit_tenant('invite member',
            jsonb_build_object('invitation_id', v_id, 'email', v_email, 'role', p_role,
                               'any_email', coalesce(p_any_email, false)));
        RETURN v_id;
    END $$;

CREATE FUNCTION enclave.revoke_invitation(p_invitation uuid) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    BEGIN
        PERFORM enclave.require_manager('manage members');
        UPDATE public.invitations SET revoked_at = now()
         WHERE org_id = enclave.current_org_id() AND invitation_id = p_invitation
           AND accepted_at IS NULL AND revoked_at IS NULL;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'that invitation is not pending' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM enclave.audit_tenant('revoke invitation', jsonb_build_object('invitation_id', p_invitation));
    END $$;

CREATE FUNCTION enclave.list_invitations()
    RETURNS TABLE (invitation_id uuid, email text, role text, any_email boolean,
                   created_at timestamptz, expires_at timestamptz, status text)
    LANGUAGE sql STABLE
    AS $$
        SELECT i.invitation_id, i.email, i.role, i.any_email, i.created_at, i.expires_at,
               CASE WHEN i.accepted_at IS NOT NULL THEN 'accepted'
                    WHEN i.revoked_at IS NOT NULL THEN 'withdrawn'
                    WHEN i.expires_at <= now() THEN 'expired'
                    ELSE 'pending' END
          FROM public.invitations i
         WHERE i.org_id = enclave.current_org_id()
           AND enclave.current_member_role() IN ('owner', 'admin')
         ORDER BY i.created_at DESC
    $$;

-- Accepting runs in the invitee's user context. The organization comes from the link; the
-- secret must hash to the stored value of that very invitation.
CREATE FUNCTION enclave.accept_invitation(p_org uuid, p_invitation uuid, p_token_hash bytea)
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
    DECLARE
        v_user uuid := enclave.current_user_id();
        v_inv public.invitations%ROWTYPE;
    BEGIN
        IF v_user IS NULL THEN
            RAISE EXCEPTION 'sign in first' USING ERRCODE = 'insufficient_privilege';
        END IF;
        PERFORM set_config('enclave.org_id', coalesce(p_org::text, ''), true);
        SELECT * INTO v_inv FROM public.invitations i
         WHERE i.org_id = p_org AND i.invitation_id = p_invitation FOR UPDATE;
        IF v_inv.invitation_id IS NULL OR v_inv.token_hash IS DISTINCT FROM p_token_hash THEN
            RAISE EXCEPTION 'This invitation link is not valid. Check that you copied all of it.'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF v_inv.accepted_at IS NOT NULL THEN
            RAISE EXCEPTION 'This invitation has already been used.'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF v_inv.revoked_at IS NOT NULL THEN
            RAISE EXCEPTION 'This invitation was withdrawn. Ask for a new one.'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF v_inv.expires_at <= now() THEN
            RAISE EXCEPTION 'This invitation has expired. Ask for a new one.'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT v_inv.any_email AND NOT EXISTS (
                SELECT 1 FROM public.user_identities i
                 WHERE i.user_id = v_user AND i.email_verified AND lower(i.email) = v_inv.email) THEN
            RAISE EXCEPTION 'This invitation was sent to %. Sign in with an account whose verified email is that address, or ask the person who invited you to allow any address.', v_inv.email
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF EXISTS (SELECT 1 FROM public.memberships m WHERE m.org_id = p_org AND m.user_id = v_user) THEN
            RAISE EXCEPTION 'You are already a member of this organization.'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        INSERT INTO public.memberships (org_id, user_id, role) VALUES (p_org, v_user, v_inv.role);
        UPDATE public.invitations SET accepted_at = now(), accepted_by = v_user
         WHERE org_id = p_org AND invitation_id = p_invitation;
        PERFORM enclave.audit_tenant('accept invitation',
            jsonb_build_object('invitation_id', p_invitation, 'role', v_inv.role));
        PERFORM set_config('enclave.org_id', '', true);
        RETURN p_org;
    END $$;

CREATE FUNCTION enclave.list_outbox()
    RETURNS TABLE (mail_id uuid, to_address text, subject text, sealed_body bytea,
                   created_at timestamptz, sent_at timestamptz)
    LANGUAGE sql STABLE
    AS $$
        SELECT o.mail_id, o.to_address, o.subject, o.sealed_body, o.created_at, o.sent_at
          FROM public.mail_outbox o
         WHERE o.org_id = enclave.current_org_id()
         ORDER BY o.created_at DESC
         LIMIT 50
    $$;

-- Server sessions by user --------------------------------------------------------------
-- tower-sessions stores opaque records; this index (kept by the server's session store
-- wrapper) lets "sign out of all devices" delete every session of one user.
CREATE TABLE tower_sessions.session_owner (
    session_id   text PRIMARY KEY REFERENCES tower_sessions.session (id) ON DELETE CASCADE,
    user_id      uuid NOT NULL,
    signed_in_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX session_owner_user_idx ON tower_sessions.session_owner (user_id);
GRANT SELECT, INSERT, UPDATE, DELETE ON tower_sessions.session_owner TO enclave_runtime;

GRANT SELECT ON public.user_identities, public.invitations, public.mail_outbox TO enclave_runtime;
GRANT EXECUTE ON FUNCTION
    enclave.sign_in_identity(text, text, text, boolean, text), enclave.enter_user(uuid),
    enclave.my_organizations(), enclave.onboard_organization(text, text),
    enclave.rename_organization(text), enclave.change_member_role(uuid, text),
    enclave.remove_member(uuid), enclave.list_members(),
    enclave.invite_member(text, text, bytea, boolean, interval, text, bytea),
    enclave.revoke_invitation(uuid), enclave.list_invitations(),
    enclave.accept_invitation(uuid, uuid, bytea), enclave.list_outbox()
    TO enclave_runtime;
