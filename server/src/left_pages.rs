//! A page whose client left is put away a moment later, not at once.
//!
//! Leptos disposes a page's reactive owner, and every signal, memo, resource and action
//! the page made, when the page's response body is dropped. When the client goes away,
//! hyper drops the body as soon as a write fails, and that is most often just after one of
//! the page's resources resolved: the same moment Leptos's `Suspense` re-walks the page's
//! views on another worker thread. A view then read a value disposed under it and panicked
//! that thread (issue 16: about one panic in 15,000 pages cut short under load; the walk is
//! Leptos's, in `SuspenseBoundary::to_html_async_with_buf`, so the pages cannot guard it).
//! An unfinished body is therefore dropped [`GRACE`] later, from a task of its own: by then
//! the walks its resources started are done, and disposing the owner ends the effects
//! instead of racing them. A body sent to its end is dropped as before.
//!
//! Leptos also leaked every page left while a resource was loading: the resource waits in
//! the page's shared context to be written into the page, and the context, the resource's
//! task and its owner hold each other (one task and ~7 KB per page; 80 → 201 MB in two
//! minutes of clients leaving mid-page). After the grace the put-away does what the end of
//! a page does, so nothing is kept; the same happens when the client leaves before the
//! page's first bytes, where there is no body yet (the middleware's `Unanswered` guard).

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use futures::StreamExt;
use http_body::{Body as _, Frame, SizeHint};
use leptos::prelude::{use_context, Owner};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

/// How long an abandoned page is kept: many times a page's p99 under load (60 ms at 32
/// connections, ARCHITECTURE "Performance"), short enough that a storm of abandoned pages
/// holds little (a few hundred at a time at the end2end suite's rates).
pub const GRACE: Duration = Duration::from_secs(1);

/// How long an abandoned page's still-loading resources may take to finish before they
/// are left as they are (a page's queries take milliseconds; this is for a database that
/// stalls).
const DRAIN: Duration = Duration::from_secs(60);

/// The reactive owner of the page a request renders: the provider of the page's context
/// records it ([`remember_page_owner`]); the middleware takes it out again when the handler
/// answers, or when the handler is dropped unanswered, and keeps it with what it puts away.
#[derive(Clone, Default)]
pub struct PageOwner(Arc<Mutex<Option<Owner>>>);

impl PageOwner {
    fn take(&self) -> Option<Owner> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).take()
    }
}

/// Called where the server provides a request's context, inside its owner. Only a page's
/// own root is recorded (no parent, a server-rendering shared context): a server function
/// or a static file runs under an owner that may be a child of another request's page
/// left current on the thread, whose `Parts` and shared context are not this request's.
pub fn remember_page_owner() {
    let Some(owner) = Owner::current() else {
        return;
    };
    if owner.parent().is_some() || owner.shared_context().is_none() {
        return;
    }
    let slot = use_context::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<PageOwner>().cloned());
    if let Some(slot) = slot {
        *slot.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(owner);
    }
}

/// Middleware (`axum::middleware::from_fn`): a page's response body goes through
/// [`PutAwayLate`]; a handler dropped before it answered (the client left before the
/// page's first bytes) has its page put away the same way.
pub async fn put_away_late(mut request: Request, next: Next) -> Response {
    let slot = PageOwner::default();
    request.extensions_mut().insert(slot.clone());
    let mut unanswered = Unanswered(Some(slot));
    let response = next.run(request).await;
    let owner = unanswered.0.take().and_then(|slot| slot.take());
    wrap(response, owner)
}

/// Wraps a page's body; anything else (a file, a server function's answer) has nothing to
/// put away and goes out as it is.
fn wrap(response: Response, owner: Option<Owner>) -> Response {
    let Some(owner) = owner else {
        return response;
    };
    response.map(|body| {
        Body::new(PutAwayLate {
            body: Some(body),
            finished: false,
            owner: Some(owner),
        })
    })
}

