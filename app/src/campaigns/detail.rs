//! One campaign of the scope with its outputs: edit the campaign, add, edit, approve and
//! delete outputs. The campaign id comes from the URL; the database finds it only within
//! the scope's context, so another scope's id shows "not here", never its data.

#[cfg(feature = "ssr")]
use super::CampaignForm;
use super::{format_budget, STATUSES};
use crate::error::AppError;
use crate::layout::ErrorNotice;
#[cfg(feature = "ssr")]
use crate::personas::parse_channels;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub const OUTPUT_STATUSES: [&str; 3] = ["draft", "approved", "published"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignOutput {
    pub output_id: Uuid,
    pub channel: String,
    pub headline: String,
    pub body: String,
    pub status: String,
    pub updated: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignDetail {
    pub scope_name: String,
    pub campaign_id: Uuid,
    pub name: String,
    pub objective: String,
    pub channels: Vec<String>,
    pub budget_cents: Option<i64>,
    pub starts_on: Option<String>,
    pub ends_on: Option<String>,
    pub status: String,
    pub updated: String,
    pub owner_id: Option<Uuid>,
    /// Who can own a campaign: the organization's members (user id, name).
    pub members: Vec<(Uuid, String)>,
    pub outputs: Vec<CampaignOutput>,
}

pub(super) fn campaign_gone() -> AppError {
    AppError::NotAvailable(
        "That campaign is not here: it may have been deleted, or it belongs to another workspace."
            .into(),
    )
}

#[cfg(feature = "ssr")]
async fn campaign_exists(tx: &mut tenancy::TenantTx, id: Uuid) -> Result<bool, AppError> {
    use tenancy::TenantScoped;
    Ok(tx
        .query_scalar(
            "SELECT EXISTS (SELECT 1 FROM public.campaigns_unified WHERE org_id = $1 AND campaign_id = $2)",
        )
        .bind(tx.org_id())
        .bind(id)
        .fetch_one(tx.conn())
        .await?)
}

#[server(endpoint = "campaign")]
pub async fn get_campaign(
    client: Option<String>,
    campaign_id: Uuid,
) -> Result<CampaignDetail, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    type Head = (
        String,
        String,
        Vec<String>,
        Option<i64>,
        Option<String>,
        Option<String>,
        String,
        String,
        Option<Uuid>,
    );
    let head: Option<Head> = tx
        .query_as(
            "SELECT name, objective, channels, budget_cents, to_char(starts_on, 'YYYY-MM-DD'),
                    to_char(ends_on, 'YYYY-MM-DD'), status,
                    to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'), owner_id
               FROM public.campaigns_unified WHERE org_id = $1 AND campaign_id = $2",
        )
        .bind(ctx.org_id())
        .bind(campaign_id)
        .fetch_optional(tx.conn())
        .await?;
    let (name, objective, channels, budget_cents, starts_on, ends_on, status, updated, owner_id) =
        head.ok_or_else(campaign_gone)?;
    let members: Vec<(Uuid, String)> = tx
        .query_as("SELECT user_id, display_name FROM enclave.list_members()")
        .fetch_all(tx.conn())
        .await?;
    let outputs: Vec<(Uuid, String, String, String, String, String)> = tx
        .query_as(
            "SELECT output_id, channel, headline, body, status,
                    to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI')
               FROM public.campaign_outputs_unified WHERE org_id = $1 AND campaign_id = $2
              ORDER BY created_at, output_id",
        )
        .bind(ctx.org_id())
        .bind(campaign_id)
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(CampaignDetail {
        scope_name: ctx.workspace_name().unwrap_or(ctx.org_name()).to_string(),
        campaign_id,
        name,
        objective,
        channels,
        budget_cents,
        starts_on,
        ends_on,
        status,
        updated,
        owner_id,
        members,
        outputs: outputs
            .into_iter()
            .map(
                |(output_id, channel, headline, body, status, updated)| CampaignOutput {
                    output_id,
                    channel,
                    headline,
                    body,
                    status,
                    updated,
                },
            )
            .collect(),
    })
}

#[allow(clippy::too_many_arguments)]
#[server(endpoint = "update_campaign")]
pub async fn update_campaign(
    client: Option<String>,
    campaign_id: Uuid,
    name: String,
    objective: String,
    channels: String,
    budget: String,
    starts_on: String,
    ends_on: String,
    status: String,
    #[server(default)] owner: String,
) -> Result<(), AppError> {
    let form = CampaignForm::check(&name, &objective, &budget, &starts_on, &ends_on)?;
    let channels = parse_channels(&channels);
    if channels.len() > 20 || channels.iter().any(|c| c.chars().count() > 50) {
        return Err(AppError::Invalid(
            "list at most 20 channels of up to 50 characters each".into(),
        ));
    }
    if !STATUSES.contains(&status.as_str()) {
        return Err(AppError::Invalid(
            "choose a status: draft, active, paused or done".into(),
        ));
    }
    let back = format!(
        "{}/{campaign_id}",
        crate::layout::scoped_path(client.as_deref(), "campaigns")
    );
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    if !campaign_exists(&mut tx, campaign_id).await? {
        return Err(campaign_gone());
    }
    let owner = match owner.trim() {
        "" => None,
        raw => {
            let id = Uuid::parse_str(raw).ok();
            let member: bool = tx
                .query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM enclave.list_members() WHERE user_id = $1)",
                )
                .bind(id)
                .fetch_one(tx.conn())
                .await?;
            if !member {
                return Err(AppError::Invalid(
                    "choose the owner from the members of your organization".into(),
                ));
            }
            id
        }
    };
    tx.query("SELECT enclave.save_campaign($1, $2, $3, $4, $5, $6::date, $7::date, $8, $9)")
        .bind(campaign_id)
        .bind(&form.name)
        .bind(&form.objective)
        .bind(&channels)
        .bind(form.budget_cents)
        .bind(&form.starts_on)
        .bind(&form.ends_on)
        .bind(&status)
        .bind(owner)
        .execute(tx.conn())
        .await?;
    tx.commit().await?;
    leptos_axum::redirect(&back);
    Ok(())
}

