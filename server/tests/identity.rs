//! Identity at the database boundary: sign-in provisioning keyed by (issuer, subject),
//! the user-only context, onboarding, member rules, invitation tokens and sessions.
mod common;

use app::members::token::{hash_secret, new_token};
use common::*;
use sqlx::Row;
use tenancy::{TenantDb, TenantError, UserContext};
use uuid::Uuid;

async fn ctx(
    db: &TenantDb,
    u: &UserContext,
    org: Uuid,
) -> Result<tenancy::TenantContext, TenantError> {
    db.resolve(tenancy::SessionClaim {
        user_id: u.user_id(),
        org_id: org,
        workspace_id: None,
    })
    .await
}

/// Invites `email` into `org` as `inviter`; returns (invitation id, secret).
async fn invite(
    db: &TenantDb,
    inviter: &UserContext,
    org: Uuid,
    email: &str,
    any_email: bool,
    valid_for: &str,
) -> Result<(Uuid, String), TenantError> {
    let c = ctx(db, inviter, org).await?;
    let token = new_token();
    let mut tx = db.begin(&c).await?;
    let id: Uuid = tx
        .query_scalar("SELECT enclave.invite_member($1, $2, 'member', $3, $4, $5::interval, 'You are invited', $6)")
        .bind(Uuid::new_v4())
        .bind(email)
        .bind(&token.hash)
        .bind(any_email)
        .bind(valid_for)
        .bind(b"sealed elsewhere".to_vec())
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    Ok((id, token.secret))
}

async fn accept(
    db: &TenantDb,
    u: &UserContext,
    org: Uuid,
    invitation: Uuid,
    secret: &str,
) -> Result<Uuid, TenantError> {
    let mut tx = db.begin_user(u).await?;
    let joined: Uuid = tx
        .query_scalar("SELECT enclave.accept_invitation($1, $2, $3)")
        .bind(org)
        .bind(invitation)
        .bind(hash_secret(secret))
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(joined)
}

fn rejected_with(result: Result<impl std::fmt::Debug, TenantError>, words: &str) {
    match result {
        Err(TenantError::Rejected(message)) => assert!(
            message.contains(words),
            "expected a message containing {words:?}, got {message:?}"
        ),
        other => panic!("expected rejection containing {words:?}, got {other:?}"),
    }
}

#[tokio::test]
async fn users_are_keyed_by_issuer_and_subject_not_by_email() {
    let s = scratch("ident_key").await;
    let (db, _) = s.dbs(2).await;
    let a = db
        .sign_in(&identity(
            "https://one.example",
            "sub-1",
            "same@example.com",
            true,
        ))
        .await
        .unwrap();
    let again = db
        .sign_in(&identity(
            "https://one.example",
            "sub-1",
            "same@example.com",
            true,
        ))
        .await
        .unwrap();
    let other_issuer = db
        .sign_in(&identity(
            "https://two.example",
            "sub-1",
            "same@example.com",
            true,
        ))
        .await
        .unwrap();
    assert_eq!(a, again, "same issuer and subject is the same user");
    assert_ne!(
        a, other_issuer,
        "the same email at another issuer is not silently merged"
    );

    // Every sign-in is an audited system-path act.
    let mut admin = s.admin().await;
    let audited: i64 = sqlx::query_scalar("SELECT count(*) FROM enclave.audit_log WHERE path = 'system' AND action = 'sign in with OpenID Connect'")
        .fetch_one(&mut admin).await.unwrap();
    assert_eq!(audited, 3);

    // A provider that shares no email is refused with a clear message.
    let mut no_email = identity("https://one.example", "sub-2", "x@example.com", false);
    no_email.email = None;
    rejected_with(db.sign_in(&no_email).await, "did not share an email");
}

