//! Server functions answer every error with HTTP 500 (leptos' `server_fn` has one error
//! response). An error the caller caused is not a server failure: a request whose
//! arguments cannot be read, a refusal, a conflict or bad input answers 4xx, so that
//! monitoring counts real failures and nothing a visitor sends looks like one. Only
//! `AppError::Internal` stays 500. The body is untouched: the hydrated client decodes any
//! 4xx or 5xx body as the function's error.

use app::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Response, StatusCode};
use axum::middleware::Next;
use leptos::server_fn::error::SERVER_FN_ERROR_HEADER;

/// Server-function errors are a few hundred bytes; anything larger is left alone.
const MAX_ERROR_BODY: usize = 64 * 1024;

pub fn status_of(error: &AppError) -> StatusCode {
    match error {
        AppError::NotSignedIn | AppError::SignInAgain(_) => StatusCode::UNAUTHORIZED,
        AppError::NoOrganization | AppError::ChooseClient | AppError::NoAccess(_) => {
            StatusCode::FORBIDDEN
        }
        AppError::Conflict(_) => StatusCode::CONFLICT,
        AppError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        AppError::NotAvailable(_) => StatusCode::NOT_FOUND,
        // 402 Payment Required: what the plan allows, not what the request says.
        AppError::OverLimit(_) => StatusCode::PAYMENT_REQUIRED,
        // The server could not read the request's arguments.
        AppError::Transport(_) => StatusCode::BAD_REQUEST,
        AppError::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        // The database is not there right now: try again shortly.
        AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A server-function error answered before the function runs (a guard, a limit), in
/// the shape the hydrated client decodes as the function's own error.
pub fn server_fn_error(status: StatusCode, error: &AppError) -> Response<Body> {
    let mut response = Response::new(Body::from(serde_json::to_string(error).unwrap_or_default()));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        SERVER_FN_ERROR_HEADER,
        axum::http::HeaderValue::from_static("enclave"),
    );
    response
}

/// Middleware on every route: rewrites the status of server-function error responses.
pub async fn server_fn_error_status(request: Request<Body>, next: Next) -> Response<Body> {
    let response = next.run(request).await;
    if response.status() != StatusCode::INTERNAL_SERVER_ERROR
        || !response.headers().contains_key(SERVER_FN_ERROR_HEADER)
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_ERROR_BODY).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "server function error body could not be read");
            return Response::from_parts(parts, Body::empty());
        }
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = status_of(&error);
        if let AppError::Transport(detail) = &error {
            tracing::info!(%detail, "server function called with arguments it cannot read");
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use axum::routing::post;
    use axum::Router;
    use tower::ServiceExt;

    fn failing(error: AppError) -> Response<Body> {
        let mut r = Response::new(Body::from(serde_json::to_string(&error).unwrap()));
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        r.headers_mut()
            .insert(SERVER_FN_ERROR_HEADER, HeaderValue::from_static("/api/x"));
        r
    }

    #[tokio::test]
    async fn caller_errors_answer_4xx_and_keep_their_words() {
        let cases = [
            (AppError::NotSignedIn, 401),
            (AppError::ChooseClient, 403),
            (AppError::NoAccess("no".into()), 403),
            (AppError::Conflict("stale".into()), 409),
            (AppError::Invalid("bad".into()), 422),
            (AppError::NotAvailable("gone".into()), 404),
            (AppError::OverLimit("all seats are in use".into()), 402),
            (AppError::Transport("missing field `name`".into()), 400),
            (
                AppError::Internal {
                    request_id: "abc".into(),
                },
                500,
            ),
        ];
        for (error, status) in cases {
            let app = Router::new()
                .route(
                    "/api/x",
                    post({
                        let error = error.clone();
                        move || async move { failing(error) }
                    }),
                )
                .layer(axum::middleware::from_fn(server_fn_error_status));
            let response = app
                .oneshot(Request::post("/api/x").body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), status, "{error:?}");
            let body = axum::body::to_bytes(response.into_body(), 1 << 16)
                .await
                .unwrap();
            assert_eq!(serde_json::from_slice::<AppError>(&body).unwrap(), error);
        }
    }

    #[tokio::test]
    async fn other_500s_are_left_alone() {
        let app = Router::new()
            .route(
                "/boom",
                post(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
            )
            .layer(axum::middleware::from_fn(server_fn_error_status));
        let response = app
            .oneshot(Request::post("/boom").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