#[server(endpoint = "delete_campaign")]
pub async fn delete_campaign(client: Option<String>, campaign_id: Uuid) -> Result<(), AppError> {
    let back = crate::layout::scoped_path(client.as_deref(), "campaigns");
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let deleted: bool = tx
        .query_scalar("SELECT enclave.delete_resource('campaigns', $1)")
        .bind(campaign_id)
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    if !deleted {
        return Err(campaign_gone());
    }
    leptos_axum::redirect(&back);
    Ok(())
}

/// Adds an output (no `output_id`) or changes one of this campaign.
#[server(endpoint = "save_output")]
pub async fn save_output(
    client: Option<String>,
    campaign_id: Uuid,
    output_id: Option<Uuid>,
    channel: String,
    headline: String,
    body: String,
    status: String,
) -> Result<Uuid, AppError> {
    let channel = channel.trim().to_string();
    if channel.is_empty() || channel.chars().count() > 50 {
        return Err(AppError::Invalid(
            "name the channel (up to 50 characters), e.g. email or LinkedIn".into(),
        ));
    }
    if headline.chars().count() > 300 {
        return Err(AppError::Invalid(
            "the headline is longer than 300 characters".into(),
        ));
    }
    if body.chars().count() > 20_000 {
        return Err(AppError::Invalid(
            "the text is longer than 20,000 characters".into(),
        ));
    }
    if !OUTPUT_STATUSES.contains(&status.as_str()) {
        return Err(AppError::Invalid(
            "choose a status: draft, approved or published".into(),
        ));
    }
    let back = format!(
        "{}/{campaign_id}",
        crate::layout::scoped_path(client.as_deref(), "campaigns")
    );
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    if !campaign_exists(&mut tx, campaign_id).await? {
        return Err(campaign_gone());
    }
    if let Some(id) = output_id {
        let exists: bool = tx
            .query_scalar(
                "SELECT EXISTS (SELECT 1 FROM public.campaign_outputs_unified
                                 WHERE org_id = $1 AND campaign_id = $2 AND output_id = $3)",
            )
            .bind(ctx.org_id())
            .bind(campaign_id)
            .bind(id)
            .fetch_one(tx.conn())
            .await?;
        if !exists {
            return Err(AppError::NotAvailable(
                "That output no longer exists; it may have been deleted.".into(),
            ));
        }
    }
    let id: Uuid = tx
        .query_scalar("SELECT enclave.save_campaign_output($1, $2, $3, $4, $5, $6)")
        .bind(campaign_id)
        .bind(output_id)
        .bind(&channel)
        .bind(headline.trim())
        .bind(body.trim())
        .bind(&status)
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    leptos_axum::redirect(&back);
    Ok(id)
}

