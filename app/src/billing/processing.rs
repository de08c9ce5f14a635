//! Processing the ledger of Stripe events (docs/BILLING.md, "The rule that makes order
//! and repeats harmless"): an event is only a reason to look. Processing fetches the
//! customer's subscriptions from Stripe and writes that state with
//! `enclave.apply_subscription`, under a lock per customer, on the audited system path.
//! So a repeat, a reversed order, two events in one second or an invoice before its
//! checkout all end in Stripe's current state, and a canceled subscription is never
//! revived by an older event.

use super::stripe_api::{deciding_subscription, StripeApi, StripeCallError, API_VERSION};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tenancy::{JobFailure, JobKind, SystemJob, SystemJobTx, SystemPath, SystemPathTx};
use uuid::Uuid;

/// A parked event (its customer is not known yet) is tried again after this many
/// seconds, doubled per attempt, for up to [`PARKED_FOR_DAYS`].
const PARK_FIRST_RETRY_SECS: i64 = 30;
const PARK_MAX_RETRY_SECS: i64 = 3600;
const PARKED_FOR_DAYS: i64 = 3;

/// The parts of an event the ledger keeps apart from the payload.
#[derive(Debug, Clone, PartialEq)]
pub struct EventEnvelope {
    pub id: String,
    pub event_type: String,
    pub api_version: Option<String>,
    pub livemode: bool,
    /// Stripe's time of the event; an event whose time cannot be a date is no event.
    pub created: time::OffsetDateTime,
    pub object_id: Option<String>,
    pub customer_id: Option<String>,
}

/// Reads the envelope from the raw JSON, whatever the object type (async-stripe's
/// `EventObject` has no catch-all variant, so newer object types would not parse).
pub fn envelope(payload: &serde_json::Value) -> Option<EventEnvelope> {
    let text = |v: &serde_json::Value| v.as_str().map(str::to_string);
    let object = payload.get("data")?.get("object")?;
    let id = text(payload.get("id")?)?;
    if !id.starts_with("evt_") || id.len() > 254 {
        return None;
    }
    // The customer is the object itself for customer events, else the object's field.
    let customer = match object.get("object").and_then(|o| o.as_str()) {
        Some("customer") => object.get("id").and_then(text),
        _ => object
            .get("customer")
            .and_then(|c| text(c).or_else(|| c.get("id").and_then(text))),
    };
    Some(EventEnvelope {
        id,
        event_type: text(payload.get("type")?)?,
        api_version: payload.get("api_version").and_then(text),
        livemode: payload.get("livemode")?.as_bool()?,
        created: time::OffsetDateTime::from_unix_timestamp(payload.get("created")?.as_i64()?)
            .ok()?,
        object_id: object.get("id").and_then(text),
        customer_id: customer,
    })
}

/// Records one delivery in the ledger (`enclave.record_stripe_event`): whether it was new
/// (to be processed) and how many times it has arrived. The webhook, after checking the
/// signature, and reconciliation, for events Stripe could not deliver, both record here.
pub async fn record_event(
    tx: &mut impl SystemPathTx,
    event: &EventEnvelope,
    payload: &serde_json::Value,
) -> Result<(bool, i32), sqlx::Error> {
    tx.query_as("SELECT o_new, o_delivery_count FROM enclave.record_stripe_event($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&event.id)
        .bind(&event.event_type)
        .bind(&event.api_version)
        .bind(event.livemode)
        .bind(&event.object_id)
        .bind(&event.customer_id)
        .bind(event.created)
        .bind(payload)
        .fetch_one(tx.conn())
        .await
}

/// What processing did with a customer's pending events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Outcome {
    /// The customer's state was fetched and written.
    Applied {
        org_id: Uuid,
        status: String,
        plan: String,
    },
    /// The customer has no subscription yet: nothing to write.
    NoSubscription { org_id: Uuid },
    /// No organization is known for the customer yet; tried again later.
    Parked,
    /// The event is not about a subscription's state, or names no customer.
    Ignored,
    /// Processed before (a repeat, or the customer's state was written since).
    AlreadyDone,
    /// Something needs a person (recorded on the events as `dead` with the reason).
    Dead(String),
}

/// Event types whose arrival means a customer's subscription state may have changed.
pub fn concerns_subscription(event_type: &str) -> bool {
    event_type.starts_with("customer.subscription.")
        || event_type.starts_with("checkout.session.")
        || event_type.starts_with("invoice.")
}

/// Stripe's status as the database keeps it: ended ones as canceled, unpaid as past due.
pub fn local_status(stripe_status: &str) -> &'static str {
    match stripe_status {
        "trialing" => "trialing",
        "active" => "active",
        "past_due" | "unpaid" => "past_due",
        "incomplete" => "incomplete",
        _ => "canceled",
    }
}

/// Why a customer could not be synced now.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// Stripe could not be asked (down, slow, rate limiting): try again later.
    #[error("Stripe could not be asked for the current state; trying again ({0})")]
    StripeUnavailable(StripeCallError),
    /// The database failed, or the ledger row is missing.
    #[error(transparent)]
    Job(#[from] JobFailure),
}

