//! `enclave migrate`: bootstrap roles and database (only with DATABASE_ADMIN_URL), run the
//! checksummed migrations as the owner, stamp the environment.

use crate::config::{redact, Environment};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};
use std::str::FromStr;
use thiserror::Error;
use uuid::Uuid;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The NOLOGIN group role that migrations grant to; the runtime login role is made a
/// member of it, so login role names never appear in the schema.
pub const RUNTIME_GROUP: &str = "enclave_runtime";

#[derive(Debug, Error)]
pub enum MigrateError {
    #[error("cannot connect to {target}: {source}")]
    Connect {
        target: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("invalid database URL for {0}")]
    BadUrl(&'static str),
    #[error(
        "DATABASE_URL and DATABASE_OWNER_URL must name the same database ({runtime} vs {owner})"
    )]
    DatabaseMismatch { runtime: String, owner: String },
    #[error("the runtime role and the owner role must differ (both are {0:?})")]
    SameRole(String),
    #[error("group role {RUNTIME_GROUP} is missing: run `enclave migrate` once with DATABASE_ADMIN_URL, or create it (NOLOGIN) and grant it to the runtime role")]
    MissingGroupRole,
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database {database} is stamped {stamped:?} but ENCLAVE_ENV is {expected:?}; refusing to migrate it")]
    EnvMismatch {
        database: String,
        stamped: String,
        expected: String,
    },
    #[error("this database has the citus extension: distributing the schema needs a superuser, so run `enclave migrate` with DATABASE_ADMIN_URL")]
    CitusNeedsAdmin,
    #[error(transparent)]
    Citus(#[from] crate::ops::citus::CitusError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
}

#[derive(Debug)]
pub struct MigrateReport {
    pub bootstrapped: bool,
    pub applied: Vec<i64>,
    pub environment: String,
    pub instance_id: Uuid,
    pub database: String,
    /// The context-proof keys the database now holds, by id.
    pub context_keys: Vec<String>,
    /// On a Citus coordinator: what the distribution step left.
    pub citus: Option<crate::ops::citus::Distribution>,
}

struct Login {
    user: String,
    password: Option<String>,
    database: String,
}

fn login(url: &str, what: &'static str) -> Result<(PgConnectOptions, Login), MigrateError> {
    let opts = PgConnectOptions::from_str(url).map_err(|_| MigrateError::BadUrl(what))?;
    let parsed = url::Url::parse(url).map_err(|_| MigrateError::BadUrl(what))?;
    let password = parsed.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    let database = opts
        .get_database()
        .unwrap_or(opts.get_username())
        .to_string();
    let user = opts.get_username().to_string();
    Ok((
        opts,
        Login {
            user,
            password,
            database,
        },
    ))
}

/// The superuser of DATABASE_ADMIN_URL, connected to `database` (the application's).
pub async fn admin_connection(
    admin_url: &str,
    database: &str,
) -> Result<PgConnection, MigrateError> {
    let (opts, _) = login(admin_url, "DATABASE_ADMIN_URL")?;
    connect(&opts.database(database), database).await
}

async fn connect(opts: &PgConnectOptions, target: &str) -> Result<PgConnection, MigrateError> {
    opts.clone()
        .log_statements(tracing::log::LevelFilter::Debug)
        .connect()
        .await
        .map_err(|source| MigrateError::Connect {
            target: target.to_string(),
            source,
        })
}

/// Runs a statement built server-side by `format()` with %I / %L, so role names and
/// passwords are quoted by PostgreSQL, never spliced by us.
async fn exec_formatted(
    conn: &mut PgConnection,
    template: &str,
    args: &[&str],
) -> Result<(), MigrateError> {
    let mut q = sqlx::query_scalar::<_, String>(template);
    for a in args {
        q = q.bind(*a);
    }
    let statement = q.fetch_one(&mut *conn).await?;
    conn.execute(statement.as_str()).await?;
    Ok(())
}

async fn ensure_login_role(conn: &mut PgConnection, who: &Login) -> Result<(), MigrateError> {
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(&who.user)
            .fetch_one(&mut *conn)
            .await?;
    let verb = if exists { "ALTER" } else { "CREATE" };
    let attrs = "LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE INHERIT";
    match &who.password {
        // Never the password itself in SQL text or a bind parameter: either can reach
        // the server log (`log_statement`, and the parameters PostgreSQL logs with it).
        // The verifier is computed here, as psql's \password does, and PostgreSQL
        // stores it as given.
        Some(pw) => {
            let verifier = postgres_protocol::password::scram_sha_256(pw.as_bytes());
            exec_formatted(
                conn,
                &format!("SELECT format('{verb} ROLE %I {attrs} PASSWORD %L', $1::text, $2::text)"),
                &[&who.user, &verifier],
            )
            .await
        }
        None => {
            exec_formatted(
                conn,
                &format!("SELECT format('{verb} ROLE %I {attrs}', $1::text)"),
                &[&who.user],
            )
            .await
        }
    }
}

