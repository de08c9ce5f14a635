//! Sign-in with OpenID Connect: authorization code flow with PKCE, `state` and `nonce`
//! kept in the server session, ID token checked (signature, issuer, audience, expiry,
//! nonce) by the `openidconnect` crate. Every failure lands on the sign-in page with a
//! plain-words reason and a reference that matches a log line.

use super::{same_origin_return_path, SignInProblem};
use crate::session;
use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tenancy::{TenantDb, VerifiedIdentity};
use tower_sessions::Session;

const FLOW_KEY: &str = "enclave.oidc_flow";
/// Provider metadata and keys are fetched again after this long.
const METADATA_TTL: Duration = Duration::from_secs(300);
/// A sign-in left at the provider longer than this must start again.
const FLOW_LIFETIME_SECS: i64 = 15 * 60;

/// One configured OpenID provider.
#[derive(Clone)]
pub struct ProviderConfig {
    /// Short name used in URLs (`/auth/{id}/start`).
    pub id: String,
    /// What the sign-in button says.
    pub name: String,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
}

impl std::fmt::Debug for ProviderConfig {
    // The client secret never reaches a log line.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderConfig")
            .field("id", &self.id)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// The configured providers, the public URL their callbacks use, and a cache of each
/// provider's discovery document and signing keys.
pub struct OidcProviders {
    providers: Vec<ProviderConfig>,
    public_url: String,
    http: openidconnect::reqwest::Client,
    metadata: Mutex<HashMap<String, (Instant, CoreProviderMetadata)>>,
}

impl OidcProviders {
    pub fn new(providers: Vec<ProviderConfig>, public_url: &str) -> Result<Self, String> {
        for p in &providers {
            IssuerUrl::new(p.issuer.clone())
                .map_err(|e| format!("provider {}: issuer URL: {e}", p.id))?;
        }
        let http = openidconnect::reqwest::Client::builder()
            // Following redirects would let a provider response steer us elsewhere (SSRF).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(Self {
            providers,
            public_url: public_url.trim_end_matches('/').to_string(),
            http,
            metadata: Mutex::new(HashMap::new()),
        })
    }

    /// The origin browsers use, without a trailing slash.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// (id, display name) of every provider, for the sign-in page.
    pub fn listed(&self) -> Vec<(String, String)> {
        self.providers
            .iter()
            .map(|p| (p.id.clone(), p.name.clone()))
            .collect()
    }

    fn find(&self, id: &str) -> Option<&ProviderConfig> {
        self.providers.iter().find(|p| p.id == id)
    }

    async fn provider_metadata(&self, p: &ProviderConfig) -> Result<CoreProviderMetadata, String> {
        if let Some((at, meta)) = self.metadata.lock().unwrap().get(&p.id) {
            if at.elapsed() < METADATA_TTL {
                return Ok(meta.clone());
            }
        }
        let issuer = IssuerUrl::new(p.issuer.clone()).map_err(|e| e.to_string())?;
        let meta = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| error_chain(&e))?;
        self.metadata
            .lock()
            .unwrap()
            .insert(p.id.clone(), (Instant::now(), meta.clone()));
        Ok(meta)
    }

    /// Fetches every provider's discovery document (and signing keys) now, bypassing the
    /// cache: each provider's id with the issuer it names, or why it failed (`enclave
    /// doctor`).
    pub async fn check_discovery(&self) -> Vec<(String, Result<String, String>)> {
        let mut results = Vec::new();
        for p in &self.providers {
            self.forget_metadata(&p.id);
            let result = self
                .provider_metadata(p)
                .await
                .map(|meta| meta.issuer().to_string());
            results.push((p.id.clone(), result));
        }
        results
    }

    fn forget_metadata(&self, id: &str) {
        self.metadata.lock().unwrap().remove(id);
    }

    fn redirect_url(&self, id: &str) -> Result<RedirectUrl, String> {
        RedirectUrl::new(format!("{}/auth/{id}/callback", self.public_url))
            .map_err(|e| e.to_string())
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// What the session remembers between sending the browser to the provider and its
/// return.
#[derive(Serialize, Deserialize)]
struct PendingSignIn {
    provider: String,
    state: String,
    nonce: String,
    pkce_verifier: String,
    return_to: Option<String>,
    started_at: i64,
}

#[derive(Clone)]
pub struct SignInState {
    pub providers: Arc<OidcProviders>,
    pub db: TenantDb,
}

/// `/auth/{provider}/start` and `/auth/{provider}/callback`.
pub fn router<S: Clone + Send + Sync + 'static>(state: SignInState) -> Router<S> {
    Router::new()
        .route("/auth/{provider}/start", get(start))
        .route("/auth/{provider}/callback", get(callback))
        .with_state(state)
}

/// Logs the detail with a fresh reference and sends the browser to the sign-in page,
/// which explains `problem` in plain words.
fn fail(problem: SignInProblem, provider: &str, detail: &str) -> Redirect {
    let reference = crate::error::new_request_id();
    tracing::warn!(request_id = %reference, provider, problem = problem.code(), detail, "sign-in failed");
    Redirect::to(&format!(
        "/sign-in?problem={}&provider={}&ref={reference}",
        problem.code(),
        urlencode(provider)
    ))
}

fn urlencode(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .collect()
}

#[derive(Deserialize)]
struct StartQuery {
    return_to: Option<String>,
}

