//! Organizations: the paged, searchable list, and one organization's facts, plan,
//! timeline and the admin's actions on it (resync from Stripe, extend grace).

use super::overview::status_words;
use super::{filtered_href, money, query_text, AdminFrame};
use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const PAGE_SIZE: i64 = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgRow {
    pub org_id: Uuid,
    pub name: String,
    pub kind: String,
    pub status: String,
    pub plan_name: String,
    pub seats_used: i64,
    /// The plan's seats, or the billed quantity of a per-seat plan; None: unlimited.
    pub seats_allowed: Option<i64>,
    pub outputs_used: i64,
    pub outputs_allowed: Option<i64>,
    pub mrr_cents: i64,
    pub grace_ends: Option<String>,
    pub drift: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgPage {
    pub rows: Vec<OrgRow>,
    pub total: i64,
    pub page: u32,
    pub plans: Vec<(String, String)>,
}

/// The list's filters, as the page's query string carries them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OrgFilter {
    pub search: Option<String>,
    pub kind: Option<String>,
    pub plan: Option<String>,
    pub status: Option<String>,
    pub drift: Option<bool>,
    pub sort: Option<String>,
}

impl OrgFilter {
    fn from_query(q: &leptos_router::params::ParamsMap) -> Self {
        Self {
            search: query_text(q, "search"),
            kind: query_text(q, "kind"),
            plan: query_text(q, "plan"),
            status: query_text(q, "status"),
            drift: query_text(q, "drift").map(|v| v == "yes"),
            sort: query_text(q, "sort"),
        }
    }

    /// The query string of this filter on another page.
    fn href(&self, page: u32) -> String {
        filtered_href(
            "/admin/organizations",
            &[
                ("search", self.search.clone()),
                ("kind", self.kind.clone()),
                ("plan", self.plan.clone()),
                ("status", self.status.clone()),
                ("sort", self.sort.clone()),
                (
                    "drift",
                    (self.drift == Some(true)).then(|| "yes".to_string()),
                ),
                ("page", Some(page.to_string())),
            ],
        )
    }
}

/// One bind parameter of the list's query, in the order its clauses were written.
#[cfg(feature = "ssr")]
pub enum Param {
    Text(String),
    Id(Uuid),
    Ids(Vec<Uuid>),
}

/// The list's two statements and their parameters: the page (ends with LIMIT and an
/// OFFSET parameter after `params`) and the count of every matching organization.
#[cfg(feature = "ssr")]
pub struct ListSql {
    pub page: String,
    pub count: String,
    pub params: Vec<Param>,
}

/// The list's SQL: search, kind, a subscription status and drift (the ids of
/// [`drift_orgs`]) narrow `public.organizations` and `org_billing` through their indexes,
/// and the default sorts follow an index, so a page stops after its rows; plan and the
/// platform's own statuses (granted, free) are computed per organization and filtered after. `server/tests/admin_access.rs`
/// checks the plans with EXPLAIN; `scripts/bench-admin` times them.
#[cfg(feature = "ssr")]
pub fn list_sql(f: &OrgFilter, drift_orgs: &[Uuid]) -> ListSql {
    use super::overview::{MRR, ORGS_WITH_BILLING, PLAN_IN_FORCE, STATUS};
    let mut inner = Vec::new();
    let mut outer = Vec::new();
    let mut params = Vec::new();
    let next = |p: Param, params: &mut Vec<Param>| {
        params.push(p);
        format!("${}", params.len())
    };
    let drift = next(Param::Ids(drift_orgs.to_vec()), &mut params);
    if f.drift == Some(true) {
        inner.push(format!("ob.id = ANY({drift}::uuid[])"));
    }
    if let Some(s) = &f.search {
        if let Ok(id) = s.parse::<Uuid>() {
            inner.push(format!("ob.id = {}", next(Param::Id(id), &mut params)));
        } else if s.starts_with("cus_") {
            inner.push(format!(
                "ob.id IN (SELECT c.org_id FROM enclave.stripe_customers c WHERE c.stripe_customer_id = {})",
                next(Param::Text(s.clone()), &mut params)
            ));
        } else {
            // A prefix as a range: every name_key from the prefix up to the prefix
            // followed by the highest character.
            let prefix = s.to_lowercase();
            let from = next(Param::Text(prefix.clone()), &mut params);
            let to = next(Param::Text(format!("{prefix}{}", char::MAX)), &mut params);
            inner.push(format!(
                "ob.name_key COLLATE \"C\" >= {from} AND ob.name_key COLLATE \"C\" < {to}"
            ));
        }
    }
    if let Some(k) = &f.kind {
        inner.push(format!(
            "ob.kind = {}",
            next(Param::Text(k.clone()), &mut params)
        ));
    }
    if let Some(s) = &f.status {
        let p = next(Param::Text(s.clone()), &mut params);
        if matches!(
            s.as_str(),
            "trialing" | "active" | "past_due" | "canceled" | "incomplete"
        ) {
            // The same rows (a subscription's status is the organization's), through
            // org_billing's status index.
            inner.push(format!("ob.status = {p}"));
        } else {
            outer.push(format!("x.status = {p}"));
        }
    }
    if let Some(p) = &f.plan {
        outer.push(format!(
            "x.plan_id = {}",
            next(Param::Text(p.clone()), &mut params)
        ));
    }

    let order = match f.sort.as_deref() {
        Some("newest") => "x.created_at DESC, x.id DESC",
        Some("mrr") => "x.mrr DESC, x.name_key COLLATE \"C\", x.id",
        Some("grace") => "x.grace_ends_at ASC NULLS LAST, x.id",
        _ => "x.name_key COLLATE \"C\", x.id",
    };
    let clause = |c: &[String]| {
        if c.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", c.join(" AND "))
        }
    };
    let from = format!(
        "FROM (SELECT ob.id, ob.name, ob.name_key, ob.kind, ob.created_at, {STATUS} AS status,
                        {PLAN_IN_FORCE} AS plan_id,
                        CASE WHEN ob.status IN ('active', 'past_due') THEN {MRR} ELSE 0 END AS mrr,
                        ob.grace_ends_at, ob.seat_quantity,
                        ob.id = ANY({drift}::uuid[]) AS drift
                   FROM {ORGS_WITH_BILLING}
                  {}) x
           JOIN enclave.plans cp ON cp.plan_id = x.plan_id
          {}",
        clause(&inner),
        clause(&outer),
    );
    ListSql {
        page: format!(
            "SELECT x.id, x.name, x.kind, x.status, cp.name, cp.per_seat, cp.seats, x.seat_quantity,
                    cp.outputs_per_period, x.mrr, x.grace_ends_at, x.drift
               {from}
              ORDER BY {order}
              LIMIT {PAGE_SIZE} OFFSET ${}",
            params.len() + 1
        ),
        count: format!("SELECT count(*) {from}"),
        params,
    }
}