#[tokio::test]
async fn user_context_sees_no_tenant_data_and_onboarding_makes_an_owner() {
    let (s, db, sys) = seeded("ident_onboard").await;
    let newcomer = user(&db, "https://idp.example", "new", "new@example.com").await;

    // Signed in but in no organization: tenant tables show nothing.
    let mut tx = db.begin_user(&newcomer).await.unwrap();
    for table in [
        "public.brand_guidelines",
        "agency.brand_guidelines",
        "public.memberships",
        "public.invitations",
        "agency.client_workspaces",
    ] {
        let n: i64 = tx
            .query_scalar(&format!("SELECT count(*) FROM {table}"))
            .fetch_one(tx.conn())
            .await
            .unwrap();
        assert_eq!(n, 0, "{table} visible in a user-only context");
    }
    let orgs: i64 = tx
        .query_scalar("SELECT count(*) FROM enclave.my_organizations()")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(orgs, 0);
    tx.commit().await.unwrap();

    let org = onboard(&db, &newcomer, "sme", "Northwind Coffee").await;
    let c = ctx(&db, &newcomer, org).await.unwrap();
    assert_eq!(c.role(), tenancy::Role::Owner);
    assert_eq!(c.org_kind(), tenancy::OrgKind::Sme);

    // The demo org already holds the slug "northwind-coffee": the new one got a suffix.
    let mut tx = db.begin(&c).await.unwrap();
    let slug: String = tx
        .query_scalar("SELECT slug FROM public.organizations WHERE id = $1")
        .bind(org)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert!(slug.starts_with("northwind-coffee-"), "slug {slug}");
    // Only their own organization is listed, though another org shares the name.
    let mine: Vec<Uuid> = tx
        .query_scalar("SELECT org_id FROM enclave.my_organizations()")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    assert_eq!(mine, vec![org]);
    tx.commit().await.unwrap();

    // A kind outside sme|agency and an empty name are refused in plain words.
    for (kind, name, words) in [
        ("enterprise", "X", "business (SME) or an agency"),
        ("sme", "  ", "needs a name"),
    ] {
        let mut tx = db.begin_user(&newcomer).await.unwrap();
        rejected_with(
            tx.query_scalar::<Uuid>("SELECT enclave.onboard_organization($1, $2)")
                .bind(kind)
                .bind(name)
                .fetch_one(tx.conn())
                .await
                .map_err(TenantError::from),
            words,
        );
    }

    // Creating an organization is in the audit log with who and which org.
    let mut admin = s.admin().await;
    let row = sqlx::query(
        "SELECT actor, org_id FROM enclave.audit_log WHERE action = 'create organization'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        row.get::<String, _>("actor"),
        newcomer.user_id().to_string()
    );
    assert_eq!(row.get::<Option<Uuid>, _>("org_id"), Some(org));
    drop(sys);
}

#[tokio::test]
async fn invitation_tokens_are_hashed_single_use_expiring_and_bound_to_email_and_org() {
    let s = scratch("ident_invite").await;
    let (db, _) = s.dbs(4).await;
    let owner = user(&db, "https://idp.example", "owner", "owner@example.com").await;
    let org = onboard(&db, &owner, "sme", "Acme").await;
    let other_owner = user(&db, "https://idp.example", "other", "other@example.com").await;
    let other_org = onboard(&db, &other_owner, "agency", "Other Agency").await;
    let invitee = user(&db, "https://idp.example", "bea", "bea@example.com").await;
    let stranger = user(&db, "https://idp.example", "carl", "carl@example.com").await;

    let (inv, secret) = invite(&db, &owner, org, "Bea@Example.com", false, "7 days")
        .await
        .unwrap();

    // Only the hash is stored: no column of the invitation or the outbox holds the secret.
    let mut admin = s.admin().await;
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT token_hash FROM public.invitations WHERE invitation_id = $1")
            .bind(inv)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert_eq!(stored, hash_secret(&secret));
    let leaks: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM public.invitations i WHERE strpos(i::text, $1) > 0)
              + (SELECT count(*) FROM public.mail_outbox o WHERE strpos(o::text, $1) > 0
                                                         OR strpos(encode(o.sealed_body, 'escape'), $1) > 0)")
        .bind(&secret).fetch_one(&mut admin).await.unwrap();
    assert_eq!(leaks, 0, "the invitation secret is stored in clear");

    // Wrong email: Carl's verified email is not the invited address.
    rejected_with(
        accept(&db, &stranger, org, inv, &secret).await,
        "was sent to bea@example.com",
    );
    // Wrong secret, and the right secret presented for another organization.
    rejected_with(
        accept(&db, &invitee, org, inv, "not-the-secret").await,
        "not valid",
    );
    rejected_with(
        accept(&db, &invitee, other_org, inv, &secret).await,
        "not valid",
    );
    assert!(
        ctx(&db, &invitee, other_org).await.is_err(),
        "a token for one org opened another"
    );

    // The right person joins, once.
    assert_eq!(accept(&db, &invitee, org, inv, &secret).await.unwrap(), org);
    let member = ctx(&db, &invitee, org).await.unwrap();
    assert_eq!(member.role(), tenancy::Role::Member);
    rejected_with(
        accept(&db, &invitee, org, inv, &secret).await,
        "already been used",
    );

    // Expired.
    let (old, old_secret) = invite(&db, &owner, org, "carl@example.com", false, "-1 minute")
        .await
        .unwrap();
    rejected_with(
        accept(&db, &stranger, org, old, &old_secret).await,
        "expired",
    );

    // The inviter's explicit override lets any signed-in address accept.
    let (open, open_secret) = invite(&db, &owner, org, "someone-else@example.com", true, "1 day")
        .await
        .unwrap();
    accept(&db, &stranger, org, open, &open_secret)
        .await
        .unwrap();

    // Members cannot invite.
    match invite(&db, &invitee, org, "dan@example.com", false, "1 day").await {
        Err(TenantError::Refused(words)) => {
            assert!(words.contains("only owners and admins"), "{words}")
        }
        other => panic!("a plain member invited someone: {other:?}"),
    }

    // Each step is audited with who and which organization.
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM enclave.audit_log WHERE org_id = $1 AND path = 'tenant' ORDER BY id",
    )
    .bind(org)
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        actions,
        [
            "create organization",
            "invite member",
            "accept invitation",
            "invite member",
            "invite member",
            "accept invitation"
        ]
    );
}

