//! `enclave audit`: one test per rule. Each creates the violation in a scratch
//! database and asserts the audit names the object and the rule; a fresh database is
//! clean.

mod common;
use common::*;
use enclave_server::ops::audit;
use sqlx::Executor;

async fn violations(s: &Scratch) -> Vec<(String, String)> {
    let mut rt = s.runtime().await;
    let report = audit::run(&mut rt).await.unwrap();
    report
        .violations
        .into_iter()
        .map(|v| (v.rule.to_string(), v.object))
        .collect()
}

async fn assert_names(s: &Scratch, rule: &str, object: &str) {
    let v = violations(s).await;
    assert!(
        v.iter().any(|(r, o)| r == rule && o.contains(object)),
        "audit did not report {rule} on {object}: {v:?}"
    );
}

const TENANT_TABLE: &str = "(org_id uuid NOT NULL, id int NOT NULL, PRIMARY KEY (org_id, id))";

#[tokio::test]
async fn fresh_database_is_clean() {
    let s = scratch("auditclean").await;
    assert_eq!(violations(&s).await, vec![]);
}

#[tokio::test]
async fn rls_disabled() {
    let s = scratch("rlsoff").await;
    s.owner()
        .await
        .execute(&*format!("CREATE TABLE public.no_rls {TENANT_TABLE}"))
        .await
        .unwrap();
    assert_names(&s, "rls_disabled", "public.no_rls").await;
}

#[tokio::test]
async fn rls_not_forced() {
    let s = scratch("noforce").await;
    s.owner()
        .await
        .execute(&*format!(
            "CREATE TABLE public.not_forced {TENANT_TABLE};
        ALTER TABLE public.not_forced ENABLE ROW LEVEL SECURITY;
        CREATE POLICY p ON public.not_forced USING (org_id = enclave.current_org_id());"
        ))
        .await
        .unwrap();
    assert_names(&s, "rls_not_forced", "public.not_forced").await;
}

