//! The `enclave` command line behaves like the tools operators know: help and version need
//! no configuration, usage errors say what is wrong and exit 2, and a command that needs
//! the database says which setting is missing.

mod common;
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

/// `seed-demo --scale N` adds N SME organizations with example content, once.
#[tokio::test]
async fn seed_demo_scale_adds_tenants_with_content_once() {
    let s = common::scratch("seedscale").await;
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_enclave"))
            .args(["seed-demo", "--scale", "3"])
            .env("DATABASE_URL", &s.runtime_url)
            .env("ENCLAVE_ENV", "development")
            .output()
            .unwrap();
        assert!(out.status.success(), "{:?}", text(&out));
        text(&out).0
    };
    assert!(run().contains("3 scale organizations created (0 already present)"));
    assert!(run().contains("0 scale organizations created (3 already present)"));
    let mut admin = s.admin().await;
    let (orgs, campaigns, personas, outputs): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM public.organizations WHERE slug LIKE 'scale-sme-%'),
                (SELECT count(*) FROM public.campaigns c JOIN public.organizations o ON o.id = c.org_id
                  WHERE o.slug LIKE 'scale-sme-%'),
                (SELECT count(*) FROM public.personas p JOIN public.organizations o ON o.id = p.org_id
                  WHERE o.slug LIKE 'scale-sme-%'),
                (SELECT count(*) FROM public.campaign_outputs x JOIN public.organizations o ON o.id = x.org_id
                  WHERE o.slug LIKE 'scale-sme-%')",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    let northwind = &enclave_server::ops::demo_content::NORTHWIND;
    let per_tenant_outputs: i64 = northwind
        .campaigns
        .iter()
        .map(|c| c.outputs.len() as i64)
        .sum();
    assert_eq!(
        (orgs, campaigns, personas, outputs),
        (
            3,
            3 * northwind.campaigns.len() as i64,
            3 * northwind.personas.len() as i64,
            3 * per_tenant_outputs
        )
    );
}
