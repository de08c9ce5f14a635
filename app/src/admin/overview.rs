//! Overview: revenue, organizations by status, webhook health, reconciliation.

use super::{money, AdminFrame};
use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    /// Monthly recurring revenue of active and past-due subscriptions, in cents.
    pub mrr_cents: i64,
    pub paying: i64,
    /// (status, organizations), every status listed even when none.
    pub by_status: Vec<(String, i64)>,
    pub events_24h: i64,
    pub failed_24h: i64,
    pub waiting: i64,
    pub lag_p50_ms: Option<i64>,
    pub lag_p95_ms: Option<i64>,
    pub last_run: Option<String>,
    pub open_drift: i64,
    pub seat_sync_errors: i64,
    pub charts: Vec<Chart>,
}

/// A chart as SVG, with its numbers as a table (the text alternative).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Chart {
    pub title: String,
    pub svg: String,
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// The statuses an organization is counted under: its subscription's, else a plan the
/// platform granted, else Free.
pub const STATUSES: &[&str] = &[
    "trialing",
    "active",
    "past_due",
    "canceled",
    "incomplete",
    "granted",
    "free",
];

pub fn status_words(status: &str) -> &'static str {
    match status {
        "trialing" => "Trialing",
        "active" => "Active",
        "past_due" => "Past due",
        "canceled" => "Canceled",
        "incomplete" => "Incomplete",
        "granted" => "Granted plan",
        _ => "Free",
    }
}

#[server(endpoint = "admin_overview")]
pub async fn admin_overview() -> Result<Overview, AppError> {
    use tenancy::{AdminAction, Statements};
    let mut tx = super::door::begin(AdminAction::read("view admin overview")).await?;
    let (mrr_cents, paying): (i64, i64) = tx
        .query_as(&format!(
            "SELECT coalesce(sum({MRR}), 0)::bigint, count(*)
               FROM public.org_billing ob JOIN enclave.plans p ON p.plan_id = ob.plan_id
              WHERE ob.status IN ('active', 'past_due')"
        ))
        .fetch_one(tx.conn())
        .await?;
    let counts: Vec<(String, i64)> = tx
        .query_as(&format!(
            "SELECT {STATUS} AS status, count(*) FROM {ORGS_WITH_BILLING} GROUP BY 1"
        ))
        .fetch_all(tx.conn())
        .await?;
    let (events_24h, failed_24h, waiting, p50, p95): (i64, i64, i64, Option<f64>, Option<f64>) = tx
        .query_as(
            "SELECT count(*) FILTER (WHERE first_received_at > now() - interval '24 hours'),
                    count(*) FILTER (WHERE first_received_at > now() - interval '24 hours'
                                       AND status IN ('dead', 'parked')),
                    count(*) FILTER (WHERE status IN ('received', 'parked')),
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - first_received_at))
                        FILTER (WHERE processed_at > now() - interval '24 hours'),
                    percentile_cont(0.95) WITHIN GROUP (ORDER BY extract(epoch FROM processed_at - first_received_at))
                        FILTER (WHERE processed_at > now() - interval '24 hours')
               FROM enclave.stripe_events
              WHERE first_received_at > now() - interval '24 hours' OR status IN ('received', 'parked')",
        )
        .fetch_one(tx.conn())
        .await?;
    let last_run: Option<(time::OffsetDateTime, Option<i32>, i32, i32, i32)> = tx
        .query_as(
            "SELECT started_at, outcome, findings, repaired, needs_person
               FROM enclave.billing_reconciliations WHERE NOT dry_run
              ORDER BY started_at DESC LIMIT 1",
        )
        .fetch_optional(tx.conn())
        .await?;
    // The organizations the Organizations list shows as drifting, counted per cause (a
    // statement each: the findings are a table of the coordinator on Citus).
    let [findings_sql, seat_sync_sql] = super::organizations::drift_orgs_sql();
    let (open_drift,): (i64,) = tx
        .query_as(&format!("SELECT count(*) FROM ({findings_sql}) d"))
        .fetch_one(tx.conn())
        .await?;
    let (seat_sync_errors,): (i64,) = tx
        .query_as(&format!("SELECT count(*) FROM ({seat_sync_sql}) d"))
        .fetch_one(tx.conn())
        .await?;
    let charts = charts(&mut tx).await?;
    tx.commit().await?;
    let by_status = STATUSES
        .iter()
        .map(|s| {
            let n = counts
                .iter()
                .find(|(c, _)| c == s)
                .map(|(_, n)| *n)
                .unwrap_or(0);
            (s.to_string(), n)
        })
        .collect();
    Ok(Overview {
        mrr_cents,
        paying,
        by_status,
        events_24h,
        failed_24h,
        waiting,
        lag_p50_ms: p50.map(|s| (s * 1000.0).round() as i64),
        lag_p95_ms: p95.map(|s| (s * 1000.0).round() as i64),
        last_run: last_run.map(|(at, outcome, findings, repaired, needs)| {
            format!(
                "{}: {} — {findings} finding(s), {repaired} repaired, {needs} need a person",
                super::when(at),
                match outcome {
                    Some(0) => "in sync or repaired",
                    Some(1) => "something needs a person",
                    Some(_) => "failed",
                    None => "still running",
                }
            )
        }),
        open_drift,
        seat_sync_errors,
        charts,
    })
}

