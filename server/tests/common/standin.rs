//! The Stripe stand-in (end2end/stripe/standin.mjs) as a child process of a test, and
//! raw HTTP to it. Needs Node.js and end2end/node_modules; a missing `node` fails the
//! test with a message rather than skipping it.

use serde::de::DeserializeOwned;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;
use stripe::List;

/// Every plan's price at the stand-in (scripts/lib.sh STANDIN_PRICES sells the same).
pub const PRICES: &str = "price_sme_team=Team=1500=per_seat,price_sme_business=Business=9900=flat,price_agency_studio=Studio=2500=per_seat,price_agency_scale=Scale=29900=flat";
pub const KEY: &str = "sk_test_standin";

/// The stand-in as a child process, killed when dropped.
pub struct Standin {
    child: Child,
    pub port: u16,
}

impl Drop for Standin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Standin {
    pub fn start(env: &[(&str, String)]) -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        assert!(
            root.join("end2end/node_modules/stripe").is_dir(),
            "end2end/node_modules/stripe is missing: run `npm ci` in end2end/ (scripts/lib.sh ensure_npm_packages)"
        );
        let port = free_port();
        let mut command = Command::new("node");
        command
            .arg(root.join("end2end/stripe/standin.mjs"))
            .env("STRIPE_STANDIN_PORT", port.to_string())
            .env("STRIPE_STANDIN_PRICES", PRICES)
            .env_remove("STRIPE_STANDIN_WEBHOOK_URL")
            .env_remove("STRIPE_STANDIN_WEBHOOK_SECRET")
            .env_remove("STRIPE_STANDIN_PUBLIC_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in env {
            command.env(name, value);
        }
        let mut child = command.spawn().unwrap_or_else(|e| {
            panic!("cannot run `node` ({e}): the Stripe stand-in needs Node.js on PATH")
        });
        // Its first stdout line says it listens; read on a thread so a hang becomes a timeout.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let _ = tx.send(lines.next().and_then(Result::ok));
            for _ in lines {}
        });
        let standin = Standin { child, port };
        match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(Some(line)) => assert_eq!(
                line,
                format!("stripe stand-in listening on http://127.0.0.1:{port}")
            ),
            other => panic!("the Stripe stand-in did not start ({other:?}); its stderr is above"),
        }
        let health = standin.request("GET", "/_test/health", &[], "");
        assert_eq!((health.status, health.json()), (200, json!({ "ok": true })));
        standin
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> stripe::Client {
        stripe::Client::from_url(self.base().as_str(), KEY)
    }

    /// One raw HTTP/1.1 exchange (the stand-in always sends Content-Length).
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Reply {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut text = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.port,
            body.len()
        );
        for (name, value) in headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        text.push_str(body);
        stream.write_all(text.as_bytes()).unwrap();
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).unwrap();
        let raw = String::from_utf8(raw).expect("a UTF-8 answer");
        let (status, headers, body) = super::parse_http_answer(&raw);
        assert!(
            !headers
                .iter()
                .any(|(k, v)| k == "transfer-encoding" && v == "chunked"),
            "the stand-in answered {method} {path} chunked"
        );
        Reply {
            status,
            headers,
            body,
        }
    }

    /// An authenticated `/v1` call, as Stripe's libraries make it.
    pub fn api(&self, method: &str, path: &str, headers: &[(&str, &str)], form: &str) -> Reply {
        let auth = format!("Bearer {KEY}");
        let mut all = vec![
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        all.extend_from_slice(headers);
        self.request(method, path, &all, form)
    }

    pub fn get(&self, path: &str) -> Reply {
        self.api("GET", path, &[], "")
    }

    /// A `/_test` control (JSON, no key).
    pub fn control(&self, path: &str, body: Value) -> Reply {
        self.request(
            "POST",
            path,
            &[("Content-Type", "application/json")],
            &body.to_string(),
        )
    }
}

pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// The body as async-stripe's type `T`: a required field missing or mistyped fails here.
    pub fn shape<T: DeserializeOwned>(&self, what: &str) -> T {
        assert_eq!(self.status, 200, "{what}: {}", self.body);
        serde_json::from_str::<T>(&self.body).unwrap_or_else(|e| {
            panic!(
                "{what} does not deserialize as async-stripe's type: {e}\n{}",
                self.body
            )
        })
    }

    /// A list answer: Stripe's list envelope, and every element as `T`.
    pub fn list<T: DeserializeOwned>(&self, what: &str) -> List<T> {
        let raw = self.json();
        assert_eq!(raw["object"], "list", "{what}");
        assert!(
            raw["url"].as_str().is_some_and(|u| u.starts_with("/v1/")),
            "{what}: async-stripe pages only on urls starting /v1/: {raw}"
        );
        self.shape(what)
    }
}