struct Unanswered(Option<PageOwner>);

impl Drop for Unanswered {
    fn drop(&mut self) {
        if let Some(owner) = self.0.take().and_then(|slot| slot.take()) {
            put_away(None, owner);
        }
    }
}

/// Keeps what a page left unfinished for [`GRACE`], then drops it, cleans the page's owner
/// up and lets the resources it was still loading finish (for at most [`DRAIN`]).
fn put_away(body: Option<Body>, owner: Owner) {
    // Outside a runtime (nothing serves pages there) it is all dropped here, as before.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    runtime.spawn(async move {
        tokio::time::sleep(GRACE).await;
        let before_first_bytes = body.is_none();
        drop(body);
        // A resource that was loading when the client left is buffered in the page's
        // shared context, to be written into the page when it resolves; the buffer holds
        // the resource, the resource's task holds an owner, and that owner holds the
        // shared context: a cycle Leptos breaks only by sending the page to its end (one
        // task and ~7 KB kept for each page left while loading). Do what the end of the
        // page does: clean the owner up and drain the buffer. Cleaning up comes first,
        // unlike at a page's end: resources that resolve during the drain would otherwise
        // start Suspense's walks again, and the clean-up would race those (measured: the
        // panic came back, and abandoned pages were held for the whole drain). A resource
        // still loading after DRAIN stays, with its cycle.
        let shared = owner.shared_context();
        owner.cleanup();
        drop(owner);
        tracing::debug!(before_first_bytes, "put away a page whose client left");
        if let Some(data) = shared.and_then(|sc| sc.pending_data()) {
            let _ = tokio::time::timeout(DRAIN, data.for_each(|_| async {})).await;
        }
    });
}

struct PutAwayLate {
    body: Option<Body>,
    finished: bool,
    owner: Option<Owner>,
}

impl http_body::Body for PutAwayLate {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        let frame = Pin::new(body).poll_frame(cx);
        if matches!(frame, Poll::Ready(None)) {
            this.finished = true;
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), |b| b.size_hint())
    }
}