async fn start(
    State(state): State<SignInState>,
    Path(provider_id): Path<String>,
    Query(query): Query<StartQuery>,
    session: Session,
) -> Redirect {
    let Some(provider) = state.providers.find(&provider_id) else {
        return fail(
            SignInProblem::UnknownProvider,
            &provider_id,
            "no such provider configured",
        );
    };
    let meta = match state.providers.provider_metadata(provider).await {
        Ok(m) => m,
        Err(e) => return fail(SignInProblem::Unreachable, &provider.id, &e),
    };
    let redirect = match state.providers.redirect_url(&provider.id) {
        Ok(r) => r,
        Err(e) => return fail(SignInProblem::Misconfigured, &provider.id, &e),
    };
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(provider.client_id.clone()),
        provider.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(redirect);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("email".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = PendingSignIn {
        provider: provider.id.clone(),
        state: csrf.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        return_to: same_origin_return_path(
            state.providers.public_url(),
            query.return_to.as_deref(),
        ),
        started_at: session::now_unix(),
    };
    if let Err(e) = session.insert(FLOW_KEY, pending).await {
        return fail(SignInProblem::Internal, &provider.id, &e.to_string());
    }
    Redirect::to(url.as_str())
}

/// What an authorization server sends back to a redirect URI (sign-in here, connected
/// accounts in `integrations::oauth`).
#[derive(Deserialize)]
pub(crate) struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

async fn callback(
    State(state): State<SignInState>,
    Path(provider_id): Path<String>,
    Query(query): Query<CallbackQuery>,
    session: Session,
) -> Redirect {
    match finish(&state, &provider_id, query, &session).await {
        Ok(to) => Redirect::to(&to),
        Err((problem, detail)) => fail(problem, &provider_id, &detail),
    }
}

type Failure = (SignInProblem, String);

async fn finish(
    state: &SignInState,
    provider_id: &str,
    query: CallbackQuery,
    session: &Session,
) -> Result<String, Failure> {
    let internal = |e: &dyn std::fmt::Display| (SignInProblem::Internal, e.to_string());
    // Taken out whatever happens next: a state value is good for one return only.
    let pending: Option<PendingSignIn> =
        session.remove(FLOW_KEY).await.map_err(|e| internal(&e))?;
    if let Some(error) = &query.error {
        let detail = format!(
            "provider returned error={error} ({})",
            query
                .error_description
                .as_deref()
                .unwrap_or("no description")
        );
        let problem = if error == "access_denied" {
            SignInProblem::Denied
        } else {
            SignInProblem::ProviderError
        };
        return Err((problem, detail));
    }
    let pending = pending.ok_or((
        SignInProblem::BadState,
        "no sign-in in progress in this session (expired, or opened in another browser)".into(),
    ))?;
    let returned_state = query.state.as_deref().unwrap_or_default();
    if pending.provider != provider_id
        || !constant_time_eq(pending.state.as_bytes(), returned_state.as_bytes())
    {
        return Err((
            SignInProblem::BadState,
            "state does not match this session's sign-in".into(),
        ));
    }
    if session::now_unix() - pending.started_at > FLOW_LIFETIME_SECS {
        return Err((
            SignInProblem::BadState,
            "sign-in started too long ago".into(),
        ));
    }
    let code = query.code.ok_or((
        SignInProblem::ProviderError,
        "no code in the callback".into(),
    ))?;
    let provider = state.providers.find(provider_id).ok_or((
        SignInProblem::UnknownProvider,
        "no such provider configured".into(),
    ))?;
    let meta = state
        .providers
        .provider_metadata(provider)
        .await
        .map_err(|e| (SignInProblem::Unreachable, e))?;
    let client = CoreClient::from_provider_metadata(
        meta,
        ClientId::new(provider.client_id.clone()),
        provider.client_secret.clone().map(ClientSecret::new),
    )
    .set_redirect_uri(
        state
            .providers
            .redirect_url(&provider.id)
            .map_err(|e| (SignInProblem::Misconfigured, e))?,
    );
    let tokens = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| (SignInProblem::Misconfigured, e.to_string()))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
        .request_async(&state.providers.http)
        .await
        .map_err(|e| (SignInProblem::CodeRejected, error_chain(&e)))?;
    let id_token = tokens.id_token().ok_or((
        SignInProblem::TokenInvalid,
        "no ID token in the token response".into(),
    ))?;
    let nonce = Nonce::new(pending.nonce);
    let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
        Ok(c) => c,
        Err(e) => {
            // Keys may have rotated: the next attempt fetches them afresh.
            state.providers.forget_metadata(&provider.id);
            return Err((SignInProblem::TokenInvalid, error_chain(&e)));
        }
    };
    let identity = VerifiedIdentity {
        issuer: claims.issuer().as_str().to_string(),
        subject: claims.subject().as_str().to_string(),
        email: claims.email().map(|e| e.as_str().to_string()),
        email_verified: claims.email_verified().unwrap_or(false),
        name: claims
            .name()
            .and_then(|n| n.get(None))
            .map(|n| n.as_str().to_string()),
    };
    if identity.email.is_none() {
        return Err((
            SignInProblem::NoEmail,
            format!(
                "ID token of subject {} has no email claim",
                identity.subject
            ),
        ));
    }
    let user_id = state.db.sign_in(&identity).await.map_err(|e| match e {
        tenancy::TenantError::Rejected(detail) => (SignInProblem::NoEmail, detail),
        other => internal(&other),
    })?;
    session::begin(session, user_id)
        .await
        .map_err(|e| internal(&e))?;
    tracing::info!(%user_id, provider = %provider.id, "signed in");
    if let Some(to) = pending.return_to {
        return Ok(to);
    }
    let first_org = session::first_organization(&state.db, user_id)
        .await
        .map_err(|e| internal(&e))?;
    match first_org {
        Some(org) => {
            session::enter_organization(&state.db, session, user_id, org)
                .await
                .map_err(|e| internal(&e))?;
            Ok("/".into())
        }
        None => Ok("/welcome".into()),
    }
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
