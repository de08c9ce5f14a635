//! Billing reconciliation (`enclave reconcile-billing`, and hourly as a system job):
//! Stripe's customers and subscriptions against the database. Differences are repaired
//! through the same code as the webhooks (processing.rs), events whose delivery failed are
//! pulled into the ledger, and every finding is stored (`enclave.billing_findings`) with
//! what was done. One transaction per customer, so one failure does not undo the rest.
//! It lives in the binary: it opens system-path transactions of its own.

use app::billing::processing::{
    envelope, local_status, lock_customer, record_event, write_fetched_state, Outcome, SyncError,
};
use app::billing::stripe_api::{
    deciding_subscription, FetchedSubscription, StripeApi, StripeCallError,
};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use tenancy::{JobFailure, Statements, SystemDb, TenantError};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Compare and report; change nothing (no repair, no ledger rows).
    pub dry_run: bool,
    /// Only this organization.
    pub org: Option<Uuid>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Finding {
    pub org_id: Option<Uuid>,
    pub customer: Option<String>,
    pub kind: &'static str,
    pub action: &'static str,
    pub detail: Value,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub run_id: Uuid,
    pub customers: usize,
    pub events_pulled: usize,
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn repaired(&self) -> usize {
        self.count("repaired")
    }
    pub fn needs_person(&self) -> usize {
        self.count("needs_person")
    }
    fn count(&self, action: &str) -> usize {
        self.findings.iter().filter(|f| f.action == action).count()
    }
    /// 0 in sync or repaired, 1 when something needs a person or (a dry run) would be
    /// repaired: neither is "in sync".
    pub fn outcome(&self) -> u8 {
        u8::from(self.needs_person() > 0 || self.count("would_repair") > 0)
    }
    pub fn summary(&self) -> String {
        let mut text = format!(
            "reconcile-billing: {} customer(s) compared, {} finding(s): {} repaired, {} would be repaired, {} need a person; {} undelivered event(s) pulled into the ledger (run {})\n",
            self.customers,
            self.findings.len(),
            self.repaired(),
            self.count("would_repair"),
            self.needs_person(),
            self.events_pulled,
            self.run_id
        );
        for f in &self.findings {
            text.push_str(&format!(
                "  {:<16} {:<13} org {} customer {}: {}\n",
                f.kind,
                f.action,
                f.org_id
                    .map(|o| o.to_string())
                    .unwrap_or_else(|| "-".into()),
                f.customer.as_deref().unwrap_or("-"),
                f.detail
            ));
        }
        text
    }
}

/// Why a run could not finish (exit 2): Stripe or the database.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("Stripe could not be read: {0}")]
    Stripe(#[from] StripeCallError),
    #[error("the database failed: {0}")]
    Database(String),
}

impl From<TenantError> for ReconcileError {
    fn from(e: TenantError) -> Self {
        ReconcileError::Database(e.to_string())
    }
}

impl From<sqlx::Error> for ReconcileError {
    fn from(e: sqlx::Error) -> Self {
        ReconcileError::Database(e.to_string())
    }
}

impl From<SyncError> for ReconcileError {
    fn from(e: SyncError) -> Self {
        match e {
            SyncError::StripeUnavailable(e) => ReconcileError::Stripe(e),
            SyncError::Job(failure) => ReconcileError::Database(failure.to_string()),
        }
    }
}

/// What the database holds for one organization with a customer.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct LocalState {
    pub org_id: Uuid,
    pub org_kind: String,
    pub plan_id: Option<String>,
    pub status: Option<String>,
    pub stripe_customer_id: String,
    pub stripe_subscription_id: Option<String>,
    pub seat_quantity: Option<i32>,
    pub per_seat: Option<bool>,
    pub current_period_end: Option<time::OffsetDateTime>,
    pub cancel_at_period_end: Option<bool>,
    pub trial_ends_at: Option<time::OffsetDateTime>,
}