/// Binds the list's parameters in order.
#[cfg(feature = "ssr")]
pub fn bind_params<'q, O>(
    mut query: sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments>,
    params: &'q [Param],
) -> sqlx::query::QueryAs<'q, sqlx::Postgres, O, sqlx::postgres::PgArguments> {
    for p in params {
        query = match p {
            Param::Text(t) => query.bind(t.as_str()),
            Param::Id(id) => query.bind(*id),
            Param::Ids(ids) => query.bind(ids.as_slice()),
        };
    }
    query
}

#[cfg(feature = "ssr")]
type ListRow = (
    Uuid,
    String,
    String,
    String,
    String,
    bool,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    i64,
    Option<time::OffsetDateTime>,
    bool,
);

/// The organizations with drift: open findings of the newest full reconciliation (a table
/// of the coordinator) and a seat count Stripe refused (org_billing). Few, so the list
/// takes them as a parameter: Citus cannot join the coordinator's table to the shards
/// without a subplan, and "with drift" becomes a lookup by id.
#[cfg(feature = "ssr")]
pub fn drift_orgs_sql() -> [String; 2] {
    use super::overview::OPEN_DRIFT;
    [
        format!("SELECT DISTINCT f.org_id FROM enclave.billing_findings f WHERE f.org_id IS NOT NULL AND {OPEN_DRIFT}"),
        "SELECT b.org_id FROM public.org_billing b WHERE b.seat_sync_error IS NOT NULL".into(),
    ]
}

#[cfg(feature = "ssr")]
pub async fn drift_orgs(tx: &mut tenancy::AdminTx) -> Result<Vec<Uuid>, AppError> {
    use tenancy::Statements;
    let mut orgs = Vec::new();
    for sql in drift_orgs_sql() {
        let ids: Vec<(Uuid,)> = tx.query_as(&sql).fetch_all(tx.conn()).await?;
        orgs.extend(ids.into_iter().map(|(id,)| id));
    }
    orgs.sort();
    orgs.dedup();
    Ok(orgs)
}

