//! `enclave audit`: reads the catalog, as the runtime role, and names every object that
//! breaks a tenancy rule. Runs at start-up (serve/worker refuse to start on a
//! violation), in CI and on demand.

use serde::Serialize;
use sqlx::PgConnection;

/// Schemas that hold tenant data: every table has RLS+FORCE+a policy, global or not, and
/// the tenant-key rules below apply.
pub const TENANT_SCHEMAS: &[&str] = &["public", "agency"];
/// Every other schema the runtime role can reach (USAGE: `enclave`, `tower_sessions` and
/// `underway` today) is found in the catalog, so a schema granted tomorrow is covered:
/// each of its tables has RLS+FORCE+a policy, or is declared `enclave:global <reason>`.
pub const REACHABLE_SCHEMAS: &str = r"SELECT n.nspname::text FROM pg_namespace n
     WHERE has_schema_privilege(current_user, n.oid, 'USAGE')
       AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
     ORDER BY 1";
/// Schemas whose SECURITY DEFINER functions are checked (everything the project owns).
pub const PROJECT_SCHEMAS: &[&str] = &["public", "agency", "enclave", "tower_sessions", "underway"];

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Violation {
    pub rule: &'static str,
    pub object: String,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct AuditReport {
    pub runtime_role: String,
    pub database: String,
    pub tables_checked: i64,
    pub views_checked: i64,
    pub functions_checked: i64,
    pub violations: Vec<Violation>,
}

impl AuditReport {
    pub fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    pub fn human(&self) -> String {
        let mut out = format!(
            "tenancy audit of database {} as runtime role {}: {} tables, {} views, {} functions checked\n",
            self.database, self.runtime_role, self.tables_checked, self.views_checked, self.functions_checked
        );
        if self.violations.is_empty() {
            out.push_str("audit: clean (0 violations)\n");
        } else {
            for v in &self.violations {
                out.push_str(&format!(
                    "VIOLATION [{}] {}: {}\n",
                    v.rule, v.object, v.detail
                ));
            }
            out.push_str(&format!("audit: {} violation(s)\n", self.violations.len()));
        }
        out
    }
}

fn rows(list: Vec<(String, String)>, rule: &'static str, out: &mut Vec<Violation>) {
    out.extend(list.into_iter().map(|(object, detail)| Violation {
        rule,
        object,
        detail,
    }));
}

pub async fn run(conn: &mut PgConnection) -> Result<AuditReport, sqlx::Error> {
    let tenant: Vec<String> = TENANT_SCHEMAS.iter().map(|s| s.to_string()).collect();
    let project: Vec<String> = PROJECT_SCHEMAS.iter().map(|s| s.to_string()).collect();
    let (runtime_role, database): (String, String) =
        sqlx::query_as("SELECT current_user::text, current_database()::text")
            .fetch_one(&mut *conn)
            .await?;
    let mut v = Vec::new();

    let mut reachable: Vec<String> = sqlx::query_scalar(REACHABLE_SCHEMAS)
        .fetch_all(&mut *conn)
        .await?;
    reachable.retain(|s| !tenant.contains(s));

    // Tables in tenant schemas (partitioned tables included).
    const TABLES: &str = "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE c.relkind IN ('r','p') AND n.nspname = ANY($1)";
    // Tables that must have row level security: every table of the tenant schemas ($1),
    // and those of the other reachable schemas ($2) that are not declared global.
    const RLS_TABLES: &str = "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE c.relkind IN ('r','p')
                            AND (n.nspname = ANY($1)
                                 OR (n.nspname = ANY($2)
                                     AND coalesce(obj_description(c.oid, 'pg_class'), '') NOT LIKE 'enclave:global%'))";
    const ALL_TABLES: &str = "FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                          WHERE c.relkind IN ('r','p') AND (n.nspname = ANY($1) OR n.nspname = ANY($2))";
    let tables_checked: i64 = sqlx::query_scalar(&format!("SELECT count(*) {ALL_TABLES}"))
        .bind(&tenant)
        .bind(&reachable)
        .fetch_one(&mut *conn)
        .await?;

    rows(sqlx::query_as(&format!("SELECT format('%I.%I', n.nspname, c.relname), 'row level security is not enabled' {RLS_TABLES} AND NOT c.relrowsecurity"))
        .bind(&tenant).bind(&reachable).fetch_all(&mut *conn).await?, "rls_disabled", &mut v);
    rows(sqlx::query_as(&format!("SELECT format('%I.%I', n.nspname, c.relname), 'row level security is not forced: the owner bypasses it' {RLS_TABLES} AND NOT c.relforcerowsecurity"))
        .bind(&tenant).bind(&reachable).fetch_all(&mut *conn).await?, "rls_not_forced", &mut v);
    rows(sqlx::query_as(&format!("SELECT format('%I.%I', n.nspname, c.relname), 'no row level security policy' {RLS_TABLES} AND NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid)"))
        .bind(&tenant).bind(&reachable).fetch_all(&mut *conn).await?, "no_policy", &mut v);
    // Citus creates restrictive policies as permissive ones on its shards, where they would
    // widen access instead of narrowing it: the condition belongs in each permissive policy.
    rows(sqlx::query_as("SELECT format('%I.%I', n.nspname, c.relname), format('restrictive policy %I: Citus turns it into a permissive one on the shards; put its condition into the permissive policies', p.polname)
            FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE NOT p.polpermissive")
        .fetch_all(&mut *conn).await?, "restrictive_policy", &mut v);
    // The declaration is the reason; a bare marker explains nothing.
    rows(sqlx::query_as(&format!("SELECT format('%I.%I', n.nspname, c.relname), 'declared enclave:global without a reason' {ALL_TABLES}
            AND obj_description(c.oid, 'pg_class') LIKE 'enclave:global%'
            AND btrim(substr(obj_description(c.oid, 'pg_class'), length('enclave:global') + 1)) = ''"))
        .bind(&tenant).bind(&reachable).fetch_all(&mut *conn).await?, "global_without_reason", &mut v);

    // org_id must lead the primary key and every unique constraint/index, except on the
    // tables declared global (their comment starts with 'enclave:global').
    const SCOPED: &str =
        "AND coalesce(obj_description(c.oid, 'pg_class'), '') NOT LIKE 'enclave:global%'";
    rows(sqlx::query_as(&format!("SELECT format('%I.%I', n.nspname, c.relname), 'tenant table has no primary key' {TABLES} {SCOPED}
            AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)"))
        .bind(&tenant).fetch_all(&mut *conn).await?, "org_id_not_leading", &mut v);
    rows(sqlx::query_as(&format!("SELECT format('%I.%I', n.nspname, c.relname),
                   format('%s %s does not start with org_id', CASE WHEN i.indisprimary THEN 'primary key' ELSE 'unique index' END, ic.relname)
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
              JOIN pg_index i ON i.indrelid = c.oid AND (i.indisprimary OR i.indisunique)
              JOIN pg_class ic ON ic.oid = i.indexrelid
             WHERE c.relkind IN ('r','p') AND n.nspname = ANY($1) {SCOPED}
               AND (i.indkey[0] = 0 OR (SELECT a.attname FROM pg_attribute a
                                         WHERE a.attrelid = c.oid AND a.attnum = i.indkey[0]) <> 'org_id')"))
        .bind(&tenant).fetch_all(&mut *conn).await?, "org_id_not_leading", &mut v);

    // On Citus (issue 14): tenant tables distributed by org_id and colocated, so one
    // tenant's rows share a node and its transactions are routed there; the directory
    // tables and the global tables of the tenant schemas replicated as reference tables,
    // so policies read them locally and foreign keys to them hold.
    if super::citus::installed(&mut *conn).await? {
        rows(sqlx::query_as(&format!("SELECT format('%I.%I', n.nspname, c.relname),
                    CASE WHEN p.logicalrelid IS NULL THEN 'tenant table is not in Citus: distribute it by org_id (enclave migrate with DATABASE_ADMIN_URL)'
                         WHEN p.partmethod <> 'h' THEN 'tenant table is not hash-distributed: distribute it by org_id'
                         WHEN column_to_column_name(p.logicalrelid, p.partkey) IS DISTINCT FROM 'org_id'
                              THEN format('tenant table is distributed by %s, not org_id', column_to_column_name(p.logicalrelid, p.partkey))
                         ELSE 'tenant table is not colocated with {colocated}' END
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
               WHERE c.relkind IN ('r','p') AND n.nspname = ANY($1) AND NOT c.relispartition {SCOPED}
                 AND format('%I.%I', n.nspname, c.relname) <> ALL($2)
                 AND (p.logicalrelid IS NULL OR p.partmethod <> 'h'
                      OR column_to_column_name(p.logicalrelid, p.partkey) IS DISTINCT FROM 'org_id'
                      OR p.colocationid IS DISTINCT FROM (SELECT d.colocationid FROM pg_dist_partition d
                                                           WHERE d.logicalrelid = '{colocated}'::regclass))",
                colocated = super::citus::COLOCATED_WITH))
            .bind(&tenant).bind(super::citus::DIRECTORY_TABLES).fetch_all(&mut *conn).await?, "citus_not_distributed", &mut v);
        rows(sqlx::query_as("SELECT t, 'tenant table kept on every node (the directory, plan grants) is not a Citus reference table'
                FROM unnest($1::text[]) t
               WHERE to_regclass(t) IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM pg_dist_partition p WHERE p.logicalrelid = to_regclass(t) AND p.partmethod = 'n')")
            .bind(super::citus::DIRECTORY_TABLES).fetch_all(&mut *conn).await?, "citus_directory_not_reference", &mut v);
        rows(sqlx::query_as("SELECT format('%I.%I', n.nspname, c.relname), 'global table of a tenant schema is not a Citus reference table'
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                LEFT JOIN pg_dist_partition p ON p.logicalrelid = c.oid
               WHERE c.relkind IN ('r','p') AND n.nspname = ANY($1) AND NOT c.relispartition
                 AND obj_description(c.oid, 'pg_class') LIKE 'enclave:global%'
                 AND p.partmethod IS DISTINCT FROM 'n'")
            .bind(&tenant).fetch_all(&mut *conn).await?, "citus_global_not_reference", &mut v);
    }

    // Agency rows always belong to a client workspace.
    rows(sqlx::query_as("SELECT format('%I.%I', n.nspname, c.relname), 'agency table without a NOT NULL workspace_id column'
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r','p') AND n.nspname = 'agency'
             AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND a.attnotnull AND NOT a.attisdropped)")
        .fetch_all(&mut *conn).await?, "agency_row_without_workspace", &mut v);

    // Kind-specific rows carry the organization's kind, pinned by a CHECK and tied to
    // organizations (id, kind) by a foreign key (migration 0006): every agency table, and
    // any other tenant table that has an org_kind column.
    rows(sqlx::query_as(&format!("SELECT format('%I.%I', n.nspname, c.relname),
                'kind-specific table whose org_kind is not NOT NULL, pinned by a CHECK and tied to organizations (id, kind) by a foreign key'
            {TABLES} {SCOPED}
            AND (n.nspname = 'agency' OR EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'org_kind' AND NOT a.attisdropped))
            AND NOT (
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'org_kind' AND a.attnotnull AND NOT a.attisdropped)
                AND EXISTS (SELECT 1 FROM pg_constraint k
                             WHERE k.conrelid = c.oid AND k.contype = 'f' AND k.confrelid = 'public.organizations'::regclass
                               AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
                                     WHERE a.attrelid = c.oid AND a.attnum = ANY (k.conkey)) = ARRAY['org_id', 'org_kind']
                               AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a
                                     WHERE a.attrelid = k.confrelid AND a.attnum = ANY (k.confkey)) = ARRAY['id', 'kind'])
                AND EXISTS (SELECT 1 FROM pg_constraint k
                             WHERE k.conrelid = c.oid AND k.contype = 'c'
                               AND k.conkey = ARRAY[(SELECT a.attnum FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'org_kind')]))"))
        .bind(&tenant).fetch_all(&mut *conn).await?, "kind_not_pinned", &mut v);

    // Views in every schema the runtime role can reach must run with the reader's rights.
    let views_checked: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v','m') AND (n.nspname = ANY($1) OR n.nspname = ANY($2))")
        .bind(&tenant).bind(&reachable).fetch_one(&mut *conn).await?;
    rows(sqlx::query_as("SELECT format('%I.%I', n.nspname, c.relname), CASE WHEN c.relkind = 'm' THEN 'materialized view: row level security cannot apply' ELSE 'view without security_invoker: it reads with its owner''s rights' END
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('v','m') AND (n.nspname = ANY($1) OR n.nspname = ANY($2))
             -- An extension's own views (Citus puts citus_tables in public) are not ours.
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
             AND (c.relkind = 'm' OR NOT coalesce(c.reloptions::text[] && ARRAY['security_invoker=on','security_invoker=true','security_invoker=1','security_invoker=yes'], false))")
        .bind(&tenant).bind(&reachable).fetch_all(&mut *conn).await?, "view_not_security_invoker", &mut v);

    // SECURITY DEFINER functions: pinned search_path, not executable by PUBLIC.
    const DEFINERS: &str = "FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prosecdef AND n.nspname = ANY($1)";
    let functions_checked: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = ANY($1)")
        .bind(&project).fetch_one(&mut *conn).await?;
    rows(sqlx::query_as(&format!("SELECT format('%I.%s', n.nspname, p.oid::regprocedure::text), 'SECURITY DEFINER function without SET search_path' {DEFINERS}
            AND NOT EXISTS (SELECT 1 FROM unnest(coalesce(p.proconfig, '{{}}')) cfg WHERE cfg LIKE 'search_path=%')"))
        .bind(&project).fetch_all(&mut *conn).await?, "definer_search_path", &mut v);
    rows(sqlx::query_as(&format!("SELECT format('%I.%s', n.nspname, p.oid::regprocedure::text), 'SECURITY DEFINER function executable by PUBLIC' {DEFINERS}
            AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE'))"))
        .bind(&project).fetch_all(&mut *conn).await?, "definer_public_execute", &mut v);

    // Every SECURITY DEFINER function the runtime role may execute, in any schema, is
    // registered in enclave.definer_registry with its path and rules (migration 0012).
    rows(sqlx::query_as("SELECT format('%I.%s', n.nspname, p.oid::regprocedure::text),
                'SECURITY DEFINER function executable by the runtime role but not registered (path and rules) in enclave.definer_registry'
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema')
             AND has_function_privilege(current_user, p.oid, 'EXECUTE')
             AND NOT EXISTS (SELECT 1 FROM enclave.definer_registry r WHERE r.function = p.oid)")
        .fetch_all(&mut *conn).await?, "definer_unregistered", &mut v);
    // regprocedure is an oid: a registration outlives its dropped function, and a later
    // function could inherit the oid, so the registry must name live functions only.
    rows(sqlx::query_as("SELECT format('registry entry %s', r.function::oid), 'enclave.definer_registry names a function that no longer exists'
            FROM enclave.definer_registry r WHERE NOT EXISTS (SELECT 1 FROM pg_proc p WHERE p.oid = r.function)")
        .fetch_all(&mut *conn).await?, "definer_registry_stale", &mut v);
    // A tripwire, not a proof: the body names the check its registered path needs.
    rows(sqlx::query_as(r"SELECT format('%I.%s', n.nspname, p.oid::regprocedure::text),
                format('registered for the %s path, but its body names none of: %s', r.path, g.checks)
            FROM enclave.definer_registry r
            JOIN pg_proc p ON p.oid = r.function JOIN pg_namespace n ON n.oid = p.pronamespace
            JOIN (VALUES ('tenant', 'require_scope|require_manager|require_agency_manager|current_org_id'),
                         ('user', 'current_user_id'),
                         ('system', 'system_path_active|require_system_path|require_admin|''system''')) g (path, checks)
              ON g.path = r.path
           WHERE p.prosrc !~ g.checks")
        .fetch_all(&mut *conn).await?, "definer_path_unchecked", &mut v);

    // The runtime role (whoever this connection is).
    let (is_super, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user")
            .fetch_one(&mut *conn)
            .await?;
    if is_super {
        v.push(Violation {
            rule: "runtime_superuser",
            object: format!("role {runtime_role}"),
            detail: "the runtime role is a superuser: row level security does not apply to it"
                .into(),
        });
    }
    if bypass {
        v.push(Violation {
            rule: "runtime_bypassrls",
            object: format!("role {runtime_role}"),
            detail: "the runtime role has BYPASSRLS".into(),
        });
    }
    rows(sqlx::query_as("SELECT format('role %I', current_user), format('member of privileged role %I (superuser, BYPASSRLS or the schema owner)', r.rolname)
            FROM pg_roles r
           WHERE r.rolname <> current_user AND pg_has_role(current_user, r.oid, 'MEMBER')
             AND (r.rolsuper OR r.rolbypassrls OR r.oid = (SELECT nspowner FROM pg_namespace WHERE nspname = 'enclave'))")
        .fetch_all(&mut *conn).await?, "runtime_privileged_membership", &mut v);
    rows(sqlx::query_as("SELECT o.object, 'owned by the runtime role' FROM (
              SELECT format('%s %I.%I', CASE c.relkind WHEN 'v' THEN 'view' WHEN 'S' THEN 'sequence' WHEN 'i' THEN 'index' ELSE 'table' END, n.nspname, c.relname) AS object
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE pg_has_role(current_user, c.relowner, 'USAGE') AND n.nspname NOT IN ('pg_catalog','information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
              UNION ALL
              SELECT format('function %s', p.oid::regprocedure::text) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE pg_has_role(current_user, p.proowner, 'USAGE') AND n.nspname NOT IN ('pg_catalog','information_schema')
              UNION ALL
              SELECT format('schema %I', n.nspname) FROM pg_namespace n WHERE pg_has_role(current_user, n.nspowner, 'USAGE') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
            ) o ORDER BY 1")
        .fetch_all(&mut *conn).await?, "runtime_owns_objects", &mut v);
    rows(sqlx::query_as(&format!("SELECT format('%I.%I', n.nspname, c.relname), 'runtime role holds direct ' || array_to_string(ARRAY(
                SELECT p FROM unnest(ARRAY['INSERT','UPDATE','DELETE','TRUNCATE']) p WHERE has_table_privilege(current_user, c.oid, p)), ', ')
            {TABLES} AND (has_table_privilege(current_user, c.oid, 'INSERT') OR has_table_privilege(current_user, c.oid, 'UPDATE')
                      OR has_table_privilege(current_user, c.oid, 'DELETE') OR has_table_privilege(current_user, c.oid, 'TRUNCATE'))"))
        .bind(&tenant).fetch_all(&mut *conn).await?, "runtime_write_grant", &mut v);

    v.sort();
    v.dedup();
    Ok(AuditReport {
        runtime_role,
        database,
        tables_checked,
        views_checked,
        functions_checked,
        violations: v,
    })
}
