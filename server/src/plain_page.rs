//! The few pages the server answers without the app (a refused cross-site request, a
//! rate limit, a handler that panicked): the site's stylesheet and plain words, so they
//! look like Enclave and read the same with or without it.

/// A whole page. `body` is trusted HTML written by this crate (never visitor input).
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} · Enclave</title><link rel=\"stylesheet\" href=\"/pkg/enclave.css\"></head>\
         <body><main role=\"main\"><h1>{title}</h1>{body}</main></body></html>"
    )
}

/// A request refused before the app sees it (a rate limit, the database away), with
/// `Retry-After`. A hydrated page calls server functions with fetch and decodes the error
/// body, so a server-function call gets the error it decodes; a form posted without
/// JavaScript (and every other path) gets a page titled `title` with `words` and the
/// `next` link (trusted HTML of this crate).
pub fn refusal(
    status: axum::http::StatusCode,
    retry_after: u64,
    server_fn: bool,
    headers: &axum::http::HeaderMap,
    (title, words, next): (&str, &str, &str),
) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"));
    let mut response = if server_fn && !wants_html {
        crate::error_status::server_fn_error(
            status,
            &app::error::AppError::NotAvailable(words.into()),
        )
    } else {
        let page = page(
            title,
            &format!("<p class=\"notice error\" role=\"alert\">{words}</p><p>{next}</p>"),
        );
        (status, axum::response::Html(page)).into_response()
    };
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    response
}

/// "1 second", "5 seconds", "3 minutes".
pub fn wait_words(seconds: u64) -> String {
    match seconds {
        1 => "1 second".into(),
        s if s < 120 => format!("{s} seconds"),
        s => format!("{} minutes", s.div_ceil(60)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_read_as_words() {
        assert_eq!(wait_words(1), "1 second");
        assert_eq!(wait_words(30), "30 seconds");
        assert_eq!(wait_words(3000), "50 minutes");
    }
}
