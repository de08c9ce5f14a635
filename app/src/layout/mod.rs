//! The frame around every screen: header with organization, environment badge, client
//! switcher and sign-out; plus the shared error and not-found views.

use crate::error::AppError;
use leptos::prelude::*;
use leptos_router::components::Redirect;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientChoice {
    pub workspace_id: Uuid,
    pub name: String,
}

/// Who is looking, as the server resolved it for this request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub user_name: String,
    pub org_name: String,
    pub org_kind: String,
    pub role: String,
    pub workspace_id: Option<Uuid>,
    pub workspace_name: Option<String>,
    pub clients: Vec<ClientChoice>,
    pub environment: String,
}

#[server]
pub async fn get_viewer() -> Result<Option<Viewer>, AppError> {
    use crate::session;
    let environment = use_context::<crate::ServerEnv>()
        .map(|e| e.environment)
        .unwrap_or_default();
    let Some(ctx) = session::context_if_signed_in().await? else {
        return Ok(None);
    };
    let db = session::db()?;
    let mut tx = db.begin(&ctx).await?;
    let clients: Vec<(Uuid, String)> = tx
        .query_as("SELECT workspace_id, name FROM enclave.visible_client_workspaces()")
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(Some(Viewer {
        user_name: ctx.user_name().to_string(),
        org_name: ctx.org_name().to_string(),
        org_kind: ctx.org_kind().as_str().to_string(),
        role: format!("{:?}", ctx.role()).to_lowercase(),
        workspace_id: ctx.workspace_id(),
        workspace_name: ctx.workspace_name().map(str::to_string),
        clients: clients
            .into_iter()
            .map(|(workspace_id, name)| ClientChoice { workspace_id, name })
            .collect(),
        environment,
    }))
}

/// Switches the active client workspace. The database confirms the user may open it
/// before the session changes.
#[server]
pub async fn switch_client(workspace_id: Uuid) -> Result<(), AppError> {
    use crate::session;
    let mut claim = session::claim().await?.ok_or(AppError::NotSignedIn)?;
    claim.workspace_id = Some(workspace_id);
    session::db()?.resolve(claim).await.map_err(|_| {
        AppError::NoAccess("that client is not assigned to you, or it was archived".into())
    })?;
    session::store_claim(claim, false).await
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    crate::session::sign_out().await?;
    leptos_axum::redirect("/sign-in");
    Ok(())
}

/// The client switcher's action, shared so screens can reload their data when the
/// active client changes.
#[derive(Clone, Copy)]
pub struct ClientSwitch(pub ServerAction<SwitchClient>);

impl ClientSwitch {
    /// Changes whenever a switch completes; use it as part of a resource's source.
    pub fn generation() -> usize {
        use_context::<ClientSwitch>()
            .map(|c| c.0.version().get())
            .unwrap_or_default()
    }
}

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let switch = ServerAction::<SwitchClient>::new();
    let sign_out = ServerAction::<SignOut>::new();
    // Refetched on every navigation: sign-in and sign-out change who is looking.
    let location = leptos_router::hooks::use_location();
    let viewer = Resource::new(
        move || {
            (
                location.pathname.get(),
                switch.version().get(),
                sign_out.version().get(),
            )
        },
        |_| get_viewer(),
    );
    provide_context(viewer);
    provide_context(ClientSwitch(switch));
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="logo" href="/">"Enclave"</a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match viewer.await {
                        Ok(Some(v)) => {
                            let badge = (v.environment != "production").then(|| {
                                view! { <span class="env-badge" title="This is not the production environment">{v.environment.clone()}</span> }
                            });
                            let switcher = (v.org_kind == "agency").then(|| {
                                let current = v.workspace_id;
                                view! {
                                    <ActionForm action=switch attr:class="client-switcher">
                                        <label for="client-select">"Client"</label>
                                        <select id="client-select" name="workspace_id">
                                            {v.clients.iter().map(|c| {
                                                view! { <option value=c.workspace_id.to_string() selected=Some(c.workspace_id) == current>{c.name.clone()}</option> }
                                            }).collect_view()}
                                        </select>
                                        <button type="submit">"Open"</button>
                                    </ActionForm>
                                }
                            });
                            view! {
                                <span class="org" data-testid="org-name">{v.org_name.clone()}</span>
                                {badge}
                                {switcher}
                                <span class="spacer"></span>
                                <span class="user">{v.user_name.clone()}" · "{v.role.clone()}</span>
                                <ActionForm action=sign_out attr:class="sign-out">
                                    <button type="submit">"Sign out"</button>
                                </ActionForm>
                            }.into_any()
                        }
                        Ok(None) => view! { <span class="spacer"></span><a href="/sign-in">"Sign in"</a> }.into_any(),
                        Err(e) => view! { <span class="spacer"></span><span class="header-error">{e.to_string()}</span><a href="/sign-in">" Sign in again"</a> }.into_any(),
                    }
                })}
            </Suspense>
        </header>
        <main id="main" tabindex="-1">{children()}</main>
    }
}

/// Shows an error in plain words, with the way forward.
#[component]
pub fn ErrorNotice(error: AppError) -> impl IntoView {
    let next = match &error {
        AppError::NotSignedIn | AppError::NoAccess(_) => {
            Some(view! { <p><a href="/sign-in">"Go to sign-in"</a></p> })
        }
        _ => None,
    };
    view! {
        <div class="notice error" role="alert">
            <p>{error.to_string()}</p>
            {next}
        </div>
    }
}

#[component]
pub fn HomePage() -> impl IntoView {
    let viewer = expect_context::<Resource<Result<Option<Viewer>, AppError>>>();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match viewer.await {
                    Ok(Some(_)) => view! { <Redirect path="/brand"/> }.into_any(),
                    _ => view! { <Redirect path="/sign-in"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <h1>"Page not found"</h1>
        <p>"There is nothing at this address. "<a href="/">"Go to your workspace"</a></p>
    }
}
