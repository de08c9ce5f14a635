//! The token vault in the database (migration 0024): tokens stored only as envelopes,
//! an envelope copied into another tenant's row does not open, start-up refuses keys that
//! cannot open what the database holds (by key id), and `rotate-keys` re-seals every
//! value under the active key, resumably, and retires the old key.

mod common;

use common::*;
use enclave_server::ops::vault_keys::{self, KeyCheckError};
use tenancy::{SystemDb, TenantDb};
use uuid::Uuid;
use vault::{Binding, Envelope, KeySet, Secret, Vault, VaultError};

const K1: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const K2: &str = "2222222222222222222222222222222222222222222222222222222222222222";

fn vault(spec: &str) -> Vault {
    Vault::new(KeySet::parse(spec).unwrap())
}

struct Scope {
    org: Uuid,
    workspace: Option<Uuid>,
    ctx: tenancy::TenantContext,
}

async fn scopes(db: &TenantDb, sys: &SystemDb) -> (Scope, Scope) {
    let (nora, northwind) = demo_ids(sys, "nora@northwind.example").await;
    let (ada, brightside) = demo_ids(sys, "ada@brightside.example").await;
    let acme = workspace_id(sys, brightside, ada, "acme-outdoors").await;
    (
        Scope {
            org: northwind,
            workspace: None,
            ctx: context(db, nora, northwind, None).await,
        },
        Scope {
            org: brightside,
            workspace: Some(acme),
            ctx: context(db, ada, brightside, Some(acme)).await,
        },
    )
}

/// Connects an account in `scope` with the given stored token bytes.
async fn save_connection(
    db: &TenantDb,
    scope: &Scope,
    id: Uuid,
    access: &[u8],
    refresh: &[u8],
) -> Result<(), tenancy::TenantError> {
    let mut tx = db.begin(&scope.ctx).await?;
    tx.query("SELECT enclave.save_connection($1, 'social', 'Example account', 'acct-1', $2, $3, now() + interval '1 hour')")
        .bind(id)
        .bind(access)
        .bind(refresh)
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

async fn stored_tokens(db: &TenantDb, scope: &Scope, id: Uuid) -> Option<(Vec<u8>, Vec<u8>)> {
    let mut tx = db.begin(&scope.ctx).await.unwrap();
    let row = tx
        .query_as("SELECT access_token, refresh_token FROM public.connections_unified WHERE connection_id = $1")
        .bind(id)
        .fetch_optional(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    row
}

fn seal_token(v: &Vault, scope: &Scope, id: Uuid, which: &'static str, token: &str) -> Vec<u8> {
    v.seal(
        &Secret::new(token),
        &Binding::connection_token(scope.org, scope.workspace, id, which),
    )
    .unwrap()
    .into_bytes()
}

#[tokio::test]
async fn tokens_are_kept_only_sealed_and_a_copy_in_another_tenants_row_does_not_open() {
    let (_s, db, sys) = seeded("vaultrow").await;
    let (northwind, acme) = scopes(&db, &sys).await;
    let v = vault(&format!("k1:{K1}"));
    let id = Uuid::new_v4();
    let access = seal_token(&v, &northwind, id, "access", "at-northwind-s3cret");
    let refresh = seal_token(&v, &northwind, id, "refresh", "rt-northwind-s3cret");
    save_connection(&db, &northwind, id, &access, &refresh)
        .await
        .unwrap();

    // Plain bytes are refused by the table itself.
    let err = save_connection(&db, &northwind, Uuid::new_v4(), b"at-plain", &refresh)
        .await
        .unwrap_err();
    assert!(
        format!("{err:?}").contains("check") || format!("{err:?}").contains("23514"),
        "{err:?}"
    );

    let (a, r) = stored_tokens(&db, &northwind, id)
        .await
        .expect("Northwind sees its connection");
    assert!(!String::from_utf8_lossy(&a).contains("s3cret"));
    let opened = v
        .open(
            &Envelope::from_stored(a.clone()).unwrap(),
            &Binding::connection_token(northwind.org, None, id, "access"),
        )
        .unwrap();
    assert_eq!(opened.expose(), "at-northwind-s3cret");
    assert!(
        stored_tokens(&db, &acme, id).await.is_none(),
        "another tenant sees nothing"
    );

    // The same bytes written into Brightside's client row (same connection id): stored,
    // since the database holds no key, but they do not open there, nor in the wrong column.
    save_connection(&db, &acme, id, &a, &r).await.unwrap();
    let (copied, _) = stored_tokens(&db, &acme, id).await.unwrap();
    let copied = Envelope::from_stored(copied).unwrap();
    assert_eq!(
        v.open(
            &copied,
            &Binding::connection_token(acme.org, acme.workspace, id, "access")
        )
        .unwrap_err(),
        VaultError::Open
    );
    assert_eq!(
        v.open(
            &Envelope::from_stored(r).unwrap(),
            &Binding::connection_token(northwind.org, None, id, "access")
        )
        .unwrap_err(),
        VaultError::Open
    );
}

/// `enclave <command>` with the sealing keys `keys`: it must exit without starting; its
/// error output.
fn refused_start(s: &Scratch, command: &str, keys: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_enclave"))
        .arg(command)
        .env("DATABASE_URL", &s.runtime_url)
        .env("ENCLAVE_ENV", "development")
        .env("ENCLAVE_SECRET_KEYS", keys)
        .env_remove("ENCLAVE_SECRET_KEY")
        .env("LEPTOS_SITE_ADDR", "127.0.0.1:0")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "{command} started: {err}");
    err
}

#[tokio::test]
async fn start_up_refuses_keys_that_cannot_open_what_the_database_holds_naming_the_key() {
    let (s, _db, sys) = seeded("vaultkeys").await;
    vault_keys::check_and_register(&sys, &vault(&format!("k1:{K1}")))
        .await
        .unwrap();
    // The same again is fine (registered once).
    vault_keys::check_and_register(&sys, &vault(&format!("k1:{K1}")))
        .await
        .unwrap();

    let err = vault_keys::check_and_register(&sys, &vault(&format!("k1:{K2}")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KeyCheckError::Different(id) if id == "k1"),
        "{err}"
    );
    let err = vault_keys::check_and_register(&sys, &vault(&format!("k2:{K2}")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KeyCheckError::Missing(id) if id == "k1"),
        "{err}"
    );
    assert!(err.to_string().contains("\"k1\""), "{err}");

    // Adding a key keeps the old one required until rotation retires it.
    vault_keys::check_and_register(&sys, &vault(&format!("k1:{K1},*k2:{K2}")))
        .await
        .unwrap();
    let err = vault_keys::check_and_register(&sys, &vault(&format!("k2:{K2}")))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, KeyCheckError::Missing(id) if id == "k1"),
        "{err}"
    );

    // The binaries refuse to start, naming the key, before doing anything else: first a
    // key whose context key the database does not hold (enclave migrate was not run with
    // it: every context would be refused) ...
    for command in ["worker", "serve"] {
        let err = refused_start(&s, command, &format!("k7:{}", "77".repeat(32)));
        assert!(
            err.contains("context key of sealing key \"k7\"") && err.contains("enclave migrate"),
            "{command}: {err}"
        );
    }
    // ... then, with the context key installed, a sealing key that differs.
    s.accept_keys(&format!("*k2:{K2},k1:{}", "33".repeat(32)))
        .await;
    for command in ["worker", "serve"] {
        let err = refused_start(&s, command, &format!("*k2:{K2},k1:{}", "33".repeat(32)));
        assert!(
            err.contains("key \"k1\"") && err.contains("fingerprints differ"),
            "{command}: {err}"
        );
    }

    // Only the system path registers keys.
    let mut runtime = s.runtime().await;
    let err = sqlx::query("SELECT enclave.register_vault_key('k9', repeat('0', 64))")
        .execute(&mut runtime)
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42501")
    );
}

