//! Background jobs as people see them: the "Jobs" page of the scope (the SME, or one
//! agency client), the progress display used on the pages that start jobs, and Retry.
//! The rows live in public.jobs / agency.jobs (migration 0011); the worker keeps them
//! up to date (tenancy::jobs).

use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One job of the scope.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    pub job_id: Uuid,
    pub job_type: String,
    pub subject_id: Uuid,
    /// The campaign's name (or the import's file name), if it still exists.
    pub subject_name: Option<String>,
    pub status: String,
    pub progress: i16,
    pub step: String,
    pub error: Option<String>,
    pub attempts: i32,
    pub created: String,
    pub updated: String,
    /// Outputs written (generation) or rows imported (import), once done.
    pub outputs: Option<i64>,
}

impl JobView {
    pub fn is_active(&self) -> bool {
        matches!(self.status.as_str(), "queued" | "running" | "retrying")
    }

    /// The page of the job's subject (a campaign, an import) in the given scope.
    pub fn subject_href(&self, client: Option<&str>) -> Option<String> {
        subject_href(&self.job_type, self.subject_id, client)
    }

    pub fn title(&self) -> &'static str {
        match self.job_type.as_str() {
            "generate_outputs" => "Generate outputs",
            "import_csv" => "Import",
            "publish_output" => "Publish",
            _ => "Job",
        }
    }

    /// What is happening, in words.
    pub fn summary(&self) -> String {
        match self.status.as_str() {
            "queued" => "Waiting for a worker to pick it up…".into(),
            "running" => format!(
                "Running: {}% — {}",
                self.progress,
                if self.step.is_empty() {
                    "starting"
                } else {
                    &self.step
                }
            ),
            "retrying" => format!(
                "Attempt {} failed; trying again shortly. {}",
                self.attempts,
                self.error.clone().unwrap_or_default()
            ),
            "done" => match (self.job_type.as_str(), self.outputs) {
                ("generate_outputs", Some(n)) => {
                    format!("Done: {n} draft{} written.", if n == 1 { "" } else { "s" })
                }
                ("import_csv", Some(n)) => {
                    format!("Done: {n} rows imported; the report is on the import's page.")
                }
                ("publish_output", _) => "Published.".into(),
                _ => "Done.".into(),
            },
            "failed" => format!(
                "Failed: {}",
                self.error
                    .clone()
                    .unwrap_or_else(|| "the job stopped without saying why".into())
            ),
            other => other.to_string(),
        }
    }
}

/// Where the subject of a job of `job_type` lives.
fn subject_href(job_type: &str, subject: Uuid, client: Option<&str>) -> Option<String> {
    let page = match job_type {
        "generate_outputs" => "campaigns",
        "import_csv" => "import",
        _ => return None,
    };
    Some(format!(
        "{}/{subject}",
        crate::layout::scoped_path(client, page)
    ))
}

#[cfg(feature = "ssr")]
pub use server_only::*;

#[cfg(feature = "ssr")]
mod server_only {
    use super::JobView;
    use crate::campaigns::generate::{GenerateInput, GenerationJob};
    use crate::error::AppError;
    use crate::imports::{ImportInput, ImportJob};
    use crate::integrations::publish::{PublishInput, PublishJob};
    use tenancy::{TenantJob, TenantQueue, TenantScoped, TenantTx};
    use uuid::Uuid;

    /// The queues web requests enqueue into, provided by the server as context.
    #[derive(Clone)]
    pub struct JobQueues {
        pub generate_outputs: TenantQueue<GenerationJob>,
        pub import_csv: TenantQueue<ImportJob>,
        pub publish_output: TenantQueue<PublishJob>,
    }

    pub fn queues() -> Result<JobQueues, AppError> {
        leptos::prelude::use_context::<JobQueues>()
            .ok_or_else(|| crate::error::missing_context("JobQueues"))
    }

