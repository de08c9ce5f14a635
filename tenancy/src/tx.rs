use crate::context::{OrgKind, Role, SessionClaim, TenantContext};
use crate::context_key::ContextKey;
use crate::error::TenantError;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::{Query, QueryAs, QueryScalar};
use sqlx::{FromRow, PgConnection, PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

/// Runs one statement on the pool. Behind pgbouncer (unnamed statements) it is wrapped
/// in an explicit transaction: pgbouncer 1.18 may hand an autocommit statement's Parse and
/// Bind to different server connections ("unnamed prepared statement does not exist").
macro_rules! single_statement {
    ($db:expr, $exec:ident => $body:expr) => {{
        if $db.persistent() {
            let $exec = $db.pool();
            $body
        } else {
            let mut tx = $crate::tx::begin_detached($db.pool()).await?;
            let result = {
                let $exec = &mut *tx;
                $body
            };
            tx.commit().await?;
            result
        }
    }};
}

pub(crate) use single_statement;

/// The request-facing database handle. Cloning is cheap (it shares the pool).
#[derive(Clone)]
pub struct TenantDb {
    pool: PgPool,
    persistent: bool,
    key: ContextKey,
}

/// A transaction whose first statement entered a verified tenant context
/// (`enclave.enter_context`, transaction-local). Dropping it without `commit` rolls
/// back, and the context goes with the transaction either way.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
    persistent: bool,
    org_id: Option<Uuid>,
}

impl TenantDb {
    pub(crate) fn new(pool: PgPool, persistent: bool, key: ContextKey) -> Self {
        Self {
            pool,
            persistent,
            key,
        }
    }

    pub(crate) fn key(&self) -> &ContextKey {
        &self.key
    }

    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub(crate) fn persistent(&self) -> bool {
        self.persistent
    }

    /// Turns a session claim into a verified context: the database checks the
    /// membership (and the client workspace assignment) in one round trip.
    pub async fn resolve(&self, claim: SessionClaim) -> Result<TenantContext, TenantError> {
        let query = sqlx::query("SELECT * FROM enclave.resolve_context($1, $2, $3, $4)")
            .persistent(self.persistent)
            .bind(claim.org_id)
            .bind(claim.workspace_id)
            .bind(claim.user_id)
            .bind(self.key.user_proof(claim.user_id));
        let row = single_statement!(self, exec => query.fetch_optional(exec).await.map_err(refused_is_no_access)?)
            .ok_or_else(|| TenantError::NoAccess("membership not found".into()))?;
        let (role, org_kind) = role_and_kind(
            &row.try_get::<String, _>("role")?,
            &row.try_get::<String, _>("org_kind")?,
        )?;
        Ok(TenantContext {
            org_id: row.try_get("org_id")?,
            workspace_id: row.try_get("workspace_id")?,
            user_id: claim.user_id,
            role,
            org_kind,
            org_name: row.try_get("org_name")?,
            workspace_name: row.try_get("workspace_name")?,
            user_name: row.try_get("user_name")?,
            user_email: row.try_get("user_email")?,
        })
    }

    /// Opens a tenant-scoped transaction. `BEGIN` and the context statement travel
    /// together; everything run on [`TenantTx::conn`] sees only this tenant.
    pub async fn begin(&self, ctx: &TenantContext) -> Result<TenantTx, TenantError> {
        let mut tx = begin_detached(&self.pool).await?;
        enter(
            &mut tx,
            &self.key,
            ctx.org_id,
            ctx.workspace_id,
            ctx.user_id,
            self.persistent,
        )
        .await?;
        Ok(TenantTx {
            tx,
            persistent: self.persistent,
            org_id: Some(ctx.org_id),
        })
    }

    /// A single-statement tenant read: one round trip to a `enclave.read_*` function that
    /// enters the context transaction-locally and returns the rows (the hot path).
    pub async fn read<T>(
        &self,
        ctx: &TenantContext,
        read: TenantRead,
    ) -> Result<Vec<T>, TenantError>
    where
        T: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let query = sqlx::query_as::<_, T>(read.sql)
            .persistent(self.persistent)
            .bind(ctx.org_id)
            .bind(ctx.workspace_id)
            .bind(ctx.user_id)
            .bind(self.key.user_proof(ctx.user_id));
        Ok(single_statement!(self, exec => query.fetch_all(exec).await?))
    }

    /// Demo accounts for the development sign-in page. The database refuses unless it
    /// is stamped `development`, and audits the call as a system-path use.
    pub async fn dev_demo_accounts(&self) -> Result<Vec<DemoAccount>, TenantError> {
        let query = sqlx::query_as::<_, DemoAccount>("SELECT * FROM enclave.dev_demo_accounts()")
            .persistent(self.persistent);
        Ok(single_statement!(self, exec => query.fetch_all(exec).await?))
    }

    /// The stamped environment of the database (`enclave.instance`).
    pub async fn stamped_environment(&self) -> Result<Option<String>, TenantError> {
        let query = sqlx::query_scalar("SELECT environment FROM enclave.instance")
            .persistent(self.persistent);
        Ok(single_statement!(self, exec => query.fetch_optional(exec).await?))
    }
}

/// Whatever words the database used for refusing a claim (a context, the admin door), it
/// is "no access".
pub(crate) fn refused_is_no_access(e: sqlx::Error) -> TenantError {
    match TenantError::from(e) {
        TenantError::Refused(why) => TenantError::NoAccess(why),
        other => other,
    }
}

