//! Benchmark (not a test): Stripe webhook intake and processing lag (issue 11, "Speed"),
//! each next to references measured in the same run on the same database. Run with
//! `scripts/bench-billing`.
//!
//! Intake: the real `stripe_webhook::router` driven in-process with tower's `oneshot`
//! (the handler's cost, not hyper's), a few closed-loop senders, each delivery signed as
//! Stripe signs it with a distinct event id. Once with processing off, once more over
//! HTTP/1.1 on loopback through the server's own listener, and once with a real
//! `SystemQueue<StripeEventJob>` (the enqueue after recording included). Log lines are
//! formatted as `enclave serve` formats them, into a sink.
//! References: the same ledger write on the system path without HTTP or verification,
//! a bare INSERT of the same row into a plain table (same columns, keys, checks and
//! indexes; no RLS, no audit row, no function), and verify + parse alone on one thread.
//!
//! Processing lag: the Stripe stand-in (end2end/stripe/standin.mjs, no webhook URL) holds
//! one subscription per organization; deliveries arrive at a fixed rate (open loop) at the
//! router with processing on, while `StripeEventJob` workers run as `enclave serve` runs
//! them (own pool, ENCLAVE_WORKER_CONCURRENCY, default 2). Lag per event is its ledger
//! row's `processed_at` minus the moment its delivery was answered (same host clock).
//! References: a no-op tenant job at the same rate (enqueued -> done), and the stand-in's
//! `GET /v1/subscriptions?customer=…` alone, the one call processing makes.
//!
//! Reconciliation (ENCLAVE_BENCH_RECONCILE_ORGS organizations, default 10,000; 0 skips it;
//! ENCLAVE_BENCH_EVENTS=0 skips the two phases above): one `reconcile()` (not a dry run)
//! over that many organizations in sync with the stand-in but for 1 % whose seats drifted,
//! on a database and stand-in of its own (see `reconcile_phase` for how they are made).
//! References: paging through every customer and every subscription at the stand-in alone,
//! `enclave.billing_states()` alone, and one system-path transaction per organization
//! counting its seats (what reconcile does for each per-seat subscription).

mod common;
use common::{pct, setting, url_for};

use app::billing::processing::{local_status, record_event, StripeEventJob};
use app::billing::stripe_api::{FetchedSubscription, PriceCatalog, StripeApi, API_VERSION};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use enclave_server::config::Environment;
use enclave_server::jobs::Noop;
use enclave_server::ops::migrate;
use enclave_server::reconcile_billing::{reconcile, LocalState, Options};
use enclave_server::stripe_webhook::{self, WebhookSecrets};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};
use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenancy::{Database, JobRunner, PoolSettings, SessionClaim, SystemDb, TenantContext, TenantDb};
use time::OffsetDateTime;
use tower::ServiceExt;
use uuid::Uuid;

const SECRET: &str = "whsec_bench";
const KEY: &str = "sk_test_standin";
/// The stand-in's prices and the plans they sell (scripts/lib.sh STANDIN_PRICES).
const PRICES: &str = "price_sme_team=Team=1500=per_seat,price_sme_business=Business=9900=flat";
const PLAN_PRICES: &str = "sme_team=price_sme_team,sme_business=price_sme_business";
/// Intake events name a customer no organization has, so processing never meets them.
const INTAKE_CUSTOMER: &str = "cus_benchintake";

fn now_unix() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// A delivery of `customer.subscription.updated` whose object is a real subscription
/// as the stand-in serves it (a few kilobytes, like Stripe's).
fn event_body(id: &str, subscription: &Value) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "id": id, "object": "event", "api_version": API_VERSION, "created": now_unix(),
        "livemode": false, "pending_webhooks": 1, "type": "customer.subscription.updated",
        "request": { "id": null, "idempotency_key": null },
        "data": { "object": subscription, "previous_attributes": { "quantity": 1 } }
    }))
    .unwrap()
}

/// `Stripe-Signature` for `body` now, as Stripe computes it (server/tests/stripe_webhook.rs).
fn signature(body: &[u8]) -> String {
    let t = now_unix();
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

fn signed(body: Vec<u8>) -> Request<Body> {
    let sig = signature(&body);
    Request::post("/webhooks/stripe")
        .header("content-type", "application/json")
        .header("stripe-signature", sig)
        .body(Body::from(body))
        .unwrap()
}

/// One delivery through the router; panics unless answered 200 (a benchmark of errors
/// would measure the wrong thing).
async fn deliver(app: axum::Router, request: Request<Body>) {
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
}

/// The same deliveries over real HTTP/1.1 on loopback: the router behind the server's
/// own accept loop (`listener::serve`, hyper, the request timeouts), `senders` blocking
/// keep-alive clients on their own threads (they share the two cores with the server).
async fn over_http(app: axum::Router, bodies: Vec<Vec<u8>>, senders: usize) -> Run {
    use enclave_server::listener::{serve, with_timeouts, Timeouts};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tenancy::CancellationToken::new();
    let server = tokio::spawn({
        let stop = stop.clone();
        let app = with_timeouts(app, Timeouts::default());
        async move {
            serve(
                listener,
                app,
                Timeouts::default(),
                async move { stop.cancelled().await },
                Duration::from_secs(5),
            )
            .await
        }
    });
    // Whole requests, signed, before the clock starts.
    let count = bodies.len();
    let mut shares: Vec<Vec<Vec<u8>>> = (0..senders).map(|_| Vec::new()).collect();
    for (i, body) in bodies.into_iter().enumerate() {
        let mut raw = format!(
            "POST /webhooks/stripe HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nStripe-Signature: {}\r\nContent-Length: {}\r\n\r\n",
            signature(&body),
            body.len()
        )
        .into_bytes();
        raw.extend_from_slice(&body);
        shares[i % senders].push(raw);
    }
    let (secs, millis) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let threads: Vec<_> = shares
            .into_iter()
            .map(|share| {
                std::thread::spawn(move || {
                    let stream = TcpStream::connect(addr).unwrap();
                    stream.set_nodelay(true).unwrap();
                    let mut writer = stream.try_clone().unwrap();
                    let mut reader = BufReader::new(stream);
                    let mut millis = Vec::with_capacity(share.len());
                    for raw in share {
                        let t = Instant::now();
                        writer.write_all(&raw).unwrap();
                        let (mut status, mut length, mut line) =
                            (String::new(), 0usize, String::new());
                        reader.read_line(&mut status).unwrap();
                        loop {
                            line.clear();
                            reader.read_line(&mut line).unwrap();
                            if line == "\r\n" {
                                break;
                            }
                            if let Some((k, v)) = line.split_once(':') {
                                if k.eq_ignore_ascii_case("content-length") {
                                    length = v.trim().parse().unwrap();
                                }
                            }
                        }
                        let mut body = vec![0; length];
                        reader.read_exact(&mut body).unwrap();
                        assert!(
                            status.starts_with("HTTP/1.1 200"),
                            "{status}{}",
                            String::from_utf8_lossy(&body)
                        );
                        millis.push(t.elapsed().as_secs_f64() * 1e3);
                    }
                    millis
                })
            })
            .collect();
        let millis: Vec<f64> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        (started.elapsed().as_secs_f64(), millis)
    })
    .await
    .unwrap();
    stop.cancel();
    server.await.unwrap();
    Run {
        count,
        secs,
        millis: sorted(millis),
    }
}

