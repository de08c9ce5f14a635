//! Scratch databases on a real PostgreSQL for integration tests. Needs
//! ENCLAVE_TEST_ADMIN_URL (or DATABASE_ADMIN_URL): a superuser URL; `./scripts/test`
//! starts a throwaway cluster and sets it.
#![allow(dead_code)]

use enclave_server::config::{ContextKeys, Environment};
use enclave_server::ops::migrate;
use sqlx::{Connection, PgConnection};
use tenancy::{Database, PoolSettings, SystemDb, TenantDb};

#[derive(Clone)]
pub struct Scratch {
    pub name: String,
    pub admin_url: String,
    pub owner_url: String,
    pub runtime_url: String,
    _dropped_with_the_last_handle: std::sync::Arc<DropDatabase>,
}

/// Drops a scratch database and its roles on every node when the last handle to it goes. A full run
/// creates a few hundred, and on Citus each holds about 700 shards on every node: kept,
/// they filled the disk of a CI machine by the end of the Citus suites (the run stopped
/// mid-line). A failing test's database is kept for a look, and so is every one with
/// ENCLAVE_TEST_KEEP_DATABASES=1.
struct DropDatabase {
    name: String,
    /// Superuser URLs of the coordinator (or the single node) first, then the workers.
    node_urls: Vec<String>,
}

