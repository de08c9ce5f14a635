//! Organizations: onboarding (create one, choosing SME or agency for good), choosing
//! among one's organizations, and the settings page (name; kind shown, not editable).

use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgChoice {
    pub org_id: Uuid,
    pub name: String,
    pub kind: String,
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Welcome {
    pub user_name: String,
    pub organizations: Vec<OrgChoice>,
}

pub fn kind_label(kind: &str) -> &'static str {
    match kind {
        "agency" => "Agency",
        _ => "SME",
    }
}

#[cfg(feature = "ssr")]
impl From<&tenancy::Membership> for OrgChoice {
    fn from(m: &tenancy::Membership) -> Self {
        Self {
            org_id: m.org_id,
            name: m.name.clone(),
            kind: m.kind.clone(),
            role: m.role.clone(),
        }
    }
}

#[server(endpoint = "welcome")]
pub async fn get_welcome() -> Result<Welcome, AppError> {
    let page = crate::session::resolved_page(None)
        .await?
        .ok_or(AppError::NotSignedIn)?;
    Ok(Welcome {
        user_name: page.context().user.display_name().to_string(),
        organizations: page
            .context()
            .organizations
            .iter()
            .map(OrgChoice::from)
            .collect(),
    })
}

/// Creates an organization with the caller as its owner and opens it.
#[server(endpoint = "create_organization")]
pub async fn create_organization(kind: String, name: String) -> Result<(), AppError> {
    use crate::session;
    let user = session::require_user().await?;
    let db = session::db()?;
    let mut tx = db.begin_user(&user).await?;
    let org_id: Uuid = tx
        .query_scalar("SELECT enclave.onboard_organization($1, $2)")
        .bind(&kind)
        .bind(&name)
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    session::enter_organization(&db, &session::session().await?, user.user_id(), org_id).await?;
    leptos_axum::redirect("/");
    Ok(())
}

