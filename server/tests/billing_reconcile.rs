//! Billing reconciliation (migration 0018, app/src/billing/reconcile.rs) against the
//! Stripe stand-in: a quantity changed behind Enclave's back and deliveries that never
//! arrived are found and repaired through the webhook's own code; a dry run changes
//! nothing; what needs a person (a customer Enclave did not make) makes the run say so;
//! every finding is stored.
mod common;

use app::billing::stripe_api::StripeApi;
use common::billing::{org_with_customer, stripe_api};
use common::standin::Standin;
use common::*;
use enclave_server::reconcile_billing::{reconcile, Options, Report};
use serde_json::{json, Value};
use tenancy::SystemDb;
use uuid::Uuid;

fn subscribe(standin: &Standin, customer: &str, price: &str) -> String {
    let reply = standin.control(
        "/_test/subscriptions",
        json!({ "customer": customer, "price": price, "quantity": 1 }),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["id"].as_str().unwrap().to_string()
}

async fn local(s: &Scratch, org: Uuid) -> Option<(String, String, Option<i32>)> {
    sqlx::query_as(
        "SELECT plan_id, status, seat_quantity FROM public.org_billing WHERE org_id = $1",
    )
    .bind(org)
    .fetch_optional(&mut s.admin().await)
    .await
    .unwrap()
}

fn kinds(report: &Report) -> Vec<(String, String)> {
    let mut k: Vec<(String, String)> = report
        .findings
        .iter()
        .filter(|f| f.kind != "missed_event")
        .map(|f| (f.kind.to_string(), f.action.to_string()))
        .collect();
    k.sort();
    k
}

async fn run(sys: &SystemDb, api: &StripeApi, dry_run: bool) -> Report {
    reconcile(sys, api, Options { dry_run, org: None })
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_and_lost_deliveries_are_found_repaired_and_recorded() {
    let s = scratch("billrecon").await;
    let (db, sys) = s.dbs(4).await;
    // No webhook URL: every event the stand-in emits counts as undelivered at "Stripe".
    let standin = Standin::start(&[]);
    let api = stripe_api(&standin.base());

    // A: synced once, then its seats changed at Stripe behind Enclave's back.
    let (org_a, cus_a) = org_with_customer(&db, &api, "drift").await;
    let sub_a = subscribe(&standin, &cus_a, "price_sme_team");
    let first = run(&sys, &api, false).await;
    assert_eq!(
        local(&s, org_a).await,
        Some(("sme_team".into(), "active".into(), Some(1)))
    );
    assert!(
        first.events_pulled >= 2,
        "the undelivered events were not pulled: {first:?}"
    );
    let reply = standin.control(
        &format!("/_test/subscriptions/{sub_a}/drift"),
        json!({ "quantity": 7 }),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    // B: paid, but none of its deliveries arrived (dropped); Enclave still thinks Free.
    let (org_b, cus_b) = org_with_customer(&db, &api, "dropped").await;
    subscribe(&standin, &cus_b, "price_sme_business");
    assert_eq!(local(&s, org_b).await.unwrap().1, "none");
    // C: a customer somebody made in the Stripe dashboard, not Enclave.
    let reply = standin.api("POST", "/v1/customers", &[], "email=stranger%40example.com");
    assert_eq!(reply.status, 200, "{}", reply.body);

    // A dry run reports and changes nothing.
    let dry = run(&sys, &api, true).await;
    assert_eq!(
        kinds(&dry),
        [
            ("seats".to_string(), "would_repair".to_string()),
            ("state".into(), "would_repair".into()),
            ("state".into(), "would_repair".into()),
            ("unknown_customer".into(), "needs_person".into()),
        ]
    );
    assert_eq!(dry.events_pulled, 0);
    assert_eq!(
        dry.outcome(),
        1,
        "a dry run that finds drift is not in sync"
    );
    assert_eq!(local(&s, org_a).await.unwrap().2, Some(1));
    assert_eq!(local(&s, org_b).await.unwrap().1, "none");

    // The real run repairs both through the webhook's code; the seats follow the members.
    let repaired = run(&sys, &api, false).await;
    assert_eq!(
        kinds(&repaired),
        [
            ("seats".to_string(), "repaired".to_string()),
            ("state".into(), "repaired".into()),
            ("state".into(), "repaired".into()),
            ("unknown_customer".into(), "needs_person".into()),
        ]
    );
    assert!(
        repaired.events_pulled >= 2,
        "B's undelivered events were not pulled"
    );
    assert_eq!(repaired.outcome(), 1, "the stranger needs a person");
    assert_eq!(
        local(&s, org_b).await,
        Some(("sme_business".into(), "active".into(), Some(1)))
    );
    let billed = standin.get(&format!("/v1/subscriptions/{sub_a}")).json()["items"]["data"][0]
        ["quantity"]
        .clone();
    assert_eq!(
        billed,
        json!(1),
        "the billed seats were not set back to the one member"
    );
    assert_eq!(local(&s, org_a).await.unwrap().2, Some(1));
    let pending: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM enclave.stripe_events WHERE status IN ('received', 'parked') AND customer_id = ANY($1)",
    )
    .bind(vec![cus_a.clone(), cus_b.clone()])
    .fetch_one(&mut s.admin().await)
    .await
    .unwrap();
    assert_eq!(pending, 0, "pulled events were left unprocessed");

    // In sync now, but for what needs a person; every finding and run is on record.
    let again = run(&sys, &api, false).await;
    assert_eq!(
        kinds(&again),
        [("unknown_customer".to_string(), "needs_person".to_string())]
    );
    let runs: Vec<(bool, i32, i32, i32)> = sqlx::query_as(
        "SELECT dry_run, repaired, needs_person, outcome FROM enclave.billing_reconciliations ORDER BY started_at",
    )
    .fetch_all(&mut s.admin().await)
    .await
    .unwrap();
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[1], (true, 0, 1, 1));
    assert_eq!(runs[2], (false, 3, 1, 1));
    let stored: Vec<(String, String, Value)> = sqlx::query_as(
        "SELECT kind, action, detail FROM enclave.billing_findings WHERE run_id = $1 AND kind = 'seats'",
    )
    .bind(repaired.run_id)
    .fetch_all(&mut s.admin().await)
    .await
    .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].2["billed"], json!(7));
    assert_eq!(stored[0].2["members"], json!(1));

    // The ledger and the findings are closed to the runtime role outside the system path.
    let mut rt = s.runtime().await;
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM enclave.billing_findings")
        .fetch_one(&mut rt)
        .await
        .unwrap();
    assert_eq!(seen, 0);

    // --org compares one organization only.
    let one = reconcile(
        &sys,
        &api,
        Options {
            dry_run: true,
            org: Some(org_a),
        },
    )
    .await
    .unwrap();
    assert_eq!(one.customers, 1);
    assert!(one.findings.is_empty(), "{:?}", one.findings);
}
