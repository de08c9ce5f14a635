//! Server-only data code for brand guidelines.

use super::BrandGuidelines;
use crate::error::AppError;
use tenancy::{TenantContext, TenantDb, TenantError, TenantRead};

const READ: TenantRead = TenantRead::new(
    "SELECT voice, tone, palette, do_list, dont_list, version, \
            to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI \"UTC\"') AS updated_at \
       FROM enclave.read_brand_guidelines($1, $2, $3)",
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
    let version: i32 = tx.query_scalar("SELECT enclave.save_brand_guidelines($1, $2, $3, $4, $5, $6)")
        .bind(voice)
        .bind(tone)
        .bind(palette)
        .bind(do_list)
        .bind(dont_list)
        .bind((expected_version > 0).then_some(expected_version))
        .fetch_one(tx.conn())
        .await
        .map_err(|e| match TenantError::from(e) {
            TenantError::Conflict(_) => AppError::Conflict(
                "Someone else saved these guidelines after you opened them. Reload the page to see their version, then make your change again.".into(),
            ),
            other => other.into(),
        })?;
    tx.commit().await?;
    Ok(version)
}
