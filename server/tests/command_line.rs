//! The `enclave` command line behaves like the tools operators know: help and version need
//! no configuration, usage errors say what is wrong and exit 2, and a command that needs
//! the database says which setting is missing.

use std::process::{Command, Output};

fn enclave(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_enclave"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn help_and_version_need_no_configuration() {
    let top = enclave(&["--help"]);
    let (out, _) = text(&top);
    assert_eq!(top.status.code(), Some(0), "{out}");
    for command in [
        "serve",
        "worker",
        "migrate",
        "audit",
        "schema-doc",
        "doctor",
        "seed-demo",
        "dead-jobs",
        "reconcile-billing",
        "admin",
    ] {
        assert!(
            out.lines().any(|l| l.trim_start().starts_with(command)),
            "--help does not list {command}:\n{out}"
        );
    }
    for args in [
        &["worker", "--help"][..],
        &["help", "worker"],
        &["admin", "grant", "--help"],
        &["schema-doc", "--help"],
    ] {
        let o = enclave(args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {out}{err}");
        assert!(out.contains("Usage: enclave"), "{args:?}: {out}");
        assert!(
            !err.contains("DATABASE_URL"),
            "{args:?} read the configuration: {err}"
        );
    }
    let o = enclave(&["schema-doc", "--help"]);
    assert!(text(&o).0.contains("--check"));
    let o = enclave(&["--version"]);
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(
        text(&o).0.trim(),
        format!("enclave {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    for (args, says) in [
        (&["bogus"][..], "unrecognized subcommand 'bogus'"),
        (&["admin", "grant"], "<EMAIL>"),
        (
            &["reconcile-billing", "--org", "nope"],
            "invalid value 'nope' for '--org <ID>'",
        ),
        (&["audit", "--jsn"], "unexpected argument '--jsn'"),
    ] {
        let o = enclave(args);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {out}{err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn a_command_without_its_configuration_says_what_to_set() {
    let o = enclave(&["doctor"]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{err}");
    assert!(err.contains("DATABASE_URL"), "{err}");
}
