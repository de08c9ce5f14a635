use crate::context_key::ContextKey;
use crate::error::TenantError;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// A transaction on the audited system path, whoever opened it: an operator command
/// ([`SystemTx`]) or a system job ([`crate::SystemJobTx`]). Work shared by both (billing's
/// sync runs from the webhook's job and from reconciliation) takes this.
pub trait SystemPathTx: crate::Statements {}

impl crate::Statements for SystemTx {
    fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
    fn persistent(&self) -> bool {
        self.persistent
    }
}
impl SystemPathTx for SystemTx {}

/// The explicitly named cross-tenant path. Held by the server binary (operator
/// commands, seeding, later billing and system jobs), never handed to request handlers.
#[derive(Clone)]
pub struct SystemDb {
    pool: PgPool,
    persistent: bool,
    key: ContextKey,
}

/// A transaction on the system path. Its first statement writes a `system` row to
/// `enclave.audit_log`; the database's `enclave.system_path_active()` is true only in a
/// transaction that did so.
pub struct SystemTx {
    tx: Transaction<'static, Postgres>,
    persistent: bool,
    key: ContextKey,
}

impl SystemDb {
    pub(crate) fn new(pool: PgPool, persistent: bool, key: ContextKey) -> Self {
        Self {
            pool,
            persistent,
            key,
        }
    }

    /// `actor` names who uses the path (a command, a job type); `action` says why.
    pub async fn begin(
        &self,
        actor: &str,
        action: &str,
        detail: serde_json::Value,
    ) -> Result<SystemTx, TenantError> {
        let mut tx = crate::tx::begin_detached(&self.pool).await?;
        sqlx::query("SELECT enclave.open_system_path($1, $2, $3, $4)")
            .persistent(self.persistent)
            .bind(actor)
            .bind(action)
            .bind(detail)
            .bind(self.key.system_proof())
            .execute(&mut *tx)
            .await?;
        Ok(SystemTx {
            tx,
            persistent: self.persistent,
            key: self.key.clone(),
        })
    }
}

impl SystemDb {
    /// A connection listening for a database notification channel (for example
    /// `enclave_mail_queued`). Notifications carry no tenant data, only "look again".
    pub async fn listen(&self, channel: &str) -> Result<sqlx::postgres::PgListener, TenantError> {
        let mut listener = sqlx::postgres::PgListener::connect_with(&self.pool).await?;
        listener.listen(channel).await?;
        Ok(listener)
    }
}

impl SystemTx {
    pub fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// Acts as a member of one tenant inside the system transaction (e.g. seeding as
    /// the organization's owner). The context is transaction-local like any other.
    pub async fn enter_tenant(
        &mut self,
        org_id: Uuid,
        workspace_id: Option<Uuid>,
        user_id: Uuid,
    ) -> Result<(), TenantError> {
        crate::tx::enter(
            &mut self.tx,
            &self.key,
            org_id,
            workspace_id,
            user_id,
            self.persistent,
        )
        .await
    }

    pub async fn commit(self) -> Result<(), TenantError> {
        self.tx.commit().await?;
        Ok(())
    }
}
