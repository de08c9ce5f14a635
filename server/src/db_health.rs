//! Whether the database answers, asked once a second by one task. While it does not,
//! pages, server functions and uploads are answered at once with 503 "temporarily
//! unavailable" (and `Retry-After`) instead of each waiting out the pool and failing on
//! its own; the first answer after an outage opens the door again, so the server
//! recovers by itself (sqlx replaces the broken connections as they are next used).

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How often the database is asked, and how long an answer may take.
const EVERY: Duration = Duration::from_secs(1);
const ANSWER_WITHIN: Duration = Duration::from_secs(2);
/// What `Retry-After` tells clients (seconds).
const RETRY_AFTER: u64 = 5;

#[derive(Clone, Default)]
pub struct DbHealth {
    down: Arc<AtomicBool>,
}

impl DbHealth {
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Records one check's outcome; logs the changes only (down, and back).
    pub fn record(&self, answered: Result<(), String>) {
        match answered {
            Ok(()) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("the database answers again; serving pages");
                }
            }
            Err(why) => {
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(%why, "the database does not answer; answering 503 until it does");
                }
            }
        }
    }

    /// Asks the database every second, for the life of the process.
    pub fn watch(&self, probe: tenancy::Probe) {
        let health = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                let answered = match tokio::time::timeout(ANSWER_WITHIN, probe.ping()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {} s", ANSWER_WITHIN.as_secs())),
                };
                health.record(answered);
            }
        });
    }
}

/// Middleware: 503 for anything that would need the database while it does not answer.
/// The stylesheet and the wasm (`/pkg/…`) are still served, so the page below has its
/// look.
pub async fn gate(State(health): State<DbHealth>, request: Request<Body>, next: Next) -> Response {
    if !health.is_down() || request.uri().path().starts_with("/pkg/") {
        return next.run(request).await;
    }
    unavailable(request.uri().path().starts_with("/api/"), request.headers())
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

    fn app(health: DbHealth) -> Router {
        Router::new()
            .route("/campaigns", get(|| async { "the page" }))
            .route("/pkg/enclave.css", get(|| async { "css" }))
            .route(
                "/api/list_campaigns",
                axum::routing::post(|| async { "[]" }),
            )
            .layer(axum::middleware::from_fn_with_state(health, gate))
    }

    async fn call(health: &DbHealth, method: &str, path: &str, accept: &str) -> Response {
        app(health.clone())
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
    async fn while_the_database_is_down_pages_and_calls_get_503_then_recover() {
        let health = DbHealth::default();
        assert_eq!(
            call(&health, "GET", "/campaigns", "text/html")
                .await
                .status(),
            StatusCode::OK
        );

        health.record(Err("connection refused".into()));
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

        health.record(Ok(()));
        assert_eq!(
            call(&health, "GET", "/campaigns", "text/html")
                .await
                .status(),
            StatusCode::OK
        );
    }
}
