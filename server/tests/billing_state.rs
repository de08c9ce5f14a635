//! Billing state (migration 0015): written only on the audited system path from what
//! Stripe says, read by the organization's own members, the grace period started by the
//! first failed payment, and the plan in force (Free without a subscription or once
//! canceled). Limits come with the next step (docs/BILLING.md).
mod common;

use common::*;
use tenancy::TenantDb;
use uuid::Uuid;

use common::billing::apply_subscription as apply;

/// Seconds left of the grace period, read as the superuser.
async fn grace(s: &Scratch) -> Option<f64> {
    sqlx::query_scalar(
        "SELECT extract(epoch FROM grace_ends_at - now())::float8 FROM public.org_billing",
    )
    .fetch_one(&mut s.admin().await)
    .await
    .unwrap()
}

/// (plan in force, status, grace end set) as the user sees them in their organization.
async fn seen_by(db: &TenantDb, user: Uuid, org: Uuid) -> (String, Option<String>, bool) {
    let c = context(db, user, org, None).await;
    let mut tx = db.begin(&c).await.unwrap();
    let plan: String = tx
        .query_scalar("SELECT enclave.current_plan()")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    let row: Option<(String, bool)> = tx
        .query_as("SELECT status, grace_ends_at IS NOT NULL FROM public.org_billing")
        .fetch_optional(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (
        plan,
        row.as_ref().map(|r| r.0.clone()),
        row.is_some_and(|r| r.1),
    )
}

#[tokio::test]
async fn state_is_written_on_the_system_path_and_read_by_members_only() {
    let (s, db, sys) = seeded("billing").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    // The demo tenants' granted plans would hide what a subscription decides.
    sqlx::query("DELETE FROM enclave.plan_grants")
        .execute(&mut s.admin().await)
        .await
        .unwrap();

    // No subscription: Free for the kind.
    assert_eq!(
        seen_by(&db, nora, northwind).await,
        ("free_sme".into(), None, false)
    );
    assert_eq!(
        seen_by(&db, ada, brightside).await,
        ("free_agency".into(), None, false)
    );

    apply(&sys, northwind, "sme_team", "active", "cus_north")
        .await
        .unwrap();
    assert_eq!(
        seen_by(&db, nora, northwind).await,
        ("sme_team".into(), Some("active".into()), false)
    );
    // Another organization sees no row of it.
    assert_eq!(
        seen_by(&db, ada, brightside).await,
        ("free_agency".into(), None, false)
    );

    // A failed payment starts the grace period once; a repeat keeps its end; paying ends it.
    apply(&sys, northwind, "sme_team", "past_due", "cus_north")
        .await
        .unwrap();
    let first = grace(&s).await.expect("grace started");
    assert!(
        (7.0 * 86400.0 - 60.0..=7.0 * 86400.0).contains(&first),
        "{first}"
    );
    let mut admin = s.admin().await;
    sqlx::query("UPDATE public.org_billing SET grace_ends_at = now() + interval '2 days'")
        .execute(&mut admin)
        .await
        .unwrap();
    apply(&sys, northwind, "sme_team", "past_due", "cus_north")
        .await
        .unwrap();
    let kept = grace(&s).await.unwrap();
    assert!(
        kept < 2.0 * 86400.0 + 1.0,
        "a repeated past_due restarted the grace period: {kept}"
    );
    assert_eq!(
        seen_by(&db, nora, northwind).await.0,
        "sme_team",
        "past due keeps the plan"
    );
    apply(&sys, northwind, "sme_team", "active", "cus_north")
        .await
        .unwrap();
    assert_eq!(grace(&s).await, None);

    // Canceled: Free again, the row (and everything else) kept.
    apply(&sys, northwind, "sme_team", "canceled", "cus_north")
        .await
        .unwrap();
    assert_eq!(
        seen_by(&db, nora, northwind).await,
        ("free_sme".into(), Some("canceled".into()), false)
    );

    // Refused: a plan of the other kind, a customer that belongs to another organization.
    assert!(apply(&sys, brightside, "sme_team", "active", "cus_bright")
        .await
        .is_err());
    assert!(
        apply(&sys, brightside, "agency_studio", "active", "cus_north")
            .await
            .is_err()
    );

    // Every write is audited on the system path.
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM enclave.audit_log
          WHERE actor = 'billing' AND action = 'apply subscription state' AND org_id = $1",
    )
    .bind(northwind)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(audited, 5);
}

#[tokio::test]
async fn the_runtime_role_cannot_write_billing_state() {
    let (s, _db, sys) = seeded("billwrite").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let mut rt = s.runtime().await;
    let mut tx = in_context(&mut rt, northwind, None, nora).await;
    let direct = sqlx::query(
        "INSERT INTO public.org_billing (org_id, plan_id, status, stripe_customer_id) VALUES ($1, 'sme_business', 'active', 'cus_free_lunch')",
    )
    .bind(northwind)
    .execute(&mut *tx)
    .await;
    assert!(direct.is_err(), "the runtime role inserted billing state");
    drop(tx);
    let mut tx = in_context(&mut rt, northwind, None, nora).await;
    let through_function = sqlx::query(
        "SELECT enclave.apply_subscription($1, 'sme_business', 'active', 'cus_free_lunch', NULL, NULL, NULL, NULL, false, NULL)",
    )
    .bind(northwind)
    .execute(&mut *tx)
    .await
    .unwrap_err()
    .to_string();
    assert!(
        through_function.contains("only on the audited system path"),
        "{through_function}"
    );
    drop(tx);
    let mut tx = in_context(&mut rt, northwind, None, nora).await;
    let catalog = sqlx::query("UPDATE enclave.plans SET seats = 1000 WHERE plan_id = 'free_sme'")
        .execute(&mut *tx)
        .await;
    assert!(catalog.is_err(), "the runtime role changed the catalog");
}
