//! The job workers of this binary: which queues exist, what runs them, and the
//! schedules. `enclave worker` runs them; `enclave serve` runs them in-process unless
//! ENCLAVE_WORKERS=off (so workers can live on other machines against the same database).

use crate::billing_sweep::StripeEventSweep;
use crate::reconcile_billing::ReconcileJob;
use app::billing::processing::StripeEventJob;
use app::billing::Billing;
use app::campaigns::generate::GenerationJob;
use app::imports::ImportJob;
use app::integrations::publish::{PublishJob, Publisher};
use app::jobs::JobQueues;
use std::sync::Arc;
use tenancy::{
    Database, JobFailure, JobKind, JobRunner, JobTx, SystemJob, SystemJobTx, SystemPath,
    TenantError, TenantJob, TenantPath,
};

/// Does nothing inside its tenant context: the benchmark's unit of work, and a way to
/// check that a worker is alive.
#[derive(Clone, Copy, Default)]
pub struct Noop;

impl JobKind for Noop {
    const QUEUE: &'static str = "noop";
    type Path = TenantPath;
    type Input = serde_json::Value;
}

impl TenantJob for Noop {
    async fn run(
        &self,
        _tx: &mut JobTx<'_>,
        _input: serde_json::Value,
    ) -> Result<serde_json::Value, JobFailure> {
        Ok(serde_json::Value::Null)
    }
}

/// A scheduled cross-tenant clean-up: one DELETE on the system path, its count logged.
async fn remove(tx: &mut SystemJobTx<'_>, sql: &str, what: &str) -> Result<(), JobFailure> {
    let removed = tx.query(sql).execute(tx.conn()).await?.rows_affected();
    if removed > 0 {
        tracing::info!(removed, "{what} removed");
    }
    Ok(())
}

/// Removes expired sessions of every user (cross-tenant, so on the system path).
#[derive(Clone, Copy, Default)]
pub struct SessionSweep;

impl JobKind for SessionSweep {
    const QUEUE: &'static str = "session_sweep";
    type Path = SystemPath;
    type Input = serde_json::Value;
}

impl SystemJob for SessionSweep {
    async fn run(&self, tx: &mut SystemJobTx<'_>, _: serde_json::Value) -> Result<(), JobFailure> {
        remove(
            tx,
            "DELETE FROM tower_sessions.session WHERE expiry_date < now()",
            "expired sessions",
        )
        .await
    }
}

/// Saves today's monthly recurring revenue per plan (`enclave.mrr_daily`), cross-tenant,
/// so on the system path.
#[derive(Clone, Copy, Default)]
pub struct MrrSnapshot;

impl JobKind for MrrSnapshot {
    const QUEUE: &'static str = "mrr_snapshot";
    type Path = SystemPath;
    type Input = serde_json::Value;
}

impl SystemJob for MrrSnapshot {
    async fn run(&self, tx: &mut SystemJobTx<'_>, _: serde_json::Value) -> Result<(), JobFailure> {
        let plans: i32 = tx
            .query_scalar("SELECT enclave.snapshot_mrr()")
            .fetch_one(tx.conn())
            .await?;
        tracing::debug!(plans, "revenue snapshot saved");
        Ok(())
    }
}

/// Removes finished tasks of every tenant once their time to live (14 days) is over
/// (cross-tenant, so on the system path). What people see of a job stays in the tenant
/// tables.
#[derive(Clone, Copy, Default)]
pub struct TaskCleanup;

impl JobKind for TaskCleanup {
    const QUEUE: &'static str = "task_cleanup";
    type Path = SystemPath;
    type Input = serde_json::Value;
}

impl SystemJob for TaskCleanup {
    async fn run(&self, tx: &mut SystemJobTx<'_>, _: serde_json::Value) -> Result<(), JobFailure> {
        remove(
            tx,
            "DELETE FROM underway.task WHERE state <> 'in_progress' AND created_at + ttl < now()",
            "finished tasks past their time to live",
        )
        .await
    }
}

/// Every minute, at second 0 (underway's cron has seconds and years).
const SWEEP_SCHEDULE: &str = "0 * * * * * *";
/// Every hour, at minute 53: today's revenue per plan for the admin overview's chart
/// (written again each hour, so the day's row ends with its last hour).
const MRR_SCHEDULE: &str = "0 53 * * * * *";
/// Every hour, at minute 17.
const CLEANUP_SCHEDULE: &str = "0 17 * * * * *";
/// Every hour, at minute 41 (away from the clean-up).
const RECONCILE_SCHEDULE: &str = "0 41 * * * * *";

/// ENCLAVE_WORKER_CONCURRENCY: jobs of one queue run at once by this process (default 2).
pub fn concurrency() -> Result<usize, String> {
    worker_count("ENCLAVE_WORKER_CONCURRENCY", 2)
}

/// ENCLAVE_STRIPE_WORKER_CONCURRENCY: Stripe events processed at once (default 8). Each
/// waits on one call to Stripe (hundreds of milliseconds there) while holding its
/// customer's lock and a connection, so lag at 100 events/s needs about rate × latency
/// of them (scripts/bench-billing, ENCLAVE_BENCH_STRIPE_DELAY_MS).
pub fn stripe_concurrency() -> Result<usize, String> {
    worker_count("ENCLAVE_STRIPE_WORKER_CONCURRENCY", 8)
}

