//! Cross-site request protection for every state-changing request (server functions,
//! forms, sign-out). Browsers attach `Origin` to cross-origin and same-origin POSTs and
//! `Sec-Fetch-Site` to every request; a request that is state-changing must show that it
//! came from this site. Token libraries would need a hidden field in every ActionForm and
//! a header in every hydrated call; the header check covers both without either (see
//! docs/ARCHITECTURE.md, "Cross-site requests").

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

/// Where this site is served from. `None`: the request's own `Host`, over http or https.
#[derive(Clone, Debug, Default)]
pub struct SiteOrigin(pub Option<String>);

#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    Refused(&'static str),
}

pub fn judge(method: &Method, headers: &HeaderMap, site: &SiteOrigin) -> Verdict {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Verdict::Allowed;
    }
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(origin) = value(header::ORIGIN.as_str()) {
        let origin = origin.trim_end_matches('/');
        let ok = match &site.0 {
            Some(expected) => origin.eq_ignore_ascii_case(expected.trim_end_matches('/')),
            None => value(header::HOST.as_str()).is_some_and(|host| {
                origin.eq_ignore_ascii_case(&format!("http://{host}"))
                    || origin.eq_ignore_ascii_case(&format!("https://{host}"))
            }),
        };
        return if ok {
            Verdict::Allowed
        } else {
            Verdict::Refused("the request came from another site (Origin does not match)")
        };
    }
    match value("sec-fetch-site") {
        Some("same-origin") | Some("none") => Verdict::Allowed,
        Some(_) => Verdict::Refused("the request came from another site (Sec-Fetch-Site)"),
        None => Verdict::Refused("the request does not say where it came from (no Origin)"),
    }
}

pub async fn require_same_site(
    State(site): State<SiteOrigin>,
    request: Request<Body>,
    next: Next,
) -> Response {
    match judge(request.method(), request.headers(), &site) {
        Verdict::Allowed => next.run(request).await,
        Verdict::Refused(why) => {
            let request_id = uuid::Uuid::new_v4();
            tracing::warn!(%request_id, method = %request.method(), path = %request.uri().path(), why, "cross-site request refused");
            (StatusCode::FORBIDDEN, Html(refusal_page(request_id))).into_response()
        }
    }
}

fn refusal_page(request_id: uuid::Uuid) -> String {
    crate::plain_page::page(
        "This request was refused",
        &format!(
            "<p>It did not come from an Enclave page, so nothing was changed. This protects your account from other sites acting in your name.</p>\
             <p>If you were using Enclave, go back, reload the page and try again.</p>\
             <p><a href=\"/\">Go to Enclave</a></p>\
             <p><small>Reference: {request_id}</small></p>"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn same_site_posts_pass_and_cross_site_posts_are_refused() {
        let by_host = SiteOrigin(None);
        let fixed = SiteOrigin(Some("https://app.enclave.example".into()));
        let post = Method::POST;
        assert_eq!(
            judge(
                &post,
                &headers(&[
                    ("host", "127.0.0.1:3000"),
                    ("origin", "http://127.0.0.1:3000")
                ]),
                &by_host
            ),
            Verdict::Allowed
        );
        assert!(matches!(
            judge(
                &post,
                &headers(&[
                    ("host", "127.0.0.1:3000"),
                    ("origin", "https://evil.example")
                ]),
                &by_host
            ),
            Verdict::Refused(_)
        ));
        assert!(matches!(
            judge(
                &post,
                &headers(&[("host", "127.0.0.1:3000"), ("origin", "null")]),
                &by_host
            ),
            Verdict::Refused(_)
        ));
        assert_eq!(
            judge(
                &post,
                &headers(&[("origin", "https://app.enclave.example")]),
                &fixed
            ),
            Verdict::Allowed
        );
        assert!(matches!(
            judge(
                &post,
                &headers(&[
                    ("host", "app.enclave.example"),
                    ("origin", "http://app.enclave.example")
                ]),
                &fixed
            ),
            Verdict::Refused(_)
        ));
        assert!(matches!(
            judge(
                &post,
                &headers(&[("sec-fetch-site", "cross-site")]),
                &by_host
            ),
            Verdict::Refused(_)
        ));
        assert_eq!(
            judge(
                &post,
                &headers(&[("sec-fetch-site", "same-origin")]),
                &by_host
            ),
            Verdict::Allowed
        );
        assert!(matches!(
            judge(&post, &headers(&[("host", "x")]), &by_host),
            Verdict::Refused(_)
        ));
        assert!(matches!(
            judge(
                &Method::DELETE,
                &headers(&[("host", "x"), ("origin", "https://evil.example")]),
                &by_host
            ),
            Verdict::Refused(_)
        ));
        assert_eq!(
            judge(
                &Method::GET,
                &headers(&[("origin", "https://evil.example")]),
                &by_host
            ),
            Verdict::Allowed
        );
    }
}
