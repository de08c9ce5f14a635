//! `POST /import/upload` (an SME) and `POST /clients/{client}/import/upload` (an agency
//! client): a multipart form with `resource` and `file`. The session and the scope are
//! checked before the body is read; the file is read in chunks and refused past the size
//! limit before it is all received, then checked against the caps (columns, header and
//! cell length, rows) without keeping its rows. A good file becomes an import batch of
//! the scope and the browser goes to its preview. Every refusal goes back to the import
//! page with a problem code (never free text).

use super::csv_file::{self, FileProblem, ImportKind};
use crate::error::AppError;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;
use std::time::Duration;
use tenancy::TenantDb;
use tower_sessions::Session;

pub fn router<S: Clone + Send + Sync + 'static>(db: TenantDb) -> Router<S> {
    Router::new()
        .route("/import/upload", post(receive_sme))
        .route("/clients/{client}/import/upload", post(receive_client))
        // The file limit is enforced while reading; this only bounds the whole request.
        .layer(DefaultBodyLimit::max(csv_file::MAX_BYTES + 256 * 1024))
        .with_state(db)
}

/// Megabytes of import files this process works on at once. Reading a file costs about
/// three times its size (an upload: the bytes, the driver's argument and write buffers;
/// a preview or an import: the stored text, the driver's read buffer, the judged rows),
/// so each takes a turn weighted by its size: small files pass side by side, a 10 MB
/// file works alone. Waiting holds no file.
const FILE_MEMORY_MB: usize = 24;
static FILE_MEMORY: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(FILE_MEMORY_MB);

