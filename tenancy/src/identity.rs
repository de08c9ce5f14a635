//! Who is signed in, before (or besides) any organization: the user-only context.

use crate::error::TenantError;
use crate::tx::{begin_detached, single_statement, TenantDb, TenantTx};
use sqlx::Row;
use uuid::Uuid;

/// The claims of an ID token the server has verified (signature, issuer, audience,
/// expiry, nonce). Only sign-in code builds one; the database keys the user by
/// (issuer, subject).
#[derive(Debug, Clone)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// A signed-in user the database knows, with no organization chosen. Like
/// [`crate::TenantContext`] it has no public constructor: `TenantDb::resolve_user`.
#[derive(Debug, Clone)]
pub struct UserContext {
    pub(crate) user_id: Uuid,
    pub(crate) display_name: String,
    pub(crate) email: String,
}

impl UserContext {
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }
    pub fn display_name(&self) -> &str {
        &self.display_name
    }
    pub fn email(&self) -> &str {
        &self.email
    }
}

impl TenantDb {
    /// Finds or creates the user of a verified identity (a system-path act in the
    /// database, audited there). Returns the user id.
    pub async fn sign_in(&self, identity: &VerifiedIdentity) -> Result<Uuid, TenantError> {
        let query = sqlx::query_scalar("SELECT enclave.sign_in_identity($1, $2, $3, $4, $5)")
            .persistent(self.persistent())
            .bind(&identity.issuer)
            .bind(&identity.subject)
            .bind(&identity.email)
            .bind(identity.email_verified)
            .bind(&identity.name);
        Ok(single_statement!(self, exec => query.fetch_one(exec).await?))
    }

    /// Confirms the session's user still exists.
    pub async fn resolve_user(&self, user_id: Uuid) -> Result<UserContext, TenantError> {
        let mut tx = begin_detached(self.pool()).await?;
        enter_user(&mut tx, self.key(), user_id, self.persistent()).await?;
        let row = sqlx::query("SELECT display_name, email FROM public.users WHERE id = $1")
            .persistent(self.persistent())
            .bind(user_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or_else(|| TenantError::NoAccess("unknown user".into()))?;
        tx.commit().await?;
        Ok(UserContext {
            user_id,
            display_name: row.try_get("display_name")?,
            email: row.try_get("email")?,
        })
    }

    /// A transaction in the user-only context: tenant tables show nothing; the user's
    /// own memberships, identities and the onboarding functions work.
    pub async fn begin_user(&self, user: &UserContext) -> Result<TenantTx, TenantError> {
        let mut tx = begin_detached(self.pool()).await?;
        enter_user(&mut tx, self.key(), user.user_id, self.persistent()).await?;
        Ok(TenantTx::from_parts(tx, self.persistent(), None))
    }

    /// "Sign out of all devices": deletes every server session of this user.
    pub async fn sign_out_everywhere(&self, user: &UserContext) -> Result<u64, TenantError> {
        let query = sqlx::query(
            "DELETE FROM tower_sessions.session s USING tower_sessions.session_owner o
              WHERE o.session_id = s.id AND o.user_id = $1",
        )
        .persistent(self.persistent())
        .bind(user.user_id);
        Ok(single_statement!(self, exec => query.execute(exec).await?).rows_affected())
    }
}

async fn enter_user(
    conn: &mut sqlx::PgConnection,
    key: &crate::ContextKey,
    user_id: Uuid,
    persistent: bool,
) -> Result<(), TenantError> {
    sqlx::query("SELECT enclave.enter_user($1, $2)")
        .persistent(persistent)
        .bind(user_id)
        .bind(key.user_proof(user_id))
        .execute(conn)
        .await?;
    Ok(())
}
