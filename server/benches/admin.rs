//! Benchmark (not a test): the admin console's organizations page over many organizations
//! (issue 12: p95 under 300 ms for a filtered, sorted page), next to references measured
//! in the same run on the same database. Run with `scripts/bench-admin`.
//!
//! Set-up: ENCLAVE_BENCH_ADMIN_ORGS organizations (default 10,000; a quarter agencies), each
//! with an owner; 30 % on a paid subscription (2 % of those past due); one finished
//! reconciliation that left 30 to a person. ANALYZE after.
//! Measured: the page's whole data path as its server function runs it
//! (`admin_begin` + the page + the count + the per-organization usage of the page's 50
//! rows, one transaction) for each filter and sort in turn, ENCLAVE_BENCH_ROUNDS times
//! (default 40) each, one connection, sequential.
//! References: the same page statement run by the superuser (no RLS, no admin_begin, no
//! count, no usage), and a bare `SELECT id, name FROM organizations ORDER BY name LIMIT 50`.

mod common;
use common::{pct, setting, url_for};

use app::admin::organizations::{bind_params, drift_orgs, list_page, list_sql, OrgFilter};
use enclave_server::config::Environment;
use enclave_server::ops::migrate;
use sqlx::{Connection, PgConnection};
use std::time::Instant;
use tenancy::{AdminAction, AdminClaim, Database, PoolSettings};
use uuid::Uuid;

fn report(what: &str, mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(|a, b| a.total_cmp(b));
    let (p50, p95) = (pct(&ms, 50.0), pct(&ms, 95.0));
    println!(
        "{what:<58} p50 {p50:>7.2} ms   p95 {p95:>7.2} ms   max {:>7.2} ms   (n={})",
        ms[ms.len() - 1],
        ms.len()
    );
    (p50, p95)
}

