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
    pub slug: String,
}

/// The client slug of a path `/clients/{slug}/...`, if any.
pub fn client_in_path(path: &str) -> Option<String> {
    let rest = path.strip_prefix("/clients/")?;
    let slug = rest.split('/').next()?;
    (!slug.is_empty()).then(|| slug.to_string())
}

/// Puts a form's fields back to what the page rendered (their `value` attributes and
/// textarea texts), so they follow the data shown next. Used instead of `prop:value`,
/// which hydration sets again and so wipes what someone typed before the page finished
/// loading. Does nothing on the server.
pub fn reset_form(id: &str) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        if let Some(form) = document()
            .get_element_by_id(id)
            .and_then(|e| e.dyn_into::<leptos::web_sys::HtmlFormElement>().ok())
        {
            form.reset();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;
}

/// Clears the form `id` each time `succeeded` turns true (an error keeps what was typed).
pub fn clear_after_success(succeeded: impl Fn() -> bool + 'static, id: &'static str) {
    Effect::new(move |_| {
        if succeeded() {
            reset_form(id);
        }
    });
}

/// Where a page of the scope lives: `/{page}` for an SME, `/clients/{slug}/{page}` for
/// an agency client.
pub fn scoped_path(client: Option<&str>, page: &str) -> String {
    match client {
        Some(slug) => format!("/clients/{slug}/{page}"),
        None => format!("/{page}"),
    }
}

/// The organization (and client) this request works in, as the database confirmed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActiveOrg {
    pub org_id: Uuid,
    pub org_name: String,
    pub org_kind: String,
    pub role: String,
    /// The client named in the page's URL, when the database lets the user open it.
    pub client: Option<ClientChoice>,
    /// The clients the user may open (agencies).
    pub clients: Vec<ClientChoice>,
}

/// Who is looking, as the server resolved it for this request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub user_name: String,
    pub environment: String,
    pub organizations: Vec<crate::organizations::OrgChoice>,
    /// `None` before an organization is chosen, or when access to it ended.
    pub active: Option<ActiveOrg>,
    /// Why the session's organization could not be opened (membership removed, …).
    pub problem: Option<AppError>,
}

#[server(endpoint = "viewer")]
pub async fn get_viewer(client: Option<String>) -> Result<Option<Viewer>, AppError> {
    let environment = use_context::<crate::ServerEnv>()
        .map(|e| e.environment)
        .unwrap_or_default();
    // The same resolution the page's own server functions use (once per request).
    let page = match crate::session::resolved_page(client.clone()).await {
        Ok(Some(page)) => page,
        // Nobody signed in, or the session's user is gone: the header offers sign-in.
        Ok(None) | Err(AppError::NotSignedIn) => return Ok(None),
        Err(e) => return Err(e),
    };
    let seen = page.context();
    let choice = |c: &tenancy::ClientWorkspace| ClientChoice {
        workspace_id: c.workspace_id,
        name: c.name.clone(),
        slug: c.slug.clone(),
    };
    let (active, problem) = match (&seen.organization, page.claimed_org()) {
        (Some(ctx), _) => (
            Some(ActiveOrg {
                org_id: ctx.org_id(),
                org_name: ctx.org_name().to_string(),
                org_kind: ctx.org_kind().as_str().to_string(),
                role: format!("{:?}", ctx.role()).to_lowercase(),
                client: seen
                    .clients
                    .iter()
                    .find(|c| Some(&c.slug) == client.as_ref())
                    .map(choice),
                clients: seen.clients.iter().map(choice).collect(),
            }),
            None,
        ),
        (None, None) => (None, None),
        (None, Some(_)) => (
            None,
            Some(AppError::NoAccess(
                "you are no longer a member of this organization".into(),
            )),
        ),
    };
    Ok(Some(Viewer {
        user_name: seen.user.display_name().to_string(),
        environment,
        organizations: seen
            .organizations
            .iter()
            .map(crate::organizations::OrgChoice::from)
            .collect(),
        active,
        problem,
    }))
}

