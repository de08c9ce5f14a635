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