/// Timings of one closed-loop run.
struct Run {
    count: usize,
    secs: f64,
    /// Per-operation latencies, sorted, in milliseconds.
    millis: Vec<f64>,
}

impl Run {
    fn rate(&self) -> f64 {
        self.count as f64 / self.secs
    }
}

/// Nearest-rank percentile of sorted values.

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// Runs `op` over `items` with `senders` concurrent loops, each taking the next item as
/// soon as its previous one is answered; items are prepared before the clock starts.
async fn closed_loop<T, F, Fut>(items: Vec<T>, senders: usize, op: F) -> Run
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    let count = items.len();
    let mut shares: Vec<Vec<T>> = (0..senders).map(|_| Vec::new()).collect();
    for (i, item) in items.into_iter().enumerate() {
        shares[i % senders].push(item);
    }
    let started = Instant::now();
    let mut loops = Vec::new();
    for share in shares {
        let op = op.clone();
        loops.push(tokio::spawn(async move {
            let mut millis = Vec::with_capacity(share.len());
            for item in share {
                let t = Instant::now();
                op(item).await;
                millis.push(t.elapsed().as_secs_f64() * 1e3);
            }
            millis
        }));
    }
    let mut millis = Vec::with_capacity(count);
    for l in loops {
        millis.extend(l.await.unwrap());
    }
    Run {
        count,
        secs: started.elapsed().as_secs_f64(),
        millis: sorted(millis),
    }
}

/// The Stripe stand-in as a child process on a free port, killed when dropped.
struct Standin {
    child: Child,
    port: u16,
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Standin {
    fn start() -> Self {
        Self::start_with(None)
    }

    /// With `webhook`, events are addressed to that URL (with a secret) instead of to no
    /// endpoint, so that `POST /_test/delivery {"mode":"hold"}` can keep them: held events
    /// are neither sent nor listed as undelivered.
    fn start_with(webhook: Option<&str>) -> Self {
        let script =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../end2end/stripe/standin.mjs");
        // Port 0: the stand-in binds a free port and prints it.
        let mut command = Command::new("node");
        command
            .arg(script)
            .env("STRIPE_STANDIN_PORT", "0")
            .env("STRIPE_STANDIN_PRICES", PRICES)
            .env_remove("STRIPE_STANDIN_WEBHOOK_URL")
            .env_remove("STRIPE_STANDIN_WEBHOOK_SECRET")
            .env_remove("STRIPE_STANDIN_PUBLIC_URL");
        if let Some(url) = webhook {
            command
                .env("STRIPE_STANDIN_WEBHOOK_URL", url)
                .env("STRIPE_STANDIN_WEBHOOK_SECRET", SECRET);
        }
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run `node` for the Stripe stand-in: {e}"));
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let line = lines
            .next()
            .and_then(Result::ok)
            .expect("the Stripe stand-in did not start (its stderr is above)");
        let port = line
            .rsplit(':')
            .next()
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from the stand-in: {line}"));
        // Keep draining its stdout so it never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Standin { child, port }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// A `/_test` control (JSON, no key): one blocking HTTP/1.1 exchange, setup only.
    fn control(&self, path: &str, body: &Value) -> Value {
        control(self.port, path, body)
    }
}

/// `Standin::control` by port (for blocking threads that do not hold the stand-in).
fn control(port: u16, path: &str, body: &Value) -> Value {
    let body = body.to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    assert!(head.starts_with("HTTP/1.1 200"), "{path}: {head}\n{body}");
    serde_json::from_str(body).unwrap()
}

/// A loopback relay to the stand-in that holds each chunk from the client for `delay`
/// before passing it on: processing's one call (a GET, one chunk) then takes about as long
/// as Stripe's API does, where the stand-in alone answers in well under a millisecond.
fn delaying_relay(target: u16, delay: Duration) -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { continue };
            let mut server = TcpStream::connect(("127.0.0.1", target)).unwrap();
            let (mut from_client, mut to_server) =
                (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 64 * 1024];
                while let Ok(n @ 1..) = from_client.read(&mut buf) {
                    std::thread::sleep(delay);
                    if to_server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = to_server.shutdown(std::net::Shutdown::Write);
            });
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut server, &mut client);
                let _ = client.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    port
}