impl Drop for DropDatabase {
    fn drop(&mut self) {
        if std::thread::panicking() || std::env::var_os("ENCLAVE_TEST_KEEP_DATABASES").is_some() {
            eprintln!("scratch database kept: {}", self.name);
            return;
        }
        let (name, urls) = (self.name.clone(), std::mem::take(&mut self.node_urls));
        // Drop cannot await, and may run inside the test's runtime: a thread of its own.
        let dropped = std::thread::spawn(move || -> Result<(), String> {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            // The nodes at once: a node's drop waits on its own processes only, and a
            // Citus test spent ~3 s dropping node after node.
            let drop_database = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
            runtime
                .block_on(futures::future::join_all(
                    urls.iter().map(|url| run_on(url, &drop_database)),
                ))
                .into_iter()
                .collect::<Result<(), String>>()?;
            // Then its two login roles (cluster-wide, so they outlived every database on
            // a cluster the suite did not start); node after node, as Citus propagates a
            // role's drop from the coordinator and the workers' own then find nothing.
            let (owner, runtime_role) = role_names(&name);
            let drop_roles = format!("DROP ROLE IF EXISTS \"{owner}\", \"{runtime_role}\"");
            runtime.block_on(async {
                for url in &urls {
                    run_on(url, &drop_roles).await?;
                }
                Ok(())
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("scratch database {} not dropped: {e}", self.name),
            Err(_) => eprintln!(
                "scratch database {} not dropped: the thread panicked",
                self.name
            ),
        }
    }
}

/// One statement on one node, its failure as text (for `DropDatabase`).
async fn run_on(url: &str, statement: &str) -> Result<(), String> {
    use sqlx::Executor;
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(|e| e.to_string())?;
    conn.execute(statement).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// The owner and runtime login roles `migrate` makes for scratch database `name`.
pub fn role_names(name: &str) -> (String, String) {
    (format!("{name}_owner"), format!("{name}_app"))
}

/// The superuser URL of the node at `host:port`, in database `db`.
fn node_url(admin_url: &str, host_port: &str, db: &str) -> String {
    let (host, port) = host_port.rsplit_once(':').expect("worker as host:port");
    let mut u = url::Url::parse(admin_url).expect("admin url");
    u.set_host(Some(host)).unwrap();
    u.set_port(Some(port.parse().expect("worker port")))
        .unwrap();
    u.set_path(&format!("/{db}"));
    u.to_string()
}

fn citus_workers() -> Vec<String> {
    std::env::var("ENCLAVE_TEST_CITUS_WORKERS")
        .map(|w| {
            w.split(',')
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The key the scratch databases hold (the development key's) and the tests prove with.
pub fn context_key() -> tenancy::ContextKey {
    ContextKeys::development().active
}

pub fn admin_url() -> String {
    std::env::var("ENCLAVE_TEST_ADMIN_URL")
        .or_else(|_| std::env::var("DATABASE_ADMIN_URL"))
        .expect("set ENCLAVE_TEST_ADMIN_URL to a superuser URL (./scripts/test does this with a throwaway cluster)")
}

fn url_for(admin: &str, user: &str, db: &str) -> String {
    let mut u = url::Url::parse(admin).expect("admin url");
    u.set_username(user).unwrap();
    u.set_password(None).unwrap();
    u.set_path(&format!("/{db}"));
    u.to_string()
}

pub async fn scratch(prefix: &str) -> Scratch {
    scratch_env(prefix, Environment::Development).await
}

pub async fn scratch_env(prefix: &str, env: Environment) -> Scratch {
    let admin_url = admin_url();
    let name = format!(
        "t_{prefix}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let (owner, runtime) = role_names(&name);
    let owner_url = url_for(&admin_url, &owner, &name);
    let runtime_url = url_for(&admin_url, &runtime, &name);
    let keys = ContextKeys::development().all;
    let workers = citus_workers();
    // Made before the database, so that a failed migrate still drops what it made.
    let drop_database = std::sync::Arc::new(DropDatabase {
        name: name.clone(),
        node_urls: std::iter::once(url::Url::parse(&admin_url).expect("admin url").to_string())
            .chain(workers.iter().map(|w| node_url(&admin_url, w, "postgres")))
            .collect(),
    });
    let run_migrate = || migrate::migrate(&runtime_url, &owner_url, Some(&admin_url), env, &keys);
    run_migrate().await.expect("migrate scratch database");
    if !workers.is_empty() {
        add_citus(&admin_url, &name, &workers).await;
        // On a database with Citus, migrate distributes the schema.
        run_migrate()
            .await
            .expect("distribute scratch database on Citus");
    }
    Scratch {
        name,
        admin_url,
        owner_url,
        runtime_url,
        _dropped_with_the_last_handle: drop_database,
    }
}

/// ENCLAVE_TEST_CITUS_WORKERS=host:port,… (scripts/test-citus with ENCLAVE_CITUS_SUITES=1):
/// the admin URL is a Citus coordinator; the scratch database gets the extension on every
/// node and the workers registered, as docs/citus/port/add_citus.sh does for a deployment.
async fn add_citus(admin_url: &str, db: &str, workers: &[String]) {
    use sqlx::Executor;
    let (owner, _) = role_names(db);
    for worker in workers {
        let mut conn = PgConnection::connect(&node_url(admin_url, worker, "postgres"))
            .await
            .expect("worker connection");
        for statement in [
            format!("CREATE DATABASE \"{db}\" OWNER \"{owner}\""),
            format!("REVOKE ALL ON DATABASE \"{db}\" FROM PUBLIC"),
            format!("GRANT CONNECT ON DATABASE \"{db}\" TO enclave_runtime"),
        ] {
            conn.execute(&*statement)
                .await
                .expect("database on the worker");
        }
        let mut conn = PgConnection::connect(&node_url(admin_url, worker, db))
            .await
            .expect("worker database");
        conn.execute("CREATE EXTENSION IF NOT EXISTS citus")
            .await
            .expect("citus on the worker");
    }
    let mut coordinator = PgConnection::connect(&url_for(
        admin_url,
        url::Url::parse(admin_url).unwrap().username(),
        db,
    ))
    .await
    .expect("coordinator database");
    let u = url::Url::parse(admin_url).unwrap();
    coordinator
        .execute("CREATE EXTENSION IF NOT EXISTS citus")
        .await
        .expect("citus on the coordinator");
    sqlx::query("SELECT citus_set_coordinator_host($1, $2)")
        .bind(u.host_str().unwrap_or("127.0.0.1"))
        .bind(u.port().unwrap_or(5432) as i32)
        .execute(&mut coordinator)
        .await
        .expect("coordinator host");
    for worker in workers {
        let (host, port) = worker.rsplit_once(':').unwrap();
        sqlx::query("SELECT citus_add_node($1, $2)")
            .bind(host)
            .bind(port.parse::<i32>().unwrap())
            .execute(&mut coordinator)
            .await
            .expect("citus_add_node");
    }
}

impl Scratch {
    pub async fn runtime(&self) -> PgConnection {
        PgConnection::connect(&self.runtime_url)
            .await
            .expect("runtime connection")
    }
    pub async fn owner(&self) -> PgConnection {
        PgConnection::connect(&self.owner_url)
            .await
            .expect("owner connection")
    }
    /// A superuser connection inside the scratch database.
    pub async fn admin(&self) -> PgConnection {
        PgConnection::connect(&url_for(
            &self.admin_url,
            &url::Url::parse(&self.admin_url)
                .unwrap()
                .username()
                .to_string(),
            &self.name,
        ))
        .await
        .expect("admin connection")
    }
    pub async fn dbs(&self, max: u32) -> (TenantDb, SystemDb) {
        Database::connect(
            &self.runtime_url,
            PoolSettings {
                max_connections: max,
                ..Default::default()
            },
            context_key(),
        )
        .await
        .expect("pool")
        .split()
    }
    /// Makes the database accept contexts proved with the keys of `spec`
    /// (ENCLAVE_SECRET_KEYS form) as well as the development key's: for tests that start
    /// `serve` or `worker` with keys of their own.
    pub async fn accept_keys(&self, spec: &str) {
        let mut keys = ContextKeys::development().all;
        keys.extend(ContextKeys::of(&vault::KeySet::parse(spec).expect("key spec")).all);
        migrate::install_context_keys(&mut self.owner().await, &keys)
            .await
            .expect("install context keys");
    }
    pub fn runtime_role(&self) -> String {
        role_names(&self.name).1
    }
    pub fn owner_role(&self) -> String {
        role_names(&self.name).0
    }
}

/// Seeds the demo tenants and returns handles.
pub async fn seeded(prefix: &str) -> (Scratch, TenantDb, SystemDb) {
    let s = scratch(prefix).await;
    let (t, sys) = s.dbs(4).await;
    enclave_server::ops::seed::seed_demo(&sys, enclave_server::ops::seed::Content::Bare)
        .await
        .expect("seed");
    (s, t, sys)
}

/// Looks up demo ids on the system path (audited).
pub async fn demo_ids(sys: &SystemDb, email: &str) -> (uuid::Uuid, uuid::Uuid) {
    let mut tx = sys
        .begin("test", "look up demo ids", serde_json::json!({}))
        .await
        .unwrap();
    let row: (uuid::Uuid, uuid::Uuid) = sqlx::query_as(
        "SELECT u.id, o.id FROM public.users u, public.organizations o
          WHERE u.email = $1 AND o.slug = CASE WHEN u.email LIKE '%northwind%' THEN 'northwind-coffee' ELSE 'brightside-agency' END",
    )
    .bind(email)
    .fetch_one(tx.conn())
    .await
    .unwrap();
    // Reading memberships needs the org context; users/orgs are visible on the system path.
    tx.commit().await.unwrap();
    row
}

pub async fn workspace_id(
    sys: &SystemDb,
    org: uuid::Uuid,
    owner: uuid::Uuid,
    slug: &str,
) -> uuid::Uuid {
    let mut tx = sys
        .begin("test", "look up workspace", serde_json::json!({}))
        .await
        .unwrap();
    tx.enter_tenant(org, None, owner).await.unwrap();
    let id =
        sqlx::query_scalar("SELECT workspace_id FROM agency.client_workspaces WHERE slug = $1")
            .bind(slug)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    id
}

/// A transaction on `conn` inside the given tenant context, entered through
/// `enclave.enter_context`: as the owner role (which holds INSERT/UPDATE, so only the
/// policies stand in the way) or as the runtime role.
pub async fn in_context(
    owner: &mut PgConnection,
    org: uuid::Uuid,
    workspace: Option<uuid::Uuid>,
    user: uuid::Uuid,
) -> sqlx::Transaction<'_, sqlx::Postgres> {
    let mut tx = owner.begin().await.unwrap();
    sqlx::query("SELECT enclave.enter_context($1, $2, $3, $4)")
        .bind(org)
        .bind(workspace)
        .bind(user)
        .bind(context_key().user_proof(user))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

/// The verified context of `user` in `org` (and `workspace`), as a request would get it.
pub async fn context(
    db: &tenancy::TenantDb,
    user: uuid::Uuid,
    org: uuid::Uuid,
    workspace: Option<uuid::Uuid>,
) -> tenancy::TenantContext {
    db.resolve(tenancy::SessionClaim {
        user_id: user,
        org_id: org,
        workspace_id: workspace,
    })
    .await
    .unwrap()
}

/// The claims of an ID token as sign-in verified them.
pub fn identity(
    issuer: &str,
    subject: &str,
    email: &str,
    verified: bool,
) -> tenancy::VerifiedIdentity {
    tenancy::VerifiedIdentity {
        issuer: issuer.into(),
        subject: subject.into(),
        email: Some(email.into()),
        email_verified: verified,
        name: Some(format!("Person {subject}")),
    }
}

/// A user signed in with a verified address, as the database knows them.
pub async fn user(
    db: &tenancy::TenantDb,
    issuer: &str,
    subject: &str,
    email: &str,
) -> tenancy::UserContext {
    let id = db
        .sign_in(&identity(issuer, subject, email, true))
        .await
        .unwrap();
    db.resolve_user(id).await.unwrap()
}

/// A new organization of `kind` with `u` as its owner (onboarding).
pub async fn onboard(
    db: &tenancy::TenantDb,
    u: &tenancy::UserContext,
    kind: &str,
    name: &str,
) -> uuid::Uuid {
    let mut tx = db.begin_user(u).await.unwrap();
    let org: uuid::Uuid = tx
        .query_scalar("SELECT enclave.onboard_organization($1, $2)")
        .bind(kind)
        .bind(name)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    org
}

/// Puts `org` on `plan` without Stripe (a platform grant, as the demo tenants have), so a
/// test about something else does not run into Free's limits.
pub async fn grant_plan(sys: &SystemDb, org: uuid::Uuid, plan: &str) {
    let mut tx = sys
        .begin("test", "grant a plan", serde_json::json!({}))
        .await
        .unwrap();
    sqlx::query("SELECT enclave.grant_plan($1, $2, 'test')")
        .bind(org)
        .bind(plan)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// SplitMix64: small, seedable, and the same on every machine (property tests).
pub struct Rng(pub u64);
impl Rng {
    /// The seed in `var` (hexadecimal, 0x optional) to replay a run, else a fresh one.
    pub fn seed_from_env(var: &str) -> u64 {
        std::env::var(var)
            .ok()
            .and_then(|s| u64::from_str_radix(s.trim().trim_start_matches("0x"), 16).ok())
            .unwrap_or_else(|| uuid::Uuid::new_v4().as_u64_pair().0)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

pub mod billing;
pub mod page_server;
pub mod standin;

/// An HTTP/1 answer read to its end: the status, the headers (names in lower case) and
/// the body (not de-chunked).
pub fn parse_http_answer(raw: &str) -> (u16, Vec<(String, String)>, String) {
    let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP answer");
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("an HTTP status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

/// An invitation by the context's user whose mail body is `sealed` (queued in the outbox).
pub async fn queue_invitation_mail(
    db: &tenancy::TenantDb,
    ctx: &tenancy::TenantContext,
    sealed: &[u8],
) {
    let mut tx = db.begin(ctx).await.unwrap();
    tx.query(
        "SELECT enclave.invite_member($1, $2, 'member', $3, false, '1 day', 'You are invited', $4)",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(format!(
        "guest-{}@example.test",
        uuid::Uuid::new_v4().simple()
    ))
    .bind(vec![7u8; 32])
    .bind(sealed)
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
}
