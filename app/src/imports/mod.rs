//! Bulk import of personas and campaigns from a CRM's CSV export, separate from manual
//! creation: upload (kept as an import batch of the scope), column mapping and preview
//! (duplicates and problems shown before anything is written), then one transaction that
//! writes every accepted row through the router functions and stores the report of every
//! skipped row and why.

pub mod csv_file;
#[cfg(feature = "ssr")]
pub mod upload;

use crate::error::AppError;
use crate::layout::ErrorNotice;
#[cfg(feature = "ssr")]
use csv_file::ImportKind;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// How many rows the preview shows.
#[cfg(feature = "ssr")]
const PREVIEW_ROWS: usize = 20;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportSummary {
    pub batch_id: Uuid,
    pub file_name: String,
    pub resource: String,
    pub row_count: i32,
    pub status: String,
    pub created: String,
    pub imported: Option<i64>,
    pub skipped: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportList {
    pub scope_name: String,
    pub imports: Vec<ImportSummary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkippedRow {
    pub line: u64,
    pub name: String,
    pub reason: String,
}

/// What an import did; kept with the batch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    pub imported: usize,
    pub skipped: Vec<SkippedRow>,
    pub neutralised: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChoice {
    pub key: String,
    pub label: String,
    pub required: bool,
    pub column: Option<usize>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreviewRow {
    pub line: u64,
    pub values: Vec<String>,
    /// None: will be imported; Some(reason): skipped.
    pub skip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportPreview {
    pub scope_name: String,
    pub batch_id: Uuid,
    pub file_name: String,
    pub resource: String,
    pub row_count: i32,
    pub headers: Vec<String>,
    pub fields: Vec<FieldChoice>,
    pub missing: Option<String>,
    pub sample: Vec<PreviewRow>,
    pub will_import: usize,
    pub duplicates: usize,
    pub invalid: usize,
    pub neutralised: usize,
    pub report: Option<ImportReport>,
}

/// The column chosen for each field on the mapping form, as the form sends it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ColumnChoice {
    pub col_name: Option<String>,
    pub col_role_title: Option<String>,
    pub col_goals: Option<String>,
    pub col_pains: Option<String>,
    pub col_channels: Option<String>,
    pub col_objective: Option<String>,
    pub col_budget: Option<String>,
    pub col_starts_on: Option<String>,
    pub col_ends_on: Option<String>,
    pub col_status: Option<String>,
}

impl ColumnChoice {
    #[cfg(feature = "ssr")]
    fn get(&self, key: &str) -> Option<Option<String>> {
        let v = match key {
            "name" => &self.col_name,
            "role_title" => &self.col_role_title,
            "goals" => &self.col_goals,
            "pains" => &self.col_pains,
            "channels" => &self.col_channels,
            "objective" => &self.col_objective,
            "budget" => &self.col_budget,
            "starts_on" => &self.col_starts_on,
            "ends_on" => &self.col_ends_on,
            "status" => &self.col_status,
            _ => return None,
        };
        Some(v.clone())
    }
    /// True when the form chose nothing yet (first visit: guess from the header).
    #[cfg(feature = "ssr")]
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
    fn from_query(q: &leptos_router::params::ParamsMap) -> Self {
        Self {
            col_name: q.get("col_name"),
            col_role_title: q.get("col_role_title"),
            col_goals: q.get("col_goals"),
            col_pains: q.get("col_pains"),
            col_channels: q.get("col_channels"),
            col_objective: q.get("col_objective"),
            col_budget: q.get("col_budget"),
            col_starts_on: q.get("col_starts_on"),
            col_ends_on: q.get("col_ends_on"),
            col_status: q.get("col_status"),
        }
    }
}

fn batch_gone() -> AppError {
    AppError::NotAvailable(
        "That import is not here: it belongs to another workspace, or it never existed.".into(),
    )
}

#[server(endpoint = "imports")]
pub async fn list_imports(client: Option<String>) -> Result<ImportList, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    type Row = (
        Uuid,
        String,
        String,
        i32,
        String,
        String,
        Option<i64>,
        Option<i64>,
    );
    let rows: Vec<Row> = tx
        .query_as(
            "SELECT batch_id, file_name, resource, row_count, status,
                    to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI'),
                    (report->>'imported')::bigint, jsonb_array_length(report->'skipped')::bigint
               FROM public.import_batches_unified WHERE org_id = $1
              ORDER BY created_at DESC, batch_id LIMIT 50",
        )
        .bind(ctx.org_id())
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(ImportList {
        scope_name: ctx.workspace_name().unwrap_or(ctx.org_name()).to_string(),
        imports: rows
            .into_iter()
            .map(
                |(batch_id, file_name, resource, row_count, status, created, imported, skipped)| {
                    ImportSummary {
                        batch_id,
                        file_name,
                        resource,
                        row_count,
                        status,
                        created,
                        imported,
                        skipped,
                    }
                },
            )
            .collect(),
    })
}

/// Every row of a batch judged: imported, or skipped and why. The file's rows are read
/// one at a time and not kept (only the preview's first rows are): a file of many wide
/// rows would otherwise hold a string per cell.
#[cfg(feature = "ssr")]
struct Analysis {
    resource: ImportKind,
    headers: Vec<String>,
    mapping: csv_file::Mapping,
    /// The first `PREVIEW_ROWS` rows as read.
    sample: Vec<Vec<String>>,
    judged: Vec<Judged>,
}

#[cfg(feature = "ssr")]
struct Judged {
    line: u64,
    /// The row's name cell, for the report of a skipped row.
    name: String,
    outcome: Result<csv_file::ImportedRow, String>,
}

#[cfg(feature = "ssr")]
struct Batch {
    resource: ImportKind,
    file_name: String,
    content: String,
    row_count: i32,
    status: String,
    report: Option<serde_json::Value>,
    /// This process's turn to hold the file in memory, for as long as the batch lives.
    _turn: Option<upload::FileTurn>,
}

#[cfg(feature = "ssr")]
async fn load_batch(tx: &mut impl tenancy::TenantScoped, batch: Uuid) -> Result<Batch, AppError> {
    let row: Option<(String, String, i32, String, Option<serde_json::Value>, i32)> = tx
        .query_as(
            "SELECT resource, file_name, row_count, status, report, octet_length(content)
               FROM public.import_batches_unified WHERE org_id = $1 AND batch_id = $2",
        )
        .bind(tx.org_id())
        .bind(batch)
        .fetch_optional(tx.conn())
        .await?;
    let (resource, file_name, row_count, status, report, size) = row.ok_or_else(batch_gone)?;
    // An imported batch shows its report; its file is not read again.
    let (content, turn) = if status == "imported" {
        (String::new(), None)
    } else {
        let turn = upload::file_turn(size.max(0) as usize).await;
        let content: String = tx
            .query_scalar(
                "SELECT content FROM public.import_batches_unified WHERE org_id = $1 AND batch_id = $2",
            )
            .bind(tx.org_id())
            .bind(batch)
            .fetch_optional(tx.conn())
            .await?
            .ok_or_else(batch_gone)?;
        (content, Some(turn))
    };
    Ok(Batch {
        resource: ImportKind::parse(&resource).ok_or_else(batch_gone)?,
        file_name,
        content,
        row_count,
        status,
        report,
        _turn: turn,
    })
}

#[cfg(feature = "ssr")]
async fn analyse(
    tx: &mut impl tenancy::TenantScoped,
    batch: &Batch,
    choice: &ColumnChoice,
) -> Result<Analysis, AppError> {
    let headers =
        csv_file::headers(&batch.content).map_err(|p| AppError::Invalid(p.to_string()))?;
    let mapping = if choice.is_empty() {
        csv_file::guess_mapping(batch.resource, &headers)
    } else {
        csv_file::chosen_mapping(batch.resource, headers.len(), |k| choice.get(k).flatten())
            .map_err(AppError::Invalid)?
    };
    let today: String = tx
        .query_scalar("SELECT to_char(current_date, 'YYYY-MM-DD')")
        .fetch_one(tx.conn())
        .await?;
    // Duplicates are judged against this scope's rows: RLS shows no others.
    let existing_sql = match batch.resource {
        ImportKind::Personas => "SELECT lower(name) FROM public.personas_unified WHERE org_id = $1",
        ImportKind::Campaigns => {
            "SELECT lower(name) || E'\\x1f' || coalesce(to_char(starts_on, 'YYYY-MM-DD'), '')
               FROM public.campaigns_unified WHERE org_id = $1"
        }
    };
    let existing: std::collections::HashSet<String> = tx
        .query_scalar::<String>(existing_sql)
        .bind(tx.org_id())
        .fetch_all(tx.conn())
        .await?
        .into_iter()
        .collect();
    let name_column = mapping
        .iter()
        .find(|(k, _)| *k == "name")
        .and_then(|(_, c)| *c);
    let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let (mut sample, mut judged) = (Vec::new(), Vec::new());
    csv_file::read_rows(&batch.content, |row, line| {
        let outcome = csv_file::build_row(batch.resource, &mapping, &row, &today).and_then(|r| {
            let key = r.duplicate_key(batch.resource);
            if existing.contains(&key) {
                return Err(format!("\"{}\" is already in this workspace", r.name));
            }
            if let Some(first) = seen.get(&key) {
                return Err(format!("\"{}\" repeats line {first} of the file", r.name));
            }
            seen.insert(key, line);
            Ok(r)
        });
        let name = match &outcome {
            Ok(_) => String::new(),
            Err(_) => name_column
                .and_then(|i| row.get(i))
                .cloned()
                .unwrap_or_default(),
        };
        judged.push(Judged {
            line,
            name,
            outcome,
        });
        if sample.len() < PREVIEW_ROWS {
            sample.push(row);
        }
    })
    .map_err(|p| AppError::Invalid(p.to_string()))?;
    Ok(Analysis {
        resource: batch.resource,
        headers,
        mapping,
        sample,
        judged,
    })
}

#[cfg(feature = "ssr")]
fn is_duplicate(reason: &str) -> bool {
    reason.ends_with("is already in this workspace") || reason.contains("\" repeats line ")
}

#[allow(clippy::too_many_arguments)]
#[server(endpoint = "import_preview")]
pub async fn preview_import(
    client: Option<String>,
    batch_id: Uuid,
    // Absent when nothing was chosen yet (the form serialises no fields then).
    #[server(default)] choice: ColumnChoice,
) -> Result<ImportPreview, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let batch = load_batch(&mut tx, batch_id).await?;
    let scope_name = ctx.workspace_name().unwrap_or(ctx.org_name()).to_string();
    let mut preview = ImportPreview {
        scope_name,
        batch_id,
        file_name: batch.file_name.clone(),
        resource: batch.resource.as_str().to_string(),
        row_count: batch.row_count,
        headers: Vec::new(),
        fields: Vec::new(),
        missing: None,
        sample: Vec::new(),
        will_import: 0,
        duplicates: 0,
        invalid: 0,
        neutralised: 0,
        report: None,
    };
    if batch.status == "imported" {
        tx.commit().await?;
        preview.report = batch.report.and_then(|r| serde_json::from_value(r).ok());
        return Ok(preview);
    }
    let a = analyse(&mut tx, &batch, &choice).await?;
    tx.commit().await?;
    preview.missing = csv_file::missing_required(a.resource, &a.mapping).map(str::to_string);
    preview.fields = a
        .resource
        .fields()
        .iter()
        .map(|f| FieldChoice {
            key: f.key.to_string(),
            label: f.label.to_string(),
            required: f.required,
            column: a
                .mapping
                .iter()
                .find(|(k, _)| *k == f.key)
                .and_then(|(_, c)| *c),
        })
        .collect();
    for j in &a.judged {
        match &j.outcome {
            Ok(row) => {
                preview.will_import += 1;
                preview.neutralised += row.neutralised;
            }
            Err(why) if is_duplicate(why) => preview.duplicates += 1,
            Err(_) => preview.invalid += 1,
        }
    }
    preview.sample = a
        .sample
        .iter()
        .zip(&a.judged)
        .map(|(row, judged)| PreviewRow {
            line: judged.line,
            values: a
                .mapping
                .iter()
                .map(|(_, c)| c.and_then(|i| row.get(i)).cloned().unwrap_or_default())
                .collect(),
            skip: judged.outcome.as_ref().err().cloned(),
        })
        .collect();
    preview.headers = a.headers;
    Ok(preview)
}

/// Writes every accepted row and the report in one transaction; nothing is half written.
#[server(endpoint = "run_import")]
pub async fn run_import(
    client: Option<String>,
    batch_id: Uuid,
    // Absent when nothing was chosen yet (the form serialises no fields then).
    #[server(default)] choice: ColumnChoice,
) -> Result<usize, AppError> {
    let back = format!(
        "{}/{batch_id}",
        crate::layout::scoped_path(client.as_deref(), "import")
    );
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let batch = load_batch(&mut tx, batch_id).await?;
    if batch.status != "uploaded" {
        return Err(AppError::Conflict(
            "This file has already been imported; its report is below.".into(),
        ));
    }
    // Large files run as a background job with progress on the batch page; the job
    // checks the mapping again, so a bad choice is still reported (on the job).
    if batch.row_count as usize > BACKGROUND_ROWS {
        let a = analyse(&mut tx, &batch, &choice).await?;
        if let Some(label) = csv_file::missing_required(a.resource, &a.mapping) {
            return Err(AppError::Invalid(format!(
                "choose the column that holds the {}",
                label.to_lowercase()
            )));
        }
        crate::jobs::start_import(
            &mut tx,
            &crate::jobs::queues()?,
            ImportInput { batch_id, choice },
        )
        .await?;
        tx.commit().await?;
        leptos_axum::redirect(&back);
        return Ok(0);
    }
    let report = import_rows(&mut tx, batch_id, &batch, &choice, None).await?;
    tx.commit().await?;
    tracing::info!(org_id = %ctx.org_id(), %batch_id, imported = report.imported,
        skipped = report.skipped.len(), "import finished");
    leptos_axum::redirect(&back);
    Ok(report.imported)
}

/// The newest import job of a batch, if the file was large enough to need one.
#[server(endpoint = "import_progress")]
pub async fn import_progress(
    client: Option<String>,
    batch_id: Uuid,
) -> Result<Option<crate::jobs::JobView>, AppError> {
    let ctx = crate::session::require_scope(client).await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    let job = crate::jobs::fetch_jobs(
        &mut tx,
        "j.job_type = 'import_csv' AND j.subject_id = $1",
        Some(batch_id),
        1,
    )
    .await?
    .pop();
    tx.commit().await?;
    Ok(job)
}

/// Files with more rows than this are imported by a background job.
pub const BACKGROUND_ROWS: usize = 1_000;

/// What an import job is started with (kept on the job, so Retry uses it again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImportInput {
    pub batch_id: Uuid,
    pub choice: ColumnChoice,
}

