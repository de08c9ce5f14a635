//! Behind pgbouncer in transaction pooling (where server connections are shared between
//! clients per transaction): the tenancy core keeps working with unnamed statements, and
//! no tenant ever sees another's rows. Needs the `pgbouncer` binary (scripts/test
//! installs Debian's package when it is missing).

mod common;
use common::*;
use std::process::{Child, Command, Stdio};
use tenancy::{Database, PoolSettings, SessionClaim, TenantRead};

struct Bouncer {
    child: Child,
    port: u16,
    _dir: std::path::PathBuf,
}

impl Drop for Bouncer {
    fn drop(&mut self) {
        // As root the child is runuser, which cannot pass SIGKILL on to pgbouncer (one was
        // left running after every run); SIGTERM it forwards, and kills pgbouncer itself
        // 2 s later. pgbouncer alone may wait for its clients on SIGTERM: SIGKILL after 5 s.
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        for _ in 0..50 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self._dir);
    }
}

fn start_bouncer(s: &Scratch) -> Bouncer {
    let admin = url::Url::parse(&s.admin_url).unwrap();
    let socket_dir = admin
        .query_pairs()
        .find(|(k, _)| k == "host")
        .map(|(_, v)| v.to_string());
    let backend = match socket_dir {
        Some(dir) => format!("host={dir} port={}", admin.port().unwrap_or(5432)),
        None => format!(
            "host={} port={}",
            admin.host_str().unwrap_or("127.0.0.1"),
            admin.port().unwrap_or(5432)
        ),
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = std::env::temp_dir().join(format!("enclave-bouncer-{}", s.name));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("users.txt"),
        format!("\"{}\" \"\"\n", s.runtime_role()),
    )
    .unwrap();
    std::fs::write(
        dir.join("pgbouncer.ini"),
        format!(
            "[databases]\n{db} = {backend} dbname={db}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {users}\npool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 100\n\
             ignore_startup_parameters = extra_float_digits,options,search_path\n",
            db = s.name,
            users = dir.join("users.txt").display()
        ),
    )
    .unwrap();
    let ini = dir.join("pgbouncer.ini");
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false);
    let mut cmd = if is_root {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for p in [&dir, &dir.join("users.txt"), &ini] {
                let mode = if p.is_dir() { 0o755 } else { 0o644 };
                std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
            }
        }
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "pgbouncer"]);
        c
    } else {
        Command::new("pgbouncer")
    };
    let child = cmd
        .arg(&ini)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "pgbouncer is not installed (Debian package pgbouncer; ./scripts/test installs it)",
        );
    for _ in 0..50 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Bouncer {
                child,
                port,
                _dir: dir,
            };
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("pgbouncer did not start listening on port {port}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenancy_core_works_behind_pgbouncer_transaction_pooling() {
    let (s, _t, sys) = seeded("bouncer").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    let acme = workspace_id(&sys, brightside, ada, "acme-outdoors").await;
    let bouncer = start_bouncer(&s);
    let url = format!(
        "postgres://{}@127.0.0.1:{}/{}",
        s.runtime_role(),
        bouncer.port,
        s.name
    );
    let (t, _) = Database::connect(
        &url,
        PoolSettings {
            max_connections: 8,
            pgbouncer_compatible: true,
            ..Default::default()
        },
        common::context_key(),
    )
    .await
    .expect("connect through pgbouncer")
    .split();
    let read = TenantRead::new(
        "SELECT org_id, workspace_id FROM enclave.read_brand_guidelines($1, $2, $3, $4)",
    );
    let mut tasks = Vec::new();
    for i in 0..8 {
        let t = t.clone();
        tasks.push(tokio::spawn(async move {
            let mut checked = 0;
            for j in 0..40 {
                let (user, org, ws) = if (i + j) % 2 == 0 {
                    (nora, northwind, None)
                } else {
                    (ada, brightside, Some(acme))
                };
                let ctx = t
                    .resolve(SessionClaim {
                        user_id: user,
                        org_id: org,
                        workspace_id: ws,
                    })
                    .await
                    .expect("resolve");
                let rows: Vec<(uuid::Uuid, Option<uuid::Uuid>)> =
                    t.read(&ctx, read).await.expect("single-statement read");
                assert_eq!(rows, vec![(org, ws)], "read saw another tenant's rows");
                let mut tx = t.begin(&ctx).await.expect("tenant transaction");
                let foreign: i64 = tx
                    .query_scalar("SELECT count(*) FROM public.memberships WHERE org_id <> $1")
                    .bind(org)
                    .fetch_one(tx.conn())
                    .await
                    .expect("query in transaction");
                let own: i64 = tx
                    .query_scalar("SELECT count(*) FROM public.memberships")
                    .fetch_one(tx.conn())
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                assert_eq!(foreign, 0);
                assert!(own >= 2);
                checked += 1;
            }
            checked
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.expect("task");
    }
    assert_eq!(total, 320);
    drop(bouncer);
}