/// Creates or updates the owner and runtime roles and the database. Uses the admin URL
/// and nothing else does.
async fn bootstrap(admin_url: &str, owner: &Login, runtime: &Login) -> Result<(), MigrateError> {
    let (admin_opts, _) = login(admin_url, "DATABASE_ADMIN_URL")?;
    let mut admin = connect(&admin_opts, &redact(admin_url)).await?;
    // Roles are cluster-wide and CREATE ROLE races between concurrent bootstraps; an
    // advisory lock makes bootstraps take turns.
    sqlx::query("SELECT pg_advisory_lock(7235001)")
        .execute(&mut admin)
        .await?;
    let result = async {
        ensure_login_role(&mut admin, owner).await?;
        ensure_login_role(&mut admin, runtime).await?;
        let group_exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(RUNTIME_GROUP)
            .fetch_one(&mut admin)
            .await?;
        if !group_exists {
            exec_formatted(&mut admin, "SELECT format('CREATE ROLE %I NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE', $1::text)", &[RUNTIME_GROUP]).await?;
        }
        exec_formatted(&mut admin, "SELECT format('GRANT %I TO %I', $1::text, $2::text)", &[RUNTIME_GROUP, &runtime.user]).await?;
        let db_exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&owner.database)
            .fetch_one(&mut admin)
            .await?;
        if db_exists {
            exec_formatted(&mut admin, "SELECT format('ALTER DATABASE %I OWNER TO %I', $1::text, $2::text)", &[&owner.database, &owner.user]).await?;
        } else {
            exec_formatted(&mut admin, "SELECT format('CREATE DATABASE %I OWNER %I', $1::text, $2::text)", &[&owner.database, &owner.user]).await?;
        }
        exec_formatted(&mut admin, "SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', $1::text)", &[&owner.database]).await?;
        exec_formatted(&mut admin, "SELECT format('GRANT CONNECT ON DATABASE %I TO %I', $1::text, $2::text)", &[&owner.database, RUNTIME_GROUP]).await?;
        Ok::<(), MigrateError>(())
    }
    .await;
    let _ = sqlx::query("SELECT pg_advisory_unlock(7235001)")
        .execute(&mut admin)
        .await;
    result?;
    // The public schema belongs to the owner too (before PostgreSQL 15 it belonged to
    // the bootstrap superuser).
    let db_admin_opts = admin_opts.database(&owner.database);
    let mut in_db = connect(&db_admin_opts, &owner.database).await?;
    exec_formatted(
        &mut in_db,
        "SELECT format('ALTER SCHEMA public OWNER TO %I', $1::text)",
        &[&owner.user],
    )
    .await?;
    Ok(())
}

pub async fn migrate(
    runtime_url: &str,
    owner_url: &str,
    admin_url: Option<&str>,
    environment: Environment,
    context_keys: &[tenancy::ContextKey],
) -> Result<MigrateReport, MigrateError> {
    let (_, runtime) = login(runtime_url, "DATABASE_URL")?;
    let (owner_opts, owner) = login(owner_url, "DATABASE_OWNER_URL")?;
    if runtime.database != owner.database {
        return Err(MigrateError::DatabaseMismatch {
            runtime: runtime.database,
            owner: owner.database,
        });
    }
    if runtime.user == owner.user {
        return Err(MigrateError::SameRole(owner.user));
    }
    if let Some(admin_url) = admin_url {
        bootstrap(admin_url, &owner, &runtime).await?;
    }
    let mut conn = connect(&owner_opts, &redact(owner_url)).await?;
    let group: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
            .bind(RUNTIME_GROUP)
            .fetch_one(&mut conn)
            .await?;
    if !group {
        return Err(MigrateError::MissingGroupRole);
    }
    // sqlx keeps its bookkeeping table in the first schema of the search_path; keep it
    // out of the tenant schemas.
    // Only when missing: on a Citus coordinator even a CREATE SCHEMA that does nothing is
    // sent to the workers, which then hold the schema without its grants.
    conn.execute(
        "DO $$ BEGIN IF to_regnamespace('enclave') IS NULL THEN CREATE SCHEMA enclave; END IF; END $$;
         SET search_path = enclave",
    )
    .await?;
    let before: Vec<i64> = applied_versions(&mut conn).await;
    // underway's own migrations (schema `underway`, its own bookkeeping table) come
    // first: ours from 0011 on add the tenant stamp and row level security to its tables.
    underway::run_migrations(&mut conn).await?;
    MIGRATOR.run(&mut conn).await?;
    let after: Vec<i64> = applied_versions(&mut conn).await;
    let applied = after.into_iter().filter(|v| !before.contains(v)).collect();

    let mut tx = conn.begin().await?;
    sqlx::query("INSERT INTO enclave.instance (environment, instance_id) VALUES ($1, gen_random_uuid()) ON CONFLICT DO NOTHING")
        .bind(environment.as_str())
        .execute(&mut *tx)
        .await?;
    let (stamped, instance_id): (String, Uuid) =
        sqlx::query_as("SELECT environment, instance_id FROM enclave.instance")
            .fetch_one(&mut *tx)
            .await?;
    tx.commit().await?;
    if stamped != environment.as_str() {
        return Err(MigrateError::EnvMismatch {
            database: owner.database,
            stamped,
            expected: environment.as_str().to_string(),
        });
    }
    install_context_keys(&mut conn, context_keys).await?;
    // On Citus the schema is distributed after every migration: new tables and functions
    // follow the rest (the recipe is idempotent).
    let citus = if crate::ops::citus::installed(&mut conn).await? {
        let admin_url = admin_url.ok_or(MigrateError::CitusNeedsAdmin)?;
        let mut admin = admin_connection(admin_url, &owner.database).await?;
        Some(crate::ops::citus::distribute(&mut admin).await?)
    } else {
        None
    };
    Ok(MigrateReport {
        bootstrapped: admin_url.is_some(),
        applied,
        environment: stamped,
        instance_id,
        database: owner.database,
        context_keys: context_keys.iter().map(|k| k.id().to_string()).collect(),
        citus,
    })
}