impl From<sqlx::Error> for SyncError {
    fn from(e: sqlx::Error) -> Self {
        SyncError::Job(e.into())
    }
}

impl From<SyncError> for JobFailure {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::StripeUnavailable(_) => JobFailure::Retry(e.to_string()),
            SyncError::Job(failure) => failure,
        }
    }
}

/// Takes the customer's transaction lock; returns the moment after which events are not
/// covered by a fetch made from now on.
pub async fn lock_customer(
    tx: &mut impl SystemPathTx,
    customer: &str,
) -> Result<time::OffsetDateTime, SyncError> {
    tx.query("SELECT pg_advisory_xact_lock(7235016, hashtext($1))")
        .bind(customer)
        .execute(tx.conn())
        .await?;
    Ok(tx
        .query_scalar("SELECT clock_timestamp()")
        .fetch_one(tx.conn())
        .await?)
}

/// Processes one ledger row (and, with it, every pending row of its customer).
pub async fn process_event(
    tx: &mut impl SystemPathTx,
    stripe: &StripeApi,
    event_id: &str,
) -> Result<Outcome, SyncError> {
    let row: Option<(String, Option<String>, String, Option<String>)> = tx
        .query_as(
            "SELECT event_type, customer_id, status, api_version FROM enclave.stripe_events WHERE event_id = $1",
        )
        .bind(event_id)
        .fetch_optional(tx.conn())
        .await?;
    let Some((event_type, customer, status, api_version)) = row else {
        return Err(JobFailure::Stop(format!("no Stripe event {event_id} in the ledger")).into());
    };
    if !matches!(status.as_str(), "received" | "parked") {
        return Ok(Outcome::AlreadyDone);
    }
    if api_version.as_deref().is_some_and(|v| v != API_VERSION) {
        // Harmless here (the payload is never read), but the endpoint should be moved.
        tracing::warn!(%event_id, api_version = ?api_version, expected = API_VERSION,
            "Stripe event rendered in another API version; set the webhook endpoint's version");
    }
    let Some(customer) = customer.filter(|_| concerns_subscription(&event_type)) else {
        tx.query(
            "UPDATE enclave.stripe_events SET status = 'ignored', processed_at = clock_timestamp(),
                    attempts = attempts + 1, next_attempt_at = NULL
              WHERE event_id = $1",
        )
        .bind(event_id)
        .execute(tx.conn())
        .await?;
        return Ok(Outcome::Ignored);
    };
    sync_customer(tx, stripe, &customer).await
}

/// Fetches one customer's subscriptions from Stripe and writes the deciding one; then
/// settles the customer's events received before the fetch began. Serialized per
/// customer by a transaction lock, so two workers never interleave one organization.
pub async fn sync_customer(
    tx: &mut impl SystemPathTx,
    stripe: &StripeApi,
    customer: &str,
) -> Result<Outcome, SyncError> {
    let fetch_began = lock_customer(tx, customer).await?;
    let org: Option<Uuid> = tx
        .query_scalar("SELECT enclave.billing_org_of_customer($1)")
        .bind(customer)
        .fetch_one(tx.conn())
        .await?;
    let Some(org_id) = org else {
        park(tx, customer, fetch_began).await?;
        return Ok(Outcome::Parked);
    };
    write_fetched_state(tx, stripe, customer, org_id, fetch_began).await
}

