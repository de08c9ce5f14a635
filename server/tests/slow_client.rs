//! A client that sends slowly cannot hold a connection: the listener and the layers
//! `enclave serve` uses (`listener::serve`, `listener::with_timeouts`), with short
//! timeouts, against a client that stalls in its headers, in its body, and a handler
//! slower than the deadline.

use axum::routing::{get, post};
use axum::Router;
use enclave_server::listener::{self, Timeouts};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const TIMEOUTS: Timeouts = Timeouts {
    header_read: Duration::from_secs(1),
    body_idle: Duration::from_secs(1),
    request: Duration::from_secs(2),
};

async fn start() -> std::net::SocketAddr {
    let app = Router::new()
        .route("/fast", get(|| async { "fast" }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(30)).await;
                "slow"
            }),
        )
        .route("/echo", post(|body: String| async move { body }))
        // Answers before reading the body, as a refused upload does.
        .route(
            "/refuse",
            post(|| async { axum::response::Redirect::to("/too-large") }),
        );
    let app = listener::with_timeouts(app, TIMEOUTS);
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener::local_addr(&tcp);
    tokio::spawn(listener::serve(
        tcp,
        app,
        TIMEOUTS,
        std::future::pending::<()>(),
        Duration::from_secs(1),
    ));
    addr
}

/// Everything the server sends until it closes the connection (or 10 s pass).
async fn read_until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Err(_) => panic!("the server kept a stalled connection open for 10 s"),
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_disconnected() {
    let addr = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    let (_, after) = read_until_closed(&mut stream).await;
    assert!(after < Duration::from_secs(4), "closed after {after:?}");
}

#[tokio::test]
async fn a_client_that_stalls_in_its_body_is_answered_and_disconnected() {
    let addr = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nonly a little")
        .await
        .unwrap();
    let (answer, after) = read_until_closed(&mut stream).await;
    // The handler's body read fails when the pause passes the idle timeout: axum answers
    // 400 (the body could not be read) before the whole-request deadline's 408.
    assert!(
        answer.starts_with("HTTP/1.1 400") || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(after < Duration::from_secs(2), "answered after {after:?}");
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_408_and_others_are_served() {
    let addr = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, after) = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(after < Duration::from_secs(5), "answered after {after:?}");

    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /fast HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (answer, _) = read_until_closed(&mut stream).await;
    assert!(
        answer.starts_with("HTTP/1.1 200") && answer.ends_with("fast"),
        "{answer}"
    );
}

#[tokio::test]
async fn an_answer_sent_before_the_body_ends_reaches_a_client_still_sending() {
    let addr = start().await;
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // More than the sockets' buffers hold, so most of it is still being sent when the
    // answer is written and the server closes: closed at once, the server's socket would
    // answer the rest with a reset, and the client would see no answer (a browser showed
    // "the connection was reset" for an import file over the limit).
    let body = vec![b'a'; 32 << 20];
    stream
        .write_all(
            format!(
                "POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    stream
        .write_all(&body)
        .await
        .expect("the server reset the connection while the body was being sent");
    let (answer, _) = read_until_closed(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 303"), "{answer}");
}
