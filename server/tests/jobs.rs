//! The job queue keeps the tenant boundary: a job is enqueued only with its transaction,
//! stamped by the database with the enqueuing context, run only inside that context,
//! and never with the previous job's.

mod common;
use common::*;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Postgres, Transaction};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tenancy::{
    CancellationToken, Database, JobFailure, JobKind, JobTx, TenantJob, TenantPath, TenantQueue,
};
use uuid::Uuid;

/// What a probe job saw inside its transaction.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    backend: i32,
    org_setting: Option<String>,
    guideline_orgs: Vec<Uuid>,
}

async fn look(conn: &mut sqlx::PgConnection) -> Seen {
    let (backend, org_setting): (i32, Option<String>) = sqlx::query_as(
        "SELECT pg_backend_pid(), NULLIF(current_setting('enclave.org_id', true), '')",
    )
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    let guideline_orgs = sqlx::query_scalar(
        "SELECT DISTINCT org_id FROM public.brand_guidelines_unified ORDER BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    Seen {
        backend,
        org_setting,
        guideline_orgs,
    }
}

/// A tenant job that records what it can see.
#[derive(Clone, Default)]
struct Probe {
    seen: Arc<Mutex<Vec<Seen>>>,
    runs: Arc<AtomicUsize>,
}

impl JobKind for Probe {
    const QUEUE: &'static str = "noop";
    type Path = TenantPath;
    type Input = String;
}

impl TenantJob for Probe {
    async fn run(
        &self,
        tx: &mut JobTx<'_>,
        input: String,
    ) -> Result<serde_json::Value, JobFailure> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let seen = look(tx.conn()).await;
        self.seen.lock().unwrap().push(seen);
        match input.as_str() {
            "fail" => Err(JobFailure::Retry("the provider did not answer".into())),
            "stop" => Err(JobFailure::Stop("the campaign is gone".into())),
            _ => Ok(serde_json::json!({ "said": input })),
        }
    }
}

async fn tasks(s: &Scratch) -> Vec<(String, serde_json::Value, String)> {
    let mut admin = s.admin().await;
    sqlx::query_as(
        "SELECT task_queue_name, input, state::text FROM underway.task ORDER BY created_at, id",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap()
}

#[tokio::test]
async fn a_job_is_enqueued_with_its_transaction_and_stamped_by_the_database() {
    let (s, t, sys) = seeded("jobs_enqueue").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    let acme = workspace_id(&sys, brightside, ada, "acme-outdoors").await;
    let db = Database::connect(&s.runtime_url, Default::default(), common::context_key())
        .await
        .unwrap();
    let queue: TenantQueue<Probe> = db.jobs().tenant_queue(Probe::default()).await.unwrap();
    let sme = context(&t, nora, northwind, None).await;
    let client = context(&t, ada, brightside, Some(acme)).await;

    // Rolled back: the job goes with the transaction.
    let mut tx = t.begin(&sme).await.unwrap();
    queue.enqueue(&mut tx, None, "first".into()).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(
        tasks(&s).await.is_empty(),
        "a rolled-back enqueue left a job"
    );

    // Committed: exactly one job, stamped with the enqueuing context.
    let mut tx = t.begin(&sme).await.unwrap();
    queue.enqueue(&mut tx, None, "second".into()).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = t.begin(&client).await.unwrap();
    queue.enqueue(&mut tx, None, "third".into()).await.unwrap();
    tx.commit().await.unwrap();
    let stored = tasks(&s).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(
        stored[0].1["tenant"],
        serde_json::json!({ "org": northwind, "workspace": null, "user": nora })
    );
    assert_eq!(
        stored[1].1["tenant"],
        serde_json::json!({ "org": brightside, "workspace": acme, "user": ada })
    );

    // A forged stamp in the input is overwritten with the real context.
    let mut tx = t.begin(&sme).await.unwrap();
    sqlx::query(
        "INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', $1)",
    )
    .bind(serde_json::json!({ "tenant": { "org": brightside, "workspace": acme, "user": ada }, "input": "forged" }))
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let forged = tasks(&s).await.pop().unwrap();
    assert_eq!(forged.1["input"], "forged");
    assert_eq!(forged.1["tenant"]["org"], serde_json::json!(northwind));

    // Without a context, and on the system path, a tenant job is refused.
    let mut bare = s.runtime().await;
    let refused = sqlx::query(
        "INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{\"input\": \"x\"}')",
    )
    .execute(&mut bare)
    .await
    .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("only be enqueued inside a tenant context"),
        "{refused}"
    );
    // An unregistered queue is refused, whoever asks.
    let mut tx = t.begin(&sme).await.unwrap();
    let unregistered = sqlx::query(
        "INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'whatever', '{}')",
    )
    .execute(tx.conn())
    .await
    .unwrap_err();
    assert!(
        unregistered.to_string().contains("not registered"),
        "{unregistered}"
    );
    drop(tx);

    // Inside a tenant context only that tenant's tasks are visible; a system job cannot
    // be enqueued from there.
    let mut tx = t.begin(&client).await.unwrap();
    let visible: Vec<serde_json::Value> = sqlx::query_scalar("SELECT input FROM underway.task")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    assert_eq!(visible.len(), 1);
    assert_eq!(visible[0]["input"], "third");
    let system = sqlx::query(
        "INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'session_sweep', '{}')",
    )
    .execute(tx.conn())
    .await
    .unwrap_err();
    assert!(system.to_string().contains("system job"), "{system}");
}