/// Reports progress every this many rows (a job's own short transaction each).
#[cfg(feature = "ssr")]
const PROGRESS_EVERY: usize = 250;

/// Writes every accepted row of the batch through the router functions and marks the
/// batch imported with its report, all in the caller's transaction (one transaction:
/// nothing is half-written). Used by the request for small files and by the job for
/// large ones.
#[cfg(feature = "ssr")]
async fn import_rows(
    tx: &mut impl tenancy::TenantScoped,
    batch_id: Uuid,
    batch: &Batch,
    choice: &ColumnChoice,
    progress: Option<&tenancy::ProgressReporter>,
) -> Result<ImportReport, AppError> {
    let a = analyse(tx, batch, choice).await?;
    if let Some(label) = csv_file::missing_required(a.resource, &a.mapping) {
        return Err(AppError::Invalid(format!(
            "choose the column that holds the {}",
            label.to_lowercase()
        )));
    }
    let mut report = ImportReport {
        imported: 0,
        skipped: Vec::new(),
        neutralised: 0,
    };
    let total = a.judged.len().max(1);
    for (i, judged) in a.judged.iter().enumerate() {
        if let Some(reporter) = progress {
            if i % PROGRESS_EVERY == 0 {
                reporter
                    .progress(
                        (5 + 90 * i / total) as i32,
                        &format!("importing row {} of {total}", i + 1),
                    )
                    .await;
            }
        }
        match &judged.outcome {
            Ok(r) => {
                match a.resource {
                    ImportKind::Personas => {
                        tx.query("SELECT enclave.save_persona(NULL, $1, $2, $3, $4, $5)")
                            .bind(&r.name)
                            .bind(&r.role_title)
                            .bind(&r.goals)
                            .bind(&r.pains)
                            .bind(&r.channels)
                            .execute(tx.conn())
                            .await?;
                    }
                    ImportKind::Campaigns => {
                        tx.query(
                            "SELECT enclave.save_campaign(NULL, $1, $2, $3, $4, $5::date, $6::date, $7, NULL)",
                        )
                        .bind(&r.name)
                        .bind(&r.objective)
                        .bind(&r.channels)
                        .bind(r.budget_cents)
                        .bind(&r.starts_on)
                        .bind(&r.ends_on)
                        .bind(&r.status)
                        .execute(tx.conn())
                        .await?;
                    }
                }
                report.imported += 1;
                report.neutralised += r.neutralised;
            }
            Err(reason) => {
                report.skipped.push(SkippedRow {
                    line: judged.line,
                    name: judged.name.clone(),
                    reason: reason.clone(),
                });
            }
        }
    }
    let report_json = serde_json::to_value(&report).map_err(|e| AppError::internal(&e))?;
    tx.query("SELECT enclave.finish_import_batch($1, $2)")
        .bind(batch_id)
        .bind(report_json)
        .execute(tx.conn())
        .await?;
    Ok(report)
}