    pub(crate) const JOB_COLUMNS: &str = "j.job_id, j.job_type, j.subject_id,
        coalesce(c.name, b.file_name, o.channel || coalesce(': ' || nullif(o.headline, ''), '')), j.status, j.progress, j.step, j.error, j.attempts,
        to_char(j.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
        to_char(j.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
        coalesce(j.result ->> 'outputs', j.result ->> 'imported')::bigint
        FROM public.jobs_unified j
        LEFT JOIN public.campaigns_unified c ON c.org_id = j.org_id AND j.job_type = 'generate_outputs' AND c.campaign_id = j.subject_id
        LEFT JOIN public.import_batches_unified b ON b.org_id = j.org_id AND j.job_type = 'import_csv' AND b.batch_id = j.subject_id
        LEFT JOIN public.campaign_outputs_unified o ON o.org_id = j.org_id AND j.job_type = 'publish_output' AND o.output_id = j.subject_id";

    type JobRow = (
        Uuid,
        String,
        Uuid,
        Option<String>,
        String,
        i16,
        String,
        Option<String>,
        i32,
        String,
        String,
        Option<i64>,
    );

    pub(crate) fn job_view(r: JobRow) -> JobView {
        JobView {
            job_id: r.0,
            job_type: r.1,
            subject_id: r.2,
            subject_name: r.3,
            status: r.4,
            progress: r.5,
            step: r.6,
            error: r.7,
            attempts: r.8,
            created: r.9,
            updated: r.10,
            outputs: r.11,
        }
    }

    pub(crate) async fn fetch_jobs(
        tx: &mut TenantTx,
        filter: &str,
        subject: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<JobView>, AppError> {
        // `j.org_id = $3`, and the joins on org_id: one shard group on Citus.
        let sql = format!(
            "SELECT {JOB_COLUMNS} WHERE j.org_id = $3 AND ({filter}) ORDER BY j.created_at DESC, j.job_id LIMIT $2"
        );
        let rows: Vec<JobRow> = tx
            .query_as(&sql)
            .bind(subject)
            .bind(limit)
            .bind(tx.org_id())
            .fetch_all(tx.conn())
            .await?;
        Ok(rows.into_iter().map(job_view).collect())
    }

    /// Creates the tracked job (its input kept as the job's detail, for Retry) and
    /// enqueues its task in the caller's transaction, or returns the job already waiting
    /// or running for the same subject (then nothing is enqueued).
    async fn start<J: TenantJob>(
        tx: &mut TenantTx,
        queue: &TenantQueue<J>,
        job_type: &str,
        subject: Uuid,
        input: J::Input,
    ) -> Result<Uuid, AppError> {
        let detail = serde_json::to_value(&input).map_err(|e| AppError::internal(&e))?;
        let (job, created): (Uuid, bool) = tx
            .query_as("SELECT job_id, created FROM enclave.create_job($1, $2, NULL, $3)")
            .bind(job_type)
            .bind(subject)
            .bind(detail)
            .fetch_one(tx.conn())
            .await?;
        if created {
            queue.enqueue(tx, Some(job), input).await?;
        }
        Ok(job)
    }

    pub(crate) async fn start_generation(
        tx: &mut TenantTx,
        queues: &JobQueues,
        input: GenerateInput,
    ) -> Result<Uuid, AppError> {
        let campaign = input.campaign_id;
        start(
            tx,
            &queues.generate_outputs,
            "generate_outputs",
            campaign,
            input,
        )
        .await
    }

    pub(crate) async fn start_import(
        tx: &mut TenantTx,
        queues: &JobQueues,
        input: ImportInput,
    ) -> Result<Uuid, AppError> {
        let batch = input.batch_id;
        start(tx, &queues.import_csv, "import_csv", batch, input).await
    }

    pub(crate) async fn start_publication(
        tx: &mut TenantTx,
        queues: &JobQueues,
        input: PublishInput,
    ) -> Result<Uuid, AppError> {
        let output = input.output_id;
        start(tx, &queues.publish_output, "publish_output", output, input).await
    }

    /// Enqueues a job again with the input kept on it (Retry).
    async fn enqueue_stored<J: TenantJob>(
        tx: &mut TenantTx,
        queue: &TenantQueue<J>,
        job: Uuid,
        detail: serde_json::Value,
    ) -> Result<(), AppError> {
        let input = serde_json::from_value(detail).map_err(|e| AppError::internal(&e))?;
        queue.enqueue(tx, Some(job), input).await?;
        Ok(())
    }

    impl JobQueues {
        /// Enqueues a tracked job of `job_type` again, in the caller's transaction.
        pub(crate) async fn retry(
            &self,
            tx: &mut TenantTx,
            job_type: &str,
            job: Uuid,
            detail: serde_json::Value,
        ) -> Result<(), AppError> {
            match job_type {
                "generate_outputs" => enqueue_stored(tx, &self.generate_outputs, job, detail).await,
                "import_csv" => enqueue_stored(tx, &self.import_csv, job, detail).await,
                "publish_output" => enqueue_stored(tx, &self.publish_output, job, detail).await,
                other => Err(AppError::internal(&format!(
                    "no queue for job type {other}"
                ))),
            }
        }
    }
}

#[server(endpoint = "jobs")]
pub async fn list_jobs(client: Option<String>) -> Result<Vec<JobView>, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let jobs = fetch_jobs(&mut tx, "$1::uuid IS NULL", None, 100).await?;
    tx.commit().await?;
    Ok(jobs)
}

/// Queues a failed job again, with the input it was started with.
#[server(endpoint = "retry_job")]
pub async fn retry_job(client: Option<String>, job_id: Uuid) -> Result<(), AppError> {
    let ctx = crate::session::require_scope(client.clone()).await?;
    let queues = queues()?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let job: Option<(String, serde_json::Value, Uuid)> = tx
        .query_as(
            "SELECT job_type, detail, subject_id FROM public.jobs_unified WHERE org_id = $1 AND job_id = $2",
        )
        .bind(ctx.org_id())
        .bind(job_id)
        .fetch_optional(tx.conn())
        .await?;
    let Some((job_type, detail, subject)) = job else {
        return Err(AppError::NotAvailable(
            "That job is not here: it belongs to another workspace, or it no longer exists.".into(),
        ));
    };
    tx.query("SELECT enclave.set_job_status($1, 'queued', NULL, NULL)")
        .bind(job_id)
        .execute(tx.conn())
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => AppError::Conflict(
                "Only a failed job can be tried again; this one is waiting, running or done."
                    .into(),
            ),
            other => other,
        })?;
    queues.retry(&mut tx, &job_type, job_id, detail).await?;
    tx.commit().await?;
    if let Some(back) = subject_href(&job_type, subject, client.as_deref()) {
        leptos_axum::redirect(&back);
    }
    Ok(())
}