/// Mail as it was sealed before the envelope: nonce | AES-256-GCM ciphertext, no binding.
fn legacy_mail(key_hex: &str, body: &str) -> Vec<u8> {
    use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
    let key = hex::decode(key_hex).unwrap();
    let cipher = aes_gcm::Aes256Gcm::new_from_slice(&key).unwrap();
    let nonce = aes_gcm::Aes256Gcm::generate_nonce(&mut OsRng);
    let mut out = nonce.to_vec();
    out.extend(cipher.encrypt(&nonce, body.as_bytes()).unwrap());
    out
}

/// (place, key id) of every sealed value, read as the admin (no policy in the way).
async fn key_ids(s: &Scratch) -> Vec<(String, Option<String>)> {
    sqlx::query_as(
        "SELECT 'mail', enclave.envelope_key_id(sealed_body) FROM public.mail_outbox WHERE sealed_body IS NOT NULL
         UNION ALL SELECT 'sme', enclave.envelope_key_id(access_token) FROM public.connections
         UNION ALL SELECT 'sme', enclave.envelope_key_id(refresh_token) FROM public.connections
         UNION ALL SELECT 'agency', enclave.envelope_key_id(access_token) FROM agency.connections
         UNION ALL SELECT 'agency', enclave.envelope_key_id(refresh_token) FROM agency.connections
         ORDER BY 1, 2",
    )
    .fetch_all(&mut s.admin().await)
    .await
    .unwrap()
}

