//! The only door to tenant data.
//!
//! * [`TenantDb`] is what request handlers get. It can resolve a session's claim into a
//!   [`TenantContext`] (the membership the database confirmed), open a [`TenantTx`]
//!   for that context, or run a single-statement tenant read. It never hands out the
//!   pool or a connection without a context.
//! * [`SystemDb`] is the explicitly named cross-tenant path (operator commands, seeding,
//!   later billing). Every [`SystemTx`] writes a `system` row to `enclave.audit_log` as its
//!   first statement, and the database's system-path check only passes in a transaction
//!   that did so.
//! * [`Database`] owns the pool and is split into the two at start-up; only the server
//!   binary holds a [`SystemDb`].
//! * [`AdminDb`] is the platform admins' console's handle: every [`AdminTx`] starts with
//!   `enclave.admin_begin`, which writes the audit row naming the admin and refuses
//!   anyone who is not a platform admin at that moment.

mod admin;
mod context;
mod context_key;
mod error;
mod identity;
mod jobs;
mod page;
mod sessions;
mod system;
mod tx;

pub use admin::{AdminAction, AdminClaim, AdminDb, AdminTx};
pub use context::{OrgKind, Role, SessionClaim, TenantContext};
pub use context_key::ContextKey;
pub use error::{is_unavailable_text, new_reference, TenantError};

pub use identity::{UserContext, VerifiedIdentity};
pub use jobs::{
    CancellationToken, Envelope, JobFailure, JobKind, JobRunner, JobTx, Jobs, ProgressReporter,
    Stamp, SystemJob, SystemJobTx, SystemPath, SystemQueue, SystemTask, TenantJob, TenantPath,
    TenantQueue, TenantTask,
};
pub use page::{ClientWorkspace, Membership, PageContext, PageTx};
pub use sessions::{IndexedSessionStore, SESSION_USER_KEY};
pub use system::{SystemDb, SystemPathTx, SystemTx};
pub use tx::{DemoAccount, Statements, TenantDb, TenantRead, TenantScoped, TenantTx};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use std::str::FromStr;
use std::time::Duration;

/// Owner of the runtime connection pool. Split it with [`Database::split`]; the pool
/// itself never leaves this crate.
pub struct Database {
    pool: PgPool,
    /// Named (server-side prepared) statements; off behind pgbouncer's transaction mode.
    persistent: bool,
    /// Proves to the database which user (or the system path) a transaction is for.
    key: ContextKey,
}

/// Asks the database whether it answers, and nothing else, on a connection of its own: a
/// pool busy with long jobs must not look like a database that is down.
pub struct Probe {
    options: PgConnectOptions,
    conn: tokio::sync::Mutex<Option<sqlx::PgConnection>>,
}

/// Whether the database answers now (true: it does), as [`Probe::watch`] keeps it.
pub type Answering = tokio::sync::watch::Receiver<bool>;

/// How often [`Probe::watch`] asks, and how long an answer may take.
const WATCH_EVERY: Duration = Duration::from_millis(250);
const ANSWER_WITHIN: Duration = Duration::from_secs(2);

impl Probe {
    pub(crate) fn of(pool: &PgPool) -> Self {
        Self {
            options: pool.connect_options().as_ref().clone(),
            conn: tokio::sync::Mutex::new(None),
        }
    }

    /// One `SELECT 1`, connecting first when there is no connection (or it broke).
    pub async fn ping(&self) -> Result<(), TenantError> {
        let mut kept = self.conn.lock().await;
        let mut conn = match kept.take() {
            Some(conn) => conn,
            None => sqlx::Connection::connect_with(&self.options).await?,
        };
        // The simple query protocol: one message, so it also holds behind a pooler in
        // transaction mode, where an unnamed statement's Parse and Bind can reach
        // different server connections ("unnamed prepared statement does not exist").
        sqlx::Executor::execute(&mut conn, "SELECT 1").await?;
        *kept = Some(conn);
        Ok(())
    }