/// A membership's role and its organization's kind, as the database names them.
pub(crate) fn role_and_kind(role: &str, kind: &str) -> Result<(Role, OrgKind), TenantError> {
    Ok((
        Role::parse(role).ok_or_else(|| TenantError::Rejected(format!("unknown role {role}")))?,
        OrgKind::parse(kind)
            .ok_or_else(|| TenantError::Rejected(format!("unknown kind {kind}")))?,
    ))
}

/// `Pool::begin` that a dropped caller cannot leave half done. sqlx 0.8.6 (and 0.9.0)
/// count a transaction only after `BEGIN`'s reply, so a future dropped in between (a
/// client that disconnects mid-request) returns the connection to the pool inside a
/// transaction nobody ends: the next borrower's autocommit writes then never commit
/// (transact-rs/sqlx#4393). On its own task `BEGIN` always finishes; if the caller is
/// gone, the finished transaction is dropped there and rolled back as usual.
pub(crate) async fn begin_detached(
    pool: &PgPool,
) -> Result<Transaction<'static, Postgres>, TenantError> {
    let pool = pool.clone();
    tokio::spawn(async move { pool.begin().await })
        .await
        .map_err(|e| TenantError::Database(sqlx::Error::Io(std::io::Error::other(e))))?
        .map_err(TenantError::from)
}

/// The first statement of every tenant-scoped transaction, on either path.
pub(crate) async fn enter(
    conn: &mut PgConnection,
    key: &ContextKey,
    org_id: Uuid,
    workspace_id: Option<Uuid>,
    user_id: Uuid,
    persistent: bool,
) -> Result<(), TenantError> {
    sqlx::query("SELECT enclave.enter_context($1, $2, $3, $4)")
        .persistent(persistent)
        .bind(org_id)
        .bind(workspace_id)
        .bind(user_id)
        .bind(key.user_proof(user_id))
        .execute(conn)
        .await?;
    Ok(())
}

/// A single-statement tenant read function. Only `enclave.read_*` functions qualify:
/// they take (org, workspace, user, proof) and enter the context themselves.
#[derive(Debug, Clone, Copy)]
pub struct TenantRead {
    sql: &'static str,
}

impl TenantRead {
    /// `sql` must be `SELECT ... FROM enclave.read_<name>($1, $2, $3, $4)`.
    pub const fn new(sql: &'static str) -> Self {
        Self { sql }
    }
}

#[derive(Debug, Clone, FromRow)]
pub struct DemoAccount {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub org_id: Uuid,
    pub org_name: String,
    pub org_kind: String,
    pub role: String,
}

impl TenantTx {
    pub(crate) fn from_parts(
        tx: Transaction<'static, Postgres>,
        persistent: bool,
        org_id: Option<Uuid>,
    ) -> Self {
        Self {
            tx,
            persistent,
            org_id,
        }
    }

    /// The connection inside the tenant context, for queries and router calls.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Statement builders that respect the pool's statement mode (unnamed behind
    /// pgbouncer). Use these rather than `sqlx::query*` directly.
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

    pub async fn commit(self) -> Result<(), TenantError> {
        self.tx.commit().await?;
        Ok(())
    }

    pub async fn rollback(self) -> Result<(), TenantError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

/// Statement builders of a transaction that respect the pool's statement mode (unnamed
/// statements behind pgbouncer's transaction pooling). Shared by [`TenantScoped`] and
/// [`crate::SystemPathTx`], which stay distinct traits so one path's transaction is never
/// accepted where the other's is expected.
pub trait Statements: Send {
    fn conn(&mut self) -> &mut PgConnection;
    /// Named statements (false behind pgbouncer's transaction pooling).
    fn persistent(&self) -> bool;
    fn query<'q>(&self, sql: &'q str) -> Query<'q, Postgres, PgArguments> {
        sqlx::query(sql).persistent(self.persistent())
    }
    fn query_as<'q, T>(&self, sql: &'q str) -> QueryAs<'q, Postgres, T, PgArguments>
    where
        T: for<'r> FromRow<'r, PgRow>,
    {
        sqlx::query_as(sql).persistent(self.persistent())
    }
    fn query_scalar<'q, T>(&self, sql: &'q str) -> QueryScalar<'q, Postgres, T, PgArguments>
    where
        (T,): for<'r> FromRow<'r, PgRow>,
    {
        sqlx::query_scalar(sql).persistent(self.persistent())
    }
}

/// A transaction inside a verified tenant context: a request's [`TenantTx`] or a job's
/// [`JobTx`](crate::JobTx). Code that works the same for both (an import run by a
/// request or by a job) takes `&mut impl TenantScoped`; neither hands out a connection
/// without a context.
pub trait TenantScoped: Statements {
    /// The organization whose context this transaction entered (`None` in a user-only
    /// context, where tenant tables show nothing). Reads name it (`WHERE org_id = $n`):
    /// the policies decide what is visible, the key tells Citus the one shard group to
    /// ask; without it every shard is asked (ARCHITECTURE, "Scaling out").
    fn org_id(&self) -> Option<Uuid>;
}

impl Statements for TenantTx {
    fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
    fn persistent(&self) -> bool {
        self.persistent
    }
}
impl TenantScoped for TenantTx {
    fn org_id(&self) -> Option<Uuid> {
        self.org_id
    }
}
