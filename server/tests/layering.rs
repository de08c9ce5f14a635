//! Application code cannot reach tenant data except through the tenancy crate: no pool,
//! no system path, no raw connection in app/src. And no Rust code anywhere writes the
//! tenant context or the audit log by hand: the context is entered only through
//! `enclave.enter_context` / `enclave.enter_user` (which seal it, migration 0023) and the
//! system path opens only through `enclave.open_system_path`, both called by the tenancy
//! crate.

use std::path::{Path, PathBuf};

/// Every `.rs` file under `root`, with its text.
fn sources(root: &Path) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                files.push((path, text));
            }
        }
    }
    files
}

/// (file, word) for each forbidden word found, matched case-insensitively.
fn find(files: &[(PathBuf, String)], forbidden: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in files {
        let lower = text.to_lowercase();
        for word in forbidden {
            if lower.contains(&word.to_lowercase()) {
                found.push(format!("{}: {word}", path.display()));
            }
        }
    }
    found
}

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");

#[test]
fn app_code_has_no_back_door_to_the_database() {
    let files = sources(&Path::new(ROOT).join("app/src"));
    assert!(
        files.len() >= 5,
        "expected to scan the app sources, scanned {}",
        files.len()
    );
    let found = find(
        &files,
        &[
            "SystemDb",
            "SystemTx",
            "PgPool",
            "PgPoolOptions",
            "PgConnection::connect",
            "Database::connect",
            "Database::from_pool",
            "open_system_path",
            "enter_context",
            "enter_user",
        ],
    );
    assert!(
        found.is_empty(),
        "app code reaches around the tenancy crate: {found:?}"
    );
}

/// The raw ways to set a context or open the system path, in any spelling SQL accepts.
const RAW_CONTEXT: &[&str] = &[
    "set_config",
    "SET LOCAL enclave.",
    "SET enclave.",
    "SET SESSION enclave.",
    "current_setting('enclave.",
    "enclave.context_seal",
    "seal_context",
    "put_context",
    "restore_context",
    "INSERT INTO enclave.audit_log",
    "enclave.audit_log (",
];

#[test]
fn no_rust_code_writes_the_context_or_the_audit_log_by_hand() {
    let mut files = Vec::new();
    for dir in ["app/src", "server/src", "tenancy/src"] {
        files.extend(sources(&Path::new(ROOT).join(dir)));
    }
    assert!(files.len() >= 30, "scanned only {} files", files.len());
    let found = find(&files, RAW_CONTEXT);
    assert!(
        found.is_empty(),
        "Rust code sets the tenant context or writes the audit log itself: {found:?}"
    );
}

#[test]
fn the_scan_catches_each_raw_form() {
    // The check must fail on each form it exists for.
    for raw in RAW_CONTEXT {
        let sample = vec![(
            PathBuf::from("sample.rs"),
            format!("sqlx::query(\"{}\")", raw.to_uppercase()),
        )];
        assert_eq!(find(&sample, RAW_CONTEXT).len(), 1, "{raw}");
    }
}
