//! While the database does not answer ([`tenancy::Probe::watch`], asked every 250 ms on a
//! connection of its own), pages, server functions and uploads are answered at once with
//! 503 "temporarily unavailable" (and `Retry-After`) instead of each waiting out the pool
//! and failing on its own; the first answer after an outage opens the door again, so the
//! server recovers by itself (sqlx replaces the broken connections as they are next used).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use tenancy::Answering;

/// What `Retry-After` tells clients (seconds).
const RETRY_AFTER: u64 = 5;

/// Middleware: 503 for anything that would need the database while it does not answer.
/// The stylesheet and the wasm (`/pkg/…`) are still served, so the page below has its
/// look.
pub async fn gate(
    State(answering): State<Answering>,
    request: Request<Body>,
    next: Next,
) -> Response {
    if *answering.borrow() || request.uri().path().starts_with("/pkg/") {
        return next.run(request).await;
    }
    unavailable(request.uri().path().starts_with("/api/"), request.headers())
}

/// Middleware, just outside the session layer: tower-sessions answers a session it could
/// not save with a bare 500 (no header, no body: `Response::default()`), which at the
/// start of an outage reaches people before the probe has noticed. The store failing is
/// the database failing, so it is the same "temporarily unavailable" as above. Every
/// other response carries headers and passes untouched.
pub async fn session_store_failure(request: Request<Body>, next: Next) -> Response {
    let server_fn = request.uri().path().starts_with("/api/");
    let headers = request.headers().clone();
    let response = next.run(request).await;
    if response.status() == StatusCode::INTERNAL_SERVER_ERROR && response.headers().is_empty() {
        return unavailable(server_fn, &headers);
    }
    response
}

fn unavailable(server_fn: bool, headers: &HeaderMap) -> Response {
    crate::plain_page::refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        RETRY_AFTER,
        server_fn,
        headers,
        (
            "Temporarily unavailable",
            "Enclave is temporarily unavailable: it cannot reach its database. Please try again in a minute.",
            "<a href=\"\">Try again</a>",
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    fn app(answering: Answering) -> Router {
        Router::new()
            .route("/campaigns", get(|| async { "the page" }))
            .route("/pkg/enclave.css", get(|| async { "css" }))
            .route(
                "/api/list_campaigns",
                axum::routing::post(|| async { "[]" }),
            )
            .layer(axum::middleware::from_fn_with_state(answering, gate))
    }

    async fn call(answering: &Answering, method: &str, path: &str, accept: &str) -> Response {
        app(answering.clone())
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(path)
                    .header(header::ACCEPT, accept)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_session_the_store_could_not_save_is_503_not_a_bare_500() {
        let app = Router::new()
            .route(
                "/saved-failed",
                get(|| async {
                    let mut bare = Response::<Body>::default();
                    *bare.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                    bare
                }),
            )
            .route(
                "/ours",
                get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "reference abc") }),
            )
            .layer(axum::middleware::from_fn(session_store_failure));
        let call = |path: &'static str| {
            app.clone().oneshot(
                Request::builder()
                    .uri(path)
                    .header(header::ACCEPT, "text/html")
                    .body(Body::empty())
                    .unwrap(),
            )
        };
        let bare = call("/saved-failed").await.unwrap();
        assert_eq!(bare.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(bare.headers()[header::RETRY_AFTER], "5");
        let ours = call("/ours").await.unwrap();
        assert_eq!(
            ours.status(),
            StatusCode::INTERNAL_SERVER_ERROR,
            "our own errors pass untouched"
        );
    }

    #[tokio::test]
    async fn while_the_database_is_down_pages_and_calls_get_503_then_recover() {
        let (up, health) = tokio::sync::watch::channel(true);
        assert_eq!(
            call(&health, "GET", "/campaigns", "text/html")
                .await
                .status(),
            StatusCode::OK
        );

        up.send_replace(false);
        let page = call(&health, "GET", "/campaigns", "text/html").await;
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(page.headers()[header::RETRY_AFTER], "5");
        let body = axum::body::to_bytes(page.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&body).contains("temporarily unavailable"));
        let call_result = call(&health, "POST", "/api/list_campaigns", "application/json").await;
        assert_eq!(call_result.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(call_result.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(matches!(
            serde_json::from_slice::<app::error::AppError>(&body),
            Ok(app::error::AppError::NotAvailable(_))
        ));
        // The look of the page still loads.
        assert_eq!(
            call(&health, "GET", "/pkg/enclave.css", "text/css")
                .await
                .status(),
            StatusCode::OK
        );

        up.send_replace(true);
        assert_eq!(
            call(&health, "GET", "/campaigns", "text/html")
                .await
                .status(),
            StatusCode::OK
        );
    }
}
