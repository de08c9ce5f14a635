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

/// A short reference shown to the user and written beside the detail in the log.
#[cfg(feature = "ssr")]
pub fn new_request_id() -> String {
    tenancy::new_reference()
}

#[cfg(feature = "ssr")]
impl AppError {
    /// Logs the detail with a fresh request id and returns an error naming only the id.
    pub fn internal(detail: &dyn std::fmt::Display) -> Self {
        let request_id = new_request_id();
        tracing::error!(%request_id, error = %detail, "server function failed");
        AppError::Internal { request_id }
    }
}
