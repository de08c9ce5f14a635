use crate::error::TenantError;
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

/// The platform admins' door to the database: it can only open [`AdminTx`]. Request
/// handlers of the admin console get this (never [`crate::SystemDb`]); whether the
/// person is an admin is decided by the database on every transaction.
#[derive(Clone)]
pub struct AdminDb {
    pool: PgPool,
    persistent: bool,
    key: crate::ContextKey,
}

/// Who asks, as the session knows them. The database checks the grant; the sign-in
/// time decides whether a change is allowed (younger than 15 minutes).
#[derive(Debug, Clone, Copy)]
pub struct AdminClaim {
    pub user_id: Uuid,
    pub signed_in_at: time::OffsetDateTime,
}

/// What the transaction is for: a read, or a change (which needs a recent sign-in).
/// Either way its audit row names the admin, the action and the organization.
#[derive(Debug, Clone)]
pub struct AdminAction {
    pub change: bool,
    pub action: String,
    pub org_id: Option<Uuid>,
    pub detail: serde_json::Value,
}

impl AdminAction {
    pub fn read(action: &str) -> Self {
        Self {
            change: false,
            action: action.to_string(),
            org_id: None,
            detail: serde_json::json!({}),
        }
    }

    pub fn change(action: &str, org_id: Option<Uuid>, detail: serde_json::Value) -> Self {
        Self {
            change: true,
            action: action.to_string(),
            org_id,
            detail,
        }
    }

    pub fn about(mut self, org_id: Uuid) -> Self {
        self.org_id = Some(org_id);
        self
    }
}

/// A transaction on the audited system path opened by `enclave.admin_begin`: its first
/// statement wrote the system audit row naming the admin, and the database refused it
/// unless the user is a platform admin at this moment (and, for a change, signed in
/// within 15 minutes).
pub struct AdminTx {
    tx: Transaction<'static, Postgres>,
    persistent: bool,
}

impl AdminDb {
    pub(crate) fn new(pool: PgPool, persistent: bool, key: crate::ContextKey) -> Self {
        Self {
            pool,
            persistent,
            key,
        }
    }

    pub async fn begin(
        &self,
        claim: AdminClaim,
        action: AdminAction,
    ) -> Result<AdminTx, TenantError> {
        let mut tx = crate::tx::begin_detached(&self.pool).await?;
        sqlx::query("SELECT enclave.admin_begin($1, $2, $3, $4, $5, $6, $7)")
            .persistent(self.persistent)
            .bind(claim.user_id)
            .bind(claim.signed_in_at)
            .bind(action.change)
            .bind(&action.action)
            .bind(action.org_id)
            .bind(&action.detail)
            .bind(self.key.user_proof(claim.user_id))
            .execute(&mut *tx)
            .await
            .map_err(crate::tx::refused_is_no_access)?;
        Ok(AdminTx {
            tx,
            persistent: self.persistent,
        })
    }
}

impl crate::Statements for AdminTx {
    fn conn(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
    fn persistent(&self) -> bool {
        self.persistent
    }
}
// Resync from Stripe runs billing's own sync on the admin's transaction.
impl crate::SystemPathTx for AdminTx {}

impl AdminTx {
    pub async fn commit(self) -> Result<(), TenantError> {
        self.tx.commit().await?;
        Ok(())
    }
}
