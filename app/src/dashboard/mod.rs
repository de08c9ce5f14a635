//! The dashboard of the SME, or of the agency client named in the URL: counts computed
//! by the database (`public.workspace_counts`), recent campaigns, what needs attention,
//! and for a new workspace the next step to take.

use crate::error::AppError;
use crate::layout::{scoped_path, ErrorNotice};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dashboard {
    pub scope_name: String,
    pub has_guidelines: bool,
    pub personas: i64,
    pub campaigns: i64,
    pub active_campaigns: i64,
    pub draft_campaigns: i64,
    pub outputs: i64,
    pub outputs_to_review: i64,
    /// (name, status, updated) of the most recently updated campaigns.
    pub recent: Vec<(String, String, String)>,
}

#[server(endpoint = "dashboard")]
pub async fn get_dashboard(client: Option<String>) -> Result<Dashboard, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    // Every read names the organization (`org_id = $1`): the policies decide what is
    // visible, the key tells Citus the one shard group to ask (without it, each count asks
    // every shard). The same counts as the view public.workspace_counts.
    let counts: (i64, i64, i64, i64, i64, i64, bool) = tx
        .query_as(
            "SELECT (SELECT count(*) FROM public.personas_unified WHERE org_id = $1),
                    (SELECT count(*) FROM public.campaigns_unified WHERE org_id = $1),
                    (SELECT count(*) FROM public.campaigns_unified WHERE org_id = $1 AND status = 'active'),
                    (SELECT count(*) FROM public.campaigns_unified WHERE org_id = $1 AND status = 'draft'),
                    (SELECT count(*) FROM public.campaign_outputs_unified WHERE org_id = $1),
                    (SELECT count(*) FROM public.campaign_outputs_unified WHERE org_id = $1 AND status = 'draft'),
                    EXISTS (SELECT 1 FROM public.brand_guidelines_unified WHERE org_id = $1)",
        )
        .bind(ctx.org_id())
        .fetch_one(tx.conn())
        .await?;
    let recent: Vec<(String, String, String)> = tx
        .query_as(
            "SELECT name, status, to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
               FROM public.campaigns_unified WHERE org_id = $1
              ORDER BY updated_at DESC, campaign_id LIMIT 5",
        )
        .bind(ctx.org_id())
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    let (
        personas,
        campaigns,
        active_campaigns,
        draft_campaigns,
        outputs,
        outputs_to_review,
        has_guidelines,
    ) = counts;
    Ok(Dashboard {
        scope_name: ctx.workspace_name().unwrap_or(ctx.org_name()).to_string(),
        has_guidelines,
        personas,
        campaigns,
        active_campaigns,
        draft_campaigns,
        outputs,
        outputs_to_review,
        recent,
    })
}

#[component]
pub fn DashboardPage() -> impl IntoView {
    let params = use_params_map();
    let client = move || params.read().get("client");
    let data = Resource::new(client, get_dashboard);
    view! {
        <Title text="Dashboard · Enclave"/>
        <h1>"Dashboard"</h1>
        <Suspense fallback=|| view! { <p class="loading" aria-live="polite">"Loading the dashboard…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <DashboardBody d=d client=client()/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn DashboardBody(d: Dashboard, client: Option<String>) -> impl IntoView {
    let link = |page: &str| scoped_path(client.as_deref(), page);
    // The first thing a new workspace lacks, in the order the work builds up.
    let next_step = if !d.has_guidelines {
        Some((
            "Describe how the brand speaks: start with the brand guidelines.",
            link("brand"),
            "Write brand guidelines",
        ))
    } else if d.personas == 0 {
        Some((
            "Describe who you market to: add a persona.",
            link("personas"),
            "Add a persona",
        ))
    } else if d.campaigns == 0 {
        Some((
            "Plan your first campaign.",
            link("campaigns"),
            "Add a campaign",
        ))
    } else {
        None
    };
    let attention = [
        (d.draft_campaigns, "campaign still in draft", "campaigns still in draft", link("campaigns") + "?status=draft"),
        (d.outputs_to_review, "output waiting for review", "outputs waiting for review", link("campaigns")),
    ]
    .into_iter()
    .filter(|(n, ..)| *n > 0)
    .map(|(n, one, many, href)| view! { <li><a href=href>{format!("{n} {}", if n == 1 { one } else { many })}</a></li> })
    .collect_view();
    let stat = |label: &'static str, value: i64, href: String| {
        view! { <li class="stat"><a href=href><span class="value">{value}</span><span class="label">{label}</span></a></li> }
    };
    view! {
        <p class="scope">"For "<strong data-testid="scope-name">{d.scope_name.clone()}</strong></p>
        {next_step.map(|(text, href, action)| view! {
            <div class="notice next-step" role="note">
                <p>{text}</p>
                <p><a class="button" href=href>{action}</a></p>
            </div>
        })}
        <ul class="stats" aria-label="Counts">
            {stat("personas", d.personas, link("personas"))}
            {stat("campaigns", d.campaigns, link("campaigns"))}
            {stat("active campaigns", d.active_campaigns, link("campaigns") + "?status=active")}
            {stat("outputs", d.outputs, link("campaigns"))}
        </ul>
        <section aria-labelledby="attention">
            <h2 id="attention">"Needs attention"</h2>
            {if d.draft_campaigns + d.outputs_to_review == 0 {
                view! { <p class="empty">"Nothing is waiting for you."</p> }.into_any()
            } else {
                view! { <ul class="attention">{attention}</ul> }.into_any()
            }}
        </section>
        <section aria-labelledby="recent">
            <h2 id="recent">"Recent campaigns"</h2>
            {if d.recent.is_empty() {
                view! { <p class="empty">"No campaigns yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="recent">
                        {d.recent.into_iter().map(|(name, status, updated)| view! {
                            <li><strong>{name}</strong>" "<span class=format!("status status-{status}")>{status.clone()}</span><span class="muted">{format!(" · updated {updated}")}</span></li>
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}