/// Revenue per day for 90 days stacked by plan (the snapshots, today live), new and
/// churned organizations per week for 12 weeks, generated outputs per day for 30 days.
#[cfg(feature = "ssr")]
async fn charts(tx: &mut tenancy::AdminTx) -> Result<Vec<Chart>, AppError> {
    use super::charts::{grouped_bars, stacked_areas};
    use tenancy::Statements;
    let day_label = |d: time::Date| format!("{} {}", &d.month().to_string()[..3], d.day());
    let today = time::OffsetDateTime::now_utc().date();
    let days: Vec<time::Date> = (0..90)
        .rev()
        .map(|i| today - time::Duration::days(i))
        .collect();
    let plans: Vec<(String, String)> = tx
        .query_as("SELECT plan_id, name || ' (' || org_kind || ')' FROM enclave.plans WHERE NOT is_free ORDER BY org_kind, monthly_price_cents")
        .fetch_all(tx.conn())
        .await?;
    let saved: Vec<(time::Date, String, i64)> = tx
        .query_as(&format!(
            "SELECT day, plan_id, mrr_cents FROM enclave.mrr_daily WHERE day > $1 AND day < $2
             UNION ALL
             SELECT $2, ob.plan_id, sum({MRR})::bigint FROM public.org_billing ob
               JOIN enclave.plans p ON p.plan_id = ob.plan_id
              WHERE ob.status IN ('active', 'past_due') GROUP BY ob.plan_id"
        ))
        .bind(days[0] - time::Duration::days(1))
        .bind(today)
        .fetch_all(tx.conn())
        .await?;
    let mrr: Vec<(String, Vec<f64>)> = plans
        .iter()
        .map(|(id, name)| {
            let values = days
                .iter()
                .map(|d| {
                    saved
                        .iter()
                        .find(|(day, plan, _)| day == d && plan == id)
                        .map(|(_, _, cents)| *cents as f64 / 100.0)
                        .unwrap_or(0.0)
                })
                .collect();
            (name.clone(), values)
        })
        .collect();
    let day_labels: Vec<String> = days.iter().map(|d| day_label(*d)).collect();
    let mrr_rows = days
        .iter()
        .enumerate()
        .rev()
        .take(14)
        .map(|(i, d)| {
            let mut row = vec![day_label(*d)];
            row.extend(
                mrr.iter()
                    .map(|(_, v)| super::money((v[i] * 100.0).round() as i64)),
            );
            row
        })
        .collect();

    let weeks: Vec<(time::Date, i64, i64)> = tx
        .query_as("SELECT week, created, churned FROM enclave.admin_org_weeks(12)")
        .fetch_all(tx.conn())
        .await?;
    let week_labels: Vec<String> = weeks.iter().map(|(w, _, _)| day_label(*w)).collect();
    let week_series = vec![
        (
            "New".to_string(),
            weeks.iter().map(|w| w.1 as f64).collect(),
        ),
        (
            "Churned".to_string(),
            weeks.iter().map(|w| w.2 as f64).collect(),
        ),
    ];

    let month: Vec<time::Date> = (0..30)
        .rev()
        .map(|i| today - time::Duration::days(i))
        .collect();
    let outputs: Vec<(time::Date, i64)> = tx
        .query_as(
            "SELECT day, sum(outputs)::bigint FROM public.usage_daily WHERE day >= $1 GROUP BY day",
        )
        .bind(month[0])
        .fetch_all(tx.conn())
        .await?;
    let per_day: Vec<f64> = month
        .iter()
        .map(|d| {
            outputs
                .iter()
                .find(|(day, _)| day == d)
                .map(|(_, n)| *n as f64)
                .unwrap_or(0.0)
        })
        .collect();
    let month_labels: Vec<String> = month.iter().map(|d| day_label(*d)).collect();

    let mut mrr_head = vec!["Day".to_string()];
    mrr_head.extend(plans.iter().map(|(_, n)| n.clone()));
    Ok(vec![
        Chart {
            title: "Monthly recurring revenue per day, by plan (last 90 days)".into(),
            svg: stacked_areas(
                "MRR per day by plan (USD)",
                "USD per month",
                &day_labels,
                &mrr,
            ),
            head: mrr_head,
            rows: mrr_rows,
        },
        Chart {
            title: "New and churned organizations per week (last 12 weeks)".into(),
            svg: grouped_bars(
                "Organizations per week",
                "organizations",
                &week_labels,
                &week_series,
            ),
            head: vec!["Week of".into(), "New".into(), "Churned".into()],
            rows: weeks
                .iter()
                .map(|(w, n, c)| vec![day_label(*w), n.to_string(), c.to_string()])
                .collect(),
        },
        Chart {
            title: "Generated outputs per day (last 30 days)".into(),
            svg: grouped_bars(
                "Generated outputs per day",
                "outputs",
                &month_labels,
                &[("Outputs".to_string(), per_day.clone())],
            ),
            head: vec!["Day".into(), "Outputs".into()],
            rows: month_labels
                .iter()
                .zip(per_day.iter())
                .rev()
                .map(|(d, n)| vec![d.clone(), format!("{n}")])
                .collect(),
        },
    ])
}