#[cfg(feature = "ssr")]
pub use import_job::ImportJob;

#[cfg(feature = "ssr")]
mod import_job {
    use super::{import_rows, load_batch, ImportInput};
    use crate::error::AppError;
    use tenancy::{JobFailure, JobKind, JobTx, TenantJob, TenantPath};

    /// Imports a large file in the background, in the batch's tenant context.
    pub struct ImportJob;

    impl JobKind for ImportJob {
        const QUEUE: &'static str = "import_csv";
        const MAX_ATTEMPTS: i32 = 3;
        type Path = TenantPath;
        type Input = ImportInput;
    }

    impl TenantJob for ImportJob {
        async fn run(
            &self,
            tx: &mut JobTx<'_>,
            input: ImportInput,
        ) -> Result<serde_json::Value, JobFailure> {
            tx.progress(2, "reading the file").await;
            let outcome = async {
                let batch = load_batch(tx, input.batch_id).await?;
                if batch.status != "uploaded" {
                    return Err(AppError::Conflict(
                        "this file has already been imported".into(),
                    ));
                }
                let reporter = tx.reporter();
                import_rows(tx, input.batch_id, &batch, &input.choice, Some(&reporter)).await
            }
            .await;
            match outcome {
                Ok(report) => {
                    tx.progress(98, "saving the report").await;
                    Ok(serde_json::json!({
                        "imported": report.imported,
                        "skipped": report.skipped.len(),
                    }))
                }
                Err(AppError::Internal { request_id } | AppError::Unavailable { request_id }) => {
                    Err(JobFailure::Retry(format!(
                        "the database could not finish the import (reference {request_id})"
                    )))
                }
                Err(other) => Err(JobFailure::Stop(other.to_string())),
            }
        }
    }
}

