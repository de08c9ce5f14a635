//! Rate limits, with the `governor` crate's keyed GCRA limiters, and the client address
//! they are keyed by. The refusal is a page in plain words with `Retry-After` (or, for a
//! server-function call from a hydrated page, the same words as an `AppError`).
//!
//! A middleware rather than `tower_governor`'s layer on a sub-router: leptos_axum
//! registers every server function's route itself, so those endpoints cannot be given a
//! route (and a layer) of their own; the middleware picks them by path.
//!
//! | action | paths | key | default |
//! |---|---|---|---|
//! | sign-in, accepting invitations | `/auth/*`, `/api/accept_invitation`, `/api/demo_sign_in` | client address | 30 per minute |
//! | sending invitations | `/api/invite_member` | client address (and, in the database, 100 per organization per day) | 30 per minute |
//! | uploads | `/import/upload`, `/clients/{slug}/import/upload` | signed-in user (else client address) | 30 per hour |
//! | generation | `/api/generate_outputs`, `/api/retry_job` | signed-in user | 60 per hour |
//! | creating organizations and clients | `/api/create_organization`, `/api/add_client` | signed-in user | 20 per hour |

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Response, StatusCode};
use axum::middleware::Next;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use tower_sessions::Session;

/// The client's address as this server judges it: the peer, or, when the peer is a
/// trusted proxy (`ENCLAVE_TRUSTED_PROXIES`), the nearest address in `X-Forwarded-For`
/// that is not itself a trusted proxy. Set on every request by [`resolve_client_addr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// `ENCLAVE_TRUSTED_PROXIES`: addresses or networks (`10.0.0.0/8, 192.168.1.7`) whose
/// `X-Forwarded-For` is believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<ipnet::IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(ipnet::IpNet::from))
                    .map_err(|_| {
                        format!("ENCLAVE_TRUSTED_PROXIES: {s:?} is not an address or a network")
                    })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    fn trusts(&self, ip: &IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(ip))
    }

    /// The client address of a request from `peer` with these headers. Forwarded-for
    /// entries are read from the right (the proxy nearest to us appended the last one);
    /// the first one that is not a trusted proxy is the client. A garbled entry stops
    /// the walk at the last address that could be judged.
    pub fn client_of(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        if !self.trusts(&peer) {
            return peer;
        }
        let mut client = peer;
        for value in headers.get_all("x-forwarded-for").iter().rev() {
            let Ok(value) = value.to_str() else {
                return client;
            };
            for entry in value.rsplit(',') {
                let Ok(ip) = entry.trim().parse::<IpAddr>() else {
                    return client;
                };
                client = ip;
                if !self.trusts(&ip) {
                    return ip;
                }
            }
        }
        client
    }
}

/// Middleware: works out [`ClientAddr`] once per request (the server runs with connect
/// info), for the limits and the logs.
pub async fn resolve_client_addr(
    State(proxies): State<Arc<TrustedProxies>>,
    mut request: Request<Body>,
    next: Next,
) -> Response<Body> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    match peer {
        Some(peer) => {
            let client = proxies.client_of(peer, request.headers());
            request.extensions_mut().insert(ClientAddr(client));
        }
        None => tracing::error!("no peer address on the request (serve with connect info)"),
    }
    next.run(request).await
}

/// What a limited path is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SignIn,
    Invite,
    Upload,
    Generate,
    Create,
}

impl Action {
    pub fn of(path: &str) -> Option<Self> {
        match path {
            p if p.starts_with("/auth/") => Some(Self::SignIn),
            "/api/accept_invitation" | "/api/demo_sign_in" => Some(Self::SignIn),
            "/api/invite_member" => Some(Self::Invite),
            "/import/upload" => Some(Self::Upload),
            p if p.starts_with("/clients/") && p.ends_with("/import/upload") => Some(Self::Upload),
            "/api/generate_outputs" | "/api/retry_job" => Some(Self::Generate),
            "/api/create_organization" | "/api/add_client" => Some(Self::Create),
            _ => None,
        }
    }

    /// Keyed by the person when signed in: many colleagues behind one office address
    /// must not share a bucket for their work.
    fn per_user(self) -> bool {
        matches!(self, Self::Upload | Self::Generate | Self::Create)
    }

    fn words(self) -> &'static str {
        match self {
            Self::SignIn => "sign-in or invitation requests from your network",
            Self::Invite => "invitations sent from your network",
            Self::Upload => "file uploads",
            Self::Generate => "draft generations",
            Self::Create => "new organizations or clients",
        }
    }
}

/// Allowances, each as requests per period, all usable at once and refilled evenly.
#[derive(Debug, Clone, Copy)]
pub struct RateSettings {
    pub sign_in_per_minute: u32,
    pub uploads_per_hour: u32,
    pub generations_per_hour: u32,
    pub creations_per_hour: u32,
}