/// The fields where the database and Stripe disagree: (field, database, Stripe). An
/// organization whose customer has no subscription is in sync when it holds none.
pub fn differences(
    local: &LocalState,
    stripe: Option<&FetchedSubscription>,
    plan_of_price: impl Fn(&str) -> Option<String>,
) -> Vec<(&'static str, Value, Value)> {
    let mut found = Vec::new();
    let Some(s) = stripe else {
        if local.stripe_subscription_id.is_some() {
            found.push((
                "subscription",
                json!(local.stripe_subscription_id),
                Value::Null,
            ));
        }
        return found;
    };
    let mut check = |field: &'static str, ours: Value, theirs: Value| {
        if ours != theirs {
            found.push((field, ours, theirs));
        }
    };
    check(
        "subscription",
        json!(local.stripe_subscription_id),
        json!(s.id),
    );
    check(
        "status",
        json!(local.status),
        json!(local_status(&s.status)),
    );
    check(
        "plan",
        json!(local.plan_id),
        json!(s.price_id.as_deref().and_then(&plan_of_price)),
    );
    check("quantity", json!(local.seat_quantity), json!(s.quantity));
    check(
        "cancel_at_period_end",
        json!(local.cancel_at_period_end.unwrap_or(false)),
        json!(s.cancel_at_period_end),
    );
    check(
        "current_period_end",
        json!(local.current_period_end.map(|t| t.unix_timestamp())),
        json!(s.period_end.unix_timestamp()),
    );
    check(
        "trial_end",
        json!(local.trial_ends_at.map(|t| t.unix_timestamp())),
        json!(s.trial_end.map(|t| t.unix_timestamp())),
    );
    found
}

async fn begin(
    sys: &SystemDb,
    what: &str,
    run_id: Uuid,
) -> Result<tenancy::SystemTx, ReconcileError> {
    Ok(sys
        .begin("reconcile-billing", what, json!({ "run_id": run_id }))
        .await?)
}

/// Runs one reconciliation. Every finding is stored (in a dry run too: it is what a
/// person reads), but a dry run repairs nothing and pulls no events.
pub async fn reconcile(
    sys: &SystemDb,
    stripe: &StripeApi,
    options: Options,
) -> Result<Report, ReconcileError> {
    let mut report = Report {
        run_id: Uuid::new_v4(),
        ..Default::default()
    };
    let mut tx = begin(sys, "start a billing reconciliation", report.run_id).await?;
    tx.query(
        "INSERT INTO enclave.billing_reconciliations (run_id, dry_run, only_org_id) VALUES ($1, $2, $3)",
    )
    .bind(report.run_id)
    .bind(options.dry_run)
    .bind(options.org)
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    let result = compare_and_repair(sys, stripe, options, &mut report).await;
    let (outcome, error) = match &result {
        Ok(()) => (i32::from(report.outcome()), None),
        Err(e) => (2, Some(e.to_string())),
    };
    // The run's record is kept whatever happened (best effort when the database failed).
    if let Ok(mut tx) = begin(sys, "finish a billing reconciliation", report.run_id).await {
        let stored = tx
            .query(
                "UPDATE enclave.billing_reconciliations
                    SET finished_at = now(), customers = $2, findings = $3, repaired = $4,
                        needs_person = $5, events_pulled = $6, outcome = $7, error = left($8, 2000)
                  WHERE run_id = $1",
            )
            .bind(report.run_id)
            .bind(report.customers as i32)
            .bind(report.findings.len() as i32)
            .bind(report.repaired() as i32)
            .bind(report.needs_person() as i32)
            .bind(report.events_pulled as i32)
            .bind(outcome)
            .bind(error)
            .execute(tx.conn())
            .await;
        if stored.is_ok() {
            let _ = tx.commit().await;
        }
    }
    result.map(|()| report)
}