/// A subscription's monthly revenue in cents (per-seat plans bill their quantity).
#[cfg(feature = "ssr")]
pub(crate) const MRR: &str =
    "p.monthly_price_cents::bigint * CASE WHEN p.per_seat THEN coalesce(ob.seat_quantity, 1) ELSE 1 END";

/// An organization's status as the console counts it (`ob`: its billing row's columns, NULL
/// without one, and its live grant's plan).
#[cfg(feature = "ssr")]
pub(crate) const STATUS: &str = "CASE WHEN ob.status IS NOT NULL THEN ob.status
                                     WHEN ob.grant_plan_id IS NOT NULL THEN 'granted' ELSE 'free' END";

/// Every organization with its billing row (`ob`: the organization's columns, the billing
/// row's, NULL without one, and `grant_plan_id`, its live grant's plan), the billing row's
/// plan (`p`) and the Free plan of its kind (`fp`): what STATUS, MRR and PLAN_IN_FORCE read.
/// For `FROM`. Every table here is a reference table on Citus (org_billing and plan_grants
/// are the billing facts kept on every node), so the joins run where the query is; an
/// outer join onto a distributed table is what Citus 13.2.2 cannot run correctly
/// (server/tests/layering.rs, docs/citus/upstream/).
#[cfg(feature = "ssr")]
pub(crate) const ORGS_WITH_BILLING: &str = "(SELECT o.id, o.name, o.name_key, o.slug, o.kind, o.created_at,
                       b.status, b.plan_id, b.seat_quantity, b.grace_ends_at, b.seat_sync_error,
                       b.stripe_customer_id, b.stripe_subscription_id, b.current_period_end,
                       (SELECT g.plan_id FROM enclave.plan_grants g
                         WHERE g.org_id = o.id AND (g.expires_at IS NULL OR g.expires_at > now())) AS grant_plan_id
                  FROM public.organizations o LEFT JOIN public.org_billing b ON b.org_id = o.id) ob
               LEFT JOIN enclave.plans p ON p.plan_id = ob.plan_id
               JOIN enclave.plans fp ON fp.org_kind = ob.kind AND fp.is_free";

