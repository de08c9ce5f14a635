//! Citus (issue 14). When the application database has the `citus` extension, `enclave
//! migrate` distributes the schema after the migrations (`migrations/citus/distribute.sql`: tenant tables
//! by `org_id`, colocated with `public.invitations`; global tables, the directory and the billing facts
//! tables as reference tables; the context rebuilt for the workers), the audit requires
//! every tenant table to be placed that way (`audit::run`), and `enclave doctor` reports
//! the cluster.

use sqlx::PgConnection;
use thiserror::Error;

/// The recipe, idempotent: run again after every migration, it distributes what is new and
/// changes nothing else (checked by scripts/test-citus).
const DISTRIBUTE_SQL: &str = include_str!("../../../../migrations/citus/distribute.sql");

/// The table every distributed tenant table is colocated with.
pub const COLOCATED_WITH: &str = "public.invitations";

/// Tenant tables kept whole on every node (reference tables): small and rarely written.
/// The directory is read by every policy and by each page's organization list, which
/// would otherwise ask every shard (docs/citus/port/directory/REPORT.md); the billing
/// facts are read across all organizations by the admin console, which Citus 13.2.2
/// cannot join to a distributed table correctly (ARCHITECTURE, "Scaling out").
pub const DIRECTORY_TABLES: &[&str] = &[
    "public.memberships",
    "agency.client_workspaces",
    "agency.client_assignments",
    "public.org_billing",
    "enclave.plan_grants",
];

#[derive(Debug, Error)]
pub enum CitusError {
    #[error("distributing the schema on Citus failed at statement {index} ({head}…): {source}")]
    Distribute {
        index: usize,
        head: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
}

/// Whether this database has the citus extension.
pub async fn installed(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus')",
    )
    .fetch_one(conn)
    .await
}

/// What `distribute` left: counts of reference and distributed tables and of shards.
#[derive(Debug, Clone, PartialEq)]
pub struct Distribution {
    pub reference_tables: i64,
    pub distributed_tables: i64,
    pub shards: i64,
    pub workers: i64,
}

impl std::fmt::Display for Distribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} reference tables, {} tables distributed by org_id, {} shards, {} workers",
            self.reference_tables, self.distributed_tables, self.shards, self.workers
        )
    }
}

/// Runs the recipe as a superuser connected to the application database on the coordinator.
/// One statement at a time, as psql would: some steps are explicit transactions, others
/// must not run inside one.
pub async fn distribute(conn: &mut PgConnection) -> Result<Distribution, CitusError> {
    for (index, statement) in statements(DISTRIBUTE_SQL).into_iter().enumerate() {
        if let Err(source) = sqlx::raw_sql(statement).execute(&mut *conn).await {
            // A failed statement inside one of the recipe's transactions leaves it aborted.
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut *conn).await;
            return Err(CitusError::Distribute {
                index: index + 1,
                head: statement
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty() && !l.starts_with("--"))
                    .unwrap_or("")
                    .chars()
                    .take(80)
                    .collect(),
                source,
            });
        }
    }
    Ok(distribution(conn).await?)
}

pub async fn distribution(conn: &mut PgConnection) -> Result<Distribution, sqlx::Error> {
    let (reference_tables, distributed_tables, shards, workers): (i64, i64, i64, i64) =
        sqlx::query_as(
            "SELECT (SELECT count(*) FROM pg_dist_partition WHERE partmethod = 'n'),
                (SELECT count(*) FROM pg_dist_partition WHERE partmethod = 'h'),
                (SELECT count(*) FROM pg_dist_shard),
                (SELECT count(*) FROM pg_dist_node WHERE groupid <> 0 AND isactive)",
        )
        .fetch_one(conn)
        .await?;
    Ok(Distribution {
        reference_tables,
        distributed_tables,
        shards,
        workers,
    })
}