/// An SME organization with its owner, its Stripe customer recorded as /billing records
/// it, and one Team subscription at the stand-in. Returns (context, customer, subscription).
async fn billed_org(
    system: &SystemDb,
    db: &TenantDb,
    api: &StripeApi,
    standin: &Standin,
    i: usize,
) -> (TenantContext, String, Value) {
    let mut tx = system
        .begin("bench", "create a benchmark organization", json!({}))
        .await
        .unwrap();
    let email = format!("owner{i}@bench.test");
    let owner: Uuid = sqlx::query_scalar("SELECT enclave.create_user($1, $2)")
        .bind(&email)
        .bind(format!("Owner {i}"))
        .fetch_one(tx.conn())
        .await
        .unwrap();
    let org: Uuid = sqlx::query_scalar("SELECT enclave.create_organization('sme', $1, $2, $3)")
        .bind(format!("Bench {i}"))
        .bind(format!("bench-{i}"))
        .bind(owner)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let ctx = db
        .resolve(SessionClaim {
            user_id: owner,
            org_id: org,
            workspace_id: None,
        })
        .await
        .unwrap();
    let customer = api
        .create_customer(org, &format!("Bench {i}"), Some(&email))
        .await
        .unwrap();
    let mut tx = db.begin(&ctx).await.unwrap();
    tx.query("SELECT enclave.record_billing_customer($1)")
        .bind(&customer)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let subscription = standin.control(
        "/_test/subscriptions",
        &json!({ "customer": customer, "price": "price_sme_team", "quantity": 1 + i % 5 }),
    );
    (ctx, customer, subscription)
}

