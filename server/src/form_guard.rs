//! Guards in front of what parses request input for us.
//!
//! * Server functions decode url-encoded bodies with `serde_qs`, which recurses once per
//!   `[` of a key: a 11 KB body of a thousand-level key aborted the whole process with a
//!   stack overflow (found by the fuzz suite). Bodies of server-function calls are read
//!   here first (within the body limit) and refused with 400 when they have more fields,
//!   or deeper keys, than any form of ours sends.
//! * Path segments longer than any file name make the static file service log an ERROR
//!   (`File name too long`) for every such request: answered 404 here instead.

use app::error::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, Response, StatusCode};
use axum::middleware::Next;

/// The largest server-function body read here (the largest form, brand guidelines, is
/// well under it).
pub const MAX_FORM_BYTES: usize = 2 * 1024 * 1024;
/// Fields in one form (the import mapping sends a few dozen).
pub const MAX_FORM_FIELDS: usize = 500;
/// Nesting of a key (`choice[name]` is 1).
pub const MAX_KEY_DEPTH: usize = 4;
/// A path segment longer than this names nothing on this site.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Why a form body is refused, if it is.
pub fn judge_form(body: &[u8]) -> Option<&'static str> {
    let mut fields = 0usize;
    for pair in body.split(|b| *b == b'&') {
        if pair.is_empty() {
            continue;
        }
        fields += 1;
        if fields > MAX_FORM_FIELDS {
            return Some("too many fields");
        }
        let key = pair.split(|b| *b == b'=').next().unwrap_or(pair);
        if key_depth(key) > MAX_KEY_DEPTH {
            return Some("a field name is nested too deeply");
        }
    }
    None
}

/// Opening brackets in a key, written or percent-encoded (`[` or `%5B`).
fn key_depth(key: &[u8]) -> usize {
    let plain = key.iter().filter(|b| **b == b'[').count();
    let encoded = key
        .windows(3)
        .filter(|w| w[0] == b'%' && w[1] == b'5' && (w[2] == b'B' || w[2] == b'b'))
        .count();
    plain + encoded
}

fn refused(status: StatusCode, words: &str) -> Response<Body> {
    crate::error_status::server_fn_error(status, &AppError::Invalid(words.to_string()))
}

/// Middleware on every route.
pub async fn guard_inputs(request: Request<Body>, next: Next) -> Response<Body> {
    if request
        .uri()
        .path()
        .split('/')
        .any(|segment| segment.len() > MAX_SEGMENT_BYTES)
    {
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Body::from("Not found"))
            .unwrap_or_default();
    }
    let query_too_deep = request
        .uri()
        .query()
        .is_some_and(|q| judge_form(q.as_bytes()).is_some());
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    if query_too_deep {
        return refused(
            StatusCode::BAD_REQUEST,
            "the request has too many fields, or fields nested too deeply",
        );
    }
    // server_fn decodes a url-encoded body whatever the Content-Type says, and none of
    // our functions takes another encoding: every body is judged as a form.
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_FORM_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            let too_large = std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            return if too_large {
                refused(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the form is larger than 2 MB",
                )
            } else {
                refused(StatusCode::BAD_REQUEST, "the form did not arrive whole")
            };
        }
    };
    if let Some(why) = judge_form(&bytes) {
        tracing::info!(path = %parts.uri.path(), why, bytes = bytes.len(), "server-function form refused");
        return refused(
            StatusCode::BAD_REQUEST,
            &format!("the form was not accepted: {why}"),
        );
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_of_ours_pass_and_hostile_shapes_are_refused() {
        assert_eq!(judge_form(b"client=&name=Spring&budget=1%2C500"), None);
        assert_eq!(
            judge_form(b"batch_id=x&choice%5Bname%5D=1&choice[goals]="),
            None
        );
        let deep = format!("a{}=1", "[x]".repeat(1000));
        assert!(judge_form(deep.as_bytes()).is_some());
        let deep_encoded = format!("a{}=1", "%5bx%5D".repeat(5));
        assert!(judge_form(deep_encoded.as_bytes()).is_some());
        let many = (0..1200)
            .map(|i| format!("p{i}=v"))
            .collect::<Vec<_>>()
            .join("&");
        assert!(judge_form(many.as_bytes()).is_some());
    }

    #[tokio::test]
    async fn the_fuzz_finding_is_answered_400_without_reaching_the_handler() {
        use axum::routing::post;
        use tower::ServiceExt;
        let app = axum::Router::new()
            .route(
                "/api/viewer",
                post(|| async {
                    panic!("the handler must not run");
                    #[allow(unreachable_code)]
                    "unreachable"
                }),
            )
            .layer(axum::middleware::from_fn(guard_inputs));
        let body = (0..1200)
            .map(|i| format!("p{i}=v"))
            .chain(std::iter::once(format!("a{}=1", "[x]".repeat(1000))))
            .collect::<Vec<_>>()
            .join("&");
        let response = app
            .clone()
            .oneshot(
                // No Content-Type: server_fn decodes the body as a form all the same.
                Request::post("/api/viewer").body(Body::from(body)).unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let long = format!("/pkg/{}.js", "a".repeat(3000));
        let response = app
            .oneshot(Request::get(long).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
