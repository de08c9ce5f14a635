//! Background jobs on underway's durable PostgreSQL queue, with the tenant boundary kept
//! by the database (migration 0011).
//!
//! * A job type is a [`TenantJob`] or a [`SystemJob`], never both: each fixes
//!   [`JobKind::Path`] to a different type, so one type implementing both does not compile.
//!   A worker also refuses to start when the database registers its queue for the other
//!   path (`enclave.job_queues`).
//! * A tenant job is enqueued with [`TenantQueue::enqueue`] inside the caller's
//!   [`TenantTx`]: the task row commits or rolls back with the domain write, and the
//!   database stamps it with the transaction's verified context (org, client workspace,
//!   user). Nothing in the caller's input can name a tenant.
//! * The worker runs a tenant job in a transaction that first enters the stamped context
//!   ([`JobTx`]); a task without a stamp is refused before any job code runs. Its writes
//!   and underway's "succeeded" mark commit together, so a crash mid-job loses nothing
//!   and repeats nothing committed.
//! * A system job runs on the system path: its transaction writes a `system` audit row
//!   before the job's code runs.
//! * Jobs with a row in `public.jobs` / `agency.jobs` (tracked jobs) report status and
//!   progress there in their own short transactions, so people see them while the job's
//!   own transaction is still open.

use crate::error::TenantError;
use crate::tx::{begin_detached, enter, TenantScoped, TenantTx};
use jiff::{Span, ToSpan};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{FromRow, PgConnection, PgPool, Postgres, Transaction};
use std::future::Future;
use std::sync::Arc;
use tokio::task::JoinSet;
use tracing::Instrument;
use underway::task::{Error as TaskError, RetryPolicy};
use underway::{Queue, Scheduler, Task, Worker, ZonedSchedule};
use uuid::Uuid;

pub use tokio_util::sync::CancellationToken;

mod sealed {
    pub trait Path: Send + Sync + 'static {
        const NAME: &'static str;
    }
}

/// Marker: the job runs inside one tenant's context.
pub struct TenantPath;
/// Marker: the job runs on the audited cross-tenant system path.
pub struct SystemPath;
impl sealed::Path for TenantPath {
    const NAME: &'static str = "tenant";
}
impl sealed::Path for SystemPath {
    const NAME: &'static str = "system";
}

/// What every job type declares.
///
/// A job type runs on one path. This compiles:
///
/// ```
/// use tenancy::{JobFailure, JobKind, JobTx, TenantJob, TenantPath};
/// struct Report;
/// impl JobKind for Report {
///     const QUEUE: &'static str = "noop";
///     type Path = TenantPath;
///     type Input = ();
/// }
/// impl TenantJob for Report {
///     async fn run(&self, _: &mut JobTx<'_>, _: ()) -> Result<serde_json::Value, JobFailure> {
///         Ok(serde_json::Value::Null)
///     }
/// }
/// ```
///
/// and the same type cannot also be a system job:
///
/// ```compile_fail
/// use tenancy::{JobFailure, JobKind, JobTx, SystemJob, SystemJobTx, TenantJob, TenantPath};
/// struct Report;
/// impl JobKind for Report {
///     const QUEUE: &'static str = "noop";
///     type Path = TenantPath;
///     type Input = ();
/// }
/// impl TenantJob for Report {
///     async fn run(&self, _: &mut JobTx<'_>, _: ()) -> Result<serde_json::Value, JobFailure> {
///         Ok(serde_json::Value::Null)
///     }
/// }
/// impl SystemJob for Report {
///     async fn run(&self, _: &mut SystemJobTx<'_>, _: ()) -> Result<(), JobFailure> {
///         Ok(())
///     }
/// }
/// ```
pub trait JobKind: Send + Sync + 'static {
    /// The underway queue, registered in `enclave.job_queues` with this job's path. Its
    /// dead-letter queue is `<QUEUE>.dead`.
    const QUEUE: &'static str;
    /// Attempts before the job is failed and dead-lettered.
    const MAX_ATTEMPTS: i32 = 3;
    /// First retry delay; each next one doubles, up to a minute.
    const FIRST_RETRY_MS: i32 = 1_000;
    /// A running job's heartbeat period. A job whose worker died is taken up again once
    /// its heartbeat is this much overdue.
    const HEARTBEAT_SECS: i64 = 5;
    /// A job running longer than this is stopped and counts as a failed attempt.
    const TIMEOUT_SECS: i64 = 600;
    type Path: sealed::Path;
    type Input: Serialize + DeserializeOwned + Send + Sync + 'static;
}