/// Waits until `sql` (a count, as the superuser) is zero; panics after `limit`.
async fn wait_for_zero(admin: &mut PgConnection, sql: &str, limit: Duration) {
    let started = Instant::now();
    loop {
        let left: i64 = sqlx::query_scalar(sql)
            .fetch_one(&mut *admin)
            .await
            .unwrap();
        if left == 0 {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "{left} still waiting after {limit:?}: {sql}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Sends `total` items at `rate` per second on a fixed schedule (a late answer does not
/// delay the next send, as with Stripe); each send reports the time it was answered.
async fn open_loop<F, Fut>(total: usize, rate: f64, send: F) -> (Vec<OffsetDateTime>, f64)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = OffsetDateTime> + Send + 'static,
{
    let started = tokio::time::Instant::now();
    let mut sends = Vec::with_capacity(total);
    for i in 0..total {
        tokio::time::sleep_until(started + Duration::from_secs_f64(i as f64 / rate)).await;
        sends.push(tokio::spawn(send(i)));
    }
    let mut answered = Vec::with_capacity(total);
    for s in sends {
        answered.push(s.await.unwrap());
    }
    (answered, total as f64 / started.elapsed().as_secs_f64())
}

fn millis(d: time::Duration) -> f64 {
    d.as_seconds_f64() * 1e3
}

#[tokio::main]
async fn main() {
    // Production's log line per event costs formatting: the same subscriber and filter as
    // `enclave serve` (server/src/main.rs), writing into a sink instead of stderr.
    tracing_subscriber::fmt()
        .with_env_filter("info,sqlx=warn,tower_sessions=warn")
        .with_writer(std::io::sink)
        .with_ansi(false)
        .init();
    let admin = std::env::var("ENCLAVE_TEST_ADMIN_URL")
        .expect("set ENCLAVE_TEST_ADMIN_URL to a superuser URL (scripts/bench-billing does)");
    let events = setting("ENCLAVE_BENCH_EVENTS", 5_000);
    let senders = setting("ENCLAVE_BENCH_SENDERS", 8).max(1);
    let reconcile_orgs = setting("ENCLAVE_BENCH_RECONCILE_ORGS", 10_000);
    // 0 skips a phase: intake and processing lag share their setup, so they go together.
    if events > 0 {
        webhook_phases(&admin, events, senders).await;
    }
    if reconcile_orgs > 0 {
        reconcile_phase(&admin, reconcile_orgs, senders).await;
    }
}

/// A migrated scratch database: (name, runtime role's URL, superuser's URL).
async fn scratch_database(admin: &str) -> (String, String, String) {
    let name = format!(
        "bench_billing_{}",
        &Uuid::new_v4().simple().to_string()[..8]
    );
    let owner_url = url_for(admin, &format!("{name}_owner"), &name);
    let runtime_url = url_for(admin, &format!("{name}_app"), &name);
    migrate::migrate(
        &runtime_url,
        &owner_url,
        Some(admin),
        Environment::Development,
        &enclave_server::config::ContextKeys::development().all,
    )
    .await
    .expect("migrate");
    let admin_db = url_for(admin, url::Url::parse(admin).unwrap().username(), &name);
    (name, runtime_url, admin_db)
}

/// Phases 1 and 2 (intake, processing lag) on their own scratch database and stand-in.
async fn webhook_phases(admin: &str, events: usize, senders: usize) {
    let orgs = setting("ENCLAVE_BENCH_ORGS", 50).max(1);
    let lag_rate = setting("ENCLAVE_BENCH_RATE", 100).max(1) as f64;
    let lag_secs = setting("ENCLAVE_BENCH_SECS", 20).max(1) as f64;
    let stripe_delay = Duration::from_millis(setting("ENCLAVE_BENCH_STRIPE_DELAY_MS", 0) as u64);
    let workers = enclave_server::jobs::concurrency().expect("ENCLAVE_WORKER_CONCURRENCY");

    let (name, runtime_url, admin_db) = scratch_database(admin).await;
    let mut su = PgConnection::connect(&admin_db).await.unwrap();

    // The web process's pool as `enclave serve` opens it; the event queue enqueues on it.
    let web_settings = PoolSettings::default();
    let web_pool_size = web_settings.max_connections;
    let web = Database::connect(
        &runtime_url,
        web_settings,
        enclave_server::config::ContextKeys::development().active,
    )
    .await
    .expect("pool");
    let standin = Standin::start();
    let stripe = Arc::new(
        StripeApi::new(
            KEY,
            Some(&standin.base()),
            PriceCatalog::parse(PLAN_PRICES).unwrap(),
        )
        .unwrap(),
    );
    let event_queue = web
        .jobs()
        .system_queue(StripeEventJob {
            stripe: stripe.clone(),
        })
        .await
        .expect("stripe_events queue");
    let noop_queue = web.jobs().tenant_queue(Noop).await.expect("noop queue");
    let (tenant_db, system) = web.split();

    eprintln!("setting up {orgs} organizations with a customer and a subscription each…");
    let mut billed = Vec::new();
    for i in 0..orgs {
        billed.push(billed_org(&system, &tenant_db, &stripe, &standin, i).await);
    }
    // The intake template: a real subscription object, its customer one nobody has.
    let mut template = billed[0].2.clone();
    template["customer"] = json!(INTAKE_CUSTOMER);
    let payload_bytes = event_body("evt_size", &template).len();

    let secrets = WebhookSecrets::parse(SECRET).unwrap();
    let clock: Arc<dyn Fn() -> i64 + Send + Sync> = Arc::new(now_unix);
    let requests = |tag: &str| -> Vec<Request<Body>> {
        (0..events)
            .map(|i| signed(event_body(&format!("evt_{tag}_{i}"), &template)))
            .collect()
    };

    // ---- 1. Intake -------------------------------------------------------------------
    eprintln!("intake: {events} deliveries per row, {senders} senders…");
    let plain_app: axum::Router =
        stripe_webhook::router(secrets.clone(), system.clone(), clock.clone(), None);
    // A short warm-up so every row starts with open connections and cached plans.
    closed_loop(
        (0..senders * 10)
            .map(|i| signed(event_body(&format!("evt_warm_{i}"), &template)))
            .collect(),
        senders,
        {
            let app = plain_app.clone();
            move |r| deliver(app.clone(), r)
        },
    )
    .await;
    let intake_off = closed_loop(requests("off"), senders, {
        let app = plain_app.clone();
        move |r| deliver(app.clone(), r)
    })
    .await;
    let intake_http = over_http(
        plain_app.clone(),
        (0..events)
            .map(|i| event_body(&format!("evt_http_{i}"), &template))
            .collect(),
        senders,
    )
    .await;
    let queued_app: axum::Router = stripe_webhook::router(
        secrets.clone(),
        system.clone(),
        clock.clone(),
        Some(event_queue.clone()),
    );
    let intake_queued = closed_loop(requests("queued"), senders, {
        let app = queued_app.clone();
        move |r| deliver(app.clone(), r)
    })
    .await;
    let queued_tasks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM underway.task WHERE task_queue_name = 'stripe_events'",
    )
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert_eq!(queued_tasks as usize, events, "one job per new event");
    // No worker has run yet; these jobs are not part of the lag measurement.
    sqlx::query("DELETE FROM underway.task WHERE task_queue_name = 'stripe_events'")
        .execute(&mut su)
        .await
        .unwrap();

    // Reference: the handler's ledger write alone, as its `record` does it (system path:
    // BEGIN, audit row, `record_event`, COMMIT), envelopes parsed beforehand.
    let rows: Vec<(stripe_webhook::EventEnvelope, Value)> = (0..events)
        .map(|i| {
            let v: Value =
                serde_json::from_slice(&event_body(&format!("evt_sys_{i}"), &template)).unwrap();
            (stripe_webhook::envelope(&v).unwrap(), v)
        })
        .collect();
    let system_only = closed_loop(rows.clone(), senders, {
        let system = system.clone();
        move |(e, payload): (stripe_webhook::EventEnvelope, Value)| {
            let system = system.clone();
            async move {
                let mut tx = system
                    .begin(
                        "stripe-webhook",
                        "record a Stripe event",
                        json!({ "event_id": e.id, "type": e.event_type }),
                    )
                    .await
                    .unwrap();
                let (new, _) = record_event(&mut tx, &e, &payload).await.unwrap();
                assert!(new);
                tx.commit().await.unwrap();
            }
        }
    })
    .await;

    // Reference: a bare INSERT of the same row into a plain copy of the ledger (same
    // columns, key, checks and indexes; no RLS, no function, no audit row), autocommit,
    // as the runtime role on a pool of the web pool's size, same senders.
    sqlx::query("CREATE SCHEMA bench")
        .execute(&mut su)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE bench.plain_events (LIKE enclave.stripe_events INCLUDING ALL)")
        .execute(&mut su)
        .await
        .unwrap();
    sqlx::raw_sql(&format!(
        "GRANT USAGE ON SCHEMA bench TO \"{name}_app\"; GRANT INSERT ON bench.plain_events TO \"{name}_app\""
    ))
    .execute(&mut su)
    .await
    .unwrap();
    let bare_pool = PgPoolOptions::new()
        .max_connections(web_pool_size)
        .connect(&runtime_url)
        .await
        .unwrap();
    let bare_insert = closed_loop(rows, senders, {
        let pool = bare_pool.clone();
        move |(e, payload): (stripe_webhook::EventEnvelope, Value)| {
            let pool = pool.clone();
            async move {
                sqlx::query(
                    "INSERT INTO bench.plain_events (event_id, event_type, api_version, livemode, object_id, customer_id, created_at, payload)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                )
                .bind(&e.id)
                .bind(&e.event_type)
                .bind(&e.api_version)
                .bind(e.livemode)
                .bind(&e.object_id)
                .bind(&e.customer_id)
                .bind(e.created)
                .bind(payload)
                .execute(&pool)
                .await
                .unwrap();
            }
        }
    })
    .await;

    // Reference: what the handler does before the database, on one thread.
    let bodies: Vec<(Vec<u8>, String)> = (0..events)
        .map(|i| {
            let b = event_body(&format!("evt_cpu_{i}"), &template);
            let s = signature(&b);
            (b, s)
        })
        .collect();
    let started = Instant::now();
    for (body, sig) in &bodies {
        stripe_webhook::verify(body, Some(sig), &secrets, now_unix()).unwrap();
        let v: Value = serde_json::from_slice(body).unwrap();
        std::hint::black_box(stripe_webhook::envelope(&v).unwrap());
    }
    let cpu_rate = events as f64 / started.elapsed().as_secs_f64();

    // ---- 2. Processing lag -----------------------------------------------------------
    // The workers' Stripe: the stand-in, or the delaying relay in front of it.
    let worker_stripe = if stripe_delay.is_zero() {
        stripe.clone()
    } else {
        let relay = delaying_relay(standin.port, stripe_delay);
        Arc::new(
            StripeApi::new(
                KEY,
                Some(&format!("http://127.0.0.1:{relay}/")),
                PriceCatalog::parse(PLAN_PRICES).unwrap(),
            )
            .unwrap(),
        )
    };
    // Reference first: the one Stripe call processing makes, alone and one at a time.
    let mut fetch = Vec::new();
    for i in 0..if stripe_delay.is_zero() { 200 } else { 20 } {
        let t = Instant::now();
        let subs = worker_stripe
            .subscriptions_of(&billed[i % orgs].1)
            .await
            .unwrap();
        fetch.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(subs.len(), 1);
    }
    let fetch = sorted(fetch);

    let total = (lag_rate * lag_secs).round() as usize;
    eprintln!(
        "processing lag: {total} deliveries at {lag_rate} events/s over {orgs} customers, {workers} workers…"
    );
    let worker_db = Database::connect(
        &runtime_url,
        enclave_server::jobs::worker_pool_settings(workers),
        enclave_server::config::ContextKeys::development().active,
    )
    .await
    .expect("worker pool");
    let mut runner = JobRunner::new();
    let worker_queue = worker_db
        .jobs()
        .system_queue(StripeEventJob {
            stripe: worker_stripe.clone(),
        })
        .await
        .unwrap();
    runner.run_system(&worker_queue, workers);
    // Warm the workers' connections and the stand-in's client before the clock starts.
    for (i, (_, _, subscription)) in billed.iter().enumerate() {
        deliver(
            queued_app.clone(),
            signed(event_body(&format!("evt_lagwarm_{i}"), subscription)),
        )
        .await;
    }
    wait_for_zero(
        &mut su,
        "SELECT count(*) FROM enclave.stripe_events WHERE event_id LIKE 'evt_lagwarm_%' AND status = 'received'",
        Duration::from_secs(120),
    )
    .await;
    let subscriptions: Arc<Vec<Value>> = Arc::new(billed.iter().map(|b| b.2.clone()).collect());
    let (answered, achieved) = open_loop(total, lag_rate, |i| {
        let app = queued_app.clone();
        let subscriptions = subscriptions.clone();
        async move {
            // Customers in turn; each delivery signed when Stripe would send it.
            let body = event_body(
                &format!("evt_lag_{i}"),
                &subscriptions[i % subscriptions.len()],
            );
            deliver(app, signed(body)).await;
            OffsetDateTime::now_utc()
        }
    })
    .await;
    wait_for_zero(
        &mut su,
        "SELECT count(*) FROM enclave.stripe_events WHERE event_id LIKE 'evt\\_lag\\_%' AND status IN ('received', 'parked')",
        Duration::from_secs(300),
    )
    .await;
    runner.shutdown().await;
    let ledger: Vec<(String, String, OffsetDateTime, Option<OffsetDateTime>)> = sqlx::query_as(
        "SELECT event_id, status, first_received_at, processed_at FROM enclave.stripe_events WHERE event_id LIKE 'evt\\_lag\\_%'",
    )
    .fetch_all(&mut su)
    .await
    .unwrap();
    assert_eq!(ledger.len(), total);
    let answered_at: HashMap<String, OffsetDateTime> = answered
        .into_iter()
        .enumerate()
        .map(|(i, t)| (format!("evt_lag_{i}"), t))
        .collect();
    let (mut lag, mut lag_recorded) = (Vec::new(), Vec::new());
    for (id, status, received, processed) in &ledger {
        assert_eq!(status, "processed", "{id}");
        let processed = processed.expect("processed_at");
        lag.push(millis(processed - answered_at[id]));
        lag_recorded.push(millis(processed - *received));
    }
    let (lag, lag_recorded) = (sorted(lag), sorted(lag_recorded));
    let applied: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM public.org_billing WHERE status = 'active' AND plan_id = 'sme_team'",
    )
    .fetch_one(&mut su)
    .await
    .unwrap();
    assert_eq!(
        applied as usize, orgs,
        "every organization holds Stripe's state"
    );

    // Reference: a no-op tenant job at the same rate and worker count, enqueued in its
    // tenant's transaction on the web pool; done = underway's completed_at (set to the
    // job transaction's start, so this reads slightly low).
    let mut noop_runner = JobRunner::new();
    let noop_workers = worker_db.jobs().tenant_queue(Noop).await.unwrap();
    noop_runner.run_tenant(&noop_workers, workers);
    let contexts: Arc<Vec<TenantContext>> = Arc::new(billed.iter().map(|b| b.0.clone()).collect());
    let ids = Arc::new(std::sync::Mutex::new(vec![Uuid::nil(); total]));
    let (noop_answered, noop_achieved) = open_loop(total, lag_rate, |i| {
        let (db, queue, contexts, ids) = (
            tenant_db.clone(),
            noop_queue.clone(),
            contexts.clone(),
            ids.clone(),
        );
        async move {
            let mut tx = db.begin(&contexts[i % contexts.len()]).await.unwrap();
            let id = queue.enqueue(&mut tx, None, Value::Null).await.unwrap();
            tx.commit().await.unwrap();
            ids.lock().unwrap()[i] = id;
            OffsetDateTime::now_utc()
        }
    })
    .await;
    wait_for_zero(
        &mut su,
        "SELECT count(*) FROM underway.task WHERE task_queue_name = 'noop' AND state <> 'succeeded'",
        Duration::from_secs(300),
    )
    .await;
    noop_runner.shutdown().await;
    let ids = ids.lock().unwrap().clone();
    let done: HashMap<Uuid, OffsetDateTime> = sqlx::query_as::<_, (Uuid, OffsetDateTime)>(
        "SELECT id, completed_at FROM underway.task WHERE id = ANY($1)",
    )
    .bind(&ids)
    .fetch_all(&mut su)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let noop_lag = sorted(
        ids.iter()
            .zip(&noop_answered)
            .map(|(id, at)| millis(done[id] - *at))
            .collect(),
    );

    // ---- Report ----------------------------------------------------------------------
    let row = |what: &str, run: &Run| {
        println!(
            "  {what:<52} {:>9.0} {:>8.2} {:>8.2} {:>8.2}",
            run.rate(),
            pct(&run.millis, 50.0),
            pct(&run.millis, 95.0),
            pct(&run.millis, 100.0)
        )
    };
    println!();
    println!(
        "Stripe webhook intake: {events} deliveries per row, {senders} concurrent senders, in-process (tower oneshot) unless said,"
    );
    println!(
        "  web pool {web_pool_size} connections, payload {payload_bytes} bytes (customer.subscription.updated with a stand-in subscription)"
    );
    println!(
        "  {:<52} {:>9} {:>8} {:>8} {:>8}",
        "", "events/s", "p50 ms", "p95 ms", "max ms"
    );
    row(
        "webhook: verify + ledger + answer (processing off)",
        &intake_off,
    );
    row(
        "  same, over HTTP/1.1 on loopback (keep-alive)",
        &intake_http,
    );
    row(
        "webhook: verify + ledger + enqueue job + answer",
        &intake_queued,
    );
    row("ref: ledger write on the system path only", &system_only);
    row("ref: bare INSERT, plain table, same columns", &bare_insert);
    println!(
        "  {:<52} {:>9.0}",
        "ref: verify + parse only, one thread", cpu_rate
    );
    println!(
        "  target >= 1,000 events/s: {} (processing off), {} (with enqueue)",
        if intake_off.rate() >= 1000.0 {
            "met"
        } else {
            "NOT met"
        },
        if intake_queued.rate() >= 1000.0 {
            "met"
        } else {
            "NOT met"
        },
    );
    println!();
    println!(
        "Processing lag: {total} deliveries at {lag_rate} events/s over {orgs} customers (one subscription each), {workers} workers"
    );
    if !stripe_delay.is_zero() {
        println!(
            "  each Stripe call delayed {} ms by a relay (ENCLAVE_BENCH_STRIPE_DELAY_MS)",
            stripe_delay.as_millis()
        );
    }
    println!(
        "  {:<52} {:>9} {:>8} {:>8} {:>8}",
        "", "achieved/s", "p50 ms", "p95 ms", "max ms"
    );
    let lag_row = |what: &str, rate: Option<f64>, v: &[f64]| {
        let rate = rate.map_or("-".to_string(), |r| format!("{r:.1}"));
        println!(
            "  {what:<52} {rate:>9} {:>8.1} {:>8.1} {:>8.1}",
            pct(v, 50.0),
            pct(v, 95.0),
            pct(v, 100.0)
        )
    };
    lag_row("Stripe event: answered -> processed", Some(achieved), &lag);
    lag_row(
        "  same, from the ledger's first_received_at",
        None,
        &lag_recorded,
    );
    lag_row(
        "ref: no-op tenant job: enqueued -> done",
        Some(noop_achieved),
        &noop_lag,
    );
    lag_row(
        "ref: stand-in GET /v1/subscriptions?customer=, serial",
        None,
        &fetch,
    );
    println!(
        "  target p95 < 2,000 ms: {}",
        if pct(&lag, 95.0) < 2000.0 {
            "met"
        } else {
            "NOT met"
        }
    );
}

/// Never contacted: the reconciliation phase's stand-in holds every event (see
/// `Standin::start_with`), as if Stripe had delivered them all.
const HELD_WEBHOOK_URL: &str = "http://127.0.0.1:9/webhooks/stripe";
/// Organizations per setup statement or transaction.
const SETUP_CHUNK: usize = 250;
/// One subscription in this many has its quantity changed at the stand-in.
const DRIFT_EVERY: usize = 100;

/// Elapsed seconds of `f`, and its result.
async fn timed<T>(f: impl Future<Output = T>) -> (f64, T) {
    let started = Instant::now();
    let out = f.await;
    (started.elapsed().as_secs_f64(), out)
}

/// Phase 3: one `reconcile()` over `orgs` organizations, each with a Stripe customer and a
/// Team subscription at the stand-in, in sync but for one in DRIFT_EVERY, on a scratch
/// database and stand-in of its own. Setup: owners and organizations with SQL on the
/// system path (`enclave.create_user`, `enclave.create_organization`, one statement per
/// SETUP_CHUNK), customers through `StripeApi::create_customer` (metadata org_id),
/// subscriptions with `/_test/subscriptions`, both `concurrency` at a time; then the state
/// Stripe holds is recorded with `enclave.apply_subscription` on the system path (which
/// records `enclave.stripe_customers` and `public.org_billing`) from one
/// `all_subscriptions()`, as processing records it. Events are held at the stand-in, so
/// none counts as undelivered (Stripe delivered them).
async fn reconcile_phase(admin: &str, orgs: usize, concurrency: usize) {
    let (_name, runtime_url, admin_db) = scratch_database(admin).await;
    let mut su = PgConnection::connect(&admin_db).await.unwrap();
    let web = Database::connect(
        &runtime_url,
        PoolSettings::default(),
        enclave_server::config::ContextKeys::development().active,
    )
    .await
    .expect("pool");
    let (_, system) = web.split();
    let standin = Standin::start_with(Some(HELD_WEBHOOK_URL));
    standin.control("/_test/delivery", &json!({ "mode": "hold" }));
    let port = standin.port;
    let stripe = Arc::new(
        StripeApi::new(
            KEY,
            Some(&standin.base()),
            PriceCatalog::parse(PLAN_PRICES).unwrap(),
        )
        .unwrap(),
    );

    eprintln!("reconciliation: setting up {orgs} organizations, {concurrency} at a time…");
    let setup_started = Instant::now();
    // Owners and organizations, SETUP_CHUNK per statement on the system path.
    let chunks: Vec<(usize, usize)> = (0..orgs)
        .step_by(SETUP_CHUNK)
        .map(|from| (from, (from + SETUP_CHUNK).min(orgs)))
        .collect();
    let org_ids = Arc::new(std::sync::Mutex::new(vec![Uuid::nil(); orgs]));
    let setup_orgs = closed_loop(chunks.clone(), concurrency, {
        let (system, org_ids) = (system.clone(), org_ids.clone());
        move |(from, to): (usize, usize)| {
            let (system, org_ids) = (system.clone(), org_ids.clone());
            async move {
                let mut tx = system
                    .begin(
                        "bench",
                        "create benchmark organizations",
                        json!({ "from": from, "to": to }),
                    )
                    .await
                    .unwrap();
                let rows: Vec<(i32, Uuid)> = sqlx::query_as(
                    "SELECT i, enclave.create_organization('sme', 'Recon ' || i, 'recon-' || i,
                               enclave.create_user('owner' || i || '@recon.bench.test', 'Owner ' || i))
                       FROM generate_series($1::int, $2::int - 1) AS i",
                )
                .bind(from as i32)
                .bind(to as i32)
                .fetch_all(tx.conn())
                .await
                .unwrap();
                tx.commit().await.unwrap();
                let mut ids = org_ids.lock().unwrap();
                for (i, org) in rows {
                    ids[i as usize] = org;
                }
            }
        }
    })
    .await;
    let org_ids: Vec<Uuid> = org_ids.lock().unwrap().clone();
    assert!(org_ids.iter().all(|o| !o.is_nil()));

    // A Stripe customer per organization, as /billing creates it (metadata org_id).
    let customers = Arc::new(std::sync::Mutex::new(vec![String::new(); orgs]));
    let setup_customers = closed_loop(
        org_ids.iter().copied().enumerate().collect(),
        concurrency,
        {
            let (stripe, customers) = (stripe.clone(), customers.clone());
            move |(i, org): (usize, Uuid)| {
                let (stripe, customers) = (stripe.clone(), customers.clone());
                async move {
                    let customer = stripe
                        .create_customer(
                            org,
                            &format!("Recon {i}"),
                            Some(&format!("owner{i}@recon.bench.test")),
                        )
                        .await
                        .unwrap();
                    customers.lock().unwrap()[i] = customer;
                }
            }
        },
    )
    .await;
    let customers: Vec<String> = customers.lock().unwrap().clone();

    // One Team subscription each, one seat (the owner is the only member).
    let setup_subscriptions =
        closed_loop(customers.clone(), concurrency, move |customer| async move {
            tokio::task::spawn_blocking(move || {
                control(
                    port,
                    "/_test/subscriptions",
                    &json!({ "customer": customer, "price": "price_sme_team", "quantity": 1 }),
                )
            })
            .await
            .unwrap();
        })
        .await;

    // The database takes Stripe's state as processing writes it (system path).
    let org_of: HashMap<&str, Uuid> = customers
        .iter()
        .map(String::as_str)
        .zip(org_ids.iter().copied())
        .collect();
    let (fetch_secs, fetched) = timed(stripe.all_subscriptions()).await;
    let fetched = fetched.unwrap();
    assert_eq!(fetched.len(), orgs, "one subscription per customer");
    let rows: Vec<(Uuid, FetchedSubscription)> = fetched
        .iter()
        .map(|s| (org_of[s.customer.as_str()], s.clone()))
        .collect();
    let apply_chunks: Vec<Vec<(Uuid, FetchedSubscription)>> =
        rows.chunks(SETUP_CHUNK).map(<[_]>::to_vec).collect();
    let setup_apply = closed_loop(apply_chunks, concurrency, {
        let (system, stripe) = (system.clone(), stripe.clone());
        move |chunk: Vec<(Uuid, FetchedSubscription)>| {
            let (system, stripe) = (system.clone(), stripe.clone());
            async move {
                let mut tx = system
                    .begin("bench", "record benchmark subscriptions", json!({}))
                    .await
                    .unwrap();
                for (org, s) in chunk {
                    let plan = stripe
                        .prices
                        .plan_of(s.price_id.as_deref().unwrap())
                        .unwrap();
                    sqlx::query(
                        "SELECT enclave.apply_subscription($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(org)
                    .bind(plan)
                    .bind(local_status(&s.status))
                    .bind(&s.customer)
                    .bind(&s.id)
                    .bind(s.period_start)
                    .bind(s.period_end)
                    .bind(s.trial_end)
                    .bind(s.cancel_at_period_end)
                    .bind(s.quantity.map(|q| q as i32))
                    .execute(tx.conn())
                    .await
                    .unwrap();
                }
                tx.commit().await.unwrap();
            }
        }
    })
    .await;

    // Drift: seats changed at Stripe behind Enclave's back (no event).
    let drifted: Vec<&FetchedSubscription> = fetched.iter().step_by(DRIFT_EVERY).collect();
    for s in &drifted {
        control(
            port,
            &format!("/_test/subscriptions/{}/drift", s.id),
            &json!({ "quantity": 7 }),
        );
    }
    let setup_secs = setup_started.elapsed().as_secs_f64();
    sqlx::query("ANALYZE").execute(&mut su).await.unwrap();

    // ---- 3. Reconciliation (measured) -------------------------------------------------
    eprintln!("reconciliation: one run over {orgs} organizations…");
    let (reconcile_secs, report) = timed(reconcile(&system, &stripe, Options::default())).await;
    let report = report.expect("reconcile");
    // Again, now in sync: what an hourly run costs when nothing has drifted.
    let (again_secs, again) = timed(reconcile(&system, &stripe, Options::default())).await;
    let again = again.expect("reconcile again");

    // References, same run: Stripe's side alone (the stand-in's pages, as reconcile reads
    // them) and the database's side alone (its one read, and its per-organization seat
    // count, each in a system-path transaction of its own, serial, as reconcile does).
    let (pages_secs, listed) = timed(async {
        let (mut after, mut n, mut pages) = (None::<String>, 0usize, 0usize);
        loop {
            let (page, more) = stripe.customers_page(after.as_deref()).await.unwrap();
            pages += 1;
            n += page.len();
            after = page.last().map(|(id, _)| id.clone());
            if !more || after.is_none() {
                return (n, pages);
            }
        }
    })
    .await;
    let (subs_secs, subs) = timed(stripe.all_subscriptions()).await;
    let subs = subs.unwrap().len();
    let (undelivered_secs, undelivered) = timed(stripe.undelivered_events()).await;
    let undelivered = undelivered.unwrap().len();
    let (states_secs, states) = timed(async {
        let mut tx = system
            .begin("bench", "read billing states", json!({}))
            .await
            .unwrap();
        let rows: Vec<LocalState> = sqlx::query_as("SELECT * FROM enclave.billing_states()")
            .fetch_all(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        rows.len()
    })
    .await;
    let (seats_secs, ()) = timed(async {
        for org in &org_ids {
            let mut tx = system
                .begin("bench", "count billable seats", json!({}))
                .await
                .unwrap();
            let n: i32 = sqlx::query_scalar("SELECT enclave.billable_seats($1)")
                .bind(org)
                .fetch_one(tx.conn())
                .await
                .unwrap();
            assert_eq!(n, 1);
            tx.commit().await.unwrap();
        }
    })
    .await;

    // ---- Report ----------------------------------------------------------------------
    let expected = 2 * drifted.len();
    println!();
    println!(
        "Billing reconciliation: {orgs} organizations, one Stripe customer and one Team subscription each at the stand-in,"
    );
    println!(
        "  {} drifted (quantity 1 -> 7 behind Enclave's back), events held (none undelivered), system pool {} connections",
        drifted.len(),
        PoolSettings::default().max_connections
    );
    println!(
        "  {:<60} {:>9} {:>8} {:>9}",
        "", "seconds", "items", "items/s"
    );
    let line = |what: &str, secs: f64, items: usize| {
        println!(
            "  {what:<60} {secs:>9.2} {items:>8} {:>9.0}",
            items as f64 / secs
        )
    };
    line(
        "setup: owners + organizations (SQL, system path)",
        setup_orgs.secs,
        orgs,
    );
    line(
        &format!("setup: customers, POST /v1/customers, {concurrency} at a time"),
        setup_customers.secs,
        orgs,
    );
    line(
        &format!("setup: subscriptions, /_test/subscriptions, {concurrency} at a time"),
        setup_subscriptions.secs,
        orgs,
    );
    line("setup: all_subscriptions() once", fetch_secs, orgs);
    line(
        "setup: apply_subscription (system path)",
        setup_apply.secs,
        orgs,
    );
    line("setup: total (with drift)", setup_secs, orgs);
    line(
        "reconcile(): customers compared",
        reconcile_secs,
        report.customers,
    );
    println!(
        "    findings {}, repaired {}, need a person {}, events pulled {} (expected {expected} findings, all repaired)",
        report.findings.len(),
        report.repaired(),
        report.needs_person(),
        report.events_pulled
    );
    line(
        "reconcile() again, in sync: customers compared",
        again_secs,
        again.customers,
    );
    println!(
        "    findings {}, repaired {}, need a person {}, events pulled {}",
        again.findings.len(),
        again.repaired(),
        again.needs_person(),
        again.events_pulled
    );
    line(
        &format!("ref: stand-in customers_page loop ({} pages)", listed.1),
        pages_secs,
        listed.0,
    );
    line("ref: stand-in all_subscriptions()", subs_secs, subs);
    line(
        "ref: stand-in undelivered_events()",
        undelivered_secs,
        undelivered,
    );
    line(
        "ref: stand-in total (customers + subscriptions)",
        pages_secs + subs_secs,
        orgs,
    );
    line(
        "ref: SELECT * FROM enclave.billing_states() (system path)",
        states_secs,
        states,
    );
    line(
        "ref: billable_seats, one system-path tx per org, serial",
        seats_secs,
        orgs,
    );
    println!(
        "  target < 60 s for {orgs} organizations: {}",
        if reconcile_secs < 60.0 {
            "met"
        } else {
            "NOT met"
        }
    );
    if report.findings.len() != expected || report.repaired() != expected {
        println!(
            "  NOTE: findings differ from the drift introduced: {}",
            report.summary()
        );
    }
}
