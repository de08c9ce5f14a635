//! Role passwords never travel as SQL text or bind parameters: PostgreSQL writes both to
//! its log when statement logging is on (`log_statement`, with the parameters in its
//! DETAIL lines). The bootstrap's admin connection runs through a recording proxy here,
//! and nothing it sends may contain the password; the role must still log in with it.

mod common;

use enclave_server::config::Environment;
use enclave_server::ops::migrate;
use sqlx::{ConnectOptions, Connection, Executor, PgConnection};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where the admin URL points: a unix socket path or a TCP address.
enum Upstream {
    Unix(String),
    Tcp(String),
}

fn upstream_of(admin: &url::Url) -> Upstream {
    let query = |key: &str| {
        admin
            .query_pairs()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.into_owned())
    };
    let port = query("port")
        .or_else(|| admin.port().map(|p| p.to_string()))
        .unwrap_or_else(|| "5432".into());
    match query("host") {
        Some(dir) if dir.starts_with('/') => Upstream::Unix(format!("{dir}/.s.PGSQL.{port}")),
        Some(host) => Upstream::Tcp(format!("{host}:{port}")),
        None => Upstream::Tcp(format!(
            "{}:{port}",
            admin.host_str().unwrap_or("localhost")
        )),
    }
}

/// A TCP proxy to PostgreSQL that keeps every byte the client sent.
async fn recording_proxy(upstream: Upstream, seen: Arc<Mutex<Vec<u8>>>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let upstream = Arc::new(upstream);
    tokio::spawn(async move {
        loop {
            let (client, _) = listener.accept().await.unwrap();
            let (seen, upstream) = (seen.clone(), upstream.clone());
            tokio::spawn(async move {
                let (mut client_read, mut client_write) = client.into_split();
                let (mut server_read, mut server_write): (
                    Box<dyn tokio::io::AsyncRead + Unpin + Send>,
                    Box<dyn tokio::io::AsyncWrite + Unpin + Send>,
                ) = match &*upstream {
                    Upstream::Unix(path) => {
                        let (r, w) = tokio::net::UnixStream::connect(path)
                            .await
                            .unwrap()
                            .into_split();
                        (Box::new(r), Box::new(w))
                    }
                    Upstream::Tcp(addr) => {
                        let (r, w) = tokio::net::TcpStream::connect(addr)
                            .await
                            .unwrap()
                            .into_split();
                        (Box::new(r), Box::new(w))
                    }
                };
                let to_server = async move {
                    let mut buf = vec![0u8; 16 * 1024];
                    loop {
                        let n = match client_read.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        seen.lock().unwrap().extend_from_slice(&buf[..n]);
                        if server_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let to_client = async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                };
                tokio::join!(to_server, to_client);
            });
        }
    });
    port
}

#[tokio::test]
async fn bootstrap_never_sends_a_role_password_as_sql_text() {
    let admin = url::Url::parse(&common::admin_url()).unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let port = recording_proxy(upstream_of(&admin), seen.clone()).await;
    let mut via_proxy = url::Url::parse(&format!("postgres://127.0.0.1:{port}/postgres")).unwrap();
    via_proxy.set_username(admin.username()).unwrap();
    via_proxy.set_password(admin.password()).unwrap();

    let name = format!(
        "t_secret_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let (owner_password, runtime_password) = ("Owner-Pw-7f3k9q", "Runtime-Pw-2m8x4z");
    let with_password = |user: &str, password: &str| {
        let mut u = admin.clone();
        u.set_username(user).unwrap();
        u.set_password(Some(password)).unwrap();
        u.set_path(&format!("/{name}"));
        u.to_string()
    };
    let (owner, runtime) = common::role_names(&name);
    let owner_url = with_password(&owner, owner_password);
    let runtime_url = with_password(&runtime, runtime_password);
    migrate::migrate(
        &runtime_url,
        &owner_url,
        Some(via_proxy.as_str()),
        Environment::Development,
        &enclave_server::config::ContextKeys::development().all,
    )
    .await
    .expect("migrate through the recording proxy");

    let sent = seen.lock().unwrap().clone();
    assert!(
        sent.len() > 1000,
        "the proxy saw the bootstrap ({} bytes)",
        sent.len()
    );
    let sent_text = String::from_utf8_lossy(&sent);
    assert!(
        sent_text.contains("ALTER ROLE") || sent_text.contains("CREATE ROLE"),
        "the role statements went through the proxy"
    );
    for password in [owner_password, runtime_password] {
        assert!(
            !sent_text.contains(password),
            "the password {password:?} was sent to the server as text"
        );
    }

    // PostgreSQL holds SCRAM verifiers, and the roles log in with their passwords.
    let mut superuser = PgConnection::connect(admin.as_str()).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT rolpassword FROM pg_authid WHERE rolname = ANY($1) ORDER BY rolname",
    )
    .bind(vec![runtime.clone(), owner.clone()])
    .fetch_all(&mut superuser)
    .await
    .unwrap();
    assert_eq!(stored.len(), 2);
    for verifier in &stored {
        assert!(verifier.starts_with("SCRAM-SHA-256$4096:"), "{verifier}");
    }
    // The role still logs in (with the password where the server asks for one).
    let login = sqlx::postgres::PgConnectOptions::from_url(&url::Url::parse(&runtime_url).unwrap())
        .unwrap()
        .connect()
        .await;
    assert!(login.is_ok(), "the runtime role logs in: {:?}", login.err());
    drop(login);
    superuser
        .execute(&*format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .await
        .unwrap();
    superuser
        .execute(&*format!("DROP ROLE \"{owner}\", \"{runtime}\""))
        .await
        .unwrap();
}