async fn record_finding(
    sys: &SystemDb,
    report: &mut Report,
    finding: Finding,
) -> Result<(), ReconcileError> {
    let mut tx = begin(sys, "record a billing finding", report.run_id).await?;
    tx.query(
        "INSERT INTO enclave.billing_findings (run_id, org_id, stripe_customer_id, kind, action, detail)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(report.run_id)
    .bind(finding.org_id)
    .bind(&finding.customer)
    .bind(finding.kind)
    .bind(finding.action)
    .bind(&finding.detail)
    .execute(tx.conn())
    .await?;
    tx.commit().await?;
    tracing::info!(kind = finding.kind, action = finding.action, org_id = ?finding.org_id,
        customer = ?finding.customer, "billing reconciliation finding");
    report.findings.push(finding);
    Ok(())
}

/// Repairs one customer through the webhook's code; returns the finding's action.
async fn repair(
    sys: &SystemDb,
    stripe: &StripeApi,
    run_id: Uuid,
    customer: &str,
    org: Uuid,
) -> Result<(&'static str, Value), ReconcileError> {
    let mut tx = begin(sys, "repair a customer's billing state", run_id).await?;
    let fetch_began = lock_customer(&mut tx, customer).await?;
    let outcome = write_fetched_state(&mut tx, stripe, customer, org, fetch_began).await?;
    tx.commit().await?;
    Ok(match outcome {
        Outcome::Dead(why) => ("needs_person", json!(why)),
        _ => ("repaired", Value::Null),
    })
}

async fn compare_and_repair(
    sys: &SystemDb,
    stripe: &StripeApi,
    options: Options,
    report: &mut Report,
) -> Result<(), ReconcileError> {
    let run_id = report.run_id;
    // 1. Events Stripe could not deliver go into the ledger first, so the syncs below
    //    settle them with everything else of their customers.
    if !options.dry_run {
        for event in stripe.undelivered_events().await? {
            let Some(e) = envelope(&event) else { continue };
            let mut tx = begin(sys, "pull an undelivered Stripe event", run_id).await?;
            let (new, _) = record_event(&mut tx, &e, &event).await?;
            tx.commit().await?;
            if new {
                report.events_pulled += 1;
                record_finding(
                    sys,
                    report,
                    Finding {
                        org_id: None,
                        customer: e.customer_id.clone(),
                        kind: "missed_event",
                        action: "pulled",
                        detail: json!({ "event": e.id, "type": e.event_type }),
                    },
                )
                .await?;
            }
        }
    }

    // 2. What the database holds, by customer.
    let mut tx = begin(sys, "read billing states", run_id).await?;
    let local: Vec<LocalState> = tx
        .query_as("SELECT * FROM enclave.billing_states()")
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    let local: BTreeMap<String, LocalState> = local
        .into_iter()
        .map(|l| (l.stripe_customer_id.clone(), l))
        .collect();
    let orgs_with_customer: BTreeSet<Uuid> = local.values().map(|l| l.org_id).collect();

    // 3. Every subscription, grouped by customer; then every customer.
    let mut subscriptions: BTreeMap<String, Vec<FetchedSubscription>> = BTreeMap::new();
    for s in stripe.all_subscriptions().await? {
        subscriptions.entry(s.customer.clone()).or_default().push(s);
    }
    let mut seen = BTreeSet::new();
    let mut after: Option<String> = None;
    loop {
        let (page, more) = stripe.customers_page(after.as_deref()).await?;
        after = page.last().map(|(id, _)| id.clone());
        for (customer, claimed_org) in page {
            let org = local.get(&customer).map(|l| l.org_id).or(claimed_org);
            if options.org.is_some() && org != options.org {
                continue;
            }
            seen.insert(customer.clone());
            report.customers += 1;
            let subs = subscriptions
                .get(&customer)
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            let deciding = deciding_subscription(subs);
            match (local.get(&customer), claimed_org) {
                (Some(state), _) => {
                    let live = subs.iter().filter(|s| s.is_live()).count();
                    compare_known(sys, stripe, options, report, state, deciding, live).await?;
                }
                // Made by Enclave for an organization that never recorded it (the
                // owner's request failed after Stripe answered).
                (None, Some(org)) if deciding.is_some() => {
                    if orgs_with_customer.contains(&org) {
                        record_finding(
                            sys,
                            report,
                            Finding {
                                org_id: Some(org),
                                customer: Some(customer.clone()),
                                kind: "second_customer",
                                action: "needs_person",
                                detail: json!({ "subscription": deciding.map(|s| s.id.clone()) }),
                            },
                        )
                        .await?;
                    } else {
                        let (action, why) = if options.dry_run {
                            ("would_repair", Value::Null)
                        } else {
                            repair(sys, stripe, run_id, &customer, org).await?
                        };
                        record_finding(
                            sys,
                            report,
                            Finding {
                                org_id: Some(org),
                                customer: Some(customer.clone()),
                                kind: "state",
                                action,
                                detail: json!({ "unrecorded_customer": true, "reason": why }),
                            },
                        )
                        .await?;
                    }
                }
                // A customer whose checkout never finished: nothing to compare.
                (None, Some(_)) => {}
                (None, None) => {
                    record_finding(
                        sys,
                        report,
                        Finding {
                            org_id: None,
                            customer: Some(customer.clone()),
                            kind: "unknown_customer",
                            action: "needs_person",
                            detail: json!({ "subscriptions": subs.len() }),
                        },
                    )
                    .await?;
                }
            }
        }
        if !more || after.is_none() {
            break;
        }
    }

    // 4. Customers the database names that Stripe no longer has.
    for (customer, state) in &local {
        if seen.contains(customer) || options.org.is_some_and(|o| o != state.org_id) {
            continue;
        }
        record_finding(
            sys,
            report,
            Finding {
                org_id: Some(state.org_id),
                customer: Some(customer.clone()),
                kind: "missing_customer",
                action: "needs_person",
                detail: json!({ "status": state.status }),
            },
        )
        .await?;
    }
    Ok(())
}

async fn compare_known(
    sys: &SystemDb,
    stripe: &StripeApi,
    options: Options,
    report: &mut Report,
    state: &LocalState,
    deciding: Option<&FetchedSubscription>,
    live_count: usize,
) -> Result<(), ReconcileError> {
    let customer = state.stripe_customer_id.clone();
    // Two live subscriptions bill twice; which one to end is a person's call.
    if live_count > 1 {
        record_finding(
            sys,
            report,
            Finding {
                org_id: Some(state.org_id),
                customer: Some(customer.clone()),
                kind: "second_subscription",
                action: "needs_person",
                detail: json!({ "live_subscriptions": live_count }),
            },
        )
        .await?;
    }
    if let Some(s) = deciding {
        if let Some(price) = s
            .price_id
            .as_deref()
            .filter(|p| stripe.prices.plan_of(p).is_none())
        {
            return record_finding(
                sys,
                report,
                Finding {
                    org_id: Some(state.org_id),
                    customer: Some(customer),
                    kind: "unsold_price",
                    action: "needs_person",
                    detail: json!({ "subscription": s.id, "price": price }),
                },
            )
            .await;
        }
    }
    let differ = differences(state, deciding, |price| {
        stripe.prices.plan_of(price).map(str::to_string)
    });
    if !differ.is_empty() {
        let (action, why) = if options.dry_run {
            ("would_repair", Value::Null)
        } else {
            repair(sys, stripe, report.run_id, &customer, state.org_id).await?
        };
        let fields: Value = differ
            .iter()
            .map(|(f, ours, theirs)| (f.to_string(), json!({ "database": ours, "stripe": theirs })))
            .collect::<serde_json::Map<_, _>>()
            .into();
        record_finding(
            sys,
            report,
            Finding {
                org_id: Some(state.org_id),
                customer: Some(customer.clone()),
                kind: "state",
                action,
                detail: json!({ "differs": fields, "reason": why }),
            },
        )
        .await?;
    }
    // Seats: a live per-seat subscription bills as many seats as there are members.
    let Some(s) = deciding.filter(|s| s.is_live()) else {
        return Ok(());
    };
    let per_seat = s
        .price_id
        .as_deref()
        .and_then(|p| stripe.prices.plan_of(p))
        .is_some_and(|plan| plan_is_per_seat(plan, state));
    if !per_seat {
        return Ok(());
    }
    let mut tx = begin(sys, "count billable seats", report.run_id).await?;
    let members: i32 = tx
        .query_scalar("SELECT enclave.billable_seats($1)")
        .bind(state.org_id)
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    let billed = s.quantity.unwrap_or(0);
    if billed == members as u64 {
        return Ok(());
    }
    let action = match (&s.item_id, options.dry_run) {
        (_, true) => "would_repair",
        (None, false) => "needs_person",
        (Some(item), false) => {
            let key = format!("seats:{}:{}:{}", s.id, members, report.run_id);
            match stripe.set_quantity(item, members.max(1) as u64, key).await {
                Ok(()) => {
                    repair(sys, stripe, report.run_id, &customer, state.org_id).await?;
                    "repaired"
                }
                Err(e) if e.is_transient() => return Err(e.into()),
                Err(_) => "needs_person",
            }
        }
    };
    record_finding(
        sys,
        report,
        Finding {
            org_id: Some(state.org_id),
            customer: Some(customer),
            kind: "seats",
            action,
            detail: json!({ "billed": billed, "members": members, "subscription": s.id }),
        },
    )
    .await
}

/// Whether `plan` bills per seat: the database's catalog says so for the plan the
/// organization holds; for another plan, the catalog's naming is not guessed at.
fn plan_is_per_seat(plan: &str, state: &LocalState) -> bool {
    state.plan_id.as_deref() == Some(plan) && state.per_seat == Some(true)
}

/// The hourly run, as a system job: it opens its own transactions (one per customer).
#[derive(Clone)]
pub struct ReconcileJob {
    pub stripe: std::sync::Arc<StripeApi>,
    pub system: SystemDb,
}

impl tenancy::JobKind for ReconcileJob {
    const QUEUE: &'static str = "billing_reconcile";
    const MAX_ATTEMPTS: i32 = 1;
    const TIMEOUT_SECS: i64 = 1800;
    type Path = tenancy::SystemPath;
    type Input = Value;
}

impl tenancy::SystemJob for ReconcileJob {
    async fn run(&self, _tx: &mut tenancy::SystemJobTx<'_>, _: Value) -> Result<(), JobFailure> {
        match reconcile(&self.system, &self.stripe, Options::default()).await {
            Ok(report) => {
                tracing::info!(run_id = %report.run_id, customers = report.customers,
                    findings = report.findings.len(), repaired = report.repaired(),
                    needs_person = report.needs_person(), "hourly billing reconciliation");
                Ok(())
            }
            Err(e) => Err(JobFailure::Retry(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalState {
        LocalState {
            org_id: Uuid::nil(),
            org_kind: "sme".into(),
            plan_id: Some("sme_team".into()),
            status: Some("active".into()),
            stripe_customer_id: "cus_1".into(),
            stripe_subscription_id: Some("sub_1".into()),
            seat_quantity: Some(3),
            per_seat: Some(true),
            current_period_end: Some(time::OffsetDateTime::from_unix_timestamp(2_000).unwrap()),
            cancel_at_period_end: Some(false),
            trial_ends_at: None,
        }
    }

    fn stripe_side() -> FetchedSubscription {
        FetchedSubscription {
            id: "sub_1".into(),
            customer: "cus_1".into(),
            status: "active".into(),
            price_id: Some("price_team".into()),
            item_id: Some("si_1".into()),
            quantity: Some(3),
            period_start: time::OffsetDateTime::from_unix_timestamp(1_000).unwrap(),
            period_end: time::OffsetDateTime::from_unix_timestamp(2_000).unwrap(),
            trial_end: None,
            cancel_at_period_end: false,
            created: 1,
        }
    }

    fn plans(price: &str) -> Option<String> {
        (price == "price_team").then(|| "sme_team".to_string())
    }

    #[test]
    fn equal_states_have_no_differences_and_each_field_is_compared() {
        assert!(differences(&local(), Some(&stripe_side()), plans).is_empty());
        let mut s = stripe_side();
        s.quantity = Some(5);
        s.status = "past_due".into();
        let found: Vec<&str> = differences(&local(), Some(&s), plans)
            .iter()
            .map(|d| d.0)
            .collect();
        assert_eq!(found, ["status", "quantity"]);
        let mut s = stripe_side();
        s.cancel_at_period_end = true;
        s.trial_end = Some(time::OffsetDateTime::from_unix_timestamp(5).unwrap());
        let found: Vec<&str> = differences(&local(), Some(&s), plans)
            .iter()
            .map(|d| d.0)
            .collect();
        assert_eq!(found, ["cancel_at_period_end", "trial_end"]);
        // A subscription the database holds but Stripe does not.
        assert_eq!(differences(&local(), None, plans).len(), 1);
        let mut none = local();
        none.stripe_subscription_id = None;
        assert!(differences(&none, None, plans).is_empty());
    }
}

/// "Run now" on the admin console's reconciliation screen: queues one run for the
/// worker, like the hourly schedule does.
pub struct RunNow(pub tenancy::SystemQueue<ReconcileJob>);

impl app::admin::RunReconciliation for RunNow {
    fn enqueue(
        &self,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<uuid::Uuid, tenancy::TenantError>> + Send + '_>,
    > {
        Box::pin(self.0.enqueue(serde_json::json!({})))
    }
}
