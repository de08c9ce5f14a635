//! Connected accounts (issue 13): a scope (the SME, or one agency client) connects
//! external publishing accounts through OAuth 2.0 and publishes campaign outputs to them.
//! Tokens are kept only as envelopes of the vault crate (bound to the organization, the
//! client and the connection); `tokens.rs` refreshes them one at a time.
//!
//! `/connections` and `/clients/{client}/connections`: each connection's account, status
//! (connected; needs reconnecting, with the provider's reason), last refresh and expiry;
//! Connect, Reconnect and Disconnect.

#[cfg(feature = "ssr")]
pub mod api;
#[cfg(feature = "ssr")]
pub mod oauth;
#[cfg(feature = "ssr")]
pub mod provider;
pub mod publish;
#[cfg(feature = "ssr")]
pub mod tokens;

use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionView {
    pub connection_id: Uuid,
    pub provider: String,
    pub provider_name: String,
    pub account_name: String,
    /// "connected" or "needs_reconnect".
    pub status: String,
    pub status_reason: Option<String>,
    pub last_refreshed: Option<String>,
    pub expires: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionsPageData {
    /// (id, name) of every configured provider.
    pub providers: Vec<(String, String)>,
    pub connections: Vec<ConnectionView>,
}

/// The scope's connections and the providers it can connect.
#[server(endpoint = "connections")]
pub async fn list_connections(client: Option<String>) -> Result<ConnectionsPageData, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let integrations = integrations()?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let rows: Vec<(
        Uuid,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
    )> = tx
        .query_as(
            "SELECT connection_id, provider, account_name, status, status_reason,
                    to_char(last_refreshed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'),
                    to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"')
               FROM public.connections_unified WHERE org_id = $1 ORDER BY created_at, connection_id",
        )
        .bind(ctx.org_id())
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    let providers = integrations.listed();
    let name_of = |id: &str| {
        providers
            .iter()
            .find(|(p, _)| p == id)
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| format!("{id} (no longer configured)"))
    };
    Ok(ConnectionsPageData {
        connections: rows
            .into_iter()
            .map(|r| ConnectionView {
                connection_id: r.0,
                provider_name: name_of(&r.1),
                provider: r.1,
                account_name: r.2,
                status: r.3,
                status_reason: r.4,
                last_refreshed: r.5,
                expires: r.6,
            })
            .collect(),
        providers,
    })
}

#[cfg(feature = "ssr")]
fn integrations() -> Result<std::sync::Arc<provider::Integrations>, AppError> {
    use_context::<std::sync::Arc<provider::Integrations>>()
        .ok_or_else(|| crate::error::missing_context("Integrations"))
}

/// Revokes the grant at the provider (where it can) and deletes the connection with its
/// tokens. Returns a note when the provider could not be told.
#[server(endpoint = "disconnect_account")]
pub async fn disconnect_account(
    client: Option<String>,
    connection_id: Uuid,
) -> Result<Option<String>, AppError> {
    use vault::Envelope;
    let ctx = crate::session::require_scope(client).await?;
    let integrations = integrations()?;
    let vault = crate::session::vault()?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let row: Option<(String, Option<Vec<u8>>)> = tx
        .query_as("SELECT provider, refresh_token FROM enclave.lock_connection($1)")
        .bind(connection_id)
        .fetch_optional(tx.conn())
        .await?;
    let Some((provider_id, refresh)) = row else {
        return Err(AppError::NotAvailable(
            "This connection no longer exists; it may have been disconnected already.".into(),
        ));
    };
    let conn = tokens::ConnectionRef::in_scope(&ctx, connection_id);
    let mut note = None;
    if let (Some(provider), Some(refresh)) = (integrations.find(&provider_id), refresh) {
        let revoked = match Envelope::from_stored(refresh)
            .and_then(|e| vault.open(&e, &conn.binding("refresh")))
        {
            Ok(secret) => integrations.revoke(provider, secret.expose()).await,
            Err(e) => Err(e.to_string()),
        };
        if let Err(detail) = revoked {
            let reference = crate::error::new_request_id();
            tracing::warn!(request_id = %reference, %connection_id, %detail, "revoking at the provider failed; disconnected here anyway");
            note = Some(format!(
                "Disconnected here, but {} could not be told (reference {reference}); you can also remove Enclave's access in your account's settings there.",
                provider.name
            ));
        }
    }
    tx.query("SELECT enclave.delete_connection($1)")
        .bind(connection_id)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(note)
}

