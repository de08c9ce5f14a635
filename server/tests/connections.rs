//! Connected accounts' tokens against a real OAuth 2.0 provider (end2end/integrations/
//! provider.mjs: oidc-provider with refresh-token rotation and reuse detection): any
//! number of concurrent needs for a fresh token cause exactly one refresh; a refresh
//! token used twice marks the connection "needs reconnecting" with the reason and stops
//! calling the provider; an unavailable provider is "try again", not a reconnect; expiry
//! arrives as a number, a string or not at all and is stored as one timestamp.

mod common;

use app::integrations::provider::{IntegrationProvider, Integrations};
use app::integrations::tokens::{usable_access_token, ConnectionRef, TokenError};
use common::*;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use tenancy::{SystemDb, TenantDb};
use uuid::Uuid;
use vault::{Secret, Vault};

/// The provider as a child process, killed when dropped.
struct Peer {
    child: Child,
    url: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Peer {
    fn start(access_ttl: u32) -> Self {
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(
            root.join("end2end/node_modules/oidc-provider").is_dir(),
            "end2end/node_modules is missing: run `npm ci` in end2end/ (scripts/lib.sh ensure_npm_packages)"
        );
        let mut child = Command::new("node")
            .arg(root.join("end2end/integrations/provider.mjs"))
            .env("INTEGRATION_PORT", "0")
            .env(
                "INTEGRATION_REDIRECT_URI",
                "http://127.0.0.1:9/integrations/social/callback",
            )
            .env("INTEGRATION_ACCESS_TTL", access_ttl.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` ({e}): the provider needs Node.js"));
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next().and_then(Result::ok));
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(20))
            .ok()
            .flatten()
            .unwrap_or_default();
        let url = line
            .strip_prefix("integration provider listening on ")
            .unwrap_or_else(|| panic!("the provider did not start: {line:?}"))
            .to_string();
        Peer { child, url }
    }

    fn config(&self) -> IntegrationProvider {
        IntegrationProvider {
            id: "social".into(),
            name: "Test Social".into(),
            auth_url: format!("{}/auth", self.url),
            token_url: format!("{}/token", self.url),
            revoke_url: Some(format!("{}/token/revocation", self.url)),
            client_id: "enclave-publish".into(),
            client_secret: Some("publish-client-secret".into()),
            scopes: vec!["publish".into()],
            api_url: format!("{}/api", self.url),
        }
    }

    async fn post(&self, integrations: &Integrations, path: &str, body: Value) -> Value {
        let response = integrations
            .http()
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        response.json().await.unwrap()
    }

    async fn stats(&self, integrations: &Integrations) -> Value {
        integrations
            .http()
            .get(format!("{}/test/stats", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }
}

const KEY: &str = "4444444444444444444444444444444444444444444444444444444444444444";

struct Setup {
    s: Scratch,
    db: TenantDb,
    _sys: SystemDb,
    ctx: tenancy::TenantContext,
    peer: Peer,
    integrations: Arc<Integrations>,
    vault: Vault,
}

async fn setup(name: &str, access_ttl: u32, pool: u32) -> Setup {
    let s = scratch(name).await;
    s.accept_keys(&format!("t1:{KEY}")).await;
    let (db, sys) = s.dbs(pool).await;
    enclave_server::ops::seed::seed_demo(&sys, enclave_server::ops::seed::Content::Bare)
        .await
        .unwrap();
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let ctx = context(&db, nora, northwind, None).await;
    let peer = Peer::start(access_ttl);
    let integrations =
        Arc::new(Integrations::new(vec![peer.config()], "http://127.0.0.1:9").unwrap());
    Setup {
        s,
        db,
        _sys: sys,
        ctx,
        peer,
        integrations,
        vault: Vault::new(vault::KeySet::parse(&format!("t1:{KEY}")).unwrap()),
    }
}

impl Setup {
    fn conn(&self, id: Uuid) -> ConnectionRef {
        ConnectionRef {
            org: self.ctx.org_id(),
            workspace: None,
            connection: id,
        }
    }

    /// A connection holding the tokens of a grant the provider made for `account`, its
    /// expiry as given (or already past).
    async fn connect(&self, account: &str, expired: bool) -> (Uuid, Value) {
        let tokens = self
            .peer
            .post(
                &self.integrations,
                "/test/grant",
                json!({ "account": account }),
            )
            .await;
        let parsed: app::integrations::provider::ProviderTokens =
            serde_json::from_value(tokens.clone()).unwrap();
        let id = Uuid::new_v4();
        let conn = self.conn(id);
        let access = self
            .vault
            .seal(&Secret::new(parsed.access_token()), &conn.binding("access"))
            .unwrap();
        let refresh = self
            .vault
            .seal(
                &Secret::new(parsed.refresh_token().unwrap()),
                &conn.binding("refresh"),
            )
            .unwrap();
        let expires_at = if expired {
            Some(time::OffsetDateTime::now_utc() - time::Duration::minutes(5))
        } else {
            parsed.expires_at(time::OffsetDateTime::now_utc())
        };
        let mut tx = self.db.begin(&self.ctx).await.unwrap();
        tx.query("SELECT enclave.save_connection($1, 'social', $2, $2, $3, $4, $5)")
            .bind(id)
            .bind(account)
            .bind(access.as_bytes())
            .bind(refresh.as_bytes())
            .bind(expires_at)
            .execute(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        (id, tokens)
    }

    async fn token(
        &self,
        id: Uuid,
        refused: Option<&[u8]>,
    ) -> Result<app::integrations::tokens::UsableToken, TokenError> {
        let tx = self.db.begin(&self.ctx).await.unwrap();
        usable_access_token(tx, &self.integrations, &self.vault, self.conn(id), refused).await
    }

    async fn row(&self, id: Uuid) -> (String, Option<String>, bool, Option<time::OffsetDateTime>) {
        let mut tx = self.db.begin(&self.ctx).await.unwrap();
        let row = tx
            .query_as("SELECT status, status_reason, access_token IS NOT NULL, expires_at FROM public.connections_unified WHERE connection_id = $1")
            .bind(id)
            .fetch_one(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        row
    }
}

#[tokio::test]
async fn fifty_concurrent_needs_for_a_fresh_token_cause_exactly_one_refresh() {
    let t = Arc::new(setup("conn50", 3600, 60).await);
    let (id, _) = t.connect("nora", true).await;
    // Every refresh takes 300 ms at the provider: the others arrive while it is under way.
    t.peer
        .post(&t.integrations, "/test/slow-token", json!({ "ms": 300 }))
        .await;
    let before = t.peer.stats(&t.integrations).await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move {
                let token = t.token(id, None).await.expect("a usable token");
                let provider = t.integrations.find("social").unwrap();
                let account =
                    app::integrations::api::account(&t.integrations, provider, &token.secret)
                        .await
                        .expect("the API accepts the token");
                (token.secret.expose().to_string(), account.name)
            })
        })
        .collect();
    let mut tokens = std::collections::HashSet::new();
    for task in tasks {
        let (token, name) = task.await.unwrap();
        assert_eq!(name, "Nora");
        tokens.insert(token);
    }
    let after = t.peer.stats(&t.integrations).await;
    assert_eq!(
        after["refreshes"].as_u64().unwrap() - before["refreshes"].as_u64().unwrap(),
        1,
        "{after}"
    );
    assert_eq!(after["refresh_reuse"], before["refresh_reuse"], "{after}");
    assert_eq!(tokens.len(), 1, "every caller got the one refreshed token");
    let (status, _, has_access, expires_at) = t.row(id).await;
    assert_eq!(status, "connected");
    assert!(
        has_access
            && expires_at.unwrap() > time::OffsetDateTime::now_utc() + time::Duration::minutes(50)
    );
}

#[tokio::test]
async fn a_refresh_token_used_twice_marks_the_connection_for_reconnecting_and_stops_calling() {
    let t = setup("connreuse", 3600, 4).await;
    let (id, tokens) = t.connect("nora", true).await;
    // Someone else (a restored backup, a second copy of the app) used the refresh token.
    let refreshed = t
        .integrations
        .refresh(
            t.integrations.find("social").unwrap(),
            tokens["refresh_token"].as_str().unwrap(),
        )
        .await
        .unwrap();
    assert!(refreshed.refresh_token().is_some());

    let err = t.token(id, None).await.err().expect("the grant is gone");
    let TokenError::NeedsReconnect(reason) = err else {
        panic!("{err:?}")
    };
    assert!(
        reason.contains("Test Social") && reason.contains("reconnect"),
        "{reason}"
    );
    let stats = t.peer.stats(&t.integrations).await;
    assert_eq!(stats["refresh_reuse"], 1, "{stats}");

    let (status, stored_reason, has_access, _) = t.row(id).await;
    assert_eq!(
        (status.as_str(), stored_reason.as_deref()),
        ("needs_reconnect", Some(reason.as_str()))
    );
    assert!(!has_access, "the dead tokens are deleted");

    // From now on no call reaches the provider: no retry storm.
    let requests = stats["token_requests"].clone();
    for _ in 0..5 {
        assert!(matches!(
            t.token(id, None).await,
            Err(TokenError::NeedsReconnect(_))
        ));
    }
    assert_eq!(
        t.peer.stats(&t.integrations).await["token_requests"],
        requests
    );
}

#[tokio::test]
async fn an_unavailable_provider_is_tried_again_later_not_a_reconnect() {
    let t = setup("connunavail", 3600, 4).await;
    let (id, _) = t.connect("nora", true).await;
    t.peer
        .post(
            &t.integrations,
            "/test/fail-token",
            json!({ "status": 503, "count": 1 }),
        )
        .await;
    let err = t.token(id, None).await.err().expect("the provider failed");
    assert!(matches!(err, TokenError::Unavailable(_)), "{err:?}");
    assert_eq!(t.row(id).await.0, "connected");
    // The rotation did not happen, so the stored refresh token still works.
    assert!(t.token(id, None).await.is_ok());
    assert_eq!(t.peer.stats(&t.integrations).await["refreshes"], 1);
}

#[tokio::test]
async fn expiry_as_a_number_a_string_or_missing_is_one_timestamp_and_a_refused_token_is_renewed() {
    let t = setup("connexpiry", 600, 4).await;
    for mode in ["number", "string", "missing"] {
        t.peer
            .post(&t.integrations, "/test/mode", json!({ "expires_in": mode }))
            .await;
        let (id, tokens) = t.connect(&format!("nora-{mode}"), false).await;
        let expires_at = t.row(id).await.3;
        match mode {
            "missing" => {
                assert!(tokens.get("expires_in").is_none(), "{tokens}");
                assert_eq!(expires_at, None);
                // Unknown expiry: used as it is, until the API refuses it.
                let before = t.peer.stats(&t.integrations).await["refreshes"]
                    .as_u64()
                    .unwrap();
                let usable = t.token(id, None).await.unwrap();
                assert_eq!(
                    t.peer.stats(&t.integrations).await["refreshes"]
                        .as_u64()
                        .unwrap(),
                    before
                );
                let renewed = t.token(id, Some(&usable.stored)).await.unwrap();
                assert_ne!(renewed.secret.expose(), usable.secret.expose());
                assert_eq!(
                    t.peer.stats(&t.integrations).await["refreshes"]
                        .as_u64()
                        .unwrap(),
                    before + 1
                );
                // A second caller holding the same refused token gets the renewed one.
                let again = t.token(id, Some(&usable.stored)).await.unwrap();
                assert_eq!(again.secret.expose(), renewed.secret.expose());
                assert_eq!(
                    t.peer.stats(&t.integrations).await["refreshes"]
                        .as_u64()
                        .unwrap(),
                    before + 1
                );
            }
            _ => {
                assert_eq!(
                    tokens["expires_in"].is_string(),
                    mode == "string",
                    "{tokens}"
                );
                let left = expires_at.unwrap() - time::OffsetDateTime::now_utc();
                assert!(
                    left > time::Duration::seconds(590) && left <= time::Duration::seconds(600),
                    "{mode}: {left}"
                );
            }
        }
    }
}

fn start_worker(t: &Setup) -> Child {
    let p = t.peer.config();
    Command::new(env!("CARGO_BIN_EXE_enclave"))
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &t.s.runtime_url)
        .env("ENCLAVE_ENV", "development")
        .env("ENCLAVE_SECRET_KEYS", format!("t1:{KEY}"))
        .env("ENCLAVE_WORKER_CONCURRENCY", "8")
        .env("ENCLAVE_INTEGRATIONS", "social")
        .env("ENCLAVE_INTEGRATION_SOCIAL_NAME", &p.name)
        .env("ENCLAVE_INTEGRATION_SOCIAL_AUTH_URL", &p.auth_url)
        .env("ENCLAVE_INTEGRATION_SOCIAL_TOKEN_URL", &p.token_url)
        .env(
            "ENCLAVE_INTEGRATION_SOCIAL_REVOKE_URL",
            p.revoke_url.as_deref().unwrap(),
        )
        .env("ENCLAVE_INTEGRATION_SOCIAL_CLIENT_ID", &p.client_id)
        .env(
            "ENCLAVE_INTEGRATION_SOCIAL_CLIENT_SECRET",
            p.client_secret.as_deref().unwrap(),
        )
        .env("ENCLAVE_INTEGRATION_SOCIAL_SCOPES", "publish")
        .env("ENCLAVE_INTEGRATION_SOCIAL_API_URL", &p.api_url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start enclave worker")
}

/// Publish jobs for `n` new outputs of one new campaign, queued as the page would.
async fn queued_publications(t: &Setup, connection: Uuid, n: usize) -> Vec<Uuid> {
    use app::integrations::publish::{PublishInput, PublishJob, Publisher};
    let db = tenancy::Database::connect(
        &t.s.runtime_url,
        tenancy::PoolSettings::default(),
        common::context_key(),
    )
    .await
    .unwrap();
    let queue = db
        .jobs()
        .tenant_queue(PublishJob {
            publisher: Publisher {
                integrations: t.integrations.clone(),
                vault: t.vault.clone(),
            },
        })
        .await
        .unwrap();
    let mut tx = t.db.begin(&t.ctx).await.unwrap();
    let campaign: Uuid = tx
        .query_scalar("SELECT enclave.save_campaign(NULL, 'Launch', 'grow', ARRAY['social'], NULL, NULL, NULL, 'active', NULL)")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    let mut jobs = Vec::new();
    for i in 0..n {
        let output: Uuid = tx
            .query_scalar(
                "SELECT enclave.save_campaign_output($1, NULL, 'social', $2, 'Body', 'approved')",
            )
            .bind(campaign)
            .bind(format!("Post {i}"))
            .fetch_one(tx.conn())
            .await
            .unwrap();
        let input = PublishInput {
            campaign_id: campaign,
            output_id: output,
            connection_id: connection,
        };
        let (job, _): (Uuid, bool) = tx
            .query_as("SELECT * FROM enclave.create_job('publish_output', $1, NULL, $2)")
            .bind(output)
            .bind(serde_json::to_value(&input).unwrap())
            .fetch_one(tx.conn())
            .await
            .unwrap();
        queue.enqueue(&mut tx, Some(job), input).await.unwrap();
        jobs.push(job);
    }
    tx.commit().await.unwrap();
    jobs
}

/// (status, remote id) of each job.
async fn publication_states(t: &Setup, jobs: &[Uuid]) -> Vec<(String, Option<String>)> {
    let mut tx = t.db.begin(&t.ctx).await.unwrap();
    let rows = tx
        .query_as("SELECT status, result ->> 'remote_id' FROM public.jobs_unified WHERE job_id = ANY ($1) ORDER BY job_id")
        .bind(jobs)
        .fetch_all(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows
}

// Multi-threaded: the provider answers while the test waits for the processes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_publications_by_two_worker_processes_with_an_expired_token_refresh_it_once() {
    let t = setup("connpublish", 3600, 8).await;
    let (connection, _) = t.connect("nora", true).await;
    t.peer
        .post(&t.integrations, "/test/slow-token", json!({ "ms": 300 }))
        .await;
    let jobs = queued_publications(&t, connection, 50).await;
    let mut workers = [start_worker(&t), start_worker(&t)];
    let started = std::time::Instant::now();
    let states = loop {
        let states = publication_states(&t, &jobs).await;
        if states
            .iter()
            .all(|(status, _)| status == "done" || status == "failed")
        {
            break states;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "publications still running: {states:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    for w in &mut workers {
        let _ = w.kill();
        let _ = w.wait();
    }
    assert!(
        states.iter().all(|(status, _)| status == "done"),
        "{states:?}"
    );
    let remote: std::collections::HashSet<_> =
        states.iter().filter_map(|(_, id)| id.clone()).collect();
    assert_eq!(remote.len(), 50, "one remote message per output");
    let stats = t.peer.stats(&t.integrations).await;
    assert_eq!(
        (stats["refreshes"].as_u64(), stats["refresh_reuse"].as_u64()),
        (Some(1), Some(0)),
        "{stats}"
    );
    assert_eq!(stats["publications"], 50, "{stats}");
    let mut tx = t.db.begin(&t.ctx).await.unwrap();
    let published: i64 = tx
        .query_scalar(
            "SELECT count(*) FROM public.campaign_outputs_unified WHERE status = 'published'",
        )
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(published, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_fails_waiting_publications_with_the_reason_without_retrying() {
    let t = setup("connpubrevoked", 3600, 8).await;
    let (connection, tokens) = t.connect("nora", true).await;
    // The refresh token was used elsewhere: the provider revokes the grant.
    t.integrations
        .refresh(
            t.integrations.find("social").unwrap(),
            tokens["refresh_token"].as_str().unwrap(),
        )
        .await
        .unwrap();
    let jobs = queued_publications(&t, connection, 10).await;
    let mut worker = start_worker(&t);
    let started = std::time::Instant::now();
    loop {
        let states = publication_states(&t, &jobs).await;
        if states.iter().all(|(status, _)| status == "failed") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{states:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let _ = worker.kill();
    let _ = worker.wait();
    let mut tx = t.db.begin(&t.ctx).await.unwrap();
    let rows: Vec<(i32, Option<String>)> = tx
        .query_as("SELECT attempts, error FROM public.jobs_unified WHERE job_id = ANY ($1)")
        .bind(&jobs)
        .fetch_all(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for (attempts, error) in rows {
        assert_eq!(attempts, 1, "stopped, not retried");
        let error = error.unwrap_or_default();
        assert!(
            error.contains("Test Social") && error.contains("reconnect"),
            "{error}"
        );
    }
    let stats = t.peer.stats(&t.integrations).await;
    // The one refresh that found the grant revoked; no publication, no further calls.
    assert_eq!(
        (
            stats["refresh_reuse"].as_u64(),
            stats["publications"].as_u64()
        ),
        (Some(1), Some(0)),
        "{stats}"
    );
    assert_eq!(t.row(connection).await.0, "needs_reconnect");
}

#[tokio::test]
async fn revoking_at_the_provider_ends_the_grant() {
    let t = setup("connrevoke", 3600, 4).await;
    let (_, tokens) = t.connect("nora", false).await;
    let provider = t.integrations.find("social").unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(t.integrations.revoke(provider, refresh).await, Ok(true));
    assert_eq!(t.peer.stats(&t.integrations).await["revocations"], 1);
    let err = t.integrations.refresh(provider, refresh).await.unwrap_err();
    assert!(
        matches!(err, app::integrations::provider::GrantError::Refused(_)),
        "{err:?}"
    );
    // A provider without a revocation endpoint: nothing to call, and said so.
    let mut without = provider.clone();
    without.revoke_url = None;
    assert_eq!(t.integrations.revoke(&without, refresh).await, Ok(false));
}
