//! Start-up guard for `serve` and `worker`: the database's environment stamp must match
//! ENCLAVE_ENV, the runtime credentials must not be an admin's, every migration built into
//! this binary must be applied unchanged, and the tenancy audit must be clean.

use crate::config::Environment;
use crate::ops::audit::{self, AuditReport};
use crate::ops::migrate::{self, MigrationStatus};
use sqlx::{ConnectOptions, PgConnection};
use std::str::FromStr;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum GuardError {
    #[error("cannot connect with DATABASE_URL: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("database {database} has no environment stamp: run `enclave migrate` first")]
    NotStamped { database: String },
    #[error("refusing to start: database {database} is stamped {stamped:?} (instance {instance}) but ENCLAVE_ENV is {expected:?}")]
    EnvMismatch {
        database: String,
        stamped: String,
        instance: String,
        expected: String,
    },
    #[error("refusing to start: the runtime credentials (role {role} on database {database}) are {what}; DATABASE_URL must name the unprivileged runtime role")]
    PrivilegedRuntime {
        role: String,
        database: String,
        what: String,
    },
    #[error("refusing to start: database {database} {problem}")]
    Migrations { database: String, problem: String },
    #[error("refusing to start: the tenancy audit found {count} violation(s) in database {database}:\n{report}")]
    AuditFailed {
        database: String,
        count: usize,
        report: String,
    },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
}

#[derive(Debug)]
pub struct GuardReport {
    pub database: String,
    pub environment: String,
    pub instance_id: String,
    pub runtime_role: String,
    pub audit: AuditReport,
}

pub async fn connect_runtime(url: &str) -> Result<PgConnection, GuardError> {
    sqlx::postgres::PgConnectOptions::from_str(url)
        .map_err(GuardError::Connect)?
        .connect()
        .await
        .map_err(GuardError::Connect)
}

/// What the runtime role is, beyond what it should be. Empty when unprivileged.
pub async fn runtime_privileges(conn: &mut PgConnection) -> Result<Vec<String>, sqlx::Error> {
    let (is_super, bypass, is_owner): (bool, bool, bool) = sqlx::query_as(
        "SELECT r.rolsuper, r.rolbypassrls,
                EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspname = 'enclave' AND pg_has_role(current_user, n.nspowner, 'MEMBER'))
           FROM pg_roles r WHERE r.rolname = current_user",
    )
    .fetch_one(conn)
    .await?;
    let mut what = Vec::new();
    if is_super {
        what.push("a superuser".to_string());
    }
    if bypass {
        what.push("BYPASSRLS".to_string());
    }
    if is_owner {
        what.push("the schema owner".to_string());
    }
    Ok(what)
}

pub async fn check(url: &str, expected: Environment) -> Result<GuardReport, GuardError> {
    let mut conn = connect_runtime(url).await?;
    let (database, role): (String, String) =
        sqlx::query_as("SELECT current_database()::text, current_user::text")
            .fetch_one(&mut conn)
            .await?;
    let privileged = runtime_privileges(&mut conn).await?;
    if !privileged.is_empty() {
        return Err(GuardError::PrivilegedRuntime {
            role,
            database,
            what: privileged.join(", "),
        });
    }
    let stamp: Option<(String, String)> =
        match sqlx::query_as("SELECT environment, instance_id::text FROM enclave.instance")
            .fetch_optional(&mut conn)
            .await
        {
            Ok(row) => row,
            // The table does not exist yet (never migrated) or is not readable.
            Err(sqlx::Error::Database(e))
                if matches!(
                    e.code().as_deref(),
                    Some("42P01") | Some("3F000") | Some("42501")
                ) =>
            {
                None
            }
            Err(e) => return Err(e.into()),
        };
    let (stamped, instance) = stamp.ok_or_else(|| GuardError::NotStamped {
        database: database.clone(),
    })?;
    if stamped != expected.as_str() {
        return Err(GuardError::EnvMismatch {
            database,
            stamped,
            instance,
            expected: expected.as_str().to_string(),
        });
    }
    let migrations = migrate::status(&mut conn).await?;
    if !migrations.is_current() {
        return Err(GuardError::Migrations {
            database,
            problem: migrations_problem(&migrations),
        });
    }
    let audit = audit::run(&mut conn).await?;
    if !audit.is_clean() {
        return Err(GuardError::AuditFailed {
            database,
            count: audit.violations.len(),
            report: audit.human(),
        });
    }
    Ok(GuardReport {
        database,
        environment: stamped,
        instance_id: instance,
        runtime_role: role,
        audit,
    })
}

/// What is wrong with the migrations, in words that say what to do.
fn migrations_problem(m: &MigrationStatus) -> String {
    let mut problems = Vec::new();
    if !m.pending.is_empty() {
        problems.push(format!(
            "is missing migration(s) {} that this release needs: run `enclave migrate` with this release first",
            m.pending.join(", ")
        ));
    }
    if !m.changed.is_empty() {
        problems.push(format!(
            "has migration(s) {} applied from files that differ from this release's (checksums differ): run the release that applied them, and never edit a migration once it has landed",
            m.changed.join(", ")
        ));
    }
    problems.join("; and it ")
}
