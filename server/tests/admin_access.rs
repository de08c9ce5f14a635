//! The admin console's door, driven from one table of every admin server function:
//! each is called as nobody, as a tenant owner, as an admin revoked a moment ago, from a
//! session idle for more than an hour, and (for changes) as an admin whose sign-in is 16
//! minutes old. All are refused. A current admin gets through, and each call leaves
//! exactly one audit row naming the admin (none when it was refused). A registered
//! `/api/admin_*` function missing from the table fails the test.

mod common;
use app::error::AppError;
use common::*;
use leptos::prelude::{provide_context, Owner};
use leptos::reactive::computed::ScopedFuture;
use leptos_axum::ResponseOptions;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use tenancy::{AdminDb, SystemDb, TenantDb, SESSION_USER_KEY};
use tower_sessions::{Expiry, Session};
use uuid::Uuid;

type Call = Pin<Box<dyn Future<Output = Result<(), AppError>>>>;

/// What the calls aim at.
#[derive(Clone, Copy)]
struct Target {
    org: Uuid,
    /// A failed system task in `session_sweep.dead` (Retry's target).
    dead_task: Uuid,
}

struct Entry {
    endpoint: &'static str,
    change: bool,
    call: fn(Target) -> Call,
}

fn ok<T>(r: Result<T, AppError>) -> Result<(), AppError> {
    r.map(|_| ())
}

/// Every admin server function, with arguments that make sense.
fn table() -> Vec<Entry> {
    use app::admin::*;
    vec![
        Entry {
            endpoint: "admin_overview",
            change: false,
            call: |_| Box::pin(async { ok(overview::admin_overview().await) }),
        },
        Entry {
            endpoint: "admin_organizations",
            change: false,
            call: |_| {
                Box::pin(async {
                    ok(organizations::admin_organizations(
                        Some("north".into()),
                        Some("sme".into()),
                        None,
                        None,
                        None,
                        Some("mrr".into()),
                        Some(1),
                    )
                    .await)
                })
            },
        },
        Entry {
            endpoint: "admin_organization",
            change: false,
            call: |t| Box::pin(async move { ok(organizations::admin_organization(t.org).await) }),
        },
        Entry {
            endpoint: "admin_resync",
            change: true,
            call: |t| Box::pin(async move { ok(organizations::admin_resync(t.org).await) }),
        },
        Entry {
            endpoint: "admin_extend_grace",
            change: true,
            call: |t| {
                Box::pin(async move {
                    let until = (time::OffsetDateTime::now_utc() + time::Duration::days(20)).date();
                    ok(organizations::admin_extend_grace(
                        t.org,
                        format!("{until}"),
                        "customer asked for time".into(),
                    )
                    .await)
                })
            },
        },
        Entry {
            endpoint: "admin_set_override",
            change: true,
            call: |t| {
                Box::pin(async move {
                    ok(organizations::admin_set_override(
                        t.org,
                        "seats".into(),
                        "40".into(),
                        "pilot with a larger team".into(),
                        String::new(),
                    )
                    .await)
                })
            },
        },
        Entry {
            endpoint: "admin_end_override",
            change: true,
            call: |t| {
                Box::pin(async move {
                    // Ends the override the entry above set.
                    ok(organizations::admin_end_override(t.org, "seats".into()).await)
                })
            },
        },
        Entry {
            endpoint: "admin_deliveries",
            change: false,
            call: |_| {
                Box::pin(async {
                    ok(deliveries::admin_deliveries(None, Some("dead".into()), None, None).await)
                })
            },
        },
        Entry {
            endpoint: "admin_replay",
            change: true,
            call: |_| {
                Box::pin(async { ok(deliveries::admin_replay("evt_admin_test".into()).await) })
            },
        },
        Entry {
            endpoint: "admin_reconciliation",
            change: false,
            call: |_| Box::pin(async { ok(reconciliation::admin_reconciliation(None).await) }),
        },
        Entry {
            endpoint: "admin_run_reconciliation",
            change: true,
            call: |_| Box::pin(async { ok(reconciliation::admin_run_reconciliation().await) }),
        },
        Entry {
            endpoint: "admin_jobs",
            change: false,
            call: |_| Box::pin(async { ok(jobs::admin_jobs().await) }),
        },
        Entry {
            endpoint: "admin_retry_job",
            change: true,
            call: |t| {
                Box::pin(async move {
                    ok(
                        jobs::admin_retry_job("session_sweep.dead".into(), t.dead_task.to_string())
                            .await,
                    )
                })
            },
        },
        Entry {
            endpoint: "admin_audit",
            change: false,
            call: |_| {
                Box::pin(async {
                    ok(audit::admin_audit(Some("admin:".into()), None, None, None).await)
                })
            },
        },
    ]
}

