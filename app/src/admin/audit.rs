//! The audit log: every use of the system path (operators, jobs, admins) and every
//! audited tenant change, newest first, filtered by actor, action and organization.

use super::{filtered_href, query_text, AdminFrame};
use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

const PAGE_SIZE: i32 = 100;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: i64,
    pub at: String,
    pub path: String,
    pub actor: String,
    pub action: String,
    pub org: Option<Uuid>,
    pub org_name: Option<String>,
    /// The admin's address, for rows an admin's transaction wrote.
    pub actor_email: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub org: Option<Uuid>,
    /// Rows older than this id (the next page).
    pub before: Option<i64>,
}

impl AuditFilter {
    fn from_query(q: &leptos_router::params::ParamsMap) -> Self {
        Self {
            actor: query_text(q, "actor"),
            action: query_text(q, "action"),
            org: query_text(q, "org").and_then(|o| o.parse().ok()),
            before: query_text(q, "before").and_then(|b| b.parse().ok()),
        }
    }

    fn href_before(&self, before: i64) -> String {
        filtered_href(
            "/admin/audit",
            &[
                ("actor", self.actor.clone()),
                ("action", self.action.clone()),
                ("org", self.org.map(|o| o.to_string())),
                ("before", Some(before.to_string())),
            ],
        )
    }
}

#[server(endpoint = "admin_audit")]
pub async fn admin_audit(
    actor: Option<String>,
    action: Option<String>,
    org: Option<Uuid>,
    before: Option<i64>,
) -> Result<Vec<AuditRow>, AppError> {
    use tenancy::{AdminAction, Statements};
    let filter = AuditFilter {
        actor,
        action,
        org,
        before,
    };
    let mut tx = super::door::begin(AdminAction::read("read the audit log")).await?;
    type Row = (
        i64,
        time::OffsetDateTime,
        String,
        String,
        String,
        Option<Uuid>,
        serde_json::Value,
        Option<String>,
        Option<String>,
    );
    let rows: Vec<Row> = tx
        .query_as("SELECT id, at, path, actor, action, org_id, detail, actor_email, org_name FROM enclave.admin_audit($1, $2, $3, $4, $5)")
        .bind(filter.org)
        .bind(&filter.actor)
        .bind(&filter.action)
        .bind(filter.before)
        .bind(PAGE_SIZE)
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, at, path, actor, action, org, detail, actor_email, org_name)| AuditRow {
                id,
                at: super::when(at),
                path,
                actor,
                action,
                org,
                org_name,
                actor_email,
                detail: if detail.as_object().is_some_and(|o| o.is_empty()) {
                    String::new()
                } else {
                    detail.to_string()
                },
            },
        )
        .collect())
}

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(
        move || query.with(AuditFilter::from_query),
        |f| admin_audit(f.actor, f.action, f.org, f.before),
    );
    view! {
        <AdminFrame title="Audit log">
            <Suspense fallback=|| view! { <p class="loading">"Loading the audit log…"</p> }>
                {move || Suspend::new(async move {
                    let filter = query.with_untracked(AuditFilter::from_query);
                    match data.await {
                        Ok(rows) => view! { <AuditList rows=rows filter=filter/> }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </AdminFrame>
    }
}

#[component]
fn AuditList(rows: Vec<AuditRow>, filter: AuditFilter) -> impl IntoView {
    let older = (rows.len() as i32 == PAGE_SIZE)
        .then(|| {
            rows.last()
                .map(|r| view! { <a href=filter.href_before(r.id) rel="next">"Older →"</a> })
        })
        .flatten();
    let empty = rows
        .is_empty()
        .then(|| view! { <p class="empty">"No entry matches these filters."</p> });
    view! {
        <form method="get" action="/admin/audit" class="filters">
            <label>"Actor starts with"<input type="text" name="actor" value=filter.actor.clone().unwrap_or_default() placeholder="admin:, billing, seed-demo…"/></label>
            <label>"Action contains"<input type="text" name="action" value=filter.action.clone().unwrap_or_default()/></label>
            <label>"Organization id"<input type="text" name="org" value=filter.org.map(|o| o.to_string()).unwrap_or_default()/></label>
            <button type="submit">"Show"</button>
        </form>
        {empty}
        <table class="data">
            <caption class="visually-hidden">"Audit log"</caption>
            <thead><tr>
                <th scope="col">"When"</th><th scope="col">"Path"</th><th scope="col">"Who"</th>
                <th scope="col">"What"</th><th scope="col">"Organization"</th><th scope="col">"Detail"</th>
            </tr></thead>
            <tbody>
                {rows.into_iter().map(|r| view! {
                    <tr>
                        <td>{r.at.clone()}</td>
                        <td>{r.path.clone()}</td>
                        <td>{match r.actor_email.clone() {
                            Some(email) => view! { <span title=r.actor.clone()>"admin "{email}</span> }.into_any(),
                            None => view! { <code>{r.actor.clone()}</code> }.into_any(),
                        }}</td>
                        <td>{r.action.clone()}</td>
                        <td>{r.org.map(|o| view! { <a href=format!("/admin/organizations/{o}")>{r.org_name.clone().unwrap_or_else(|| o.to_string())}</a> })}</td>
                        <td><code class="detail">{r.detail.clone()}</code></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">{older}</nav>
    }
}