/// The plan in force, as `enclave.current_plan()` decides it inside a tenant's context: a
/// live subscription's, else a grant, else Free.
#[cfg(feature = "ssr")]
pub(crate) const PLAN_IN_FORCE: &str =
    "coalesce(CASE WHEN ob.status IN ('trialing', 'active', 'past_due') THEN ob.plan_id END, ob.grant_plan_id, fp.plan_id)";

/// Findings still open: what the newest finished full reconciliation left to a person.
#[cfg(feature = "ssr")]
pub(crate) const OPEN_DRIFT: &str = "f.action = 'needs_person' AND f.run_id = (
        SELECT r.run_id FROM enclave.billing_reconciliations r
         WHERE r.finished_at IS NOT NULL AND NOT r.dry_run AND r.only_org_id IS NULL
         ORDER BY r.started_at DESC LIMIT 1)";

#[component]
pub fn AdminOverviewPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| admin_overview());
    view! {
        <AdminFrame title="Overview">
            <Suspense fallback=|| view! { <p class="loading">"Loading the overview…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(o) => view! { <OverviewView o=o/> }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </AdminFrame>
    }
}

#[component]
fn OverviewView(o: Overview) -> impl IntoView {
    let lag = |ms: Option<i64>| ms.map(|m| format!("{m} ms")).unwrap_or_else(|| "—".into());
    let failure_rate = if o.events_24h == 0 {
        "no events in the last 24 hours".to_string()
    } else {
        format!(
            "{:.1}% ({} of {})",
            100.0 * o.failed_24h as f64 / o.events_24h as f64,
            o.failed_24h,
            o.events_24h
        )
    };
    view! {
        <section class="stats" aria-label="Key figures">
            <div class="stat"><span class="stat-label">"Monthly recurring revenue"</span>
                <span class="stat-value" data-testid="mrr">{money(o.mrr_cents)}</span>
                <span class="stat-note">{format!("{} paying organizations", o.paying)}</span></div>
            <div class="stat"><span class="stat-label">"Webhook failures (24 h)"</span>
                <span class="stat-value">{failure_rate}</span>
                <span class="stat-note">{format!("{} waiting to be processed", o.waiting)}</span></div>
            <div class="stat"><span class="stat-label">"Processing lag (24 h)"</span>
                <span class="stat-value">{format!("p50 {}", lag(o.lag_p50_ms))}</span>
                <span class="stat-note">{format!("p95 {}", lag(o.lag_p95_ms))}</span></div>
            <div class="stat"><span class="stat-label">"Open drift"</span>
                <span class="stat-value">{format!("{} organizations", o.open_drift)}</span>
                <span class="stat-note">{format!("{} with a failed seat sync", o.seat_sync_errors)}</span></div>
        </section>
        <h2>"Organizations by status"</h2>
        <table class="data">
            <caption class="visually-hidden">"Organizations by billing status"</caption>
            <thead><tr><th scope="col">"Status"</th><th scope="col" class="num">"Organizations"</th></tr></thead>
            <tbody>
                {o.by_status.into_iter().map(|(s, n)| {
                    let href = format!("/admin/organizations?status={s}");
                    view! { <tr><td><a href=href>{super::overview::status_words(&s)}</a></td><td class="num">{n}</td></tr> }
                }).collect_view()}
            </tbody>
        </table>
        {o.charts.into_iter().map(|c| view! {
            <figure class="chart">
                <figcaption>{c.title.clone()}</figcaption>
                <div class="chart-svg" inner_html=c.svg></div>
                <details>
                    <summary>"The numbers as a table"</summary>
                    <table class="data">
                        <caption class="visually-hidden">{c.title}</caption>
                        <thead><tr>{c.head.into_iter().map(|h| view! { <th scope="col">{h}</th> }).collect_view()}</tr></thead>
                        <tbody>{c.rows.into_iter().map(|r| view! {
                            <tr>{r.into_iter().map(|v| view! { <td>{v}</td> }).collect_view()}</tr>
                        }).collect_view()}</tbody>
                    </table>
                </details>
            </figure>
        }).collect_view()}
        <h2>"Last reconciliation"</h2>
        <p>{o.last_run.unwrap_or_else(|| "No reconciliation has run yet.".into())}" "<a href="/admin/reconciliation">"See runs and findings"</a></p>
    }
}
