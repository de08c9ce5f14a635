//! Operator commands. Each prints a clear result, exits non-zero on failure and never
//! prints a password (URLs are redacted).

use crate::config::{redact, Config};
use crate::ops::{audit, guard, migrate, schema_doc, seed};
use std::process::ExitCode;
use tenancy::{Database, PoolSettings};

pub const USAGE: &str = "usage: enclave [serve|worker|migrate|audit [--json]|schema-doc [--out PATH] [--check]|doctor|seed-demo|dead-jobs|reconcile-billing [--dry-run] [--org ID]|admin grant EMAIL|admin revoke EMAIL|admin list]";

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

fn config() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| fail(format!("{e}\n(see README: configuration)")))
}

pub async fn run(args: Vec<String>) -> ExitCode {
    let command = args.first().map(String::as_str).unwrap_or("serve");
    let flag = |name: &str| args.iter().any(|a| a == name);
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let cfg = match command {
        "help" | "--help" | "-h" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => match config() {
            Ok(c) => c,
            Err(code) => return code,
        },
    };
    match command {
        "serve" => crate::web::serve(cfg).await,
        "worker" => worker(cfg).await,
        "migrate" => {
            let owner = match cfg.owner_url() {
                Ok(o) => o.to_string(),
                Err(e) => return fail(e),
            };
            match migrate::migrate(
                &cfg.runtime_url,
                &owner,
                cfg.admin_url.as_deref(),
                cfg.environment,
            )
            .await
            {
                Ok(r) => {
                    println!(
                        "migrate: database {} {}; applied {} migration(s) {:?}; stamped {} (instance {})",
                        r.database,
                        if r.bootstrapped { "bootstrapped (roles, database)" } else { "not bootstrapped (no DATABASE_ADMIN_URL)" },
                        r.applied.len(),
                        r.applied,
                        r.environment,
                        r.instance_id
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("migrate failed: {e}")),
            }
        }
        "audit" => {
            let mut conn = match guard::connect_runtime(&cfg.runtime_url).await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e} ({})", redact(&cfg.runtime_url));
                    return ExitCode::from(2);
                }
            };
            match audit::run(&mut conn).await {
                Ok(report) => {
                    if flag("--json") {
                        println!(
                            "{}",
                            serde_json::to_string_pretty(&report).unwrap_or_default()
                        );
                    } else {
                        print!("{}", report.human());
                    }
                    if report.is_clean() {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => {
                    eprintln!("error: audit could not read the catalog: {e}");
                    ExitCode::from(2)
                }
            }
        }
        "schema-doc" => {
            let out = value("--out").unwrap_or_else(|| "docs/schema.md".to_string());
            let mut conn = match guard::connect_runtime(&cfg.runtime_url).await {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let doc = match schema_doc::generate(&mut conn).await {
                Ok(d) => d,
                Err(e) => return fail(format!("schema-doc: {e}")),
            };
            if flag("--check") {
                let committed = std::fs::read_to_string(&out).unwrap_or_default();
                if committed == doc {
                    println!("schema-doc: {out} is current");
                    ExitCode::SUCCESS
                } else {
                    fail(format!(
                        "schema-doc: {out} is stale; run `enclave schema-doc` and commit it"
                    ))
                }
            } else {
                match std::fs::write(&out, doc) {
                    Ok(()) => {
                        println!("schema-doc: wrote {out}");
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(format!("schema-doc: cannot write {out}: {e}")),
                }
            }
        }
        "doctor" => doctor(cfg).await,
        "seed-demo" => {
            let db = match small_pool(&cfg).await {
                Ok(db) => db,
                Err(code) => return code,
            };
            let (_, system) = db.split();
            match seed::seed_demo(&system).await {
                Ok(r) => {
                    for c in r.created {
                        println!("seed-demo: created {c}");
                    }
                    for s in r.skipped {
                        println!("seed-demo: {s} already present, left as it is");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("seed-demo failed: {e}")),
            }
        }
        "dead-jobs" => dead_jobs(cfg).await,
        "admin" => admin(cfg, args.get(1).map(String::as_str), args.get(2).cloned()).await,
        "reconcile-billing" => {
            let org = match value("--org").map(|o| o.parse::<uuid::Uuid>()) {
                None => None,
                Some(Ok(org)) => Some(org),
                Some(Err(_)) => {
                    return fail("reconcile-billing: --org takes an organization id (a UUID)")
                }
            };
            reconcile_billing(cfg, flag("--dry-run"), org).await
        }
        other => fail(format!("unknown command {other:?}\n{USAGE}")),
    }
}

/// A two-connection pool for operator commands and the worker.
async fn small_pool(cfg: &Config) -> Result<Database, ExitCode> {
    Database::connect(
        &cfg.runtime_url,
        PoolSettings {
            max_connections: 2,
            ..Default::default()
        },
    )
    .await
    .map_err(fail)
}

/// Compares Stripe with the database, repairs, and prints the findings. Exit 0 in sync or
/// repaired, 1 when something needs a person, 2 when Stripe or the database failed.
async fn reconcile_billing(cfg: Config, dry_run: bool, org: Option<uuid::Uuid>) -> ExitCode {
    // It writes to Stripe: the same guard as serve (environment stamp, unprivileged role).
    if let Err(e) = guard::check(&cfg.runtime_url, cfg.environment).await {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let stripe = match cfg.billing() {
        Ok(app::billing::Billing::Configured(api)) => api,
        Ok(app::billing::Billing::NotConfigured(reason)) => {
            eprintln!("error: reconcile-billing: billing is not configured ({reason})");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let db = match Database::connect(&cfg.runtime_url, PoolSettings::default()).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!(
                "error: reconcile-billing: the database: {e} ({})",
                redact(&cfg.runtime_url)
            );
            return ExitCode::from(2);
        }
    };
    let (_, system) = db.split();
    let options = crate::reconcile_billing::Options { dry_run, org };
    match crate::reconcile_billing::reconcile(&system, &stripe, options).await {
        Ok(report) => {
            print!("{}", report.summary());
            ExitCode::from(report.outcome())
        }
        Err(e) => {
            eprintln!("error: reconcile-billing: {e}");
            ExitCode::from(2)
        }
    }
}

async fn worker(cfg: Config) -> ExitCode {
    if let Err(e) = guard::check(&cfg.runtime_url, cfg.environment).await {
        return fail(e);
    }
    let concurrency = match crate::jobs::concurrency() {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    let generator = match app::campaigns::generator::Generator::from_env() {
        Ok(g) => std::sync::Arc::new(g),
        Err(e) => return fail(e),
    };
    let billing = match cfg.billing() {
        Ok(b) => b,
        Err(e) => return fail(e),
    };
    // Listen for SIGTERM before any job starts, so a stop request always finishes them.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let db = match crate::jobs::worker_database(&cfg.runtime_url, concurrency).await {
        Ok(db) => db,
        Err(e) => return fail(e),
    };
    let runner = match crate::jobs::start(&db, generator.clone(), &billing, concurrency).await {
        Ok(r) => r,
        Err(e) => return fail(format!("job workers: {e}")),
    };
    println!(
        "worker: started against {} ({}); {concurrency} job(s) per queue at once; outputs drafted by {}",
        redact(&cfg.runtime_url),
        cfg.environment,
        generator.describe()
    );
    let (_, system) = db.split();
    if let Err(e) = crate::mail_delivery::spawn_if_configured(&cfg, system) {
        return fail(e);
    }
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
    }
    println!("worker: stopping; finishing the jobs in flight");
    runner.shutdown().await;
    println!("worker: stopped");
    ExitCode::SUCCESS
}

/// Dead-lettered jobs of every tenant, for platform operators: read on the audited
/// system path (the admin console will show the same list).
async fn dead_jobs(cfg: Config) -> ExitCode {
    let db = match small_pool(&cfg).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let (_, system) = db.split();
    let rows: Result<Vec<(String, String, Option<String>, Option<String>, String, Option<String>)>, tenancy::TenantError> = async {
        let mut tx = system
            .begin("dead-jobs", "list dead-lettered jobs", serde_json::json!({}))
            .await?;
        let rows = sqlx::query_as(
                "SELECT t.task_queue_name, t.id::text, o.name, t.input #>> '{tenant,workspace}',
                        to_char(coalesce(t.completed_at, t.updated_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
                        (SELECT a.error_message FROM underway.task_attempt a
                          WHERE a.task_queue_name = t.task_queue_name AND a.task_id = t.id
                            AND a.error_message IS NOT NULL
                          ORDER BY a.attempt_number DESC LIMIT 1)
                   FROM underway.task t
                   LEFT JOIN public.organizations o ON o.id = (t.input #>> '{tenant,org}')::uuid
                  WHERE t.task_queue_name LIKE '%.dead'
                  ORDER BY t.updated_at DESC LIMIT 200",
            )
            .fetch_all(tx.conn())
            .await?;
        tx.commit().await?;
        Ok(rows)
    }
    .await;
    match rows {
        Ok(rows) if rows.is_empty() => {
            println!("dead-jobs: none");
            ExitCode::SUCCESS
        }
        Ok(rows) => {
            for (queue, id, org, workspace, when, error) in rows {
                println!(
                    "{when}  {queue}  task {id}  {}{}  {}",
                    org.unwrap_or_else(|| "(system)".into()),
                    workspace.map(|w| format!(" / client {w}")).unwrap_or_default(),
                    error.unwrap_or_else(|| "refused without another attempt (see the job's page and the worker log)".into())
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("dead-jobs: {e}")),
    }
}

/// Platform admins: granted and revoked by the operator, on the audited system path. The
/// audit row names the operating-system user who ran the command.
async fn admin(cfg: Config, action: Option<&str>, email: Option<String>) -> ExitCode {
    const ADMIN_USAGE: &str =
        "usage: enclave admin grant EMAIL | enclave admin revoke EMAIL | enclave admin list";
    let by = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "operator".into())
    );
    let (actor, why) = match (action, &email) {
        (Some("grant"), Some(_)) => ("admin grant", "grant platform admin rights"),
        (Some("revoke"), Some(_)) => ("admin revoke", "revoke platform admin rights"),
        (Some("list"), None) => ("admin list", "list platform admins"),
        _ => return fail(ADMIN_USAGE),
    };
    let db = match small_pool(&cfg).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let system = db.system();
    let result: Result<ExitCode, tenancy::TenantError> = async {
        let mut tx = system
            .begin(actor, why, serde_json::json!({ "email": email, "by": by }))
            .await?;
        let code = match (action, email) {
            (Some("grant"), Some(email)) => {
                let user: uuid::Uuid = sqlx::query_scalar("SELECT enclave.admin_grant($1, $2)")
                    .bind(&email)
                    .bind(&by)
                    .fetch_one(tx.conn())
                    .await?;
                println!("admin: {email} (user {user}) is a platform admin; they open /admin after signing in");
                ExitCode::SUCCESS
            }
            (Some("revoke"), Some(email)) => {
                let revoked: bool = sqlx::query_scalar("SELECT enclave.admin_revoke($1, $2)")
                    .bind(&email)
                    .bind(&by)
                    .fetch_one(tx.conn())
                    .await?;
                if revoked {
                    println!("admin: {email} is no longer a platform admin (refused from their next request)");
                    ExitCode::SUCCESS
                } else {
                    eprintln!("admin: {email} is not a platform admin; nothing changed");
                    ExitCode::from(1)
                }
            }
            _ => {
                let rows: Vec<(String, String, time::OffsetDateTime, String, Option<time::OffsetDateTime>, Option<String>)> =
                    sqlx::query_as("SELECT email, display_name, granted_at, granted_by, revoked_at, revoked_by FROM enclave.admin_list()")
                        .fetch_all(tx.conn())
                        .await?;
                if rows.is_empty() {
                    println!("admin: no platform admins (grant one with `enclave admin grant EMAIL`)");
                }
                for (email, name, granted_at, granted_by, revoked_at, revoked_by) in rows {
                    match revoked_at {
                        None => println!(
                            "{email}  {name}  granted {} by {granted_by}",
                            app::admin::when(granted_at)
                        ),
                        Some(at) => println!(
                            "{email}  {name}  revoked {} by {}",
                            app::admin::when(at),
                            revoked_by.unwrap_or_default()
                        ),
                    }
                }
                ExitCode::SUCCESS
            }
        };
        tx.commit().await?;
        Ok(code)
    }
    .await;
    match result {
        Ok(code) => code,
        Err(e) => fail(format!("admin: {e}")),
    }
}

async fn doctor(cfg: Config) -> ExitCode {
    let mut ok = true;
    println!("environment (ENCLAVE_ENV): {}", cfg.environment);
    println!("runtime database: {}", redact(&cfg.runtime_url));
    let mut conn = match guard::connect_runtime(&cfg.runtime_url).await {
        Ok(c) => c,
        Err(e) => return fail(e),
    };
    match sqlx::query_as::<_, (String, String, String)>(
        "SELECT environment, instance_id::text, stamped_at::text FROM enclave.instance",
    )
    .fetch_optional(&mut conn)
    .await
    {
        Ok(Some((env, id, at))) => {
            let matches = env == cfg.environment.as_str();
            ok &= matches;
            println!(
                "stamp: {env} (instance {id}, stamped {at}) {}",
                if matches {
                    "matches"
                } else {
                    "DOES NOT MATCH ENCLAVE_ENV"
                }
            );
        }
        Ok(None) | Err(_) => {
            ok = false;
            println!("stamp: missing (run `enclave migrate`)");
        }
    }
    match guard::runtime_privileges(&mut conn).await {
        Ok(p) if p.is_empty() => {
            println!("runtime role: unprivileged (not superuser, not BYPASSRLS, not the owner)")
        }
        Ok(p) => {
            ok = false;
            println!("runtime role: PRIVILEGED: {}", p.join(", "));
        }
        Err(e) => {
            ok = false;
            println!("runtime role: cannot check: {e}");
        }
    }
    let applied: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT version, checksum FROM enclave._sqlx_migrations WHERE success ORDER BY version",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap_or_default();
    let mut pending = 0;
    let mut changed = 0;
    for m in migrate::MIGRATOR.iter() {
        match applied.iter().find(|(v, _)| *v == m.version) {
            None => pending += 1,
            Some((_, sum)) if sum.as_slice() != &*m.checksum => changed += 1,
            _ => {}
        }
    }
    ok &= pending == 0 && changed == 0;
    println!(
        "migrations: {} applied, {} pending, {} changed since applied",
        applied.len(),
        pending,
        changed
    );
    match audit::run(&mut conn).await {
        Ok(r) => {
            ok &= r.is_clean();
            print!("{}", r.human());
        }
        Err(e) => {
            ok = false;
            println!("audit: cannot run: {e}");
        }
    }
    println!("doctor: {}", if ok { "healthy" } else { "PROBLEMS FOUND" });
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