#[server(endpoint = "delete_output")]
pub async fn delete_output(client: Option<String>, output_id: Uuid) -> Result<(), AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let deleted: bool = tx
        .query_scalar("SELECT enclave.delete_resource('campaign_outputs', $1)")
        .bind(output_id)
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    if deleted {
        Ok(())
    } else {
        Err(AppError::NotAvailable(
            "That output no longer exists; it may have been deleted already.".into(),
        ))
    }
}

#[component]
pub fn CampaignPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let client = move || params.read().get("client");
    let campaign = move || {
        params
            .read()
            .get("campaign")
            .and_then(|id| Uuid::parse_str(&id).ok())
    };
    let editing_output = move || {
        query
            .read()
            .get("edit_output")
            .and_then(|id| Uuid::parse_str(&id).ok())
    };
    let update = ServerAction::<UpdateCampaign>::new();
    let remove = ServerAction::<DeleteCampaign>::new();
    let save = ServerAction::<SaveOutput>::new();
    let delete = ServerAction::<DeleteOutput>::new();
    // Bumped by the generation panel when a job it watched has written its drafts.
    let outputs_changed = RwSignal::new(0u32);
    let detail = Resource::new(
        move || {
            (
                client(),
                campaign(),
                update.version().get(),
                save.version().get(),
                delete.version().get(),
                outputs_changed.get(),
            )
        },
        |(client, campaign, ..)| async move {
            match campaign {
                Some(id) => get_campaign(client, id).await,
                None => Err(campaign_gone()),
            }
        },
    );
    view! {
        <Title text="Campaign · Enclave"/>
        <p class="breadcrumb">
            <a href=move || crate::layout::scoped_path(client().as_deref(), "campaigns")>"← All campaigns"</a>
        </p>
        <div aria-live="polite">
            {move || remove.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            {move || delete.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
        </div>
        <Suspense fallback=|| view! { <p class="loading" aria-live="polite">"Loading the campaign…"</p> }>
            {move || {
                let client = client();
                Suspend::new(async move {
                    match detail.await {
                        Ok(c) => view! {
                            <Title text=format!("{} · Enclave", c.name)/>
                            <h1>{c.name.clone()}</h1>
                            <p class="scope">"For "<strong data-testid="scope-name">{c.scope_name.clone()}</strong>
                                " · "<span class=format!("status status-{}", c.status)>{c.status.clone()}</span>
                                {format!(" · updated {}", c.updated)}</p>
                            <CampaignSummary c=c.clone()/>
                            <OutputList c=c client=client delete=delete/>
                        }
                        .into_any(),
                        Err(e) => view! { <h1>"Campaign"</h1><ErrorNotice error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
        // Outside the Suspense: the panel refreshes its own job every 1.5 s, which must
        // not send the whole page back to "Loading".
        {move || campaign().map(|id| view! {
            <super::generate::GenerationPanel client=client() campaign_id=id outputs_changed=outputs_changed/>
            <crate::integrations::publish::PublishPanel client=client() campaign_id=id outputs_changed=outputs_changed/>
        })}
        <Suspense fallback=|| ()>
            {move || {
                let edit_id = editing_output();
                let client = client();
                Suspend::new(async move {
                    detail.await.ok().map(|c| {
                        let edit = edit_id.and_then(|id| c.outputs.iter().find(|o| o.output_id == id).cloned());
                        view! {
                            <OutputEditor campaign_id=c.campaign_id output=edit client=client.clone() save=save/>
                            <CampaignEditor c=c client=client update=update remove=remove/>
                        }
                    })
                })
            }}
        </Suspense>
    }
}

#[component]
fn CampaignSummary(c: CampaignDetail) -> impl IntoView {
    let dates = match (&c.starts_on, &c.ends_on) {
        (Some(s), Some(e)) => format!("{s} – {e}"),
        (Some(s), None) => format!("from {s}"),
        (None, Some(e)) => format!("until {e}"),
        (None, None) => "not set".into(),
    };
    let owner = c
        .owner_id
        .and_then(|id| c.members.iter().find(|(m, _)| *m == id))
        .map(|(_, name)| name.clone())
        .unwrap_or_else(|| "nobody yet".into());
    view! {
        <dl class="summary">
            <dt>"Objective"</dt>
            <dd>{if c.objective.is_empty() { "not written yet".to_string() } else { c.objective.clone() }}</dd>
            <dt>"Channels"</dt>
            <dd>{if c.channels.is_empty() { "none chosen yet".to_string() } else { c.channels.join(", ") }}</dd>
            <dt>"Budget"</dt>
            <dd>{c.budget_cents.map(format_budget).unwrap_or_else(|| "not set".into())}</dd>
            <dt>"Dates"</dt>
            <dd>{dates}</dd>
            <dt>"Owner"</dt>
            <dd>{owner}</dd>
        </dl>
    }
}

#[component]
fn OutputList(
    c: CampaignDetail,
    client: Option<String>,
    delete: ServerAction<DeleteOutput>,
) -> impl IntoView {
    let base = format!(
        "{}/{}",
        crate::layout::scoped_path(client.as_deref(), "campaigns"),
        c.campaign_id
    );
    view! {
        <section aria-labelledby="outputs-heading">
            <h2 id="outputs-heading">{format!("Outputs ({})", c.outputs.len())}</h2>
            {if c.outputs.is_empty() {
                view! { <p class="empty">"No outputs yet. Write the first piece below — a headline and text for one channel — and mark it approved when it is ready."</p> }.into_any()
            } else {
                view! {
                    <ul class="cards outputs">
                        {c.outputs.into_iter().map(|o| {
                            let client = client.clone();
                            let edit_href = format!("{base}?edit_output={}#output-editor", o.output_id);
                            let delete_label = format!("Delete the {} output {}", o.channel, o.headline);
                            view! {
                                <li class="card" data-output=o.headline.clone()>
                                    <p class="muted"><span class="chip">{o.channel.clone()}</span>" "
                                        <span class=format!("status status-{}", o.status)>{o.status.clone()}</span>
                                        {format!(" · {}", o.updated)}</p>
                                    <h3>{if o.headline.is_empty() { "(no headline)".to_string() } else { o.headline.clone() }}</h3>
                                    <p class="output-body">{o.body.clone()}</p>
                                    <div class="actions">
                                        <a href=edit_href on:click=|_| crate::layout::reset_form("output-form")>"Edit"</a>
                                        <ActionForm action=delete attr:class="inline">
                                            {client.map(|c| view! { <input type="hidden" name="client" value=c/> })}
                                            <input type="hidden" name="output_id" value=o.output_id.to_string()/>
                                            <button type="submit" class="danger" aria-label=delete_label>"Delete"</button>
                                        </ActionForm>
                                    </div>
                                </li>
                            }
                        }).collect_view()}
                    </ul>
                }.into_any()
            }}
        </section>
    }
}

#[component]
fn OutputEditor(
    campaign_id: Uuid,
    output: Option<CampaignOutput>,
    client: Option<String>,
    save: ServerAction<SaveOutput>,
) -> impl IntoView {
    let pending = save.pending();
    crate::layout::clear_after_success(
        move || save.value().with(|v| matches!(v, Some(Ok(_)))),
        "output-form",
    );
    let heading = if output.is_some() {
        "Edit output"
    } else {
        "Add an output"
    };
    let o = output.clone().unwrap_or(CampaignOutput {
        output_id: Uuid::nil(),
        channel: String::new(),
        headline: String::new(),
        body: String::new(),
        status: "draft".into(),
        updated: String::new(),
    });
    view! {
        <section id="output-editor" aria-labelledby="output-editor-heading">
            <h2 id="output-editor-heading">{heading}</h2>
            <ActionForm action=save attr:class="stack" attr:id="output-form">
                {client.map(|c| view! { <input type="hidden" name="client" value=c/> })}
                <input type="hidden" name="campaign_id" value=campaign_id.to_string()/>
                {output.as_ref().map(|o| view! { <input type="hidden" name="output_id" value=o.output_id.to_string()/> })}
                <div class="field-row">
                    <div class="field">
                        <label for="output-channel">"Channel"</label>
                        <input id="output-channel" name="channel" required maxlength="50" placeholder="e.g. email" value=o.channel.clone()/>
                    </div>
                    <div class="field">
                        <label for="output-status">"Status"</label>
                        <select id="output-status" name="status">
                            {OUTPUT_STATUSES.iter().map(|s| view! { <option value=*s selected=o.status == *s>{*s}</option> }).collect_view()}
                        </select>
                    </div>
                </div>
                <div class="field">
                    <label for="output-headline">"Headline"</label>
                    <input id="output-headline" name="headline" maxlength="300" value=o.headline.clone()/>
                </div>
                <div class="field">
                    <label for="output-body">"Text"</label>
                    <textarea id="output-body" name="body" rows="5" maxlength="20000">{o.body.clone()}</textarea>
                </div>
                <div class="actions">
                    <button type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Save output" }}
                    </button>
                </div>
            </ActionForm>
            <div aria-live="polite">
                {move || save.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            </div>
        </section>
    }
}

#[component]
fn CampaignEditor(
    c: CampaignDetail,
    client: Option<String>,
    update: ServerAction<UpdateCampaign>,
    remove: ServerAction<DeleteCampaign>,
) -> impl IntoView {
    let pending = update.pending();
    crate::layout::clear_after_success(
        move || update.value().with(|v| matches!(v, Some(Ok(_)))),
        "campaign-form",
    );
    let delete_label = format!("Delete the campaign {}", c.name);
    let client_field = move |client: Option<String>| {
        client.map(|c| view! { <input type="hidden" name="client" value=c/> })
    };
    let (client_update, client_remove) = (client.clone(), client);
    view! {
        <section aria-labelledby="campaign-editor-heading">
            <h2 id="campaign-editor-heading">"Edit the campaign"</h2>
            <ActionForm action=update attr:class="stack" attr:id="campaign-form">
                {client_field(client_update)}
                <input type="hidden" name="campaign_id" value=c.campaign_id.to_string()/>
                <div class="field">
                    <label for="campaign-name">"Name"</label>
                    <input id="campaign-name" name="name" required maxlength="200" value=c.name.clone()/>
                </div>
                <div class="field">
                    <label for="campaign-objective">"Objective"</label>
                    <textarea id="campaign-objective" name="objective" rows="3" maxlength="2000">{c.objective.clone()}</textarea>
                </div>
                <div class="field">
                    <label for="campaign-channels">"Channel mix"</label>
                    <p class="hint" id="campaign-channels-hint">"Separated by commas: email, LinkedIn, print…"</p>
                    <input id="campaign-channels" name="channels" value=c.channels.join(", ") aria-describedby="campaign-channels-hint"/>
                </div>
                <div class="field-row">
                    <div class="field">
                        <label for="campaign-status">"Status"</label>
                        <select id="campaign-status" name="status">
                            {STATUSES.iter().map(|s| view! { <option value=*s selected=c.status == *s>{*s}</option> }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="campaign-owner">"Owner"</label>
                        <select id="campaign-owner" name="owner">
                            <option value="" selected=c.owner_id.is_none()>"Nobody yet"</option>
                            {c.members.iter().map(|(id, name)| view! {
                                <option value=id.to_string() selected=c.owner_id == Some(*id)>{name.clone()}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="campaign-budget">"Budget"</label>
                        <input id="campaign-budget" name="budget" inputmode="decimal" value=c.budget_cents.map(format_budget).unwrap_or_default()/>
                    </div>
                    <div class="field">
                        <label for="campaign-starts">"Starts"</label>
                        <input id="campaign-starts" name="starts_on" type="date" value=c.starts_on.clone().unwrap_or_default()/>
                    </div>
                    <div class="field">
                        <label for="campaign-ends">"Ends"</label>
                        <input id="campaign-ends" name="ends_on" type="date" value=c.ends_on.clone().unwrap_or_default()/>
                    </div>
                </div>
                <div class="actions">
                    <button type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Saving…" } else { "Save campaign" }}
                    </button>
                </div>
            </ActionForm>
            <div aria-live="polite">
                {move || update.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            </div>
            <ActionForm action=remove attr:class="inline danger-zone">
                {client_field(client_remove)}
                <input type="hidden" name="campaign_id" value=c.campaign_id.to_string()/>
                <button type="submit" class="danger" aria-label=delete_label>"Delete this campaign and its outputs"</button>
            </ActionForm>
        </section>
    }
}