/// The words for an upload refused by `upload::receive` (it redirects here with a code,
/// never with text, so a crafted link cannot put words on the page).
fn upload_problem(code: &str, size: Option<usize>) -> String {
    use csv_file::FileProblem as P;
    match code {
        "too_large" => P::TooLarge(size.unwrap_or(csv_file::MAX_BYTES + 1)).to_string(),
        "not_utf8" => P::NotUtf8.to_string(),
        "empty" => P::Empty.to_string(),
        "no_rows" => P::NoRows.to_string(),
        "too_many_rows" => P::TooManyRows(size.unwrap_or(csv_file::MAX_ROWS + 1)).to_string(),
        "too_many_columns" => P::TooManyColumns(size.unwrap_or(csv_file::MAX_COLUMNS + 1)).to_string(),
        "header_too_long" => P::HeaderTooLong.to_string(),
        "cell_too_long" => P::CellTooLong(size.unwrap_or(0) as u64).to_string(),
        "unreadable" => P::Unreadable(String::new()).to_string(),
        "no_file" => "Choose a CSV file to upload.".into(),
        "busy" => "Enclave is reading other files right now, so this one was not taken. Please upload it again in a minute.".into(),
        "bad_kind" => "Say whether the file holds personas or campaigns.".into(),
        "refused" => "The file was not saved: you may no longer have access to this workspace.".into(),
        _ => "The upload did not arrive. Please try again.".into(),
    }
}