/// The statements of an SQL script, split at the semicolons that end them: not inside
/// quotes, quoted identifiers, dollar-quoted bodies or comments. sqlx's `raw_sql` would
/// send the whole script as one implicit transaction, which the recipe's Citus calls do
/// not allow; a full SQL parser would be a large dependency for one trusted file of ours.
pub fn statements(script: &str) -> Vec<&str> {
    let bytes = script.as_bytes();
    let mut out = Vec::new();
    let (mut start, mut i) = (0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = script[i..].find('\n').map_or(bytes.len(), |n| i + n + 1);
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = script[i + 2..]
                    .find("*/")
                    .map_or(bytes.len(), |n| i + 2 + n + 2);
                continue;
            }
            quote @ (b'\'' | b'"') => {
                // A doubled quote inside is two quoted strings back to back: same result.
                i = script[i + 1..]
                    .find(quote as char)
                    .map_or(bytes.len(), |n| i + 1 + n + 1);
                continue;
            }
            b'$' => {
                let tag_end =
                    script[i + 1..].find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'));
                if let Some(n) = tag_end {
                    let after = i + 1 + n;
                    let starts_tag = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
                    if bytes[after] == b'$' && starts_tag && !bytes[i + 1].is_ascii_digit() {
                        let tag = &script[i..=after];
                        i = script[after + 1..]
                            .find(tag)
                            .map_or(bytes.len(), |n| after + 1 + n + tag.len());
                        continue;
                    }
                }
            }
            b';' => {
                let statement = script[start..i].trim();
                if !is_only_comments(statement) {
                    out.push(statement);
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    let rest = script[start..].trim();
    if !is_only_comments(rest) {
        out.push(rest);
    }
    out
}

fn is_only_comments(sql: &str) -> bool {
    sql.lines()
        .map(str::trim)
        .all(|l| l.is_empty() || l.starts_with("--"))
}

/// What `enclave doctor` prints about the cluster: one line per node, the tables and
/// shards, and the tenants with the most rows.
pub async fn report(
    runtime: &mut PgConnection,
    admin: Option<&mut PgConnection>,
) -> Result<Vec<String>, sqlx::Error> {
    let mut lines = Vec::new();
    let nodes: Vec<(String, i32, i32, bool, i64, i64)> = sqlx::query_as(
        "SELECT n.nodename::text, n.nodeport, n.groupid, n.isactive,
                count(s.shardid), coalesce(sum(s.shard_size), 0)::bigint
           FROM pg_dist_node n
           LEFT JOIN citus_shards s ON s.nodename = n.nodename AND s.nodeport = n.nodeport
          GROUP BY 1, 2, 3, 4 ORDER BY n.groupid, 1, 2",
    )
    .fetch_all(&mut *runtime)
    .await?;
    for (name, port, group, active, shards, bytes) in &nodes {
        lines.push(format!(
            "citus node: {name}:{port} {} {}, {shards} shard placements, {}",
            if *group == 0 { "coordinator" } else { "worker" },
            if *active { "active" } else { "INACTIVE" },
            human_bytes(*bytes)
        ));
    }
    lines.push(format!("citus: {}", distribution(runtime).await?));
    match admin {
        None => lines.push(
            "citus largest tenants: set DATABASE_ADMIN_URL to count them (the counts read past row level security)"
                .into(),
        ),
        Some(admin) => {
            // Every distributed table grouped by its distribution column: Citus runs the
            // counts on the shards in parallel.
            let tables: Vec<String> = sqlx::query_scalar(
                "SELECT logicalrelid::regclass::text FROM pg_dist_partition
                  WHERE partmethod = 'h' AND column_to_column_name(logicalrelid, partkey) = 'org_id'
                  ORDER BY 1",
            )
            .fetch_all(&mut *admin)
            .await?;
            if tables.is_empty() {
                return Ok(lines);
            }
            let union = tables
                .iter()
                .map(|t| format!("SELECT org_id, count(*) AS n FROM {t} GROUP BY org_id"))
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            let largest: Vec<(String, String, i64, i64, String)> = sqlx::query_as(&format!(
                "SELECT t.org_id::text, coalesce(o.name, '?'), t.n::bigint,
                        get_shard_id_for_distribution_column('{COLOCATED_WITH}', t.org_id),
                        (SELECT p.nodename || ':' || p.nodeport FROM pg_dist_shard_placement p
                          WHERE p.shardid = get_shard_id_for_distribution_column('{COLOCATED_WITH}', t.org_id) LIMIT 1)
                   FROM (SELECT org_id, sum(n) AS n FROM ({union}) u GROUP BY org_id ORDER BY 2 DESC LIMIT 5) t
                   LEFT JOIN public.organizations o ON o.id = t.org_id
                  ORDER BY t.n DESC"
            ))
            .fetch_all(&mut *admin)
            .await?;
            for (id, name, rows, shard, node) in largest {
                lines.push(format!(
                    "citus largest tenant: {name} ({id}): {rows} rows in {} tables, shard group {shard} on {node}",
                    tables.len()
                ));
            }
        }
    }
    Ok(lines)
}

fn human_bytes(bytes: i64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.1} GB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MB", b as f64 / (1u64 << 20) as f64),
        b => format!("{} kB", b / 1024),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_end_at_semicolons_outside_quotes_bodies_and_comments() {
        let script = "SET a = 1;
-- a comment; with a semicolon
DO $$ BEGIN PERFORM 1; END $$;
CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $body$ SELECT 'x;y' $body$;
SELECT 'it''s; fine', \"odd;name\" FROM t /* no; split */ WHERE x = $1;
BEGIN;
DO $do$ BEGIN EXECUTE $f$ SELECT 1; $f$; END $do$;
COMMIT;
-- trailing comment only";
        let got = statements(script);
        assert_eq!(
            got,
            vec![
                "SET a = 1",
                "-- a comment; with a semicolon\nDO $$ BEGIN PERFORM 1; END $$",
                "CREATE FUNCTION f() RETURNS text LANGUAGE sql AS $body$ SELECT 'x;y' $body$",
                "SELECT 'it''s; fine', \"odd;name\" FROM t /* no; split */ WHERE x = $1",
                "BEGIN",
                "DO $do$ BEGIN EXECUTE $f$ SELECT 1; $f$; END $do$",
                "COMMIT",
            ]
        );
    }

    #[test]
    fn the_recipe_splits_into_whole_statements() {
        let parts = statements(DISTRIBUTE_SQL);
        assert!(parts.len() > 20, "{} statements", parts.len());
        for p in &parts {
            // Every dollar-quoted body is closed within its statement.
            let dollars = p.matches("$$").count();
            assert_eq!(dollars % 2, 0, "unbalanced $$ in: {p}");
        }
        assert!(parts.contains(&"BEGIN") && parts.contains(&"COMMIT"));
    }
}