/// Writes the customer's current state for `org_id` (which reconciliation may know from
/// the customer's metadata before the database does); the caller holds the customer's
/// lock. Settles the customer's events received before `fetch_began`.
pub async fn write_fetched_state(
    tx: &mut impl SystemPathTx,
    stripe: &StripeApi,
    customer: &str,
    org_id: Uuid,
    fetch_began: time::OffsetDateTime,
) -> Result<Outcome, SyncError> {
    let subscriptions = match stripe.subscriptions_of(customer).await {
        Ok(s) => s,
        Err(e) if e.is_transient() => return Err(SyncError::StripeUnavailable(e)),
        Err(e) => {
            let reason = format!("fetching the customer's subscriptions failed: {e}");
            settle(tx, customer, fetch_began, "dead", Some(&reason)).await?;
            return Ok(Outcome::Dead(reason));
        }
    };
    let Some(current) = deciding_subscription(&subscriptions) else {
        settle(tx, customer, fetch_began, "processed", None).await?;
        return Ok(Outcome::NoSubscription { org_id });
    };
    let Some(plan) = current
        .price_id
        .as_deref()
        .and_then(|price| stripe.prices.plan_of(price))
    else {
        let reason = format!(
            "subscription {} bills price {:?}, which ENCLAVE_STRIPE_PRICES does not name",
            current.id, current.price_id
        );
        settle(tx, customer, fetch_began, "dead", Some(&reason)).await?;
        return Ok(Outcome::Dead(reason));
    };
    let status = local_status(&current.status);
    // A refusal must not poison the transaction: the events are then settled as dead in
    // it, and the sweep's or reconciliation's other customers go on.
    tx.query("SAVEPOINT apply_subscription")
        .execute(tx.conn())
        .await?;
    let applied = tx
        .query("SELECT enclave.apply_subscription($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(org_id)
        .bind(plan)
        .bind(status)
        .bind(customer)
        .bind(&current.id)
        .bind(current.period_start)
        .bind(current.period_end)
        .bind(current.trial_end)
        .bind(current.cancel_at_period_end)
        .bind(current.quantity.map(|q| q.min(i32::MAX as u64) as i32))
        .execute(tx.conn())
        .await;
    if let Err(e) = applied {
        tx.query("ROLLBACK TO SAVEPOINT apply_subscription")
            .execute(tx.conn())
            .await?;
        // The database refused the state (a plan for the other kind of organization, a
        // second customer for one organization): a person has to look. Anything else
        // (the database busy or down) is tried again.
        let words = match tenancy::TenantError::from(e) {
            tenancy::TenantError::Rejected(words) | tenancy::TenantError::Refused(words) => words,
            tenancy::TenantError::BadInput(detail) => detail,
            other => return Err(JobFailure::from(other).into()),
        };
        settle(tx, customer, fetch_began, "dead", Some(&words)).await?;
        return Ok(Outcome::Dead(words));
    }
    tx.query("RELEASE SAVEPOINT apply_subscription")
        .execute(tx.conn())
        .await?;
    settle(tx, customer, fetch_began, "processed", None).await?;
    Ok(Outcome::Applied {
        org_id,
        status: status.to_string(),
        plan: plan.to_string(),
    })
}

async fn settle(
    tx: &mut impl SystemPathTx,
    customer: &str,
    up_to: time::OffsetDateTime,
    status: &str,
    error: Option<&str>,
) -> Result<(), JobFailure> {
    tx.query(
        "UPDATE enclave.stripe_events
            SET status = $3, processed_at = clock_timestamp(), last_error = left($4, 2000),
                attempts = attempts + 1, next_attempt_at = NULL
          WHERE customer_id = $1 AND status IN ('received', 'parked') AND first_received_at <= $2",
    )
    .bind(customer)
    .bind(up_to)
    .bind(status)
    .bind(error)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// The customer is not known yet (its checkout's record may still be on its way): the
/// events wait, and are tried again with backoff; after a few days they are dead.
async fn park(
    tx: &mut impl SystemPathTx,
    customer: &str,
    up_to: time::OffsetDateTime,
) -> Result<(), JobFailure> {
    tx.query(
        "UPDATE enclave.stripe_events
            SET attempts = attempts + 1,
                status = CASE WHEN first_received_at < now() - make_interval(days => $5::int)
                              THEN 'dead' ELSE 'parked' END,
                last_error = 'no organization has this Stripe customer yet',
                next_attempt_at = clock_timestamp()
                    + make_interval(secs => least($4::bigint, $3::bigint * (2 ^ least(attempts, 20))::bigint))
          WHERE customer_id = $1 AND status IN ('received', 'parked') AND first_received_at <= $2",
    )
    .bind(customer)
    .bind(up_to)
    .bind(PARK_FIRST_RETRY_SECS)
    .bind(PARK_MAX_RETRY_SECS)
    .bind(PARKED_FOR_DAYS as i32)
    .execute(tx.conn())
    .await?;
    Ok(())
}

/// Processes one new ledger row; enqueued by the webhook intake for every new event.
#[derive(Clone)]
pub struct StripeEventJob {
    pub stripe: Arc<StripeApi>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StripeEventInput {
    pub event_id: String,
}

impl JobKind for StripeEventJob {
    const QUEUE: &'static str = "stripe_events";
    /// Stripe being unreachable is retried here a few times; the sweep takes over after.
    const MAX_ATTEMPTS: i32 = 5;
    const TIMEOUT_SECS: i64 = 120;
    type Path = SystemPath;
    type Input = StripeEventInput;
}

impl SystemJob for StripeEventJob {
    async fn run(
        &self,
        tx: &mut SystemJobTx<'_>,
        input: StripeEventInput,
    ) -> Result<(), JobFailure> {
        let outcome = process_event(tx, &self.stripe, &input.event_id).await?;
        tracing::info!(event_id = %input.event_id, ?outcome, "Stripe event processed");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_subscription_events_are_processed() {
        assert!(concerns_subscription("customer.subscription.updated"));
        assert!(concerns_subscription("invoice.payment_failed"));
        assert!(concerns_subscription("checkout.session.completed"));
        assert!(!concerns_subscription("customer.created"));
        assert!(!concerns_subscription("charge.succeeded"));
    }

    #[test]
    fn stripe_statuses_map_to_the_databases() {
        assert_eq!(local_status("unpaid"), "past_due");
        assert_eq!(local_status("incomplete_expired"), "canceled");
        assert_eq!(local_status("paused"), "canceled");
        assert_eq!(local_status("trialing"), "trialing");
    }
}