#[tokio::test]
async fn rotation_reseals_everything_under_the_active_key_resumably_and_retires_the_old_one() {
    let (s, db, sys) = seeded("vaultrotate").await;
    let (northwind, acme) = scopes(&db, &sys).await;
    let old = vault(&format!("k1:{K1}"));
    vault_keys::check_and_register(&sys, &old).await.unwrap();
    let mut connections = Vec::new();
    for (scope, n) in [(&northwind, 3), (&acme, 2)] {
        for i in 0..n {
            let id = Uuid::new_v4();
            let access = seal_token(&old, scope, id, "access", &format!("at-{i}"));
            let refresh = seal_token(&old, scope, id, "refresh", &format!("rt-{i}"));
            save_connection(&db, scope, id, &access, &refresh)
                .await
                .unwrap();
            connections.push((scope, id, i));
        }
    }
    queue_invitation_mail(
        &db,
        &northwind.ctx,
        &app::mail::sealing::seal_body(&old, northwind.org, "enveloped body").unwrap(),
    )
    .await;
    queue_invitation_mail(
        &db,
        &northwind.ctx,
        &legacy_mail(K1, "body from before envelopes"),
    )
    .await;
    // One damaged value keeps its key in use and is reported, not skipped silently.
    let damaged = Uuid::new_v4();
    let mut bad = seal_token(&old, &northwind, damaged, "access", "at-damaged");
    let last = bad.len() - 1;
    bad[last] ^= 1;
    save_connection(
        &db,
        &northwind,
        damaged,
        &bad,
        &seal_token(&old, &northwind, damaged, "refresh", "rt-d"),
    )
    .await
    .unwrap();

    let both = vault(&format!("k1:{K1},*k2:{K2}"));
    let report = vault_keys::rotate(&sys, &both).await.unwrap();
    assert_eq!(report.resealed, 5 * 2 + 2 + 1, "{report:?}");
    assert_eq!(report.unopened.len(), 1, "{report:?}");
    assert!(
        report.unopened[0].0.contains(&damaged.to_string()),
        "{report:?}"
    );
    assert_eq!(report.still_used, vec![("k1".to_string(), 1)]);
    assert!(report.retired.is_empty());

    // Fix the damaged one (a reconnect under the new key); the next run finishes the job.
    save_connection(
        &db,
        &northwind,
        damaged,
        &seal_token(&both, &northwind, damaged, "access", "at-new"),
        &seal_token(&both, &northwind, damaged, "refresh", "rt-new"),
    )
    .await
    .unwrap();
    let again = vault_keys::rotate(&sys, &both).await.unwrap();
    assert_eq!((again.resealed, again.unopened.len()), (0, 0), "{again:?}");
    assert_eq!(again.retired, vec!["k1".to_string()]);
    assert!(
        key_ids(&s)
            .await
            .iter()
            .all(|(_, k)| k.as_deref() == Some("k2")),
        "{:?}",
        key_ids(&s).await
    );

    // Everything opens with the new key alone, where it belongs.
    let new_only = vault(&format!("k2:{K2}"));
    vault_keys::check_and_register(&sys, &new_only)
        .await
        .unwrap();
    for (scope, id, i) in connections {
        let (a, r) = stored_tokens(&db, scope, id).await.unwrap();
        let binding = |which| Binding::connection_token(scope.org, scope.workspace, id, which);
        assert_eq!(
            new_only
                .open(&Envelope::from_stored(a).unwrap(), &binding("access"))
                .unwrap()
                .expose(),
            format!("at-{i}")
        );
        assert_eq!(
            new_only
                .open(&Envelope::from_stored(r).unwrap(), &binding("refresh"))
                .unwrap()
                .expose(),
            format!("rt-{i}")
        );
    }
    let mut bodies: Vec<String> =
        sqlx::query_scalar::<_, Vec<u8>>("SELECT sealed_body FROM public.mail_outbox")
            .fetch_all(&mut s.admin().await)
            .await
            .unwrap()
            .iter()
            .map(|b| {
                app::mail::sealing::open_body(&new_only, northwind.org, b)
                    .unwrap()
                    .expose()
                    .to_string()
            })
            .collect();
    bodies.sort();
    assert_eq!(bodies, ["body from before envelopes", "enveloped body"]);

    // Every page was an audited system-path transaction.
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM enclave.audit_log WHERE path = 'system' AND actor = 'rotate-keys'",
    )
    .fetch_one(&mut s.admin().await)
    .await
    .unwrap();
    assert!(audited >= 4, "{audited}");

    // The rotation's functions refuse outside the system path.
    let mut runtime = s.runtime().await;
    for sql in [
        "SELECT * FROM enclave.sealed_values_to_rotate('k2', '', 10)",
        "SELECT enclave.replace_sealed_value('connections', gen_random_uuid(), NULL, gen_random_uuid(), 'access_token', '\\x00', '\\x00')",
        "SELECT enclave.retire_vault_key('k2')",
    ] {
        let err = sqlx::query(sql).execute(&mut runtime).await.unwrap_err();
        assert_eq!(err.as_database_error().and_then(|e| e.code()).as_deref(), Some("42501"), "{sql}");
    }
}
