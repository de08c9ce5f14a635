//! Connecting an account: `/integrations/{provider}/start` sends the browser to the
//! provider (authorization code with PKCE; state and verifier kept in the server session,
//! with the scope it was started from), `/integrations/{provider}/callback` exchanges the
//! code, asks the API who the account is, seals both tokens for the new connection and
//! saves it in the same scope. Every failure lands on the connections page with plain
//! words and a reference that matches a log line.

use super::api;
use super::provider::Integrations;
use crate::layout::scoped_path;
use crate::session;
use crate::sign_in::oidc::CallbackQuery;
use axum::extract::{Path, Query, State};
use axum::response::Redirect;
use axum::routing::get;
use axum::Router;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tenancy::TenantDb;
use tower_sessions::Session;
use uuid::Uuid;
use vault::{Secret, Vault};

const FLOW_KEY: &str = "enclave.connect_flow";
const FLOW_LIFETIME_SECS: i64 = 15 * 60;

#[derive(Clone)]
pub struct ConnectState {
    pub integrations: Arc<Integrations>,
    pub vault: Vault,
    pub db: TenantDb,
}

pub fn router<S: Clone + Send + Sync + 'static>(state: ConnectState) -> Router<S> {
    Router::new()
        .route("/integrations/{provider}/start", get(start))
        .route("/integrations/{provider}/callback", get(callback))
        .with_state(state)
}

#[derive(Serialize, Deserialize)]
struct PendingConnect {
    provider: String,
    state: String,
    pkce_verifier: String,
    client: Option<String>,
    /// Reconnecting keeps the connection's id (and its history).
    connection: Uuid,
    started_at: i64,
}

#[derive(Deserialize)]
struct StartQuery {
    client: Option<String>,
    reconnect: Option<Uuid>,
}

/// Back to the connections page of `client`, with a problem code and a reference.
fn fail(client: Option<&str>, problem: &str, detail: &str) -> Redirect {
    let reference = crate::error::new_request_id();
    tracing::warn!(request_id = %reference, problem, detail, "connecting an account failed");
    Redirect::to(&format!(
        "{}?problem={problem}&ref={reference}",
        scoped_path(client, "connections")
    ))
}

fn clean_slug(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_string()).filter(|s| {
        !s.is_empty()
            && s.len() <= 100
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    })
}

async fn start(
    State(state): State<ConnectState>,
    Path(provider_id): Path<String>,
    Query(query): Query<StartQuery>,
    session: Session,
) -> Redirect {
    let client = clean_slug(query.client);
    // Signed in, and allowed in this scope, before anything leaves for the provider.
    if let Err(e) = session::scope_of(&state.db, &session, client.clone()).await {
        return match e {
            crate::error::AppError::NotSignedIn => Redirect::to("/sign-in"),
            e => fail(client.as_deref(), "no_access", &e.to_string()),
        };
    }
    let Some(provider) = state.integrations.find(&provider_id) else {
        return fail(client.as_deref(), "unknown_provider", &provider_id);
    };
    let started = match state.integrations.authorization(provider) {
        Ok(s) => s,
        Err(e) => return fail(client.as_deref(), "misconfigured", &e),
    };
    let pending = PendingConnect {
        provider: provider.id.clone(),
        state: started.state,
        pkce_verifier: started.pkce_verifier,
        client,
        connection: query.reconnect.unwrap_or_else(Uuid::new_v4),
        started_at: session::now_unix(),
    };
    let client = pending.client.clone();
    if let Err(e) = session.insert(FLOW_KEY, pending).await {
        return fail(client.as_deref(), "internal", &e.to_string());
    }
    Redirect::to(&started.url)
}

async fn callback(
    State(state): State<ConnectState>,
    Path(provider_id): Path<String>,
    Query(query): Query<CallbackQuery>,
    session: Session,
) -> Redirect {
    // Taken out whatever happens next: a state value is good for one return only.
    let pending: Option<PendingConnect> = match session.remove(FLOW_KEY).await {
        Ok(p) => p,
        Err(e) => return fail(None, "internal", &e.to_string()),
    };
    let Some(pending) = pending else {
        return fail(
            None,
            "bad_state",
            "no connection in progress in this session",
        );
    };
    let client = pending.client.clone();
    match finish(&state, &provider_id, query, pending, &session).await {
        Ok(()) => Redirect::to(&format!(
            "{}?connected=1",
            scoped_path(client.as_deref(), "connections")
        )),
        Err((problem, detail)) => fail(client.as_deref(), problem, &detail),
    }
}

async fn finish(
    state: &ConnectState,
    provider_id: &str,
    query: CallbackQuery,
    pending: PendingConnect,
    session: &Session,
) -> Result<(), (&'static str, String)> {
    if let Some(error) = &query.error {
        let detail = format!(
            "provider returned error={error} ({})",
            query
                .error_description
                .as_deref()
                .unwrap_or("no description")
        );
        return Err((
            if error == "access_denied" {
                "denied"
            } else {
                "provider_error"
            },
            detail,
        ));
    }
    let returned = query.state.as_deref().unwrap_or_default();
    if pending.provider != provider_id
        || !crate::sign_in::oidc::constant_time_eq(pending.state.as_bytes(), returned.as_bytes())
    {
        return Err((
            "bad_state",
            "state does not match this session's connection".into(),
        ));
    }
    if session::now_unix() - pending.started_at > FLOW_LIFETIME_SECS {
        return Err(("bad_state", "started too long ago".into()));
    }
    let code = query
        .code
        .ok_or(("provider_error", "no code in the callback".to_string()))?;
    let provider = state
        .integrations
        .find(provider_id)
        .ok_or(("unknown_provider", provider_id.to_string()))?;
    // The scope again: membership or assignment may have changed while at the provider.
    let ctx = session::scope_of(&state.db, session, pending.client.clone())
        .await
        .map_err(|e| ("no_access", e.to_string()))?;
    let tokens = state
        .integrations
        .exchange_code(provider, code, pending.pkce_verifier)
        .await
        .map_err(|e| ("exchange", e.to_string()))?;
    let account = api::account(
        &state.integrations,
        provider,
        &Secret::new(tokens.access_token()),
    )
    .await
    .map_err(|e| ("account", e.to_string()))?;
    let conn = super::tokens::ConnectionRef::in_scope(&ctx, pending.connection);
    let seal = |value: &str, which| {
        state
            .vault
            .seal(&Secret::new(value), &conn.binding(which))
            .map(vault::Envelope::into_bytes)
            .map_err(|e| ("internal", e.to_string()))
    };
    let access = seal(tokens.access_token(), "access")?;
    let refresh = tokens
        .refresh_token()
        .map(|t| seal(t, "refresh"))
        .transpose()?;
    let expires_at = tokens.expires_at(time::OffsetDateTime::now_utc());
    let save = async {
        let mut tx = state.db.begin(&ctx).await?;
        tx.query("SELECT enclave.save_connection($1, $2, $3, $4, $5, $6, $7)")
            .bind(conn.connection)
            .bind(&provider.id)
            .bind(account.name.chars().take(200).collect::<String>())
            .bind(account.id.chars().take(200).collect::<String>())
            .bind(&access)
            .bind(&refresh)
            .bind(expires_at)
            .execute(tx.conn())
            .await?;
        tx.commit().await
    };
    save.await
        .map_err(|e: tenancy::TenantError| ("save", e.to_string()))?;
    tracing::info!(org_id = %conn.org, connection = %conn.connection, provider = %provider.id, "account connected");
    Ok(())
}
