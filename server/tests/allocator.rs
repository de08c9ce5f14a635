//! The server's allocator options (`server/src/main.rs`): mimalloc must purge freed memory
//! at once and commit its arenas on demand, or a 10 MB import file leaves the server far
//! above its size (end2end/tests/hardening.spec.js bounds the peak). The options are set
//! by number from a constructor; a mimalloc upgrade that renumbered them, or a build that
//! lost the constructor, shows here as mimalloc's own report of its options.

use std::process::Command;

/// mimalloc's value for `name`, from the lines `MIMALLOC_VERBOSE=1` prints at start.
fn option(report: &str, name: &str) -> Option<i64> {
    let key = format!("option '{name}':");
    report.lines().find_map(|line| {
        let (_, value) = line.split_once(&key)?;
        value.trim().parse().ok()
    })
}

#[test]
fn freed_memory_is_purged_at_once_and_arenas_committed_on_demand() {
    let out = Command::new(env!("CARGO_BIN_EXE_enclave"))
        .arg("--version")
        .env("MIMALLOC_VERBOSE", "1")
        // The environment would set them too; the binary must do it on its own.
        .env_remove("MIMALLOC_PURGE_DELAY")
        .env_remove("MIMALLOC_ARENA_EAGER_COMMIT")
        .output()
        .expect("run enclave --version");
    assert!(out.status.success(), "enclave --version failed: {out:?}");
    let report = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        option(&report, "purge_delay"),
        Some(0),
        "mimalloc said:\n{report}"
    );
    assert_eq!(
        option(&report, "arena_eager_commit"),
        Some(0),
        "mimalloc said:\n{report}"
    );
}

#[test]
fn the_report_is_read_as_mimalloc_writes_it() {
    let report =
        "mimalloc: option 'arena_eager_commit': 2 \nmimalloc: option 'purge_delay': 1000 \n";
    assert_eq!(option(report, "purge_delay"), Some(1000));
    assert_eq!(option(report, "arena_eager_commit"), Some(2));
    assert_eq!(option(report, "verbose"), None);
}