#[tokio::test]
async fn two_tenants_jobs_back_to_back_on_one_connection_each_see_only_their_own() {
    let (s, t, sys) = seeded("jobs_one_conn").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    let acme = workspace_id(&sys, brightside, ada, "acme-outdoors").await;
    let sme = context(&t, nora, northwind, None).await;
    let client = context(&t, ada, brightside, Some(acme)).await;

    // One connection for everything the worker does: dequeue, the jobs, bookkeeping.
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&s.runtime_url)
        .await
        .unwrap();
    let db = Database::from_pool(pool.clone(), common::context_key());
    let probe = Probe::default();
    let queue = db.jobs().tenant_queue(probe.clone()).await.unwrap();
    for (ctx, word) in [(&sme, "northwind"), (&client, "acme")] {
        let mut tx = t.begin(ctx).await.unwrap();
        queue.enqueue(&mut tx, None, word.into()).await.unwrap();
        tx.commit().await.unwrap();
    }
    let worker = queue.worker(1, CancellationToken::new());
    assert!(worker.process_next_task().await.unwrap().is_some());
    assert!(worker.process_next_task().await.unwrap().is_some());
    assert!(worker.process_next_task().await.unwrap().is_none());

    let seen = probe.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    assert_eq!(
        seen[0].backend, seen[1].backend,
        "both jobs ran on the one connection"
    );
    assert_eq!(seen[0].org_setting, Some(northwind.to_string()));
    assert_eq!(seen[0].guideline_orgs, vec![northwind]);
    assert_eq!(seen[1].org_setting, Some(brightside.to_string()));
    assert_eq!(seen[1].guideline_orgs, vec![brightside]);
    // The client job saw exactly its client's guidelines, not the other client's.
    let mut conn = pool.acquire().await.unwrap();
    let after = look(&mut conn).await;
    assert_eq!(after.backend, seen[0].backend);
    assert_eq!(after.org_setting, None, "context left on the connection");
    assert!(
        after.guideline_orgs.is_empty(),
        "rows visible after the jobs"
    );
    drop(conn);
    let states: Vec<String> = tasks(&s).await.into_iter().map(|t| t.2).collect();
    assert_eq!(states, vec!["succeeded", "succeeded"]);
}

/// underway's own transaction, before any context is entered, sees no tenant rows.
struct BareProbe {
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl underway::Task for BareProbe {
    type Input = serde_json::Value;
    type Output = ();
    async fn execute(
        &self,
        mut tx: Transaction<'_, Postgres>,
        _: serde_json::Value,
    ) -> underway::task::Result<()> {
        let seen = look(&mut tx).await;
        self.seen.lock().unwrap().push(seen);
        Ok(())
    }
}

#[tokio::test]
async fn a_job_without_its_tenant_context_sees_nothing_and_is_refused() {
    let (s, t, sys) = seeded("jobs_no_ctx").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let sme = context(&t, nora, northwind, None).await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&s.runtime_url)
        .await
        .unwrap();

