//! A connection's access token, fresh, with one refresh at a time.
//!
//! The caller gives a transaction of its own in the connection's scope (a request's, or
//! a job's separate one: a rotated refresh token must be kept even when the job fails).
//! `enclave.lock_connection` takes the row lock; whoever holds it re-checks the expiry
//! and only then calls the provider, stores the new tokens and commits. Everyone else
//! waited on the lock and reads the result: any number of requests, jobs and worker
//! processes cause exactly one refresh. A refused grant marks the connection "needs
//! reconnecting" with the provider's words; an unavailable provider is "try again".

use super::provider::{GrantError, Integrations};
use tenancy::{TenantError, TenantTx};
use time::OffsetDateTime;
use uuid::Uuid;
use vault::{Binding, Envelope, Secret, Vault, VaultError};

/// Refresh this long before the provider's expiry.
pub const REFRESH_MARGIN: time::Duration = time::Duration::seconds(60);

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("the connection no longer exists")]
    Gone,
    /// Shown to people: the provider's reason, and that reconnecting fixes it.
    #[error("{0}")]
    NeedsReconnect(String),
    /// The provider did not answer usefully; worth another try later.
    #[error("{0}")]
    Unavailable(String),
    #[error("the integration is misconfigured: {0}")]
    Misconfigured(String),
    #[error("a stored token does not open: {0}")]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Database(#[from] TenantError),
}

impl From<sqlx::Error> for TokenError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e.into())
    }
}

/// Where a connection's tokens belong: the envelope's binding.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionRef {
    pub org: Uuid,
    pub workspace: Option<Uuid>,
    pub connection: Uuid,
}

impl ConnectionRef {
    /// Connection `connection` of the verified scope `ctx`.
    pub fn in_scope(ctx: &tenancy::TenantContext, connection: Uuid) -> Self {
        Self {
            org: ctx.org_id(),
            workspace: ctx.workspace_id(),
            connection,
        }
    }

    pub fn binding(&self, which: &'static str) -> Binding {
        Binding::connection_token(self.org, self.workspace, self.connection, which)
    }
}

/// An access token to call the API with, and the stored envelope it came from (to say
/// "this one was refused" if the API answers 401).
pub struct UsableToken {
    pub secret: Secret,
    pub stored: Vec<u8>,
    /// The connection's provider id.
    pub provider: String,
}

type LockedRow = (
    String,
    String,
    Option<String>,
    Option<Vec<u8>>,
    Option<Vec<u8>>,
    Option<OffsetDateTime>,
);

/// A fresh access token for `conn`. `refused`: the stored token the API just refused
/// (401), so it is refreshed even if its expiry says otherwise, unless someone already
/// replaced it. Commits `tx`.
pub async fn usable_access_token(
    mut tx: TenantTx,
    integrations: &Integrations,
    vault: &Vault,
    conn: ConnectionRef,
    refused: Option<&[u8]>,
) -> Result<UsableToken, TokenError> {
    let row: Option<LockedRow> = tx
        .query_as(
            "SELECT provider, status, status_reason, access_token, refresh_token, expires_at
               FROM enclave.lock_connection($1)",
        )
        .bind(conn.connection)
        .fetch_optional(tx.conn())
        .await?;
    let Some((provider_id, status, reason, access, refresh, expires_at)) = row else {
        tx.commit().await?;
        return Err(TokenError::Gone);
    };
    if status == "needs_reconnect" {
        tx.commit().await?;
        return Err(TokenError::NeedsReconnect(reason.unwrap_or_default()));
    }
    let now = OffsetDateTime::now_utc();
    if let Some(access) = access {
        let replaced = refused.is_some_and(|r| r != access.as_slice());
        let still_good = refused.is_none() && expires_at.is_none_or(|at| at > now + REFRESH_MARGIN);
        if replaced || still_good {
            tx.commit().await?;
            let secret = vault.open(
                &Envelope::from_stored(access.clone())?,
                &conn.binding("access"),
            )?;
            return Ok(UsableToken {
                secret,
                stored: access,
                provider: provider_id,
            });
        }
    }
    let provider = integrations.find(&provider_id).ok_or_else(|| {
        TokenError::Misconfigured(format!("provider {provider_id:?} is no longer configured"))
    })?;
    let Some(refresh) = refresh else {
        let reason = "the provider gave no refresh token, so access cannot be renewed: reconnect the account";
        mark_needs_reconnect(tx, conn, reason).await?;
        return Err(TokenError::NeedsReconnect(reason.into()));
    };
    let refresh_secret = vault.open(&Envelope::from_stored(refresh)?, &conn.binding("refresh"))?;
    match integrations
        .refresh(provider, refresh_secret.expose())
        .await
    {
        Ok(tokens) => {
            let access = vault
                .seal(&Secret::new(tokens.access_token()), &conn.binding("access"))?
                .into_bytes();
            let refresh = tokens
                .refresh_token()
                .map(|t| vault.seal(&Secret::new(t), &conn.binding("refresh")))
                .transpose()?
                .map(Envelope::into_bytes);
            tx.query("SELECT enclave.store_connection_tokens($1, $2, $3, $4)")
                .bind(conn.connection)
                .bind(&access)
                .bind(refresh)
                .bind(tokens.expires_at(OffsetDateTime::now_utc()))
                .execute(tx.conn())
                .await?;
            tx.commit().await?;
            tracing::info!(connection = %conn.connection, provider = %provider_id, "access token refreshed");
            Ok(UsableToken {
                secret: Secret::new(tokens.access_token()),
                stored: access,
                provider: provider_id,
            })
        }
        Err(GrantError::Refused(words)) => {
            // The provider's own words stay in the log; people get what it means for them.
            tracing::warn!(connection = %conn.connection, provider = %provider_id, answer = %words, "the provider refused the refresh");
            let reason = format!(
                "{} no longer accepts Enclave's access: the permission was withdrawn at {}, has expired, or was used from somewhere else. To publish again, reconnect the account.",
                provider.name, provider.name
            );
            mark_needs_reconnect(tx, conn, &reason).await?;
            Err(TokenError::NeedsReconnect(reason))
        }
        // The lock goes with the rollback; the next attempt refreshes.
        Err(GrantError::Unavailable(detail)) => Err(TokenError::Unavailable(format!(
            "{} did not answer usefully: {detail}",
            provider.name
        ))),
        Err(GrantError::Misconfigured(detail)) => Err(TokenError::Misconfigured(detail)),
    }
}

