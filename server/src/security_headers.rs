//! Response headers that tell browsers what this site allows, on every response
//! (tower-http's `SetResponseHeaderLayer`). Pages get their own Content-Security-Policy
//! with the nonce Leptos puts on its scripts (`app::content_security_policy`); every
//! other response (files, refusal pages, server functions) gets a policy that allows
//! nothing but this site's stylesheet.

use axum::http::{header, HeaderName, HeaderValue};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

/// For responses that did not set their own policy.
pub const FALLBACK_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub fn with_security_headers(router: Router, https_only: bool) -> Router {
    let fixed = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    let router = router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(FALLBACK_CSP),
        ))
        .layer(fixed(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(fixed(header::X_FRAME_OPTIONS, "DENY"))
        // Pages that carry secrets in their URL (invitation links) set no-referrer.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(fixed(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ));
    if https_only {
        // Outside development the site is served over HTTPS only (the cookie is Secure).
        router.layer(fixed(
            header::STRICT_TRANSPORT_SECURITY,
            "max-age=63072000; includeSubDomains",
        ))
    } else {
        router
    }
}