/// A job that works on one tenant's data.
pub trait TenantJob: JobKind<Path = TenantPath> {
    /// Does the work in `tx`, which is already inside the stamped tenant context.
    /// The returned value is kept as the tracked job's result.
    fn run(
        &self,
        tx: &mut JobTx<'_>,
        input: Self::Input,
    ) -> impl Future<Output = Result<serde_json::Value, JobFailure>> + Send;
}

/// A cross-tenant job (session sweep, later billing reconciliation).
pub trait SystemJob: JobKind<Path = SystemPath> {
    fn run(
        &self,
        tx: &mut SystemJobTx<'_>,
        input: Self::Input,
    ) -> impl Future<Output = Result<(), JobFailure>> + Send;
}

/// Why an attempt failed, in words a person can act on (they are shown on the job).
#[derive(Debug, thiserror::Error)]
pub enum JobFailure {
    /// Another attempt may succeed (a provider timed out, the database was busy).
    #[error("{0}")]
    Retry(String),
    /// Another attempt would fail the same way (the campaign is gone, bad settings).
    #[error("{0}")]
    Stop(String),
}

/// Words shown on the job. The database's own text names tables and constraints, so
/// it goes to the log under a reference and the job shows the reference.
impl From<TenantError> for JobFailure {
    fn from(e: TenantError) -> Self {
        let reference = || {
            let reference = crate::new_reference();
            tracing::warn!(%reference, error = %e, "job step failed in the database");
            reference
        };
        match &e {
            TenantError::Database(_) | TenantError::Unavailable(_) | TenantError::Queue(_) => {
                JobFailure::Retry(format!(
                    "the database could not finish the work (reference {})",
                    reference()
                ))
            }
            TenantError::Conflict(_) => {
                JobFailure::Retry("someone else changed the same data at the same moment".into())
            }
            // Words a database function wrote for people.
            TenantError::Refused(words)
            | TenantError::Rejected(words)
            | TenantError::OverLimit(words)
            | TenantError::SignInAgain(words) => JobFailure::Stop(words.clone()),
            TenantError::NoAccess(_) => JobFailure::Stop(format!(
                "the job was not allowed to change this workspace (reference {})",
                reference()
            )),
            TenantError::BadInput(_) => JobFailure::Stop(format!(
                "the database refused a value the job wrote (reference {})",
                reference()
            )),
        }
    }
}

impl From<sqlx::Error> for JobFailure {
    fn from(e: sqlx::Error) -> Self {
        TenantError::from(e).into()
    }
}

/// The tenant a task belongs to, as the database stamped it at enqueue.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub struct Stamp {
    pub org: Uuid,
    pub workspace: Option<Uuid>,
    pub user: Uuid,
}

/// A task's input as stored in `underway.task`. `tenant` is never serialized by us: the
/// database writes it (`enclave.stamp_job_task`) and the worker reads it.
#[derive(Debug, Serialize, Deserialize)]
pub struct Envelope<I> {
    #[serde(default, skip_serializing)]
    tenant: Option<Stamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    job: Option<Uuid>,
    input: I,
}

impl<I> Envelope<I> {
    /// What a caller can put in a task: the tracked job's id (if any) and the input.
    pub fn new(job: Option<Uuid>, input: I) -> Self {
        Self {
            tenant: None,
            job,
            input,
        }
    }
}

fn retry_policy<J: JobKind>() -> RetryPolicy {
    RetryPolicy::builder()
        .max_attempts(J::MAX_ATTEMPTS)
        .initial_interval_ms(J::FIRST_RETRY_MS)
        .max_interval_ms(60_000)
        .backoff_coefficient(2.0)
        .build()
}

/// Status and progress of a tracked job, each in its own short tenant transaction so
/// they are visible while the job's own transaction is still open.
#[derive(Clone)]
struct Tracker {
    pool: PgPool,
    persistent: bool,
    key: crate::ContextKey,
    stamp: Stamp,
    job: Option<Uuid>,
}

