//! Hardening of identity and sessions (issue 15, items 5, 7, 9 and 12): sessions that
//! "sign out of all devices" ended stay ended whatever a request in flight does; idle
//! expiry counts from the last request; only verified addresses identify people; the
//! database caps invitations per organization per day; a long organization name does not
//! stop an invitation; database internals never reach the person.
mod common;

use app::error::AppError;
use app::session::{SessionUser, IDLE_LIFETIME_SECS};
use common::*;
use leptos::prelude::{provide_context, Owner};
use leptos::reactive::computed::ScopedFuture;
use leptos_axum::ResponseOptions;
use std::sync::Arc;
use tenancy::{TenantDb, VerifiedIdentity, SESSION_USER_KEY};
use tower_sessions::session::Id;
use tower_sessions::{Expiry, Session, SessionStore};
use uuid::Uuid;

/// The tenant door and the session store, on one pool (as `serve` has them).
async fn db_and_store(s: &Scratch) -> (TenantDb, tenancy::IndexedSessionStore) {
    let database =
        tenancy::Database::connect(&s.runtime_url, Default::default(), common::context_key())
            .await
            .unwrap();
    let store = database.session_store();
    (database.split().0, store)
}

fn idle() -> Option<Expiry> {
    Some(Expiry::OnInactivity(
        tower_sessions::cookie::time::Duration::seconds(IDLE_LIFETIME_SECS),
    ))
}

/// What the session layer does at the end of a request: save when modified.
async fn end_request(session: &Session) {
    if session.is_modified() {
        session.save().await.unwrap();
    }
}

/// A signed-in session on a device; returns its id.
async fn device(store: &tenancy::IndexedSessionStore, user: Uuid) -> Id {
    let session = Session::new(None, Arc::new(store.clone()), idle());
    app::session::begin(&session, user).await.unwrap();
    session.save().await.unwrap();
    session.id().unwrap()
}

#[tokio::test]
async fn signing_out_everywhere_is_not_undone_by_a_request_in_flight() {
    let s = scratch("signout").await;
    let (db, store) = db_and_store(&s).await;
    let user = user(&db, "https://id.example", "race", "race@example.com").await;
    let (laptop, phone) = (
        device(&store, user.user_id()).await,
        device(&store, user.user_id()).await,
    );

    // A request on the laptop has loaded its session when the phone signs out everywhere.
    let in_flight = Session::new(Some(laptop), Arc::new(store.clone()), idle());
    let seen = in_flight
        .get::<SessionUser>(SESSION_USER_KEY)
        .await
        .unwrap();
    assert!(seen.is_some(), "the laptop was signed in");
    let ended = db.sign_out_everywhere(&user).await.unwrap();
    assert_eq!(ended, 2);

    // The laptop's request then changes its session and ends (the session layer saves).
    in_flight
        .insert("enclave.note", "changed in flight")
        .await
        .unwrap();
    end_request(&in_flight).await;

    for id in [laptop, phone] {
        assert!(
            store.load(&id).await.unwrap().is_none(),
            "session {id} came back"
        );
        let next = Session::new(Some(id), Arc::new(store.clone()), idle());
        assert!(app::session::signed_in(&next).await.unwrap().is_none());
    }
}