struct World {
    db: TenantDb,
    admin_db: AdminDb,
    sys: SystemDb,
    store: tenancy::IndexedSessionStore,
    target: Target,
}

fn expiry() -> Option<Expiry> {
    Some(Expiry::OnInactivity(
        tower_sessions::cookie::time::Duration::seconds(app::session::IDLE_LIFETIME_SECS),
    ))
}

impl World {
    async fn new(s: &Scratch) -> Self {
        let database =
            tenancy::Database::connect(&s.runtime_url, Default::default(), common::context_key())
                .await
                .unwrap();
        let store = database.session_store();
        let admin_db = database.admin();
        let jobs = database.jobs();
        let (db, sys) = database.split();
        enclave_server::ops::seed::seed_demo(&sys, enclave_server::ops::seed::Content::Bare)
            .await
            .unwrap();
        let (_, org) = demo_ids(&sys, "nora@northwind.example").await;
        // A past-due subscription, so Extend grace has something to extend.
        common::billing::apply_subscription(
            &sys,
            org,
            "sme_business",
            "past_due",
            "cus_admintest1",
        )
        .await
        .unwrap();
        // A session sweep that failed every attempt, as underway leaves it.
        let sweep = jobs
            .system_queue(enclave_server::jobs::SessionSweep)
            .await
            .unwrap();
        let dead_task = sweep.enqueue(serde_json::json!({})).await.unwrap();
        sqlx::query(
            "UPDATE underway.task SET task_queue_name = 'session_sweep.dead', state = 'failed'
              WHERE id = $1",
        )
        .bind(dead_task)
        .execute(&mut s.admin().await)
        .await
        .unwrap();
        Self {
            db,
            admin_db,
            sys,
            store,
            target: Target { org, dead_task },
        }
    }

    /// A session of `user` (None: nobody signed in), signed in `signed_in_ago` seconds ago
    /// and last seen `seen_ago` seconds ago.
    async fn session(&self, user: Option<Uuid>, signed_in_ago: i64, seen_ago: i64) -> Session {
        let session = Session::new(None, Arc::new(self.store.clone()), expiry());
        if let Some(user) = user {
            let now = app::session::now_unix();
            session
                .insert(
                    SESSION_USER_KEY,
                    app::session::SessionUser {
                        user_id: user,
                        signed_in_at: now - signed_in_ago,
                        seen_at: now - seen_ago,
                        admin: false,
                    },
                )
                .await
                .unwrap();
        }
        session
    }

    async fn call(&self, session: &Session, entry: &Entry) -> Result<(), AppError> {
        let target = self.target;
        self.run(session, || (entry.call)(target)).await
    }

    /// Runs a server function as the request of `session` would.
    async fn run<T, Fut>(
        &self,
        session: &Session,
        call: impl FnOnce() -> Fut,
    ) -> Result<T, AppError>
    where
        Fut: Future<Output = Result<T, AppError>>,
    {
        let owner = Owner::new();
        let mut request = axum::http::Request::new(());
        request.extensions_mut().insert(session.clone());
        let (parts, ()) = request.into_parts();
        owner.with(|| {
            provide_context(self.db.clone());
            provide_context(self.admin_db.clone());
            provide_context(parts);
            provide_context(ResponseOptions::default());
        });
        let fut = owner.with(|| ScopedFuture::new(call()));
        fut.await
    }