/// Makes `enclave.context_proof_keys` (migration 0027) hold exactly the configured keys:
/// the database accepts a context only with a proof under one of them, so a key removed
/// from the configuration stops being accepted here too.
pub async fn install_context_keys(
    conn: &mut PgConnection,
    keys: &[tenancy::ContextKey],
) -> Result<(), MigrateError> {
    let mut tx = conn.begin().await?;
    let ids: Vec<&str> = keys.iter().map(|k| k.id()).collect();
    sqlx::query("DELETE FROM enclave.context_proof_keys WHERE key_id <> ALL($1)")
        .bind(&ids)
        .execute(&mut *tx)
        .await?;
    for key in keys {
        let (inner, outer) = key.pads();
        sqlx::query(
            "INSERT INTO enclave.context_proof_keys (key_id, inner_pad, outer_pad) VALUES ($1, $2, $3)
             ON CONFLICT (key_id) DO UPDATE SET inner_pad = EXCLUDED.inner_pad, outer_pad = EXCLUDED.outer_pad,
                                                installed_at = now()
              WHERE (context_proof_keys.inner_pad, context_proof_keys.outer_pad)
                    IS DISTINCT FROM (EXCLUDED.inner_pad, EXCLUDED.outer_pad)",
        )
        .bind(key.id())
        .bind(&inner[..])
        .bind(&outer[..])
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn applied_versions(conn: &mut PgConnection) -> Vec<i64> {
    sqlx::query_scalar(
        "SELECT version FROM enclave._sqlx_migrations WHERE success ORDER BY version",
    )
    .fetch_all(conn)
    .await
    .unwrap_or_default()
}

/// How the database's applied migrations compare with the ones built into this binary.
#[derive(Debug, Default, PartialEq)]
pub struct MigrationStatus {
    pub applied: usize,
    /// Built into this binary and not applied yet, by file name (`0022_admin_job_retry`).
    pub pending: Vec<String>,
    /// Applied from a file that differs from the one built in (checksums differ).
    pub changed: Vec<String>,
}

impl MigrationStatus {
    pub fn is_current(&self) -> bool {
        self.pending.is_empty() && self.changed.is_empty()
    }
}

/// Compares `enclave._sqlx_migrations` (readable by the runtime role) with [`MIGRATOR`].
pub async fn status(conn: &mut PgConnection) -> Result<MigrationStatus, sqlx::Error> {
    let applied: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT version, checksum FROM enclave._sqlx_migrations WHERE success ORDER BY version",
    )
    .fetch_all(conn)
    .await?;
    let mut status = MigrationStatus {
        applied: applied.len(),
        ..Default::default()
    };
    for m in MIGRATOR.iter() {
        let name = format!("{:04}_{}", m.version, m.description.replace(' ', "_"));
        match applied.iter().find(|(v, _)| *v == m.version) {
            None => status.pending.push(name),
            Some((_, sum)) if sum.as_slice() != &*m.checksum => status.changed.push(name),
            Some(_) => {}
        }
    }
    Ok(status)
}
