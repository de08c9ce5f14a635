//! Issue 16: one page, one tenant transaction. Starts `enclave serve` with sqlx's
//! statement log on (`RUST_LOG=sqlx::query=debug`: every statement the server sends is one
//! log line, except `BEGIN`, which sqlx queues as a simple query without logging it, so
//! a page's `BEGIN`s are counted from its `COMMIT`s and `ROLLBACK`s), signs in the demo
//! SME owner and the demo agency member, loads each page once and counts what the server
//! sent for it. A page costs the session load and one transaction whose first statement
//! resolves who is looking (user, organizations, membership, client:
//! `enclave.page_context`) and leaves it in that context for the page's reads: at most 8
//! statements, and no `enter_context` of its own (a transaction the page did not take,
//! rolled back unlogged when the request ends, would show as the page opening another).

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MOST_STATEMENTS_PER_PAGE: usize = 8;

struct Server {
    child: Child,
    port: u16,
    /// The server's statement log lines, as they arrive.
    statements: Arc<Mutex<Vec<String>>>,
    /// The empty site folder the server is pointed at, removed with the server.
    site: std::path::PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.site);
    }
}

/// Statements the server runs on its own, between requests: the database watch's probe
/// and the session store's expiry sweep.
fn background(line: &str) -> bool {
    line.contains("summary=\"SELECT 1\"") || line.to_ascii_lowercase().contains("expiry_date <")
}

impl Server {
    fn start(s: &Scratch) -> Self {
        let port = common::standin::free_port();
        let site = std::env::temp_dir().join(format!("enclave-page-statements-{port}"));
        std::fs::create_dir_all(site.join("pkg")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_enclave"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", &s.runtime_url)
            .env("ENCLAVE_ENV", "development")
            .env("ENCLAVE_WORKERS", "off")
            .env("ENCLAVE_PUBLIC_URL", format!("http://127.0.0.1:{port}"))
            .env("LEPTOS_OUTPUT_NAME", "enclave")
            .env("LEPTOS_SITE_ROOT", &site)
            .env("LEPTOS_SITE_PKG_DIR", "pkg")
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn,sqlx::query=debug")
            .env("RUST_BACKTRACE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start enclave serve");
        let statements = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let kept = statements.clone();
        std::thread::spawn(move || {
            // A panic's backtrace follows its line: shown with it.
            let mut echo = 0u32;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains(" sqlx::query: ") && !background(&line) {
                    kept.lock().unwrap().push(line);
                } else if line.contains("ERROR") || line.contains("panicked") || echo > 0 {
                    echo = if line.contains("panicked") {
                        60
                    } else {
                        echo.saturating_sub(1)
                    };
                    eprintln!("server: {line}");
                }
            }
        });
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "enclave serve did not listen within 60 s"
            );
            if let Some(status) = child.try_wait().unwrap() {
                panic!("enclave serve exited: {status}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            port,
            statements,
            site,
        }
    }

    /// One HTTP/1.0 exchange (the answer ends when the server closes: no chunking).
    fn exchange(&self, method: &str, path: &str, cookie: Option<&str>, form: &str) -> Reply {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut text = format!(
            "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nOrigin: http://127.0.0.1:{port}\r\nAccept: {accept}\r\n",
            port = self.port,
            accept = if method == "GET" { "text/html" } else { "application/json" },
        );
        if let Some(cookie) = cookie {
            text.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        if method == "POST" {
            text.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                form.len()
            ));
        }
        text.push_str("\r\n");
        text.push_str(form);
        stream.write_all(text.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (status, headers, body) = parse_http_answer(&raw);
        Reply {
            status,
            set_cookies: headers
                .into_iter()
                .filter(|(k, _)| k == "set-cookie")
                .map(|(_, v)| v.split(';').next().unwrap().to_string())
                .collect(),
            body,
        }
    }

    /// The statements logged from now until the log has been quiet for 300 ms after
    /// `act` returns.
    fn statements_of<T>(&self, act: impl FnOnce() -> T) -> (T, Vec<String>) {
        let before = self.statements.lock().unwrap().len();
        let out = act();
        let mut seen = before;
        loop {
            std::thread::sleep(Duration::from_millis(300));
            let now = self.statements.lock().unwrap().len();
            if now == seen {
                break;
            }
            seen = now;
        }
        let lines = self.statements.lock().unwrap()[before..].to_vec();
        (out, lines)
    }

    fn sign_in(&self, email: &str) -> String {
        let accounts = self.exchange("POST", "/api/list_demo_accounts", None, "");
        assert_eq!(accounts.status, 200, "{}", accounts.body);
        let accounts: serde_json::Value = serde_json::from_str(&accounts.body).unwrap();
        let account = accounts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["email"] == email)
            .unwrap_or_else(|| panic!("no demo account {email}"));
        let form = format!(
            "user_id={}&org_id={}",
            account["user_id"].as_str().unwrap(),
            account["org_id"].as_str().unwrap()
        );
        let signed_in = self.exchange("POST", "/api/demo_sign_in", None, &form);
        assert!(
            signed_in.status < 400,
            "demo sign-in of {email}: {} {}",
            signed_in.status,
            signed_in.body
        );
        assert!(!signed_in.set_cookies.is_empty(), "no session cookie");
        signed_in.set_cookies.join("; ")
    }
}