impl Drop for PutAwayLate {
    fn drop(&mut self) {
        let Some(body) = self.body.take() else { return };
        if self.finished || body.is_end_stream() {
            return;
        }
        if let Some(owner) = self.owner.take() {
            put_away(Some(body), owner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    /// A body of one chunk that records when it is dropped.
    struct Watched(Option<Bytes>, Arc<AtomicBool>);
    impl http_body::Body for Watched {
        type Data = Bytes;
        type Error = axum::Error;
        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
            Poll::Ready(self.0.take().map(|b| Ok(Frame::data(b))))
        }
    }
    impl Drop for Watched {
        fn drop(&mut self) {
            self.1.store(true, Ordering::SeqCst);
        }
    }

    /// A body wrapped as the middleware wraps a page's (with an owner) or anything else's.
    fn wrapped(page: bool) -> (Body, Arc<AtomicBool>) {
        let dropped = Arc::new(AtomicBool::new(false));
        let body = Body::new(Watched(Some(Bytes::from_static(b"page")), dropped.clone()));
        let owner = page.then(|| Owner::new_root(None));
        let response = wrap(Response::new(body), owner);
        (response.into_body(), dropped)
    }

    #[tokio::test]
    async fn a_body_sent_to_its_end_is_dropped_at_once() {
        let (body, dropped) = wrapped(true);
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"page");
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_body_of_no_page_left_unfinished_is_dropped_at_once() {
        let (body, dropped) = wrapped(false);
        drop(body);
        assert!(dropped.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn a_page_left_unfinished_is_dropped_after_the_grace() {
        let (body, dropped) = wrapped(true);
        let left = std::time::Instant::now();
        drop(body);
        // Kept through the grace (the task only sleeps until it is over)...
        tokio::time::sleep(GRACE - Duration::from_millis(100)).await;
        assert!(
            !dropped.load(Ordering::SeqCst),
            "dropped before the grace was over"
        );
        // ...and dropped once it is over (waiting longer only for a busy machine).
        while !dropped.load(Ordering::SeqCst) {
            assert!(left.elapsed() < GRACE * 10, "never dropped");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(left.elapsed() >= GRACE);
    }

    /// What the page's views saw in Suspense's walk that the test lets race the drop.
    #[derive(Debug, PartialEq)]
    enum Walk {
        SawLiveSignal,
        SawDisposedSignal,
        NeverRan,
    }

    /// The race itself, made certain: a page whose `Suspense` holds its view walk (the one
    /// Leptos runs on a worker thread when the page's resource resolves) until the test has
    /// dropped the response body, as hyper does when the client leaves, and then reads a
    /// signal of the page. `put_away` says whether the body goes through [`put_away_late`].
    async fn walk_racing_a_dropped_page(put_away: bool) -> Walk {
        use leptos::prelude::*;
        use std::sync::atomic::{AtomicU8, AtomicUsize};
        use std::sync::mpsc;
        use std::sync::Mutex;

        // The executor leptos_axum sets up for a server.
        let _ = any_spawner::Executor::init_tokio();
        let (in_walk_tx, in_walk_rx) = mpsc::channel::<()>();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let in_walk_tx = Arc::new(Mutex::new(in_walk_tx));
        let go_rx = Arc::new(Mutex::new(go_rx));
        let seen = Arc::new(AtomicU8::new(0));
        let page = {
            let seen = seen.clone();
            move || {
                let (in_walk_tx, go_rx, seen) = (in_walk_tx.clone(), go_rx.clone(), seen.clone());
                let calls = Arc::new(AtomicUsize::new(0));
                let shown = RwSignal::new(7u32);
                let data = Resource::new(
                    || (),
                    |_| async {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        1u32
                    },
                );
                view! {
                    <Suspense fallback=|| "Loading">
                        {move || {
                            // Call 0 is the first render's walk; call 1 is the walk of
                            // Suspense's effect once `data` resolved.
                            let mut live = true;
                            if calls.fetch_add(1, Ordering::SeqCst) == 1 {
                                in_walk_tx.lock().unwrap().send(()).ok();
                                go_rx.lock().unwrap().recv_timeout(Duration::from_secs(5)).ok();
                                live = shown.try_get().is_some();
                                seen.store(if live { 1 } else { 2 }, Ordering::SeqCst);
                            }
                            // Awaiting the disposed `data` would panic this worker thread:
                            // that is the bug, already recorded above.
                            Suspend::new(async move { if live { data.await } else { 0 } })
                        }}
                    </Suspense>
                }
            }
        };
        let handler = leptos_axum::render_app_to_stream_with_context(remember_page_owner, page);
        let slot = PageOwner::default();
        let mut request = axum::http::Request::get("/").body(Body::empty()).unwrap();
        request.extensions_mut().insert(slot.clone());
        let mut response = handler(request).await;
        let owner = slot.take();
        assert!(owner.is_some(), "the page's root owner was not recorded");
        if put_away {
            response = wrap(response, owner);
        } else {
            drop(owner);
        }
        let in_walk =
            tokio::task::spawn_blocking(move || in_walk_rx.recv_timeout(Duration::from_secs(5)));
        if in_walk.await.unwrap().is_err() {
            return Walk::NeverRan;
        }
        drop(response);
        go_tx.send(()).unwrap();
        for _ in 0..500 {
            match seen.load(Ordering::SeqCst) {
                1 => return Walk::SawLiveSignal,
                2 => return Walk::SawDisposedSignal,
                _ => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        Walk::NeverRan
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_dropped_at_once_is_disposed_under_leptoss_own_walk() {
        // Why this module exists: without it the walk reads a disposed signal (a plain
        // `get()` there panics the worker thread).
        assert_eq!(
            walk_racing_a_dropped_page(false).await,
            Walk::SawDisposedSignal
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_put_away_late_outlives_leptoss_own_walk() {
        assert_eq!(walk_racing_a_dropped_page(true).await, Walk::SawLiveSignal);
    }

    /// How long the leak tests' pages load their one resource.
    const LOADING: Duration = Duration::from_millis(300);

    /// The leak tests' page: one resource, loading for [`LOADING`], shown in a Suspense.
    fn loading_page() -> impl leptos::IntoView {
        use leptos::prelude::*;
        let data = Resource::new(
            || (),
            |_| async {
                tokio::time::sleep(LOADING).await;
                1u32
            },
        );
        view! { <Suspense fallback=|| "Loading">{move || Suspend::new(async move { data.await })}</Suspense> }
    }

    /// Tasks still alive after `n` pages whose resource was loading when their body was
    /// dropped, a moment after the grace. `put_away`: through [`put_away_late`]'s wrapping
    /// with the owner recorded as the server records it.
    async fn tasks_left_by_abandoned_pages(n: usize, put_away: bool) -> usize {
        let _ = any_spawner::Executor::init_tokio();
        let metrics = tokio::runtime::Handle::current().metrics();
        let handler =
            leptos_axum::render_app_to_stream_with_context(remember_page_owner, loading_page);
        let before = metrics.num_alive_tasks();
        for _ in 0..n {
            let slot = PageOwner::default();
            let mut request = axum::http::Request::get("/").body(Body::empty()).unwrap();
            request.extensions_mut().insert(slot.clone());
            let response = handler(request).await;
            let owner = slot.take();
            // The client leaves after the first chunk, while `data` is still loading.
            drop(if put_away {
                wrap(response, owner)
            } else {
                response
            });
        }
        tokio::time::sleep(GRACE + LOADING + Duration::from_secs(1)).await;
        metrics.num_alive_tasks().saturating_sub(before)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leptos_alone_keeps_a_task_for_each_page_left_while_loading() {
        // Why the clean-up exists: the leak it ends, as Leptos 0.8.23 has it.
        assert_eq!(tasks_left_by_abandoned_pages(20, false).await, 20);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_left_while_loading_leaves_no_task_behind() {
        assert_eq!(tasks_left_by_abandoned_pages(20, true).await, 0);
    }

    /// Tasks still alive after `n` in-order pages (their first bytes wait for `data`) whose
    /// client left before they answered, a moment after the grace; with or without
    /// [`put_away_late`] around the handler.
    async fn tasks_left_by_unanswered_pages(n: usize, put_away: bool) -> usize {
        use tower::ServiceExt;
        let _ = any_spawner::Executor::init_tokio();
        let metrics = tokio::runtime::Handle::current().metrics();
        let handler = leptos_axum::render_app_to_stream_in_order_with_context(
            remember_page_owner,
            loading_page,
        );
        let app = axum::Router::new().route("/", axum::routing::get(move |r: Request| handler(r)));
        let app = if put_away {
            app.layer(axum::middleware::from_fn(put_away_late))
        } else {
            app
        };
        let before = metrics.num_alive_tasks();
        for _ in 0..n {
            let request = axum::http::Request::get("/").body(Body::empty()).unwrap();
            let answer =
                tokio::time::timeout(Duration::from_millis(10), app.clone().oneshot(request));
            assert!(
                answer.await.is_err(),
                "the page answered before its data loaded"
            );
        }
        tokio::time::sleep(GRACE + LOADING + Duration::from_secs(1)).await;
        metrics.num_alive_tasks().saturating_sub(before)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn leptos_alone_keeps_a_task_for_each_page_left_unanswered() {
        assert_eq!(tasks_left_by_unanswered_pages(20, false).await, 20);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_page_left_unanswered_leaves_no_task_behind() {
        assert_eq!(tasks_left_by_unanswered_pages(20, true).await, 0);
    }
}
