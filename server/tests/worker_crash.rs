//! The worker process dies in the middle of a generation job (SIGKILL): nothing of the
//! half-done job is committed, another worker takes it up once its heartbeat is overdue,
//! and it completes once, without duplicate outputs. A worker asked to stop (SIGTERM)
//! finishes the job it holds first.

mod common;
use common::*;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tenancy::{Database, TenantContext, TenantDb};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use uuid::Uuid;

/// A slow OpenAI-compatible chat completions endpoint: answers each request after
/// `delay`, and counts them.
async fn slow_writer(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let counter = counter.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                loop {
                    let n = socket.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if request.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                let body = serde_json::json!({
                    "choices": [{ "message": { "role": "assistant", "content": "Slow headline\n\nSlow body" } }]
                })
                .to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (url, calls)
}

fn start_worker(s: &Scratch, writer_url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_enclave"))
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &s.runtime_url)
        .env("ENCLAVE_ENV", "development")
        .env("ENCLAVE_GENERATOR", "openai")
        .env("ENCLAVE_GENERATOR_URL", writer_url)
        .env("ENCLAVE_WORKER_CONCURRENCY", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start enclave worker")
}

async fn job_state(t: &TenantDb, ctx: &TenantContext, job: Uuid) -> (String, i32, i64) {
    let mut tx = t.begin(ctx).await.unwrap();
    let row = sqlx::query_as(
        "SELECT j.status, j.attempts,
                (SELECT count(*) FROM public.campaign_outputs_unified o WHERE o.campaign_id = j.subject_id)
           FROM public.jobs_unified j WHERE j.job_id = $1",
    )
    .bind(job)
    .fetch_one(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    row
}

async fn wait_for(what: &str, limit: Duration, mut check: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !check().await {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A campaign with three channels and a queued generation job for it.
async fn queued_generation(t: &TenantDb, ctx: &TenantContext, db: &Database, name: &str) -> Uuid {
    let generator = Arc::new(app::campaigns::generator::Generator::Template);
    let queue = db
        .jobs()
        .tenant_queue(app::campaigns::generate::GenerationJob { generator })
        .await
        .unwrap();
    let mut tx = t.begin(ctx).await.unwrap();
    let campaign: Uuid = tx
        .query_scalar("SELECT enclave.save_campaign(NULL, $1, 'grow', ARRAY['email', 'LinkedIn', 'print'], NULL, NULL, NULL, 'active', NULL)")
        .bind(name)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    let input = app::campaigns::generate::GenerateInput {
        campaign_id: campaign,
        persona_ids: vec![],
    };
    let (job, _): (Uuid, bool) = tx
        .query_as("SELECT * FROM enclave.create_job('generate_outputs', $1, NULL, $2)")
        .bind(campaign)
        .bind(serde_json::to_value(&input).unwrap())
        .fetch_one(tx.conn())
        .await
        .unwrap();
    queue.enqueue(&mut tx, Some(job), input).await.unwrap();
    tx.commit().await.unwrap();
    job
}

// Multi-threaded: the slow writer keeps answering while the test waits for a process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_loses_nothing_and_repeats_nothing() {
    let (s, t, sys) = seeded("worker_crash").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let ctx = context(&t, nora, northwind, None).await;
    let db = Database::connect(&s.runtime_url, Default::default(), common::context_key())
        .await
        .unwrap();
    let (writer, calls) = slow_writer(Duration::from_millis(1500)).await;

    let job = queued_generation(&t, &ctx, &db, "Crash test").await;
    let mut first = start_worker(&s, &writer);
    // Mid-job: the first draft is being written.
    wait_for(
        "the first draft to be requested",
        Duration::from_secs(30),
        async || calls.load(Ordering::SeqCst) >= 1,
    )
    .await;
    assert_eq!(job_state(&t, &ctx, job).await, ("running".into(), 1, 0));
    first.kill().unwrap();
    first.wait().unwrap();
    // Nothing of the cut-off attempt was committed.
    assert_eq!(job_state(&t, &ctx, job).await, ("running".into(), 1, 0));

    let killed_at = Instant::now();
    let mut second = start_worker(&s, &writer);
    wait_for(
        "the job to be finished by the second worker",
        Duration::from_secs(60),
        async || job_state(&t, &ctx, job).await.0 == "done",
    )
    .await;
    println!(
        "job taken up again and finished {:.1} s after the kill ({} requests to the writer)",
        killed_at.elapsed().as_secs_f64(),
        calls.load(Ordering::SeqCst)
    );
    assert_eq!(job_state(&t, &ctx, job).await, ("done".into(), 2, 3));
    let mut admin = s.admin().await;
    let (tasks, succeeded, keys): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM underway.task WHERE task_queue_name = 'generate_outputs'),
                (SELECT count(*) FROM underway.task WHERE task_queue_name = 'generate_outputs' AND state = 'succeeded'),
                (SELECT count(DISTINCT generation_key) FROM public.campaign_outputs WHERE generation_key IS NOT NULL)",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!((tasks, succeeded, keys), (1, 1, 3));

    // Asked to stop (SIGTERM) mid-job, a worker finishes the job before it exits.
    let before = calls.load(Ordering::SeqCst);
    let graceful = queued_generation(&t, &ctx, &db, "Stop test").await;
    wait_for(
        "the next job to start",
        Duration::from_secs(30),
        async || calls.load(Ordering::SeqCst) > before,
    )
    .await;
    let term = Command::new("kill")
        .args(["-TERM", &second.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let status = tokio::task::spawn_blocking(move || second.wait().unwrap())
        .await
        .unwrap();
    assert!(status.success(), "worker exit status {status}");
    assert_eq!(job_state(&t, &ctx, graceful).await, ("done".into(), 1, 3));
}