#[tokio::main]
async fn main() {
    let admin = std::env::var("ENCLAVE_TEST_ADMIN_URL")
        .expect("set ENCLAVE_TEST_ADMIN_URL to a superuser URL (scripts/bench-admin does)");
    let orgs = setting("ENCLAVE_BENCH_ADMIN_ORGS", 10_000).max(100);
    let rounds = setting("ENCLAVE_BENCH_ROUNDS", 40).max(5);
    let name = format!("bench_admin_{}", &Uuid::new_v4().simple().to_string()[..8]);
    let owner_url = url_for(&admin, &format!("{name}_owner"), &name);
    let runtime_url = url_for(&admin, &format!("{name}_app"), &name);
    migrate::migrate(
        &runtime_url,
        &owner_url,
        Some(&admin),
        Environment::Development,
        &enclave_server::config::ContextKeys::development().all,
    )
    .await
    .expect("migrate");
    let su_url = url_for(&admin, url::Url::parse(&admin).unwrap().username(), &name);
    let mut su = PgConnection::connect(&su_url).await.expect("superuser");

    let started = Instant::now();
    for sql in [
        format!(
            "INSERT INTO public.users (email, display_name)
             SELECT 'owner' || i || '@bench.example', 'Owner ' || i FROM generate_series(1, {orgs}) i"
        ),
        format!(
            "INSERT INTO public.organizations (kind, name, slug)
             SELECT CASE WHEN i % 4 = 0 THEN 'agency' ELSE 'sme' END,
                    (ARRAY['Acme', 'Blue', 'Cedar', 'Delta', 'Ember', 'Fjord', 'Grove', 'Harbor'])[1 + i % 8]
                      || ' ' || (ARRAY['Coffee', 'Studio', 'Labs', 'Goods', 'Media'])[1 + i % 5] || ' ' || i,
                    'org-' || i
               FROM generate_series(1, {orgs}) i"
        ),
        "INSERT INTO public.memberships (org_id, user_id, role)
         SELECT o.id, u.id, 'owner' FROM public.organizations o
           JOIN public.users u ON u.email = 'owner' || substr(o.slug, 5) || '@bench.example'"
            .to_string(),
        "INSERT INTO public.org_billing (org_id, plan_id, status, stripe_customer_id, grace_ends_at, seat_quantity)
         SELECT id, CASE WHEN kind = 'sme' THEN 'sme_team' ELSE 'agency_studio' END,
                CASE WHEN n % 50 = 0 THEN 'past_due' ELSE 'active' END, 'cus_bench' || n,
                CASE WHEN n % 50 = 0 THEN now() + interval '7 days' END, 1 + n % 9
           FROM (SELECT id, kind, row_number() OVER (ORDER BY id) AS n FROM public.organizations) o
          WHERE n % 10 < 3"
            .to_string(),
        "INSERT INTO enclave.billing_reconciliations (run_id, dry_run, finished_at, outcome)
         VALUES ('00000000-0000-4000-8000-000000000001', false, now(), 1)"
            .to_string(),
        "INSERT INTO enclave.billing_findings (run_id, org_id, kind, action)
         SELECT '00000000-0000-4000-8000-000000000001', id, 'state',
                CASE WHEN n <= 30 THEN 'needs_person' ELSE 'repaired' END
           FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM public.organizations) o
          WHERE n <= 3000"
            .to_string(),
        "INSERT INTO public.users (email, display_name) VALUES ('admin@bench.example', 'Bench Admin')"
            .to_string(),
        "INSERT INTO enclave.platform_admins (user_id, granted_by)
         SELECT id, 'bench' FROM public.users WHERE email = 'admin@bench.example'"
            .to_string(),
        "ANALYZE".to_string(),
    ] {
        sqlx::query(&sql).execute(&mut su).await.expect("seed");
    }
    let admin_id: Uuid =
        sqlx::query_scalar("SELECT id FROM public.users WHERE email = 'admin@bench.example'")
            .fetch_one(&mut su)
            .await
            .unwrap();
    println!(
        "admin organizations page: {orgs} organizations seeded in {:.1} s; {rounds} rounds per case; {} build",
        started.elapsed().as_secs_f64(),
        if cfg!(debug_assertions) { "debug (figures say little: use scripts/bench-admin)" } else { "release" }
    );

    let db = Database::connect(
        &runtime_url,
        PoolSettings {
            max_connections: 1,
            ..Default::default()
        },
        enclave_server::config::ContextKeys::development().active,
    )
    .await
    .unwrap()
    .admin();
    let claim = AdminClaim {
        user_id: admin_id,
        signed_in_at: time::OffsetDateTime::now_utc(),
    };
    let filter = |search: Option<&str>,
                  kind: Option<&str>,
                  status: Option<&str>,
                  drift: bool,
                  sort: Option<&str>| OrgFilter {
        search: search.map(str::to_string),
        kind: kind.map(str::to_string),
        plan: None,
        status: status.map(str::to_string),
        drift: drift.then_some(true),
        sort: sort.map(str::to_string),
    };
    let cases: Vec<(&str, OrgFilter, u32)> = vec![
        (
            "every organization, by name, page 1",
            filter(None, None, None, false, None),
            1,
        ),
        (
            "every organization, by name, page 100",
            filter(None, None, None, false, None),
            100,
        ),
        (
            "agencies, newest first",
            filter(None, Some("agency"), None, false, Some("newest")),
            1,
        ),
        (
            "name starts with \"harbor\", by name",
            filter(Some("harbor"), None, None, false, None),
            1,
        ),
        (
            "active, by revenue",
            filter(None, None, Some("active"), false, Some("mrr")),
            1,
        ),
        (
            "past due, by grace end",
            filter(None, None, Some("past_due"), false, Some("grace")),
            1,
        ),
        (
            "free SMEs, by name",
            filter(None, Some("sme"), Some("free"), false, None),
            1,
        ),
        ("has drift", filter(None, None, None, true, None), 1),
    ];
    // The bare runs take the drift ids as the page does (list_page reads them itself).
    let drift = {
        let mut tx = db
            .begin(claim, AdminAction::read("list drifting organizations"))
            .await
            .unwrap();
        let ids = drift_orgs(&mut tx).await.unwrap();
        tx.commit().await.unwrap();
        ids
    };
    let mut all = Vec::new();
    let mut bare_page = Vec::new();
    let mut bare_select = Vec::new();
    for (what, f, page) in &cases {
        let mut times = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            let mut tx = db
                .begin(claim, AdminAction::read("list organizations"))
                .await
                .unwrap();
            let (rows, total) = list_page(&mut tx, f, *page).await.unwrap();
            tx.commit().await.unwrap();
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            assert!(total > 0 && !rows.is_empty(), "{what}: no rows");

            let sql = list_sql(f, &drift);
            let t = Instant::now();
            let _: Vec<(Uuid,)> = bind_params(
                sqlx::query_as(&format!("SELECT id FROM ({}) q", sql.page)),
                &sql.params,
            )
            .bind(i64::from(page - 1) * 50)
            .fetch_all(&mut su)
            .await
            .unwrap();
            bare_page.push(t.elapsed().as_secs_f64() * 1000.0);
            let t = Instant::now();
            let _: Vec<(Uuid, String)> =
                sqlx::query_as("SELECT id, name FROM public.organizations ORDER BY name LIMIT 50")
                    .fetch_all(&mut su)
                    .await
                    .unwrap();
            bare_select.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        report(&format!("page: {what}"), times.clone());
        all.extend(times);
    }
    println!();
    let (_, p95) = report("page, every case together (the goal: p95 < 300 ms)", all);
    report(
        "reference: the page statement alone, as superuser",
        bare_page,
    );
    report(
        "reference: bare SELECT id, name ... ORDER BY name LIMIT 50",
        bare_select,
    );
    println!(
        "goal p95 < 300 ms: {}",
        if p95 < 300.0 { "met" } else { "NOT met" }
    );
    drop(su);
    let mut admin_conn = PgConnection::connect(&admin).await.unwrap();
    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut admin_conn)
        .await;
}
