//! `POST /import/upload`: a multipart form with `client`, `resource` and `file`. The file
//! is read in chunks and refused past the size limit before it is all received; a good
//! file becomes an import batch of the scope and the browser goes to its preview. Every
//! refusal goes back to the import page with a problem code (never free text).

use super::csv_file::{self, FileProblem, ImportKind};
use crate::error::AppError;
use axum::extract::{DefaultBodyLimit, Multipart, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::Router;
use tenancy::TenantDb;
use tower_sessions::Session;

pub fn router<S: Clone + Send + Sync + 'static>(db: TenantDb) -> Router<S> {
    Router::new()
        .route("/import/upload", post(receive))
        // The file limit is enforced while reading; this only bounds the whole request.
        .layer(DefaultBodyLimit::max(csv_file::MAX_BYTES + 256 * 1024))
        .with_state(db)
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

async fn receive(
    State(db): State<TenantDb>,
    session: Session,
    headers: HeaderMap,
    mut form: Multipart,
) -> Response {
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let (mut client, mut resource, mut file) = (None, None, None);
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "import upload could not be read");
                return match e.status() {
                    axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                        back(client.as_deref(), "too_large", declared)
                    }
                    _ => back(client.as_deref(), "broken", None),
                };
            }
        };
        match field.name() {
            Some("client") => client = field.text().await.ok().and_then(|s| clean_slug(&s)),
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
                let mut bytes: Vec<u8> = Vec::new();
                loop {
                    match field.chunk().await {
                        Ok(Some(chunk)) => {
                            bytes.extend_from_slice(&chunk);
                            if bytes.len() > csv_file::MAX_BYTES {
                                return back(
                                    client.as_deref(),
                                    "too_large",
                                    Some(declared.unwrap_or(bytes.len()).max(bytes.len())),
                                );
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "import upload broke off");
                            let code = match e.status() {
                                axum::http::StatusCode::PAYLOAD_TOO_LARGE => "too_large",
                                _ => "broken",
                            };
                            return back(client.as_deref(), code, declared);
                        }
                    }
                }
                file = Some((name, bytes));
            }
            _ => {}
        }
    }
    let client = client.as_deref();
    let Some(resource) = resource else {
        return back(client, "bad_kind", None);
    };
    let Some((file_name, bytes)) = file.filter(|(_, b)| !b.is_empty()) else {
        return back(client, "no_file", None);
    };
    let text = match csv_file::decode(&bytes) {
        Ok(t) => t,
        Err(p) => return file_problem(client, &p),
    };
    let table = match csv_file::parse(&text) {
        Ok(t) => t,
        Err(p) => return file_problem(client, &p),
    };
    match store(
        &db,
        &session,
        client,
        resource,
        &file_name,
        &text,
        table.rows.len(),
    )
    .await
    {
        Ok(batch) => Redirect::to(&format!(
            "{}/{batch}",
            crate::layout::scoped_path(client, "import")
        ))
        .into_response(),
        Err(AppError::NotSignedIn) => Redirect::to("/sign-in").into_response(),
        Err(e) => {
            // The import page shows the same refusal through its own checks.
            tracing::warn!(error = %e, "import upload refused");
            back(client, "refused", None)
        }
    }
}

async fn store(
    db: &TenantDb,
    session: &Session,
    client: Option<&str>,
    resource: ImportKind,
    file_name: &str,
    text: &str,
    rows: usize,
) -> Result<uuid::Uuid, AppError> {
    let ctx = crate::session::scope_of(db, session, client.map(str::to_string)).await?;
    let mut tx = db.begin(&ctx).await?;
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
