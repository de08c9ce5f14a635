use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// The one error type at the server-function boundary. Every variant reads as plain
/// words to a user; details stay in the server log under the request id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("You are not signed in. Sign in to continue.")]
    NotSignedIn,
    /// A platform admin's change needs a recent sign-in (15 minutes); the words say so.
    #[error("{0}")]
    SignInAgain(String),
    #[error("Choose an organization, or create one, to continue.")]
    NoOrganization,
    #[error("Choose a client to work on.")]
    ChooseClient,
    #[error("You don't have access to this: {0}")]
    NoAccess(String),
    #[error("{0}")]
    Conflict(String),
    #[error("Please check the form: {0}")]
    Invalid(String),
    #[error("{0}")]
    NotAvailable(String),
    /// The plan does not allow it now; the words say what to do on the Billing page.
    #[error("{0}")]
    OverLimit(String),
    #[error(
        "Something went wrong on our side (reference {request_id}). Please try again in a moment."
    )]
    Internal { request_id: String },
    /// The database cannot be reached just now (it is restarting, or down): nothing the
    /// person did was wrong, and trying again shortly will work.
    #[error("Enclave is temporarily unavailable: it cannot reach its database (reference {request_id}). Please try again in a minute.")]
    Unavailable { request_id: String },
    #[error("Could not reach the server: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<tenancy::TenantError> for AppError {
    fn from(err: tenancy::TenantError) -> Self {
        use tenancy::TenantError as E;
        match err {
            E::NoAccess(detail) => {
                tracing::warn!(%detail, "tenant access refused");
                AppError::NoAccess(
                    "your membership does not allow it. Ask an owner of the organization.".into(),
                )
            }
            E::Refused(message) => AppError::NoAccess(message),
            E::Conflict(message) => AppError::Conflict(message),
            E::Rejected(words) => AppError::Invalid(words),
            E::OverLimit(words) => AppError::OverLimit(words),
            E::SignInAgain(_) => AppError::SignInAgain(
                "Changes in the admin console need a sign-in from the last 15 minutes. Sign in again, then repeat the change.".into(),
            ),
            E::BadInput(detail) => {
                let request_id = new_request_id();
                tracing::warn!(%request_id, %detail, "the database refused a value");
                AppError::Invalid(format!(
                    "a value was not accepted: it may be too long, out of range or contain characters that cannot be stored (reference {request_id})"
                ))
            }
            E::Unavailable(source) => AppError::unavailable(&source),
            E::Database(source) => AppError::internal(&source),
            E::Queue(detail) => AppError::internal(&detail),
        }
    }
}

/// Statements run inside a `TenantTx` fail as `sqlx::Error`; map them like any other
/// tenancy error.
#[cfg(feature = "ssr")]
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        tenancy::TenantError::from(err).into()
    }
}

/// Whether Leptos has dropped the request this code runs for: the client went away in the
/// middle of a page while one of its resources was still running, and the request's own
/// parts are gone from the context with everything else.
#[cfg(feature = "ssr")]
pub fn request_gone() -> bool {
    leptos::prelude::use_context::<http::request::Parts>().is_none()
}

/// The answer for work whose request is gone: nobody is waiting for it, so a debug line,
/// not an error.
#[cfg(feature = "ssr")]
pub fn request_ended(what: &str) -> AppError {
    tracing::debug!(
        what,
        "the request ended before its work did (the client went away)"
    );
    AppError::Transport("the request ended before its page was ready".into())
}

/// A value the server provides to every request is not in the context: the request is
/// gone ([`request_ended`]), or the server was wired without the value, which is a bug.
#[cfg(feature = "ssr")]
pub fn missing_context(what: &str) -> AppError {
    if request_gone() {
        request_ended(what)
    } else {
        AppError::internal(&format_args!("{what} is missing from the request context"))
    }
}

/// A short reference shown to the user and written beside the detail in the log.
#[cfg(feature = "ssr")]
pub fn new_request_id() -> String {
    tenancy::new_reference()
}

#[cfg(feature = "ssr")]
impl AppError {
    /// The database cannot be reached: logged (a warning, with a fresh request id) and
    /// answered as temporarily unavailable, naming only the id.
    pub fn unavailable(detail: &dyn std::fmt::Display) -> Self {
        let request_id = new_request_id();
        tracing::warn!(%request_id, error = %detail, "the database is unavailable");
        AppError::Unavailable { request_id }
    }

    /// Logs the detail with a fresh request id and returns an error naming only the id.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        let request_id = new_request_id();
        tracing::error!(%request_id, error = %detail, "server function failed");
        AppError::Internal { request_id }
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use leptos::prelude::{provide_context, Owner};

    #[test]
    fn a_context_missing_from_a_live_request_is_a_bug() {
        let owner = Owner::new();
        owner.with(|| {
            let (parts, ()) = http::Request::new(()).into_parts();
            provide_context(parts);
            assert!(matches!(
                missing_context("TenantDb"),
                AppError::Internal { .. }
            ));
        });
    }

    #[test]
    fn a_context_missing_from_a_dropped_request_is_not_an_error() {
        // What a page's resource sees once the client has gone: its owner no longer
        // reaches the request's, which held every context.
        let request = Owner::new();
        let resource = request.with(|| {
            let (parts, ()) = http::Request::new(()).into_parts();
            provide_context(parts);
            request.child()
        });
        drop(request);
        resource.with(|| {
            assert_eq!(
                missing_context("TenantDb"),
                AppError::Transport("the request ended before its page was ready".into())
            );
        });
    }
}