/// Opens another of the caller's organizations. The database decides whether the
/// caller is a member; the id in the form is only a request.
#[server(endpoint = "switch_organization")]
pub async fn switch_organization(org_id: Uuid) -> Result<(), AppError> {
    use crate::session;
    let user = session::require_user().await?;
    session::enter_organization(
        &session::db()?,
        &session::session().await?,
        user.user_id(),
        org_id,
    )
    .await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgSettings {
    pub name: String,
    pub kind: String,
    pub role: String,
}

#[server(endpoint = "organization_settings")]
pub async fn get_settings() -> Result<OrgSettings, AppError> {
    let ctx = crate::session::require_context().await?;
    Ok(OrgSettings {
        name: ctx.org_name().to_string(),
        kind: ctx.org_kind().as_str().to_string(),
        role: format!("{:?}", ctx.role()).to_lowercase(),
    })
}

#[server(endpoint = "rename_organization")]
pub async fn rename_organization(name: String) -> Result<(), AppError> {
    let ctx = crate::session::require_context().await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    tx.query("SELECT enclave.rename_organization($1)")
        .bind(&name)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Ends every session of the caller, this one included.
#[server(endpoint = "sign_out_everywhere")]
pub async fn sign_out_everywhere() -> Result<(), AppError> {
    use crate::session;
    let user = session::require_user().await?;
    let ended = session::db()?.sign_out_everywhere(&user).await?;
    session::sign_out().await?;
    tracing::info!(user_id = %user.user_id(), ended, "signed out of all devices");
    leptos_axum::redirect("/sign-in");
    Ok(())
}

#[component]
pub fn WelcomePage() -> impl IntoView {
    let create = ServerAction::<CreateOrganization>::new();
    let switch = ServerAction::<SwitchOrganization>::new();
    let welcome = Resource::new(|| (), |_| get_welcome());
    view! {
        <Title text="Welcome · Enclave"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match welcome.await {
                    Ok(w) => view! { <WelcomeBody w=w create=create switch=switch/> }.into_any(),
                    Err(e) => view! { <h1>"Welcome"</h1><ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn WelcomeBody(
    w: Welcome,
    create: ServerAction<CreateOrganization>,
    switch: ServerAction<SwitchOrganization>,
) -> impl IntoView {
    let pending = create.pending();
    let has_orgs = !w.organizations.is_empty();
    let orgs = has_orgs.then(|| {
        view! {
            <section aria-labelledby="your-orgs">
                <h2 id="your-orgs">"Your organizations"</h2>
                <ul class="org-list">
                    {w.organizations.into_iter().map(|o| view! {
                        <li>
                            <ActionForm action=switch>
                                <input type="hidden" name="org_id" value=o.org_id.to_string()/>
                                <button type="submit">{format!("Open {}", o.name)}</button>
                                <span class="muted">{format!(" {} · {}", kind_label(&o.kind), o.role)}</span>
                            </ActionForm>
                        </li>
                    }).collect_view()}
                </ul>
                {move || switch.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            </section>
        }
    });
    view! {
        <h1>{format!("Welcome, {}", w.user_name)}</h1>
        {orgs}
        <section aria-labelledby="create-org">
            <h2 id="create-org">{if has_orgs { "Create another organization" } else { "Create your organization" }}</h2>
            <ActionForm action=create attr:class="stack">
                <div class="field">
                    <label for="org-name">"Organization name"</label>
                    <input id="org-name" name="name" required maxlength="200" autocomplete="organization"/>
                </div>
                <fieldset class="field">
                    <legend>"What kind of organization is it? This cannot be changed later."</legend>
                    <label class="choice">
                        <input type="radio" name="kind" value="sme" checked/>
                        <span><strong>"SME"</strong>" — a business marketing itself: one set of brand guidelines, personas and campaigns."</span>
                    </label>
                    <label class="choice">
                        <input type="radio" name="kind" value="agency"/>
                        <span><strong>"Agency"</strong>" — you work for clients: each client gets its own workspace."</span>
                    </label>
                </fieldset>
                <div class="actions">
                    <button type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Creating…" } else { "Create organization" }}
                    </button>
                </div>
            </ActionForm>
            <div aria-live="polite">
                {move || create.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            </div>
        </section>
        <p class="muted">"Joining a team instead? Open the invitation link you were sent while signed in, and accept it."</p>
    }
}

#[component]
pub fn SettingsPage() -> impl IntoView {
    let rename = ServerAction::<RenameOrganization>::new();
    let everywhere = ServerAction::<SignOutEverywhere>::new();
    let settings = Resource::new(move || rename.version().get(), |_| get_settings());
    view! {
        <Title text="Settings · Enclave"/>
        <h1>"Organization settings"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading settings…"</p> }>
            {move || Suspend::new(async move {
                match settings.await {
                    Ok(s) => {
                        let can_edit = s.role != "member";
                        view! {
                            <ActionForm action=rename attr:class="stack">
                                <div class="field">
                                    <label for="org-name">"Name"</label>
                                    <input id="org-name" name="name" required maxlength="200" value=s.name.clone() disabled=!can_edit/>
                                    {(!can_edit).then(|| view! { <p class="hint">"Only owners and admins can rename the organization."</p> })}
                                </div>
                                <div class="field">
                                    <span class="label" id="kind-label">"Kind"</span>
                                    <p aria-labelledby="kind-label" data-testid="org-kind">{kind_label(&s.kind)}" "<span class="muted">"(chosen at creation; it cannot be changed)"</span></p>
                                </div>
                                {can_edit.then(|| view! { <div class="actions"><button type="submit">"Save name"</button></div> })}
                            </ActionForm>
                        }.into_any()
                    }
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <div aria-live="polite">
            {move || rename.value().get().map(|r| match r {
                Ok(()) => view! { <p class="notice ok" role="status">"Name saved."</p> }.into_any(),
                Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
            })}
        </div>
        <section aria-labelledby="sessions">
            <h2 id="sessions">"Your sessions"</h2>
            <p>"Signed in on a device you no longer use? End every session of your account, this one included."</p>
            <ActionForm action=everywhere>
                <button type="submit" class="danger">"Sign out of all devices"</button>
            </ActionForm>
            {move || everywhere.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
        </section>
    }
}
