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

/// Requests one process serves at once; past it the next is answered 503 at once. Normal
/// load is far below (the pool has 10 connections; 32 concurrent page loads in
/// `bench-pages`); what it bounds is a pile-up: in the soak, the ~3 s before the gate closed
/// on a database outage kept ~700 requests waiting in memory, and the server kept the
/// memory afterwards (+10% resident).
pub const MAX_IN_FLIGHT: usize = 256;

/// Sheds requests past [`MAX_IN_FLIGHT`] with a 503 (tower's `LoadShed` over one
/// `GlobalConcurrencyLimit`: one semaphore for every route, since `Router::layer` wraps
/// each route on its own).
pub fn bound_in_flight<S: Clone + Send + Sync + 'static>(
    router: axum::Router<S>,
) -> axum::Router<S> {
    router.layer(
        tower::ServiceBuilder::new()
            .layer(axum::error_handling::HandleErrorLayer::new(
                shed_past_capacity,
            ))
            .load_shed()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new(
                MAX_IN_FLIGHT,
            )),
    )
}

/// The answer to a request shed by the in-flight bound: the same "temporarily
/// unavailable", in plain words, with `Retry-After`.
async fn shed_past_capacity(
    uri: axum::http::Uri,
    headers: HeaderMap,
    _overloaded: tower::BoxError,
) -> Response {
    crate::plain_page::refusal(
        StatusCode::SERVICE_UNAVAILABLE,
        RETRY_AFTER,
        uri.path().starts_with("/api/"),
        &headers,
        (
            "Temporarily unavailable",
            "Enclave is busy right now and could not take your request. Please try again in a moment.",
            "<a href=\"\">Try again</a>",
        ),
    )
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

    /// A browser's GET of a page.
    fn page_get(path: &str) -> Request<Body> {
        Request::builder()
            .uri(path)
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .unwrap()
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
        let call = |path: &'static str| app.clone().oneshot(page_get(path));
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

    #[tokio::test]
    async fn past_the_in_flight_bound_any_route_is_503_at_once_and_room_comes_back() {
        // Semaphores, not a Notify: a permit given before the handler waits is not lost.
        let release = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let started = std::sync::Arc::new(tokio::sync::Semaphore::new(0));
        let waiting = {
            let (release, started) = (release.clone(), started.clone());
            move || async move {
                started.add_permits(1);
                release.acquire().await.unwrap().forget();
                "done"
            }
        };
        let app = bound_in_flight(
            Router::new()
                .route("/slow", get(waiting))
                .route("/other", get(|| async { "other" })),
        );
        let get_ = |path: &'static str| app.clone().oneshot(page_get(path));
        let held: Vec<_> = (0..MAX_IN_FLIGHT)
            .map(|_| tokio::spawn(get_("/slow")))
            .collect();
        // Every held request is inside its handler.
        let _all = started.acquire_many(MAX_IN_FLIGHT as u32).await.unwrap();
        // One more, on another route: shed, with the plain words and Retry-After.
        let shed = get_("/other").await.unwrap();
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()[header::RETRY_AFTER], RETRY_AFTER.to_string());
        let body = axum::body::to_bytes(shed.into_body(), 1 << 16)
            .await
            .unwrap();
        assert!(String::from_utf8_lossy(&body).contains("Enclave is busy right now"));
        // Released, the held ones finish and the bound lets requests in again.
        release.add_permits(MAX_IN_FLIGHT);
        for h in held {
            assert_eq!(h.await.unwrap().unwrap().status(), StatusCode::OK);
        }
        assert_eq!(get_("/other").await.unwrap().status(), StatusCode::OK);
    }
}
