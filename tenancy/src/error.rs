use thiserror::Error;

/// Errors at the tenancy boundary. The database raises `insufficient_privilege` for a
/// refused context and `serialization_failure` for a lost concurrent edit; both are
/// mapped here so callers never parse SQL error text.
#[derive(Debug, Error)]
pub enum TenantError {
    #[error("no access: {0}")]
    NoAccess(String),
    /// A tenant function refused the action in words written for the user (a PL/pgSQL
    /// `RAISE ... insufficient_privilege`, e.g. "only owners and admins can manage
    /// members"), as opposed to a bare permission or row-level-security error.
    #[error("refused: {0}")]
    Refused(String),
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("rejected by the database: {0}")]
    Rejected(String),
    /// The job queue refused or failed (an unregistered queue, a bad task input).
    #[error("job queue: {0}")]
    Queue(String),
    #[error("database unavailable or failed: {0}")]
    Database(#[source] sqlx::Error),
}

impl From<sqlx::Error> for TenantError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            let message = db.message().to_string();
            match db.code().as_deref() {
                // insufficient_privilege, and RLS's "new row violates row-level security"
                Some("42501") => {
                    let raised_by_function = db
                        .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                        .and_then(|e| e.routine())
                        == Some("exec_stmt_raise");
                    return if raised_by_function {
                        TenantError::Refused(message)
                    } else {
                        TenantError::NoAccess(message)
                    };
                }
                Some("40001") => return TenantError::Conflict(message),
                // check / not-null / unique / foreign-key violations: bad input
                Some("23514") | Some("23502") | Some("23505") | Some("23503") | Some("22001")
                | Some("22023") | Some("22P02") => return TenantError::Rejected(message),
                _ => {}
            }
        }
        TenantError::Database(err)
    }
}

impl TenantError {
    /// Any refusal on access grounds, whatever words came with it.
    pub fn is_no_access(&self) -> bool {
        matches!(self, TenantError::NoAccess(_) | TenantError::Refused(_))
    }
}