/// Asks the provider who the account is with a fresh token (renewed first when due, or
/// when the provider refuses the current one): says whether publishing would work now.
#[server(endpoint = "check_connection")]
pub async fn check_connection(
    client: Option<String>,
    connection_id: Uuid,
) -> Result<String, AppError> {
    use tokens::{CallError, ConnectionRef, TokenCall, TokenError};
    let ctx = crate::session::require_scope(client).await?;
    let integrations = integrations()?;
    let vault = crate::session::vault()?;
    let db = crate::session::db()?;
    let conn = ConnectionRef::in_scope(&ctx, connection_id);
    let mut call = TokenCall::default();
    let answer = loop {
        let (token, provider) = match call
            .token(db.begin(&ctx).await?, &integrations, &vault, conn)
            .await
        {
            Ok(t) => t,
            Err(e) => break Err(CallError::Token(e)),
        };
        let account = api::account(&integrations, provider, &token.secret).await;
        match call.answered(provider, token, account) {
            Ok(Some(account)) => {
                break Ok(format!(
                    "{} answers: publishing as {} works.",
                    provider.name, account.name
                ))
            }
            Ok(None) => continue,
            Err(e) => break Err(e),
        }
    };
    answer.map_err(|e| match e {
        CallError::Token(TokenError::Gone) => {
            AppError::NotAvailable("This connection no longer exists.".into())
        }
        CallError::Token(TokenError::NeedsReconnect(reason)) => AppError::NotAvailable(reason),
        CallError::Token(TokenError::Unavailable(detail)) => {
            AppError::NotAvailable(format!("{detail}. Please try again in a moment."))
        }
        CallError::Token(TokenError::Database(e)) => AppError::from(e),
        CallError::Token(e) => AppError::internal(&e),
        CallError::RefusedAfterRenewal(provider) => AppError::NotAvailable(format!(
            "{provider} refuses even a renewed token. Reconnect the account."
        )),
        CallError::Api(e) => AppError::NotAvailable(format!("{e}. Please try again in a moment.")),
    })
}

/// Plain words for the problem codes `oauth.rs` sends back.
fn connect_problem(code: &str) -> &'static str {
    match code {
        "denied" => "The account was not connected: access was not granted at the provider.",
        "bad_state" => "That connection attempt expired or was started in another browser or tab. Please try again.",
        "no_access" => "You cannot connect accounts here: this client is not assigned to you, was archived, or does not exist.",
        "unknown_provider" => "That provider is not configured here.",
        "exchange" | "provider_error" => "The provider did not complete the connection. Please try again in a moment.",
        "account" => "The provider connected, but did not say which account it is. Please try again in a moment.",
        "misconfigured" => "This provider is misconfigured on our side. The reference below helps an administrator fix it.",
        _ => "Something went wrong while connecting the account. Please try again.",
    }
}

#[component]
pub fn ConnectionsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let client = move || params.read().get("client");
    let disconnect = ServerAction::<DisconnectAccount>::new();
    let check = ServerAction::<CheckConnection>::new();
    let data = Resource::new(
        move || (client(), disconnect.version().get(), check.version().get()),
        |(client, ..)| list_connections(client),
    );
    let problem = move || {
        query.read().get("problem").map(|code| {
            let reference = query.read().get("ref").unwrap_or_default();
            (connect_problem(&code), reference)
        })
    };
    // Only until the next action on this page says something newer.
    let connected = move || {
        query.read().get("connected").is_some()
            && check.version().get() == 0
            && disconnect.version().get() == 0
    };
    view! {
        <Title text="Connected accounts · Enclave"/>
        <h1>"Connected accounts"</h1>
        <p class="lead">"Publishing accounts Enclave may post campaign outputs to. Enclave keeps their access sealed and renews it by itself."</p>
        <div aria-live="polite">
            {move || problem().map(|(words, reference)| view! {
                <p class="notice error" role="alert">{words}
                    {(!reference.is_empty()).then(|| view! { " " <span class="muted">"(reference " {reference} ")"</span> })}
                </p>
            })}
            {move || connected().then(|| view! { <p class="notice ok" role="status">"Account connected."</p> })}
            {move || check.value().get().map(|r| match r {
                Ok(words) => view! { <p class="notice ok" role="status">{words}</p> }.into_any(),
                Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
            })}
            {move || disconnect.value().get().map(|r| match r {
                Ok(None) => view! { <p class="notice ok" role="status">"Account disconnected."</p> }.into_any(),
                Ok(Some(note)) => view! { <p class="notice" role="status">{note}</p> }.into_any(),
                Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
            })}
        </div>
        <Transition fallback=|| view! { <p class="loading" aria-live="polite">"Loading connected accounts…"</p> }>
            {move || {
                let client = client();
                Suspend::new(async move {
                    match data.await {
                        Ok(page) => view! { <Connections page=page client=client disconnect=disconnect check=check/> }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })
            }}
        </Transition>
    }
}