impl Tracker {
    /// A short transaction of its own in the stamped context.
    async fn begin(&self) -> Result<Transaction<'static, Postgres>, TenantError> {
        let mut tx = begin_detached(&self.pool).await?;
        enter(
            &mut tx,
            &self.key,
            self.stamp.org,
            self.stamp.workspace,
            self.stamp.user,
            self.persistent,
        )
        .await?;
        Ok(tx)
    }

    /// `enclave.set_job_status`; returns the attempt count (None for an untracked job).
    async fn status(&self, status: &str, error: Option<&str>) -> Result<Option<i32>, TenantError> {
        let Some(job) = self.job else {
            return Ok(None);
        };
        let mut tx = self.begin().await?;
        let attempts: i32 = sqlx::query_scalar("SELECT enclave.set_job_status($1, $2, $3, NULL)")
            .persistent(self.persistent)
            .bind(job)
            .bind(status)
            .bind(error)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(attempts))
    }

    async fn progress(&self, percent: i32, step: &str) -> Result<(), TenantError> {
        let Some(job) = self.job else {
            return Ok(());
        };
        let mut tx = self.begin().await?;
        sqlx::query("SELECT enclave.set_job_progress($1, $2, $3)")
            .persistent(self.persistent)
            .bind(job)
            .bind(percent)
            .bind(step)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Statement builders that respect the pool's statement mode (unnamed behind pgbouncer).
macro_rules! statement_builders {
    () => {
        pub fn query<'q>(&self, sql: &'q str) -> Query<'q, Postgres, PgArguments> {
            sqlx::query(sql).persistent(self.persistent)
        }
        pub fn query_as<'q, T>(&self, sql: &'q str) -> QueryAs<'q, Postgres, T, PgArguments>
        where
            T: for<'r> FromRow<'r, PgRow>,
        {
            sqlx::query_as(sql).persistent(self.persistent)
        }
        pub fn query_scalar<'q, T>(&self, sql: &'q str) -> QueryScalar<'q, Postgres, T, PgArguments>
        where
            (T,): for<'r> FromRow<'r, PgRow>,
        {
            sqlx::query_scalar(sql).persistent(self.persistent)
        }
    };
}

/// A tenant job's transaction: the worker's savepoint, already inside the stamped
/// context. It commits with underway's "succeeded" mark, or not at all.
pub struct JobTx<'a> {
    tx: Transaction<'a, Postgres>,
    persistent: bool,
    tracker: Tracker,
}

impl JobTx<'_> {
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
    statement_builders!();
    /// The tracked job this task belongs to, if any.
    pub fn job_id(&self) -> Option<Uuid> {
        self.tracker.job
    }
    /// The tenant the job runs for (from the stamp, already entered).
    pub fn stamp(&self) -> Stamp {
        self.tracker.stamp
    }
    /// Reports progress (0–100 and the step's name) so people see it at once. A failure
    /// to report is logged, never fatal to the job.
    pub async fn progress(&self, percent: i32, step: &str) {
        self.reporter().progress(percent, step).await
    }
    /// A transaction of its own in the job's stamped context, committed whatever becomes
    /// of the job's: for what must outlive a failed attempt (a provider's rotated refresh
    /// token, without which the connection is lost).
    pub async fn separate(&self) -> Result<crate::TenantTx, TenantError> {
        Ok(crate::TenantTx::from_parts(
            self.tracker.begin().await?,
            self.tracker.persistent,
            Some(self.tracker.stamp.org),
        ))
    }
    /// A progress handle that does not borrow the transaction, for code that holds the
    /// transaction mutably while it reports.
    pub fn reporter(&self) -> ProgressReporter {
        ProgressReporter {
            tracker: self.tracker.clone(),
        }
    }
}

/// Reports a tracked job's progress in its own short transactions.
pub struct ProgressReporter {
    tracker: Tracker,
}

impl ProgressReporter {
    pub async fn progress(&self, percent: i32, step: &str) {
        if let Err(e) = self.tracker.progress(percent, step).await {
            tracing::warn!(job = ?self.tracker.job, error = %e, "could not record job progress");
        }
    }
}

impl crate::Statements for JobTx<'_> {
    fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
    fn persistent(&self) -> bool {
        self.persistent
    }
}
impl TenantScoped for JobTx<'_> {
    fn org_id(&self) -> Option<Uuid> {
        Some(self.tracker.stamp.org)
    }
}

/// A system job's transaction: the worker's savepoint, on the audited system path.
pub struct SystemJobTx<'a> {
    tx: Transaction<'a, Postgres>,
    persistent: bool,
}

impl SystemJobTx<'_> {
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
    statement_builders!();
}

