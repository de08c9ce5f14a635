//! Enclave's screens and the server functions they call, one folder per feature.

pub mod brand_guidelines;
pub mod demo_sign_in;
pub mod error;
pub mod layout;
pub mod mail;
pub mod members;
#[cfg(feature = "ssr")]
pub mod session;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{SsrMode, StaticSegment};
use serde::{Deserialize, Serialize};

/// Server facts the screens may show (environment badge, dev-only features). Provided
/// as context by the server for every request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerEnv {
    pub environment: String,
}

pub fn shell(options: LeptosOptions) -> impl IntoView {
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

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/enclave.css"/>
        <Title text="Enclave"/>
        <Router>
            // Async SSR: every page arrives complete, so it works with JavaScript off.
            <layout::Shell>
                <Routes fallback=|| view! { <layout::NotFound/> }>
                    <Route path=StaticSegment("") view=layout::HomePage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("sign-in") view=demo_sign_in::SignInPage ssr=SsrMode::Async/>
                    <Route path=StaticSegment("brand") view=brand_guidelines::BrandGuidelinesPage ssr=SsrMode::Async/>
                </Routes>
            </layout::Shell>
        </Router>
    }
}
