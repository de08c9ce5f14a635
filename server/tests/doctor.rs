//! `enclave doctor` asks the services the configuration names, a line each: every OpenID
//! provider's discovery document (the real provider of the end2end tests, npm
//! oidc-provider, and one where nothing listens) and Stripe's API (the stand-in, and a
//! port where nothing listens). Any failure makes it exit 1.

mod common;
use common::standin::{free_port, Standin, KEY};
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The OpenID provider of the end2end tests as a child process, killed when dropped.
struct Provider {
    child: Child,
    port: u16,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Provider {
    fn start() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let port = free_port();
        let child = Command::new("node")
            .arg(root.join("end2end/oidc/provider.mjs"))
            .env("OIDC_PORT", port.to_string())
            .env(
                "OIDC_REDIRECT_URI",
                "http://127.0.0.1:3000/auth/local/callback",
            )
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("`node` runs the OpenID provider (end2end/oidc/provider.mjs)");
        let provider = Provider { child, port };
        for _ in 0..100 {
            if provider.answers() {
                return provider;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the OpenID provider did not answer on port {port}");
    }

    fn answers(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let request = "GET /.well-known/openid-configuration HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        let mut reply = String::new();
        stream.write_all(request.as_bytes()).is_ok()
            && stream.read_to_string(&mut reply).is_ok()
            && reply.starts_with("HTTP/1.1 200")
    }
}

fn doctor(s: &Scratch, env: &[(&str, String)]) -> (bool, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_enclave"));
    command
        .arg("doctor")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &s.runtime_url)
        .env("ENCLAVE_ENV", "development");
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn doctor_checks_each_sign_in_provider_and_stripe() {
    let s = scratch("doctor").await;
    let provider = Provider::start();
    let standin = Standin::start(&[]);
    let local = [
        (
            "ENCLAVE_OIDC_LOCAL_ISSUER",
            format!("http://127.0.0.1:{}", provider.port),
        ),
        ("ENCLAVE_OIDC_LOCAL_CLIENT_ID", "enclave-e2e".to_string()),
        ("STRIPE_SECRET_KEY", KEY.to_string()),
        ("STRIPE_WEBHOOK_SECRET", "whsec_doctor".to_string()),
    ];
    let stripe_at = |port: u16| {
        (
            "ENCLAVE_STRIPE_API_BASE",
            format!("http://127.0.0.1:{port}/"),
        )
    };

    // Everything answers.
    let mut env = local.to_vec();
    env.push(("ENCLAVE_OIDC_PROVIDERS", "local".into()));
    env.push(stripe_at(standin.port));
    let (healthy, out) = doctor(&s, &env);
    assert!(healthy, "{out}");
    assert!(
        out.contains(&format!(
            "sign-in provider local: discovery document and signing keys of http://127.0.0.1:{}/ fetched",
            provider.port
        )) || out.contains(&format!(
            "sign-in provider local: discovery document and signing keys of http://127.0.0.1:{} fetched",
            provider.port
        )),
        "{out}"
    );
    assert!(
        out.contains("stripe: the API answered with the configured key"),
        "{out}"
    );
    assert!(out.contains("stripe webhooks: signing secret set"), "{out}");
    assert!(out.ends_with("doctor: healthy\n"), "{out}");

    // A provider where nothing listens, and Stripe where nothing listens: a line each.
    let mut env = local.to_vec();
    env.push(("ENCLAVE_OIDC_PROVIDERS", "local,offline".into()));
    env.push(("ENCLAVE_OIDC_OFFLINE_ISSUER", "http://127.0.0.1:9".into()));
    env.push(("ENCLAVE_OIDC_OFFLINE_CLIENT_ID", "unused".into()));
    env.push(stripe_at(free_port()));
    let (healthy, out) = doctor(&s, &env);
    assert!(!healthy, "{out}");
    assert!(
        out.contains("sign-in provider local: discovery document"),
        "{out}"
    );
    assert!(
        out.contains("sign-in provider offline: discovery FAILED"),
        "{out}"
    );
    assert!(out.contains("stripe: the API call FAILED"), "{out}");
    assert!(!out.contains(KEY), "the key was printed: {out}");
    assert!(out.ends_with("doctor: PROBLEMS FOUND\n"), "{out}");

    // Nothing configured is not a problem.
    let (healthy, out) = doctor(&s, &[]);
    assert!(healthy, "{out}");
    assert!(
        out.contains("sealing keys: active \"development\"; nothing is sealed yet"),
        "{out}"
    );
    assert!(
        out.contains("publishing providers: none configured"),
        "{out}"
    );
    // A listed provider without its settings is named.
    let (healthy, out) = doctor(&s, &[("ENCLAVE_INTEGRATIONS", "social".into())]);
    assert!(!healthy, "{out}");
    assert!(
        out.contains("publishing providers: MISCONFIGURED: social is listed in ENCLAVE_INTEGRATIONS but ENCLAVE_INTEGRATION_SOCIAL_AUTH_URL is not set"),
        "{out}"
    );
    assert!(out.contains("sign-in providers: none configured"), "{out}");
    assert!(out.contains("stripe: not configured"), "{out}");
}

#[tokio::test]
async fn doctor_says_whether_the_sealing_keys_open_what_the_database_holds() {
    let s = scratch("doctorkeys").await;
    let (_, sys) = s.dbs(2).await;
    let k1 = format!("k1:{}", "61".repeat(32));
    enclave_server::ops::vault_keys::check_and_register(
        &sys,
        &vault::Vault::new(vault::KeySet::parse(&k1).unwrap()),
    )
    .await
    .unwrap();
    s.accept_keys(&k1).await;
    let (healthy, out) = doctor(&s, &[("ENCLAVE_SECRET_KEYS", k1.clone())]);
    assert!(healthy, "{out}");
    assert!(out.contains("context key: \"k1\" installed"), "{out}");
    assert!(
        out.contains("sealing keys: active \"k1\"; values are sealed under \"k1\": all configured"),
        "{out}"
    );
    let other = format!("k1:{}", "62".repeat(32));
    let (healthy, out) = doctor(&s, &[("ENCLAVE_SECRET_KEYS", other)]);
    assert!(!healthy, "{out}");
    assert!(
        out.contains("sealing keys: key \"k1\" in the configuration is not the key"),
        "{out}"
    );
    assert!(
        !out.contains(&"62".repeat(32)),
        "the key was printed: {out}"
    );
    let (healthy, out) = doctor(
        &s,
        &[("ENCLAVE_SECRET_KEYS", format!("k2:{}", "63".repeat(32)))],
    );
    assert!(!healthy, "{out}");
    assert!(
        out.contains("sealing keys: the database holds values sealed with key \"k1\""),
        "{out}"
    );
    assert!(
        out.contains(
            "context key: the database does not hold the context key of sealing key \"k2\""
        ),
        "{out}"
    );
}
