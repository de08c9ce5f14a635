//! Campaigns of the SME, or of the agency client named in the URL: a list with search,
//! status filter, sort and pages (the query lives in the URL, so it works without
//! JavaScript and can be shared), and a form to add a campaign with simple defaults.

use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub mod detail;
pub mod generate;
#[cfg(feature = "ssr")]
pub mod generator;

pub const PAGE_SIZE: i64 = 25;
/// The last page a request may ask for (2.5 million campaigns); a larger number from
/// the URL is clamped to it, so `(page - 1) * PAGE_SIZE` can never overflow.
pub const MAX_PAGE: i64 = 100_000;
pub const STATUSES: [&str; 4] = ["draft", "active", "paused", "done"];
/// (value, label, ORDER BY). The campaign id breaks ties so pages never overlap.
const SORTS: [(&str, &str, &str); 3] = [
    (
        "updated",
        "Recently updated",
        "updated_at DESC, campaign_id",
    ),
    ("name", "Name", "lower(name), campaign_id"),
    ("starts", "Start date", "starts_on NULLS LAST, campaign_id"),
];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignRow {
    pub campaign_id: Uuid,
    pub name: String,
    pub status: String,
    pub starts_on: Option<String>,
    pub ends_on: Option<String>,
    pub budget_cents: Option<i64>,
    pub updated: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignPage {
    pub scope_name: String,
    pub rows: Vec<CampaignRow>,
    pub total: i64,
    pub page: i64,
    pub pages: i64,
}

/// "1,250.50" or "1250" → cents; empty → none.
pub fn parse_budget(raw: &str) -> Result<Option<i64>, AppError> {
    let cleaned: String = raw
        .trim()
        .chars()
        .filter(|c| *c != ',' && *c != ' ')
        .collect();
    if cleaned.is_empty() {
        return Ok(None);
    }
    let bad = || AppError::Invalid("write the budget as a number, e.g. 1500 or 1500.50".into());
    let (whole, frac) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
    if whole.is_empty()
        || !whole.chars().all(|c| c.is_ascii_digit())
        || frac.len() > 2
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(frac))
        .map(Some)
        .ok_or_else(bad)
}

/// The fields a person types for a campaign, checked (the database checks again).
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignForm {
    pub name: String,
    pub objective: String,
    pub budget_cents: Option<i64>,
    pub starts_on: Option<String>,
    pub ends_on: Option<String>,
}

impl CampaignForm {
    pub fn check(
        name: &str,
        objective: &str,
        budget: &str,
        starts_on: &str,
        ends_on: &str,
    ) -> Result<Self, AppError> {
        let name = name.trim().to_string();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(AppError::Invalid(
                "give the campaign a name of up to 200 characters".into(),
            ));
        }
        if objective.chars().count() > 2000 {
            return Err(AppError::Invalid(
                "the objective is longer than 2000 characters".into(),
            ));
        }
        let (starts_on, ends_on) = (parse_date(starts_on, "start")?, parse_date(ends_on, "end")?);
        if let (Some(s), Some(e)) = (&starts_on, &ends_on) {
            if e < s {
                return Err(AppError::Invalid(
                    "the campaign cannot end before it starts".into(),
                ));
            }
        }
        Ok(Self {
            name,
            objective: objective.trim().to_string(),
            budget_cents: parse_budget(budget)?,
            starts_on,
            ends_on,
        })
    }
}

/// "YYYY-MM-DD" (what a date input sends) → the same text; empty → none.
pub fn parse_date(raw: &str, what: &str) -> Result<Option<String>, AppError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let shaped = raw.len() == 10
        && raw.chars().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                c == '-'
            } else {
                c.is_ascii_digit()
            }
        });
    let month: u32 = raw.get(5..7).and_then(|m| m.parse().ok()).unwrap_or(0);
    let day: u32 = raw.get(8..10).and_then(|d| d.parse().ok()).unwrap_or(0);
    (shaped && (1..=12).contains(&month) && (1..=31).contains(&day))
        .then(|| Some(raw.to_string()))
        .ok_or_else(|| AppError::Invalid(format!("write the {what} date as YYYY-MM-DD")))
}