struct Reply {
    status: u16,
    set_cookies: Vec<String>,
    body: String,
}

fn summary(line: &str) -> &str {
    line.split("summary=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or(line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_costs_the_session_load_and_one_transaction() {
    let s = scratch("pagestmts").await;
    let (_, sys) = s.dbs(2).await;
    enclave_server::ops::seed::seed_demo(&sys, enclave_server::ops::seed::Content::Examples)
        .await
        .expect("seed");
    let server = tokio::task::spawn_blocking({
        let s = s.clone();
        move || Server::start(&s)
    })
    .await
    .unwrap();

    let report = tokio::task::spawn_blocking(move || {
        let sme = server.sign_in("nora@northwind.example");
        let agency = server.sign_in("ben@brightside.example");
        // (who, page, words of the page's own data (one of them), most statements).
        let pages: [(&String, &str, &[&str], usize); 7] = [
            (&sme, "/campaigns", &["Summer cold brew"], 5),
            (&sme, "/personas", &["Morning regular"], 5),
            (
                &sme,
                "/dashboard",
                &[
                    "Summer cold brew",
                    "Winter blend launch",
                    "Loyalty card goes digital",
                    "Wholesale open day",
                ],
                6,
            ),
            (&sme, "/brand", &["barista who remembers your order"], 6),
            (
                &agency,
                "/clients/acme-outdoors/campaigns",
                &["Rainproof week"],
                5,
            ),
            (
                &agency,
                "/clients/acme-outdoors/personas",
                &["Weekend hiker"],
                5,
            ),
            (
                &agency,
                "/clients/acme-outdoors/dashboard",
                &["Rainproof week", "Trail shoe launch"],
                6,
            ),
        ];
        // A first load of each page (the session's first renewal, anything lazily built).
        for (cookie, page, _, _) in &pages {
            let reply = server.exchange("GET", page, Some(cookie), "");
            assert_eq!(reply.status, 200, "{page}: {}", reply.body);
        }
        let mut report = Vec::new();
        for (cookie, page, shows, most) in pages {
            let (reply, lines) =
                server.statements_of(|| server.exchange("GET", page, Some(cookie), ""));
            assert_eq!(reply.status, 200, "{page}: {}", reply.body);
            assert!(
                shows.iter().any(|words| reply.body.contains(words)),
                "{page} does not show its data ({shows:?}): {}",
                &reply.body[..reply.body.len().min(2000)]
            );
            assert!(
                !reply.body.contains("role=\"alert\""),
                "{page} shows an error: {}",
                &reply.body[..reply.body.len().min(4000)]
            );
            report.push((page, most, lines));
        }
        // A page whose data never takes its transaction (the organization's settings, the
        // welcome page), and the admin console (which opens none): many at once, more than
        // the pool's connections, then nothing is left open.
        let statuses = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..40)
                .map(|i| {
                    let cookie = if i % 2 == 0 { &sme } else { &agency };
                    let page = ["/settings", "/welcome", "/members", "/clients", "/admin"][i % 5];
                    let server = &server;
                    scope.spawn(move || {
                        (page, server.exchange("GET", page, Some(cookie), "").status)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        assert!(
            statuses.iter().all(|(_, status)| *status < 500),
            "pages that do not take their transaction, 40 at once: {statuses:?}"
        );
        report
    })
    .await
    .unwrap();
    let mut admin = s.admin().await;
    let idle_in_transaction: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        idle_in_transaction, 0,
        "a page left its transaction open after the request ended"
    );

    let mut too_many = Vec::new();
    for (page, most, lines) in &report {
        let ends = lines
            .iter()
            .filter(|l| matches!(summary(l), "COMMIT" | "ROLLBACK"))
            .count();
        let statements = lines.len() + ends;
        println!("{page}: {statements} statements ({ends} BEGIN not logged by sqlx)");
        for line in lines {
            println!("    {}", summary(line));
        }
        assert_eq!(
            lines.iter().filter(|l| l.contains("page_context")).count(),
            1,
            "{page} must resolve its context once, through enclave.page_context"
        );
        assert!(
            !lines.iter().any(|l| l.contains("enter_context")),
            "{page}: its data must ride the transaction page_context opened"
        );
        if statements > (*most).min(MOST_STATEMENTS_PER_PAGE) || ends != 1 {
            too_many.push(format!(
                "{page}: {statements} statements (at most {most}), {ends} transactions"
            ));
        }
    }
    assert!(
        too_many.is_empty(),
        "pages over {MOST_STATEMENTS_PER_PAGE} statements or not one transaction: {too_many:?}"
    );
}