impl Default for RateSettings {
    fn default() -> Self {
        Self {
            sign_in_per_minute: 30,
            uploads_per_hour: 30,
            generations_per_hour: 60,
            creations_per_hour: 20,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Addr(IpAddr),
    User(String),
}

#[derive(Clone)]
pub struct RateLimits {
    limiters: Arc<[(Action, DefaultKeyedRateLimiter<Key>)]>,
}

fn at_least_one(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN)
}

impl RateLimits {
    pub fn new(s: RateSettings) -> Self {
        let keyed = |q: Quota| DefaultKeyedRateLimiter::keyed(q);
        let sign_in = Quota::per_minute(at_least_one(s.sign_in_per_minute));
        Self {
            limiters: Arc::new([
                (Action::SignIn, keyed(sign_in)),
                (Action::Invite, keyed(sign_in)),
                (
                    Action::Upload,
                    keyed(Quota::per_hour(at_least_one(s.uploads_per_hour))),
                ),
                (
                    Action::Generate,
                    keyed(Quota::per_hour(at_least_one(s.generations_per_hour))),
                ),
                (
                    Action::Create,
                    keyed(Quota::per_hour(at_least_one(s.creations_per_hour))),
                ),
            ]),
        }
    }

    /// Drops the state of keys that are back to a full allowance (bounded memory).
    pub fn forget_idle(&self) {
        for (_, limiter) in self.limiters.iter() {
            limiter.retain_recent();
        }
    }

    /// `Err(seconds to wait)` when the key has used its allowance.
    fn check(&self, action: Action, key: &Key) -> Result<(), u64> {
        let Some((_, limiter)) = self.limiters.iter().find(|(a, _)| *a == action) else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| {
            not_until
                .wait_time_from(DefaultClock::default().now())
                .as_secs()
                + 1
        })
    }
}

/// The signed-in user's id from the session, without trusting anything the client sent
/// beyond the session cookie.
async fn session_user(session: Option<Session>) -> Option<String> {
    let user: serde_json::Value = session?.get(tenancy::SESSION_USER_KEY).await.ok()??;
    user.get("user_id")?.as_str().map(str::to_string)
}

/// Middleware (inside the session layer, so per-user limits can read the session):
/// limited paths are counted; everything else passes untouched.
pub async fn limit_actions(
    State(limits): State<RateLimits>,
    request: Request<Body>,
    next: Next,
) -> Response<Body> {
    let Some(action) = Action::of(request.uri().path()) else {
        return next.run(request).await;
    };
    let addr = request.extensions().get::<ClientAddr>().map(|c| c.0);
    let user = if action.per_user() {
        session_user(request.extensions().get::<Session>().cloned()).await
    } else {
        None
    };
    let key = match (user, addr) {
        (Some(user), _) => Key::User(user),
        (None, Some(addr)) => Key::Addr(addr),
        (None, None) => {
            tracing::error!("rate limiter: no client address on the request");
            return next.run(request).await;
        }
    };
    match limits.check(action, &key) {
        Ok(()) => next.run(request).await,
        Err(wait) => {
            tracing::warn!(client = ?addr, ?action, path = %request.uri().path(), wait, "rate limit reached");
            refusal(
                action,
                wait,
                request.uri().path().starts_with("/api/"),
                request.headers(),
            )
        }
    }
}

