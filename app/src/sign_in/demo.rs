//! Development-only demo sign-in. Refused unless the server runs with
//! ENCLAVE_ENV=development AND the database is stamped development (the database
//! checks its own stamp too). Real sign-in (OpenID Connect) replaces it elsewhere.

use crate::error::AppError;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DemoAccountView {
    pub user_id: Uuid,
    pub email: String,
    pub display_name: String,
    pub org_id: Uuid,
    pub org_name: String,
    pub org_kind: String,
    pub role: String,
}

#[cfg(feature = "ssr")]
async fn ensure_development() -> Result<tenancy::TenantDb, AppError> {
    let refused = || {
        AppError::NotAvailable(
            "Demo sign-in is only available in a development environment.".into(),
        )
    };
    let env = use_context::<crate::ServerEnv>().ok_or_else(refused)?;
    if env.environment != "development" {
        return Err(refused());
    }
    let db = crate::session::db()?;
    if db.stamped_environment().await?.as_deref() != Some("development") {
        return Err(refused());
    }
    Ok(db)
}

#[server(endpoint = "list_demo_accounts")]
pub async fn list_demo_accounts() -> Result<Vec<DemoAccountView>, AppError> {
    let db = ensure_development().await?;
    Ok(db
        .dev_demo_accounts()
        .await?
        .into_iter()
        .map(|a| DemoAccountView {
            user_id: a.user_id,
            email: a.email,
            display_name: a.display_name,
            org_id: a.org_id,
            org_name: a.org_name,
            org_kind: a.org_kind,
            role: a.role,
        })
        .collect())
}

#[server(endpoint = "demo_sign_in")]
pub async fn demo_sign_in(user_id: Uuid, org_id: Uuid) -> Result<(), AppError> {
    let db = ensure_development().await?;
    let known = db
        .dev_demo_accounts()
        .await?
        .into_iter()
        .any(|a| a.user_id == user_id && a.org_id == org_id);
    if !known {
        return Err(AppError::NoAccess("that is not a demo account".into()));
    }
    let session = crate::session::session().await?;
    crate::session::begin(&session, user_id).await?;
    crate::session::enter_organization(&db, &session, user_id, org_id).await?;
    leptos_axum::redirect("/");
    Ok(())
}