#[tokio::test]
async fn member_rules_last_owner_and_removal_takes_effect_at_once() {
    let s = scratch("ident_members").await;
    let (db, _) = s.dbs(4).await;
    let owner = user(&db, "https://idp.example", "o", "o@example.com").await;
    let org = onboard(&db, &owner, "sme", "Solo").await;
    let bea = user(&db, "https://idp.example", "b", "b@example.com").await;
    let (inv, secret) = invite(&db, &owner, org, "b@example.com", false, "1 day")
        .await
        .unwrap();
    accept(&db, &bea, org, inv, &secret).await.unwrap();

    async fn call(
        db: &TenantDb,
        c: &tenancy::TenantContext,
        sql: &str,
        user: Uuid,
    ) -> Result<(), TenantError> {
        let mut tx = db.begin(c).await?;
        tx.query(sql).bind(user).execute(tx.conn()).await?;
        tx.commit().await
    }
    let oc = ctx(&db, &owner, org).await.unwrap();
    let bc = ctx(&db, &bea, org).await.unwrap();

    // The last owner can neither leave nor be demoted.
    rejected_with(
        call(
            &db,
            &oc,
            "SELECT enclave.remove_member($1)",
            owner.user_id(),
        )
        .await,
        "at least one other owner",
    );
    rejected_with(
        call(
            &db,
            &oc,
            "SELECT enclave.change_member_role($1, 'admin')",
            owner.user_id(),
        )
        .await,
        "at least one other owner",
    );
    // A member cannot promote themselves or remove the owner.
    assert!(matches!(
        call(
            &db,
            &bc,
            "SELECT enclave.change_member_role($1, 'owner')",
            bea.user_id()
        )
        .await,
        Err(TenantError::Refused(_))
    ));
    assert!(matches!(
        call(
            &db,
            &bc,
            "SELECT enclave.remove_member($1)",
            owner.user_id()
        )
        .await,
        Err(TenantError::Refused(_))
    ));

    // With a second owner, the first may step down.
    call(
        &db,
        &oc,
        "SELECT enclave.change_member_role($1, 'owner')",
        bea.user_id(),
    )
    .await
    .unwrap();
    call(
        &db,
        &oc,
        "SELECT enclave.change_member_role($1, 'admin')",
        owner.user_id(),
    )
    .await
    .unwrap();

    // Removing a member: their very next context resolution is refused.
    let bc = ctx(&db, &bea, org).await.unwrap();
    call(
        &db,
        &bc,
        "SELECT enclave.remove_member($1)",
        owner.user_id(),
    )
    .await
    .unwrap();
    match ctx(&db, &owner, org).await {
        Err(TenantError::NoAccess(_)) => {}
        other => panic!("removed member still resolves: {other:?}"),
    }
}

#[tokio::test]
async fn sign_out_everywhere_deletes_every_session_of_that_user_only() {
    use tower_sessions::session::{Id, Record};
    use tower_sessions::SessionStore;
    let s = scratch("ident_sessions").await;
    let (db, _) = s.dbs(2).await;
    let pool = sqlx::PgPool::connect(&s.runtime_url).await.unwrap();
    let store = tenancy::Database::from_pool(pool.clone(), common::context_key()).session_store();
    let ana = user(&db, "https://idp.example", "ana", "ana@example.com").await;
    let ben = user(&db, "https://idp.example", "ben", "ben@example.com").await;
    let expiry = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
    let mut ids = Vec::new();
    for who in [&ana, &ana, &ben] {
        let mut data = std::collections::HashMap::new();
        data.insert(
            tenancy::SESSION_USER_KEY.to_string(),
            serde_json::json!({ "user_id": who.user_id() }),
        );
        let mut record = Record {
            id: Id::default(),
            data,
            expiry_date: expiry,
        };
        store.create(&mut record).await.unwrap();
        ids.push(record.id);
    }
    assert_eq!(db.sign_out_everywhere(&ana).await.unwrap(), 2);
    assert!(store.load(&ids[0]).await.unwrap().is_none());
    assert!(store.load(&ids[1]).await.unwrap().is_none());
    assert!(
        store.load(&ids[2]).await.unwrap().is_some(),
        "another user's session was deleted"
    );
}