/// A turn to hold a file of `bytes` in memory; given back when dropped.
pub(crate) struct FileTurn(#[allow(dead_code)] tokio::sync::SemaphorePermit<'static>);

/// Waits for a turn for a file of `bytes`.
pub(crate) async fn file_turn(bytes: usize) -> FileTurn {
    let mb = (bytes.saturating_mul(3))
        .div_ceil(1 << 20)
        .clamp(1, FILE_MEMORY_MB) as u32;
    // The semaphore is never closed, so acquiring cannot fail.
    FileTurn(
        FILE_MEMORY
            .acquire_many(mb)
            .await
            .expect("FILE_MEMORY is never closed"),
    )
}

fn back(client: Option<&str>, problem: &str, n: Option<usize>) -> Response {
    let mut to = format!(
        "{}?problem={problem}",
        crate::layout::scoped_path(client, "import")
    );
    if let Some(n) = n {
        to.push_str(&format!("&n={n}"));
    }
    Redirect::to(&to).into_response()
}

fn file_problem(client: Option<&str>, p: &FileProblem) -> Response {
    match p {
        FileProblem::TooLarge(n) => back(client, "too_large", Some(*n)),
        FileProblem::NotUtf8 => back(client, "not_utf8", None),
        FileProblem::Empty => back(client, "empty", None),
        FileProblem::NoRows => back(client, "no_rows", None),
        FileProblem::TooManyRows(n) => back(client, "too_many_rows", Some(*n)),
        FileProblem::TooManyColumns(n) => back(client, "too_many_columns", Some(*n)),
        FileProblem::HeaderTooLong => back(client, "header_too_long", None),
        FileProblem::CellTooLong(line) => back(client, "cell_too_long", Some(*line as usize)),
        FileProblem::Unreadable(_) => back(client, "unreadable", None),
    }
}

/// A slug as it may appear in a path; anything else is not a client of ours.
fn clean_slug(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()
        && s.len() <= 100
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
    .then(|| s.to_string())
}

async fn receive_sme(
    State(db): State<TenantDb>,
    session: Session,
    headers: HeaderMap,
    form: Multipart,
) -> Response {
    receive(db, session, None, headers, form).await
}

async fn receive_client(
    State(db): State<TenantDb>,
    Path(client): Path<String>,
    session: Session,
    headers: HeaderMap,
    form: Multipart,
) -> Response {
    match clean_slug(&client) {
        Some(slug) => receive(db, session, Some(slug), headers, form).await,
        None => Redirect::to("/").into_response(),
    }
}

/// The session and the scope are checked before a byte of the body is read: a visitor
/// who is not signed in, or not allowed in this workspace, costs nothing.
async fn receive(
    db: TenantDb,
    session: Session,
    client: Option<String>,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let client = client.as_deref();
    let ctx = match crate::session::scope_of(&db, &session, client.map(str::to_string)).await {
        Ok(ctx) => ctx,
        Err(AppError::NotSignedIn) => return Redirect::to("/sign-in").into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "import upload refused before reading the file");
            return back(client, "refused", None);
        }
    };
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // The body cannot be longer than its declared length (hyper holds it to that);
    // without one, expect the largest file. The turn comes before the read, so waiting
    // holds no body; one that does not come in 20 s is answered in words.
    let expected = declared
        .unwrap_or(csv_file::MAX_BYTES)
        .min(csv_file::MAX_BYTES);
    let _turn = match tokio::time::timeout(Duration::from_secs(20), file_turn(expected)).await {
        Ok(turn) => turn,
        Err(_) => {
            tracing::warn!(org_id = %ctx.org_id(), "import upload waited too long for its turn");
            return back(client, "busy", None);
        }
    };
    let (mut resource, mut file) = (None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "import upload could not be read");
                return match e.status() {
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                        back(client, "too_large", declared)
                    }
                    _ => back(client, "broken", None),
                };
            }
        };
        match field.name() {
            Some("resource") => {
                resource = field
                    .text()
                    .await
                    .ok()
                    .and_then(|s| ImportKind::parse(s.trim()))
            }
            Some("file") => {
                let name = field
                    .file_name()
                    .map(|n| {
                        n.chars()
                            .filter(|c| !c.is_control())
                            .take(255)
                            .collect::<String>()
                    })
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| "upload.csv".into());
                let mut field = field;
                // Reserved once (the declared size is only a hint, capped): growing by
                // doubling would hold the old and the new buffer at once.
                let mut bytes: Vec<u8> =
                    Vec::with_capacity(declared.unwrap_or(0).min(csv_file::MAX_BYTES + 1));
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            if bytes.len() + chunk.len() > csv_file::MAX_BYTES {
                                return back(
                                    client,
                                    "too_large",
                                    Some(declared.unwrap_or(0).max(bytes.len() + chunk.len())),
                                );
                            }
                            bytes.extend_from_slice(&chunk);
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "import upload broke off");
                            let code = match e.status() {
                                axum::http::StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                                _ => "broken",
                            };
                            return back(client, code, declared);
                        }
                    }
                }
                file = Some((name, bytes));
            }
            // Other fields (an old form's `client`) are ignored: the scope is in the path.
            _ => {}
        }
    }
    let Some(resource) = resource else {
        return back(client, "bad_kind", None);
    };
    let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return back(client, "no_file", None);
    };
    let text = match csv_file::decode(bytes) {
        Ok(t) => t,
        Err(p) => return file_problem(client, &p),
    };
    let rows = match csv_file::check(&text) {
        Ok(n) => n,
        Err(p) => {
            if let FileProblem::Unreadable(why) = &p {
                tracing::info!(org_id = %ctx.org_id(), %why, "import upload is not readable CSV");
            }
            return file_problem(client, &p);
        }
    };
    match store(&db, &ctx, resource, &file_name, &text, rows).await {
        Ok(batch) => Redirect::to(&format!(
            "{}/{batch}",
            crate::layout::scoped_path(client, "import")
        ))
        .into_response(),
        Err(e) => {
            // The import page shows the same refusal through its own checks.
            tracing::warn!(error = %e, "import upload refused");
            back(client, "refused", None)
        }
    }
}

async fn store(
    db: &TenantDb,
    ctx: &tenancy::TenantContext,
    resource: ImportKind,
    file_name: &str,
    text: &str,
    rows: usize,
) -> Result<uuid::Uuid, AppError> {
    let mut tx = db.begin(ctx).await?;
    let id = tx
        .query_scalar("SELECT enclave.save_import_batch($1, $2, $3, $4)")
        .bind(resource.as_str())
        .bind(file_name)
        .bind(text)
        .bind(rows as i32)
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    tracing::info!(org_id = %ctx.org_id(), batch_id = %id, rows, "import file uploaded");
    Ok(id)
}