/// Runs the list's query on an admin transaction (the page and the benchmark).
#[cfg(feature = "ssr")]
pub async fn list_page(
    tx: &mut tenancy::AdminTx,
    filter: &OrgFilter,
    page: u32,
) -> Result<(Vec<OrgRow>, i64), AppError> {
    use tenancy::Statements;
    let sql = list_sql(filter, &drift_orgs(tx).await?);
    let rows: Vec<ListRow> = bind_params(tx.query_as::<ListRow>(&sql.page), &sql.params)
        .bind(i64::from(page - 1) * PAGE_SIZE)
        .fetch_all(tx.conn())
        .await?;
    let (total,): (i64,) = bind_params(tx.query_as::<(i64,)>(&sql.count), &sql.params)
        .fetch_one(tx.conn())
        .await?;
    let ids: Vec<Uuid> = rows.iter().map(|r| r.0).collect();
    let usage: Vec<(Uuid, i64, i64)> = tx
        .query_as("SELECT org_id, members, outputs_this_period FROM enclave.admin_org_usage($1)")
        .bind(&ids)
        .fetch_all(tx.conn())
        .await?;
    let rows = rows
        .into_iter()
        .map(|r| {
            let (members, outputs) = usage
                .iter()
                .find(|u| u.0 == r.0)
                .map(|u| (u.1, u.2))
                .unwrap_or((0, 0));
            OrgRow {
                org_id: r.0,
                name: r.1,
                kind: r.2,
                status: r.3,
                plan_name: r.4,
                seats_used: members,
                seats_allowed: if r.5 { r.7 } else { r.6 }.map(i64::from),
                outputs_used: outputs,
                outputs_allowed: r.8.map(i64::from),
                mrr_cents: r.9,
                grace_ends: r.10.map(super::when),
                drift: r.11,
            }
        })
        .collect();
    Ok((rows, total))
}

#[server(endpoint = "admin_organizations")]
pub async fn admin_organizations(
    search: Option<String>,
    kind: Option<String>,
    plan: Option<String>,
    status: Option<String>,
    drift: Option<bool>,
    sort: Option<String>,
    page: Option<u32>,
) -> Result<OrgPage, AppError> {
    use tenancy::{AdminAction, Statements};
    let filter = OrgFilter {
        search,
        kind,
        plan,
        status,
        drift,
        sort,
    };
    let page = super::page_of(page);
    if let Some(k) = &filter.kind {
        if k != "sme" && k != "agency" {
            return Err(AppError::Invalid("the kind is sme or agency".into()));
        }
    }
    let mut tx = super::door::begin(AdminAction::read("list organizations")).await?;
    let (rows, total) = list_page(&mut tx, &filter, page).await?;
    let plans: Vec<(String, String)> = tx
        .query_as("SELECT plan_id, name FROM enclave.plans ORDER BY org_kind DESC, monthly_price_cents, plan_id")
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(OrgPage {
        rows,
        total,
        page,
        plans,
    })
}

