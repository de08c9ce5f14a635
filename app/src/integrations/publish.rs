//! Publishing a campaign output to a connected account: a tracked tenant job (like
//! generation), so its state, error and Retry are the job's, and its result keeps the
//! remote id and link. The token comes from `tokens::usable_access_token` in a
//! transaction of the job's own (a rotated refresh token is kept even if the attempt
//! fails); a refused grant stops the job with the provider's reason (no retry storm), an
//! unavailable provider is retried with backoff.

use crate::error::AppError;
use crate::jobs::{JobProgress, JobView, RetryJob};
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a publish job is started with (kept on the job, so Retry uses it again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishInput {
    pub campaign_id: Uuid,
    pub output_id: Uuid,
    pub connection_id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputPublication {
    pub output_id: Uuid,
    pub label: String,
    pub latest: Option<JobView>,
    /// Once published: the provider's id for it and its link.
    pub remote_id: Option<String>,
    pub remote_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishingState {
    /// (connection id, "account · provider") of every connected account of the scope.
    pub connections: Vec<(Uuid, String)>,
    pub outputs: Vec<OutputPublication>,
}

#[cfg(feature = "ssr")]
pub use job::{PublishJob, Publisher};

#[cfg(feature = "ssr")]
mod job {
    use super::PublishInput;
    use crate::integrations::api::{self, ApiError};
    use crate::integrations::provider::Integrations;
    use crate::integrations::tokens::{CallError, ConnectionRef, TokenCall, TokenError};
    use std::sync::Arc;
    use tenancy::{JobFailure, JobKind, JobTx, TenantJob, TenantPath, TenantScoped};

    /// What publishing needs: the providers and the keys.
    #[derive(Clone)]
    pub struct Publisher {
        pub integrations: Arc<Integrations>,
        pub vault: vault::Vault,
    }

    pub struct PublishJob {
        pub publisher: Publisher,
    }

    impl JobKind for PublishJob {
        const QUEUE: &'static str = "publish_output";
        const MAX_ATTEMPTS: i32 = 5;
        type Path = TenantPath;
        type Input = PublishInput;
    }

    fn token_failure(e: TokenError) -> JobFailure {
        match e {
            TokenError::Gone => JobFailure::Stop("the connected account was disconnected".into()),
            TokenError::NeedsReconnect(reason) => JobFailure::Stop(reason),
            TokenError::Unavailable(detail) => JobFailure::Retry(detail),
            TokenError::Database(e) => e.into(),
            e => {
                let reference = crate::error::new_request_id();
                tracing::error!(request_id = %reference, error = %e, "publishing cannot get a token");
                JobFailure::Stop(format!(
                    "the connection cannot be used (reference {reference})"
                ))
            }
        }
    }

    impl TenantJob for PublishJob {
        async fn run(
            &self,
            tx: &mut JobTx<'_>,
            input: PublishInput,
        ) -> Result<serde_json::Value, JobFailure> {
            let Publisher {
                integrations,
                vault,
            } = &self.publisher;
            tx.progress(10, "reading the output").await;
            let output: Option<(String, String)> = tx
                .query_as(
                    "SELECT headline, body FROM public.campaign_outputs_unified
                      WHERE org_id = $3 AND campaign_id = $1 AND output_id = $2",
                )
                .bind(input.campaign_id)
                .bind(input.output_id)
                .bind(tx.org_id())
                .fetch_optional(tx.conn())
                .await?;
            let Some((headline, body)) = output else {
                return Err(JobFailure::Stop(
                    "the output was deleted before it was published".into(),
                ));
            };
            let connection: Option<(String, String)> = tx
                .query_as(
                    "SELECT provider, account_name FROM public.connections_unified
                      WHERE org_id = $2 AND connection_id = $1",
                )
                .bind(input.connection_id)
                .bind(tx.org_id())
                .fetch_optional(tx.conn())
                .await?;
            let Some((provider_id, account)) = connection else {
                return Err(JobFailure::Stop(
                    "the connected account was disconnected".into(),
                ));
            };
            let provider = integrations.find(&provider_id).ok_or_else(|| {
                JobFailure::Stop(format!(
                    "{provider_id} is no longer configured on this installation"
                ))
            })?;
            let stamp = tx.stamp();
            let conn = ConnectionRef {
                org: stamp.org,
                workspace: stamp.workspace,
                connection: input.connection_id,
            };
            let text = if headline.trim().is_empty() {
                body
            } else {
                format!("{headline}\n\n{body}")
            };
            tx.progress(40, "publishing").await;
            let failure = |e: CallError| match e {
                CallError::Token(e) => token_failure(e),
                CallError::RefusedAfterRenewal(_) => JobFailure::Stop(e.to_string()),
                CallError::Api(ApiError::Refused(detail)) => JobFailure::Stop(detail),
                CallError::Api(e) => JobFailure::Retry(e.to_string()),
            };
            let mut call = TokenCall::default();
            let published = loop {
                let (token, provider) = call
                    .token(tx.separate().await?, integrations, vault, conn)
                    .await
                    .map_err(token_failure)?;
                let answer = api::publish(integrations, provider, &token.secret, &text).await;
                if let Some(published) = call.answered(provider, token, answer).map_err(failure)? {
                    break published;
                }
            };
            tx.query("SELECT enclave.mark_output_published($1, $2)")
                .bind(input.campaign_id)
                .bind(input.output_id)
                .execute(tx.conn())
                .await?;
            tracing::info!(output = %input.output_id, connection = %input.connection_id, remote_id = %published.id, "output published");
            Ok(serde_json::json!({
                "remote_id": published.id,
                "url": published.url,
                "account": account,
                "provider": provider.name,
            }))
        }
    }
}

/// The scope's connected accounts and each output of the campaign with its latest
/// publication.
#[server(endpoint = "campaign_publishing")]
pub async fn campaign_publishing(
    client: Option<String>,
    campaign_id: Uuid,
) -> Result<PublishingState, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let integrations = super::integrations()?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let connections: Vec<(Uuid, String, String)> = tx
        .query_as(
            "SELECT connection_id, account_name, provider FROM public.connections_unified
              WHERE org_id = $1 AND status = 'connected' ORDER BY created_at, connection_id",
        )
        .bind(ctx.org_id())
        .fetch_all(tx.conn())
        .await?;
    let outputs: Vec<(Uuid, String, String)> = tx
        .query_as(
            "SELECT output_id, channel, headline FROM public.campaign_outputs_unified
              WHERE org_id = $2 AND campaign_id = $1 ORDER BY channel, created_at, output_id",
        )
        .bind(campaign_id)
        .bind(ctx.org_id())
        .fetch_all(tx.conn())
        .await?;
    let jobs = crate::jobs::fetch_jobs(
        &mut tx,
        "j.job_type = 'publish_output' AND j.detail ->> 'campaign_id' = $1::text",
        Some(campaign_id),
        500,
    )
    .await?;
    let results: Vec<(Uuid, Option<String>, Option<String>)> = tx
        .query_as(
            "SELECT job_id, result ->> 'remote_id', result ->> 'url' FROM public.jobs_unified
              WHERE org_id = $2 AND job_type = 'publish_output' AND detail ->> 'campaign_id' = $1::text
                AND status = 'done'",
        )
        .bind(campaign_id)
        .bind(ctx.org_id())
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    let name_of = |id: &str| {
        integrations
            .find(id)
            .map(|p| p.name.clone())
            .unwrap_or_else(|| id.to_string())
    };
    Ok(PublishingState {
        connections: connections
            .into_iter()
            .map(|(id, account, provider)| (id, format!("{account} · {}", name_of(&provider))))
            .collect(),
        outputs: outputs
            .into_iter()
            .map(|(output_id, channel, headline)| {
                // Newest first from fetch_jobs: the first for this output is the latest.
                let latest = jobs.iter().find(|j| j.subject_id == output_id).cloned();
                let remote = latest
                    .as_ref()
                    .and_then(|j| results.iter().find(|(id, ..)| *id == j.job_id));
                OutputPublication {
                    output_id,
                    label: if headline.trim().is_empty() {
                        channel
                    } else {
                        format!("{channel}: {headline}")
                    },
                    remote_id: remote.and_then(|r| r.1.clone()),
                    remote_url: remote.and_then(|r| r.2.clone()),
                    latest,
                }
            })
            .collect(),
    })
}

/// Queues the output's publication to the connected account (or says which one is
/// already under way).
#[server(endpoint = "publish_output")]
pub async fn publish_output(
    client: Option<String>,
    campaign_id: Uuid,
    output_id: Uuid,
    connection_id: Uuid,
) -> Result<Uuid, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let queues = crate::jobs::queues()?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let output: bool = tx
        .query_scalar(
            "SELECT EXISTS (SELECT 1 FROM public.campaign_outputs_unified
                             WHERE org_id = $3 AND campaign_id = $1 AND output_id = $2)",
        )
        .bind(campaign_id)
        .bind(output_id)
        .bind(ctx.org_id())
        .fetch_one(tx.conn())
        .await?;
    if !output {
        return Err(AppError::NotAvailable(
            "That output no longer exists; it may have been deleted.".into(),
        ));
    }
    let status: Option<(String, Option<String>)> = tx
        .query_as(
            "SELECT status, status_reason FROM public.connections_unified WHERE org_id = $2 AND connection_id = $1",
        )
        .bind(connection_id)
        .bind(ctx.org_id())
        .fetch_optional(tx.conn())
        .await?;
    match status {
        None => {
            return Err(AppError::NotAvailable(
                "Choose a connected account: that one was disconnected.".into(),
            ))
        }
        Some((s, reason)) if s != "connected" => {
            return Err(AppError::NotAvailable(format!(
                "That account needs reconnecting first: {}",
                reason.unwrap_or_default()
            )))
        }
        Some(_) => {}
    }
    let job = crate::jobs::start_publication(
        &mut tx,
        &queues,
        PublishInput {
            campaign_id,
            output_id,
            connection_id,
        },
    )
    .await?;
    tx.commit().await?;
    Ok(job)
}

