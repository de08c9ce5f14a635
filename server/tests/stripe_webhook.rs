//! `POST /webhooks/stripe` against a real database: verified deliveries land in the
//! ledger once per event id (repeats, also concurrent ones, only counted); anything the
//! sender gets wrong is a 4xx with nothing stored; a database that cannot record the
//! event answers 503 so Stripe retries; the ledger is closed to the runtime role outside
//! the audited system path.
mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use enclave_server::stripe_webhook::{self, WebhookSecrets, MAX_BODY_BYTES};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use sqlx::Connection;
use std::sync::Arc;
use tower::ServiceExt;

const NOW: i64 = 1_800_000_000;
const SECRET: &str = "whsec_test_secret";

fn app(system: tenancy::SystemDb) -> axum::Router {
    stripe_webhook::router(
        WebhookSecrets::parse(&format!("whsec_retired,{SECRET}")).unwrap(),
        system,
        Arc::new(|| NOW),
        None,
    )
}

fn event(id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "id": id, "object": "event", "type": "customer.subscription.updated",
        "api_version": "2023-10-16", "livemode": false, "created": NOW - 5,
        "data": { "object": { "id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active" } }
    }))
    .unwrap()
}

fn signed(body: Vec<u8>, t: i64, secret: &str) -> Request<Body> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&body);
    let signature = hex::encode(mac.finalize().into_bytes());
    Request::post("/webhooks/stripe")
        .header("content-type", "application/json")
        .header("stripe-signature", format!("t={t},v1={signature}"))
        .body(Body::from(body))
        .unwrap()
}

async fn send(app: &axum::Router, request: Request<Body>) -> (StatusCode, serde_json::Value) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
    )
}

async fn ledger(s: &Scratch) -> Vec<(String, i32, String)> {
    let mut admin = s.admin().await;
    sqlx::query_as(
        "SELECT event_id, delivery_count, status FROM enclave.stripe_events ORDER BY event_id",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_delivery_is_recorded_once_and_repeats_are_only_counted() {
    let s = scratch("whledger").await;
    let (_db, system) = s.dbs(12).await;
    let app = app(system);
    let (status, answer) = send(&app, signed(event("evt_once"), NOW, SECRET)).await;
    assert_eq!(
        (status, answer["duplicate"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let (status, answer) = send(&app, signed(event("evt_once"), NOW, SECRET)).await;
    assert_eq!(
        (status, answer["duplicate"].as_bool()),
        (StatusCode::OK, Some(true))
    );

    // Ten deliveries of a new event at once: exactly one is new.
    let sends = (0..10).map(|_| send(&app, signed(event("evt_burst"), NOW, SECRET)));
    let answers = futures::future::join_all(sends).await;
    assert!(answers.iter().all(|(s, _)| *s == StatusCode::OK));
    let new = answers
        .iter()
        .filter(|(_, a)| a["duplicate"] == false)
        .count();
    assert_eq!(new, 1, "{answers:?}");
    assert_eq!(
        ledger(&s).await,
        vec![
            ("evt_burst".into(), 10, "received".into()),
            ("evt_once".into(), 2, "received".into())
        ]
    );
    // Each recording is an audited use of the system path.
    let mut admin = s.admin().await;
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM enclave.audit_log WHERE path = 'system' AND actor = 'stripe-webhook'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(audited, 12);
}

#[tokio::test]
async fn what_the_sender_gets_wrong_is_a_4xx_and_nothing_is_stored() {
    let s = scratch("whreject").await;
    let (_db, system) = s.dbs(4).await;
    let app = app(system);
    let cases = [
        (
            "wrong secret",
            signed(event("evt_a"), NOW, "whsec_other"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "stale",
            signed(event("evt_b"), NOW - 301, SECRET),
            StatusCode::BAD_REQUEST,
        ),
        (
            "from the future",
            signed(event("evt_c"), NOW + 301, SECRET),
            StatusCode::BAD_REQUEST,
        ),
        (
            "not JSON",
            signed(b"{not json".to_vec(), NOW, SECRET),
            StatusCode::BAD_REQUEST,
        ),
        (
            "not an event",
            signed(br#"{"id":"evt_d"}"#.to_vec(), NOW, SECRET),
            StatusCode::BAD_REQUEST,
        ),
        (
            "too large",
            signed(vec![b' '; MAX_BODY_BYTES + 1], NOW, SECRET),
            StatusCode::PAYLOAD_TOO_LARGE,
        ),
        (
            "unsigned",
            Request::post("/webhooks/stripe")
                .body(Body::from(event("evt_e")))
                .unwrap(),
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (what, request, expected) in cases {
        let (status, _) = send(&app, request).await;
        assert_eq!(status, expected, "{what}");
    }
    assert!(ledger(&s).await.is_empty());
    // The retired secret still verifies while it is listed.
    let (status, _) = send(&app, signed(event("evt_rotated"), NOW, "whsec_retired")).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_database_that_cannot_record_answers_503_so_stripe_retries() {
    let s = scratch("whdown").await;
    let (_db, system) = s.dbs(2).await;
    let app = app(system);
    let mut admin = sqlx::PgConnection::connect(&admin_url()).await.unwrap();
    sqlx::query(&format!("DROP DATABASE \"{}\" WITH (FORCE)", s.name))
        .execute(&mut admin)
        .await
        .unwrap();
    let (status, _) = send(&app, signed(event("evt_lost"), NOW, SECRET)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn the_ledger_is_closed_to_the_runtime_role_outside_the_system_path() {
    let s = scratch("whclosed").await;
    let (_db, system) = s.dbs(2).await;
    let (status, _) = send(&app(system), signed(event("evt_secret"), NOW, SECRET)).await;
    assert_eq!(status, StatusCode::OK);
    let mut rt = s.runtime().await;
    // Processing (migration 0016) reads the ledger and moves its status on the system
    // path; outside it, row level security shows and changes nothing, and the recorded
    // delivery itself can never be rewritten.
    let read: i64 = sqlx::query_scalar("SELECT count(*) FROM enclave.stripe_events")
        .fetch_one(&mut rt)
        .await
        .unwrap();
    assert_eq!(
        read, 0,
        "the runtime role saw the ledger outside the system path"
    );
    let moved = sqlx::query("UPDATE enclave.stripe_events SET status = 'processed'")
        .execute(&mut rt)
        .await
        .unwrap()
        .rows_affected();
    assert_eq!(
        moved, 0,
        "the runtime role changed the ledger outside the system path"
    );
    let rewrite = sqlx::query("UPDATE enclave.stripe_events SET payload = '{}'")
        .execute(&mut rt)
        .await;
    assert!(
        rewrite.is_err(),
        "the runtime role may rewrite a recorded payload"
    );
    let write = sqlx::query(
        "SELECT enclave.record_stripe_event('evt_forged', 'x', NULL, false, NULL, NULL, now(), '{}')",
    )
    .execute(&mut rt)
    .await;
    let error = write.unwrap_err().to_string();
    assert!(error.contains("only on the audited system path"), "{error}");
    assert_eq!(ledger(&s).await.len(), 1);
}
