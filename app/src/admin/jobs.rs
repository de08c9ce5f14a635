//! Jobs: failed and dead-lettered jobs of every tenant and of the system, with the last
//! error (what `enclave dead-jobs` prints).

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

#[server(endpoint = "admin_jobs")]
pub async fn admin_jobs() -> Result<Vec<FailedJob>, AppError> {
    use tenancy::{AdminAction, Statements};
    let mut tx = super::door::begin(AdminAction::read("list failed jobs")).await?;
    let rows: Vec<(
        String,
        String,
        Option<String>,
        Option<String>,
        time::OffsetDateTime,
        Option<String>,
    )> = tx
        .query_as(
            "SELECT t.task_queue_name, t.id::text, o.name, t.input #>> '{tenant,workspace}',
                    coalesce(t.completed_at, t.updated_at),
                    (SELECT a.error_message FROM underway.task_attempt a
                      WHERE a.task_queue_name = t.task_queue_name AND a.task_id = t.id
                        AND a.error_message IS NOT NULL
                      ORDER BY a.attempt_number DESC LIMIT 1)
               FROM underway.task t
               LEFT JOIN public.organizations o ON o.id = (t.input #>> '{tenant,org}')::uuid
              WHERE t.task_queue_name LIKE '%.dead' OR t.state = 'failed'
              ORDER BY t.updated_at DESC LIMIT 200",
        )
        .fetch_all(tx.conn())
        .await?;
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

#[component]
pub fn AdminJobsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| admin_jobs());
    view! {
        <AdminFrame title="Jobs">
            <p class="hint">"Failed and dead-lettered jobs of every tenant and of the system, newest first. A tenant's own Jobs page retries its jobs; the same list is "<code>"enclave dead-jobs"</code>" on the command line."</p>
            <Suspense fallback=|| view! { <p class="loading">"Loading jobs…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(jobs) if jobs.is_empty() => view! { <p class="empty">"No failed or dead jobs. Everything queued has run."</p> }.into_any(),
                        Ok(jobs) => view! {
                            <table class="data">
                                <caption class="visually-hidden">"Failed jobs"</caption>
                                <thead><tr>
                                    <th scope="col">"When"</th><th scope="col">"Queue"</th><th scope="col">"Organization"</th>
                                    <th scope="col">"Last error"</th>
                                </tr></thead>
                                <tbody>
                                    {jobs.into_iter().map(|j| view! {
                                        <tr>
                                            <td>{j.when.clone()}</td>
                                            <td><code>{j.queue.clone()}</code>{j.dead.then(|| view! { <span class="tag dead">"dead"</span> })}<br/><small>{j.task_id.clone()}</small></td>
                                            <td>{j.org.clone().unwrap_or_else(|| "(system)".into())}{j.client.clone().map(|c| format!(" / client {c}"))}</td>
                                            <td>{j.error.clone()}</td>
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