impl crate::Statements for SystemJobTx<'_> {
    fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
    fn persistent(&self) -> bool {
        self.persistent
    }
}
impl crate::SystemPathTx for SystemJobTx<'_> {}

/// underway's task for a [`TenantJob`]: refuses a task without a stamp, enters the
/// stamped context, keeps the tracked job's status.
pub struct TenantTask<J> {
    job: Arc<J>,
    pool: PgPool,
    persistent: bool,
    key: crate::ContextKey,
}

impl<J> Clone for TenantTask<J> {
    fn clone(&self) -> Self {
        Self {
            job: Arc::clone(&self.job),
            pool: self.pool.clone(),
            persistent: self.persistent,
            key: self.key.clone(),
        }
    }
}

impl<J: TenantJob> TenantTask<J> {
    /// One attempt: marks the tracked job running, runs it in its context, records a
    /// failure (retrying, or failed when no attempt is left or retrying cannot help).
    async fn attempt(
        &self,
        tx: Transaction<'_, Postgres>,
        tracker: Tracker,
        input: J::Input,
    ) -> underway::task::Result<()> {
        let attempt = match tracker.status("running", None).await {
            Ok(attempt) => attempt,
            // The job was finished (or failed for good) already: nothing left to do.
            Err(TenantError::Conflict(_)) => {
                tracing::info!("job already finished; task closed without running it");
                return Ok(());
            }
            Err(e) => return Err(TaskError::Retryable(e.to_string())),
        };
        let Err(failure) = self.run_in_context(tx, tracker.clone(), input).await else {
            return Ok(());
        };
        let last =
            matches!(failure, JobFailure::Stop(_)) || attempt.is_some_and(|a| a >= J::MAX_ATTEMPTS);
        let message = failure.to_string();
        tracing::warn!(attempt, last, error = %message, "job attempt failed");
        let status = if last { "failed" } else { "retrying" };
        if let Err(e) = tracker.status(status, Some(&message)).await {
            tracing::error!(error = %e, "could not record the job's failure");
        }
        Err(if last {
            TaskError::Fatal(message)
        } else {
            TaskError::Retryable(message)
        })
    }

    async fn run_in_context(
        &self,
        mut tx: Transaction<'_, Postgres>,
        tracker: Tracker,
        input: J::Input,
    ) -> Result<(), JobFailure> {
        let stamp = tracker.stamp;
        if let Err(e) = enter(
            &mut tx,
            &tracker.key,
            stamp.org,
            stamp.workspace,
            stamp.user,
            self.persistent,
        )
        .await
        {
            return Err(if e.is_no_access() {
                JobFailure::Stop(
                    "the person who started this job can no longer work in this workspace".into(),
                )
            } else {
                e.into()
            });
        }
        let mut job_tx = JobTx {
            tx,
            persistent: self.persistent,
            tracker,
        };
        let result = self.job.run(&mut job_tx, input).await?;
        if let Some(job) = job_tx.tracker.job {
            // "done" commits with the job's writes: never done without them.
            sqlx::query("SELECT enclave.set_job_status($1, 'done', NULL, $2)")
                .persistent(self.persistent)
                .bind(job)
                .bind(result)
                .execute(&mut *job_tx.tx)
                .await?;
        }
        job_tx.tx.commit().await?;
        Ok(())
    }
}

impl<J: TenantJob> Task for TenantTask<J> {
    type Input = Envelope<J::Input>;
    type Output = ();

    async fn execute(
        &self,
        tx: Transaction<'_, Postgres>,
        envelope: Self::Input,
    ) -> underway::task::Result<()> {
        let Some(stamp) = envelope.tenant else {
            tracing::error!(
                queue = J::QUEUE,
                "refused a tenant job without a tenant stamp"
            );
            return Err(TaskError::Fatal(
                "this job has no tenant context, so it was not run".into(),
            ));
        };
        let tracker = Tracker {
            pool: self.pool.clone(),
            persistent: self.persistent,
            key: self.key.clone(),
            stamp,
            job: envelope.job,
        };
        // Every log line of the attempt (the job's own too) names the tenant and job.
        let span = tracing::info_span!("job", queue = J::QUEUE, org = %stamp.org,
            workspace = ?stamp.workspace, job = ?envelope.job);
        self.attempt(tx, tracker, envelope.input)
            .instrument(span)
            .await
    }