#[tokio::test]
async fn idle_expiry_counts_from_the_last_request_not_the_last_change() {
    let s = scratch("idle").await;
    let (db, store) = db_and_store(&s).await;
    let user = user(&db, "https://id.example", "idle", "idle@example.com").await;
    let id = device(&store, user.user_id()).await;
    let now = app::session::now_unix();

    // Two hours ago the session last changed; requests have come since (they read it).
    let earlier = Session::new(Some(id), Arc::new(store.clone()), idle());
    earlier
        .insert(
            SESSION_USER_KEY,
            SessionUser {
                user_id: user.user_id(),
                signed_in_at: now - 7200,
                seen_at: now - 7200,
                admin: false,
            },
        )
        .await
        .unwrap();
    end_request(&earlier).await;
    let mut admin = s.admin().await;
    sqlx::query(
        "UPDATE tower_sessions.session SET expiry_date = now() + interval '6 hours' WHERE id = $1",
    )
    .bind(id.to_string())
    .execute(&mut admin)
    .await
    .unwrap();

    // A request now, which changes nothing, still renews the expiry from now.
    let request = Session::new(Some(id), Arc::new(store.clone()), idle());
    assert!(app::session::signed_in(&request).await.unwrap().is_some());
    end_request(&request).await;
    let left: f64 = sqlx::query_scalar(
        "SELECT extract(epoch FROM expiry_date - now())::float8 FROM tower_sessions.session WHERE id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(
        left > (IDLE_LIFETIME_SECS - 120) as f64,
        "idle expiry not renewed: {left} s left"
    );

    // Nine hours without a request end the session, whatever the store's date says.
    let stale = Session::new(Some(id), Arc::new(store.clone()), idle());
    stale
        .insert(
            SESSION_USER_KEY,
            SessionUser {
                user_id: user.user_id(),
                signed_in_at: now - 9 * 3600,
                seen_at: now - 9 * 3600 + 1,
                admin: false,
            },
        )
        .await
        .unwrap();
    // (signed in nine hours ago, seen once right after: within the absolute lifetime)
    end_request(&stale).await;
    let next = Session::new(Some(id), Arc::new(store.clone()), idle());
    assert!(
        app::session::signed_in(&next).await.unwrap().is_none(),
        "an idle session stayed signed in"
    );
}