fn start_href(provider: &str, client: Option<&str>, reconnect: Option<Uuid>) -> String {
    let mut params = Vec::new();
    if let Some(c) = client {
        params.push(format!("client={c}"));
    }
    if let Some(id) = reconnect {
        params.push(format!("reconnect={id}"));
    }
    let query = if params.is_empty() {
        String::new()
    } else {
        format!("?{}", params.join("&"))
    };
    format!("/integrations/{provider}/start{query}")
}

#[component]
fn Connections(
    page: ConnectionsPageData,
    client: Option<String>,
    disconnect: ServerAction<DisconnectAccount>,
    check: ServerAction<CheckConnection>,
) -> impl IntoView {
    let connect_buttons = if page.providers.is_empty() {
        view! { <p class="muted">"No publishing provider is configured on this installation (ENCLAVE_INTEGRATIONS)."</p> }.into_any()
    } else {
        let client = client.clone();
        view! {
            <p class="actions">
                {page.providers.iter().map(|(id, name)| view! {
                    // A plain link: the browser goes to the provider and back, JavaScript or not.
                    <a class="button" href=start_href(id, client.as_deref(), None) rel="external">"Connect " {name.clone()}</a>
                }).collect_view()}
            </p>
        }.into_any()
    };
    let list = if page.connections.is_empty() {
        view! { <p class="empty">"No account connected yet. Connect one to publish campaign outputs to it."</p> }.into_any()
    } else {
        view! {
            <ul class="cards connections">
                {page.connections.into_iter().map(|c| {
                    let needs = c.status == "needs_reconnect";
                    let reconnect = start_href(&c.provider, client.as_deref(), Some(c.connection_id));
                    let client = client.clone();
                    view! {
                        <li class="card">
                            <h2 class="card-title">{c.account_name.clone()} <span class="muted">" · " {c.provider_name.clone()}</span></h2>
                            {if needs {
                                view! {
                                    <p class="status-badge warning" role="status">"Needs reconnecting"</p>
                                    <p>{c.status_reason.clone().unwrap_or_default()}</p>
                                    <p><a class="button" href=reconnect rel="external">"Reconnect"</a></p>
                                }.into_any()
                            } else {
                                view! {
                                    <p class="status-badge ok">"Connected"</p>
                                    <dl class="facts">
                                        <dt>"Last renewed"</dt><dd>{c.last_refreshed.clone().unwrap_or_else(|| "—".into())}</dd>
                                        <dt>"Access valid until"</dt><dd>{c.expires.clone().unwrap_or_else(|| "not said by the provider".into())}</dd>
                                    </dl>
                                }.into_any()
                            }}
                            {(!needs).then(|| {
                                let client = client.clone();
                                let account = c.account_name.clone();
                                view! {
                                    <ActionForm action=check>
                                        {client.map(|c| view! { <input type="hidden" name="client" value=c/> })}
                                        <input type="hidden" name="connection_id" value=c.connection_id.to_string()/>
                                        <button type="submit" class="secondary" aria-label=format!("Check the connection to {account}")>"Check connection"</button>
                                    </ActionForm>
                                }
                            })}
                            <ActionForm action=disconnect>
                                {client.map(|c| view! { <input type="hidden" name="client" value=c/> })}
                                <input type="hidden" name="connection_id" value=c.connection_id.to_string()/>
                                <button type="submit" class="secondary" aria-label=format!("Disconnect {}", c.account_name)>"Disconnect"</button>
                            </ActionForm>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }.into_any()
    };
    view! { {connect_buttons} {list} }
}
