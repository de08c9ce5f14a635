//! Enclave's screens and the server functions they call, one folder per feature.

pub mod admin;
pub mod billing;
pub mod brand_guidelines;
pub mod campaigns;
pub mod clients;
pub mod dashboard;
pub mod error;
pub mod imports;
pub mod integrations;
pub mod jobs;
pub mod layout;
pub mod mail;
pub mod members;
pub mod organizations;
pub mod personas;
#[cfg(feature = "ssr")]
pub mod session;
pub mod sign_in;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{ParamSegment, SsrMode, StaticSegment};
use serde::{Deserialize, Serialize};

/// Server facts the screens may show (environment badge, dev-only features). Provided
/// as context by the server for every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerEnv {
    pub environment: String,
    /// The origin links in mail point at (ENCLAVE_PUBLIC_URL, or the listen address).
    pub public_url: String,
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    send_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// A page's Content-Security-Policy: scripts only with the nonce Leptos puts on the
/// hydration scripts it renders for this response (and what they load), WebAssembly,
/// this site's stylesheet, and no framing by any site.
#[cfg(feature = "ssr")]
pub fn content_security_policy(nonce: &str, form_targets: &str) -> String {
    let form_targets = if form_targets.is_empty() {
        String::new()
    } else {
        format!(" {form_targets}")
    };
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
         form-action 'self'{form_targets}; frame-ancestors 'none'"
    )
}

#[cfg(feature = "ssr")]
fn send_content_security_policy() {
    let (Some(nonce), Some(response)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    // Stripe's hosted pages: "Choose a plan" without JavaScript is a form redirected there.
    let form_targets = match use_context::<billing::Billing>() {
        Some(billing::Billing::Configured(api)) => api.hosted_origins.clone(),
        _ => String::new(),
    };
    if let Ok(value) = http::HeaderValue::from_str(&content_security_policy(&nonce, &form_targets))
    {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // `data-hydrated` on <html> says the page is live: Effects run only in the browser,
    // after hydration (and the frame after, once Suspense content resolving then is
    // hydrated too). The end2end tests wait for it before using a form, which would
    // otherwise submit the no-JavaScript way (end2end/tests/helpers.js, `hydrated`).
    // Browser builds only: `cargo test --workspace` unifies the `hydrate` feature into
    // the server, where an Effect here would be spawned by `generate_route_list`,
    // outside any LocalSet, and panic.
    #[cfg(target_arch = "wasm32")]
    Effect::new(|_| {
        let mark = || {
            if let Some(html) = document().document_element() {
                let _ = html.set_attribute("data-hydrated", "");
            }
        };
        request_animation_frame(mark);
        // A page the browser is not painting (in the background) gets no frame.
        set_timeout(mark, std::time::Duration::from_millis(100));
    });
    view! {
        <Stylesheet id="leptos" href="/pkg/enclave.css"/>
        <Title text="Enclave"/>
        <Router>
            // Async SSR: every page arrives complete, so it works with JavaScript off.
            <layout::Shell>
                <Routes fallback=|| view! { <layout::NotFound/> }>
                    <Route path=StaticSegment("") view=layout::HomePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("sign-in") view=sign_in::SignInPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("welcome") view=organizations::WelcomePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("brand") view=brand_guidelines::BrandGuidelinesPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("members") view=members::MembersPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("clients") view=clients::ClientsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("dashboard") view=dashboard::DashboardPage ssr=SsrMode::Async/>
                    <Route
                        path=(StaticSegment("clients"), ParamSegment("client"), StaticSegment("dashboard"))
                        view=dashboard::DashboardPage
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("personas") view=personas::PersonasPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("campaigns") view=campaigns::CampaignsPage ssr=SsrMode::Async/>
                    <Route
                        path=(StaticSegment("campaigns"), ParamSegment("campaign"))
                        view=campaigns::detail::CampaignPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("clients"), ParamSegment("client"), StaticSegment("campaigns"), ParamSegment("campaign"))
                        view=campaigns::detail::CampaignPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("clients"), ParamSegment("client"), StaticSegment("campaigns"))
                        view=campaigns::CampaignsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("clients"), ParamSegment("client"), StaticSegment("personas"))
                        view=personas::PersonasPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("clients"), ParamSegment("client"), StaticSegment("brand"))
                        view=brand_guidelines::BrandGuidelinesPage
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("import") view=imports::ImportsPage ssr=SsrMode::Async/>
                    <Route
                        path=(StaticSegment("import"), ParamSegment("batch"))
                        view=imports::ImportBatchPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("clients"), ParamSegment("client"), StaticSegment("import"))
                        view=imports::ImportsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("clients"), ParamSegment("client"), StaticSegment("import"), ParamSegment("batch"))
                        view=imports::ImportBatchPage
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("jobs") view=jobs::JobsPage ssr=SsrMode::Async/>
                    <Route
                        path=(StaticSegment("clients"), ParamSegment("client"), StaticSegment("jobs"))
                        view=jobs::JobsPage
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("connections") view=integrations::ConnectionsPage ssr=SsrMode::Async/>
                    <Route
                        path=(StaticSegment("clients"), ParamSegment("client"), StaticSegment("connections"))
                        view=integrations::ConnectionsPage
                        ssr=SsrMode::Async
                    />
                    <Route path=StaticSegment("settings") view=organizations::SettingsPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("billing") view=billing::BillingPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("admin") view=admin::overview::AdminOverviewPage ssr=SsrMode::Async/>
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("organizations"))
                        view=admin::organizations::AdminOrganizationsPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("organizations"), ParamSegment("org"))
                        view=admin::organizations::AdminOrganizationPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("webhooks"))
                        view=admin::deliveries::AdminDeliveriesPage
                        ssr=SsrMode::Async
                    />
                    <Route
                        path=(StaticSegment("admin"), StaticSegment("reconciliation"))
                        view=admin::reconciliation::AdminReconciliationPage
                        ssr=SsrMode::Async
                    />
                    <Route path=(StaticSegment("admin"), StaticSegment("jobs")) view=admin::jobs::AdminJobsPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("admin"), StaticSegment("audit")) view=admin::audit::AdminAuditPage ssr=SsrMode::Async/>
                    <Route path=(StaticSegment("dev"), StaticSegment("outbox")) view=mail::OutboxPage ssr=SsrMode::Async/>
                    <Route
                        path=(StaticSegment("invitations"), ParamSegment("org"), ParamSegment("invitation"))
                        view=members::accept::AcceptInvitationPage
                        ssr=SsrMode::Async
                    />
                </Routes>
            </layout::Shell>
        </Router>
    }
}