    fn retry_policy(&self) -> RetryPolicy {
        retry_policy::<J>()
    }
    fn timeout(&self) -> Span {
        J::TIMEOUT_SECS.seconds()
    }
    fn heartbeat(&self) -> Span {
        J::HEARTBEAT_SECS.seconds()
    }
}

/// underway's task for a [`SystemJob`]: writes the system audit row, then runs.
pub struct SystemTask<J> {
    job: Arc<J>,
    persistent: bool,
    key: crate::ContextKey,
}

impl<J> Clone for SystemTask<J> {
    fn clone(&self) -> Self {
        Self {
            job: Arc::clone(&self.job),
            persistent: self.persistent,
            key: self.key.clone(),
        }
    }
}

impl<J: SystemJob> Task for SystemTask<J> {
    type Input = Envelope<J::Input>;
    type Output = ();

    async fn execute(
        &self,
        mut tx: Transaction<'_, Postgres>,
        envelope: Self::Input,
    ) -> underway::task::Result<()> {
        if envelope.tenant.is_some() {
            return Err(TaskError::Fatal(
                "a system job must not carry a tenant stamp".into(),
            ));
        }
        let audit = sqlx::query("SELECT enclave.open_system_path($1, 'run job', '{}', $2)")
            .persistent(self.persistent)
            .bind(format!("job:{}", J::QUEUE))
            .bind(self.key.system_proof())
            .execute(&mut *tx)
            .await;
        if let Err(e) = audit {
            return Err(TaskError::Retryable(e.to_string()));
        }
        let mut job_tx = SystemJobTx {
            tx,
            persistent: self.persistent,
        };
        match self.job.run(&mut job_tx, envelope.input).await {
            Ok(()) => job_tx
                .tx
                .commit()
                .await
                .map_err(|e| TaskError::Retryable(e.to_string())),
            Err(JobFailure::Stop(m)) => Err(TaskError::Fatal(m)),
            Err(JobFailure::Retry(m)) => Err(TaskError::Retryable(m)),
        }
    }

    fn retry_policy(&self) -> RetryPolicy {
        retry_policy::<J>()
    }
    fn timeout(&self) -> Span {
        J::TIMEOUT_SECS.seconds()
    }
    fn heartbeat(&self) -> Span {
        J::HEARTBEAT_SECS.seconds()
    }
}

fn queue_error(e: underway::queue::Error) -> TenantError {
    match e {
        underway::queue::Error::Database(db) => TenantError::from(db),
        other => TenantError::Queue(other.to_string()),
    }
}

/// Builds queues on one pool. Held by the server binary (web and worker).
#[derive(Clone)]
pub struct Jobs {
    pool: PgPool,
    persistent: bool,
    key: crate::ContextKey,
}

impl Jobs {
    pub(crate) fn new(pool: PgPool, persistent: bool, key: crate::ContextKey) -> Self {
        Self {
            pool,
            persistent,
            key,
        }
    }

    /// Refuses a queue the database does not register for `path`.
    async fn check_registered(&self, queue: &str, path: &str) -> Result<(), TenantError> {
        let registered: Option<String> =
            sqlx::query_scalar("SELECT path FROM enclave.job_queues WHERE name = $1")
                .persistent(self.persistent)
                .bind(queue)
                .fetch_optional(&self.pool)
                .await?;
        match registered {
            Some(p) if p == path => Ok(()),
            Some(p) => Err(TenantError::Queue(format!(
                "queue {queue} is registered for the {p} path, not the {path} path"
            ))),
            None => Err(TenantError::Queue(format!(
                "queue {queue} is not registered in enclave.job_queues"
            ))),
        }
    }

    async fn build<T: Task>(&self, name: &str) -> Result<Arc<Queue<T>>, TenantError> {
        let queue = Queue::builder()
            .name(name)
            .dead_letter_queue(format!("{name}.dead"))
            .pool(self.pool.clone())
            .build()
            .await
            .map_err(queue_error)?;
        Ok(Arc::new(queue))
    }

    pub async fn tenant_queue<J: TenantJob>(&self, job: J) -> Result<TenantQueue<J>, TenantError> {
        self.check_registered(J::QUEUE, <J::Path as sealed::Path>::NAME)
            .await?;
        Ok(TenantQueue {
            queue: self.build(J::QUEUE).await?,
            task: TenantTask {
                job: Arc::new(job),
                pool: self.pool.clone(),
                persistent: self.persistent,
                key: self.key.clone(),
            },
        })
    }