#[component]
pub fn AdminOrganizationsPage() -> impl IntoView {
    let query = use_query_map();
    let data = Resource::new(
        move || {
            query.with(|q| {
                (
                    OrgFilter::from_query(q),
                    q.get("page").and_then(|p| p.parse().ok()),
                )
            })
        },
        |(f, page)| admin_organizations(f.search, f.kind, f.plan, f.status, f.drift, f.sort, page),
    );
    view! {
        <AdminFrame title="Organizations">
            <Suspense fallback=|| view! { <p class="loading">"Loading organizations…"</p> }>
                {move || Suspend::new(async move {
                    let filter = query.with_untracked(OrgFilter::from_query);
                    match data.await {
                        Ok(p) => view! { <OrgList p=p filter=filter/> }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </AdminFrame>
    }
}

#[component]
fn OrgList(p: OrgPage, filter: OrgFilter) -> impl IntoView {
    let selected = |current: &Option<String>, value: &str| current.as_deref() == Some(value);
    let pages = super::page_count(p.total, PAGE_SIZE);
    let (page, total) = (p.page, p.total);
    let empty = p
        .rows
        .is_empty()
        .then(|| view! { <p class="empty">"No organization matches these filters."</p> });
    view! {
        <form method="get" action="/admin/organizations" class="filters" role="search">
            <label>"Search"<input type="search" name="search" value=filter.search.clone().unwrap_or_default()
                placeholder="Name starts with, organization id or cus_…" aria-describedby="search-hint"/></label>
            <label>"Kind"<select name="kind">
                <option value="">"Any"</option>
                <option value="sme" selected=selected(&filter.kind, "sme")>"SME"</option>
                <option value="agency" selected=selected(&filter.kind, "agency")>"Agency"</option>
            </select></label>
            <label>"Plan"<select name="plan">
                <option value="">"Any"</option>
                {p.plans.iter().map(|(id, name)| view! {
                    <option value=id.clone() selected=selected(&filter.plan, id)>{name.clone()}</option>
                }).collect_view()}
            </select></label>
            <label>"Status"<select name="status">
                <option value="">"Any"</option>
                {super::overview::STATUSES.iter().map(|s| view! {
                    <option value=*s selected=selected(&filter.status, s)>{status_words(s)}</option>
                }).collect_view()}
            </select></label>
            <label class="check"><input type="checkbox" name="drift" value="yes" checked=filter.drift == Some(true)/>"Has drift"</label>
            <label>"Sort by"<select name="sort">
                <option value="name">"Name"</option>
                <option value="newest" selected=selected(&filter.sort, "newest")>"Newest"</option>
                <option value="mrr" selected=selected(&filter.sort, "mrr")>"Revenue"</option>
                <option value="grace" selected=selected(&filter.sort, "grace")>"Grace ends"</option>
            </select></label>
            <button type="submit">"Show"</button>
            <p id="search-hint" class="hint">"Names match from their start; ids and Stripe customers match exactly."</p>
        </form>
        <p class="count" role="status">{format!(
            "{} organization{} · page {} of {}",
            p.total,
            if p.total == 1 { "" } else { "s" },
            p.page,
            pages
        )}</p>
        {empty}
        <table class="data">
            <caption class="visually-hidden">"Organizations"</caption>
            <thead><tr>
                <th scope="col">"Organization"</th><th scope="col">"Kind"</th><th scope="col">"Plan"</th>
                <th scope="col">"Status"</th><th scope="col" class="num">"Seats"</th>
                <th scope="col" class="num">"Outputs this period"</th><th scope="col" class="num">"MRR"</th>
                <th scope="col">"Grace ends"</th>
            </tr></thead>
            <tbody>
                {p.rows.into_iter().map(|r| {
                    let href = format!("/admin/organizations/{}", r.org_id);
                    let of = |used: i64, allowed: Option<i64>| match allowed {
                        Some(a) => format!("{used} of {a}"),
                        None => format!("{used} (no limit)"),
                    };
                    view! {
                        <tr>
                            <td><a href=href>{r.name.clone()}</a>
                                {r.drift.then(|| view! { <span class="tag warn">"drift"</span> })}</td>
                            <td>{if r.kind == "agency" { "Agency" } else { "SME" }}</td>
                            <td>{r.plan_name.clone()}</td>
                            <td>{status_words(&r.status)}</td>
                            <td class="num">{of(r.seats_used, r.seats_allowed)}</td>
                            <td class="num">{of(r.outputs_used, r.outputs_allowed)}</td>
                            <td class="num">{money(r.mrr_cents)}</td>
                            <td>{r.grace_ends.clone().unwrap_or_else(|| "—".into())}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <super::Pager page=page total=total page_size=PAGE_SIZE href=move |n| filter.href(n)/>
    }
}

// One organization ---------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: String,
    /// webhook, audit or finding
    pub source: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrgDetail {
    pub org_id: Uuid,
    pub name: String,
    pub slug: String,
    pub kind: String,
    pub created: String,
    pub members: i64,
    pub pending_invitations: i64,
    pub open_clients: i64,
    pub outputs_this_period: i64,
    pub status: String,
    pub plan_name: String,
    pub limits: Vec<(String, String)>,
    pub features: Vec<String>,
    pub customer: Option<String>,
    pub subscription: Option<String>,
    pub period_end: Option<String>,
    pub grace_ends: Option<String>,
    pub seat_sync_error: Option<String>,
    pub grant: Option<String>,
    /// Overrides in force: (feature, what it is set to and why).
    pub overrides: Vec<(String, String)>,
    pub mrr_cents: i64,
    pub timeline: Vec<TimelineEntry>,
    pub billing_configured: bool,
}

#[server(endpoint = "admin_organization")]
pub async fn admin_organization(org_id: Uuid) -> Result<OrgDetail, AppError> {
    use super::overview::{MRR, ORGS_WITH_BILLING, PLAN_IN_FORCE, STATUS};
    use tenancy::{AdminAction, Statements};
    let mut tx = super::door::begin(AdminAction::read("view organization").about(org_id)).await?;
    let facts: Option<Facts> = tx
        .query_as(&format!(
            "SELECT ob.name, ob.slug, ob.kind, ob.created_at, {STATUS} AS status, cp.name AS plan_name,
                    cp.per_seat, cp.seats, cp.client_workspaces, cp.outputs_per_period, cp.features,
                    ob.stripe_customer_id, ob.stripe_subscription_id, ob.current_period_end,
                    ob.grace_ends_at, ob.seat_sync_error, ob.seat_quantity,
                    CASE WHEN ob.status IN ('active', 'past_due') THEN {MRR} ELSE 0 END AS mrr
               FROM {ORGS_WITH_BILLING}
               JOIN enclave.plans cp ON cp.plan_id = {PLAN_IN_FORCE}
              WHERE ob.id = $1"
        ))
        .bind(org_id)
        .fetch_optional(tx.conn())
        .await?;
    let grant: Option<(String, Option<time::OffsetDateTime>)> = tx
        .query_as(
            "SELECT g.plan_id || ' (' || g.reason || ')', g.expires_at FROM enclave.plan_grants g
              WHERE g.org_id = $1 AND (g.expires_at IS NULL OR g.expires_at > now())",
        )
        .bind(org_id)
        .fetch_optional(tx.conn())
        .await?;
    let Some(f) = facts else {
        return Err(AppError::NotAvailable(
            "No organization has that id.".into(),
        ));
    };
    let (members, pending, clients, outputs): (i64, i64, i64, i64) = tx
        .query_as(
            "SELECT members, pending_invitations, open_clients, outputs_this_period
               FROM enclave.admin_org_usage(ARRAY[$1::uuid])",
        )
        .bind(org_id)
        .fetch_one(tx.conn())
        .await?;
    let mut timeline: Vec<(time::OffsetDateTime, &'static str, String)> = Vec::new();
    let events: Vec<(time::OffsetDateTime, String, String, i32, Option<String>)> = tx
        .query_as(
            "SELECT e.first_received_at, e.event_type, e.status, e.delivery_count, e.last_error
               FROM enclave.stripe_events e
              WHERE e.customer_id IN (SELECT c.stripe_customer_id FROM enclave.stripe_customers c WHERE c.org_id = $1)
              ORDER BY e.first_received_at DESC LIMIT 50",
        )
        .bind(org_id)
        .fetch_all(tx.conn())
        .await?;
    for (at, kind, status, count, error) in events {
        let mut text = format!("Stripe {kind}: {status}");
        if count > 1 {
            text.push_str(&format!(", delivered {count} times"));
        }
        if let Some(e) = error {
            text.push_str(&format!(" — {e}"));
        }
        timeline.push((at, "webhook", text));
    }
    // Changes only: an admin looking at the organization is in the audit log, not here.
    let audit: Vec<(time::OffsetDateTime, String, String, serde_json::Value)> = tx
        .query_as(
            "SELECT at, coalesce('admin ' || actor_email, actor), action, detail - 'change'
               FROM enclave.admin_audit($1, NULL, NULL, NULL, 100)
              WHERE NOT (actor LIKE 'admin:%' AND detail ->> 'change' = 'false')
              LIMIT 50",
        )
        .bind(org_id)
        .fetch_all(tx.conn())
        .await?;
    for (at, actor, action, detail) in audit {
        let detail = if detail.as_object().is_some_and(|o| o.is_empty()) {
            String::new()
        } else {
            format!(" {detail}")
        };
        timeline.push((at, "audit", format!("{actor}: {action}{detail}")));
    }
    let findings: Vec<(time::OffsetDateTime, String, String)> = tx
        .query_as(
            "SELECT found_at, kind, action FROM enclave.billing_findings
              WHERE org_id = $1 ORDER BY found_at DESC LIMIT 50",
        )
        .bind(org_id)
        .fetch_all(tx.conn())
        .await?;
    for (at, kind, action) in findings {
        timeline.push((
            at,
            "finding",
            format!("Reconciliation found {kind}: {action}"),
        ));
    }
    let overrides: Vec<(String, Option<i32>, String, Option<time::OffsetDateTime>)> = tx
        .query_as(
            "SELECT feature, value, reason, expires_at FROM enclave.entitlement_overrides
              WHERE org_id = $1 AND (expires_at IS NULL OR expires_at > now()) ORDER BY feature",
        )
        .bind(org_id)
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    timeline.sort_by(|a, b| b.0.cmp(&a.0));
    timeline.truncate(60);
    let limit = |n: Option<i32>, what: &str| match n {
        Some(n) => format!("{n} {what}"),
        None => format!("unlimited {what}"),
    };
    let mut limits = vec![(
        "Seats".to_string(),
        if f.per_seat {
            format!("per seat (billed: {})", f.seat_quantity.unwrap_or(0))
        } else {
            limit(f.seats, "seats")
        },
    )];
    if f.kind == "agency" {
        limits.push((
            "Client workspaces".into(),
            limit(f.client_workspaces, "open clients"),
        ));
    }
    limits.push((
        "Generated outputs".into(),
        limit(f.outputs_per_period, "per period"),
    ));
    Ok(OrgDetail {
        org_id,
        name: f.name,
        slug: f.slug,
        kind: f.kind,
        created: super::when(f.created_at),
        members,
        pending_invitations: pending,
        open_clients: clients,
        outputs_this_period: outputs,
        status: f.status,
        plan_name: f.plan_name,
        limits,
        features: f.features,
        customer: f.stripe_customer_id,
        subscription: f.stripe_subscription_id,
        period_end: f.current_period_end.map(super::when),
        grace_ends: f.grace_ends_at.map(super::when),
        seat_sync_error: f.seat_sync_error,
        grant: grant.map(|(words, expires)| match expires {
            Some(until) => format!("{words}, until {}", super::when(until)),
            None => words,
        }),
        mrr_cents: f.mrr,
        overrides: overrides
            .into_iter()
            .map(|(feature, value, reason, expires)| {
                let value = match (feature.as_str(), value) {
                    ("external_generator", Some(1)) => "included".to_string(),
                    ("external_generator", _) => "not included".to_string(),
                    (_, Some(v)) => v.to_string(),
                    (_, None) => "unlimited".to_string(),
                };
                let until = expires
                    .map(|e| format!(", until {}", super::when(e)))
                    .unwrap_or_default();
                let words = format!("{value} ({reason}{until})");
                (feature, words)
            })
            .collect(),
        timeline: timeline
            .into_iter()
            .map(|(at, source, text)| TimelineEntry {
                at: super::when(at),
                source: source.into(),
                text,
            })
            .collect(),
        billing_configured: matches!(
            use_context::<crate::billing::Billing>(),
            Some(crate::billing::Billing::Configured(_))
        ),
    })
}

#[cfg(feature = "ssr")]
#[derive(sqlx::FromRow)]
struct Facts {
    name: String,
    slug: String,
    kind: String,
    created_at: time::OffsetDateTime,
    status: String,
    plan_name: String,
    per_seat: bool,
    seats: Option<i32>,
    client_workspaces: Option<i32>,
    outputs_per_period: Option<i32>,
    features: Vec<String>,
    stripe_customer_id: Option<String>,
    stripe_subscription_id: Option<String>,
    current_period_end: Option<time::OffsetDateTime>,
    grace_ends_at: Option<time::OffsetDateTime>,
    seat_sync_error: Option<String>,
    seat_quantity: Option<i32>,
    mrr: i64,
}

/// Fetches the organization's subscriptions from Stripe and writes them, as a webhook
/// would.
#[server(endpoint = "admin_resync")]
pub async fn admin_resync(org_id: Uuid) -> Result<String, AppError> {
    use crate::billing::processing::{sync_customer, Outcome};
    use tenancy::{AdminAction, Statements};
    let mut tx = super::door::begin(AdminAction::change(
        "resync from Stripe",
        Some(org_id),
        serde_json::json!({}),
    ))
    .await?;
    let api =
        match use_context::<crate::billing::Billing>() {
            Some(crate::billing::Billing::Configured(api)) => api,
            _ => return Err(AppError::NotAvailable(
                "Billing is not configured on this server, so there is no Stripe to resync from."
                    .into(),
            )),
        };
    let customer: Option<String> = tx
        .query_scalar(
            "SELECT stripe_customer_id FROM enclave.stripe_customers WHERE org_id = $1
              ORDER BY stripe_customer_id LIMIT 1",
        )
        .bind(org_id)
        .fetch_optional(tx.conn())
        .await?;
    let Some(customer) = customer else {
        return Err(AppError::Invalid(
            "this organization has no Stripe customer yet, so there is nothing to resync.".into(),
        ));
    };
    let outcome = sync_customer(&mut tx, &api, &customer).await.map_err(|e| {
        tracing::warn!(%org_id, error = %e, "admin resync failed");
        AppError::NotAvailable(format!("Resync did not finish: {e}"))
    })?;
    tx.commit().await?;
    let words = match outcome {
        Outcome::Applied { status, plan, .. } => {
            format!("Resynced from Stripe: {plan}, {}.", status_words(&status))
        }
        Outcome::NoSubscription { .. } => {
            "Resynced: Stripe has no subscription for this customer.".into()
        }
        Outcome::Dead(why) => format!("Stripe's state needs a person: {why}"),
        _ => "Resynced: nothing changed.".into(),
    };
    Ok(words)
}

/// Moves a past-due organization's grace end later (date, UTC end of day).
#[server(endpoint = "admin_extend_grace")]
pub async fn admin_extend_grace(
    org_id: Uuid,
    until: String,
    reason: String,
) -> Result<String, AppError> {
    use tenancy::{AdminAction, Statements};
    let reason = reason.trim().to_string();
    if reason.is_empty() || reason.len() > 200 {
        return Err(AppError::Invalid(
            "say why the grace period is extended (up to 200 characters).".into(),
        ));
    }
    let day = parse_date(until.trim())
        .ok_or_else(|| AppError::Invalid("enter the new end as a date (YYYY-MM-DD).".into()))?;
    let until_at = day
        .with_hms(23, 59, 59)
        .map_err(|e| AppError::internal(&e))?
        .assume_utc();
    let mut tx = super::door::begin(AdminAction::change(
        "extend grace",
        Some(org_id),
        serde_json::json!({ "until": until.trim(), "reason": reason }),
    ))
    .await?;
    tx.query("SELECT enclave.admin_extend_grace($1, $2)")
        .bind(org_id)
        .bind(until_at)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(format!("Grace extended to {}.", super::when(until_at)))
}

/// The features an override can set, as the database names them, and in words.
pub const OVERRIDABLE: &[(&str, &str)] = &[
    ("seats", "Seats"),
    ("client_workspaces", "Client workspaces"),
    ("outputs_per_period", "Generated outputs per period"),
    (
        "external_generator",
        "External text generator (1 on, 0 off)",
    ),
];

pub fn feature_words(feature: &str) -> &str {
    OVERRIDABLE
        .iter()
        .find(|(f, _)| *f == feature)
        .map(|(_, w)| *w)
        .unwrap_or(feature)
}

/// Sets one limit or feature of one organization over its plan. `value` empty means
/// unlimited; `expires` empty means until ended.
#[server(endpoint = "admin_set_override")]
pub async fn admin_set_override(
    org_id: Uuid,
    feature: String,
    value: String,
    reason: String,
    expires: String,
) -> Result<String, AppError> {
    use tenancy::{AdminAction, Statements};
    if !OVERRIDABLE.iter().any(|(f, _)| *f == feature) {
        return Err(AppError::Invalid("choose what to override.".into()));
    }
    let value: Option<i32> = match value.trim() {
        "" if feature == "external_generator" => {
            return Err(AppError::Invalid(
                "enter 1 to include the external generator, 0 to leave it out.".into(),
            ))
        }
        "" => None,
        v => Some(v.parse::<i32>().ok().filter(|n| *n >= 0).ok_or_else(|| {
            AppError::Invalid("the value is a whole number of 0 or more (empty: unlimited).".into())
        })?),
    };
    let reason = reason.trim().to_string();
    if reason.is_empty() || reason.len() > 200 {
        return Err(AppError::Invalid("say why (up to 200 characters).".into()));
    }
    let expires_at = match expires.trim() {
        "" => None,
        day => Some(
            parse_date(day)
                .ok_or_else(|| {
                    AppError::Invalid(
                        "enter the expiry as a date (YYYY-MM-DD), or leave it empty.".into(),
                    )
                })?
                .with_hms(23, 59, 59)
                .map_err(|e| AppError::internal(&e))?
                .assume_utc(),
        ),
    };
    let mut tx = super::door::begin(AdminAction::change(
        "set entitlement override",
        Some(org_id),
        serde_json::json!({ "feature": feature, "value": value, "reason": reason, "expires": expires_at.map(super::when) }),
    ))
    .await?;
    tx.query("SELECT enclave.admin_set_override($1, $2, $3, $4, $5)")
        .bind(org_id)
        .bind(&feature)
        .bind(value)
        .bind(&reason)
        .bind(expires_at)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(format!(
        "{} set to {}.",
        feature_words(&feature),
        value
            .map(|v| v.to_string())
            .unwrap_or_else(|| "unlimited".into())
    ))
}

/// Ends one override: the plan's own limit applies again.
#[server(endpoint = "admin_end_override")]
pub async fn admin_end_override(org_id: Uuid, feature: String) -> Result<String, AppError> {
    use tenancy::{AdminAction, Statements};
    let mut tx = super::door::begin(AdminAction::change(
        "end entitlement override",
        Some(org_id),
        serde_json::json!({ "feature": feature }),
    ))
    .await?;
    let ended: bool = tx
        .query_scalar("SELECT enclave.admin_end_override($1, $2)")
        .bind(org_id)
        .bind(&feature)
        .fetch_one(tx.conn())
        .await?;
    if !ended {
        return Err(AppError::NotAvailable(
            "That override is not in force.".into(),
        ));
    }
    tx.commit().await?;
    Ok(format!(
        "{}: the plan's own limit applies again.",
        feature_words(&feature)
    ))
}

/// `YYYY-MM-DD`, as a date input sends it.
#[cfg(feature = "ssr")]
fn parse_date(s: &str) -> Option<time::Date> {
    let mut parts = s.splitn(3, '-');
    let year = parts.next()?.parse().ok()?;
    let month = time::Month::try_from(parts.next()?.parse::<u8>().ok()?).ok()?;
    let day = parts.next()?.parse().ok()?;
    time::Date::from_calendar_date(year, month, day).ok()
}

#[component]
pub fn AdminOrganizationPage() -> impl IntoView {
    let params = use_params_map();
    let resync = ServerAction::<AdminResync>::new();
    let extend = ServerAction::<AdminExtendGrace>::new();
    let set_override = ServerAction::<AdminSetOverride>::new();
    let end_override = ServerAction::<AdminEndOverride>::new();
    let data = Resource::new(
        move || {
            (
                params.with(|p| p.get("org").and_then(|o| o.parse::<Uuid>().ok())),
                resync.version().get(),
                extend.version().get(),
                (set_override.version().get(), end_override.version().get()),
            )
        },
        |(org, _, _, _)| async move {
            match org {
                Some(org) => admin_organization(org).await,
                None => Err(AppError::NotAvailable(
                    "That is not an organization id.".into(),
                )),
            }
        },
    );
    view! {
        <AdminFrame title="Organization">
            <div aria-live="polite">
                <super::ActionOutcome action=resync/>
                <super::ActionOutcome action=extend/>
                <super::ActionOutcome action=set_override/>
                <super::ActionOutcome action=end_override/>
            </div>
            <Suspense fallback=|| view! { <p class="loading">"Loading the organization…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => view! { <OrgDetailView d=d resync=resync extend=extend set_override=set_override end_override=end_override/> }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </AdminFrame>
    }
}

#[component]
fn OrgDetailView(
    d: OrgDetail,
    resync: ServerAction<AdminResync>,
    extend: ServerAction<AdminExtendGrace>,
    set_override: ServerAction<AdminSetOverride>,
    end_override: ServerAction<AdminEndOverride>,
) -> impl IntoView {
    let org = d.org_id.to_string();
    let override_form = {
        let org = org.clone();
        let features = OVERRIDABLE
            .iter()
            .filter(|(f, _)| *f != "client_workspaces" || d.kind == "agency")
            .map(|(f, w)| view! { <option value=*f>{*w}</option> })
            .collect_view();
        view! {
            <ActionForm action=set_override attr:class="stacked">
                <h3>"Grant an override"</h3>
                <input type="hidden" name="org_id" value=org/>
                <label>"What"<select name="feature">{features}</select></label>
                <label>"New value (empty: unlimited)"<input type="text" inputmode="numeric" name="value"/></label>
                <label>"Reason"<input type="text" name="reason" required maxlength="200"/></label>
                <label>"Expires (UTC date, optional)"<input type="date" name="expires"/></label>
                <button type="submit" disabled=move || set_override.pending().get()>"Grant override"</button>
            </ActionForm>
        }
    };
    let overrides = (!d.overrides.is_empty()).then(|| {
        let org = org.clone();
        view! {
            <h3>"Overrides in force"</h3>
            <ul class="overrides">
                {d.overrides.iter().map(|(key, words)| {
                    let feature = feature_words(key).to_string();
                    let key = key.clone();
                    let org = org.clone();
                    view! {
                        <li>
                            <strong>{feature.clone()}</strong>": "{words.clone()}
                            <ActionForm action=end_override attr:class="inline">
                                <input type="hidden" name="org_id" value=org/>
                                <input type="hidden" name="feature" value=key/>
                                <button type="submit" class="danger" aria-label=format!("End the {feature} override")>"End"</button>
                            </ActionForm>
                        </li>
                    }
                }).collect_view()}
            </ul>
        }
    });
    let fact =
        |label: &'static str, value: String| view! { <div><dt>{label}</dt><dd>{value}</dd></div> };
    let resync_form = (d.billing_configured && d.customer.is_some()).then(|| {
        let org = org.clone();
        view! {
            <ActionForm action=resync>
                <input type="hidden" name="org_id" value=org/>
                <button type="submit" disabled=move || resync.pending().get()>
                    {move || if resync.pending().get() { "Resyncing…" } else { "Resync from Stripe" }}
                </button>
            </ActionForm>
        }
    });
    let grace_form = (d.status == "past_due").then(|| {
        let org = org.clone();
        view! {
            <ActionForm action=extend attr:class="stacked">
                <h3>"Extend grace"</h3>
                <input type="hidden" name="org_id" value=org/>
                <label>"New end (UTC date)"<input type="date" name="until" required/></label>
                <label>"Reason"<input type="text" name="reason" required maxlength="200"/></label>
                <button type="submit" disabled=move || extend.pending().get()>"Extend grace"</button>
            </ActionForm>
        }
    });
    let empty_timeline = d.timeline.is_empty().then(|| view! { <p class="empty">"Nothing has happened to this organization's billing yet."</p> });
    view! {
        <h2>{d.name.clone()}</h2>
        <dl class="facts">
            {fact("Id", org.clone())}
            {fact("Address", d.slug.clone())}
            {fact("Kind", if d.kind == "agency" { "Agency".into() } else { "SME".into() })}
            {fact("Created", d.created.clone())}
            {fact("Members", d.members.to_string())}
            {fact("Pending invitations", d.pending_invitations.to_string())}
            {(d.kind == "agency").then(|| fact("Open clients", d.open_clients.to_string()))}
            {fact("Outputs this period", d.outputs_this_period.to_string())}
        </dl>
        <h2>"Plan and entitlements"</h2>
        <dl class="facts">
            {fact("Plan", d.plan_name.clone())}
            {fact("Status", status_words(&d.status).into())}
            {fact("MRR", money(d.mrr_cents))}
            {d.limits.iter().map(|(k, v)| view! { <div><dt>{k.clone()}</dt><dd>{v.clone()}</dd></div> }).collect_view()}
            {fact("Features", if d.features.is_empty() { "none".into() } else { d.features.join(", ") })}
            {d.grant.clone().map(|g| fact("Granted plan", g))}
            {d.customer.clone().map(|c| fact("Stripe customer", c))}
            {d.subscription.clone().map(|s| fact("Subscription", s))}
            {d.period_end.clone().map(|p| fact("Period ends", p))}
            {d.grace_ends.clone().map(|g| fact("Grace ends", g))}
            {d.seat_sync_error.clone().map(|e| fact("Seat sync error", e))}
        </dl>
        {overrides}
        <h2>"Actions"</h2>
        <div class="actions">{resync_form}{override_form}{grace_form}</div>
        <h2>"Timeline"</h2>
        {empty_timeline}
        <ol class="timeline">
            {d.timeline.into_iter().map(|t| view! {
                <li><time>{t.at}</time>" "<span class=format!("tag {}", t.source)>{t.source.clone()}</span>" "{t.text}</li>
            }).collect_view()}
        </ol>
    }
}
