//! Reconciliation: the runs, what each found (repaired, or needing a person), Run now.

use super::AdminFrame;
use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    pub run_id: Uuid,
    pub started: String,
    pub finished: Option<String>,
    pub dry_run: bool,
    pub scope: String,
    pub customers: i32,
    pub findings: i32,
    pub repaired: i32,
    pub needs_person: i32,
    pub outcome: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub found: String,
    pub kind: String,
    pub action: String,
    pub org: Option<(Uuid, String)>,
    pub customer: Option<String>,
    pub detail: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub runs: Vec<Run>,
    /// The run whose findings are shown (the newest unless one was chosen).
    pub shown: Option<Uuid>,
    pub findings: Vec<Finding>,
    pub can_run: bool,
}

#[server(endpoint = "admin_reconciliation")]
pub async fn admin_reconciliation(run: Option<Uuid>) -> Result<Reconciliation, AppError> {
    use tenancy::{AdminAction, Statements};
    let mut tx = super::door::begin(AdminAction::read("view reconciliation")).await?;
    type RunRow = (
        Uuid,
        time::OffsetDateTime,
        Option<time::OffsetDateTime>,
        bool,
        Option<Uuid>,
        i32,
        i32,
        i32,
        i32,
        Option<i32>,
        Option<String>,
    );
    let runs: Vec<RunRow> = tx
        .query_as(
            "SELECT run_id, started_at, finished_at, dry_run, only_org_id, customers, findings,
                    repaired, needs_person, outcome, error
               FROM enclave.billing_reconciliations ORDER BY started_at DESC LIMIT 30",
        )
        .fetch_all(tx.conn())
        .await?;
    let shown = run.or_else(|| runs.first().map(|r| r.0));
    type FindingRow = (
        time::OffsetDateTime,
        String,
        String,
        Option<Uuid>,
        Option<String>,
        Option<String>,
        serde_json::Value,
    );
    let findings: Vec<FindingRow> = match shown {
        Some(run) => {
            tx.query_as(
                "SELECT f.found_at, f.kind, f.action, f.org_id, o.name, f.stripe_customer_id, f.detail
                   FROM enclave.billing_findings f LEFT JOIN public.organizations o ON o.id = f.org_id
                  WHERE f.run_id = $1 ORDER BY f.action = 'needs_person' DESC, f.finding_id LIMIT 500",
            )
            .bind(run)
            .fetch_all(tx.conn())
            .await?
        }
        None => Vec::new(),
    };
    tx.commit().await?;
    Ok(Reconciliation {
        runs: runs
            .into_iter()
            .map(|r| Run {
                run_id: r.0,
                started: super::when(r.1),
                finished: r.2.map(super::when),
                dry_run: r.3,
                scope: r
                    .4
                    .map(|o| format!("organization {o}"))
                    .unwrap_or_else(|| "every customer".into()),
                customers: r.5,
                findings: r.6,
                repaired: r.7,
                needs_person: r.8,
                outcome: match (r.9, r.10) {
                    (Some(0), _) => "in sync or repaired".into(),
                    (Some(1), _) => "needs a person".into(),
                    (Some(_), Some(e)) => format!("failed: {e}"),
                    (Some(_), None) => "failed".into(),
                    (None, _) => "running".into(),
                },
            })
            .collect(),
        shown,
        findings: findings
            .into_iter()
            .map(|f| Finding {
                found: super::when(f.0),
                kind: f.1,
                action: f.2,
                org: f.3.zip(f.4),
                customer: f.5,
                detail: f.6.to_string(),
            })
            .collect(),
        can_run: super::queues().reconcile.is_some(),
    })
}

#[server(endpoint = "admin_run_reconciliation")]
pub async fn admin_run_reconciliation() -> Result<String, AppError> {
    use tenancy::AdminAction;
    // The admin's audited transaction records who asked; the job runs on its own.
    let tx = super::door::begin(AdminAction::change(
        "run reconciliation",
        None,
        serde_json::json!({}),
    ))
    .await?;
    let Some(reconcile) = super::queues().reconcile else {
        return Err(AppError::NotAvailable(
            "Billing is not configured on this server, so there is no Stripe to reconcile with."
                .into(),
        ));
    };
    tx.commit().await?;
    let job = reconcile.enqueue().await?;
    tracing::info!(%job, "reconciliation queued from the admin console");
    Ok(
        "A reconciliation run is queued; it appears below when it starts. Reload to follow it."
            .into(),
    )
}