#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), AppError> {
    crate::session::sign_out().await?;
    leptos_axum::redirect("/sign-in");
    Ok(())
}

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let org_switch = ServerAction::<crate::organizations::SwitchOrganization>::new();
    let sign_out = ServerAction::<SignOut>::new();
    // Refetched on every navigation: sign-in and sign-out change who is looking.
    let location = leptos_router::hooks::use_location();
    let viewer = Resource::new(
        move || {
            (
                location.pathname.get(),
                org_switch.version().get(),
                sign_out.version().get(),
            )
        },
        |(path, _, _)| get_viewer(client_in_path(&path)),
    );
    provide_context(viewer);
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="logo" href="/">"Enclave"</a>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match viewer.await {
                        Ok(Some(v)) => view! { <HeaderBar v=v org_switch=org_switch sign_out=sign_out/> }.into_any(),
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
        // Both come back to this page after signing in.
        AppError::NotSignedIn | AppError::SignInAgain(_) => {
            let here = leptos_router::hooks::use_location().pathname.get_untracked();
            let href = format!("/sign-in?return_to={}", crate::sign_in::percent_encode(&here));
            let words = if matches!(error, AppError::NotSignedIn) {
                "Go to sign-in"
            } else {
                "Sign in again"
            };
            Some(view! { <p><a href=href>{words}</a></p> }.into_any())
        }
        AppError::ChooseClient => Some(
            view! { <p><a href="/clients">"See your clients"</a>" or pick one from the Client menu at the top."</p> }.into_any(),
        ),
        AppError::OverLimit(_) => Some(
            view! { <p><a href="/billing">"Go to Billing"</a>" to see the plan, its limits and what it would take to lift them."</p> }.into_any(),
        ),
        AppError::NoAccess(_) | AppError::NoOrganization => Some(
            view! { <p><a href="/welcome">"Choose an organization"</a>" or "<a href="/sign-in">"sign in as someone else"</a></p> }
                .into_any(),
        ),
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
fn HeaderBar(
    v: Viewer,
    org_switch: ServerAction<crate::organizations::SwitchOrganization>,
    sign_out: ServerAction<SignOut>,
) -> impl IntoView {
    let badge = (v.environment != "production").then(|| {
        view! { <span class="env-badge" title="This is not the production environment">{v.environment.clone()}</span> }
    });
    let active_id = v.active.as_ref().map(|a| a.org_id);
    let org_picker = (v.organizations.len() > 1).then(|| {
        view! {
            <ActionForm action=org_switch attr:class="org-switcher">
                <label for="org-select">"Organization"</label>
                <select id="org-select" name="org_id">
                    {v.organizations.iter().map(|o| view! {
                        <option value=o.org_id.to_string() selected=Some(o.org_id) == active_id>{o.name.clone()}</option>
                    }).collect_view()}
                </select>
                <button type="submit">"Switch"</button>
            </ActionForm>
        }
    });
    let org = v.active.clone().map(|a| {
        // The client menu: links, so it works without JavaScript and every client page
        // has a shareable address; the current page kind is kept when switching.
        let page = leptos_router::hooks::use_location()
            .pathname
            .get_untracked()
            .strip_prefix("/clients/")
            // The kind of page only: another client's campaign or import has other ids.
            .and_then(|rest| rest.split('/').nth(1).map(str::to_string))
            .filter(|p| !p.is_empty())
            .unwrap_or_else(|| "brand".to_string());
        let client_picker = (a.org_kind == "agency").then(|| {
            let current = a.client.as_ref().map(|c| c.name.clone());
            // Many clients: a filter box narrows the list as you type (with JavaScript;
            // without it the full list of links still works).
            let searchable = a.clients.len() > 6;
            let filter = RwSignal::new(String::new());
            let menu = NodeRef::<leptos::html::Details>::new();
            let close = move || {
                if let Some(d) = menu.get_untracked() {
                    let _ = d.remove_attribute("open");
                }
            };
            view! {
                <details class="client-menu" node_ref=menu on:keydown=move |ev| {
                    if ev.key() == "Escape" { close(); }
                }>
                    <summary>
                        "Client: "
                        <strong data-testid="client-name">{current.unwrap_or_else(|| "choose…".to_string())}</strong>
                    </summary>
                    <div class="client-menu-panel">
                        {searchable.then(|| view! {
                            <label class="visually-hidden" for="client-filter">"Find a client"</label>
                            <input id="client-filter" type="search" placeholder="Find a client…" autocomplete="off"
                                on:input=move |ev| filter.set(event_target_value(&ev))/>
                        })}
                        <ul aria-label="Clients">
                            {a.clients.iter().map(|c| {
                                let here = Some(&c.slug) == a.client.as_ref().map(|x| &x.slug);
                                let name = c.name.to_lowercase();
                                let hidden = move || {
                                    let f = filter.read();
                                    !f.trim().is_empty() && !name.contains(&f.trim().to_lowercase())
                                };
                                view! {
                                    <li hidden=hidden><a href=scoped_path(Some(&c.slug), &page) aria-current=here.then_some("page") on:click=move |_| close()>{c.name.clone()}</a></li>
                                }
                            }).collect_view()}
                            {a.clients.is_empty().then(|| view! { <li class="muted">"No client is open to you yet."</li> })}
                        </ul>
                    </div>
                </details>
            }
        });
        let href = |page: &str| match (&a.org_kind[..], &a.client) {
            ("agency", Some(c)) => scoped_path(Some(&c.slug), page),
            ("agency", None) => "/clients".to_string(),
            _ => scoped_path(None, page),
        };
        let (dashboard_href, brand_href, personas_href, campaigns_href, import_href, jobs_href) = (
            href("dashboard"),
            href("brand"),
            href("personas"),
            href("campaigns"),
            href("import"),
            href("jobs"),
        );
        let connections_href = href("connections");
        let dev_outbox = (v.environment == "development" && a.role != "member")
            .then(|| view! { <a href="/dev/outbox">"Outbox"</a> });
        let nav = view! {
            <nav aria-label="Main">
                <a href=dashboard_href>"Dashboard"</a>
                <a href=brand_href>"Brand guidelines"</a>
                <a href=personas_href>"Personas"</a>
                <a href=campaigns_href>"Campaigns"</a>
                <a href=import_href>"Import"</a>
                <a href=jobs_href>"Jobs"</a>
                <a href=connections_href>"Connections"</a>
                {(a.org_kind == "agency").then(|| view! { <a href="/clients">"Clients"</a> })}
                <a href="/members">"Members"</a>
                <a href="/settings">"Settings"</a>
                <a href="/billing">"Billing"</a>
                {dev_outbox}
            </nav>
        };
        (
            view! {
                <span class="org" data-testid="org-name">{a.org_name.clone()}</span>
                {client_picker}
            },
            nav,
        )
    });
    let (org, nav) = org.unzip();
    // Signed in but no organization open (new user, or access just ended): the way on.
    let choose = v.active.is_none().then(|| {
        view! { <nav aria-label="Main"><a href="/welcome">"Your organizations"</a></nav> }
    });
    let role = v
        .active
        .as_ref()
        .map(|a| format!(" · {}", a.role))
        .unwrap_or_default();
    // The links come last, in the page's order as on screen: a row of their own under the
    // organization and the account (style/main.css).
    view! {
        {badge}
        {org}
        {org_picker}
        <span class="spacer"></span>
        <span class="user">{v.user_name.clone()}{role}</span>
        <ActionForm action=sign_out attr:class="sign-out">
            <button type="submit">"Sign out"</button>
        </ActionForm>
        {nav}
        {choose}
    }
}

#[component]
pub fn HomePage() -> impl IntoView {
    let viewer = expect_context::<Resource<Result<Option<Viewer>, AppError>>>();
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match viewer.await {
                    Ok(Some(v)) if v.active.is_some() => {
                        // Agencies land in their first open client (or the client list).
                        let to = match v.active.as_ref().map(|a| (a.org_kind.as_str(), a.clients.first())) {
                            Some(("agency", Some(c))) => scoped_path(Some(&c.slug), "brand"),
                            Some(("agency", None)) => "/clients".to_string(),
                            _ => "/brand".to_string(),
                        };
                        view! { <Redirect path=to/> }.into_any()
                    }
                    Ok(Some(_)) => view! { <Redirect path="/welcome"/> }.into_any(),
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
