//! The server-side session holds only who is signed in and what they chose to open.
//! Every request turns that claim into a verified `TenantContext` by asking the
//! database; nothing here trusts a header, form field or URL for the tenant.

use crate::error::AppError;
use tenancy::{SessionClaim, TenantContext, TenantDb};
use tower_sessions::Session;

const CLAIM_KEY: &str = "enclave.claim";

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(|e| AppError::internal(&e))
}

pub fn db() -> Result<TenantDb, AppError> {
    leptos::prelude::use_context::<TenantDb>()
        .ok_or_else(|| AppError::internal(&"TenantDb missing from context"))
}

pub async fn claim() -> Result<Option<SessionClaim>, AppError> {
    session()
        .await?
        .get::<SessionClaim>(CLAIM_KEY)
        .await
        .map_err(|e| AppError::internal(&e))
}

/// Stores a claim after sign-in or a switch. The session id is cycled so an id that
/// existed before sign-in is worthless after it.
pub async fn store_claim(claim: SessionClaim, cycle: bool) -> Result<(), AppError> {
    let session = session().await?;
    if cycle {
        session
            .cycle_id()
            .await
            .map_err(|e| AppError::internal(&e))?;
    }
    session
        .insert(CLAIM_KEY, claim)
        .await
        .map_err(|e| AppError::internal(&e))
}

pub async fn sign_out() -> Result<(), AppError> {
    session()
        .await?
        .flush()
        .await
        .map_err(|e| AppError::internal(&e))
}

/// The verified context of this request, or a clear error.
pub async fn require_context() -> Result<TenantContext, AppError> {
    context_if_signed_in().await?.ok_or(AppError::NotSignedIn)
}

/// `None` when nobody is signed in; otherwise the verified context, or a clear error
/// when the session's membership or client assignment is gone.
pub async fn context_if_signed_in() -> Result<Option<TenantContext>, AppError> {
    let Some(claim) = claim().await? else {
        return Ok(None);
    };
    db()?.resolve(claim).await.map(Some).map_err(|e| match e {
        tenancy::TenantError::NoAccess(_) => AppError::NoAccess(
            "you are no longer a member of this organization, or the client is not assigned to you"
                .into(),
        ),
        other => other.into(),
    })
}