pub fn format_budget(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

#[server(endpoint = "campaigns")]
pub async fn list_campaigns(
    client: Option<String>,
    q: Option<String>,
    status: Option<String>,
    sort: Option<String>,
    page: Option<i64>,
) -> Result<CampaignPage, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let q = q.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
    let status = status.filter(|s| STATUSES.contains(&s.as_str()));
    let order = SORTS
        .iter()
        .find(|(v, _, _)| Some(*v) == sort.as_deref())
        .unwrap_or(&SORTS[0])
        .2;
    let mut page = page.unwrap_or(1).clamp(1, MAX_PAGE);
    let mut tx = crate::session::transaction(&ctx).await?;
    // The ORDER BY comes from the fixed list above, never from the request. The policies
    // decide what is visible; `org_id = $1` tells Citus which shard holds it.
    const FILTER: &str = "org_id = $1
            AND ($2::text IS NULL OR position($2 in lower(name)) > 0 OR position($2 in lower(objective)) > 0)
            AND ($3::text IS NULL OR status = $3)";
    let sql = format!(
        "SELECT campaign_id, name, status, to_char(starts_on, 'YYYY-MM-DD'), to_char(ends_on, 'YYYY-MM-DD'),
                budget_cents, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), count(*) OVER ()
           FROM public.campaigns_unified
          WHERE {FILTER}
          ORDER BY {order}
          LIMIT $4 OFFSET $5"
    );
    type Row = (
        Uuid,
        String,
        String,
        Option<String>,
        Option<String>,
        Option<i64>,
        String,
        i64,
    );
    let rows: Vec<Row> = loop {
        let rows: Vec<Row> = tx
            .query_as(&sql)
            .bind(ctx.org_id())
            .bind(&q)
            .bind(&status)
            .bind(PAGE_SIZE)
            .bind((page - 1) * PAGE_SIZE)
            .fetch_all(tx.conn())
            .await?;
        if !rows.is_empty() || page == 1 {
            break rows;
        }
        // Past the last page (an old link, or a number typed into the URL): the last one.
        let total: i64 = tx
            .query_scalar(&format!(
                "SELECT count(*) FROM public.campaigns_unified WHERE {FILTER}"
            ))
            .bind(ctx.org_id())
            .bind(&q)
            .bind(&status)
            .fetch_one(tx.conn())
            .await?;
        let last = ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1);
        if last >= page {
            break rows;
        }
        page = last;
    };
    tx.commit().await?;
    let total = rows.first().map(|r| r.7).unwrap_or(0);
    Ok(CampaignPage {
        scope_name: ctx.workspace_name().unwrap_or(ctx.org_name()).to_string(),
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        rows: rows
            .into_iter()
            .map(
                |(campaign_id, name, status, starts_on, ends_on, budget_cents, updated, _)| {
                    CampaignRow {
                        campaign_id,
                        name,
                        status,
                        starts_on,
                        ends_on,
                        budget_cents,
                        updated,
                    }
                },
            )
            .collect(),
    })
}

/// Adds a campaign with simple defaults: status draft, no owner, channels later.
#[server(endpoint = "add_campaign")]
pub async fn add_campaign(
    client: Option<String>,
    name: String,
    objective: String,
    budget: String,
    starts_on: String,
    ends_on: String,
) -> Result<Uuid, AppError> {
    let form = CampaignForm::check(&name, &objective, &budget, &starts_on, &ends_on)?;
    let back = crate::layout::scoped_path(client.as_deref(), "campaigns");
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let id: Uuid = tx
        .query_scalar(
            "SELECT enclave.save_campaign(NULL, $1, $2, '{}', $3, $4::date, $5::date, 'draft', NULL)",
        )
        .bind(&form.name)
        .bind(&form.objective)
        .bind(form.budget_cents)
        .bind(&form.starts_on)
        .bind(&form.ends_on)
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    leptos_axum::redirect(&back);
    Ok(id)
}

