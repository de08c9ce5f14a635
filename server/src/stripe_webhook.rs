//! `POST /webhooks/stripe`: Stripe's deliveries, verified and written to the ledger
//! (`enclave.stripe_events`, migration 0014) before they are answered.
//!
//! The signature is checked here rather than with async-stripe's `Webhook::construct_event`
//! (see ARCHITECTURE "Billing"): that one keeps only the last `v1` of the header, takes a
//! single secret (a valid delivery fails while the secret is being rotated) and its
//! tolerance is hard-coded. This follows Stripe's documented scheme: HMAC-SHA256 of
//! `"{t}.{raw body}"` under each endpoint secret, compared in constant time against every
//! `v1` in the header, `t` within 300 seconds of now in either direction.
//!
//! Answers: 200 once recorded (a repeat too, so Stripe stops sending it); 400 for a
//! missing or bad signature, a stale timestamp or a body that is not an event, with
//! nothing stored; 413 past 1 MB; 503 when the database cannot record it, so Stripe
//! retries. Nothing the sender controls yields a 500.

use app::billing::processing::{StripeEventInput, StripeEventJob};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::sync::Arc;
use tenancy::{SystemDb, SystemQueue};

/// Largest delivery accepted (Stripe's events are a few kilobytes).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// How far `t` may be from now, either way.
pub const TOLERANCE_SECS: i64 = 300;

/// The endpoint secrets (`whsec_…`), more than one while rotating.
#[derive(Clone)]
pub struct WebhookSecrets(Vec<String>);

impl WebhookSecrets {
    /// `STRIPE_WEBHOOK_SECRET`: one or more secrets separated by commas.
    pub fn parse(list: &str) -> Option<Self> {
        let secrets: Vec<String> = list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect();
        (!secrets.is_empty()).then_some(Self(secrets))
    }
}

/// Why a delivery's signature was not accepted (logged; the sender gets 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureProblem {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header has no timestamp or no v1 signature")]
    Malformed,
    #[error("the signature's timestamp is {0} s away from now (tolerance {TOLERANCE_SECS} s)")]
    Stale(i64),
    #[error("no v1 signature matches any endpoint secret")]
    NoMatch,
}

/// Checks `header` (the `Stripe-Signature` value) for `payload` at time `now` (unix s).
pub fn verify(
    payload: &[u8],
    header: Option<&str>,
    secrets: &WebhookSecrets,
    now: i64,
) -> Result<(), SignatureProblem> {
    let header = header.ok_or(SignatureProblem::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            // A v1 that is not hex can never match: skip it, another may.
            Some(("v1", sig)) => signatures.extend(hex::decode(sig).ok()),
            _ => {}
        }
    }
    let t = timestamp.ok_or(SignatureProblem::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureProblem::Malformed);
    }
    let skew = now.saturating_sub(t);
    if skew.abs() > TOLERANCE_SECS {
        return Err(SignatureProblem::Stale(skew));
    }
    for secret in &secrets.0 {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes keys of any length");
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(payload);
        // `verify_slice` compares in constant time.
        if signatures
            .iter()
            .any(|sig| mac.clone().verify_slice(sig).is_ok())
        {
            return Ok(());
        }
    }
    Err(SignatureProblem::NoMatch)
}

use app::billing::processing::record_event;
pub use app::billing::processing::{envelope, EventEnvelope};

#[derive(Clone)]
struct WebhookState {
    secrets: WebhookSecrets,
    system: SystemDb,
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    processing: Option<SystemQueue<StripeEventJob>>,
}

/// The route, with the system path it records on. `clock` gives now in unix seconds
/// (the tests move it).
pub fn router<S: Clone + Send + Sync + 'static>(
    secrets: WebhookSecrets,
    system: SystemDb,
    clock: Arc<dyn Fn() -> i64 + Send + Sync>,
    processing: Option<SystemQueue<StripeEventJob>>,
) -> Router<S> {
    Router::new()
        .route("/webhooks/stripe", post(receive))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(WebhookState {
            secrets,
            system,
            clock,
            processing,
        })
}

fn answer(status: StatusCode, what: &str) -> Response {
    (status, Json(serde_json::json!({ "error": what }))).into_response()
}

async fn receive(State(state): State<WebhookState>, headers: HeaderMap, body: Bytes) -> Response {
    let signature = headers
        .get("stripe-signature")
        .and_then(|v| v.to_str().ok());
    if let Err(problem) = verify(&body, signature, &state.secrets, (state.clock)()) {
        tracing::warn!(%problem, bytes = body.len(), "Stripe webhook refused");
        return answer(StatusCode::BAD_REQUEST, "signature not accepted");
    }
    let Ok(payload) = serde_json::from_slice::<serde_json::Value>(&body) else {
        tracing::warn!(bytes = body.len(), "signed Stripe webhook is not JSON");
        return answer(StatusCode::BAD_REQUEST, "body is not a JSON event");
    };
    let Some(event) = envelope(&payload) else {
        tracing::warn!("signed Stripe webhook is not an event");
        return answer(StatusCode::BAD_REQUEST, "body is not an event");
    };
    match record(&state.system, &event, payload).await {
        Ok((new, deliveries)) => {
            tracing::info!(event_id = %event.id, event_type = %event.event_type, new, deliveries, "Stripe event recorded");
            if let (true, Some(queue)) = (new, &state.processing) {
                // Recorded is what Stripe needs to hear; a lost job is picked up by the
                // minute's sweep, which finds the row still `received`.
                let input = StripeEventInput {
                    event_id: event.id.clone(),
                };
                if let Err(e) = queue.enqueue(input).await {
                    tracing::warn!(event_id = %event.id, error = %e, "Stripe event recorded but not queued; the sweep will process it");
                }
            }
            (
                StatusCode::OK,
                Json(serde_json::json!({ "received": true, "duplicate": !new })),
            )
                .into_response()
        }
        Err(e) => {
            let request_id = app::error::new_request_id();
            tracing::error!(%request_id, event_id = %event.id, error = %e, "Stripe event could not be recorded; Stripe will retry");
            answer(
                StatusCode::SERVICE_UNAVAILABLE,
                "could not record the event; retry",
            )
        }
    }
}

