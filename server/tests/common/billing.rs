//! Billing set-ups shared by the billing tests: the stand-in as Enclave's Stripe, an
//! organization whose owner opened billing, and a subscription state written as
//! processing writes it.

use super::{context, onboard, user};
use app::billing::stripe_api::{PriceCatalog, StripeApi};
use tenancy::{SystemDb, TenantDb, TenantError};
use uuid::Uuid;

/// ENCLAVE_STRIPE_PRICES for the stand-in's catalog (scripts/lib.sh sells the same).
pub const PLAN_PRICES: &str = "sme_team=price_sme_team,sme_business=price_sme_business,agency_studio=price_agency_studio,agency_scale=price_agency_scale";

/// Enclave's Stripe client pointed at `base` (the stand-in, or somewhere unreachable).
pub fn stripe_api(base: &str) -> StripeApi {
    StripeApi::new(
        super::standin::KEY,
        Some(base),
        PriceCatalog::parse(PLAN_PRICES).unwrap(),
    )
    .unwrap()
}

/// A new SME organization whose owner opened billing: its customer exists at the
/// stand-in and is recorded. Returns (org, customer).
pub async fn org_with_customer(db: &TenantDb, api: &StripeApi, n: &str) -> (Uuid, String) {
    let owner = user(
        db,
        "https://id.test",
        &format!("owner-{n}"),
        &format!("owner-{n}@example.com"),
    )
    .await;
    let org = onboard(db, &owner, "sme", &format!("Shop {n}")).await;
    let customer = api
        .create_customer(org, &format!("Shop {n}"), Some(owner.email()))
        .await
        .unwrap();
    let ctx = context(db, owner.user_id(), org, None).await;
    let mut tx = db.begin(&ctx).await.unwrap();
    let recorded: String = tx
        .query_scalar("SELECT enclave.record_billing_customer($1)")
        .bind(&customer)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(recorded, customer);
    (org, customer)
}

/// Writes a subscription state on the system path, as processing does after a fetch:
/// one seat, a period that began a day ago.
pub async fn apply_subscription(
    sys: &SystemDb,
    org: Uuid,
    plan: &str,
    status: &str,
    customer: &str,
) -> Result<(), TenantError> {
    let mut tx = sys
        .begin("test", "apply subscription", serde_json::json!({}))
        .await?;
    sqlx::query(
        "SELECT enclave.apply_subscription($1, $2, $3, $4, 'sub_test1', now() - interval '1 day', now() + interval '29 days', NULL, false, 1)",
    )
    .bind(org)
    .bind(plan)
    .bind(status)
    .bind(customer)
    .execute(tx.conn())
    .await?;
    tx.commit().await
}