#[component]
pub fn PublishPanel(
    client: Option<String>,
    campaign_id: Uuid,
    outputs_changed: RwSignal<u32>,
) -> impl IntoView {
    let publish = ServerAction::<PublishOutput>::new();
    let retry = ServerAction::<RetryJob>::new();
    let tick = RwSignal::new(0u32);
    let client_key = client.clone();
    let state = Resource::new(
        move || {
            (
                client_key.clone(),
                campaign_id,
                publish.version().get(),
                retry.version().get(),
                tick.get(),
                outputs_changed.get(),
            )
        },
        |(client, campaign_id, ..)| campaign_publishing(client, campaign_id),
    );
    crate::jobs::poll_while(
        move || {
            state.get_untracked().and_then(|r| r.ok()).is_some_and(|s| {
                s.outputs
                    .iter()
                    .any(|o| o.latest.as_ref().is_some_and(JobView::is_active))
            })
        },
        move || tick.update(|n| *n += 1),
    );
    // A publication that finished marks its output published: the page's outputs reload.
    let done_seen = StoredValue::new(None::<usize>);
    Effect::new(move |_| {
        let done = state.get().and_then(|r| r.ok()).map(|s| {
            s.outputs
                .iter()
                .filter(|o| o.latest.as_ref().is_some_and(|j| j.status == "done"))
                .count()
        });
        if let (Some(before), Some(now)) = (done_seen.get_value(), done) {
            if now > before {
                outputs_changed.update(|n| *n += 1);
            }
        }
        if done.is_some() {
            done_seen.set_value(done);
        }
    });
    let connections_href = crate::layout::scoped_path(client.as_deref(), "connections");
    view! {
        <section aria-labelledby="publish-heading" class="publish">
            <h2 id="publish-heading">"Publish"</h2>
            <div aria-live="polite">
                {move || publish.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
                {move || retry.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            </div>
            <Transition fallback=|| view! { <p class="loading" aria-live="polite">"Loading…"</p> }>
                {move || {
                    let client = client.clone();
                    let connections_href = connections_href.clone();
                    Suspend::new(async move {
                        match state.await {
                            Ok(s) if s.connections.is_empty() => view! {
                                <p class="hint">"No connected account yet. "<a href=connections_href>"Connect one"</a>" to publish outputs to it."</p>
                            }.into_any(),
                            Ok(s) if s.outputs.is_empty() => view! {
                                <p class="hint">"No outputs to publish yet: add one or generate drafts above."</p>
                            }.into_any(),
                            Ok(s) => view! {
                                <ul class="cards publications">
                                    {s.outputs.into_iter().map(|o| {
                                        let connections = s.connections.clone();
                                        let active = o.latest.as_ref().is_some_and(JobView::is_active);
                                        let select_id = format!("publish-to-{}", o.output_id);
                                        let client = client.clone();
                                        view! {
                                            <li class="card" data-testid="publication">
                                                <h3 class="card-title">{o.label.clone()}</h3>
                                                {o.latest.clone().map(|job| view! { <JobProgress job=job client=client.clone() retry=retry/> })}
                                                {o.remote_id.clone().map(|id| view! {
                                                    <p class="published">"Published as "
                                                        {match o.remote_url.clone() {
                                                            Some(url) => view! { <a href=url rel="external noopener" target="_blank">{id}</a> }.into_any(),
                                                            None => view! { <strong>{id}</strong> }.into_any(),
                                                        }}
                                                    </p>
                                                })}
                                                {(!active).then(|| view! {
                                                    <ActionForm action=publish attr:class="inline">
                                                        {client.clone().map(|c| view! { <input type="hidden" name="client" value=c/> })}
                                                        <input type="hidden" name="campaign_id" value=campaign_id.to_string()/>
                                                        <input type="hidden" name="output_id" value=o.output_id.to_string()/>
                                                        <label for=select_id.clone()>"Account"</label>
                                                        <select id=select_id name="connection_id">
                                                            {connections.iter().map(|(id, label)| view! {
                                                                <option value=id.to_string()>{label.clone()}</option>
                                                            }).collect_view()}
                                                        </select>
                                                        <button type="submit">"Publish"</button>
                                                    </ActionForm>
                                                })}
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                            }.into_any(),
                            Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                        }
                    })
                }}
            </Transition>
        </section>
    }
}
