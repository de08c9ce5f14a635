//! The sealing keys against what the database holds (`enclave.vault_keys`, migration
//! 0024), and `enclave rotate-keys`.
//!
//! Start-up: every key id the database says values are sealed under must be configured
//! with the same key (compared by fingerprint), or `serve` / `worker` refuse to start,
//! naming the id; the active key is registered before anything is sealed with it.
//! Rotation: every envelope not under the active key is opened and sealed again under it,
//! a page at a time, each page its own audited system-path transaction (so a run that
//! stops is resumed by running it again); then the keys nothing is sealed under any more
//! are retired.

use crate::config::{Config, ConfigError};
use app::mail::sealing;
use tenancy::{Database, PoolSettings, SystemDb, TenantError};
use thiserror::Error;
use uuid::Uuid;
use vault::{Binding, Envelope, Vault, VaultError};

#[derive(Debug, Error)]
pub enum KeyCheckError {
    #[error("the database holds values sealed with key {0:?}, which is not among the configured keys (ENCLAVE_SECRET_KEYS): add it; `enclave rotate-keys` then moves every value to the active key")]
    Missing(String),
    #[error("key {0:?} in the configuration is not the key the database's values were sealed with (their fingerprints differ): configure the original key under that id")]
    Different(String),
    #[error("the database does not hold the context key of sealing key {0:?}, so it would refuse every tenant context this process asks for: run `enclave migrate` with the same ENCLAVE_SECRET_KEYS as serve and worker")]
    ContextKeyNotInstalled(String),
    #[error("{0}")]
    Config(#[from] ConfigError),
    /// The database did not answer: said as `Database::connect` says it, as before.
    #[error("{0}")]
    Unreachable(TenantError),
    #[error("checking the sealing keys: {0}")]
    Database(#[from] TenantError),
}

/// `enclave doctor`'s line: whether the database holds this process's context key.
pub async fn context_key_report(
    conn: &mut sqlx::PgConnection,
    key: &tenancy::ContextKey,
) -> Result<String, KeyCheckError> {
    if key.installed_in(conn).await? {
        Ok(format!(
            "context key: {:?} installed (the database accepts this process's tenant contexts)",
            key.id()
        ))
    } else {
        Err(KeyCheckError::ContextKeyNotInstalled(key.id().to_string()))
    }
}

/// The runtime pool, proving contexts with the configured active key, once the database
/// has confirmed it holds that key (`enclave migrate` installs it): otherwise the process
/// refuses to start with what to do, instead of answering every page with "no access".
pub async fn open_database(
    cfg: &Config,
    settings: PoolSettings,
) -> Result<Database, KeyCheckError> {
    let key = cfg.context_keys()?.active;
    let db = Database::connect(&cfg.runtime_url, settings, key)
        .await
        .map_err(KeyCheckError::Unreachable)?;
    if !db
        .context_key_installed()
        .await
        .map_err(KeyCheckError::Unreachable)?
    {
        return Err(KeyCheckError::ContextKeyNotInstalled(
            db.context_key().id().to_string(),
        ));
    }
    Ok(db)
}

impl From<sqlx::Error> for KeyCheckError {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e.into())
    }
}

/// What the database holds: (key id, fingerprint) of every key not retired.
async fn live_keys(conn: &mut sqlx::PgConnection) -> Result<Vec<(String, String)>, sqlx::Error> {
    sqlx::query_as("SELECT key_id, fingerprint FROM enclave.vault_keys WHERE retired_at IS NULL ORDER BY key_id")
        .fetch_all(conn)
        .await
}

/// Every live key of the database must be configured with the same key.
fn compare(live: &[(String, String)], vault: &Vault) -> Result<(), KeyCheckError> {
    for (id, fingerprint) in live {
        match vault.keys().fingerprint(id) {
            None => return Err(KeyCheckError::Missing(id.clone())),
            Some(fp) if fp != fingerprint => return Err(KeyCheckError::Different(id.clone())),
            Some(_) => {}
        }
    }
    Ok(())
}

/// `enclave doctor`'s line, reading only: which keys the database needs and whether the
/// configuration has them.
pub async fn report(conn: &mut sqlx::PgConnection, vault: &Vault) -> Result<String, KeyCheckError> {
    let live = live_keys(conn).await?;
    compare(&live, vault)?;
    let active = vault.keys().active().as_str();
    let needed: Vec<&str> = live.iter().map(|(id, _)| id.as_str()).collect();
    Ok(if needed.is_empty() {
        format!("sealing keys: active {active:?}; nothing is sealed yet (the key is registered when serve or worker starts)")
    } else {
        format!(
            "sealing keys: active {active:?}; values are sealed under {}: all configured with the same keys",
            needed.iter().map(|id| format!("{id:?}")).collect::<Vec<_>>().join(", ")
        )
    })
}