    /// Asks every 250 ms, in a task of its own, and keeps the answer in the returned
    /// receiver: the web's 503 gate and the job runner both follow it. Each change is
    /// logged once; the task ends when no receiver is left.
    pub fn watch(self) -> Answering {
        let (up, answering) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            let mut every = tokio::time::interval(WATCH_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            while !up.is_closed() {
                every.tick().await;
                let answered = match tokio::time::timeout(ANSWER_WITHIN, self.ping()).await {
                    Ok(answered) => answered.map_err(|e| e.to_string()),
                    Err(_) => Err(format!("no answer within {} s", ANSWER_WITHIN.as_secs())),
                };
                if *up.borrow() != answered.is_ok() {
                    match &answered {
                        Ok(()) => tracing::info!("the database answers again"),
                        Err(why) => tracing::warn!(%why, "the database does not answer"),
                    }
                    up.send_replace(answered.is_ok());
                }
            }
        });
        answering
    }
}

/// Pool settings that matter for tenancy and for pgbouncer in transaction mode.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    pub max_connections: u32,
    /// Unnamed statements only: required behind pgbouncer in transaction pooling, where
    /// named statements clash between clients. (A statement cache of 0 is not enough:
    /// sqlx still names its statements; `server/tests/pgbouncer.rs` shows the clash.)
    pub pgbouncer_compatible: bool,
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 10,
            pgbouncer_compatible: false,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Database {
    pub async fn connect(
        url: &str,
        settings: PoolSettings,
        key: ContextKey,
    ) -> Result<Self, TenantError> {
        let mut options = PgConnectOptions::from_str(url)?.application_name("enclave");
        if settings.pgbouncer_compatible {
            options = options.statement_cache_capacity(0);
        }
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // A connection keeps its largest message's buffers (a 10 MB import file in a
            // bind parameter, or read back): give them back when it returns to the pool,
            // or every pooled connection ends up holding one.
            .after_release(|conn, _| {
                Box::pin(async move {
                    sqlx::Connection::shrink_buffers(conn);
                    Ok(true)
                })
            })
            .connect_with(options)
            .await?;
        Ok(Self {
            pool,
            persistent: !settings.pgbouncer_compatible,
            key,
        })
    }

    /// Whether the database holds this process's context key (`enclave migrate` writes
    /// it from ENCLAVE_SECRET_KEYS). Without it every context is refused, so `serve` and
    /// `worker` check at start-up and refuse to start, naming the key.
    pub async fn context_key_installed(&self) -> Result<bool, TenantError> {
        // In a transaction: behind a pooler in transaction mode an unnamed statement's Parse
        // and Bind may otherwise reach different server connections.
        let mut tx = self.pool.begin().await?;
        let installed = self.key.installed_in(&mut *tx).await?;
        tx.commit().await?;
        Ok(installed)
    }

    /// The key this process proves its contexts with.
    pub fn context_key(&self) -> &ContextKey {
        &self.key
    }

    /// A handle that can only ask whether the database answers ([`Probe::watch`]).
    pub fn probe(&self) -> Probe {
        Probe::of(&self.pool)
    }

    /// Wraps an existing pool (tests use it to share a size-1 pool with bare checks).
    pub fn from_pool(pool: PgPool, key: ContextKey) -> Self {
        Self {
            pool,
            persistent: true,
            key,
        }
    }

    /// The session store shares the runtime pool; its tables live in `tower_sessions`,
    /// outside the tenant schemas.
    pub fn session_store(&self) -> IndexedSessionStore {
        IndexedSessionStore::new(self.pool.clone())
    }

    /// Queues and workers on this pool (see [`jobs`](crate::Jobs)).
    pub fn jobs(&self) -> Jobs {
        Jobs::new(self.pool.clone(), self.persistent, self.key.clone())
    }

    /// The audited system path alone, for the binary's system jobs that open their own
    /// transactions (billing reconciliation: one per Stripe customer).
    pub fn system(&self) -> SystemDb {
        SystemDb::new(self.pool.clone(), self.persistent, self.key.clone())
    }

    /// The platform admins' console: transactions the database opens only for an admin.
    pub fn admin(&self) -> AdminDb {
        AdminDb::new(self.pool.clone(), self.persistent, self.key.clone())
    }

    /// Splits into the request-facing half and the audited system path.
    pub fn split(self) -> (TenantDb, SystemDb) {
        (
            TenantDb::new(self.pool.clone(), self.persistent, self.key.clone()),
            SystemDb::new(self.pool, self.persistent, self.key),
        )
    }
}
