//! Outgoing mail: bodies sealed (the vault's envelope) in the `mail_outbox` table, written in the
//! same transaction as what caused them. In development the outbox is readable here, at
//! `/dev/outbox`, instead of being delivered.

#[cfg(feature = "ssr")]
pub mod sealing;

use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutboxMail {
    pub to: String,
    pub subject: String,
    pub body: String,
    pub queued: String,
    /// "sent", "waiting", or the last delivery error.
    pub status: String,
}

/// The active organization's outbox (owners and admins; development only).
#[server(endpoint = "dev_outbox")]
pub async fn dev_outbox() -> Result<Vec<OutboxMail>, AppError> {
    let env = use_context::<crate::ServerEnv>().map(|e| e.environment);
    if env.as_deref() != Some("development") {
        return Err(AppError::NotAvailable(
            "The mail outbox is only shown in a development environment.".into(),
        ));
    }
    let vault = crate::session::vault()?;
    let ctx = crate::session::require_context().await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    // Row-level security shows only this organization's rows, and only to its managers.
    let rows: Vec<(String, String, Option<Vec<u8>>, String, String)> = tx
        .query_as(
            "SELECT to_address, subject, sealed_body,
                    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS \"UTC\"'),
                    CASE WHEN sent_at IS NOT NULL THEN 'sent'
                         WHEN last_error IS NOT NULL THEN 'not delivered yet (attempt ' || attempts || '): ' || last_error
                         ELSE 'waiting (no SMTP server configured, or not picked up yet)' END
               FROM public.mail_outbox WHERE org_id = $1 ORDER BY created_at DESC LIMIT 50",
        )
        .bind(ctx.org_id())
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(to, subject, sealed, queued, status)| OutboxMail {
            to,
            subject,
            body: match sealed.map(|s| sealing::open_body(&vault, ctx.org_id(), &s)) {
                Some(Ok(body)) => body.expose().to_string(),
                Some(Err(_)) => "(sealed with another key: cannot be opened)".into(),
                None => String::new(),
            },
            queued,
            status,
        })
        .collect())
}

#[component]
pub fn OutboxPage() -> impl IntoView {
    let mails = Resource::new(|| (), |_| dev_outbox());
    view! {
        <Title text="Mail outbox · Enclave"/>
        <h1>"Mail outbox (development)"</h1>
        <p class="muted">"Mail this organization queued. Outside development it is delivered, not shown."</p>
        <Suspense fallback=|| view! { <p class="loading">"Loading the outbox…"</p> }>
            {move || Suspend::new(async move {
                match mails.await {
                    Ok(list) if list.is_empty() => view! { <p class="empty">"No mail yet. Invite someone from the Members page and the mail appears here."</p> }.into_any(),
                    Ok(list) => view! {
                        <ul class="outbox">
                            {list.into_iter().map(|m| view! {
                                <li>
                                    <h2>{m.subject.clone()}</h2>
                                    <p class="muted">{format!("To {} · queued {} · {}", m.to, m.queued, m.status)}</p>
                                    <pre>{m.body.clone()}</pre>
                                </li>
                            }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
