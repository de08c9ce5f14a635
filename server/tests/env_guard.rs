//! Environment stamp and runtime-credential guard; living schema document.

mod common;
use common::*;
use enclave_server::config::{ContextKeys, Environment};
use enclave_server::ops::{guard, migrate, schema_doc};
use sqlx::Executor;

#[tokio::test]
async fn guard_passes_on_a_clean_matching_database() {
    let s = scratch("guardok").await;
    let r = guard::check(&s.runtime_url, Environment::Development)
        .await
        .unwrap();
    assert_eq!(r.environment, "development");
    assert!(r.audit.is_clean());
}

#[tokio::test]
async fn environment_mismatch_is_refused_with_names() {
    let s = scratch("guardenv").await;
    let err = guard::check(&s.runtime_url, Environment::Production)
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, guard::GuardError::EnvMismatch { .. }),
        "{msg}"
    );
    assert!(
        msg.contains(&s.name) && msg.contains("\"development\"") && msg.contains("\"production\""),
        "{msg}"
    );
    // migrate refuses to re-stamp it too.
    let err = migrate::migrate(
        &s.runtime_url,
        &s.owner_url,
        None,
        Environment::Production,
        &ContextKeys::development().all,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, migrate::MigrateError::EnvMismatch { .. }),
        "{err}"
    );
}

/// Gives the runtime role a privileged attribute and expects the guard to refuse it.
async fn privileged_runtime_refused(prefix: &str, attribute: &str, named: &str) {
    let s = scratch(prefix).await;
    s.admin()
        .await
        .execute(&*format!("ALTER ROLE \"{}\" {attribute}", s.runtime_role()))
        .await
        .unwrap();
    let err = guard::check(&s.runtime_url, Environment::Development)
        .await
        .unwrap_err();
    assert!(
        matches!(err, guard::GuardError::PrivilegedRuntime { .. }),
        "{err}"
    );
    assert!(err.to_string().contains(named), "{err}");
}

#[tokio::test]
async fn superuser_runtime_is_refused() {
    privileged_runtime_refused("guardsu", "SUPERUSER", "superuser").await;
}

#[tokio::test]
async fn bypassrls_runtime_is_refused() {
    privileged_runtime_refused("guardbp", "BYPASSRLS", "BYPASSRLS").await;
}

#[tokio::test]
async fn owner_credentials_as_runtime_are_refused() {
    let s = scratch("guardowner").await;
    let err = guard::check(&s.owner_url, Environment::Development)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("schema owner"), "{err}");
}

#[tokio::test]
async fn audit_violation_blocks_start() {
    let s = scratch("guardaudit").await;
    s.owner()
        .await
        .execute("ALTER TABLE public.memberships NO FORCE ROW LEVEL SECURITY")
        .await
        .unwrap();
    let err = guard::check(&s.runtime_url, Environment::Development)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("rls_not_forced")
            && err.to_string().contains("public.memberships"),
        "{err}"
    );
}

/// A database one migration behind this binary (the newest not applied), or with an
/// applied migration whose file changed, is refused by name; `enclave migrate` mends the
/// first.
#[tokio::test]
async fn a_pending_or_changed_migration_blocks_start_by_name() {
    let s = scratch("guardmig").await;
    let newest = migrate::MIGRATOR.iter().last().unwrap();
    let newest_name = format!(
        "{:04}_{}",
        newest.version,
        newest.description.replace(' ', "_")
    );
    s.admin()
        .await
        .execute(&*format!(
            "DELETE FROM enclave._sqlx_migrations WHERE version = {}",
            newest.version
        ))
        .await
        .unwrap();
    let err = guard::check(&s.runtime_url, Environment::Development)
        .await
        .unwrap_err();
    assert!(
        matches!(err, guard::GuardError::Migrations { .. })
            && err.to_string().contains(&newest_name)
            && err.to_string().contains("enclave migrate"),
        "{err}"
    );

    s.admin()
        .await
        .execute(
            "UPDATE enclave._sqlx_migrations SET checksum = sha384('edited'::bytea)
              WHERE version = 1",
        )
        .await
        .unwrap();
    let err = guard::check(&s.runtime_url, Environment::Development)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("0001_foundation")
            && err.contains("checksums differ")
            && err.contains(&newest_name),
        "{err}"
    );
    // The doctor names both too, and fails.
    let doctor = std::process::Command::new(env!("CARGO_BIN_EXE_enclave"))
        .arg("doctor")
        .env("DATABASE_URL", &s.runtime_url)
        .env("ENCLAVE_ENV", "development")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&doctor.stdout);
    assert!(!doctor.status.success(), "{out}");
    assert!(
        out.contains("1 pending") && out.contains(&newest_name) && out.contains("0001_foundation"),
        "{out}"
    );
}

#[tokio::test]
async fn migrate_is_idempotent() {
    let s = scratch("idem").await;
    let again = migrate::migrate(
        &s.runtime_url,
        &s.owner_url,
        Some(&s.admin_url),
        Environment::Development,
        &ContextKeys::development().all,
    )
    .await
    .unwrap();
    assert!(again.applied.is_empty());
}

#[tokio::test]
async fn committed_schema_document_is_current() {
    let s = scratch("schemadoc").await;
    let fresh = schema_doc::generate(&mut s.runtime().await).await.unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/schema.md");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    if committed != fresh {
        let _ = std::fs::write(
            concat!(env!("CARGO_MANIFEST_DIR"), "/../target/schema.fresh.md"),
            &fresh,
        );
        panic!("docs/schema.md is stale: run `enclave schema-doc` against a freshly migrated database and commit it (fresh copy written to target/schema.fresh.md)");
    }
}
