//! Webhook deliveries: Stripe's events as the ledger holds them, filtered, with their
//! payload and processing lag, and Replay.

use super::{filtered_href, query_text, AdminFrame};
use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const PAGE_SIZE: i64 = 50;
pub const EVENT_STATUSES: &[&str] = &["received", "processed", "ignored", "parked", "dead"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    pub status: String,
    pub deliveries: i32,
    pub attempts: i32,
    pub received: String,
    pub lag: Option<String>,
    pub error: Option<String>,
    pub customer: Option<String>,
    pub org: Option<(Uuid, String)>,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeliveryPage {
    pub rows: Vec<Delivery>,
    pub total: i64,
    pub page: u32,
    pub types: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryFilter {
    pub event_type: Option<String>,
    pub status: Option<String>,
    pub org: Option<Uuid>,
}

impl DeliveryFilter {
    fn from_query(q: &leptos_router::params::ParamsMap) -> Self {
        Self {
            event_type: query_text(q, "type"),
            status: query_text(q, "status"),
            org: query_text(q, "org").and_then(|o| o.parse().ok()),
        }
    }

    fn href(&self, page: u32) -> String {
        filtered_href(
            "/admin/webhooks",
            &[
                ("type", self.event_type.clone()),
                ("status", self.status.clone()),
                ("org", self.org.map(|o| o.to_string())),
                ("page", Some(page.to_string())),
            ],
        )
    }
}

#[server(endpoint = "admin_deliveries")]
pub async fn admin_deliveries(
    event_type: Option<String>,
    status: Option<String>,
    org: Option<Uuid>,
    page: Option<u32>,
) -> Result<DeliveryPage, AppError> {
    use tenancy::{AdminAction, Statements};
    let filter = DeliveryFilter {
        event_type,
        status,
        org,
    };
    let page = super::page_of(page);
    if let Some(s) = &filter.status {
        if !EVENT_STATUSES.contains(&s.as_str()) {
            return Err(AppError::Invalid(format!(
                "the status is one of {}",
                EVENT_STATUSES.join(", ")
            )));
        }
    }
    let mut tx = super::door::begin(AdminAction::read("list webhook deliveries")).await?;
    type Row = (
        String,
        String,
        String,
        i32,
        i32,
        time::OffsetDateTime,
        Option<f64>,
        Option<String>,
        Option<String>,
        Option<Uuid>,
        Option<String>,
        serde_json::Value,
        i64,
    );
    let rows: Vec<Row> = tx
        .query_as(
            "SELECT e.event_id, e.event_type, e.status, e.delivery_count, e.attempts, e.first_received_at,
                    extract(epoch FROM e.processed_at - e.first_received_at)::float8,
                    e.last_error, e.customer_id, c.org_id, o.name, e.payload, count(*) OVER ()
               FROM enclave.stripe_events e
               LEFT JOIN enclave.stripe_customers c ON c.stripe_customer_id = e.customer_id
               LEFT JOIN public.organizations o ON o.id = c.org_id
              WHERE ($1::text IS NULL OR e.event_type = $1)
                AND ($2::text IS NULL OR e.status = $2)
                AND ($3::uuid IS NULL OR e.customer_id IN
                     (SELECT s.stripe_customer_id FROM enclave.stripe_customers s WHERE s.org_id = $3))
              ORDER BY e.first_received_at DESC, e.event_id
              LIMIT $4 OFFSET $5",
        )
        .bind(&filter.event_type)
        .bind(&filter.status)
        .bind(filter.org)
        .bind(PAGE_SIZE)
        .bind(i64::from(page - 1) * PAGE_SIZE)
        .fetch_all(tx.conn())
        .await?;
    let types: Vec<String> = tx
        .query_scalar("SELECT DISTINCT event_type FROM enclave.stripe_events ORDER BY 1 LIMIT 100")
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    let total = rows.first().map(|r| r.12).unwrap_or(0);
    Ok(DeliveryPage {
        rows: rows
            .into_iter()
            .map(|r| Delivery {
                event_id: r.0,
                event_type: r.1,
                status: r.2,
                deliveries: r.3,
                attempts: r.4,
                received: super::when(r.5),
                lag: r.6.map(|s| {
                    if s < 1.0 {
                        format!("{} ms", (s * 1000.0).round())
                    } else {
                        format!("{s:.1} s")
                    }
                }),
                error: r.7,
                customer: r.8,
                org: r.9.zip(r.10),
                payload: serde_json::to_string_pretty(&r.11).unwrap_or_default(),
            })
            .collect(),
        total,
        page,
        types,
    })
}

/// Processes the event again: back to `received`, and queued.
#[server(endpoint = "admin_replay")]
pub async fn admin_replay(event_id: String) -> Result<String, AppError> {
    use tenancy::{AdminAction, Statements};
    let mut tx = super::door::begin(AdminAction::change(
        "replay webhook event",
        None,
        serde_json::json!({ "event_id": event_id }),
    ))
    .await?;
    let Some(queue) = super::queues().stripe_events else {
        return Err(AppError::NotAvailable(
            "Billing is not configured on this server, so events cannot be processed here.".into(),
        ));
    };
    let found: Option<String> = tx
        .query_scalar(
            "UPDATE enclave.stripe_events
                SET status = 'received', attempts = 0, next_attempt_at = now(),
                    processed_at = NULL, last_error = NULL
              WHERE event_id = $1 RETURNING event_id",
        )
        .bind(&event_id)
        .fetch_optional(tx.conn())
        .await?;
    if found.is_none() {
        return Err(AppError::NotAvailable("No event has that id.".into()));
    }
    tx.commit().await?;
    // A lost enqueue is not lost work: the minute's sweep takes up `received` rows.
    if let Err(e) = queue
        .enqueue(crate::billing::processing::StripeEventInput {
            event_id: event_id.clone(),
        })
        .await
    {
        tracing::warn!(%event_id, error = %e, "replayed event not queued; the sweep will take it");
    }
    Ok(format!("Event {event_id} is queued to be processed again."))
}

#[component]
pub fn AdminDeliveriesPage() -> impl IntoView {
    let query = use_query_map();
    let replay = ServerAction::<AdminReplay>::new();
    let data = Resource::new(
        move || {
            (
                query.with(|q| {
                    (
                        DeliveryFilter::from_query(q),
                        q.get("page").and_then(|p| p.parse().ok()),
                    )
                }),
                replay.version().get(),
            )
        },
        |((f, page), _)| admin_deliveries(f.event_type, f.status, f.org, page),
    );
    view! {
        <AdminFrame title="Webhook deliveries">
            <div aria-live="polite">
                <super::ActionOutcome action=replay/>
            </div>
            <Suspense fallback=|| view! { <p class="loading">"Loading deliveries…"</p> }>
                {move || Suspend::new(async move {
                    let filter = query.with_untracked(DeliveryFilter::from_query);
                    match data.await {
                        Ok(p) => view! { <DeliveryList p=p filter=filter replay=replay/> }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </AdminFrame>
    }
}

#[component]
fn DeliveryList(
    p: DeliveryPage,
    filter: DeliveryFilter,
    replay: ServerAction<AdminReplay>,
) -> impl IntoView {
    let pages = super::page_count(p.total, PAGE_SIZE);
    let (page, total) = (p.page, p.total);
    let empty = p
        .rows
        .is_empty()
        .then(|| view! { <p class="empty">"No delivery matches these filters."</p> });
    view! {
        <form method="get" action="/admin/webhooks" class="filters">
            <label>"Type"<select name="type">
                <option value="">"Any"</option>
                {p.types.iter().map(|t| view! {
                    <option value=t.clone() selected=filter.event_type.as_deref() == Some(t.as_str())>{t.clone()}</option>
                }).collect_view()}
            </select></label>
            <label>"Status"<select name="status">
                <option value="">"Any"</option>
                {EVENT_STATUSES.iter().map(|s| view! {
                    <option value=*s selected=filter.status.as_deref() == Some(*s)>{*s}</option>
                }).collect_view()}
            </select></label>
            <label>"Organization id"<input type="text" name="org" value=filter.org.map(|o| o.to_string()).unwrap_or_default()/></label>
            <button type="submit">"Show"</button>
        </form>
        <p class="count" role="status">{format!("{} deliveries · page {} of {}", p.total, p.page, pages)}</p>
        {empty}
        <table class="data">
            <caption class="visually-hidden">"Webhook deliveries"</caption>
            <thead><tr>
                <th scope="col">"Received"</th><th scope="col">"Event"</th><th scope="col">"Status"</th>
                <th scope="col" class="num">"Deliveries"</th><th scope="col">"Lag"</th>
                <th scope="col">"Organization"</th><th scope="col">"Payload"</th><th scope="col"><span class="visually-hidden">"Action"</span></th>
            </tr></thead>
            <tbody>
                {p.rows.into_iter().map(|d| {
                    let org = d.org.clone().map(|(id, name)| view! { <a href=format!("/admin/organizations/{id}")>{name}</a> }.into_any())
                        .unwrap_or_else(|| view! { <span>{d.customer.clone().unwrap_or_else(|| "—".into())}</span> }.into_any());
                    let event_id = d.event_id.clone();
                    view! {
                        <tr>
                            <td>{d.received.clone()}</td>
                            <td><code>{d.event_type.clone()}</code><br/><small>{d.event_id.clone()}</small></td>
                            <td><span class=format!("tag {}", d.status)>{d.status.clone()}</span>
                                {d.error.clone().map(|e| view! { <br/><small class="error-text">{e}</small> })}</td>
                            <td class="num">{d.deliveries}</td>
                            <td>{d.lag.clone().unwrap_or_else(|| "—".into())}</td>
                            <td>{org}</td>
                            <td><details><summary>"Show"</summary><pre class="payload">{d.payload.clone()}</pre></details></td>
                            <td>
                                <ActionForm action=replay>
                                    <input type="hidden" name="event_id" value=event_id/>
                                    <button type="submit" aria-label=format!("Replay {}", d.event_id)>"Replay"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <super::Pager page=page total=total page_size=PAGE_SIZE href=move |n| filter.href(n)/>
    }
}
