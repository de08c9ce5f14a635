//! The minute's billing sweep (a system job, `stripe_events_sweep`): Stripe events whose
//! job was lost (still `received` after half a minute), parked customers whose wait is
//! over, and seats that no longer follow the members. It lives in the binary because it
//! opens its own system-path transactions: one per customer and one per seat sync, so one
//! customer's failure (or Stripe's slowness) never undoes another's, and a recorded
//! failure stays recorded. A time budget ends a sweep early; the next one goes on.

use app::billing::processing::{lock_customer, sync_customer, write_fetched_state, SyncError};
use app::billing::stripe_api::{StripeApi, StripeCallError};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenancy::{
    JobFailure, JobKind, Statements, SystemDb, SystemJob, SystemJobTx, SystemPath, TenantError,
};
use uuid::Uuid;

/// Customers synced per sweep, at most.
const SWEEP_BATCH: i64 = 200;
/// Organizations whose seats are synced per sweep, at most.
const SEAT_BATCH: i32 = 100;
/// A sweep stops taking new work after this long (the job's limit is 300 s).
const BUDGET: Duration = Duration::from_secs(200);

#[derive(Clone)]
pub struct StripeEventSweep {
    pub stripe: Arc<StripeApi>,
    pub system: SystemDb,
}

impl JobKind for StripeEventSweep {
    const QUEUE: &'static str = "stripe_events_sweep";
    const MAX_ATTEMPTS: i32 = 1;
    const TIMEOUT_SECS: i64 = 300;
    type Path = SystemPath;
    type Input = serde_json::Value;
}

impl SystemJob for StripeEventSweep {
    async fn run(&self, _tx: &mut SystemJobTx<'_>, _: serde_json::Value) -> Result<(), JobFailure> {
        let report = sweep(&self.system, &self.stripe)
            .await
            .map_err(|e| JobFailure::Retry(format!("the billing sweep stopped: {e}")))?;
        if report != SweepReport::default() {
            tracing::info!(?report, "billing sweep");
        }
        Ok(())
    }
}

/// What one sweep did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    /// Customers whose state was fetched and settled (any outcome).
    pub customers: usize,
    /// Seat counts set at Stripe.
    pub seats_synced: usize,
    /// Seat syncs or customers that failed and are recorded for the next sweep.
    pub failures: usize,
}

/// Runs one sweep. Only the database failing as a whole ends it with an error.
pub async fn sweep(system: &SystemDb, stripe: &StripeApi) -> Result<SweepReport, TenantError> {
    let started = Instant::now();
    let mut report = SweepReport::default();
    let mut tx = system
        .begin("billing-sweep", "find due Stripe events", json!({}))
        .await?;
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
    let drift: Vec<(Uuid, String, String, Option<i32>, i32, time::OffsetDateTime)> = tx
        .query_as("SELECT * FROM enclave.seat_drift($1)")
        .bind(SEAT_BATCH)
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;

    for (org, customer, subscription, billed, members, version) in drift {
        if started.elapsed() > BUDGET {
            break;
        }
        let mut tx = system
            .begin("billing-sweep", "sync seats", json!({ "org_id": org }))
            .await?;
        let result = sync_seat_count(
            &mut tx,
            stripe,
            &customer,
            org,
            &subscription,
            members,
            version,
        )
        .await;
        let error = match result {
            Ok(()) => None,
            Err(SyncError::StripeUnavailable(e)) => Some(e.to_string()),
            Err(SyncError::Job(failure)) => {
                Some(format!("the database refused the sync: {failure}"))
            }
        };
        // A failed statement leaves the transaction unusable: record the failure in a
        // fresh one.
        let mut tx = match error {
            None => tx,
            Some(_) => {
                drop(tx);
                system
                    .begin(
                        "billing-sweep",
                        "record a seat sync failure",
                        json!({ "org_id": org }),
                    )
                    .await?
            }
        };
        tracing::info!(org_id = %org, %subscription, ?billed, members, error = ?error, "seat sync");
        tx.query("SELECT enclave.record_seat_sync($1, $2)")
            .bind(org)
            .bind(&error)
            .execute(tx.conn())
            .await?;
        tx.commit().await?;
        match error {
            None => report.seats_synced += 1,
            Some(_) => report.failures += 1,
        }
    }

    for customer in due {
        if started.elapsed() > BUDGET {
            break;
        }
        let mut tx = system
            .begin(
                "billing-sweep",
                "sync a Stripe customer",
                json!({ "customer": customer }),
            )
            .await?;
        match sync_customer(&mut tx, stripe, &customer).await {
            Ok(outcome) => {
                tx.commit().await?;
                report.customers += 1;
                tracing::info!(%customer, ?outcome, "Stripe customer synced by the sweep");
            }
            // Stripe is down, or this customer's state could not be written: the next
            // sweep tries again; the others go on.
            Err(e) => {
                report.failures += 1;
                tracing::warn!(%customer, error = %e, "the sweep could not sync a Stripe customer");
            }
        }
    }
    Ok(report)
}

/// Seats follow members: sets the subscription's quantity to the members, then writes
/// the fetched state back. The idempotency key names the subscription, the count and the
/// state it was computed from, so a retry of the same change is one change at Stripe.
/// Prorations are explicit and deferred (`create_prorations`): a seat added mid-period is
/// charged pro rata on the next invoice, never an invoice per change (BILLING-NOTES
/// case 9).
async fn sync_seat_count(
    tx: &mut tenancy::SystemTx,
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