#[component]
pub fn ImportsPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let client = move || params.read().get("client");
    let list = Resource::new(client, list_imports);
    let problem = move || {
        let q = query.read();
        q.get("problem")
            .map(|code| upload_problem(&code, q.get("n").and_then(|n| n.parse().ok())))
    };
    view! {
        <Title text="Import · Enclave"/>
        <h1>"Import from a CSV file"</h1>
        <p class="lede">"Bring personas or campaigns over from your CRM: export them as CSV, upload the file, check which column goes where, and see every row that will be skipped before anything is saved."</p>
        {move || problem().map(|p| view! { <p class="notice error" role="alert">{p}</p> })}
        <section aria-labelledby="upload-heading">
            <h2 id="upload-heading">"Upload a file"</h2>
            // A plain multipart form (not a server function): it works the same with or
            // without JavaScript and streams the file to `upload::receive`.
            <form method="post" action=move || crate::layout::scoped_path(client().as_deref(), "import/upload") enctype="multipart/form-data" class="stack">
                <fieldset>
                    <legend>"The file holds"</legend>
                    <label><input type="radio" name="resource" value="campaigns" checked/>" Campaigns"</label>
                    <label><input type="radio" name="resource" value="personas"/>" Personas"</label>
                </fieldset>
                <div class="field">
                    <label for="import-file">"CSV file"</label>
                    <p class="hint" id="import-file-hint">{format!("UTF-8 text, up to {} MB and {} rows.", csv_file::MAX_BYTES / 1_048_576, csv_file::MAX_ROWS)}</p>
                    <input id="import-file" type="file" name="file" accept=".csv,text/csv" required aria-describedby="import-file-hint"/>
                </div>
                <div class="actions">
                    <button type="submit">"Upload and preview"</button>
                </div>
            </form>
        </section>
        <Suspense fallback=|| view! { <p class="loading" aria-live="polite">"Loading imports…"</p> }>
            {move || {
                let client = client();
                Suspend::new(async move {
                    match list.await {
                        Ok(l) => view! { <ImportTable l=l client=client/> }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn ImportTable(l: ImportList, client: Option<String>) -> impl IntoView {
    if l.imports.is_empty() {
        return view! {
            <p class="scope">"For "<strong data-testid="scope-name">{l.scope_name}</strong></p>
            <p class="empty">"No imports yet. Files you upload are listed here with what became of every row."</p>
        }
        .into_any();
    }
    let base = crate::layout::scoped_path(client.as_deref(), "import");
    view! {
        <p class="scope">"For "<strong data-testid="scope-name">{l.scope_name}</strong></p>
        <table class="imports">
            <caption>"Recent imports"</caption>
            <thead><tr><th scope="col">"File"</th><th scope="col">"Holds"</th><th scope="col">"Rows"</th><th scope="col">"Result"</th><th scope="col">"Uploaded"</th></tr></thead>
            <tbody>
                {l.imports.into_iter().map(|i| view! {
                    <tr>
                        <td><a href=format!("{base}/{}", i.batch_id)>{i.file_name.clone()}</a></td>
                        <td>{i.resource.clone()}</td>
                        <td>{i.row_count}</td>
                        <td>{match (i.imported, i.skipped) {
                            (Some(n), Some(s)) => format!("{n} imported, {s} skipped"),
                            _ => "waiting for you to check and import".to_string(),
                        }}</td>
                        <td>{i.created.clone()}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn ImportBatchPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let client = move || params.read().get("client");
    let batch = move || {
        params
            .read()
            .get("batch")
            .and_then(|id| Uuid::parse_str(&id).ok())
    };
    let choice = move || ColumnChoice::from_query(&query.read());
    let run = ServerAction::<RunImport>::new();
    let retry = ServerAction::<crate::jobs::RetryJob>::new();
    // A large file is imported by a job: its progress, then the report once it is done.
    let tick = RwSignal::new(0u32);
    let finished = RwSignal::new(0u32);
    let job = Resource::new(
        move || {
            (
                client(),
                batch(),
                run.version().get(),
                retry.version().get(),
                tick.get(),
            )
        },
        |(client, batch, ..)| async move {
            match batch {
                Some(id) => import_progress(client, id).await,
                None => Ok(None),
            }
        },
    );
    crate::jobs::follow_job(
        move || job.get().and_then(|r| r.ok()).flatten(),
        tick,
        move || finished.update(|n| *n += 1),
    );
    // A plain signal, set from outside the preview's Suspense: reading the job resource
    // inside it would make the preview wait for every job refresh.
    let busy = RwSignal::new(false);
    Effect::new(move |_| {
        busy.set(
            job.get()
                .and_then(|r| r.ok())
                .flatten()
                .is_some_and(|j| j.is_active()),
        );
    });
    let preview = Resource::new(
        move || {
            (
                client(),
                batch(),
                choice(),
                run.version().get(),
                finished.get(),
            )
        },
        |(client, batch, choice, ..)| async move {
            match batch {
                Some(id) => preview_import(client, id, choice).await,
                None => Err(batch_gone()),
            }
        },
    );
    view! {
        <Title text="Import · Enclave"/>
        <p class="breadcrumb">
            <a href=move || crate::layout::scoped_path(client().as_deref(), "import")>"← All imports"</a>
        </p>
        <Transition fallback=|| ()>
            {move || {
                let client = client();
                Suspend::new(async move {
                    match job.await {
                        Ok(Some(j)) if j.status != "done" => view! {
                            <section aria-labelledby="import-job-heading" class="import-job">
                                <h2 id="import-job-heading">"Importing in the background"</h2>
                                <crate::jobs::JobProgress job=j client=client retry=retry/>
                            </section>
                        }.into_any(),
                        _ => ().into_any(),
                    }
                })
            }}
        </Transition>
        <Suspense fallback=|| view! { <p class="loading" aria-live="polite">"Reading the file…"</p> }>
            {move || {
                let client = client();
                Suspend::new(async move {
                    match preview.await {
                        Ok(p) if p.report.is_some() => view! { <ImportReportView p=p client=client/> }.into_any(),
                        Ok(p) => view! { <ImportPreviewView p=p client=client run=run busy=busy/> }.into_any(),
                        Err(e) => view! { <h1>"Import"</h1><ErrorNotice error=e/> }.into_any(),
                    }
                })
            }}
        </Suspense>
    }
}

#[component]
fn ImportPreviewView(
    p: ImportPreview,
    client: Option<String>,
    run: ServerAction<RunImport>,
    /// A background job is importing this file right now.
    busy: RwSignal<bool>,
) -> impl IntoView {
    let pending = run.pending();
    let page = format!(
        "{}/{}",
        crate::layout::scoped_path(client.as_deref(), "import"),
        p.batch_id
    );
    let hidden_choice: Vec<(String, Option<usize>)> = p
        .fields
        .iter()
        .map(|f| (format!("choice[col_{}]", f.key), f.column))
        .collect();
    let can_import = p.missing.is_none() && p.will_import > 0;
    view! {
        <h1>{format!("Import {} from {}", p.resource, p.file_name)}</h1>
        <p class="scope">"Into "<strong data-testid="scope-name">{p.scope_name.clone()}</strong>{format!(" · {} rows in the file", p.row_count)}</p>
        <section aria-labelledby="mapping-heading">
            <h2 id="mapping-heading">"1. Which column holds what"</h2>
            <form method="get" action=page.clone() class="mapping">
                {client.clone().map(|c| view! { <input type="hidden" name="client" value=c/> })}
                {p.fields.iter().map(|f| {
                    let id = format!("map-{}", f.key);
                    let label = if f.required { format!("{} (required)", f.label) } else { f.label.clone() };
                    view! {
                        <div class="field">
                            <label for=id.clone()>{label}</label>
                            <select id=id name=format!("col_{}", f.key)>
                                <option value="" selected=f.column.is_none()>"— not imported —"</option>
                                {p.headers.iter().enumerate().map(|(i, h)| view! {
                                    <option value=i.to_string() selected=f.column == Some(i)>{if h.is_empty() { format!("column {}", i + 1) } else { h.clone() }}</option>
                                }).collect_view()}
                            </select>
                        </div>
                    }
                }).collect_view()}
                <div class="actions"><button type="submit">"Update preview"</button></div>
            </form>
        </section>
        <section aria-labelledby="preview-heading">
            <h2 id="preview-heading">"2. Check the rows"</h2>
            {p.missing.clone().map(|m| view! { <p class="notice error" role="alert">{format!("Choose the column that holds the {}.", m.to_lowercase())}</p> })}
            <p data-testid="import-totals">{format!(
                "{} will be imported; {} already here or repeated in the file and {} with problems will be skipped.",
                p.will_import, p.duplicates, p.invalid
            )}</p>
            {(p.neutralised > 0).then(|| view! {
                <p class="notice info">{format!("{} {} with =, +, - or @ and will be saved with a leading apostrophe, so a spreadsheet opening an export shows them as text instead of running them.", p.neutralised, if p.neutralised == 1 { "cell begins" } else { "cells begin" })}</p>
            })}
            <table class="preview">
                <caption>{format!("The first {} rows", p.sample.len())}</caption>
                <thead><tr>
                    <th scope="col">"Line"</th>
                    {p.fields.iter().map(|f| view! { <th scope="col">{f.label.clone()}</th> }).collect_view()}
                    <th scope="col">"Outcome"</th>
                </tr></thead>
                <tbody>
                    {p.sample.iter().map(|r| view! {
                        <tr class=if r.skip.is_some() { "skipped" } else { "" }>
                            <td>{r.line}</td>
                            {r.values.iter().map(|v| view! { <td>{v.clone()}</td> }).collect_view()}
                            <td>{r.skip.clone().map(|s| format!("skipped: {s}")).unwrap_or_else(|| "import".into())}</td>
                        </tr>
                    }).collect_view()}
                </tbody>
            </table>
        </section>
        <section aria-labelledby="run-heading">
            <h2 id="run-heading">"3. Import"</h2>
            <ActionForm action=run attr:class="stack">
                {client.map(|c| view! { <input type="hidden" name="client" value=c/> })}
                <input type="hidden" name="batch_id" value=p.batch_id.to_string()/>
                {hidden_choice.into_iter().map(|(name, col)| view! {
                    <input type="hidden" name=name value=col.map(|c| c.to_string()).unwrap_or_default()/>
                }).collect_view()}
                <div class="actions">
                    <button type="submit" disabled=move || pending.get() || busy.get() || !can_import>
                        {move || if pending.get() || busy.get() { "Importing…".to_string() } else { format!("Import {} {}", p.will_import, p.resource) }}
                    </button>
                </div>
            </ActionForm>
            <div aria-live="polite">
                {move || run.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            </div>
        </section>
    }
}

#[component]
fn ImportReportView(p: ImportPreview, client: Option<String>) -> impl IntoView {
    let report = p.report.clone().unwrap_or(ImportReport {
        imported: 0,
        skipped: Vec::new(),
        neutralised: 0,
    });
    let list = crate::layout::scoped_path(client.as_deref(), &p.resource);
    view! {
        <h1>{format!("Imported {} from {}", p.resource, p.file_name)}</h1>
        <p class="scope">"Into "<strong data-testid="scope-name">{p.scope_name.clone()}</strong></p>
        <p class="notice ok" role="status" data-testid="import-result">{format!(
            "{} {} imported, {} rows skipped.", report.imported, p.resource, report.skipped.len()
        )}</p>
        {(report.neutralised > 0).then(|| view! {
            <p class="notice info">{if report.neutralised == 1 {
                "1 cell began with =, +, - or @ and was saved with a leading apostrophe.".to_string()
            } else {
                format!("{} cells began with =, +, - or @ and were saved with a leading apostrophe.", report.neutralised)
            }}</p>
        })}
        <p><a href=list>{format!("Open the {}", p.resource)}</a></p>
        {if report.skipped.is_empty() {
            view! { <p>"No row was skipped."</p> }.into_any()
        } else {
            view! {
                <table class="report">
                    <caption>"Skipped rows"</caption>
                    <thead><tr><th scope="col">"Line"</th><th scope="col">"Name"</th><th scope="col">"Why"</th></tr></thead>
                    <tbody>
                        {report.skipped.into_iter().map(|s| view! {
                            <tr><td>{s.line}</td><td>{s.name}</td><td>{s.reason}</td></tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any()
        }}
    }
}