/// A job's state as words, a progress bar while it runs, and Retry when it failed.
#[component]
pub fn JobProgress(
    job: JobView,
    client: Option<String>,
    retry: ServerAction<RetryJob>,
) -> impl IntoView {
    let pending = retry.pending();
    let percent = if job.status == "done" {
        100
    } else {
        job.progress
    };
    let label = format!("{} progress", job.title());
    view! {
        <div class=format!("job job-{}", job.status) data-testid="job" data-status=job.status.clone()>
            <p class="job-summary" role="status">
                <span class=format!("status status-{}", job.status)>{job.status.clone()}</span>" "
                {job.summary()}
            </p>
            // Without a value the bar is indeterminate: nothing measured yet.
            {(job.status == "running").then(|| view! {
                <progress max="100" value=percent.to_string() aria-label=label.clone()>{format!("{percent}%")}</progress>
            })}
            {(job.status == "queued" || job.status == "retrying").then(|| view! {
                <progress max="100" aria-label=label>"waiting"</progress>
            })}
            {(job.status == "failed").then(|| view! {
                <ActionForm action=retry attr:class="inline">
                    {client.map(|c| view! { <input type="hidden" name="client" value=c/> })}
                    <input type="hidden" name="job_id" value=job.job_id.to_string()/>
                    <button type="submit" disabled=move || pending.get()>
                        {move || if pending.get() { "Queuing…" } else { "Retry" }}
                    </button>
                </ActionForm>
            })}
            <p class="muted">{if job.attempts == 0 {
                format!("Started {} · updated {}", job.created, job.updated)
            } else {
                format!("Started {} · updated {} · attempt {}", job.created, job.updated, job.attempts)
            }}</p>
        </div>
    }
}