fn refusal(action: Action, wait: u64, server_fn: bool, headers: &HeaderMap) -> Response<Body> {
    let words = format!(
        "There were too many {} in a short time. Please wait {} and try again.",
        action.words(),
        crate::plain_page::wait_words(wait)
    );
    let back = if matches!(action, Action::SignIn | Action::Invite) {
        "<a href=\"/sign-in\">Back to sign-in</a>"
    } else {
        "<a href=\"/\">Back to Enclave</a>"
    };
    crate::plain_page::refusal(
        StatusCode::TOO_MANY_REQUESTS,
        wait,
        server_fn,
        headers,
        ("Too many attempts", &words, back),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{header, HeaderValue, Request};
    use axum::routing::{get, post};
    use axum::Router;
    use tower::ServiceExt;

    fn at(path: &str, ip: [u8; 4]) -> Request<Body> {
        let method = if path.starts_with("/api/") || path.ends_with("/upload") {
            "POST"
        } else {
            "GET"
        };
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .body(Body::empty())
            .unwrap();
        request
            .extensions_mut()
            .insert(ConnectInfo(SocketAddr::from((ip, 40000))));
        request
    }

    fn app(settings: RateSettings, proxies: &str) -> Router {
        Router::new()
            .route("/auth/test/start", get(|| async { "ok" }))
            .route("/api/invite_member", post(|| async { "ok" }))
            .route("/import/upload", post(|| async { "ok" }))
            .route("/api/add_client", post(|| async { "ok" }))
            .route("/brand", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(
                RateLimits::new(settings),
                limit_actions,
            ))
            .layer(axum::middleware::from_fn_with_state(
                Arc::new(TrustedProxies::parse(proxies).unwrap()),
                resolve_client_addr,
            ))
    }

    #[tokio::test]
    async fn requests_over_the_limit_get_a_clear_429_per_client_address() {
        let settings = RateSettings {
            sign_in_per_minute: 3,
            ..RateSettings::default()
        };
        let app = app(settings, "");
        for _ in 0..3 {
            let ok = app
                .clone()
                .oneshot(at("/auth/test/start", [10, 0, 0, 1]))
                .await
                .unwrap();
            assert_eq!(ok.status(), StatusCode::OK);
        }
        let refused = app
            .clone()
            .oneshot(at("/auth/test/start", [10, 0, 0, 1]))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let wait: u64 = refused.headers()[header::RETRY_AFTER]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=20).contains(&wait), "Retry-After {wait}");
        let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .unwrap();
        let page = String::from_utf8(body.to_vec()).unwrap();
        assert!(page.contains("Too many attempts"), "{page}");
        assert!(
            page.contains(&format!("wait {}", crate::plain_page::wait_words(wait))),
            "{page}"
        );
        // Another client address has its own allowance.
        let other = app
            .clone()
            .oneshot(at("/auth/test/start", [10, 0, 0, 2]))
            .await
            .unwrap();
        assert_eq!(other.status(), StatusCode::OK);
        // Other pages are not limited.
        let page = app
            .clone()
            .oneshot(at("/brand", [10, 0, 0, 1]))
            .await
            .unwrap();
        assert_eq!(page.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn uploads_and_creation_have_limits_of_their_own() {
        let settings = RateSettings {
            uploads_per_hour: 2,
            creations_per_hour: 1,
            ..RateSettings::default()
        };
        let app = app(settings, "");
        for _ in 0..2 {
            let ok = app
                .clone()
                .oneshot(at("/import/upload", [10, 0, 0, 9]))
                .await
                .unwrap();
            assert_eq!(ok.status(), StatusCode::OK);
        }
        let refused = app
            .clone()
            .oneshot(at("/import/upload", [10, 0, 0, 9]))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        let ok = app
            .clone()
            .oneshot(at("/api/add_client", [10, 0, 0, 9]))
            .await
            .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let refused = app
            .clone()
            .oneshot(at("/api/add_client", [10, 0, 0, 9]))
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        // A server function's refusal decodes as its error, in plain words.
        assert!(refused.headers().contains_key("serverfnerror"));
        let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .unwrap();
        let error: app::error::AppError = serde_json::from_slice(&body).unwrap();
        assert!(
            error
                .to_string()
                .contains("too many new organizations or clients"),
            "{error}"
        );
    }

    #[test]
    fn every_limited_action_is_recognised_by_path() {
        assert_eq!(Action::of("/auth/google/callback"), Some(Action::SignIn));
        assert_eq!(Action::of("/api/accept_invitation"), Some(Action::SignIn));
        assert_eq!(Action::of("/api/invite_member"), Some(Action::Invite));
        assert_eq!(
            Action::of("/clients/acme/import/upload"),
            Some(Action::Upload)
        );
        assert_eq!(Action::of("/api/generate_outputs"), Some(Action::Generate));
        assert_eq!(Action::of("/api/create_organization"), Some(Action::Create));
        assert_eq!(Action::of("/campaigns"), None);
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 203.0.113.5, 10.1.2.3"),
        );
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // From a trusted proxy: the nearest untrusted entry (a client cannot choose it by
        // prepending addresses of its own).
        assert_eq!(
            proxies.client_of(ip("10.0.0.1"), &headers),
            ip("203.0.113.5")
        );
        assert_eq!(
            proxies.client_of(ip("192.168.1.7"), &headers),
            ip("203.0.113.5")
        );
        // From anyone else: the header is ignored.
        assert_eq!(
            proxies.client_of(ip("198.51.100.1"), &headers),
            ip("198.51.100.1")
        );
        // Garbage stops the walk at what could be judged.
        headers.insert("x-forwarded-for", HeaderValue::from_static("not-an-ip"));
        assert_eq!(proxies.client_of(ip("10.0.0.1"), &headers), ip("10.0.0.1"));
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("").unwrap().0.is_empty());
    }

    #[tokio::test]
    async fn behind_a_trusted_proxy_each_client_has_its_own_allowance() {
        let settings = RateSettings {
            sign_in_per_minute: 1,
            ..RateSettings::default()
        };
        let app = app(settings, "127.0.0.1");
        let via_proxy = |client: &'static str| {
            let mut r = at("/auth/test/start", [127, 0, 0, 1]);
            r.headers_mut()
                .insert("x-forwarded-for", HeaderValue::from_static(client));
            r
        };
        assert_eq!(
            app.clone()
                .oneshot(via_proxy("203.0.113.1"))
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            app.clone()
                .oneshot(via_proxy("203.0.113.2"))
                .await
                .unwrap()
                .status(),
            StatusCode::OK
        );
        assert_eq!(
            app.clone()
                .oneshot(via_proxy("203.0.113.1"))
                .await
                .unwrap()
                .status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }
}