#[component]
pub fn AdminReconciliationPage() -> impl IntoView {
    let query = use_query_map();
    let run_now = ServerAction::<AdminRunReconciliation>::new();
    let data = Resource::new(
        move || {
            (
                query.with(|q| q.get("run").and_then(|r| r.parse::<Uuid>().ok())),
                run_now.version().get(),
            )
        },
        |(run, _)| admin_reconciliation(run),
    );
    view! {
        <AdminFrame title="Reconciliation">
            <div aria-live="polite">
                <super::ActionOutcome action=run_now/>
            </div>
            <Suspense fallback=|| view! { <p class="loading">"Loading runs…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(r) => view! { <ReconciliationView r=r run_now=run_now/> }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </AdminFrame>
    }
}

#[component]
fn ReconciliationView(
    r: Reconciliation,
    run_now: ServerAction<AdminRunReconciliation>,
) -> impl IntoView {
    let run_form = r.can_run.then(|| {
        view! {
            <ActionForm action=run_now>
                <button type="submit" disabled=move || run_now.pending().get()>"Run now"</button>
            </ActionForm>
        }
    });
    let not_configured = (!r.can_run).then(|| view! {
        <p class="hint">"Billing is not configured on this server: reconciliation cannot run here."</p>
    });
    let no_runs = r.runs.is_empty().then(|| view! { <p class="empty">"No reconciliation has run yet. It runs every hour at :41, or now with the button above."</p> });
    let shown = r.shown;
    let no_findings_table = r.findings.is_empty();
    let no_findings = (shown.is_some() && r.findings.is_empty())
        .then(|| view! { <p class="empty">"This run found nothing to repair."</p> });
    view! {
        {run_form}{not_configured}
        <h2>"Runs"</h2>
        {no_runs}
        <table class="data">
            <caption class="visually-hidden">"Reconciliation runs"</caption>
            <thead><tr>
                <th scope="col">"Started"</th><th scope="col">"Scope"</th><th scope="col" class="num">"Customers"</th>
                <th scope="col" class="num">"Findings"</th><th scope="col" class="num">"Repaired"</th>
                <th scope="col" class="num">"Need a person"</th><th scope="col">"Outcome"</th>
            </tr></thead>
            <tbody>
                {r.runs.into_iter().map(|run| {
                    let current = (Some(run.run_id) == shown).then_some("true");
                    view! {
                        <tr>
                            <td><a href=format!("/admin/reconciliation?run={}", run.run_id) aria-current=current>{run.started.clone()}</a>
                                {run.dry_run.then(|| view! { <span class="tag">"dry run"</span> })}</td>
                            <td>{run.scope.clone()}</td>
                            <td class="num">{run.customers}</td>
                            <td class="num">{run.findings}</td>
                            <td class="num">{run.repaired}</td>
                            <td class="num">{run.needs_person}</td>
                            <td>{run.outcome.clone()}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        <h2>"Findings of the selected run"</h2>
        {no_findings}
        <table class="data" hidden=no_findings_table>
            <caption class="visually-hidden">"Findings"</caption>
            <thead><tr>
                <th scope="col">"Found"</th><th scope="col">"What"</th><th scope="col">"Done"</th>
                <th scope="col">"Organization"</th><th scope="col">"Detail"</th>
            </tr></thead>
            <tbody>
                {r.findings.into_iter().map(|f| {
                    let org = f.org.clone().map(|(id, name)| view! { <a href=format!("/admin/organizations/{id}")>{name}</a> }.into_any())
                        .unwrap_or_else(|| view! { <span>{f.customer.clone().unwrap_or_else(|| "—".into())}</span> }.into_any());
                    view! {
                        <tr>
                            <td>{f.found.clone()}</td>
                            <td>{f.kind.replace('_', " ")}</td>
                            <td><span class=format!("tag {}", f.action)>{f.action.replace('_', " ")}</span></td>
                            <td>{org}</td>
                            <td><code class="detail">{f.detail.clone()}</code></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}
