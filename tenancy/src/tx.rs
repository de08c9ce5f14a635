use crate::context::{OrgKind, Role, SessionClaim, TenantContext};
use crate::error::TenantError;
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

/// The request-facing database handle. Cloning is cheap (it shares the pool).
#[derive(Clone)]
pub struct TenantDb {
    pool: PgPool,
}

/// A transaction whose first statement entered a verified tenant context
/// (`enclave.enter_context`, transaction-local). Dropping it without `commit` rolls
/// back, and the context goes with the transaction either way.
pub struct TenantTx {
    tx: Transaction<'static, Postgres>,
}

impl TenantDb {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Turns a session claim into a verified context: the database checks the
    /// membership (and the client workspace assignment) in one round trip.
    pub async fn resolve(&self, claim: SessionClaim) -> Result<TenantContext, TenantError> {
        let row = sqlx::query("SELECT * FROM enclave.resolve_context($1, $2, $3)")
            .bind(claim.org_id)
            .bind(claim.workspace_id)
            .bind(claim.user_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or_else(|| TenantError::NoAccess("membership not found".into()))?;
        let kind: String = row.try_get("org_kind")?;
        let role: String = row.try_get("role")?;
        Ok(TenantContext {
            org_id: row.try_get("org_id")?,
            workspace_id: row.try_get("workspace_id")?,
            user_id: claim.user_id,
            role: Role::parse(&role)
                .ok_or_else(|| TenantError::Rejected(format!("unknown role {role}")))?,
            org_kind: OrgKind::parse(&kind)
                .ok_or_else(|| TenantError::Rejected(format!("unknown kind {kind}")))?,
            org_name: row.try_get("org_name")?,
            workspace_name: row.try_get("workspace_name")?,
            user_name: row.try_get("user_name")?,
            user_email: row.try_get("user_email")?,
        })
    }

    /// Opens a tenant-scoped transaction. `BEGIN` and the context statement travel
    /// together; everything run on [`TenantTx::conn`] sees only this tenant.
    pub async fn begin(&self, ctx: &TenantContext) -> Result<TenantTx, TenantError> {
        let mut tx = self.pool.begin().await?;
        enter(&mut tx, ctx).await?;
        Ok(TenantTx { tx })
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
        Ok(sqlx::query_as::<_, T>(read.sql)
            .bind(ctx.org_id)
            .bind(ctx.workspace_id)
            .bind(ctx.user_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// Demo accounts for the development sign-in page. The database refuses unless it
    /// is stamped `development`, and audits the call as a system-path use.
    pub async fn dev_demo_accounts(&self) -> Result<Vec<DemoAccount>, TenantError> {
        Ok(
            sqlx::query_as::<_, DemoAccount>("SELECT * FROM enclave.dev_demo_accounts()")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    /// The stamped environment of the database (`enclave.instance`).
    pub async fn stamped_environment(&self) -> Result<Option<String>, TenantError> {
        Ok(
            sqlx::query_scalar("SELECT environment FROM enclave.instance")
                .fetch_optional(&self.pool)
                .await?,
        )
    }
}

pub(crate) async fn enter(conn: &mut PgConnection, ctx: &TenantContext) -> Result<(), TenantError> {
    sqlx::query("SELECT enclave.enter_context($1, $2, $3)")
        .bind(ctx.org_id)
        .bind(ctx.workspace_id)
        .bind(ctx.user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// A single-statement tenant read function. Only `enclave.read_*` functions qualify:
/// they take (org, workspace, user) first and enter the context themselves.
#[derive(Debug, Clone, Copy)]
pub struct TenantRead {
    sql: &'static str,
}

impl TenantRead {
    /// `sql` must be `SELECT ... FROM enclave.read_<name>($1, $2, $3)`.
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
    /// The connection inside the tenant context, for queries and router calls.
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
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