async fn mark_needs_reconnect(
    mut tx: TenantTx,
    conn: ConnectionRef,
    reason: &str,
) -> Result<(), TokenError> {
    tx.query("SELECT enclave.mark_connection_needs_reconnect($1, $2)")
        .bind(conn.connection)
        .bind(reason)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    let reference = crate::error::new_request_id();
    tracing::warn!(request_id = %reference, connection = %conn.connection, %reason, "connection needs reconnecting");
    Ok(())
}

/// Why a call to the provider's API with a connection's token did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Api(super::api::ApiError),
    /// The API refused a token renewed just for it: only reconnecting helps.
    #[error("{0} refuses even a renewed token: reconnect the account")]
    RefusedAfterRenewal(String),
}

/// One call to the provider's API with a connection's token, renewing it once when the
/// API refuses it (401): the policy the connections page and the publish job share.
///
/// ```ignore
/// let mut call = TokenCall::default();
/// let answer = loop {
///     let (token, provider) = call.token(own_tx, integrations, vault, conn).await?;
///     if let Some(answer) = call.answered(provider, token, api::account(..).await)? {
///         break answer;
///     }
/// };
/// ```
#[derive(Default)]
pub struct TokenCall {
    refused: Option<Vec<u8>>,
}

impl TokenCall {
    /// A usable token (renewed if the last one was refused) and its provider. `tx`: a
    /// transaction of its own in the connection's scope.
    pub async fn token<'i>(
        &self,
        tx: TenantTx,
        integrations: &'i Integrations,
        vault: &Vault,
        conn: ConnectionRef,
    ) -> Result<(UsableToken, &'i super::provider::IntegrationProvider), TokenError> {
        let token =
            usable_access_token(tx, integrations, vault, conn, self.refused.as_deref()).await?;
        let provider = integrations.find(&token.provider).ok_or_else(|| {
            TokenError::Misconfigured(format!(
                "provider {:?} is no longer configured",
                token.provider
            ))
        })?;
        Ok((token, provider))
    }

    /// What the API answered: `Ok(None)` means "refused once: ask for a token again".
    pub fn answered<T>(
        &mut self,
        provider: &super::provider::IntegrationProvider,
        token: UsableToken,
        answer: Result<T, super::api::ApiError>,
    ) -> Result<Option<T>, CallError> {
        match answer {
            Ok(answer) => Ok(Some(answer)),
            Err(super::api::ApiError::TokenRefused) if self.refused.is_none() => {
                self.refused = Some(token.stored);
                Ok(None)
            }
            Err(super::api::ApiError::TokenRefused) => {
                Err(CallError::RefusedAfterRenewal(provider.name.clone()))
            }
            Err(e) => Err(CallError::Api(e)),
        }
    }
}
