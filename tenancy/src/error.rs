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
    /// A lost concurrent edit. Words for the user when a database function raised it,
    /// otherwise a fixed sentence (PostgreSQL's own text names internals).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A database function refused a value in words written for the user (a PL/pgSQL
    /// `RAISE ... invalid_parameter_value` such as "enter a valid email address").
    #[error("rejected by the database: {0}")]
    Rejected(String),
    /// The organization's plan does not allow it now (a limit is reached, or a past-due
    /// organization is read-only): SQLSTATE EN402, in words that point to billing.
    #[error("over the plan's limit: {0}")]
    OverLimit(String),
    /// The platform admin's sign-in is too old for a change (SQLSTATE EN401 from
    /// `enclave.admin_begin`): they must sign in again.
    #[error("sign in again: {0}")]
    SignInAgain(String),
    /// PostgreSQL itself refused a value: a constraint, a type, a size or a character it
    /// cannot store. The detail names tables and constraints, so it is for the log only.
    #[error("value refused by the database: {0}")]
    BadInput(String),
    /// The job queue refused or failed (an unregistered queue, a bad task input).
    #[error("job queue: {0}")]
    Queue(String),
    /// The database cannot be reached just now: no connection within the pool's wait, a
    /// broken connection, or the server shutting down or starting up. Another attempt in
    /// a moment may succeed; nothing about the request was wrong.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("database failed: {0}")]
    Database(#[source] sqlx::Error),
}

/// Errors that mean "the database is not there right now", not "the statement failed":
/// the pool gave up waiting, a connection broke, or PostgreSQL refused new work while it
/// stops or starts (SQLSTATE class 08, 57P01–57P03, 53300).
fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
        sqlx::Error::Tls(_) | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|c| {
            c.starts_with("08") || matches!(c.as_ref(), "57P01" | "57P02" | "57P03" | "53300")
        }),
        _ => false,
    }
}

/// The same judgement for an error that reaches us only as text: the session store
/// (tower-sessions) turns sqlx's errors into strings. These are sqlx 0.8's own words for
/// the cases [`is_unavailable`] recognises by type, PostgreSQL's for a server stopping or
/// starting, and pgbouncer 1.24's for a server it cannot reach (sent with SQLSTATE 08P01,
/// which the text no longer carries; seen in a soak run as the one 500 of the outage).
pub fn is_unavailable_text(error: &str) -> bool {
    [
        "error communicating with database",
        "pool timed out while waiting for an open connection",
        "attempted to acquire a connection on a closed pool",
        "terminating connection due to administrator command",
        "the database system is starting up",
        "the database system is shutting down",
        "server login has been failing",
        "pgbouncer cannot connect to server",
        "query_wait_timeout",
    ]
    .iter()
    .any(|words| error.contains(words))
}

#[cfg(test)]
mod tests {
    use super::is_unavailable_text;

    #[test]
    fn an_outage_in_the_session_stores_words_is_unavailable() {
        for outage in [
            "error returned from database: server login has been failing, cached error: server conn crashed? (server_login_retry)",
            "error returned from database: the database system is starting up",
            "error communicating with database: expected to read 5 bytes, got 0 bytes at EOF",
        ] {
            assert!(is_unavailable_text(outage), "{outage}");
        }
        for failure in [
            "error returned from database: relation \"tower_sessions.session\" does not exist",
            "error returned from database: permission denied for table session",
        ] {
            assert!(!is_unavailable_text(failure), "{failure}");
        }
    }
}

impl From<sqlx::Error> for TenantError {
    fn from(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            let message = db.message().to_string();
            // Told apart by the routine that raised the error, never by parsing its message.
            // On Citus an error raised on a worker (a function evaluated in a shard's query,
            // a shard's trigger) reaches us from `ReportResultError`; its context's innermost
            // frame, PostgreSQL's own words, still says it was a RAISE.
            let raised_by_function = db
                .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                .is_some_and(|e| match e.routine() {
                    Some("exec_stmt_raise") => true,
                    Some("ReportResultError") => e
                        .r#where()
                        .and_then(|context| context.lines().next())
                        .is_some_and(|frame| {
                            frame.starts_with("PL/pgSQL function ") && frame.ends_with(" at RAISE")
                        }),
                    _ => false,
                });
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            match code {
                "EN402" if raised_by_function => return TenantError::OverLimit(message),
                "EN401" if raised_by_function => return TenantError::SignInAgain(message),
                // insufficient_privilege, and RLS's "new row violates row-level security"
                "42501" if raised_by_function => return TenantError::Refused(message),
                "42501" => return TenantError::NoAccess(message),
                "40001" if raised_by_function => return TenantError::Conflict(message),
                "40001" | "40P01" => return TenantError::Conflict(
                    "Someone else changed this at the same moment. Reload the page and try again."
                        .into(),
                ),
                _ if raised_by_function && (code == "22023" || code == "P0001") => {
                    return TenantError::Rejected(message)
                }
                // Class 22 (data exceptions: too long, out of range, not a number, a NUL
                // character), class 23 (integrity: check, not-null, unique, foreign key),
                // and 54000 (a value too large to index).
                _ if code.starts_with("22") || code.starts_with("23") || code == "54000" => {
                    let detail = match db.constraint() {
                        Some(constraint) => format!("{message} (constraint {constraint})"),
                        None => message,
                    };
                    return TenantError::BadInput(detail);
                }
                _ => {}
            }
        }
        if is_unavailable(&err) {
            return TenantError::Unavailable(err);
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

/// A short reference shown to a person beside plain words and written next to the
/// detail in the log, so an operator can find one from the other.
pub fn new_reference() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}
