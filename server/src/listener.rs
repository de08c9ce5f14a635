//! The HTTP listener, with the timeouts that keep a slow or silent client from holding a
//! connection: how long the request line and headers may take (hyper's
//! `header_read_timeout`, which `axum::serve` does not expose, hence this accept loop),
//! how long the body may pause between chunks, and a deadline for the whole request
//! (tower-http's `RequestBodyTimeoutLayer` and `TimeoutLayer`, in [`with_timeouts`]).
//! A request past its deadline gets 408 Request Timeout; a client that stalls inside
//! its headers is disconnected. A connection the server closes is closed the lingering
//! way ([`LingeringClose`]), so an answer sent before the client finished sending (a
//! refused upload) reaches it.

use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::http::StatusCode;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};
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
            .serve_connection(TokioIo::new(LingeringClose::new(stream)), service);
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

/// How long a closed connection keeps reading what its client still sends, at most, and
/// how long it waits for the client's next bytes or its end.
const LINGER: Duration = Duration::from_secs(10);
const LINGER_IDLE: Duration = Duration::from_secs(2);

/// A client connection that, when the server closes it, closes it the lingering way (RFC
/// 9112, 9.6; nginx's `lingering_close`): the server's side is shut (the client reads the
/// answer and its end), then what the client still sends is read and dropped until it
/// closes its side too, pauses for [`LINGER_IDLE`], or [`LINGER`] has passed. Closed at
/// once instead, a socket with unread bytes answers them with a reset, and a browser
/// still sending a refused upload (a file over the import limit) showed "the connection
/// was reset" in place of the page that says why. Only the server's closing lingers:
/// hyper calls `poll_shutdown` there, and drops the connection without it on errors (a
/// client stalled in its headers is still cut off at once).
pub struct LingeringClose {
    stream: TcpStream,
    closing: Option<Closing>,
}

/// Set once the server's side is shut.
struct Closing {
    until: Instant,
    idle: Pin<Box<Sleep>>,
}

impl LingeringClose {
    pub fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            closing: None,
        }
    }
}

impl AsyncRead for LingeringClose {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LingeringClose {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.closing.is_none() {
            ready!(Pin::new(&mut this.stream).poll_shutdown(cx))?;
        }
        let closing = this.closing.get_or_insert_with(|| Closing {
            until: Instant::now() + LINGER,
            idle: Box::pin(tokio::time::sleep(LINGER_IDLE)),
        });
        let mut scratch = [0u8; 16 * 1024];
        loop {
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.stream).poll_read(cx, &mut buf) {
                // The client's end, or a reset: nothing is left to read.
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => {
                    let now = Instant::now();
                    if now >= closing.until {
                        return Poll::Ready(Ok(()));
                    }
                    closing
                        .idle
                        .as_mut()
                        .reset((now + LINGER_IDLE).min(closing.until));
                }
                Poll::Pending => {
                    return match closing.idle.as_mut().poll(cx) {
                        Poll::Ready(()) => Poll::Ready(Ok(())),
                        Poll::Pending => Poll::Pending,
                    };
                }
            }
        }
    }
}

/// For tests and tools: the address the listener got.
pub fn local_addr(listener: &TcpListener) -> SocketAddr {
    listener
        .local_addr()
        .expect("bound listener has an address")
}
