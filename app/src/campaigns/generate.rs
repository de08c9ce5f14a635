//! "Generate outputs" on a campaign page: a background job drafts a headline and text per
//! channel from the campaign, its brand guidelines and the chosen personas, and the page
//! follows its progress. The job runs in the campaign's tenant context (tenancy::jobs);
//! its drafts are written through `enclave.save_generated_output`, keyed by job and
//! channel, so a job that runs again cannot add the same draft twice.

#[cfg(feature = "ssr")]
use super::detail::campaign_gone;
use crate::error::AppError;
use crate::jobs::{follow_job, JobProgress, JobView, RetryJob};
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a generation job is started with (kept on the job, so Retry uses it again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerateInput {
    pub campaign_id: Uuid,
    /// The personas to write for; empty means every persona of the scope.
    pub persona_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationState {
    pub personas: Vec<(Uuid, String)>,
    pub channels: Vec<String>,
    pub latest: Option<JobView>,
}

#[cfg(feature = "ssr")]
pub use job::GenerationJob;

#[cfg(feature = "ssr")]
mod job {
    use super::GenerateInput;
    use crate::campaigns::generator::{Brief, GenerateError, Generator, PersonaBrief};
    use std::sync::Arc;
    use tenancy::{JobFailure, JobKind, JobTx, TenantJob, TenantPath, TenantScoped};

    /// The generation job. The writer is chosen by configuration (generator.rs).
    pub struct GenerationJob {
        pub generator: Arc<Generator>,
    }

    impl JobKind for GenerationJob {
        const QUEUE: &'static str = "generate_outputs";
        const MAX_ATTEMPTS: i32 = 3;
        type Path = TenantPath;
        type Input = GenerateInput;
    }

    impl TenantJob for GenerationJob {
        async fn run(
            &self,
            tx: &mut JobTx<'_>,
            input: GenerateInput,
        ) -> Result<serde_json::Value, JobFailure> {
            tx.progress(5, "reading the campaign").await;
            let campaign: Option<(String, String, Vec<String>)> = tx
                .query_as(
                    "SELECT name, objective, channels FROM public.campaigns_unified WHERE org_id = $1 AND campaign_id = $2",
                )
                .bind(tx.org_id())
                .bind(input.campaign_id)
                .fetch_optional(tx.conn())
                .await?;
            let Some((name, objective, mut channels)) = campaign else {
                return Err(JobFailure::Stop(
                    "the campaign was deleted before its drafts were written".into(),
                ));
            };
            if channels.is_empty() {
                channels.push("email".into());
            }
            // The plan first, before any paid call: read-only and the quota refuse here
            // (the quota is consumed per saved draft below), and a plan without the
            // external generator gets the built-in templates.
            let external: bool = tx
                .query_scalar("SELECT enclave.check_generation($1, 'external_generator')")
                .bind(channels.len() as i32)
                .fetch_one(tx.conn())
                .await?;
            let writer: &Generator = if external {
                &self.generator
            } else {
                &Generator::Template
            };
            let guidelines: Option<(String, String, String, String)> = tx
                .query_as(
                    "SELECT voice, tone, do_list, dont_list FROM public.brand_guidelines_unified WHERE org_id = $1",
                )
                .bind(tx.org_id())
                .fetch_optional(tx.conn())
                .await?;
            let (voice, tone, do_list, dont_list) = guidelines.unwrap_or_default();
            let personas: Vec<(String, String, String)> = tx
                .query_as(
                    "SELECT name, goals, pains FROM public.personas_unified
                      WHERE org_id = $2 AND (cardinality($1::uuid[]) = 0 OR persona_id = ANY ($1))
                      ORDER BY name, persona_id LIMIT 20",
                )
                .bind(&input.persona_ids)
                .bind(tx.org_id())
                .fetch_all(tx.conn())
                .await?;
            let brief = Brief {
                campaign: name,
                objective,
                voice,
                tone,
                do_list,
                dont_list,
                personas: personas
                    .into_iter()
                    .map(|(name, goals, pains)| PersonaBrief { name, goals, pains })
                    .collect(),
            };
            let job = tx.job_id().unwrap_or_default();
            let total = channels.len();
            let mut written = 0i64;
            for (i, channel) in channels.iter().enumerate() {
                let percent = 10 + (85 * i / total) as i32;
                tx.progress(
                    percent,
                    &format!("writing the {channel} draft ({} of {total})", i + 1),
                )
                .await;
                let draft = writer.draft(&brief, channel).await.map_err(|e| match e {
                    GenerateError::Unavailable(m) => JobFailure::Retry(m),
                    GenerateError::Refused(m) => JobFailure::Stop(m),
                })?;
                let added: bool = tx
                    .query_scalar("SELECT enclave.save_generated_output($1, $2, $3, $4, $5)")
                    .bind(input.campaign_id)
                    .bind(format!("{job}:{channel}"))
                    .bind(channel)
                    .bind(&draft.headline)
                    .bind(&draft.body)
                    .fetch_one(tx.conn())
                    .await?;
                written += i64::from(added);
            }
            tx.progress(97, "saving the drafts").await;
            Ok(serde_json::json!({ "outputs": written, "channels": total }))
        }
    }
}

#[server(endpoint = "campaign_generation")]
pub async fn campaign_generation(
    client: Option<String>,
    campaign_id: Uuid,
) -> Result<GenerationState, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let channels: Option<Vec<String>> = tx
        .query_scalar(
            "SELECT channels FROM public.campaigns_unified WHERE org_id = $1 AND campaign_id = $2",
        )
        .bind(ctx.org_id())
        .bind(campaign_id)
        .fetch_optional(tx.conn())
        .await?;
    let channels = channels.ok_or_else(campaign_gone)?;
    let personas: Vec<(Uuid, String)> = tx
        .query_as(
            "SELECT persona_id, name FROM public.personas_unified WHERE org_id = $1
              ORDER BY name, persona_id LIMIT 20",
        )
        .bind(ctx.org_id())
        .fetch_all(tx.conn())
        .await?;
    let latest = crate::jobs::fetch_jobs(
        &mut tx,
        "j.job_type = 'generate_outputs' AND j.subject_id = $1",
        Some(campaign_id),
        1,
    )
    .await?
    .pop();
    tx.commit().await?;
    Ok(GenerationState {
        personas,
        channels,
        latest,
    })
}

/// Starts a generation job for the campaign (or returns the one already under way).
#[server(endpoint = "generate_outputs")]
pub async fn generate_outputs(
    client: Option<String>,
    campaign_id: Uuid,
    #[server(default)] persona_ids: Vec<Uuid>,
) -> Result<Uuid, AppError> {
    if persona_ids.len() > 20 {
        return Err(AppError::Invalid("choose at most 20 personas".into()));
    }
    let back = format!(
        "{}/{campaign_id}",
        crate::layout::scoped_path(client.as_deref(), "campaigns")
    );
    let ctx = crate::session::require_scope(client).await?;
    let queues = crate::jobs::queues()?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let exists: bool = tx
        .query_scalar(
            "SELECT EXISTS (SELECT 1 FROM public.campaigns_unified WHERE org_id = $1 AND campaign_id = $2)",
        )
        .bind(ctx.org_id())
        .bind(campaign_id)
        .fetch_one(tx.conn())
        .await?;
    if !exists {
        return Err(campaign_gone());
    }
    // Refused now, in words, rather than as a failed job (the job checks again).
    let drafts: i32 = tx
        .query_scalar(
            "SELECT greatest(cardinality(channels), 1) FROM public.campaigns_unified
              WHERE org_id = $1 AND campaign_id = $2",
        )
        .bind(ctx.org_id())
        .bind(campaign_id)
        .fetch_one(tx.conn())
        .await?;
    tx.query("SELECT enclave.check_generation($1, 'external_generator')")
        .bind(drafts)
        .execute(tx.conn())
        .await?;
    let job = crate::jobs::start_generation(
        &mut tx,
        &queues,
        GenerateInput {
            campaign_id,
            persona_ids,
        },
    )
    .await?;
    tx.commit().await?;
    leptos_axum::redirect(&back);
    Ok(job)
}

/// The "Generate outputs" panel: persona choice, the button, and the latest job's
/// progress (refreshed every 1.5 s while it moves; `outputs_changed` is bumped when a
/// job finishes so the outputs list reloads).
#[component]
pub fn GenerationPanel(
    client: Option<String>,
    campaign_id: Uuid,
    outputs_changed: RwSignal<u32>,
) -> impl IntoView {
    let generate = ServerAction::<GenerateOutputs>::new();
    let retry = ServerAction::<RetryJob>::new();
    let tick = RwSignal::new(0u32);
    let client_key = client.clone();
    let state = Resource::new(
        move || {
            (
                client_key.clone(),
                campaign_id,
                generate.version().get(),
                retry.version().get(),
                tick.get(),
            )
        },
        |(client, campaign_id, ..)| campaign_generation(client, campaign_id),
    );
    follow_job(
        move || state.get().and_then(|r| r.ok()).and_then(|s| s.latest),
        tick,
        move || outputs_changed.update(|n| *n += 1),
    );
    let pending = generate.pending();
    view! {
        <section aria-labelledby="generate-heading" class="generate">
            <h2 id="generate-heading">"Generate outputs"</h2>
            <div aria-live="polite">
                {move || generate.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
                {move || retry.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            </div>
            <Transition fallback=|| view! { <p class="loading" aria-live="polite">"Loading…"</p> }>
                {move || {
                    let client = client.clone();
                    Suspend::new(async move {
                        match state.await {
                            Ok(s) => {
                                let active = s.latest.as_ref().is_some_and(JobView::is_active);
                                let channels = if s.channels.is_empty() {
                                    "email (the campaign has no channels yet)".to_string()
                                } else {
                                    s.channels.join(", ")
                                };
                                view! {
                                    <p class="hint">{format!("Drafts a headline and text for each channel ({channels}) from the campaign, your brand guidelines and the personas you choose. It runs in the background; you can leave this page.")}</p>
                                    {s.latest.clone().map(|job| view! { <JobProgress job=job client=client.clone() retry=retry/> })}
                                    {(!active).then(|| view! {
                                        <ActionForm action=generate attr:class="stack" attr:id="generate-form">
                                            {client.clone().map(|c| view! { <input type="hidden" name="client" value=c/> })}
                                            <input type="hidden" name="campaign_id" value=campaign_id.to_string()/>
                                            {if s.personas.is_empty() {
                                                view! { <p class="muted">"No personas yet: the drafts will speak to everyone. Add personas to aim them."</p> }.into_any()
                                            } else {
                                                view! {
                                                    <fieldset>
                                                        <legend>"Write for these personas"</legend>
                                                        {s.personas.iter().enumerate().map(|(i, (id, name))| {
                                                            let field = format!("persona-{id}");
                                                            let label_for = field.clone();
                                                            view! {
                                                                <label class="check" for=label_for>
                                                                    <input type="checkbox" id=field name=format!("persona_ids[{i}]") value=id.to_string() checked=true/>
                                                                    " "{name.clone()}
                                                                </label>
                                                            }
                                                        }).collect_view()}
                                                    </fieldset>
                                                }.into_any()
                                            }}
                                            <div class="actions">
                                                <button type="submit" disabled=move || pending.get()>
                                                    {move || if pending.get() { "Starting…" } else { "Generate outputs" }}
                                                </button>
                                            </div>
                                        </ActionForm>
                                    })}
                                }.into_any()
                            }
                            // The campaign's own section above already says why.
                            Err(_) => ().into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}
