//! Benchmark (not a test): no-op tenant jobs through the real worker path across 100
//! tenants, next to the raw `FOR UPDATE SKIP LOCKED` dequeue + commit rate of a plain
//! table, measured in the same run on the same database. Run with `scripts/bench-jobs`.
//!
//! The job path per job: underway's dequeue transaction (SKIP LOCKED, attempt row), the
//! job transaction (advisory lock, savepoint, `enclave.enter_context` from the stamp, the
//! no-op, succeeded marks), plus the tenant stamp trigger and RLS on underway.task.
//! The raw path per job: BEGIN; SELECT ... FOR UPDATE SKIP LOCKED; UPDATE; COMMIT.

mod common;
use common::url_for;

use enclave_server::config::Environment;
use enclave_server::jobs::Noop;
use enclave_server::ops::migrate;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};
use std::time::Instant;
use tenancy::{CancellationToken, Database, PoolSettings, SessionClaim};
use uuid::Uuid;

const TENANTS: usize = 100;

/// underway alone: the same queue and dequeue, but no tenancy adapter (no stamp check,
/// no context), to tell underway's cost from ours.
struct BareNoop;

impl underway::Task for BareNoop {
    type Input = serde_json::Value;
    type Output = ();
    async fn execute(
        &self,
        tx: sqlx::Transaction<'_, sqlx::Postgres>,
        _: serde_json::Value,
    ) -> underway::task::Result<()> {
        tx.commit().await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() {
    let admin = std::env::var("ENCLAVE_TEST_ADMIN_URL")
        .expect("set ENCLAVE_TEST_ADMIN_URL to a superuser URL (scripts/bench-jobs does)");
    let jobs: usize = std::env::var("ENCLAVE_BENCH_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let concurrency: usize = std::env::var("ENCLAVE_BENCH_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let name = format!("bench_jobs_{}", &Uuid::new_v4().simple().to_string()[..8]);
    let owner_url = url_for(&admin, &format!("{name}_owner"), &name);
    let runtime_url = url_for(&admin, &format!("{name}_app"), &name);
    migrate::migrate(
        &runtime_url,
        &owner_url,
        Some(&admin),
        Environment::Development,
        &enclave_server::config::ContextKeys::development().all,
    )
    .await
    .expect("migrate");
    let db = Database::connect(
        &runtime_url,
        PoolSettings {
            max_connections: (concurrency * 3 + 4) as u32,
            ..Default::default()
        },
        enclave_server::config::ContextKeys::development().active,
    )
    .await
    .expect("pool");
    let queue = db.jobs().tenant_queue(Noop).await.expect("queue");
    let bare_pool = PgPoolOptions::new()
        .max_connections((concurrency * 3 + 4) as u32)
        .connect(&runtime_url)
        .await
        .expect("pool");
    let (tenant_db, system) = Database::connect(
        &runtime_url,
        PoolSettings::default(),
        enclave_server::config::ContextKeys::development().active,
    )
    .await
    .expect("pool")
    .split();

    // 100 SME tenants, each with its owner.
    let mut tenants = Vec::new();
    let mut tx = system
        .begin("bench", "create benchmark tenants", serde_json::json!({}))
        .await
        .unwrap();
    for i in 0..TENANTS {
        let owner: Uuid = sqlx::query_scalar("SELECT enclave.create_user($1, $2)")
            .bind(format!("owner{i}@bench.test"))
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
        tenants.push((org, owner));
    }
    tx.commit().await.unwrap();

    // Each tenant's verified context, as a request would hold it.
    let mut contexts = Vec::new();
    for (org, owner) in &tenants {
        let ctx = tenant_db
            .resolve(SessionClaim {
                user_id: *owner,
                org_id: *org,
                workspace_id: None,
            })
            .await
            .unwrap();
        contexts.push(ctx);
    }

    // Enqueue round-robin over the tenants, each inside its tenant's transaction.
    let started = Instant::now();
    for (i, ctx) in contexts.iter().enumerate() {
        let mut tx = tenant_db.begin(ctx).await.unwrap();
        for _ in (i..jobs).step_by(TENANTS) {
            queue
                .enqueue(&mut tx, None, serde_json::Value::Null)
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let enqueue_secs = started.elapsed().as_secs_f64();

    // Drain with `concurrency` workers, each taking jobs one after the other.
    let started = Instant::now();
    let mut drains = Vec::new();
    for _ in 0..concurrency {
        let worker = queue.worker(1, CancellationToken::new());
        drains.push(tokio::spawn(async move {
            let mut done = 0usize;
            while worker.process_next_task().await.unwrap().is_some() {
                done += 1;
            }
            done
        }));
    }
    let mut ran = 0;
    for d in drains {
        ran += d.await.unwrap();
    }
    let job_secs = started.elapsed().as_secs_f64();
    assert_eq!(ran, jobs, "every job ran once");

    // underway alone, same number of jobs (enqueued in the tenants' transactions, as the
    // queue requires a stamp), same workers.
    let bare = std::sync::Arc::new(
        underway::Queue::builder()
            .name("noop")
            .pool(bare_pool.clone())
            .build()
            .await
            .expect("queue"),
    );
    for (i, ctx) in contexts.iter().enumerate() {
        let mut tx = tenant_db.begin(ctx).await.unwrap();
        for _ in (i..jobs).step_by(TENANTS) {
            bare.enqueue(tx.conn(), &BareNoop, &serde_json::json!({}))
                .await
                .unwrap();
        }
        tx.commit().await.unwrap();
    }
    let started = Instant::now();
    let mut drains = Vec::new();
    for _ in 0..concurrency {
        let worker = underway::Worker::new(bare.clone(), BareNoop);
        drains.push(tokio::spawn(async move {
            let mut done = 0usize;
            while worker.process_next_task().await.unwrap().is_some() {
                done += 1;
            }
            done
        }));
    }
    let mut ran_bare = 0;
    for d in drains {
        ran_bare += d.await.unwrap();
    }
    let bare_secs = started.elapsed().as_secs_f64();
    assert_eq!(ran_bare, jobs);

    // The raw rate on a plain table of the same size, same concurrency.
    let admin_db = url_for(&admin, url::Url::parse(&admin).unwrap().username(), &name);
    let mut conn = PgConnection::connect(&admin_db).await.unwrap();
    sqlx::query("CREATE TABLE bench_raw_queue (id bigserial PRIMARY KEY, payload jsonb NOT NULL, done boolean NOT NULL DEFAULT false)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("CREATE INDEX bench_raw_queue_waiting ON bench_raw_queue (id) WHERE NOT done")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO bench_raw_queue (payload) SELECT '{}' FROM generate_series(1, $1)")
        .bind(jobs as i32)
        .execute(&mut conn)
        .await
        .unwrap();
    let raw_pool = PgPoolOptions::new()
        .max_connections(concurrency as u32)
        .connect(&admin_db)
        .await
        .unwrap();
    let started = Instant::now();
    let mut drains = Vec::new();
    for _ in 0..concurrency {
        let pool = raw_pool.clone();
        drains.push(tokio::spawn(async move {
            let mut done = 0usize;
            loop {
                let mut tx = pool.begin().await.unwrap();
                let id: Option<i64> = sqlx::query_scalar(
                    "SELECT id FROM bench_raw_queue WHERE NOT done ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED",
                )
                .fetch_optional(&mut *tx)
                .await
                .unwrap();
                let Some(id) = id else { break };
                sqlx::query("UPDATE bench_raw_queue SET done = true WHERE id = $1")
                    .bind(id)
                    .execute(&mut *tx)
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                done += 1;
            }
            done
        }));
    }
    let mut raw = 0;
    for d in drains {
        raw += d.await.unwrap();
    }
    let raw_secs = started.elapsed().as_secs_f64();
    assert_eq!(raw, jobs);

    let job_rate = jobs as f64 / job_secs;
    let raw_rate = jobs as f64 / raw_secs;
    println!(
        "jobs: {jobs} no-op tenant jobs over {TENANTS} tenants, {concurrency} concurrent workers"
    );
    println!(
        "enqueue (in tenant transactions):   {:>8.0} jobs/s",
        jobs as f64 / enqueue_secs
    );
    println!("tenant job path (dequeue + run):    {job_rate:>8.0} jobs/s");
    println!(
        "underway alone, no tenancy adapter: {:>8.0} jobs/s",
        jobs as f64 / bare_secs
    );
    println!("raw SKIP LOCKED dequeue + commit:   {raw_rate:>8.0} jobs/s");
    println!(
        "ratio job path / raw:               {:>8.2}",
        job_rate / raw_rate
    );
}
