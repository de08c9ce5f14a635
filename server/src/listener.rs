//! The HTTP listener, with the timeouts that keep a slow or silent client from holding a
//! connection: how long the request line and headers may take (hyper's
//! `header_read_timeout`, which `axum::serve` does not expose, hence this accept loop),
//! how long the body may pause between chunks, and a deadline for the whole request
//! (tower-http's `RequestBodyTimeoutLayer` and `TimeoutLayer`, in [`with_timeouts`]).
//! A request past its deadline gets 408 Request Timeout; a client that stalls inside
//! its headers is disconnected.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the connection's first byte (or the end of the previous request) to the end
    /// of the headers.
    pub header_read: Duration,
    /// The longest pause between two chunks of a request body.
    pub body_idle: Duration,
    /// The whole request, from its headers to the response's headers. Uploads of 10 MB
    /// fit in it at about 200 KB/s.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_idle: Duration::from_secs(15),
            request: Duration::from_secs(60),
        }
    }
}

/// The body and whole-request timeouts around every route.
pub fn with_timeouts(router: Router, timeouts: Timeouts) -> Router {
    router
        .layer(RequestBodyTimeoutLayer::new(timeouts.body_idle))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeouts.request,
        ))
}

/// Accepts connections until `shutdown` resolves, then lets the requests in flight
/// finish (at most `grace`). Each request carries `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let app = app.clone();
        let service =
            hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(ConnectInfo(peer));
                app.clone().oneshot(request.map(Body::new))
            });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(timeouts.header_read)
            .serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            seconds = grace.as_secs(),
            "requests still running after the grace period; stopping anyway"
        );
    }
}

/// For tests and tools: the address the listener got.
pub fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .expect("bound listener has an address")
}
