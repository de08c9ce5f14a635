//! Operator commands. Each prints a clear result, exits non-zero on failure and never
//! prints a password (URLs are redacted).

use crate::config::{redact, Config};
use crate::ops::{audit, guard, migrate, schema_doc, seed};
use clap::{Parser, Subcommand};
use std::process::ExitCode;
use tenancy::{Database, PoolSettings};

/// Enclave's server and its operator commands. Configuration comes from the environment
/// (DATABASE_URL, ENCLAVE_ENV and the rest: README "Configuration").
#[derive(Debug, Parser)]
#[command(
    name = "enclave",
    version,
    after_help = "Configuration is read from the environment: see README.md, \"Configuration\". Without a command, enclave serves."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the web app (the default). Refuses to start on a database stamped for another
    /// environment, with privileged runtime credentials, with a migration pending or
    /// changed, or when the tenancy audit fails.
    Serve,
    /// Run the job workers (and mail delivery when ENCLAVE_SMTP_URL is set) with the same
    /// start-up checks as serve. SIGTERM finishes the jobs in hand first.
    Worker,
    /// Apply the migrations as the owner role (DATABASE_OWNER_URL) and stamp the database
    /// with ENCLAVE_ENV; with DATABASE_ADMIN_URL, create the roles and the database first.
    Migrate,
    /// Check row-level security, roles, grants and definer functions of every tenant table.
    /// Exit 1 on a violation, 2 when the catalog cannot be read.
    Audit {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the living schema document, generated from the database.
    SchemaDoc {
        /// Where to write it.
        #[arg(long, value_name = "PATH", default_value = "docs/schema.md")]
        out: String,
        /// Compare with the file instead of writing it; exit 1 when it is stale.
        #[arg(long)]
        check: bool,
    },
    /// Check the environment stamp, the runtime role, the migrations and the tenancy audit,
    /// a line each. Exit 1 on any problem.
    Doctor,
    /// Create the demo tenants; what exists already is left as it is.
    SeedDemo {
        /// Also create this many more SME organizations with example content (for the
        /// benchmarks; `scale-sme-00001` …).
        #[arg(long, value_name = "N", default_value_t = 0)]
        scale: u32,
    },
    /// List the jobs of every tenant that failed all their attempts, with the last error.
    DeadJobs,
    /// Compare Stripe with the database and repair the differences. Exit 0 in sync or
    /// repaired, 1 when something needs a person, 2 when Stripe or the database failed.
    ReconcileBilling {
        /// Report what would change, and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Only this organization (its id).
        #[arg(long, value_name = "ID")]
        org: Option<uuid::Uuid>,
    },
    /// Seal every stored secret (provider tokens, queued mail) again under the active key
    /// of ENCLAVE_SECRET_KEYS, then retire the keys nothing is sealed under any more.
    /// Audited on the system path; stopped half way, run it again to go on. Exit 1 when a
    /// value does not open (it keeps its key in use).
    RotateKeys,
    /// Grant, revoke or list platform admins (audited on the system path).
    Admin {
        #[command(subcommand)]
        action: AdminCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make the person with this verified address (who has signed in) a platform admin.
    Grant { email: String },
    /// Take platform admin rights away; refused from their next request.
    Revoke { email: String },
    /// List platform admins, granted and revoked.
    List,
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

fn config() -> Result<Config, ExitCode> {
    Config::from_env().map_err(|e| fail(format!("{e}\n(see README: configuration)")))
}

/// Parses `args` (the program name first) and runs the command. `--help` and `--version`
/// print and exit 0; a usage error prints what is wrong and exits 2.
pub async fn run(args: impl IntoIterator<Item = std::ffi::OsString>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let cfg = match config() {
        Ok(c) => c,
        Err(code) => return code,
    };
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => crate::web::serve(cfg).await,
        Command::Worker => worker(cfg).await,
        Command::Migrate => {
            let owner = match cfg.owner_url() {
                Ok(o) => o.to_string(),
                Err(e) => return fail(e),
            };
            let keys = match cfg.context_keys() {
                Ok(k) => k,
                Err(e) => return fail(format!("{e}\n(see README: configuration)")),
            };
            match migrate::migrate(
                &cfg.runtime_url,
                &owner,
                cfg.admin_url.as_deref(),
                cfg.environment,
                &keys.all,
            )
            .await
            {
                Ok(r) => {
                    println!(
                        "migrate: database {} {}; applied {} migration(s) {:?}; stamped {} (instance {}); context keys {:?}",
                        r.database,
                        if r.bootstrapped { "bootstrapped (roles, database)" } else { "not bootstrapped (no DATABASE_ADMIN_URL)" },
                        r.applied.len(),
                        r.applied,
                        r.environment,
                        r.instance_id,
                        r.context_keys
                    );
                    if let Some(d) = r.citus {
                        println!("migrate: Citus: {d}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("migrate failed: {e}")),
            }
        }
        Command::Audit { json } => {
            let mut conn = match guard::connect_runtime(&cfg.runtime_url).await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: {e} ({})", redact(&cfg.runtime_url));
                    return ExitCode::from(2);
                }
            };
            match audit::run(&mut conn).await {
                Ok(report) => {
                    if json {
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
        Command::SchemaDoc { out, check } => {
            let mut conn = match guard::connect_runtime(&cfg.runtime_url).await {
                Ok(c) => c,
                Err(e) => return fail(e),
            };
            let doc = match schema_doc::generate(&mut conn).await {
                Ok(d) => d,
                Err(e) => return fail(format!("schema-doc: {e}")),
            };
            if check {
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
        Command::Doctor => doctor(cfg).await,
        Command::SeedDemo { scale } => {
            let db = match small_pool(&cfg).await {
                Ok(db) => db,
                Err(code) => return code,
            };
            let (_, system) = db.split();
            match seed::seed_demo(&system, seed::Content::Examples).await {
                Ok(r) => {
                    for c in r.created {
                        println!("seed-demo: created {c}");
                    }
                    for s in r.skipped {
                        println!("seed-demo: {s} already present, left as it is");
                    }
                }
                Err(e) => return fail(format!("seed-demo failed: {e}")),
            }
            if scale == 0 {
                return ExitCode::SUCCESS;
            }
            let started = std::time::Instant::now();
            match seed::seed_scale(&system, scale, |created| {
                if created > 0 && created % 1000 == 0 {
                    println!("seed-demo: {created} scale organizations created so far");
                }
            })
            .await
            {
                Ok(created) => {
                    println!(
                        "seed-demo: {created} scale organizations created ({} already present) in {:.1} s",
                        scale - created,
                        started.elapsed().as_secs_f64()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => fail(format!("seed-demo --scale failed: {e}")),
            }
        }
        Command::DeadJobs => dead_jobs(cfg).await,
        Command::RotateKeys => rotate_keys(cfg).await,
        Command::Admin { action } => admin(cfg, action).await,
        Command::ReconcileBilling { dry_run, org } => reconcile_billing(cfg, dry_run, org).await,
    }
}

/// A two-connection pool for operator commands and the worker.
async fn small_pool(cfg: &Config) -> Result<Database, ExitCode> {
    crate::ops::vault_keys::open_database(
        cfg,
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
    let db = match crate::ops::vault_keys::open_database(&cfg, PoolSettings::default()).await {
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

async fn rotate_keys(cfg: Config) -> ExitCode {
    if let Err(e) = guard::check(&cfg.runtime_url, cfg.environment).await {
        return fail(e);
    }
    let vault = match cfg.vault() {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let db = match small_pool(&cfg).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let (_, system) = db.split();
    let report = match crate::ops::vault_keys::rotate(&system, &vault).await {
        Ok(r) => r,
        Err(e) => return fail(format!("rotate-keys: {e}")),
    };
    println!(
        "rotate-keys: {} value(s) sealed again under key {:?}; {} changed meanwhile (already under it)",
        report.resealed,
        vault.keys().active().as_str(),
        report.changed_meanwhile
    );
    for id in &report.retired {
        println!("rotate-keys: key {id:?} retired: nothing is sealed under it; it may be removed from ENCLAVE_SECRET_KEYS");
    }
    for (id, left) in &report.still_used {
        println!("rotate-keys: key {id:?} still seals {left} value(s): keep it configured");
    }
    for (position, e) in &report.unopened {
        eprintln!("rotate-keys: {position} does not open: {e}");
    }
    if report.unopened.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
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
    let vault = match cfg.vault() {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    // Listen for SIGTERM before any job starts, so a stop request always finishes them.
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let db = match crate::ops::vault_keys::open_database(
        &cfg,
        crate::jobs::worker_pool_settings(concurrency),
    )
    .await
    {
        Ok(db) => db,
        Err(e) => return fail(e),
    };
    // Before any job seals or opens anything: the keys must open what the database holds.
    if let Err(e) = crate::ops::vault_keys::check_and_register(&db.system(), &vault).await {
        return fail(e);
    }
    let integrations = match cfg.integration_clients(None) {
        Ok(i) => std::sync::Arc::new(i),
        Err(e) => return fail(e),
    };
    let publisher = app::integrations::publish::Publisher {
        integrations,
        vault: vault.clone(),
    };
    let runner = match crate::jobs::start(
        &db,
        generator.clone(),
        publisher,
        &billing,
        concurrency,
        None,
    )
    .await
    {
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
    if let Err(e) = crate::mail_delivery::spawn_if_configured(&cfg, system, &vault) {
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
    let rows: Result<Vec<app::admin::jobs::FailedTaskRow>, tenancy::TenantError> = async {
        let mut tx = system
            .begin(
                "dead-jobs",
                "list dead-lettered jobs",
                serde_json::json!({}),
            )
            .await?;
        let rows = sqlx::query_as(app::admin::jobs::FAILED_TASKS)
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
                let when = app::admin::when(when);
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
async fn admin(cfg: Config, action: AdminCommand) -> ExitCode {
    let by = format!(
        "cli:{}",
        std::env::var("USER").unwrap_or_else(|_| "operator".into())
    );
    let (actor, why, email) = match &action {
        AdminCommand::Grant { email } => {
            ("admin grant", "grant platform admin rights", Some(email))
        }
        AdminCommand::Revoke { email } => {
            ("admin revoke", "revoke platform admin rights", Some(email))
        }
        AdminCommand::List => ("admin list", "list platform admins", None),
    };
    let email = email.cloned();
    let db = match small_pool(&cfg).await {
        Ok(db) => db,
        Err(code) => return code,
    };
    let system = db.system();
    let result: Result<ExitCode, tenancy::TenantError> = async {
        let mut tx = system
            .begin(actor, why, serde_json::json!({ "email": email, "by": by }))
            .await?;
        let code = match action {
            AdminCommand::Grant { email } => {
                let user: uuid::Uuid = sqlx::query_scalar("SELECT enclave.admin_grant($1, $2)")
                    .bind(&email)
                    .bind(&by)
                    .fetch_one(tx.conn())
                    .await?;
                println!("admin: {email} (user {user}) is a platform admin; they open /admin after signing in");
                ExitCode::SUCCESS
            }
            AdminCommand::Revoke { email } => {
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
            AdminCommand::List => {
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
    match migrate::status(&mut conn).await {
        Ok(m) => {
            ok &= m.is_current();
            println!(
                "migrations: {} applied, {} pending{}, {} changed since applied{}",
                m.applied,
                m.pending.len(),
                list(&m.pending),
                m.changed.len(),
                list(&m.changed)
            );
        }
        Err(e) => {
            ok = false;
            println!("migrations: cannot read the ledger: {e} (run `enclave migrate`)");
        }
    }
    match cfg.vault() {
        Ok(vault) => match crate::ops::vault_keys::report(&mut conn, &vault).await {
            Ok(line) => println!("{line}"),
            Err(e) => {
                ok = false;
                println!("sealing keys: {e}");
            }
        },
        Err(e) => {
            ok = false;
            println!("sealing keys: MISCONFIGURED: {e}");
        }
    }
    if let Ok(keys) = cfg.context_keys() {
        match crate::ops::vault_keys::context_key_report(&mut conn, &keys.active).await {
            Ok(line) => println!("{line}"),
            Err(e) => {
                ok = false;
                println!("context key: {e}");
            }
        }
    }
    ok &= doctor_services(&cfg).await;
    ok &= doctor_citus(&cfg, &mut conn).await;
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

/// On a Citus coordinator: its nodes, tables, shards and largest tenants (counted with
/// DATABASE_ADMIN_URL when it is set). Nothing on a single PostgreSQL.
async fn doctor_citus(cfg: &Config, conn: &mut sqlx::PgConnection) -> bool {
    match crate::ops::citus::installed(conn).await {
        Ok(false) => return true,
        Ok(true) => {}
        Err(e) => {
            println!("citus: cannot check for the extension: {e}");
            return false;
        }
    }
    let mut admin = None;
    if let Some(url) = &cfg.admin_url {
        let opened = async {
            let db: String = sqlx::query_scalar("SELECT current_database()::text")
                .fetch_one(&mut *conn)
                .await?;
            migrate::admin_connection(url, &db).await
        }
        .await;
        match opened {
            Ok(c) => admin = Some(c),
            Err(e) => println!("citus: cannot open this database with DATABASE_ADMIN_URL: {e}"),
        }
    }
    match crate::ops::citus::report(conn, admin.as_mut()).await {
        Ok(lines) => {
            let healthy = !lines.iter().any(|l| l.contains("INACTIVE"));
            for l in lines {
                println!("{l}");
            }
            healthy
        }
        Err(e) => {
            println!("citus: cannot read the cluster's metadata: {e}");
            false
        }
    }
}

/// ` (a, b)` for a non-empty list, nothing otherwise.
fn list(names: &[String]) -> String {
    if names.is_empty() {
        String::new()
    } else {
        format!(" ({})", names.join(", "))
    }
}

/// The services the configuration names, each asked now: every OpenID provider's discovery
/// document, and Stripe's API with the configured key. A line each; false when one fails.
async fn doctor_services(cfg: &Config) -> bool {
    let mut ok = true;
    match cfg.oidc_providers() {
        Err(e) => {
            ok = false;
            println!("sign-in providers: MISCONFIGURED: {e}");
        }
        Ok(providers) if providers.is_empty() => {
            println!("sign-in providers: none configured (ENCLAVE_OIDC_PROVIDERS)")
        }
        Ok(providers) => {
            let public_url = cfg
                .public_url
                .clone()
                .unwrap_or_else(|| "http://127.0.0.1:3000".into());
            match app::sign_in::oidc::OidcProviders::new(providers, &public_url) {
                Err(e) => {
                    ok = false;
                    println!("sign-in providers: MISCONFIGURED: {e}");
                }
                Ok(oidc) => {
                    for (id, result) in oidc.check_discovery().await {
                        match result {
                            Ok(issuer) => println!(
                                "sign-in provider {id}: discovery document and signing keys of {issuer} fetched"
                            ),
                            Err(e) => {
                                ok = false;
                                println!("sign-in provider {id}: discovery FAILED: {e}");
                            }
                        }
                    }
                }
            }
        }
    }
    match cfg.billing() {
        Err(e) => {
            ok = false;
            println!("stripe: MISCONFIGURED: {e}");
        }
        Ok(app::billing::Billing::NotConfigured(why)) => {
            println!("stripe: not configured ({why}): billing is off")
        }
        Ok(app::billing::Billing::Configured(api)) => match api.check().await {
            Ok(()) => println!("stripe: the API answered with the configured key"),
            Err(e) => {
                ok = false;
                println!("stripe: the API call FAILED: {e}");
            }
        },
    }
    match cfg.integration_clients(None) {
        Err(e) => {
            ok = false;
            println!("publishing providers: MISCONFIGURED: {e}");
        }
        Ok(i) if i.listed().is_empty() => {
            println!("publishing providers: none configured (ENCLAVE_INTEGRATIONS)")
        }
        Ok(i) => {
            for (id, name) in i.listed() {
                let callback = match &cfg.public_url {
                    Some(_) => i.callback_url(&id),
                    None => "set ENCLAVE_PUBLIC_URL to see it".into(),
                };
                println!("publishing provider {id} ({name}): configured; redirect URI to register: {callback}");
            }
        }
    }
    match cfg.stripe_webhook_secrets() {
        Some(_) => println!("stripe webhooks: signing secret set; /webhooks/stripe is served"),
        None => {
            println!("stripe webhooks: STRIPE_WEBHOOK_SECRET unset; /webhooks/stripe is not served")
        }
    }
    ok
}