#[component]
pub fn CampaignsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let client = move || params.read().get("client");
    let add = ServerAction::<AddCampaign>::new();
    let filters = move || {
        let q = query.read();
        (
            q.get("q").filter(|s| !s.is_empty()),
            q.get("status").filter(|s| !s.is_empty()),
            q.get("sort").filter(|s| !s.is_empty()),
            q.get("page").and_then(|p| p.parse::<i64>().ok()),
        )
    };
    let list = Resource::new(
        move || (client(), filters(), add.version().get()),
        |(client, (q, status, sort, page), _)| list_campaigns(client, q, status, sort, page),
    );
    view! {
        <Title text="Campaigns · Enclave"/>
        <h1>"Campaigns"</h1>
        {move || {
            let (q, status, sort, _) = filters();
            view! { <CampaignFilters q=q status=status sort=sort/> }
        }}
        <Suspense fallback=|| view! { <p class="loading" aria-live="polite">"Loading campaigns…"</p> }>
            {move || Suspend::new(async move {
                match list.await {
                    Ok(p) => view! { <CampaignTable p=p client=client()/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
        <AddCampaignForm client=client() add=add/>
    }
}

#[component]
fn CampaignFilters(
    q: Option<String>,
    status: Option<String>,
    sort: Option<String>,
) -> impl IntoView {
    view! {
        <form method="get" class="filters" role="search" aria-label="Filter campaigns">
            <label for="campaign-q">"Search"</label>
            <input id="campaign-q" type="search" name="q" value=q.unwrap_or_default() placeholder="Name or objective"/>
            <label for="campaign-status">"Status"</label>
            <select id="campaign-status" name="status">
                <option value="">"Any"</option>
                {STATUSES.iter().map(|s| view! { <option value=*s selected=status.as_deref() == Some(*s)>{*s}</option> }).collect_view()}
            </select>
            <label for="campaign-sort">"Sort by"</label>
            <select id="campaign-sort" name="sort">
                {SORTS.iter().map(|(v, label, _)| view! { <option value=*v selected=sort.as_deref() == Some(*v)>{*label}</option> }).collect_view()}
            </select>
            <button type="submit">"Apply"</button>
        </form>
    }
}

#[component]
fn CampaignTable(p: CampaignPage, client: Option<String>) -> impl IntoView {
    let query = use_query_map();
    let base = crate::layout::scoped_path(client.as_deref(), "campaigns");
    let list_base = base.clone();
    let page_href = move |page: i64| {
        let q = query.read_untracked();
        let mut parts: Vec<String> = ["q", "status", "sort"]
            .iter()
            .filter_map(|k| {
                q.get(k)
                    .filter(|v| !v.is_empty())
                    .map(|v| format!("{k}={}", crate::sign_in::percent_encode(&v)))
            })
            .collect();
        parts.push(format!("page={page}"));
        format!("{list_base}?{}", parts.join("&"))
    };
    if p.total == 0 {
        return view! {
            <p class="scope">"For "<strong data-testid="scope-name">{p.scope_name.clone()}</strong></p>
            <p class="empty">"No campaigns match. Add one below — a name is enough to start; you can fill in the rest as the plan takes shape."</p>
        }
        .into_any();
    }
    let prev =
        (p.page > 1).then(|| view! { <a href=page_href(p.page - 1) rel="prev">"← Previous"</a> });
    let next =
        (p.page < p.pages).then(|| view! { <a href=page_href(p.page + 1) rel="next">"Next →"</a> });
    view! {
        <p class="scope">"For "<strong data-testid="scope-name">{p.scope_name.clone()}</strong>{format!(" · {} campaign{}", p.total, if p.total == 1 { "" } else { "s" })}</p>
        <table class="campaigns">
            <caption class="visually-hidden">"Campaigns"</caption>
            <thead><tr><th scope="col">"Name"</th><th scope="col">"Status"</th><th scope="col">"Dates"</th><th scope="col">"Budget"</th><th scope="col">"Updated"</th></tr></thead>
            <tbody>
                {p.rows.into_iter().map(|c| view! {
                    <tr data-campaign=c.name.clone()>
                        <td><a href=format!("{base}/{}", c.campaign_id)>{c.name.clone()}</a></td>
                        <td><span class=format!("status status-{}", c.status)>{c.status.clone()}</span></td>
                        <td>{match (c.starts_on, c.ends_on) {
                            (Some(s), Some(e)) => format!("{s} – {e}"),
                            (Some(s), None) => format!("from {s}"),
                            (None, Some(e)) => format!("until {e}"),
                            (None, None) => "—".into(),
                        }}</td>
                        <td>{c.budget_cents.map(format_budget).unwrap_or_else(|| "—".into())}</td>
                        <td>{c.updated.clone()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <nav class="pager" aria-label="Pages">
            {prev}
            <span>{format!("Page {} of {}", p.page, p.pages)}</span>
            {next}
        </nav>
    }
    .into_any()
}

#[component]
fn AddCampaignForm(client: Option<String>, add: ServerAction<AddCampaign>) -> impl IntoView {
    let pending = add.pending();
    crate::layout::clear_after_success(
        move || add.value().with(|v| matches!(v, Some(Ok(_)))),
        "add-campaign-form",
    );
    view! {
        <section aria-labelledby="add-campaign">
            <h2 id="add-campaign">"Add a campaign"</h2>
            <ActionForm action=add attr:class="stack" attr:id="add-campaign-form">
                {client.map(|c| view! { <input type="hidden" name="client" value=c/> })}
                <div class="field">
                    <label for="campaign-name">"Name"</label>
                    <input id="campaign-name" name="name" required maxlength="200"/>
                </div>
                <div class="field">
                    <label for="campaign-objective">"Objective"</label>
                    <textarea id="campaign-objective" name="objective" rows="2" maxlength="2000"></textarea>
                </div>
                <div class="field-row">
                    <div class="field">
                        <label for="campaign-budget">"Budget"</label>
                        <input id="campaign-budget" name="budget" inputmode="decimal" placeholder="e.g. 1500"/>
                    </div>
                    <div class="field">
                        <label for="campaign-starts">"Starts"</label>
                        <input id="campaign-starts" name="starts_on" type="date"/>
                    </div>
                    <div class="field">
                        <label for="campaign-ends">"Ends"</label>
                        <input id="campaign-ends" name="ends_on" type="date"/>
                    </div>
                </div>
                <div class="actions">
                    <button type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Adding…" } else { "Add campaign" }}
                    </button>
                </div>
            </ActionForm>
            <div aria-live="polite">
                {move || add.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budgets_are_read_as_money() {
        assert_eq!(parse_budget("").unwrap(), None);
        assert_eq!(parse_budget("1500").unwrap(), Some(150_000));
        assert_eq!(parse_budget("1,250.5").unwrap(), Some(125_050));
        assert_eq!(parse_budget(" 0.07 ").unwrap(), Some(7));
        for bad in ["12.345", "-5", "abc", ".5", "1e3"] {
            assert!(parse_budget(bad).is_err(), "{bad}");
        }
        assert_eq!(format_budget(125_050), "1250.50");
    }
}
