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

/// The tables the Citus recipe distributes by `org_id` (migrations/citus/distribute.sql).
fn distributed_tables() -> Vec<String> {
    let recipe =
        std::fs::read_to_string(format!("{ROOT}/migrations/citus/distribute.sql")).unwrap();
    recipe
        .split("('")
        .skip(1)
        .filter_map(|rest| {
            rest.split_once("', 'distributed'")
                .map(|(t, _)| t.to_string())
        })
        .filter(|t| !t.contains(' ') && t.contains('.'))
        .collect()
}

/// Application SQL that outer-joins onto a distributed table, as `LEFT JOIN <table>`.
fn outer_joins_onto(files: &[(PathBuf, String)], tables: &[String]) -> Vec<String> {
    let forms: Vec<String> = tables.iter().map(|t| format!("left join {t} ")).collect();
    let forms: Vec<&str> = forms.iter().map(String::as_str).collect();
    find(files, &forms)
}

/// On Citus 13.2.2 a reference table LEFT JOIN a distributed table under row-level security
/// crashes the coordinator (signal 11, every backend restarts): the Billing page did it
/// (fixed: three one-table reads). No application query may outer-join onto a distributed
/// table, except the admin console's organization queries, which are known not to work on
/// Citus yet (issue 14: they need the billing facts on a reference table or a billing row
/// for every organization; a materialized CTE is refused to the runtime role there and
/// costs the single node its indexes).
#[test]
fn no_application_query_outer_joins_onto_a_distributed_table() {
    let tables = distributed_tables();
    for t in [
        "public.org_billing",
        "enclave.plan_grants",
        "public.campaigns",
    ] {
        assert!(
            tables.contains(&t.to_string()),
            "{t} in the recipe's plan: {tables:?}"
        );
    }
    let mut files = sources(Path::new(&format!("{ROOT}/app/src")));
    files.extend(sources(Path::new(&format!("{ROOT}/server/src"))));
    let known = ["admin/overview.rs"];
    let found: Vec<String> = outer_joins_onto(&files, &tables)
        .into_iter()
        .filter(|f| !known.iter().any(|k| f.contains(k)))
        .collect();
    assert!(
        found.is_empty(),
        "outer joins onto a distributed table: {found:?}"
    );
    // The scan sees the shape the Billing page had.
    let sample = vec![(
        PathBuf::from("sample.rs"),
        "FROM enclave.plans p LEFT JOIN public.org_billing b ON b.org_id = $1".to_string(),
    )];
    assert_eq!(outer_joins_onto(&sample, &tables).len(), 1);
}
