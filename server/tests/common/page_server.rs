//! `enclave serve` as a child process, driven over plain HTTP/1.0 with the demo sign-in,
//! its log kept line by line for the test to read.

use super::{parse_http_answer, Scratch};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct PageServer {
    child: Child,
    pub port: u16,
    /// The server's log lines, as they arrive (ERROR and panic lines are also echoed).
    log: Arc<Mutex<Vec<String>>>,
    /// The empty site folder the server is pointed at, removed with the server.
    site: std::path::PathBuf,
}

impl Drop for PageServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.site);
    }
}

pub struct Reply {
    pub status: u16,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl PageServer {
    /// A scratch database seeded with the demo tenants, and the server started on it with
    /// `RUST_LOG` set to `log_filter`. The database lives as long as the returned handle.
    pub async fn seeded(prefix: &str, log_filter: &'static str) -> (Scratch, Self) {
        let s = super::scratch(prefix).await;
        let (_, sys) = s.dbs(2).await;
        enclave_server::ops::seed::seed_demo(&sys, enclave_server::ops::seed::Content::Examples)
            .await
            .expect("seed");
        let server = tokio::task::spawn_blocking({
            let s = s.clone();
            move || Self::start(&s, log_filter)
        })
        .await
        .unwrap();
        (s, server)
    }

    /// Starts the server on the scratch database with `RUST_LOG` set to `log_filter`
    /// (blocking: call it from `spawn_blocking`).
    pub fn start(s: &Scratch, log_filter: &str) -> Self {
        let port = super::standin::free_port();
        let site = std::env::temp_dir().join(format!("enclave-page-server-{port}"));
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
            .env("RUST_LOG", log_filter)
            .env("RUST_BACKTRACE", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start enclave serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let kept = log.clone();
        std::thread::spawn(move || {
            // A panic's backtrace follows its line: shown with it.
            let mut echo = 0u32;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("ERROR") || line.contains("panicked") || echo > 0 {
                    echo = if line.contains("panicked") {
                        60
                    } else {
                        echo.saturating_sub(1)
                    };
                    eprintln!("server: {line}");
                }
                kept.lock().unwrap().push(line);
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
            log,
            site,
        }
    }

    /// How many log lines have arrived so far.
    pub fn log_len(&self) -> usize {
        self.log.lock().unwrap().len()
    }

    /// The log lines from index `from` on that `keep` accepts.
    pub fn log_since(&self, from: usize, keep: impl Fn(&str) -> bool) -> Vec<String> {
        self.log.lock().unwrap()[from..]
            .iter()
            .filter(|l| keep(l))
            .cloned()
            .collect()
    }

    /// A request's head as the tests send it (HTTP/1.0, so the answer ends when the server
    /// closes: no chunking).
    pub fn request(&self, method: &str, path: &str, cookie: Option<&str>, form: &str) -> String {
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
        text
    }

    /// One whole exchange.
    pub fn exchange(&self, method: &str, path: &str, cookie: Option<&str>, form: &str) -> Reply {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        stream
            .write_all(self.request(method, path, cookie, form).as_bytes())
            .unwrap();
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

    /// A signed-in session of a demo account, as a Cookie header value.
    pub fn sign_in(&self, email: &str) -> String {
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