    // Job code that skips the tenancy adapter reads tenant tables with no context: 0 rows.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let raw = Arc::new(
        underway::Queue::builder()
            .name("noop")
            .pool(pool.clone())
            .build()
            .await
            .unwrap(),
    );
    let mut tx = t.begin(&sme).await.unwrap();
    raw.enqueue(
        tx.conn(),
        &BareProbe { seen: seen.clone() },
        &serde_json::json!({ "input": "bare" }),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let worker = underway::Worker::new(raw, BareProbe { seen: seen.clone() });
    assert!(worker.process_next_task().await.unwrap().is_some());
    let bare = seen.lock().unwrap().pop().unwrap();
    assert_eq!(bare.org_setting, None);
    assert!(
        bare.guideline_orgs.is_empty(),
        "a job without context read tenant rows"
    );

    // A tenant task that lost its stamp (written past the database's trigger by a
    // superuser) is refused before any job code runs.
    let mut admin = s.admin().await;
    sqlx::query("SET session_replication_role = replica")
        .execute(&mut admin)
        .await
        .unwrap();
    let stampless: Uuid = sqlx::query_scalar(
        "INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'noop', '{\"input\": \"no stamp\"}') RETURNING id",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    let probe = Probe::default();
    let db = Database::from_pool(pool.clone(), common::context_key());
    let queue = db.jobs().tenant_queue(probe.clone()).await.unwrap();
    let worker = queue.worker(1, CancellationToken::new());
    assert!(worker.process_next_task().await.unwrap().is_some());
    assert_eq!(
        probe.runs.load(Ordering::SeqCst),
        0,
        "job code ran without a tenant"
    );
    let mut admin = s.admin().await;
    let (queue_name, state): (String, String) =
        sqlx::query_as("SELECT task_queue_name, state::text FROM underway.task WHERE id = $1")
            .bind(stampless)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    // Failed at once (no retries for a refusal) and dead-lettered.
    assert_eq!(
        (queue_name.as_str(), state.as_str()),
        ("noop.dead", "failed")
    );

    // A queue registered for the other path cannot be worked as a tenant queue.
    #[derive(Clone)]
    struct Misfiled;
    impl JobKind for Misfiled {
        const QUEUE: &'static str = "session_sweep";
        type Path = TenantPath;
        type Input = ();
    }
    impl TenantJob for Misfiled {
        async fn run(&self, _: &mut JobTx<'_>, _: ()) -> Result<serde_json::Value, JobFailure> {
            Ok(serde_json::Value::Null)
        }
    }
    let err = match db.jobs().tenant_queue(Misfiled).await {
        Ok(_) => panic!("a system queue was accepted as a tenant queue"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("registered for the system path"), "{err}");
}

/// Status a person sees, as the job's own tenant reads it.
async fn job_row(
    t: &tenancy::TenantDb,
    ctx: &tenancy::TenantContext,
    job: Uuid,
) -> (String, i16, i32, Option<String>) {
    let mut tx = t.begin(ctx).await.unwrap();
    let row = sqlx::query_as(
        "SELECT status, progress, attempts, error FROM public.jobs_unified WHERE job_id = $1",
    )
    .bind(job)
    .fetch_one(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    row
}

async fn create_job(
    t: &tenancy::TenantDb,
    ctx: &tenancy::TenantContext,
    queue: &TenantQueue<Probe>,
    subject: Uuid,
    input: &str,
) -> Uuid {
    let mut tx = t.begin(ctx).await.unwrap();
    let (job, created): (Uuid, bool) =
        sqlx::query_as("SELECT * FROM enclave.create_job('generate_outputs', $1, NULL, '{}')")
            .bind(subject)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    assert!(created);
    // Pressing again while it waits gives the same job and enqueues nothing.
    let (again, created_again): (Uuid, bool) =
        sqlx::query_as("SELECT * FROM enclave.create_job('generate_outputs', $1, NULL, '{}')")
            .bind(subject)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    assert_eq!((again, created_again), (job, false));
    queue
        .enqueue(&mut tx, Some(job), input.into())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    job
}

/// The tenant's own Retry: the failed job back to queued, and its new task, in one
/// transaction.
async fn tenant_retry(
    t: &tenancy::TenantDb,
    ctx: &tenancy::TenantContext,
    queue: &TenantQueue<Probe>,
    job: Uuid,
    input: &str,
) {
    let mut tx = t.begin(ctx).await.unwrap();
    sqlx::query("SELECT enclave.set_job_status($1, 'queued', NULL, NULL)")
        .bind(job)
        .execute(tx.conn())
        .await
        .unwrap();
    queue
        .enqueue(&mut tx, Some(job), input.into())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn tracked_jobs_report_status_retry_with_backoff_and_dead_letter() {
    let (s, t, sys) = seeded("jobs_tracked").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let sme = context(&t, nora, northwind, None).await;
    let db = Database::connect(&s.runtime_url, Default::default(), common::context_key())
        .await
        .unwrap();
    let probe = Probe::default();
    let queue = db.jobs().tenant_queue(probe.clone()).await.unwrap();
    let worker = queue.worker(1, CancellationToken::new());

    let ok = create_job(&t, &sme, &queue, Uuid::new_v4(), "fine").await;
    assert_eq!(job_row(&t, &sme, ok).await, ("queued".into(), 0, 0, None));
    assert!(worker.process_next_task().await.unwrap().is_some());
    assert_eq!(job_row(&t, &sme, ok).await, ("done".into(), 100, 1, None));

    // Fails every time: retried after a growing delay, then failed for good with the
    // reason, and the task moves to the dead-letter queue.
    let flaky = create_job(&t, &sme, &queue, Uuid::new_v4(), "fail").await;
    assert!(worker.process_next_task().await.unwrap().is_some());
    let (status, _, attempts, error) = job_row(&t, &sme, flaky).await;
    assert_eq!((status.as_str(), attempts), ("retrying", 1));
    assert_eq!(error.as_deref(), Some("the provider did not answer"));
    // Not due yet (first retry waits a second).
    assert!(worker.process_next_task().await.unwrap().is_none());
    for attempt in 2..=Probe::MAX_ATTEMPTS {
        let mut ran = None;
        for _ in 0..100 {
            ran = worker.process_next_task().await.unwrap();
            if ran.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(ran.is_some(), "attempt {attempt} was never due");
    }
    let (status, _, attempts, error) = job_row(&t, &sme, flaky).await;
    assert_eq!((status.as_str(), attempts), ("failed", Probe::MAX_ATTEMPTS));
    assert_eq!(error.as_deref(), Some("the provider did not answer"));
    let mut admin = s.admin().await;
    let dead: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM underway.task WHERE task_queue_name = 'noop.dead' AND state = 'failed'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(dead, 1);
    // Platform operators see it across tenants, on the audited system path.
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_enclave"))
        .arg("dead-jobs")
        .env("DATABASE_URL", &s.runtime_url)
        .env("ENCLAVE_ENV", "development")
        .output()
        .unwrap();
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("noop.dead")
            && listed.contains("Northwind Coffee")
            && listed.contains("the provider did not answer"),
        "{listed}"
    );
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM enclave.audit_log WHERE path = 'system' AND actor = 'dead-jobs'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(audited, 1);

    // A failure that another attempt cannot fix stops at once.
    let stop = create_job(&t, &sme, &queue, Uuid::new_v4(), "stop").await;
    assert!(worker.process_next_task().await.unwrap().is_some());
    let (status, _, attempts, error) = job_row(&t, &sme, stop).await;
    assert_eq!((status.as_str(), attempts), ("failed", 1));
    assert_eq!(error.as_deref(), Some("the campaign is gone"));

    // Retry: the failed job is queued again (in the same transaction as its new task)
    // and runs once more.
    tenant_retry(&t, &sme, &queue, stop, "fine").await;
    assert!(worker.process_next_task().await.unwrap().is_some());
    assert_eq!(job_row(&t, &sme, stop).await, ("done".into(), 100, 1, None));

    // Nobody else sees these jobs.
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    let acme = workspace_id(&sys, brightside, ada, "acme-outdoors").await;
    let other = context(&t, ada, brightside, Some(acme)).await;
    let mut tx = t.begin(&other).await.unwrap();
    let theirs: i64 = sqlx::query_scalar("SELECT count(*) FROM public.jobs_unified")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(theirs, 0);
    let moved = sqlx::query("SELECT enclave.set_job_status($1, 'queued', NULL, NULL)")
        .bind(flaky)
        .execute(tx.conn())
        .await;
    assert!(moved.is_err(), "another tenant's job was moved");
}

#[tokio::test]
async fn a_large_import_runs_as_a_job_in_one_transaction() {
    let (s, t, sys) = seeded("jobs_import").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let sme = context(&t, nora, northwind, None).await;
    let db = Database::connect(&s.runtime_url, Default::default(), common::context_key())
        .await
        .unwrap();
    let queue = db
        .jobs()
        .tenant_queue(app::imports::ImportJob)
        .await
        .unwrap();
    let worker = queue.worker(1, CancellationToken::new());

    // 1,500 personas, one repeated (skipped), one formula neutralised.
    let mut csv = String::from("Name,Job Title\n");
    for i in 0..1_500 {
        csv.push_str(&format!("Person {i},Buyer\n"));
    }
    csv.push_str("Person 7,Again\n=cmd|' /C calc'!A0,Formula\n");
    let mut tx = t.begin(&sme).await.unwrap();
    let batch: Uuid =
        sqlx::query_scalar("SELECT enclave.save_import_batch('personas', 'big.csv', $1, 1502)")
            .bind(&csv)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    let input = app::imports::ImportInput {
        batch_id: batch,
        choice: Default::default(),
    };
    let (job, _): (Uuid, bool) =
        sqlx::query_as("SELECT * FROM enclave.create_job('import_csv', $1, NULL, $2)")
            .bind(batch)
            .bind(serde_json::to_value(&input).unwrap())
            .fetch_one(tx.conn())
            .await
            .unwrap();
    queue
        .enqueue(&mut tx, Some(job), input.clone())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    assert!(worker.process_next_task().await.unwrap().is_some());
    let mut tx = t.begin(&sme).await.unwrap();
    let (status, result): (String, serde_json::Value) =
        sqlx::query_as("SELECT status, result FROM public.jobs_unified WHERE job_id = $1")
            .bind(job)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    assert_eq!(status, "done");
    assert_eq!(
        result,
        serde_json::json!({ "imported": 1501, "skipped": 1 })
    );
    let (personas, batch_status): (i64, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM public.personas_unified WHERE role_title IN ('Buyer', 'Formula')),
                (SELECT status FROM public.import_batches_unified WHERE batch_id = $1)",
    )
    .bind(batch)
    .fetch_one(tx.conn())
    .await
    .unwrap();
    assert_eq!((personas, batch_status.as_str()), (1501, "imported"));
    let formula: String =
        sqlx::query_scalar("SELECT name FROM public.personas_unified WHERE role_title = 'Formula'")
            .fetch_one(tx.conn())
            .await
            .unwrap();
    assert!(formula.starts_with('\''), "formula kept as text: {formula}");
    tx.commit().await.unwrap();

    // Run again (a retry after a lost acknowledgement): the batch is imported already,
    // so nothing is written twice.
    let mut tx = t.begin(&sme).await.unwrap();
    let (again, created): (Uuid, bool) =
        sqlx::query_as("SELECT * FROM enclave.create_job('import_csv', $1, NULL, $2)")
            .bind(batch)
            .bind(serde_json::to_value(&input).unwrap())
            .fetch_one(tx.conn())
            .await
            .unwrap();
    assert!(created);
    queue.enqueue(&mut tx, Some(again), input).await.unwrap();
    tx.commit().await.unwrap();
    assert!(worker.process_next_task().await.unwrap().is_some());
    let mut tx = t.begin(&sme).await.unwrap();
    let (status, error, personas): (String, Option<String>, i64) = sqlx::query_as(
        "SELECT status, error, (SELECT count(*) FROM public.personas_unified WHERE role_title IN ('Buyer', 'Formula'))
           FROM public.jobs_unified WHERE job_id = $1",
    )
    .bind(again)
    .fetch_one(tx.conn())
    .await
    .unwrap();
    assert_eq!(status, "failed");
    assert!(error.unwrap_or_default().contains("already been imported"));
    assert_eq!(personas, 1501);
}

#[tokio::test]
async fn the_session_sweep_is_a_scheduled_system_job_and_audited() {
    let (s, _t, _sys) = seeded("jobs_sweep").await;
    let mut admin = s.admin().await;
    sqlx::query(
        "INSERT INTO tower_sessions.session (id, data, expiry_date) VALUES
            ('expired', '\\x00', now() - interval '1 minute'),
            ('current', '\\x00', now() + interval '1 hour')",
    )
    .execute(&mut admin)
    .await
    .unwrap();
    let db = Database::connect(&s.runtime_url, Default::default(), common::context_key())
        .await
        .unwrap();
    let queue = db
        .jobs()
        .system_queue(enclave_server::jobs::SessionSweep)
        .await
        .unwrap();
    // The schedule is stored for underway's scheduler; enqueue one run directly here.
    queue
        .schedule("0 * * * * * *", serde_json::json!({}))
        .await
        .unwrap();
    queue.enqueue(serde_json::json!({})).await.unwrap();
    let worker = queue.worker(1, CancellationToken::new());
    assert!(worker.process_next_task().await.unwrap().is_some());
    let left: Vec<String> = sqlx::query_scalar("SELECT id FROM tower_sessions.session ORDER BY id")
        .fetch_all(&mut admin)
        .await
        .unwrap();
    assert_eq!(left, vec!["current".to_string()]);
    let (audited, schedules): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM enclave.audit_log WHERE path = 'system' AND actor = 'job:session_sweep'),
                (SELECT count(*) FROM underway.task_schedule WHERE task_queue_name = 'session_sweep')",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!((audited, schedules), (1, 1));

    // Finished tasks past their time to live are removed on the system path; a running
    // one and a recent one stay.
    for (state, age) in [
        ("succeeded", "15 days"),
        ("in_progress", "15 days"),
        ("succeeded", "1 day"),
    ] {
        sqlx::query(
            "INSERT INTO underway.task (id, task_queue_name, input, state, created_at)
             VALUES (gen_random_uuid(), 'session_sweep', '{}', $1::underway.task_state, now() - $2::interval)",
        )
        .bind(state)
        .bind(age)
        .execute(&mut admin)
        .await
        .unwrap();
    }
    let cleanup = db
        .jobs()
        .system_queue(enclave_server::jobs::TaskCleanup)
        .await
        .unwrap();
    cleanup.enqueue(serde_json::json!({})).await.unwrap();
    let worker = cleanup.worker(1, CancellationToken::new());
    assert!(worker.process_next_task().await.unwrap().is_some());
    let kept: Vec<(String, bool)> = sqlx::query_as(
        "SELECT state::text, created_at > now() - interval '2 days' FROM underway.task
          WHERE task_queue_name = 'session_sweep' ORDER BY 1, 2",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        kept,
        vec![
            ("in_progress".to_string(), false),
            ("succeeded".to_string(), true),
            ("succeeded".to_string(), true),
        ]
    );
}

/// The failed task of `job` as the queue keeps it, read as the superuser.
async fn task_of(s: &Scratch, job: Uuid) -> Vec<(Uuid, String, String, serde_json::Value)> {
    sqlx::query_as(
        "SELECT id, task_queue_name, state::text, input FROM underway.task
          WHERE input ->> 'job' = $1::text ORDER BY created_at, id",
    )
    .bind(job)
    .fetch_all(&mut s.admin().await)
    .await
    .unwrap()
}

/// `enclave.admin_retry_task` as the console's Retry runs it: on an admin transaction.
async fn admin_retry(
    db: &Database,
    admin: Uuid,
    queue: &str,
    task: Uuid,
) -> Result<Uuid, tenancy::TenantError> {
    use tenancy::Statements;
    let mut tx = db
        .admin()
        .begin(
            tenancy::AdminClaim {
                user_id: admin,
                signed_in_at: time::OffsetDateTime::now_utc(),
            },
            tenancy::AdminAction::change("retry job", None, serde_json::json!({ "task": task })),
        )
        .await?;
    let queued = tx
        .query_scalar("SELECT enclave.admin_retry_task($1, $2)")
        .bind(queue)
        .bind(task)
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(queued)
}

#[tokio::test]
async fn an_admin_retry_queues_a_dead_job_again_in_its_own_tenant_once() {
    use tenancy::Statements;
    let (s, t, sys) = seeded("jobs_admin_retry").await;
    let db = Database::connect(&s.runtime_url, Default::default(), common::context_key())
        .await
        .unwrap();
    let probe = Probe::default();
    let queue = db.jobs().tenant_queue(probe.clone()).await.unwrap();
    let worker = queue.worker(1, CancellationToken::new());
    let admin = user(&t, "https://idp.test", "ops", "ops@platform.example").await;
    let mut tx = sys
        .begin("test", "grant", serde_json::json!({}))
        .await
        .unwrap();
    tx.query("SELECT enclave.admin_grant('ops@platform.example', 'test')")
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // A job of an agency's client workspace that failed for good: dead-lettered.
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    let acme = workspace_id(&sys, brightside, ada, "acme-outdoors").await;
    let client = context(&t, ada, brightside, Some(acme)).await;
    let job = create_job(&t, &client, &queue, Uuid::new_v4(), "stop").await;
    assert!(worker.process_next_task().await.unwrap().is_some());
    assert_eq!(job_row(&t, &client, job).await.0, "failed");
    let dead = task_of(&s, job).await;
    assert_eq!(
        (dead[0].1.as_str(), dead[0].2.as_str()),
        ("noop.dead", "failed")
    );
    let dead_task = dead[0].0;

    // Not an admin: the runtime role on the system path, or inside the tenant, is refused.
    let mut tx = sys
        .begin("test", "not an admin", serde_json::json!({}))
        .await
        .unwrap();
    let refused = tx
        .query("SELECT enclave.admin_retry_task('noop.dead', $1)")
        .bind(dead_task)
        .execute(tx.conn())
        .await;
    assert!(
        matches!(
            refused.map_err(tenancy::TenantError::from),
            Err(tenancy::TenantError::Refused(_))
        ),
        "the system path without an admin retried a job"
    );
    drop(tx);
    let mut tx = t.begin(&client).await.unwrap();
    assert!(tx
        .query("SELECT enclave.admin_retry_task('noop.dead', $1)")
        .bind(dead_task)
        .execute(tx.conn())
        .await
        .is_err());
    drop(tx);

    // The admin's Retry: the job is queued again for its own client workspace, with a
    // fresh round of attempts, and the dead task is closed.
    let queued = admin_retry(&db, admin.user_id(), "noop.dead", dead_task)
        .await
        .unwrap();
    assert_eq!(
        job_row(&t, &client, job).await,
        ("queued".into(), 0, 0, None)
    );
    let tasks_now = task_of(&s, job).await;
    assert_eq!(tasks_now.len(), 2);
    let (new_id, new_queue, new_state, new_input) = &tasks_now[1];
    assert_eq!(
        (*new_id, new_queue.as_str(), new_state.as_str()),
        (queued, "noop", "pending")
    );
    assert_eq!(
        new_input["tenant"]["org"].as_str(),
        Some(brightside.to_string().as_str())
    );
    assert_eq!(
        new_input["tenant"]["workspace"].as_str(),
        Some(acme.to_string().as_str())
    );
    assert_eq!(tasks_now[0].2, "cancelled");

    // It runs inside that workspace and nowhere else.
    let runs = probe.runs.load(Ordering::SeqCst);
    assert!(worker.process_next_task().await.unwrap().is_some());
    assert_eq!(probe.runs.load(Ordering::SeqCst), runs + 1);
    let seen = probe.seen.lock().unwrap().last().cloned().unwrap();
    assert_eq!(seen.org_setting, Some(brightside.to_string()));
    assert!(seen.guideline_orgs.iter().all(|o| *o == brightside));
    let (status, _, attempts, error) = job_row(&t, &client, job).await;
    assert_eq!(
        (status.as_str(), attempts, error.as_deref()),
        ("failed", 1, Some("the campaign is gone"))
    );

    // The closed task cannot be retried again.
    let again = admin_retry(&db, admin.user_id(), "noop.dead", dead_task).await;
    assert!(
        matches!(again, Err(tenancy::TenantError::Rejected(_))),
        "{again:?}"
    );

    // When the tenant's own Retry came first, the admin's is refused and queues nothing.
    let second_dead = task_of(&s, job)
        .await
        .into_iter()
        .find(|t| t.2 == "failed")
        .expect("the retried run failed and was dead-lettered again")
        .0;
    tenant_retry(&t, &client, &queue, job, "fine").await;
    let tasks_before = task_of(&s, job).await.len();
    let late = admin_retry(&db, admin.user_id(), "noop.dead", second_dead).await;
    assert!(
        matches!(late, Err(tenancy::TenantError::Conflict(_))),
        "{late:?}"
    );
    assert_eq!(task_of(&s, job).await.len(), tasks_before);
    assert!(worker.process_next_task().await.unwrap().is_some());
    assert_eq!(job_row(&t, &client, job).await.0, "done");
    assert!(worker.process_next_task().await.unwrap().is_none());
}

/// A system job that counts its runs.
#[derive(Clone, Default)]
struct Tick {
    runs: Arc<AtomicUsize>,
}

impl JobKind for Tick {
    const QUEUE: &'static str = "session_sweep";
    type Path = tenancy::SystemPath;
    type Input = serde_json::Value;
}

impl tenancy::SystemJob for Tick {
    async fn run(
        &self,
        _: &mut tenancy::SystemJobTx<'_>,
        _: serde_json::Value,
    ) -> Result<(), JobFailure> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

/// Waits up to `seconds` for `done`.
async fn eventually(seconds: u64, mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..seconds * 10 {
        if done() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    done()
}

/// A TCP relay in front of the test database that can cut every connection and refuse new
/// ones at once, as a stopped PostgreSQL does (connection refused), and come back.
struct Relay {
    port: u16,
    down: Arc<std::sync::atomic::AtomicBool>,
    links: Arc<Mutex<tokio::task::JoinSet<()>>>,
}

impl Relay {
    /// Relays to where `url` points (a unix socket via `?host=/dir&port=N`, or host:port).
    async fn start(url: &str) -> (Relay, String) {
        let parsed = url::Url::parse(url).unwrap();
        let query: std::collections::HashMap<String, String> =
            parsed.query_pairs().into_owned().collect();
        let port = query
            .get("port")
            .cloned()
            .or_else(|| parsed.port().map(|p| p.to_string()))
            .unwrap_or_else(|| "5432".into());
        let upstream = match query.get("host") {
            Some(dir) if dir.starts_with('/') => format!("unix:{dir}/.s.PGSQL.{port}"),
            Some(host) => format!("{host}:{port}"),
            None => format!("{}:{port}", parsed.host_str().unwrap()),
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let relay = Relay {
            port: listener.local_addr().unwrap().port(),
            down: Arc::default(),
            links: Arc::default(),
        };
        let (down, links) = (relay.down.clone(), relay.links.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    return;
                };
                if down.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees its connection closed at once
                }
                let upstream = upstream.clone();
                links.lock().unwrap().spawn(async move {
                    if let Some(path) = upstream.strip_prefix("unix:") {
                        if let Ok(mut server) = tokio::net::UnixStream::connect(path).await {
                            let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                        }
                    } else if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        let mut relayed = parsed.clone();
        relayed.set_host(Some("127.0.0.1")).unwrap();
        relayed.set_port(Some(relay.port)).unwrap();
        let kept: Vec<(String, String)> = query
            .into_iter()
            .filter(|(k, _)| k != "host" && k != "port")
            .collect();
        relayed.query_pairs_mut().clear().extend_pairs(kept);
        let relayed = relayed.to_string().trim_end_matches('?').to_string();
        (relay, relayed)
    }

    fn cut(&self) {
        self.down.store(true, Ordering::SeqCst);
        self.links.lock().unwrap().abort_all();
    }

    fn restore(&self) {
        self.down.store(false, Ordering::SeqCst);
    }
}

/// The database goes away under running workers and a schedule (every connection cut,
/// new ones refused, as when PostgreSQL stops), then comes back: the schedule keeps its
/// times and jobs run again, without restarting the process. underway alone lost the
/// schedule: its scheduler counted each failed wait as one occurrence and ended up waiting
/// for a time far in the future, its lock gone with its connection.
#[tokio::test]
async fn workers_and_schedules_carry_on_after_the_database_was_away() {
    let (s, t, sys) = seeded("jobs_outage").await;
    let (relay, relayed_url) = Relay::start(&s.runtime_url).await;
    let db = Database::connect(&relayed_url, Default::default(), common::context_key())
        .await
        .unwrap();
    let tick = Tick::default();
    let sweep = db.jobs().system_queue(tick.clone()).await.unwrap();
    sweep
        .schedule("* * * * * * *", serde_json::json!({}))
        .await
        .unwrap();
    let probe = Probe::default();
    let noop = db.jobs().tenant_queue(probe.clone()).await.unwrap();
    let mut runner = tenancy::JobRunner::new();
    runner.run_schedule(&sweep);
    runner.run_system(&sweep, 1);
    runner.run_tenant(&noop, 1);
    assert!(
        eventually(10, || tick.runs.load(Ordering::SeqCst) >= 2).await,
        "the every-second schedule never ran"
    );

    relay.cut();
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    relay.restore();

    // Back: the schedule ticks on, and a job enqueued now runs.
    let before = tick.runs.load(Ordering::SeqCst);
    assert!(
        eventually(15, || tick.runs.load(Ordering::SeqCst) >= before + 3).await,
        "the schedule stopped after the outage ({} runs since)",
        tick.runs.load(Ordering::SeqCst) - before
    );
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let sme = context(&t, nora, northwind, None).await;
    let mut tx = t.begin(&sme).await.unwrap();
    noop.enqueue(&mut tx, None, "after".into()).await.unwrap();
    tx.commit().await.unwrap();
    let runs = probe.runs.load(Ordering::SeqCst);
    assert!(
        eventually(10, || probe.runs.load(Ordering::SeqCst) > runs).await,
        "a job enqueued after the outage did not run"
    );
    runner.shutdown().await;
}