async fn record(
    system: &SystemDb,
    event: &EventEnvelope,
    payload: serde_json::Value,
) -> Result<(bool, i32), tenancy::TenantError> {
    let mut tx = system
        .begin(
            "stripe-webhook",
            "record a Stripe event",
            serde_json::json!({ "event_id": event.id, "type": event.event_type }),
        )
        .await?;
    let recorded = record_event(&mut tx, event, &payload).await?;
    tx.commit().await?;
    Ok(recorded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, payload: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(payload);
        hex::encode(mac.finalize().into_bytes())
    }

    #[test]
    fn signatures_follow_stripes_scheme() {
        let secrets = WebhookSecrets::parse("whsec_old, whsec_new").unwrap();
        let body = br#"{"id":"evt_1"}"#;
        let now = 1_800_000_000;
        let good = sign("whsec_new", now, body);
        let header = format!("t={now},v1={good}");
        assert_eq!(verify(body, Some(&header), &secrets, now), Ok(()));
        // The old secret still works while rotating.
        let old = format!("t={now},v1={}", sign("whsec_old", now, body));
        assert_eq!(verify(body, Some(&old), &secrets, now), Ok(()));
        // Any v1 may match (Stripe sends one per active secret), v0 is ignored.
        let several = format!("t={now},v1={},v1={good},v0=abc", "00".repeat(32));
        assert_eq!(verify(body, Some(&several), &secrets, now), Ok(()));
        // Tampered body, wrong secret, no v1, no t, garbage.
        assert_eq!(
            verify(br#"{"id":"evt_2"}"#, Some(&header), &secrets, now),
            Err(SignatureProblem::NoMatch)
        );
        let wrong = format!("t={now},v1={}", sign("whsec_other", now, body));
        assert_eq!(
            verify(body, Some(&wrong), &secrets, now),
            Err(SignatureProblem::NoMatch)
        );
        assert_eq!(
            verify(body, Some(&format!("t={now}")), &secrets, now),
            Err(SignatureProblem::Malformed)
        );
        assert_eq!(
            verify(body, Some(&format!("v1={good}")), &secrets, now),
            Err(SignatureProblem::Malformed)
        );
        assert_eq!(
            verify(body, Some("garbage"), &secrets, now),
            Err(SignatureProblem::Malformed)
        );
        assert_eq!(
            verify(body, None, &secrets, now),
            Err(SignatureProblem::Missing)
        );
        // 300 s either side, not more.
        assert_eq!(verify(body, Some(&header), &secrets, now + 300), Ok(()));
        assert_eq!(verify(body, Some(&header), &secrets, now - 300), Ok(()));
        assert_eq!(
            verify(body, Some(&header), &secrets, now + 301),
            Err(SignatureProblem::Stale(301))
        );
        assert_eq!(
            verify(body, Some(&header), &secrets, now - 301),
            Err(SignatureProblem::Stale(-301))
        );
        assert!(WebhookSecrets::parse(" , ").is_none());
    }

    #[test]
    fn the_envelope_is_read_whatever_the_object() {
        let event = serde_json::json!({
            "id": "evt_1", "type": "customer.subscription.updated", "api_version": "2023-10-16",
            "livemode": false, "created": 1_800_000_000,
            "data": { "object": { "id": "sub_1", "object": "subscription", "customer": "cus_1" } }
        });
        let e = envelope(&event).unwrap();
        assert_eq!(
            (
                e.object_id.as_deref(),
                e.customer_id.as_deref(),
                e.created.unix_timestamp()
            ),
            (Some("sub_1"), Some("cus_1"), 1_800_000_000)
        );
        let customer = serde_json::json!({
            "id": "evt_2", "type": "customer.created", "livemode": false, "created": 1,
            "data": { "object": { "id": "cus_9", "object": "customer" } }
        });
        assert_eq!(
            envelope(&customer).unwrap().customer_id.as_deref(),
            Some("cus_9")
        );
        let future_type = serde_json::json!({
            "id": "evt_3", "type": "v2.something.new", "livemode": true, "created": 2,
            "data": { "object": { "id": "thing_1", "object": "brand_new_object", "customer": { "id": "cus_2" } } }
        });
        assert_eq!(
            envelope(&future_type).unwrap().customer_id.as_deref(),
            Some("cus_2")
        );
        assert!(envelope(&serde_json::json!({ "id": "evt_4" })).is_none());
        // A time that cannot be a date is refused here (400), not by the database (503).
        let mut absurd = event.clone();
        absurd["created"] = serde_json::json!(i64::MAX);
        assert!(envelope(&absurd).is_none());
        assert!(envelope(&serde_json::json!({ "id": "nope", "type": "x", "livemode": false, "created": 1, "data": { "object": {} } })).is_none());
    }
}
