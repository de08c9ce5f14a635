//! Signing in: the page listing the configured OpenID providers (and, in development
//! only, the demo accounts), the OpenID Connect routes, and what each failure means.

pub mod demo;
#[cfg(feature = "ssr")]
pub mod oidc;

use crate::error::AppError;
use crate::layout::ErrorNotice;
use demo::{list_demo_accounts, DemoSignIn};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};

/// Why a sign-in did not complete. The code travels in the sign-in page's URL; the
/// detail stays in the server log under the reference shown beside the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInProblem {
    UnknownProvider,
    Unreachable,
    Misconfigured,
    Denied,
    ProviderError,
    BadState,
    CodeRejected,
    TokenInvalid,
    NoEmail,
    Internal,
}

impl SignInProblem {
    const ALL: [SignInProblem; 10] = [
        Self::UnknownProvider,
        Self::Unreachable,
        Self::Misconfigured,
        Self::Denied,
        Self::ProviderError,
        Self::BadState,
        Self::CodeRejected,
        Self::TokenInvalid,
        Self::NoEmail,
        Self::Internal,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownProvider => "unknown_provider",
            Self::Unreachable => "unreachable",
            Self::Misconfigured => "misconfigured",
            Self::Denied => "denied",
            Self::ProviderError => "provider_error",
            Self::BadState => "bad_state",
            Self::CodeRejected => "code_rejected",
            Self::TokenInvalid => "token_invalid",
            Self::NoEmail => "no_email",
            Self::Internal => "internal",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.code() == code)
    }

    pub fn message(self, provider: &str) -> String {
        match self {
            Self::UnknownProvider => "That sign-in option is not available. Choose one of the options below.".into(),
            Self::Unreachable => format!("We could not reach {provider} to sign you in. It may be down for a moment; please try again shortly."),
            Self::Misconfigured => format!("Sign-in with {provider} is not set up correctly on our side. We have logged it; please try another option or contact support."),
            Self::Denied => format!("Sign-in was cancelled at {provider}, so nothing was shared with Enclave. You can try again whenever you like."),
            Self::ProviderError => format!("{provider} could not complete the sign-in. Please try again."),
            Self::BadState => "This sign-in could not be matched to your browser session: it may have taken too long, or was started in another tab or browser. Please start again.".into(),
            Self::CodeRejected => format!("{provider} did not accept the sign-in (the code may have expired or been used already). Please start again."),
            Self::TokenInvalid => format!("The identity {provider} sent could not be verified, so we did not sign you in. Please try again."),
            Self::NoEmail => format!("{provider} did not share an email address. Enclave needs one: allow access to your email address and try again."),
            Self::Internal => "Something went wrong on our side while signing you in. Please try again in a moment.".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderChoice {
    pub id: String,
    pub name: String,
}

#[server(endpoint = "sign_in_providers")]
pub async fn sign_in_providers() -> Result<Vec<ProviderChoice>, AppError> {
    Ok(use_context::<std::sync::Arc<oidc::OidcProviders>>()
        .map(|p| {
            p.listed()
                .into_iter()
                .map(|(id, name)| ProviderChoice { id, name })
                .collect()
        })
        .unwrap_or_default())
}

/// Where a query parameter may send the browser after sign-in: only a clean path on
/// this site. Browsers repair what servers let through (`/\\evil.example`, `/%09/evil`,
/// `/\t/evil` all become another origin), so this accepts an allowlist, not a denylist:
/// printable ASCII path and query characters, escapes that do not hide a slash, a
/// backslash, a dot or a control character, and no `.`/`..` segments. The server also
/// resolves the result against its public URL (`same_origin_return_path`).
pub fn safe_return_path(raw: Option<&str>) -> Option<String> {
    let p = raw?;
    if p.is_empty() || p.len() > MAX_RETURN_PATH || !p.starts_with('/') {
        return None;
    }
    let bytes = p.as_bytes();
    if matches!(bytes.get(1), Some(b'/' | b'\\')) {
        return None;
    }
    const ALLOWED: &[u8] = b"-._~!$&'()*+,;=:@/?%";
    if !bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || ALLOWED.contains(b))
    {
        return None;
    }
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = p.get(i + 1..i + 3)?;
            let decoded = u8::from_str_radix(hex, 16).ok()?;
            if decoded < 0x20 || decoded == 0x7f || b"/\\.%".contains(&decoded) {
                return None;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    let path = p.split('?').next().unwrap_or(p);
    if path
        .split('/')
        .any(|segment| segment == "." || segment == "..")
    {
        return None;
    }
    Some(p.to_string())
}

/// Longest return path kept (longer ones are dropped, not cut).
pub const MAX_RETURN_PATH: usize = 1000;

/// [`safe_return_path`], and the path resolved against the public URL keeps its origin
/// and comes out unchanged (nothing for a browser or a proxy to normalise).
#[cfg(feature = "ssr")]
pub fn same_origin_return_path(public_url: &str, raw: Option<&str>) -> Option<String> {
    let p = safe_return_path(raw)?;
    let base = url::Url::parse(public_url).ok()?;
    let resolved = base.join(&p).ok()?;
    let unchanged = match resolved.query() {
        Some(q) => format!("{}?{q}", resolved.path()) == p,
        None => resolved.path() == p,
    };
    (resolved.origin() == base.origin() && unchanged && resolved.fragment().is_none()).then_some(p)
}

#[cfg(test)]
mod return_path_tests {
    use super::*;

    #[test]
    fn hostile_return_paths_are_refused() {
        let long = format!("/{}", "a".repeat(MAX_RETURN_PATH));
        let hostile: &[&str] = &[
            "",
            "campaigns",
            "https://evil.example/",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "/\\/evil.example",
            "\\\\evil.example",
            " /campaigns",
            "/campaigns ",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r\n//evil.example",
            "\t//evil.example",
            "/%2f/evil.example",
            "/%2F%2Fevil.example",
            "/%5c/evil.example",
            "/%5Cevil.example",
            "/%09/evil.example",
            "/%0d%0a/evil.example",
            "/%00",
            "/%",
            "/%zz",
            "/%2",
            "/%2e%2e/admin",
            "/../admin",
            "/./campaigns",
            "/campaigns/..",
            "/a/../../b",
            "javascript:alert(1)",
            "/javascript:alert(1)#",
            "data:text/html,x",
            "http://user@127.0.0.1@evil.example/",
            "@evil.example",
            "/campaigns#frag",
            "/caf\u{e9}",
            "/\u{202e}evil",
            "/\u{ff0f}evil.example",
            "/campaigns\\..\\",
            &long,
        ];
        for raw in hostile {
            assert_eq!(safe_return_path(Some(raw)), None, "accepted {raw:?}");
        }
        assert_eq!(safe_return_path(None), None);
    }

    #[test]
    fn clean_paths_on_this_site_are_kept() {
        for ok in [
            "/", "/campaigns", "/clients/acme-outdoors/campaigns?page=2&sort=name",
            "/invitations/8c1b9f1e-3f1e-4b7a-9a53-0e6f3c1c2b11/9c1b9f1e-3f1e-4b7a-9a53-0e6f3c1c2b12?token=AbC-_x",
            "/campaigns?q=caf%C3%A9", "/a.b/c..d/e.",
        ] {
            assert_eq!(safe_return_path(Some(ok)).as_deref(), Some(ok));
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn the_server_also_resolves_against_its_public_url() {
        let base = "https://app.example.com";
        assert_eq!(
            same_origin_return_path(base, Some("/campaigns?page=2")).as_deref(),
            Some("/campaigns?page=2")
        );
        assert_eq!(same_origin_return_path(base, Some("//evil.example")), None);
        // User-info lookalikes stay paths on this site.
        assert_eq!(
            same_origin_return_path(base, Some("/@evil.example")).as_deref(),
            Some("/@evil.example")
        );
        assert_eq!(same_origin_return_path(base, Some("/%2e%2e/x")), None);
        assert_eq!(
            same_origin_return_path("http://127.0.0.1:3000", Some("/welcome")).as_deref(),
            Some("/welcome")
        );
    }
}

/// Percent-encodes a path for use inside a query parameter.
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let query = use_query_map();
    let providers = Resource::new(|| (), |_| sign_in_providers());
    let problem = move || {
        let q = query.read();
        let problem = SignInProblem::from_code(&q.get("problem")?)?;
        let provider = q.get("provider").unwrap_or_default();
        let reference = q.get("ref");
        Some((problem, provider, reference))
    };
    let return_to = move || safe_return_path(query.read().get("return_to").as_deref());
    view! {
        <Title text="Sign in · Enclave"/>
        <h1>"Sign in"</h1>
        <Suspense fallback=|| view! { <p class="loading">"Loading sign-in options…"</p> }>
            {move || Suspend::new(async move {
                let list = providers.await;
                let name_of = |id: &str| {
                    list.as_ref().ok()
                        .and_then(|l| l.iter().find(|p| p.id == id).map(|p| p.name.clone()))
                        .unwrap_or_else(|| "the sign-in provider".to_string())
                };
                let alert = problem().map(|(p, provider, reference)| view! {
                    <div class="notice error" role="alert" data-testid="sign-in-problem" data-problem=p.code()>
                        <p>{p.message(&name_of(&provider))}</p>
                        {reference.map(|r| view! { <p class="reference">"Reference: "<code>{r}</code></p> })}
                    </div>
                });
                let suffix = return_to()
                    .map(|p| format!("?return_to={}", percent_encode(&p)))
                    .unwrap_or_default();
                let buttons = match list {
                    Ok(list) if list.is_empty() => view! {
                        <p class="empty">"No sign-in provider is configured. An operator sets them with ENCLAVE_OIDC_PROVIDERS (see the README)."</p>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="providers">
                            {list.into_iter().map(|p| view! {
                                <li><a class="button" rel="external" href=format!("/auth/{}/start{}", p.id, suffix)>{format!("Sign in with {}", p.name)}</a></li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                };
                view! { {alert} {buttons} }
            })}
        </Suspense>
        <DemoAccounts/>
    }
}

/// Development only: the demo accounts, one button each. Shows nothing elsewhere.
#[component]
fn DemoAccounts() -> impl IntoView {
    let accounts = Resource::new(|| (), |_| list_demo_accounts());
    let sign_in = ServerAction::<DemoSignIn>::new();
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                match accounts.await {
                    Err(AppError::NotAvailable(_)) => ().into_any(),
                    Ok(list) if list.is_empty() => view! {
                        <section class="demo">
                            <h2>"Demo accounts (development)"</h2>
                            <p class="empty">"No demo accounts yet. Run "<code>"enclave seed-demo"</code>" and reload."</p>
                        </section>
                    }.into_any(),
                    Ok(list) => view! {
                        <section class="demo">
                            <h2>"Demo accounts (development)"</h2>
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
                        </section>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
        {move || sign_in.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
    }
}
