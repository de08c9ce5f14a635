//! Server-only data code for brand guidelines.

use super::{BrandGuidelines, GuidelineVersion};
use crate::error::AppError;
use tenancy::{TenantContext, TenantDb, TenantError, TenantRead};

const READ: TenantRead = TenantRead::new(
    "SELECT voice, tone, palette, do_list, dont_list, version, \
            to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"') AS updated_at \
       FROM enclave.read_brand_guidelines($1, $2, $3, $4)",
);

#[derive(sqlx::FromRow)]
struct Row {
    voice: String,
    tone: String,
    palette: String,
    do_list: String,
    dont_list: String,
    version: i32,
    updated_at: Option<String>,
}

fn scope_name(ctx: &TenantContext) -> String {
    match ctx.workspace_name() {
        Some(client) => format!("{client} (client of {})", ctx.org_name()),
        None => ctx.org_name().to_string(),
    }
}

pub async fn load(db: &TenantDb, ctx: &TenantContext) -> Result<BrandGuidelines, AppError> {
    let rows: Vec<Row> = db.read(ctx, READ).await?;
    let scope_name = scope_name(ctx);
    Ok(match rows.into_iter().next() {
        Some(r) => BrandGuidelines {
            voice: r.voice,
            tone: r.tone,
            palette: r.palette,
            do_list: r.do_list,
            dont_list: r.dont_list,
            version: r.version,
            updated_at: r.updated_at,
            scope_name,
        },
        None => BrandGuidelines {
            scope_name,
            ..Default::default()
        },
    })
}

pub async fn save(
    db: &TenantDb,
    ctx: &TenantContext,
    fields: [String; 5],
    expected_version: i32,
) -> Result<i32, AppError> {
    let [voice, tone, palette, do_list, dont_list] = fields;
    let mut tx = db.begin(ctx).await?;
    let version: i32 = tx
        .query_scalar("SELECT enclave.save_brand_guidelines($1, $2, $3, $4, $5, $6)")
        .bind(voice)
        .bind(tone)
        .bind(palette)
        .bind(do_list)
        .bind(dont_list)
        .bind((expected_version > 0).then_some(expected_version))
        .fetch_one(tx.conn())
        .await
        .map_err(lost_race)?;
    tx.commit().await?;
    Ok(version)
}

/// A save or restore that lost to someone else's save, in plain words.
fn lost_race(e: sqlx::Error) -> AppError {
    match TenantError::from(e) {
        TenantError::Conflict(_) => AppError::Conflict(
            "Someone else saved these guidelines after you opened them. Reload the page to see their version, then make your change again.".into(),
        ),
        other => other.into(),
    }
}

/// Every saved version of this scope's guidelines, newest first, read in `tx` (a
/// transaction in the scope's context; committed here).
pub async fn history(mut tx: tenancy::TenantTx) -> Result<Vec<GuidelineVersion>, AppError> {
    use tenancy::TenantScoped;
    let rows: Vec<(i32, String, Option<String>, String)> = tx
        .query_as(
            "SELECT v.version, to_char(v.saved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"'),
                    u.display_name, left(v.voice, 140)
               FROM public.brand_guideline_versions_unified v
               LEFT JOIN public.users u ON u.id = v.saved_by
              WHERE v.org_id = $1
              ORDER BY v.version DESC
              LIMIT 100",
        )
        .bind(tx.org_id())
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(rows
        .into_iter()
        .map(|(version, saved_at, saved_by, voice)| GuidelineVersion {
            version,
            saved_at,
            saved_by,
            voice,
        })
        .collect())
}

/// Saves an earlier version's text as the newest version.
pub async fn restore(
    db: &TenantDb,
    ctx: &TenantContext,
    version: i32,
    expected_version: i32,
) -> Result<i32, AppError> {
    let mut tx = db.begin(ctx).await?;
    let new_version: i32 = tx
        .query_scalar("SELECT enclave.restore_brand_guidelines($1, $2)")
        .bind(version)
        .bind(expected_version)
        .fetch_one(tx.conn())
        .await
        .map_err(lost_race)?;
    tx.commit().await?;
    Ok(new_version)
}