    pub async fn system_queue<J: SystemJob>(&self, job: J) -> Result<SystemQueue<J>, TenantError> {
        self.check_registered(J::QUEUE, <J::Path as sealed::Path>::NAME)
            .await?;
        Ok(SystemQueue {
            queue: self.build(J::QUEUE).await?,
            task: SystemTask {
                job: Arc::new(job),
                persistent: self.persistent,
                key: self.key.clone(),
            },
            pool: self.pool.clone(),
        })
    }
}

/// A queue of tenant jobs.
pub struct TenantQueue<J: TenantJob> {
    queue: Arc<Queue<TenantTask<J>>>,
    task: TenantTask<J>,
}

impl<J: TenantJob> Clone for TenantQueue<J> {
    fn clone(&self) -> Self {
        Self {
            queue: Arc::clone(&self.queue),
            task: self.task.clone(),
        }
    }
}

impl<J: TenantJob> TenantQueue<J> {
    /// Enqueues inside the caller's tenant transaction: it commits or rolls back with
    /// the caller's writes, and the database stamps it with the transaction's tenant.
    /// `job` is the tracked job (`enclave.create_job`) it reports to, if any.
    pub async fn enqueue(
        &self,
        tx: &mut TenantTx,
        job: Option<Uuid>,
        input: J::Input,
    ) -> Result<Uuid, TenantError> {
        let id = self
            .queue
            .enqueue(tx.conn(), &self.task, &Envelope::new(job, input))
            .await
            .map_err(queue_error)?;
        Ok(*id)
    }

    /// A worker for this queue (underway's: `FOR UPDATE SKIP LOCKED`, retries with
    /// backoff, dead-lettering, heartbeats).
    pub fn worker(&self, concurrency: usize, shutdown: CancellationToken) -> Worker<TenantTask<J>> {
        let mut worker = Worker::new(Arc::clone(&self.queue), self.task.clone());
        worker.set_concurrency_limit(concurrency.max(1));
        worker.set_shutdown_token(shutdown);
        worker
    }
}

/// A queue of system jobs.
pub struct SystemQueue<J: SystemJob> {
    queue: Arc<Queue<SystemTask<J>>>,
    task: SystemTask<J>,
    pool: PgPool,
}

impl<J: SystemJob> Clone for SystemQueue<J> {
    fn clone(&self) -> Self {
        Self {
            queue: Arc::clone(&self.queue),
            task: self.task.clone(),
            pool: self.pool.clone(),
        }
    }
}

impl<J: SystemJob> SystemQueue<J> {
    /// Enqueues outside any tenant context (the database refuses a system job enqueued
    /// inside one).
    pub async fn enqueue(&self, input: J::Input) -> Result<Uuid, TenantError> {
        let id = self
            .queue
            .enqueue(&self.pool, &self.task, &Envelope::new(None, input))
            .await
            .map_err(queue_error)?;
        Ok(*id)
    }

    /// Enqueues this job on a cron schedule (seconds first, UTC), replacing any earlier
    /// schedule of the queue. [`JobRunner::run_schedule`] does the enqueuing.
    pub async fn schedule(&self, cron: &str, input: J::Input) -> Result<(), TenantError> {
        let schedule = ZonedSchedule::new(cron, "UTC")
            .map_err(|e| TenantError::Queue(format!("schedule {cron:?}: {e}")))?;
        self.queue
            .schedule(&self.pool, &schedule, &Envelope::new(None, input))
            .await
            .map_err(queue_error)
    }

    pub fn worker(&self, concurrency: usize, shutdown: CancellationToken) -> Worker<SystemTask<J>> {
        let mut worker = Worker::new(Arc::clone(&self.queue), self.task.clone());
        worker.set_concurrency_limit(concurrency.max(1));
        worker.set_shutdown_token(shutdown);
        worker
    }
}

/// Runs workers until [`JobRunner::shutdown`]: then each finishes the jobs it holds
/// (up to their timeout) and stops taking new ones; a job cut off by a crash is taken
/// up again by any worker once its heartbeat is overdue.
///
/// The runner also follows whether the database answers ([`crate::Probe::watch`]):
/// underway's loops do not
/// survive an outage well. A worker's listeners fail at once on every call while the
/// database is away, and it logs each failure in a tight loop; a scheduler counts each
/// failure as one occurrence of its schedule, so after an outage it waits for a time far
/// in the future, its lock gone with its connection, and nothing is scheduled any more.
/// So while the database does not answer, workers and schedulers are stopped, and they
/// are started afresh when it answers again.
pub struct JobRunner {
    shutdown: CancellationToken,
    workers: JoinSet<()>,
    answering: Option<crate::Answering>,
}