#[tokio::test]
async fn only_verified_addresses_identify_people() {
    let s = scratch("verified").await;
    let (db, sys) = s.dbs(4).await;
    let owner = user(&db, "https://id.example", "owner", "owner@example.com").await;
    let org = onboard(&db, &owner, "sme", "Verified Co").await;
    // Seats per member: this test is about addresses, not the plan's seat limit.
    grant_plan(&sys, org, "sme_team").await;

    // A member whose provider vouches for their address.
    let member = db
        .sign_in(&identity(
            "https://id.example",
            "m1",
            "mia@example.com",
            true,
        ))
        .await
        .unwrap();
    // The same identity signs in later with an unverified claim of someone else's address.
    db.sign_in(&identity(
        "https://id.example",
        "m1",
        "boss@example.com",
        false,
    ))
    .await
    .unwrap();
    let resolved = db.resolve_user(member).await.unwrap();
    assert_eq!(
        resolved.email(),
        "mia@example.com",
        "an unverified address replaced a verified one"
    );

    // A new person whose address is unverified: listed without it, and it matches nobody.
    let unverified = db
        .sign_in(&identity(
            "https://id.example",
            "u1",
            "carol@example.com",
            false,
        ))
        .await
        .unwrap();
    let mut admin = s.admin().await;
    for user in [member, unverified] {
        sqlx::query(
            "INSERT INTO public.memberships (org_id, user_id, role) VALUES ($1, $2, 'member')",
        )
        .bind(org)
        .bind(user)
        .execute(&mut admin)
        .await
        .unwrap();
    }
    let c = context(&db, owner.user_id(), org, None).await;
    let mut tx = db.begin(&c).await.unwrap();
    let listed: Vec<(Uuid, Option<String>)> = tx
        .query_as("SELECT user_id, email FROM enclave.list_members()")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let email_of = |u: Uuid| listed.iter().find(|(id, _)| *id == u).unwrap().1.clone();
    assert_eq!(email_of(member).as_deref(), Some("mia@example.com"));
    assert_eq!(
        email_of(unverified),
        None,
        "an unverified address was shown as the member's"
    );

    // Inviting carol@ is not refused as "already a member": nobody verified that address.
    let token = app::members::token::new_token();
    let mut tx = db.begin(&c).await.unwrap();
    let invited = tx
        .query_scalar::<Uuid>("SELECT enclave.invite_member($1, 'carol@example.com', 'member', $2, false, interval '7 days', 'Invitation', $3)")
        .bind(Uuid::new_v4())
        .bind(&token.hash)
        .bind(b"sealed".to_vec())
        .fetch_one(tx.conn())
        .await;
    assert!(invited.is_ok(), "{invited:?}");
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn invitations_are_capped_per_organization_per_day_in_the_database() {
    let s = scratch("invquota").await;
    let (db, sys) = s.dbs(4).await;
    let owner = user(&db, "https://id.example", "quota", "quota@example.com").await;
    let org = onboard(&db, &owner, "sme", "Quota Co").await;
    // Seats per member, so the daily cap (not the plan's seats) is what stops invitations.
    grant_plan(&sys, org, "sme_team").await;
    let c = context(&db, owner.user_id(), org, None).await;
    let mut refused = None;
    for i in 0..101 {
        let token = app::members::token::new_token();
        let mut tx = db.begin(&c).await.unwrap();
        let result = tx
            .query_scalar::<Uuid>("SELECT enclave.invite_member($1, $2, 'member', $3, false, interval '7 days', 'Invitation', $4)")
            .bind(Uuid::new_v4())
            .bind(format!("person{i}@example.com"))
            .bind(&token.hash)
            .bind(b"sealed".to_vec())
            .fetch_one(tx.conn())
            .await;
        match result {
            Ok(_) => tx.commit().await.unwrap(),
            Err(e) => {
                refused = Some((i, tenancy::TenantError::from(e)));
                break;
            }
        }
    }
    let (at, error) = refused.expect("the 101st invitation of the day was accepted");
    assert_eq!(at, 100);
    match error {
        tenancy::TenantError::Rejected(words) => assert!(
            words.contains("100 invitations in the last 24 hours"),
            "{words}"
        ),
        other => panic!("refused with {other:?}"),
    }
}

/// Runs a server function as the session's user, the way the Leptos integration does.
async fn call<T, Fut>(
    db: &TenantDb,
    session: &Session,
    call: impl FnOnce() -> Fut,
) -> Result<T, AppError>
where
    Fut: std::future::Future<Output = Result<T, AppError>>,
{
    let owner = Owner::new();
    let mut request = axum::http::Request::new(());
    request.extensions_mut().insert(session.clone());
    let (parts, ()) = request.into_parts();
    owner.with(|| {
        provide_context(db.clone());
        provide_context(parts);
        provide_context(ResponseOptions::default());
        provide_context(app::ServerEnv {
            environment: "development".into(),
            public_url: "http://127.0.0.1:3000".into(),
        });
        provide_context(vault::Vault::new(
            vault::KeySet::parse(&format!("test:{}", "ab".repeat(32))).unwrap(),
        ));
    });
    let fut = owner.with(|| ScopedFuture::new(call()));
    fut.await
}

#[tokio::test]
async fn long_names_do_not_stop_an_invitation_and_internals_stay_in_the_log() {
    let s = scratch("longname").await;
    let (db, store) = db_and_store(&s).await;
    let owner = db
        .sign_in(&VerifiedIdentity {
            name: Some("N".repeat(200)),
            ..identity("https://id.example", "long", "long@example.com", true)
        })
        .await
        .unwrap();
    let owner = db.resolve_user(owner).await.unwrap();
    let org = onboard(&db, &owner, "sme", &"Ö".repeat(200)).await;
    let session = Session::new(None, Arc::new(store.clone()), idle());
    app::session::begin(&session, owner.user_id())
        .await
        .unwrap();
    app::session::enter_organization(&db, &session, owner.user_id(), org)
        .await
        .unwrap();

    let created = call(&db, &session, || {
        app::members::invite_member("new@example.com".into(), "member".into(), None)
    })
    .await;
    assert!(
        created.is_ok(),
        "the invitation could not be sent: {created:?}"
    );

    // A value PostgreSQL itself refuses (a NUL character cannot be stored in text) is
    // answered in plain words with a reference, never with the database's text.
    let refused = call(&db, &session, || {
        app::campaigns::add_campaign(
            None,
            "Nul\u{0}name".into(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        )
    })
    .await
    .unwrap_err();
    let words = refused.to_string();
    assert!(matches!(refused, AppError::Invalid(_)), "{refused:?}");
    assert!(words.contains("reference"), "{words}");
    for internal in [
        "0x00",
        "UTF8",
        "encoding",
        "violates",
        "constraint",
        "relation",
        "enclave.",
    ] {
        assert!(
            !words.contains(internal),
            "database text reached the person: {words}"
        );
    }
}