fn worker_count(name: &str, default: usize) -> Result<usize, String> {
    match std::env::var(name) {
        Ok(v) if v.trim().is_empty() => Ok(default),
        Ok(v) => v
            .trim()
            .parse()
            .ok()
            .filter(|n: &usize| (1..=64).contains(n))
            .ok_or_else(|| format!("{name} must be a whole number from 1 to 64 (got {v:?})")),
        Err(_) => Ok(default),
    }
}

/// The queues web requests enqueue into (on the web's pool, inside their transactions).
pub async fn queues(
    db: &Database,
    generator: Arc<app::campaigns::generator::Generator>,
    publisher: Publisher,
) -> Result<JobQueues, TenantError> {
    let jobs = db.jobs();
    Ok(JobQueues {
        generate_outputs: jobs.tenant_queue(GenerationJob { generator }).await?,
        import_csv: jobs.tenant_queue(ImportJob).await?,
        publish_output: jobs.tenant_queue(PublishJob { publisher }).await?,
    })
}

/// A pool for workers. A cap, not a reservation (sqlx opens connections as needed): each
/// of the 10 queues' workers holds two listening connections, each of the 5 schedules a
/// lock and a listener, and each running job its transaction, a heartbeat and a short
/// one for progress (the Stripe events queue runs its own number of jobs).
pub fn worker_pool_settings(concurrency: usize) -> tenancy::PoolSettings {
    let (queues, schedules) = (10, 5);
    let stripe = stripe_concurrency().unwrap_or(8);
    let jobs = (queues - 1) * concurrency + stripe;
    tenancy::PoolSettings {
        max_connections: (queues * 2 + 3 * jobs + 2 * schedules) as u32,
        ..Default::default()
    }
}

/// Starts every worker and the schedules. Stop them with [`JobRunner::shutdown`].
/// `answering`: a watch of the same database to follow (`serve` shares the web's); without
/// one the runner starts its own.
pub async fn start(
    db: &Database,
    generator: Arc<app::campaigns::generator::Generator>,
    publisher: Publisher,
    billing: &Billing,
    concurrency: usize,
    answering: Option<tenancy::Answering>,
) -> Result<JobRunner, TenantError> {
    let jobs = db.jobs();
    let mut runner = JobRunner::new();
    if let Some(answering) = answering {
        runner.follow(answering);
    }
    let generate = jobs.tenant_queue(GenerationJob { generator }).await?;
    runner.run_tenant(&generate, concurrency);
    let import = jobs.tenant_queue(ImportJob).await?;
    runner.run_tenant(&import, concurrency);
    let publish = jobs.tenant_queue(PublishJob { publisher }).await?;
    runner.run_tenant(&publish, concurrency);
    let noop = jobs.tenant_queue(Noop).await?;
    runner.run_tenant(&noop, concurrency);
    let sweep = jobs.system_queue(SessionSweep).await?;
    sweep
        .schedule(SWEEP_SCHEDULE, serde_json::json!({}))
        .await?;
    runner.run_system(&sweep, 1);
    runner.run_schedule(&sweep);
    let cleanup = jobs.system_queue(TaskCleanup).await?;
    cleanup
        .schedule(CLEANUP_SCHEDULE, serde_json::json!({}))
        .await?;
    runner.run_system(&cleanup, 1);
    runner.run_schedule(&cleanup);
    let mrr = jobs.system_queue(MrrSnapshot).await?;
    mrr.schedule(MRR_SCHEDULE, serde_json::json!({})).await?;
    runner.run_system(&mrr, 1);
    runner.run_schedule(&mrr);
    match billing {
        Billing::Configured(stripe) => {
            let events = jobs
                .system_queue(StripeEventJob {
                    stripe: stripe.clone(),
                })
                .await?;
            runner.run_system(&events, stripe_concurrency().map_err(TenantError::Queue)?);
            let sweep = jobs
                .system_queue(StripeEventSweep {
                    stripe: stripe.clone(),
                    system: db.system(),
                })
                .await?;
            sweep
                .schedule(SWEEP_SCHEDULE, serde_json::json!({}))
                .await?;
            runner.run_system(&sweep, 1);
            runner.run_schedule(&sweep);
            let reconcile = jobs
                .system_queue(ReconcileJob {
                    stripe: stripe.clone(),
                    system: db.system(),
                })
                .await?;
            reconcile
                .schedule(RECONCILE_SCHEDULE, serde_json::json!({}))
                .await?;
            runner.run_system(&reconcile, 1);
            runner.run_schedule(&reconcile);
        }
        Billing::NotConfigured(reason) => {
            tracing::info!(%reason, "billing is not configured: Stripe events are recorded, not processed");
        }
    }
    tracing::info!(
        concurrency,
        "job workers started: generate_outputs, import_csv, publish_output, noop, session_sweep (every minute), task_cleanup (hourly), and with billing stripe_events, stripe_events_sweep (every minute) and billing_reconcile (hourly)"
    );
    Ok(runner)
}