impl Default for JobRunner {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs `run` while the database answers: stopped (dropped) when it stops answering,
/// started again when it answers. Ends when `run` ends with the shutdown token cancelled.
async fn while_database_answers<F, Fut>(
    mut watch: crate::Answering,
    shutdown: CancellationToken,
    mut run: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    while !shutdown.is_cancelled() {
        // (The watch's guard is dropped inside each wait: it must not live across an await.)
        tokio::select! {
            _ = shutdown.cancelled() => break,
            open = async { watch.wait_for(|up| *up).await.is_ok() } => if !open { break },
        }
        tokio::select! {
            // `run` says whether to pause before it is started again.
            pause = run() => {
                if pause {
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                    }
                }
            }
            // (Were the watch's task ever gone, `run` would go on.)
            _ = async {
                if watch.wait_for(|up| !*up).await.is_err() {
                    std::future::pending::<()>().await
                }
            } => {}
        }
    }
}

impl JobRunner {
    pub fn new() -> Self {
        Self {
            shutdown: CancellationToken::new(),
            workers: JoinSet::new(),
            answering: None,
        }
    }

    /// Follows an existing watch of the same database (`serve` shares the web's) instead
    /// of starting one for the first queue's pool.
    pub fn follow(&mut self, answering: crate::Answering) {
        self.answering = Some(answering);
    }

    pub fn token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    fn watch(&mut self, pool: &PgPool) -> crate::Answering {
        self.answering
            .get_or_insert_with(|| crate::Probe::of(pool).watch())
            .clone()
    }

    fn spawn<T: Task + Sync>(&mut self, name: &'static str, pool: &PgPool, worker: Worker<T>) {
        let watch = self.watch(pool);
        let shutdown = self.shutdown.clone();
        let worker = Arc::new(worker);
        self.workers.spawn(while_database_answers(watch, shutdown, move || {
            let worker = Arc::clone(&worker);
            async move {
                // Polls every second besides underway's NOTIFY wake-ups, so retries and
                // jobs whose worker died are picked up promptly.
                match worker.run_every(1.second()).await {
                    Ok(()) => false,
                    Err(e) => {
                        tracing::error!(queue = name, error = %e, "job worker failed; starting it again");
                        true
                    }
                }
            }
        }));
    }

    pub fn run_tenant<J: TenantJob>(&mut self, queue: &TenantQueue<J>, concurrency: usize) {
        let worker = queue.worker(concurrency, self.shutdown.clone());
        self.spawn(J::QUEUE, &queue.task.pool, worker);
    }

    pub fn run_system<J: SystemJob>(&mut self, queue: &SystemQueue<J>, concurrency: usize) {
        let worker = queue.worker(concurrency, self.shutdown.clone());
        self.spawn(J::QUEUE, &queue.pool, worker);
    }

    /// Enqueues the queue's scheduled job on time. One process in the cluster holds the
    /// schedule (an advisory lock); the others look again every 30 seconds and take over
    /// if it goes away.
    pub fn run_schedule<J: SystemJob>(&mut self, queue: &SystemQueue<J>) {
        let mut scheduler = Scheduler::new(Arc::clone(&queue.queue), queue.task.clone());
        scheduler.set_shutdown_token(self.shutdown.clone());
        let scheduler = Arc::new(scheduler);
        let watch = self.watch(&queue.pool);
        let shutdown = self.shutdown.clone();
        self.workers
            .spawn(while_database_answers(watch, shutdown.clone(), move || {
                let scheduler = Arc::clone(&scheduler);
                let shutdown = shutdown.clone();
                async move {
                    if let Err(e) = scheduler.run().await {
                        tracing::error!(queue = J::QUEUE, error = %e, "job scheduler failed");
                    }
                    // Another process holds the schedule (or this one failed): look again later.
                    tokio::select! {
                        _ = shutdown.cancelled() => {}
                        _ = tokio::time::sleep(std::time::Duration::from_secs(30)) => {}
                    }
                    false
                }
            }));
    }

    /// Stops taking jobs and waits for the ones in flight.
    pub async fn shutdown(mut self) {
        self.shutdown.cancel();
        while self.workers.join_next().await.is_some() {}
    }
}
