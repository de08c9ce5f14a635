//! Development-only demo sign-in. Refused unless the server runs with
//! ENCLAVE_ENV=development AND the database is stamped development (the database
//! checks its own stamp too). Real sign-in (OpenID Connect) replaces it elsewhere.

use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;
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

#[server]
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

#[server]
pub async fn demo_sign_in(user_id: Uuid, org_id: Uuid) -> Result<(), AppError> {
    use tenancy::SessionClaim;
    let db = ensure_development().await?;
    let known = db
        .dev_demo_accounts()
        .await?
        .into_iter()
        .any(|a| a.user_id == user_id && a.org_id == org_id);
    if !known {
        return Err(AppError::NoAccess("that is not a demo account".into()));
    }
    let mut claim = SessionClaim {
        user_id,
        org_id,
        workspace_id: None,
    };
    // Agency staff land in the first client workspace they may open.
    let ctx = db.resolve(claim).await?;
    let mut tx = db.begin(&ctx).await?;
    let first: Option<Uuid> = tx
        .query_scalar("SELECT workspace_id FROM enclave.visible_client_workspaces() LIMIT 1")
        .fetch_optional(tx.conn())
        .await?;
    tx.commit().await?;
    claim.workspace_id = first;
    crate::session::store_claim(claim, true).await?;
    leptos_axum::redirect("/brand");
    Ok(())
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let accounts = Resource::new(|| (), |_| list_demo_accounts());
    let sign_in = ServerAction::<DemoSignIn>::new();
    view! {
        <Title text="Sign in · Enclave"/>
        <h1>"Sign in"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading demo accounts…"</p> }>
            {move || Suspend::new(async move {
                match accounts.await {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No demo accounts yet. Run "<code>"enclave seed-demo"</code>" and reload."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <p>"Development only: choose a demo account to sign in as."</p>
                        <ul class="accounts">
                            {list.into_iter().map(|a| view! {
                                <li>
                                    <ActionForm action=sign_in>
                                        <input type="hidden" name="user_id" value=a.user_id.to_string()/>
                                        <input type="hidden" name="org_id" value=a.org_id.to_string()/>
                                        <button type="submit" data-email=a.email.clone()>
                                            <strong>{a.display_name.clone()}</strong>
                                            <span>{format!("{} · {} ({}) · {}", a.email, a.org_name, a.org_kind, a.role)}</span>
                                        </button>
                                    </ActionForm>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
        {move || sign_in.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
    }
}
