//! Rate limiting of sign-in and invitation endpoints per client address, with the
//! `governor` crate's keyed GCRA limiter. The refusal is a page in plain words with
//! `Retry-After`.
//!
//! A middleware rather than `tower_governor`'s layer on a sub-router: leptos_axum
//! registers every server function's route itself, so the invitation endpoints cannot be
//! given a route (and a layer) of their own; the middleware picks them by path.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::middleware::Next;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

/// The limited paths: OpenID sign-in and the invitation server functions.
pub fn is_limited(path: &str) -> bool {
    path.starts_with("/auth/") || path == "/api/accept_invitation" || path == "/api/invite_member"
}

#[derive(Clone)]
pub struct SignInLimit {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
}

impl SignInLimit {
    /// `per_minute` requests per client address per minute, all usable at once, refilled
    /// evenly over the minute.
    pub fn per_minute(per_minute: u32) -> Self {
        let n = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self {
            limiter: Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_minute(n))),
        }
    }

    /// Drops the state of addresses that are back to a full allowance (bounded memory).
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
    }
}

/// Middleware: limited paths are counted per peer address (the server runs with
/// connect info); everything else passes untouched.
pub async fn limit_sign_in(
    State(limit): State<SignInLimit>,
    request: Request<Body>,
    next: Next,
) -> Response<Body> {
    if !is_limited(request.uri().path()) {
        return next.run(request).await;
    }
    let Some(ConnectInfo(peer)) = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .copied()
    else {
        tracing::error!("rate limiter: no peer address on the request (serve with connect info)");
        return next.run(request).await;
    };
    match limit.limiter.check_key(&peer.ip()) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                + 1;
            tracing::warn!(peer = %peer.ip(), path = %request.uri().path(), wait, "rate limit reached");
            refusal(wait)
        }
    }
}

fn refusal(wait: u64) -> Response<Body> {
    let page = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Too many attempts · Enclave</title></head>\
         <body><main><h1>Too many attempts</h1><p>There were too many sign-in or invitation requests from your \
         network in a short time. Please wait {wait} seconds and try again.</p><p><a href=\"/sign-in\">Back to sign-in</a></p></main></body></html>"
    );
    let mut response = Response::new(Body::from(page));
    *response.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::RETRY_AFTER, HeaderValue::from(wait));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::Request;
    use axum::routing::{get, post};
    use axum::Router;
    use tower::ServiceExt;

    fn from(ip: [u8; 4]) -> Request<Body> {
        at("/auth/test/start", ip)
    }

    fn at(path: &str, ip: [u8; 4]) -> Request<Body> {
        let method = if path.starts_with("/api/") {
            "POST"
        } else {
            "GET"
        };
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        request
    }

    #[tokio::test]
    async fn requests_over_the_limit_get_a_clear_429_per_client_address() {
        let app = Router::new()
            .route("/auth/test/start", get(|| async { "ok" }))
            .route("/api/invite_member", post(|| async { "ok" }))
            .route("/brand", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                SignInLimit::per_minute(3),
                limit_sign_in,
            ));
        for _ in 0..3 {
            let ok = app.clone().oneshot(from([10, 0, 0, 1])).await.unwrap();
            assert_eq!(ok.status(), StatusCode::OK);
        }
        let refused = app.clone().oneshot(from([10, 0, 0, 1])).await.unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = refused.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=20).contains(&wait), "Retry-After {wait}");
        let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .unwrap();
        let page = String::from_utf8(body.to_vec()).unwrap();
        assert!(page.contains("Too many attempts"), "{page}");
        assert!(page.contains(&format!("wait {wait} seconds")), "{page}");
        // Another client address has its own allowance.
        let other = app.clone().oneshot(from([10, 0, 0, 2])).await.unwrap();
        assert_eq!(other.status(), StatusCode::OK);
        // The invitation endpoint shares the allowance; other pages are not limited.
        let invite = app
            .clone()
            .oneshot(at("/api/invite_member", [10, 0, 0, 1]))
            .await
            .unwrap();
        assert_eq!(invite.status(), StatusCode::TOO_MANY_REQUESTS);
        let page = app
            .clone()
            .oneshot(at("/brand", [10, 0, 0, 1]))
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
    }
}