/// Calls `refresh` every 1.5 s in the browser while `active()` says something is still
/// moving; nothing on the server, and nothing once it has settled.
pub fn poll_while(
    active: impl Fn() -> bool + Send + Sync + 'static,
    refresh: impl Fn() + Send + Sync + 'static,
) {
    let (active, refresh) = (std::sync::Arc::new(active), std::sync::Arc::new(refresh));
    Effect::new(move |_| {
        let (active, refresh) = (active.clone(), refresh.clone());
        let handle = set_interval_with_handle(
            move || {
                if active() {
                    refresh();
                }
            },
            std::time::Duration::from_millis(1500),
        );
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    });
}

/// Follows the job a page shows: `latest()` (tracked) is its newest state. Bumps `tick`
/// every 1.5 s while it moves (the page's resource refetches on it) and calls `on_done`
/// once when a job seen moving has finished, so the page can reload what it wrote.
pub fn follow_job(
    latest: impl Fn() -> Option<JobView> + Send + Sync + 'static,
    tick: RwSignal<u32>,
    on_done: impl Fn() + Send + Sync + 'static,
) {
    let latest = std::sync::Arc::new(latest);
    let watched = StoredValue::new(None::<(Uuid, bool)>);
    let seen = latest.clone();
    Effect::new(move |_| {
        let now = seen().map(|j| (j.job_id, j.is_active(), j.status == "done"));
        if let (Some((before_id, was_active)), Some((now_id, _, done))) = (watched.get_value(), now)
        {
            if before_id == now_id && was_active && done {
                on_done();
            }
        }
        watched.set_value(now.map(|(id, active, _)| (id, active)));
    });
    poll_while(
        move || untrack(|| latest()).is_some_and(|j| j.is_active()),
        move || tick.update(|n| *n += 1),
    );
}

#[component]
pub fn JobsPage() -> impl IntoView {
    let params = use_params_map();
    let client = move || params.read().get("client");
    let retry = ServerAction::<RetryJob>::new();
    let tick = RwSignal::new(0u32);
    let jobs = Resource::new(
        move || (client(), retry.version().get(), tick.get()),
        |(client, ..)| list_jobs(client),
    );
    poll_while(
        move || {
            jobs.get_untracked()
                .and_then(|r| r.ok())
                .is_some_and(|list| list.iter().any(JobView::is_active))
        },
        move || tick.update(|n| *n += 1),
    );
    view! {
        <Title text="Jobs · Enclave"/>
        <h1>"Jobs"</h1>
        <p class="lead">"Work that runs in the background, such as drafting campaign outputs. This page updates by itself while something runs."</p>
        <div aria-live="polite">
            {move || retry.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
        </div>
        <Transition fallback=|| view! { <p class="loading" aria-live="polite">"Loading jobs…"</p> }>
            {move || {
                let client = client();
                Suspend::new(async move {
                    match jobs.await {
                        Ok(list) if list.is_empty() => view! {
                            <p class="empty">"No jobs yet. Open a campaign and press “Generate outputs” to have drafts written for each of its channels."</p>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="cards jobs">
                                {list.into_iter().map(|job| {
                                    let client = client.clone();
                                    let href = job.subject_href(client.as_deref());
                                    let name = job.subject_name.clone().unwrap_or_else(|| "(deleted)".into());
                                    view! {
                                        <li class="card">
                                            <h2 class="card-title">{job.title()}" · "
                                                {match href {
                                                    Some(h) => view! { <a href=h>{name}</a> }.into_any(),
                                                    None => view! { <span>{name}</span> }.into_any(),
                                                }}
                                            </h2>
                                            <JobProgress job=job client=client retry=retry/>
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
    }
}