#[tokio::test]
async fn no_policy() {
    let s = scratch("nopolicy").await;
    s.owner().await.execute(&*format!("CREATE TABLE agency.no_policy (org_id uuid NOT NULL, workspace_id uuid NOT NULL, PRIMARY KEY (org_id, workspace_id));
        ALTER TABLE agency.no_policy ENABLE ROW LEVEL SECURITY; ALTER TABLE agency.no_policy FORCE ROW LEVEL SECURITY;")).await.unwrap();
    assert_names(&s, "no_policy", "agency.no_policy").await;
}

#[tokio::test]
async fn restrictive_policy() {
    let s = scratch("restrictive").await;
    s.owner()
        .await
        .execute(
            "CREATE POLICY only_on_weekdays ON public.personas AS RESTRICTIVE FOR INSERT
                 WITH CHECK (extract(isodow FROM now()) < 6)",
        )
        .await
        .unwrap();
    let v = violations(&s).await;
    assert!(
        v.iter()
            .any(|(r, o)| r == "restrictive_policy" && o == "public.personas"),
        "audit did not report the restrictive policy: {v:?}"
    );
}

#[tokio::test]
async fn view_without_security_invoker() {
    let s = scratch("view").await;
    s.owner()
        .await
        .execute("CREATE VIEW public.owner_rights AS SELECT org_id FROM public.memberships")
        .await
        .unwrap();
    assert_names(&s, "view_not_security_invoker", "public.owner_rights").await;
}

#[tokio::test]
async fn definer_without_search_path() {
    let s = scratch("defpath").await;
    s.owner().await.execute("CREATE FUNCTION enclave.loose() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1';
        REVOKE ALL ON FUNCTION enclave.loose() FROM PUBLIC;").await.unwrap();
    assert_names(&s, "definer_search_path", "enclave.loose()").await;
}

#[tokio::test]
async fn definer_executable_by_public() {
    let s = scratch("defpub").await;
    s.owner().await.execute("CREATE FUNCTION enclave.open_door() RETURNS int LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog AS 'SELECT 1';
        GRANT EXECUTE ON FUNCTION enclave.open_door() TO PUBLIC;").await.unwrap();
    assert_names(&s, "definer_public_execute", "enclave.open_door()").await;
}

#[tokio::test]
async fn runtime_superuser() {
    let s = scratch("rtsuper").await;
    s.admin()
        .await
        .execute(&*format!("ALTER ROLE \"{}\" SUPERUSER", s.runtime_role()))
        .await
        .unwrap();
    assert_names(&s, "runtime_superuser", &s.runtime_role()).await;
}

#[tokio::test]
async fn runtime_bypassrls() {
    let s = scratch("rtbypass").await;
    s.admin()
        .await
        .execute(&*format!("ALTER ROLE \"{}\" BYPASSRLS", s.runtime_role()))
        .await
        .unwrap();
    assert_names(&s, "runtime_bypassrls", &s.runtime_role()).await;
}

#[tokio::test]
async fn runtime_member_of_owner() {
    let s = scratch("rtmember").await;
    s.admin()
        .await
        .execute(&*format!(
            "GRANT \"{}\" TO \"{}\"",
            s.owner_role(),
            s.runtime_role()
        ))
        .await
        .unwrap();
    assert_names(&s, "runtime_privileged_membership", &s.runtime_role()).await;
}

#[tokio::test]
async fn runtime_owns_an_object() {
    let s = scratch("rtowns").await;
    s.admin()
        .await
        .execute(&*format!(
            "CREATE TABLE enclave.stray (id int); ALTER TABLE enclave.stray OWNER TO \"{}\"",
            s.runtime_role()
        ))
        .await
        .unwrap();
    assert_names(&s, "runtime_owns_objects", "enclave.stray").await;
}

#[tokio::test]
async fn runtime_direct_write_grant() {
    let s = scratch("rtwrite").await;
    s.owner()
        .await
        .execute("GRANT INSERT, DELETE ON public.brand_guidelines TO enclave_runtime")
        .await
        .unwrap();
    assert_names(&s, "runtime_write_grant", "public.brand_guidelines").await;
}

#[tokio::test]
async fn org_id_not_leading_primary_key_or_unique() {
    let s = scratch("orgid").await;
    s.owner().await.execute("CREATE TABLE public.badkey (id int NOT NULL, org_id uuid NOT NULL, code text, PRIMARY KEY (id, org_id));
        CREATE TABLE public.badunique (org_id uuid NOT NULL, id int NOT NULL, code text, PRIMARY KEY (org_id, id), UNIQUE (code));
        ALTER TABLE public.badkey ENABLE ROW LEVEL SECURITY; ALTER TABLE public.badkey FORCE ROW LEVEL SECURITY;
        ALTER TABLE public.badunique ENABLE ROW LEVEL SECURITY; ALTER TABLE public.badunique FORCE ROW LEVEL SECURITY;
        CREATE POLICY p ON public.badkey USING (org_id = enclave.current_org_id());
        CREATE POLICY p ON public.badunique USING (org_id = enclave.current_org_id());").await.unwrap();
    assert_names(&s, "org_id_not_leading", "public.badkey").await;
    assert_names(&s, "org_id_not_leading", "public.badunique").await;
    let v = violations(&s).await;
    assert_eq!(v.len(), 2, "only the key rule should fire: {v:?}");
}

#[tokio::test]
async fn agency_row_without_workspace() {
    let s = scratch("agencyws").await;
    s.owner().await.execute("CREATE TABLE agency.loose (org_id uuid NOT NULL, id int NOT NULL, PRIMARY KEY (org_id, id));
        ALTER TABLE agency.loose ENABLE ROW LEVEL SECURITY; ALTER TABLE agency.loose FORCE ROW LEVEL SECURITY;
        CREATE POLICY p ON agency.loose USING (org_id = enclave.current_org_id());").await.unwrap();
    assert_names(&s, "agency_row_without_workspace", "agency.loose").await;
}

#[tokio::test]
async fn kind_not_pinned() {
    let s = scratch("kindpin").await;
    s.owner().await.execute("
        CREATE TABLE agency.unpinned (org_id uuid NOT NULL, workspace_id uuid NOT NULL, id int NOT NULL,
            PRIMARY KEY (org_id, workspace_id, id));
        ALTER TABLE agency.unpinned ENABLE ROW LEVEL SECURITY; ALTER TABLE agency.unpinned FORCE ROW LEVEL SECURITY;
        CREATE POLICY p ON agency.unpinned USING (org_id = enclave.current_org_id());
        -- org_kind present and tied by a foreign key, but any kind may be stored
        CREATE TABLE public.unchecked (org_id uuid NOT NULL, org_kind text NOT NULL, id int NOT NULL,
            PRIMARY KEY (org_id, id), FOREIGN KEY (org_id, org_kind) REFERENCES public.organizations (id, kind));
        ALTER TABLE public.unchecked ENABLE ROW LEVEL SECURITY; ALTER TABLE public.unchecked FORCE ROW LEVEL SECURITY;
        CREATE POLICY p ON public.unchecked USING (org_id = enclave.current_org_id() AND org_kind = 'sme');").await.unwrap();
    assert_names(&s, "kind_not_pinned", "agency.unpinned").await;
    assert_names(&s, "kind_not_pinned", "public.unchecked").await;
}

#[tokio::test]
async fn reachable_schema_table_without_rls() {
    let s = scratch("reachable").await;
    // underway is reachable (the worker runs as the runtime role), and so is any schema
    // granted tomorrow: a table there needs row level security or a declaration.
    s.owner().await.execute("
        CREATE TABLE underway.loose (id int PRIMARY KEY);
        CREATE SCHEMA extra; GRANT USAGE ON SCHEMA extra TO enclave_runtime;
        CREATE TABLE extra.stray (id int PRIMARY KEY);
        CREATE TABLE extra.declared (id int PRIMARY KEY);
        COMMENT ON TABLE extra.declared IS 'enclave:global lookup values, the same for every tenant';
        CREATE TABLE extra.bare (id int PRIMARY KEY);
        COMMENT ON TABLE extra.bare IS 'enclave:global';
        -- not reachable: no USAGE for the runtime role
        CREATE SCHEMA hidden; CREATE TABLE hidden.t (id int PRIMARY KEY);").await.unwrap();
    assert_names(&s, "rls_disabled", "underway.loose").await;
    assert_names(&s, "no_policy", "underway.loose").await;
    assert_names(&s, "rls_disabled", "extra.stray").await;
    assert_names(&s, "global_without_reason", "extra.bare").await;
    let v = violations(&s).await;
    assert!(
        !v.iter()
            .any(|(_, o)| o.contains("extra.declared") || o.contains("hidden.")),
        "a declared or unreachable table was reported: {v:?}"
    );
}

#[tokio::test]
async fn definer_unregistered() {
    let s = scratch("defreg").await;
    s.owner()
        .await
        .execute(
            "
        CREATE FUNCTION enclave.unlisted_door(p uuid) RETURNS void LANGUAGE sql SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp AS 'SELECT';
        REVOKE ALL ON FUNCTION enclave.unlisted_door(uuid) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION enclave.unlisted_door(uuid) TO enclave_runtime;
        -- a definer the runtime role cannot execute is an internal helper: not reported
        CREATE FUNCTION enclave.internal_helper() RETURNS void LANGUAGE sql SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp AS 'SELECT';
        REVOKE ALL ON FUNCTION enclave.internal_helper() FROM PUBLIC;",
        )
        .await
        .unwrap();
    assert_names(&s, "definer_unregistered", "enclave.unlisted_door(uuid)").await;
    let mut rt = s.runtime().await;
    let report = audit::run(&mut rt).await.unwrap();
    assert!(
        !report.is_clean(),
        "an unregistered definer must fail the audit"
    );
    assert!(
        !report
            .violations
            .iter()
            .any(|v| v.object.contains("internal_helper")),
        "{:?}",
        report.violations
    );
}

#[tokio::test]
async fn definer_registry_stale() {
    let s = scratch("defstale").await;
    s.owner().await.execute("
        CREATE FUNCTION enclave.short_lived() RETURNS void LANGUAGE sql SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp AS 'SELECT';
        INSERT INTO enclave.definer_registry VALUES ('enclave.short_lived()', 'context', 'reads nothing');
        DROP FUNCTION enclave.short_lived();").await.unwrap();
    assert_names(&s, "definer_registry_stale", "registry entry").await;
}

#[tokio::test]
async fn definer_path_unchecked() {
    let s = scratch("defpath2").await;
    s.owner().await.execute("
        CREATE FUNCTION enclave.trusting(p uuid) RETURNS void LANGUAGE plpgsql SECURITY DEFINER
            SET search_path = pg_catalog, pg_temp AS 'BEGIN DELETE FROM public.memberships WHERE user_id = p; END';
        REVOKE ALL ON FUNCTION enclave.trusting(uuid) FROM PUBLIC;
        GRANT EXECUTE ON FUNCTION enclave.trusting(uuid) TO enclave_runtime;
        INSERT INTO enclave.definer_registry VALUES ('enclave.trusting(uuid)', 'system', 'cross-tenant clean-up');").await.unwrap();
    assert_names(&s, "definer_path_unchecked", "enclave.trusting(uuid)").await;
}
