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
        let failure = JobFailure::from(e);
        if let JobFailure::Stop(words) = &failure {
            // The database refused the state (e.g. a plan for the other kind of
            // organization): a person has to look.
            settle(tx, customer, fetch_began, "dead", Some(words)).await?;
            return Ok(Outcome::Dead(words.clone()));
        }
        return Err(failure.into());
    }
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

/// Every minute: customers with events whose job was lost (still `received` after half a
/// minute) or whose parking time is over are synced again, a bounded batch at a time.
#[derive(Clone)]
pub struct StripeEventSweep {
    pub stripe: Arc<StripeApi>,
}

impl JobKind for StripeEventSweep {
    const QUEUE: &'static str = "stripe_events_sweep";
    const MAX_ATTEMPTS: i32 = 1;
    const TIMEOUT_SECS: i64 = 300;
    type Path = SystemPath;
    type Input = serde_json::Value;
}

/// Customers processed per sweep.
const SWEEP_BATCH: i64 = 200;

impl SystemJob for StripeEventSweep {
    async fn run(&self, tx: &mut SystemJobTx<'_>, _: serde_json::Value) -> Result<(), JobFailure> {
        sweep(tx, &self.stripe).await.map(|_| ())
    }
}

/// Organizations whose seats are synced per sweep.
const SEAT_BATCH: i32 = 100;

/// Seats follow members: every live per-seat subscription that bills another number than
/// the organization's members gets the members' count at Stripe, then its fetched state
/// written back. The idempotency key names the subscription, the count and the state it
/// was computed from, so a retry of the same change is one change at Stripe. Prorations
/// are explicit and deferred (`create_prorations`): a seat added mid-period is charged pro
/// rata on the next invoice, never an invoice per change (BILLING-NOTES case 9). A failure
/// is recorded on the organization's row and tried again next minute.
pub async fn sync_seats(
    tx: &mut impl SystemPathTx,
    stripe: &StripeApi,
) -> Result<usize, JobFailure> {
    let drift: Vec<(Uuid, String, String, Option<i32>, i32, time::OffsetDateTime)> = tx
        .query_as("SELECT * FROM enclave.seat_drift($1)")
        .bind(SEAT_BATCH)
        .fetch_all(tx.conn())
        .await?;
    let mut synced = 0;
    for (org, customer, subscription, billed, members, version) in drift {
        let result =
            sync_one_seat_count(tx, stripe, &customer, org, &subscription, members, version).await;
        let error = match result {
            Ok(()) => None,
            Err(SyncError::Job(failure)) => return Err(failure),
            Err(SyncError::StripeUnavailable(e)) => Some(e.to_string()),
        };
        if error.is_none() {
            synced += 1;
        }
        tracing::info!(org_id = %org, %subscription, ?billed, members, error = ?error, "seat sync");
        tx.query("SELECT enclave.record_seat_sync($1, $2)")
            .bind(org)
            .bind(error)
            .execute(tx.conn())
            .await?;
    }
    Ok(synced)
}

async fn sync_one_seat_count(
    tx: &mut impl SystemPathTx,
    stripe: &StripeApi,
    customer: &str,
    org: Uuid,
    subscription: &str,
    members: i32,
    version: time::OffsetDateTime,
) -> Result<(), SyncError> {
    let fetch_began = lock_customer(tx, customer).await?;
    let subs = stripe
        .subscriptions_of(customer)
        .await
        .map_err(SyncError::StripeUnavailable)?;
    let item = subs
        .iter()
        .find(|s| s.id == subscription)
        .and_then(|s| s.item_id.clone())
        .ok_or_else(|| {
            SyncError::StripeUnavailable(StripeCallError::Refused {
                status: 404,
                message: format!("subscription {subscription} has no item to set seats on"),
            })
        })?;
    let key = format!(
        "seats:{subscription}:{members}:{}",
        version.unix_timestamp_nanos() / 1000
    );
    stripe
        .set_quantity(&item, members.max(1) as u64, key)
        .await
        .map_err(SyncError::StripeUnavailable)?;
    write_fetched_state(tx, stripe, customer, org, fetch_began).await?;
    Ok(())
}

/// The sweep's work: returns how many customers it synced.
pub async fn sweep(tx: &mut impl SystemPathTx, stripe: &StripeApi) -> Result<usize, JobFailure> {
    // Events that can never concern a subscription are settled without a fetch.
    tx.query(
        "UPDATE enclave.stripe_events SET status = 'ignored', processed_at = clock_timestamp()
          WHERE status = 'received' AND first_received_at < now() - interval '30 seconds'
            AND (customer_id IS NULL OR NOT (event_type LIKE 'customer.subscription.%'
                 OR event_type LIKE 'checkout.session.%' OR event_type LIKE 'invoice.%'))",
    )
    .execute(tx.conn())
    .await?;
    let due: Vec<String> = tx
        .query_scalar(
            "SELECT customer_id FROM enclave.stripe_events
              WHERE customer_id IS NOT NULL
                AND ((status = 'received' AND first_received_at < now() - interval '30 seconds')
                     OR (status = 'parked' AND next_attempt_at <= now()))
              GROUP BY customer_id ORDER BY min(first_received_at) LIMIT $1",
        )
        .bind(SWEEP_BATCH)
        .fetch_all(tx.conn())
        .await?;
    let mut synced = sync_seats(tx, stripe).await?;
    for customer in due {
        match sync_customer(tx, stripe, &customer).await {
            Ok(outcome) => {
                synced += 1;
                tracing::info!(%customer, ?outcome, "Stripe customer synced by the sweep");
            }
            // Stripe is down: the next sweep tries again; the database's errors end the sweep.
            Err(SyncError::StripeUnavailable(e)) => {
                tracing::warn!(%customer, error = %e, "sweep could not sync a Stripe customer");
            }
            Err(SyncError::Job(failure)) => return Err(failure),
        }
    }
    Ok(synced)
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