    /// Audit rows naming `user` as the admin (read as the superuser: nobody else reads
    /// the log outside the console).
    async fn admin_rows(&self, s: &Scratch, user: Uuid) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM enclave.audit_log WHERE actor = $1")
            .bind(format!("admin:{user}"))
            .fetch_one(&mut s.admin().await)
            .await
            .unwrap()
    }

    async fn operator(&self, command: &str, email: &str) {
        let mut tx = self
            .sys
            .begin("test", "operator", serde_json::json!({}))
            .await
            .unwrap();
        sqlx::query(&format!("SELECT enclave.admin_{command}($1, 'test')"))
            .bind(email)
            .execute(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn every_admin_function_refuses_everyone_but_a_current_admin() {
    let s = scratch("admin_access").await;
    let w = World::new(&s).await;
    let admin = user(&w.db, "https://idp.test", "ada", "ada@platform.example").await;
    let revoked = user(&w.db, "https://idp.test", "rex", "rex@platform.example").await;
    let (owner, _) = demo_ids(&w.sys, "nora@northwind.example").await;
    w.operator("grant", "ada@platform.example").await;
    w.operator("grant", "rex@platform.example").await;

    // The revoked admin gets in first (nothing cached on their side), then is revoked.
    let rex = w.session(Some(revoked.user_id()), 60, 0).await;
    w.call(&rex, &table()[0])
        .await
        .expect("an admin opens the overview");
    w.operator("revoke", "rex@platform.example").await;

    let nobody = w.session(None, 0, 0).await;
    let tenant_owner = w.session(Some(owner), 60, 0).await;
    let stale = w.session(Some(admin.user_id()), 16 * 60, 0).await;
    let idle = w.session(Some(admin.user_id()), 2 * 3600, 3601).await;
    let fresh = w.session(Some(admin.user_id()), 60, 0).await;

    for entry in table() {
        let e = entry.endpoint;
        assert_eq!(
            w.call(&nobody, &entry).await,
            Err(AppError::NotSignedIn),
            "{e}: nobody"
        );
        assert!(
            matches!(
                w.call(&tenant_owner, &entry).await,
                Err(AppError::NoAccess(_))
            ),
            "{e}: a tenant owner"
        );
        assert!(
            matches!(w.call(&rex, &entry).await, Err(AppError::NoAccess(_))),
            "{e}: an admin revoked a moment ago"
        );
        assert!(
            matches!(w.call(&idle, &entry).await, Err(AppError::SignInAgain(_))),
            "{e}: a session idle for more than an hour"
        );
        let before = w.admin_rows(&s, admin.user_id()).await;
        let stale_result = w.call(&stale, &entry).await;
        if entry.change {
            assert!(
                matches!(stale_result, Err(AppError::SignInAgain(_))),
                "{e}: a change with a sign-in 16 minutes old: {stale_result:?}"
            );
        } else {
            assert_eq!(stale_result, Ok(()), "{e}: a read needs no recent sign-in");
        }
        let fresh_result = w.call(&fresh, &entry).await;
        let after = w.admin_rows(&s, admin.user_id()).await;
        let expected = i64::from(stale_result.is_ok()) + i64::from(fresh_result.is_ok());
        assert_eq!(
            after - before,
            expected,
            "{e}: one audit row naming the admin per call that got through ({stale_result:?}, {fresh_result:?})"
        );
        match e {
            // Without billing configured there is no Stripe and no queue: refused after the
            // door, in words, and rolled back (no audit row, counted above).
            "admin_resync" | "admin_run_reconciliation" | "admin_replay" => assert!(
                matches!(fresh_result, Err(AppError::NotAvailable(_))),
                "{e}: {fresh_result:?}"
            ),
            _ => assert_eq!(fresh_result, Ok(()), "{e}: a current admin"),
        }
    }

    // The grace period moved (the change went through once, for the fresh admin).
    let mut tx = w
        .sys
        .begin("test", "read grace", serde_json::json!({}))
        .await
        .unwrap();
    let grace: time::OffsetDateTime =
        sqlx::query_scalar("SELECT grace_ends_at FROM public.org_billing WHERE org_id = $1")
            .bind(w.target.org)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    tx.commit().await.unwrap();
    assert!(grace > time::OffsetDateTime::now_utc() + time::Duration::days(19));
    // The dead sweep was queued again once, and closed.
    let states: Vec<(String, String)> = sqlx::query_as(
        "SELECT task_queue_name, state::text FROM underway.task
          WHERE task_queue_name LIKE 'session_sweep%' ORDER BY created_at, id",
    )
    .fetch_all(&mut s.admin().await)
    .await
    .unwrap();
    assert_eq!(
        states,
        vec![
            ("session_sweep.dead".to_string(), "cancelled".to_string()),
            ("session_sweep".to_string(), "pending".to_string())
        ]
    );

    // Every registered admin function is in the table, and the table in the console's list.
    let listed: std::collections::BTreeSet<&str> = table().iter().map(|e| e.endpoint).collect();
    let declared: std::collections::BTreeSet<&str> =
        app::admin::ENDPOINTS.iter().copied().collect();
    assert_eq!(
        listed, declared,
        "the table and app::admin::ENDPOINTS differ"
    );
    let registered: std::collections::BTreeSet<String> = leptos::server_fn::axum::server_fn_paths()
        .filter_map(|(path, _)| path.strip_prefix("/api/").map(str::to_string))
        .filter(|p| p.starts_with("admin"))
        .collect();
    assert!(
        !registered.is_empty(),
        "no admin server function is registered"
    );
    for path in &registered {
        assert!(
            listed.contains(path.as_str()),
            "server function /api/{path} is not in the admin access table"
        );
    }
    assert_eq!(registered.len(), listed.len(), "{registered:?}");
}

#[tokio::test]
async fn an_admin_session_idles_out_after_an_hour_everywhere() {
    let s = scratch("admin_idle").await;
    let w = World::new(&s).await;
    let admin = user(&w.db, "https://idp.test", "ida", "ida@platform.example").await;
    w.operator("grant", "ida@platform.example").await;
    let session = w.session(Some(admin.user_id()), 60, 0).await;
    w.call(&session, &table()[0])
        .await
        .expect("the admin opens the console");
    // The session is now marked as an admin's: an hour and a minute later it is over for
    // tenant pages too (a tenant session would last eight hours).
    let mut marked: app::session::SessionUser =
        session.get(SESSION_USER_KEY).await.unwrap().unwrap();
    assert!(marked.admin, "using the console marks the session");
    marked.seen_at -= 3660;
    marked.signed_in_at -= 3660;
    session.insert(SESSION_USER_KEY, marked).await.unwrap();
    assert!(app::session::signed_in(&session).await.unwrap().is_none());

    // Granting needs a verified address of someone who signed in.
    let mut tx = w
        .sys
        .begin("test", "operator", serde_json::json!({}))
        .await
        .unwrap();
    let unknown = sqlx::query("SELECT enclave.admin_grant('nobody@nowhere.example', 'test')")
        .execute(tx.conn())
        .await;
    assert!(unknown.is_err(), "an unknown address is refused");
}

/// What `enclave.current_limits()` says for the organization, in its own context.
async fn limits_of(db: &TenantDb, owner: Uuid, org: Uuid) -> (Option<i32>, Option<i32>, bool) {
    let ctx = db
        .resolve(tenancy::SessionClaim {
            user_id: owner,
            org_id: org,
            workspace_id: None,
        })
        .await
        .unwrap();
    let mut tx = db.begin(&ctx).await.unwrap();
    let limits: (Option<i32>, Option<i32>, bool) = sqlx::query_as(
        "SELECT seats, outputs_per_period, 'external_generator' = ANY (features) FROM enclave.current_limits()",
    )
    .fetch_one(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    limits
}

#[tokio::test]
async fn an_override_changes_the_tenants_limits_until_it_ends_or_expires() {
    let s = scratch("admin_override").await;
    let w = World::new(&s).await;
    let admin = user(&w.db, "https://idp.test", "ova", "ova@platform.example").await;
    w.operator("grant", "ova@platform.example").await;
    let session = w.session(Some(admin.user_id()), 60, 0).await;
    let owner = user(&w.db, "https://idp.test", "fay", "fay@free.example").await;
    let org = onboard(&w.db, &owner, "sme", "Free Fika").await;
    // Free: 3 seats, 50 outputs, no external generator.
    assert_eq!(
        limits_of(&w.db, owner.user_id(), org).await,
        (Some(3), Some(50), false)
    );

    use app::admin::organizations::{admin_end_override, admin_set_override};
    let set = |feature: &str, value: &str, reason: &str, expires: &str| {
        let args = (
            feature.to_string(),
            value.to_string(),
            reason.to_string(),
            expires.to_string(),
        );
        w.run(&session, move || {
            admin_set_override(org, args.0, args.1, args.2, args.3)
        })
    };
    set("seats", "", "big pilot", "").await.unwrap();
    set("outputs_per_period", "0", "abuse review", "")
        .await
        .unwrap();
    set("external_generator", "1", "trial of the writer", "")
        .await
        .unwrap();
    assert_eq!(
        limits_of(&w.db, owner.user_id(), org).await,
        (None, Some(0), true)
    );

    // The quota of 0 refuses generation at once, with the way to lift it.
    let ctx =
        w.db.resolve(tenancy::SessionClaim {
            user_id: owner.user_id(),
            org_id: org,
            workspace_id: None,
        })
        .await
        .unwrap();
    let mut tx = w.db.begin(&ctx).await.unwrap();
    let refused = sqlx::query("SELECT enclave.check_generation(1, 'external_generator')")
        .execute(tx.conn())
        .await
        .map_err(tenancy::TenantError::from);
    assert!(
        matches!(refused, Err(tenancy::TenantError::OverLimit(_))),
        "{refused:?}"
    );
    drop(tx);

    // Ending one restores the plan's own limit; an expired one no longer applies.
    w.run(&session, || {
        admin_end_override(org, "outputs_per_period".into())
    })
    .await
    .unwrap();
    sqlx::query("UPDATE enclave.entitlement_overrides SET expires_at = now() - interval '1 minute' WHERE org_id = $1 AND feature = 'seats'")
        .bind(org)
        .execute(&mut s.admin().await)
        .await
        .unwrap();
    assert_eq!(
        limits_of(&w.db, owner.user_id(), org).await,
        (Some(3), Some(50), true)
    );

    // An override in the past, or on a feature the organization's kind lacks, is refused.
    assert!(matches!(
        set("seats", "9", "x", "2001-01-01").await,
        Err(AppError::Invalid(_))
    ));
    assert!(matches!(
        set("client_workspaces", "9", "x", "").await,
        Err(AppError::Invalid(_))
    ));
}

/// The organizations page's statements over 10,000 organizations follow the indexes
/// built for them (migration 0021): a page stops after its rows instead of sorting all.
#[tokio::test]
async fn the_organizations_page_uses_its_indexes() {
    // A single-node question: on Citus every table of the list is a reference table read
    // on the coordinator (the same plan), and Citus explains a task over a connection to
    // itself, which the runtime role may not open there (it would pick a distributed
    // transaction id). The list itself runs on Citus in the test above.
    if std::env::var("ENCLAVE_TEST_CITUS_WORKERS").is_ok() {
        eprintln!("the_organizations_page_uses_its_indexes: EXPLAIN is checked on one node only");
        return;
    }
    let s = scratch("admin_plans").await;
    let w = World::new(&s).await;
    let admin = user(&w.db, "https://idp.test", "pia", "pia@platform.example").await;
    w.operator("grant", "pia@platform.example").await;
    let mut su = s.admin().await;
    for sql in [
        "INSERT INTO public.organizations (kind, name, slug)
         SELECT CASE WHEN i % 4 = 0 THEN 'agency' ELSE 'sme' END, 'Org ' || lpad(i::text, 5, '0'), 'org-' || i
           FROM generate_series(1, 10000) i",
        "INSERT INTO public.org_billing (org_id, plan_id, status, stripe_customer_id, grace_ends_at, seat_quantity)
         SELECT id, 'sme_team', CASE WHEN n % 50 = 0 THEN 'past_due' ELSE 'active' END, 'cus_plan' || n,
                CASE WHEN n % 50 = 0 THEN now() + interval '7 days' END, 3
           FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM public.organizations
                  WHERE kind = 'sme' AND slug LIKE 'org-%' LIMIT 3000) o",
        // A finished reconciliation that left 30 organizations to a person, among 5,000
        // findings it repaired.
        "INSERT INTO enclave.billing_reconciliations (run_id, dry_run, finished_at, outcome)
         VALUES ('00000000-0000-4000-8000-000000000001', false, now(), 1)",
        "INSERT INTO enclave.billing_findings (run_id, org_id, kind, action)
         SELECT '00000000-0000-4000-8000-000000000001', id,
                'state', CASE WHEN n <= 30 THEN 'needs_person' ELSE 'repaired' END
           FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM public.organizations
                  WHERE slug LIKE 'org-%' LIMIT 5000) o",
        "ANALYZE",
    ] {
        sqlx::query(sql).execute(&mut su).await.unwrap();
    }
    use app::admin::organizations::{bind_params, drift_orgs_sql, list_sql, OrgFilter};
    let cases: Vec<(&str, OrgFilter, &str)> = vec![
        (
            "by name",
            OrgFilter::default(),
            "organizations_name_search_idx",
        ),
        (
            "name prefix",
            OrgFilter {
                search: Some("org 012".into()),
                ..Default::default()
            },
            "organizations_name_search_idx",
        ),
        (
            "newest first",
            OrgFilter {
                sort: Some("newest".into()),
                ..Default::default()
            },
            "organizations_created_idx",
        ),
        (
            "past due",
            OrgFilter {
                status: Some("past_due".into()),
                ..Default::default()
            },
            "org_billing_status_plan_idx",
        ),
        (
            "by id",
            OrgFilter {
                search: Some(w.target.org.to_string()),
                ..Default::default()
            },
            // the primary key or the (id, kind) key: either way by id
            "Index Cond: (id = ",
        ),
        (
            "has drift",
            OrgFilter {
                drift: Some(true),
                ..Default::default()
            },
            "Index Cond: (id = ANY (",
        ),
    ];
    let claim = tenancy::AdminClaim {
        user_id: admin.user_id(),
        signed_in_at: time::OffsetDateTime::now_utc(),
    };
    // Each page's statement, and the drift list's ids (the open findings through their
    // partial index), explained on an admin transaction.
    let mut plans: Vec<(
        String,
        String,
        Vec<app::admin::organizations::Param>,
        bool,
        &str,
    )> = cases
        .into_iter()
        .map(|(what, filter, index)| {
            let sql = list_sql(&filter, &[w.target.org]);
            (what.to_string(), sql.page, sql.params, true, index)
        })
        .collect();
    plans.push((
        "drift ids".into(),
        drift_orgs_sql()[0].clone(),
        Vec::new(),
        false,
        "billing_findings_needs_person_idx",
    ));
    for (what, sql, params, paged, index) in &plans {
        let mut tx = w
            .admin_db
            .begin(claim, tenancy::AdminAction::read("explain"))
            .await
            .unwrap();
        let explain = format!("EXPLAIN {sql}");
        let mut query = bind_params(sqlx::query_as::<_, (String,)>(&explain), params);
        if *paged {
            query = query.bind(0i64);
        }
        let plan = query
            .fetch_all(tenancy::Statements::conn(&mut tx))
            .await
            .unwrap()
            .into_iter()
            .map(|(l,)| l)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            plan.contains(index),
            "{what}: the statement does not use {index}:\n{plan}"
        );
        if what == "by name" || what == "newest first" {
            assert!(
                !plan.contains("Sort Key: ((o.name_key")
                    && !plan.contains("Sort Key: o.created_at"),
                "{what}: the page sorts every organization:\n{plan}"
            );
        }
    }
}