/// Refuses keys that cannot open what the database holds; registers the active key.
pub async fn check_and_register(system: &SystemDb, vault: &Vault) -> Result<(), KeyCheckError> {
    let keys = vault.keys();
    let active = keys.active().as_str();
    let mut tx = system
        .begin(
            "start-up",
            "check the sealing keys",
            serde_json::json!({ "active_key": active }),
        )
        .await?;
    let live = live_keys(tx.conn()).await?;
    compare(&live, vault)?;
    if !live.iter().any(|(id, _)| id == active) {
        sqlx::query("SELECT enclave.register_vault_key($1, $2)")
            .bind(active)
            .bind(
                keys.fingerprint(active)
                    .expect("the active key is in the set"),
            )
            .execute(tx.conn())
            .await?;
        tracing::info!(key_id = %active, "sealing key registered");
    }
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Default)]
pub struct RotationReport {
    pub resealed: usize,
    /// Changed by someone else between the read and the swap (a token refresh): already
    /// sealed under the active key by them.
    pub changed_meanwhile: usize,
    /// Values that do not open: where they are and why. They keep their key in use.
    pub unopened: Vec<(String, VaultError)>,
    pub retired: Vec<String>,
    /// Keys still holding values, with how many.
    pub still_used: Vec<(String, i64)>,
}

const PAGE: i32 = 200;

/// Re-seals every value not under the active key, then retires the unused keys.
pub async fn rotate(system: &SystemDb, vault: &Vault) -> Result<RotationReport, KeyCheckError> {
    check_and_register(system, vault).await?;
    let active = vault.keys().active().as_str().to_string();
    let mut report = RotationReport::default();
    let mut after = String::new();
    loop {
        let mut tx = system
            .begin(
                "rotate-keys",
                "re-seal values under the active key",
                serde_json::json!({ "active_key": active, "after": after }),
            )
            .await?;
        let page: Vec<(String, Uuid, Option<Uuid>, Uuid, String, Vec<u8>, String)> =
            sqlx::query_as(
                "SELECT place, org_id, workspace_id, record_id, column_name, sealed, cursor_key
               FROM enclave.sealed_values_to_rotate($1, $2, $3)",
            )
            .bind(&active)
            .bind(&after)
            .bind(PAGE)
            .fetch_all(tx.conn())
            .await?;
        let Some(last) = page.last() else {
            tx.commit().await?;
            break;
        };
        after = last.6.clone();
        for (place, org, workspace, record, column, sealed, position) in page {
            let resealed = match reseal(vault, &place, org, workspace, record, &column, &sealed) {
                Ok(envelope) => envelope,
                Err(e) => {
                    tracing::warn!(%position, error = %e, "a sealed value does not open; it stays under its key");
                    report.unopened.push((position, e));
                    continue;
                }
            };
            let swapped: bool = sqlx::query_scalar(
                "SELECT enclave.replace_sealed_value($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&place)
            .bind(org)
            .bind(workspace)
            .bind(record)
            .bind(&column)
            .bind(&sealed)
            .bind(resealed.as_bytes())
            .fetch_one(tx.conn())
            .await?;
            if swapped {
                report.resealed += 1;
            } else {
                report.changed_meanwhile += 1;
            }
        }
        tx.commit().await?;
    }
    let mut tx = system
        .begin(
            "rotate-keys",
            "retire unused keys",
            serde_json::json!({ "active_key": active }),
        )
        .await?;
    for (id, _) in live_keys(tx.conn()).await? {
        if id == active {
            continue;
        }
        let left: i64 = sqlx::query_scalar("SELECT enclave.retire_vault_key($1)")
            .bind(&id)
            .fetch_one(tx.conn())
            .await?;
        if left == 0 {
            report.retired.push(id);
        } else {
            report.still_used.push((id, left));
        }
    }
    tx.commit().await?;
    Ok(report)
}

fn reseal(
    vault: &Vault,
    place: &str,
    org: Uuid,
    workspace: Option<Uuid>,
    record: Uuid,
    column: &str,
    sealed: &[u8],
) -> Result<Envelope, VaultError> {
    if place == "mail_outbox" {
        let body = sealing::open_body(vault, org, sealed)?;
        return vault.seal(&body, &Binding::mail(org));
    }
    let which = match column {
        "access_token" => "access",
        "refresh_token" => "refresh",
        _ => return Err(VaultError::NotAnEnvelope),
    };
    let binding = Binding::connection_token(org, workspace, record, which);
    let envelope = Envelope::from_stored(sealed.to_vec())?;
    Ok(vault.reseal(&envelope, &binding)?.unwrap_or(envelope))
}
