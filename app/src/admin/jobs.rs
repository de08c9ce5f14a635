//! Jobs: failed and dead-lettered jobs of every tenant and of the system, with the last
//! error (what `enclave dead-jobs` prints), and Retry (`enclave.admin_retry_task`).

use super::AdminFrame;
use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedJob {
    pub queue: String,
    pub task_id: String,
    pub dead: bool,
    pub org: Option<String>,
    pub client: Option<String>,
    pub when: String,
    pub error: String,
}

/// Failed tasks (dead-lettered, not yet retried) of every queue, newest first: queue, task
/// id, organization name, client workspace, when it failed, the last error. Also what
/// `enclave dead-jobs` prints. Read on the system path (the queue's policy shows every
/// task outside a tenant context).
#[cfg(feature = "ssr")]
pub const FAILED_TASKS: &str =
    "SELECT t.task_queue_name, t.id::text, o.name, t.input #>> '{tenant,workspace}',
        coalesce(t.completed_at, t.updated_at),
        (SELECT a.error_message FROM underway.task_attempt a
          WHERE a.task_queue_name = t.task_queue_name AND a.task_id = t.id
            AND a.error_message IS NOT NULL
          ORDER BY a.attempt_number DESC LIMIT 1)
   FROM underway.task t
   LEFT JOIN public.organizations o ON o.id = (t.input #>> '{tenant,org}')::uuid
  WHERE t.state = 'failed'
  ORDER BY t.updated_at DESC LIMIT 200";

#[cfg(feature = "ssr")]
pub type FailedTaskRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    time::OffsetDateTime,
    Option<String>,
);

#[server(endpoint = "admin_jobs")]
pub async fn admin_jobs() -> Result<Vec<FailedJob>, AppError> {
    use tenancy::{AdminAction, Statements};
    let mut tx = super::door::begin(AdminAction::read("list failed jobs")).await?;
    let rows: Vec<FailedTaskRow> = tx.query_as(FAILED_TASKS).fetch_all(tx.conn()).await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(queue, task_id, org, client, at, error)| FailedJob {
            dead: queue.ends_with(".dead"),
            queue,
            task_id,
            org,
            client,
            when: super::when(at),
            error: error.unwrap_or_else(|| {
                "refused without another attempt (see the worker log for this task)".into()
            }),
        })
        .collect())
}

/// Queues a failed task again in its own queue, with a fresh round of attempts. A tenant
/// task is queued inside its tenant's context and its tracked job goes back to queued,
/// as with the tenant's own Retry (migration 0022).
#[server(endpoint = "admin_retry_job")]
pub async fn admin_retry_job(queue: String, task_id: String) -> Result<String, AppError> {
    use tenancy::{AdminAction, Statements};
    let task: uuid::Uuid = task_id
        .trim()
        .parse()
        .map_err(|_| AppError::Invalid("that is not a job's id.".into()))?;
    let mut tx = super::door::begin(AdminAction::change(
        "retry job",
        None,
        serde_json::json!({ "queue": queue, "task_id": task }),
    ))
    .await?;
    let queued: uuid::Uuid = tx
        .query_scalar("SELECT enclave.admin_retry_task($1, $2)")
        .bind(&queue)
        .bind(task)
        .fetch_one(tx.conn())
        .await
        .map_err(|e| match AppError::from(e) {
            AppError::Conflict(_) => AppError::Conflict(
                "That job was already tried again (from its workspace's Jobs page, or here) or has finished, so nothing was queued."
                    .into(),
            ),
            AppError::Invalid(words) => {
                AppError::NotAvailable(format!("This job cannot be retried: {words}."))
            }
            other => other,
        })?;
    tx.commit().await?;
    let base = queue.trim_end_matches(".dead");
    Ok(format!(
        "The job is queued again on {base} as task {queued}, with a fresh round of attempts."
    ))
}

#[component]
pub fn AdminJobsPage() -> impl IntoView {
    let retry = ServerAction::<AdminRetryJob>::new();
    let data = Resource::new(move || retry.version().get(), |_| admin_jobs());
    view! {
        <AdminFrame title="Jobs">
            <p class="hint">"Failed and dead-lettered jobs of every tenant and of the system, newest first. Retry queues a job again with a fresh round of attempts (a tenant's job in its own workspace, where its Jobs page shows it queued). The same list is "<code>"enclave dead-jobs"</code>" on the command line."</p>
            <div aria-live="polite">
                <super::ActionOutcome action=retry/>
            </div>
            <Suspense fallback=|| view! { <p class="loading">"Loading jobs…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(jobs) if jobs.is_empty() => view! { <p class="empty">"No failed or dead jobs. Everything queued has run."</p> }.into_any(),
                        Ok(jobs) => view! {
                            <table class="data">
                                <caption class="visually-hidden">"Failed jobs"</caption>
                                <thead><tr>
                                    <th scope="col">"When"</th><th scope="col">"Queue"</th><th scope="col">"Organization"</th>
                                    <th scope="col">"Last error"</th><th scope="col"><span class="visually-hidden">"Action"</span></th>
                                </tr></thead>
                                <tbody>
                                    {jobs.into_iter().map(|j| view! {
                                        <tr>
                                            <td>{j.when.clone()}</td>
                                            <td><code>{j.queue.clone()}</code>{j.dead.then(|| view! { <span class="tag dead">"dead"</span> })}<br/><small>{j.task_id.clone()}</small></td>
                                            <td>{j.org.clone().unwrap_or_else(|| "(system)".into())}{j.client.clone().map(|c| format!(" / client {c}"))}</td>
                                            <td>{j.error.clone()}</td>
                                            <td>
                                                <ActionForm action=retry>
                                                    <input type="hidden" name="queue" value=j.queue.clone()/>
                                                    <input type="hidden" name="task_id" value=j.task_id.clone()/>
                                                    <button type="submit" aria-label=format!("Retry job {}", j.task_id)>"Retry"</button>
                                                </ActionForm>
                                            </td>
                                        </tr>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </AdminFrame>
    }
}
