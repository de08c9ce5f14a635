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

/// Citus 13.2.2 runs a reference table LEFT JOIN a distributed table in one of three ways,
/// none of them usable (docs/citus/upstream/): with a subplan (refused to the runtime role,
/// which may not pick a distributed transaction id), by wrapping the distributed table in
/// a subquery (the coordinator crashes when its row-level security has an OR), or pushed
/// down to the shards when joined on `org_id` (every tenant isolated to its own shard is
/// missing from the result). The Billing page and the admin console had the shape (fixed:
/// one-table reads; the billing facts are reference tables). None may come back.
#[test]
fn no_application_query_outer_joins_onto_a_distributed_table() {
    let tables = distributed_tables();
    for t in ["public.campaigns", "public.usage_counters"] {
        assert!(
            tables.contains(&t.to_string()),
            "{t} in the recipe's plan: {tables:?}"
        );
    }
    let mut files = sources(Path::new(&format!("{ROOT}/app/src")));
    files.extend(sources(Path::new(&format!("{ROOT}/server/src"))));
    let found = outer_joins_onto(&files, &tables);
    assert!(
        found.is_empty(),
        "outer joins onto a distributed table: {found:?}"
    );
    // The scan sees the shape the Billing page had.
    let sample = vec![(
        PathBuf::from("sample.rs"),
        "FROM enclave.plans p LEFT JOIN public.usage_counters u ON u.org_id = $1".to_string(),
    )];
    assert_eq!(outer_joins_onto(&sample, &tables).len(), 1);
}

/// The string literals of a Rust source, roughly: `"…"` with backslash escapes (enough for
/// the SQL this crate writes; raw strings are not used for SQL here).
fn string_literals(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut prev = ' ';
    while let Some(c) = chars.next() {
        // a char literal '"' is not a string
        if c == '"' && prev != '\'' {
            let mut lit = String::new();
            while let Some(d) = chars.next() {
                match d {
                    '\\' => {
                        if let Some(e) = chars.next() {
                            lit.push(e);
                        }
                    }
                    '"' => break,
                    _ => lit.push(d),
                }
            }
            out.push(lit);
            prev = '"';
        } else {
            prev = c;
        }
    }
    out
}

/// Application reads of a tenant view (`public.*_unified`) that do not name the
/// organization: the literal has no `org_id = ` of its own and none through a `{NAME}`
/// placeholder whose literal has one (a const of the same file, e.g. a shared filter).
fn unrouted_tenant_reads(files: &[(PathBuf, String)]) -> Vec<String> {
    let mut found = Vec::new();
    for (path, text) in files {
        let literals = string_literals(text);
        let routed = |lit: &str| lit.contains("org_id = ");
        // const NAME: &str = "…": the literal that follows `NAME: &str =`
        let const_routed = |name: &str| {
            text.find(&format!("{name}: &str"))
                .map(|at| string_literals(&text[at..]))
                .and_then(|l| l.into_iter().next())
                .is_some_and(|l| routed(&l))
        };
        for lit in &literals {
            if !lit.contains("_unified") || !lit.to_lowercase().contains("from ") {
                continue;
            }
            let through_placeholder = lit
                .split('{')
                .skip(1)
                .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
                .any(const_routed);
            if !routed(lit) && !through_placeholder {
                let head: String = lit.split_whitespace().collect::<Vec<_>>().join(" ");
                found.push(format!(
                    "{}: {}",
                    path.display(),
                    &head[..head.len().min(90)]
                ));
            }
        }
    }
    found
}

/// On Citus a read without the distribution key asks every shard of the tables behind
/// the view (64 for a unified view) and each filters its rows away: found on the test
/// cluster with `citus.multi_task_query_log_level`, 40 application reads did, among them
/// every list page (the demo read door went from 17 to ~600 reads per second with the key,
/// migration 0035). Every application read of a tenant view names its organization
/// (`tenancy::TenantScoped::org_id`, or the context's); the policies still decide what is
/// visible.
#[test]
fn every_application_read_of_a_tenant_view_names_its_organization() {
    let files = sources(Path::new(&format!("{ROOT}/app/src")));
    let found = unrouted_tenant_reads(&files);
    assert!(found.is_empty(), "reads without org_id: {found:#?}");
    let samples = [
        ("let q = \"SELECT name FROM public.personas_unified ORDER BY name\";", 1),
        ("let q = \"SELECT name FROM public.personas_unified WHERE org_id = $1\";", 0),
        (
            "const FILTER: &str = \"org_id = $1 AND x\"; let q = format!(\"SELECT 1 FROM public.campaigns_unified WHERE {FILTER}\");",
            0,
        ),
        (
            "const FILTER: &str = \"x = $1\"; let q = format!(\"SELECT 1 FROM public.campaigns_unified WHERE {FILTER}\");",
            1,
        ),
    ];
    for (src, n) in samples {
        let f = vec![(PathBuf::from("sample.rs"), src.to_string())];
        assert_eq!(unrouted_tenant_reads(&f).len(), n, "{src}");
    }
}
