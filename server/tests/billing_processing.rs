//! Processing Stripe events (migration 0016, app/src/billing/processing.rs) against the
//! Stripe stand-in: whatever order and however often events arrive, the organization ends
//! in Stripe's current state; an unknown customer is parked and taken up later; a price
//! nobody configured needs a person; one organization never gets two customers.
mod common;

use app::billing::processing::{process_event, Outcome};
use app::billing::stripe_api::StripeApi;
use common::billing::{org_with_customer, stripe_api};
use common::standin::Standin;
use common::*;
use enclave_server::billing_sweep::{sweep, SweepReport};
use serde_json::{json, Value};
use tenancy::{SystemDb, TenantError};
use uuid::Uuid;

/// Records a delivery in the ledger as the webhook does (after its signature check).
async fn record(sys: &SystemDb, event: &Value) -> bool {
    let e = enclave_server::stripe_webhook::envelope(event).expect("an event");
    let mut tx = sys
        .begin("test", "record a Stripe event", json!({}))
        .await
        .unwrap();
    let (new, _) = app::billing::processing::record_event(&mut tx, &e, event)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    new
}

async fn process(sys: &SystemDb, api: &StripeApi, event_id: &str) -> Outcome {
    let mut tx = sys
        .begin("test", "process a Stripe event", json!({}))
        .await
        .unwrap();
    let outcome = process_event(&mut tx, api, event_id).await.unwrap();
    tx.commit().await.unwrap();
    outcome
}

/// (plan, status, seat quantity, subscription) as the database holds them.
async fn local(s: &Scratch, org: Uuid) -> Option<(String, String, Option<i32>, Option<String>)> {
    sqlx::query_as(
        "SELECT plan_id, status, seat_quantity, stripe_subscription_id FROM public.org_billing WHERE org_id = $1",
    )
    .bind(org)
    .fetch_optional(&mut s.admin().await)
    .await
    .unwrap()
}

async fn ledger_status(s: &Scratch, event_id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM enclave.stripe_events WHERE event_id = $1")
        .bind(event_id)
        .fetch_one(&mut s.admin().await)
        .await
        .unwrap()
}

/// The customer's events at the stand-in, oldest first.
fn events_of(standin: &Standin, customer: &str) -> Vec<Value> {
    let mut events: Vec<Value> = standin.get("/v1/events?limit=100").json()["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            let o = &e["data"]["object"];
            o["customer"] == customer || (o["object"] == "customer" && o["id"] == customer)
        })
        .cloned()
        .collect();
    events.reverse();
    events
}

/// The customer's first event of one type at the stand-in.
fn event_of(standin: &Standin, customer: &str, event_type: &str) -> Value {
    events_of(standin, customer)
        .into_iter()
        .find(|e| e["type"] == event_type)
        .unwrap_or_else(|| panic!("the stand-in emitted no {event_type} for {customer}"))
}

/// What the stand-in says the organization should be on: the deciding subscription's
/// plan, status as the database spells it, and quantity.
fn expected(standin: &Standin, customer: &str) -> (String, String, Option<i32>, Option<String>) {
    let subs = standin
        .get(&format!(
            "/v1/subscriptions?customer={customer}&status=all&limit=100"
        ))
        .json();
    let subs: Vec<&Value> = subs["data"].as_array().unwrap().iter().collect();
    let live = |s: &&&Value| {
        !matches!(
            s["status"].as_str(),
            Some("canceled" | "incomplete_expired")
        )
    };
    let newest = |a: &&&Value, b: &&&Value| {
        (a["created"].as_i64(), a["id"].as_str()).cmp(&(b["created"].as_i64(), b["id"].as_str()))
    };
    let s = subs
        .iter()
        .filter(live)
        .max_by(newest)
        .or_else(|| subs.iter().max_by(newest))
        .unwrap();
    let item = &s["items"]["data"][0];
    let plan = match item["price"]["id"].as_str().unwrap() {
        "price_sme_team" => "sme_team",
        "price_sme_business" => "sme_business",
        other => panic!("unexpected price {other}"),
    };
    (
        plan.to_string(),
        app::billing::processing::local_status(s["status"].as_str().unwrap()).to_string(),
        item["quantity"].as_i64().map(|q| q as i32),
        s["id"].as_str().map(str::to_string),
    )
}

fn new_subscription(
    standin: &Standin,
    customer: &str,
    price: &str,
    quantity: u64,
    trial: bool,
) -> String {
    let mut body = json!({ "customer": customer, "price": price, "quantity": quantity });
    if trial {
        body["status"] = json!("trialing");
        body["trial_days"] = json!(14);
    }
    let reply = standin.control("/_test/subscriptions", body);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_order_and_any_repeats_end_in_stripes_current_state() {
    let seed = Rng::seed_from_env("ENCLAVE_BILLING_SEED");
    let cases: usize = std::env::var("ENCLAVE_BILLING_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(200);
    println!("billing processing property: seed=0x{seed:016x} (replay with ENCLAVE_BILLING_SEED=0x{seed:016x}), {cases} cases");
    let mut rng = Rng(seed);
    let s = scratch("billprop").await;
    let (db, sys) = s.dbs(4).await;
    let standin = Standin::start(&[]);
    let api = stripe_api(&standin.base());
    let (mut deliveries, mut repeats, mut canceled) = (0, 0, 0);
    for case in 0..cases {
        let (org, customer) = org_with_customer(&db, &api, &format!("p{case}")).await;
        let trial = rng.chance(30);
        let sub = new_subscription(
            &standin,
            &customer,
            "price_sme_team",
            1 + rng.below(5) as u64,
            trial,
        );
        // A random life: failed and paid invoices, trial ends, seat and plan changes, and
        // sometimes a cancellation (after which only what Stripe allows happens).
        let (mut ended, mut trialing) = (false, trial);
        for _ in 0..1 + rng.below(5) {
            if ended {
                break;
            }
            let step = rng.below(6);
            let reply = match step {
                0 => standin.control(&format!("/_test/subscriptions/{sub}/past_due"), json!({})),
                1 => standin.control(&format!("/_test/subscriptions/{sub}/pay"), json!({})),
                2 if trialing => {
                    standin.control(&format!("/_test/subscriptions/{sub}/end_trial"), json!({}))
                }
                3 => {
                    let item = standin.get(&format!("/v1/subscriptions/{sub}")).json()["items"]
                        ["data"][0]["id"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    standin.api(
                        "POST",
                        &format!("/v1/subscription_items/{item}"),
                        &[],
                        &format!(
                            "quantity={}&proration_behavior=create_prorations",
                            1 + rng.below(9)
                        ),
                    )
                }
                4 => {
                    let item = standin.get(&format!("/v1/subscriptions/{sub}")).json()["items"]
                        ["data"][0]["id"]
                        .as_str()
                        .unwrap()
                        .to_string();
                    standin.api(
                        "POST",
                        &format!("/v1/subscriptions/{sub}"),
                        &[],
                        &format!("items[0][id]={item}&items[0][price]=price_sme_business&proration_behavior=none"),
                    )
                }
                _ if rng.chance(50) => {
                    ended = true;
                    canceled += 1;
                    standin.control(&format!("/_test/subscriptions/{sub}/cancel"), json!({}))
                }
                _ => continue,
            };
            assert_eq!(reply.status, 200, "case {case}: {}", reply.body);
            trialing &= step > 2;
        }
        // Deliver every event of the customer 1-3 times, in a random order, and process
        // each delivery as it comes.
        let mut arrivals: Vec<Value> = Vec::new();
        for e in events_of(&standin, &customer) {
            for _ in 0..1 + rng.below(3) {
                arrivals.push(e.clone());
            }
        }
        assert!(
            arrivals.len() >= 2,
            "case {case}: the stand-in emitted too few events"
        );
        rng.shuffle(&mut arrivals);
        for e in &arrivals {
            deliveries += 1;
            let id = e["id"].as_str().unwrap();
            if record(&sys, e).await {
                process(&sys, &api, id).await;
            } else {
                repeats += 1;
                // A repeat is never processed again: the ledger says it is done.
                assert_ne!(ledger_status(&s, id).await, "received", "case {case}");
            }
        }
        assert_eq!(
            local(&s, org).await,
            Some(expected(&standin, &customer)),
            "case {case} (seed 0x{seed:016x}): the organization does not hold Stripe's current state"
        );
    }
    println!("billing processing property: {cases} cases, {deliveries} deliveries ({repeats} repeats), {canceled} canceled; every case ended in Stripe's state");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn older_events_never_revive_a_canceled_subscription_and_invoices_may_come_first() {
    let s = scratch("billorder").await;
    let (db, sys) = s.dbs(4).await;
    let standin = Standin::start(&[]);
    let api = stripe_api(&standin.base());
    let (org, customer) = org_with_customer(&db, &api, "o1").await;
    let sub = new_subscription(&standin, &customer, "price_sme_team", 3, false);
    assert_eq!(
        standin
            .control(&format!("/_test/subscriptions/{sub}/cancel"), json!({}))
            .status,
        200
    );
    let events = events_of(&standin, &customer);
    let created = events
        .iter()
        .find(|e| e["type"] == "customer.subscription.created")
        .unwrap();
    let deleted = events
        .iter()
        .find(|e| e["type"] == "customer.subscription.deleted")
        .unwrap();
    // The deletion arrives first, the creation (whose payload says active) after it.
    assert!(record(&sys, deleted).await);
    process(&sys, &api, deleted["id"].as_str().unwrap()).await;
    assert!(record(&sys, created).await);
    let outcome = process(&sys, &api, created["id"].as_str().unwrap()).await;
    assert!(
        matches!(outcome, Outcome::Applied { ref status, .. } if status == "canceled"),
        "{outcome:?}"
    );
    assert_eq!(local(&s, org).await.unwrap().1, "canceled");

    // Invoice paid before the checkout's own completion (BILLING-NOTES case 5), same second.
    let (org2, customer2) = org_with_customer(&db, &api, "o2").await;
    new_subscription(&standin, &customer2, "price_sme_business", 1, false);
    let events = events_of(&standin, &customer2);
    let paid = events.iter().find(|e| e["type"] == "invoice.paid").unwrap();
    assert!(record(&sys, paid).await);
    let outcome = process(&sys, &api, paid["id"].as_str().unwrap()).await;
    assert_eq!(
        outcome,
        Outcome::Applied {
            org_id: org2,
            status: "active".into(),
            plan: "sme_business".into()
        }
    );
    // The subscription's own event, same second, later: already covered, nothing to redo.
    let created = events
        .iter()
        .find(|e| e["type"] == "customer.subscription.created")
        .unwrap();
    assert_eq!(
        created["created"], paid["created"],
        "the stand-in emits one action's events in one second"
    );
    assert!(record(&sys, created).await);
    assert_eq!(
        ledger_status(&s, created["id"].as_str().unwrap()).await,
        "received"
    );
    process(&sys, &api, created["id"].as_str().unwrap()).await;
    assert_eq!(
        ledger_status(&s, created["id"].as_str().unwrap()).await,
        "processed"
    );
    assert_eq!(local(&s, org2).await.unwrap().0, "sme_business");

    // customer.created says nothing about a subscription: ignored, never fetched.
    let customer_created = event_of(&standin, &customer2, "customer.created");
    assert!(record(&sys, &customer_created).await);
    assert_eq!(
        process(&sys, &api, customer_created["id"].as_str().unwrap()).await,
        Outcome::Ignored
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_customer_is_parked_then_taken_up_and_an_unsold_price_needs_a_person() {
    let s = scratch("billpark").await;
    let (db, sys) = s.dbs(4).await;
    let standin = Standin::start(&[]);
    let api = stripe_api(&standin.base());
    // A customer made at Stripe whose organization has not recorded it yet.
    let owner = user(&db, "https://id.test", "late", "late@example.com").await;
    let org = onboard(&db, &owner, "sme", "Late Shop").await;
    let customer = api.create_customer(org, "Late Shop", None).await.unwrap();
    new_subscription(&standin, &customer, "price_sme_team", 2, false);
    let event = event_of(&standin, &customer, "customer.subscription.created");
    let id = event["id"].as_str().unwrap().to_string();
    assert!(record(&sys, &event).await);
    assert_eq!(process(&sys, &api, &id).await, Outcome::Parked);
    assert_eq!(ledger_status(&s, &id).await, "parked");
    assert_eq!(local(&s, org).await, None);
    // Not due yet: the sweep leaves it.
    assert_eq!(sweep(&sys, &api).await.unwrap(), SweepReport::default());
    // The organization records its customer; once the parking time is over the sweep
    // writes the state.
    let ctx = context(&db, owner.user_id(), org, None).await;
    let mut tx = db.begin(&ctx).await.unwrap();
    tx.query("SELECT enclave.record_billing_customer($1)")
        .bind(&customer)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    sqlx::query("UPDATE enclave.stripe_events SET next_attempt_at = now() - interval '1 second' WHERE event_id = $1")
        .bind(&id)
        .execute(&mut s.admin().await)
        .await
        .unwrap();
    assert_eq!(
        sweep(&sys, &api).await.unwrap(),
        SweepReport {
            customers: 1,
            ..Default::default()
        }
    );
    assert_eq!(ledger_status(&s, &id).await, "processed");
    assert_eq!(local(&s, org).await.unwrap().0, "sme_team");

    // A price ENCLAVE_STRIPE_PRICES does not name: dead, with the reason, state untouched.
    let (org2, customer2) = org_with_customer(&db, &api, "u2").await;
    new_subscription(&standin, &customer2, "price_unsold", 1, false);
    let event = event_of(&standin, &customer2, "customer.subscription.created");
    assert!(record(&sys, &event).await);
    let outcome = process(&sys, &api, event["id"].as_str().unwrap()).await;
    assert!(
        matches!(&outcome, Outcome::Dead(why) if why.contains("price_unsold")),
        "{outcome:?}"
    );
    assert_eq!(
        ledger_status(&s, event["id"].as_str().unwrap()).await,
        "dead"
    );
    assert_eq!(local(&s, org2).await.unwrap().1, "none");

    // A plan of the other kind (an SME moved to an agency price): the database refuses the
    // state, and the events are settled dead with the reason in the same transaction.
    let (org3, customer3) = org_with_customer(&db, &api, "u3").await;
    new_subscription(&standin, &customer3, "price_agency_studio", 1, false);
    let event = event_of(&standin, &customer3, "customer.subscription.created");
    assert!(record(&sys, &event).await);
    let outcome = process(&sys, &api, event["id"].as_str().unwrap()).await;
    assert!(
        matches!(&outcome, Outcome::Dead(why) if why.contains("not for this kind")),
        "{outcome:?}"
    );
    assert_eq!(
        ledger_status(&s, event["id"].as_str().unwrap()).await,
        "dead"
    );
    assert_eq!(local(&s, org3).await.unwrap().1, "none");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_organization_one_customer_even_with_two_first_clicks() {
    let s = scratch("billcust").await;
    let (db, _) = s.dbs(6).await;
    let standin = Standin::start(&[]);
    let api = stripe_api(&standin.base());
    let owner = user(&db, "https://id.test", "twice", "twice@example.com").await;
    let org = onboard(&db, &owner, "agency", "Twice Agency").await;
    // Two first clicks at once: the idempotency key derived from the organization makes
    // Stripe answer both with one customer.
    let (a, b) = tokio::join!(
        api.create_customer(org, "Twice Agency", None),
        api.create_customer(org, "Twice Agency", None)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b);
    assert_eq!(
        standin.get("/v1/customers?limit=100").json()["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let ctx = context(&db, owner.user_id(), org, None).await;
    let record = |customer: String| {
        let (db, ctx) = (db.clone(), ctx.clone());
        async move {
            let mut tx = db.begin(&ctx).await?;
            let recorded: String = tx
                .query_scalar("SELECT enclave.record_billing_customer($1)")
                .bind(customer)
                .fetch_one(tx.conn())
                .await?;
            tx.commit().await?;
            Ok::<_, TenantError>(recorded)
        }
    };
    let (ra, rb) = tokio::join!(record(a.clone()), record(b.clone()));
    assert_eq!((ra.unwrap(), rb.unwrap()), (a.clone(), a.clone()));
    // A customer made in another way later does not replace the recorded one.
    assert_eq!(record("cus_Other1".into()).await.unwrap(), a);

    // Another organization cannot claim it, and a member who is not the owner cannot
    // record anything, whatever SQL they send as the runtime role.
    let other = user(&db, "https://id.test", "other", "other@example.com").await;
    let other_org = onboard(&db, &other, "sme", "Other Shop").await;
    let other_ctx = context(&db, other.user_id(), other_org, None).await;
    let mut tx = db.begin(&other_ctx).await.unwrap();
    let err = tx
        .query_scalar::<String>("SELECT enclave.record_billing_customer($1)")
        .bind(&a)
        .fetch_one(tx.conn())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another organization"), "{err}");
    drop(tx);
    let member = user(&db, "https://id.test", "member", "member@example.com").await;
    // Made an admin by the superuser: how they joined is not what is tested here.
    sqlx::query("INSERT INTO public.memberships (org_id, user_id, role) VALUES ($1, $2, 'admin')")
        .bind(other_org)
        .bind(member.user_id())
        .execute(&mut s.admin().await)
        .await
        .unwrap();
    let admin_ctx = context(&db, member.user_id(), other_org, None).await;
    let mut tx = db.begin(&admin_ctx).await.unwrap();
    let err = tx
        .query_scalar::<String>("SELECT enclave.record_billing_customer('cus_Mine1')")
        .fetch_one(tx.conn())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only owners"), "{err}");
    drop(tx);
    let mut runtime = s.runtime().await;
    let direct = sqlx::query("INSERT INTO public.org_billing (org_id, plan_id, status, stripe_customer_id) VALUES ($1, 'free_sme', 'none', 'cus_Direct1')")
        .bind(other_org)
        .execute(&mut runtime)
        .await;
    assert!(
        direct.is_err(),
        "the runtime role wrote billing state directly"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_follow_members_and_a_failed_sync_is_recorded_then_retried() {
    let s = scratch("billseats").await;
    let (db, sys) = s.dbs(4).await;
    let standin = Standin::start(&[]);
    let api = stripe_api(&standin.base());
    let (org, customer) = org_with_customer(&db, &api, "seats").await;
    let sub = new_subscription(&standin, &customer, "price_sme_team", 1, false);
    let event = event_of(&standin, &customer, "customer.subscription.created");
    assert!(record(&sys, &event).await);
    process(&sys, &api, event["id"].as_str().unwrap()).await;
    assert_eq!(local(&s, org).await.unwrap().2, Some(1));
    // Two people join (however they join: counted, not listened for).
    for n in ["ann", "bob"] {
        let u = user(&db, "https://id.test", n, &format!("{n}@example.com")).await;
        sqlx::query(
            "INSERT INTO public.memberships (org_id, user_id, role) VALUES ($1, $2, 'member')",
        )
        .bind(org)
        .bind(u.user_id())
        .execute(&mut s.admin().await)
        .await
        .unwrap();
    }
    // Stripe unreachable: the failure is recorded on the organization, nothing changes.
    let down = stripe_api("http://127.0.0.1:9/");
    assert_eq!(
        sweep(&sys, &down).await.unwrap(),
        SweepReport {
            failures: 1,
            ..Default::default()
        }
    );
    let (error, attempts): (Option<String>, i32) = sqlx::query_as(
        "SELECT seat_sync_error, seat_sync_attempts FROM public.org_billing WHERE org_id = $1",
    )
    .bind(org)
    .fetch_one(&mut s.admin().await)
    .await
    .unwrap();
    assert!(
        error.as_deref().is_some_and(|e| e.contains("reached")),
        "{error:?}"
    );
    assert_eq!(attempts, 1);
    // The next sweep, with Stripe back: three seats billed, prorated on the next invoice.
    assert_eq!(
        sweep(&sys, &api).await.unwrap(),
        SweepReport {
            seats_synced: 1,
            ..Default::default()
        }
    );
    assert_eq!(local(&s, org).await.unwrap().2, Some(3));
    let at_stripe = standin.get(&format!("/v1/subscriptions/{sub}")).json();
    assert_eq!(at_stripe["items"]["data"][0]["quantity"], json!(3));
    let state = standin.request("GET", "/_test/state", &[], "").json();
    let item = state["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == sub.as_str())
        .map(|s| s["items"]["data"][0]["last_proration_behavior"].clone());
    assert_eq!(item, Some(json!("create_prorations")), "{state}");
    let error: Option<String> =
        sqlx::query_scalar("SELECT seat_sync_error FROM public.org_billing WHERE org_id = $1")
            .bind(org)
            .fetch_one(&mut s.admin().await)
            .await
            .unwrap();
    assert_eq!(error, None);
    // In step: the next sweep has nothing to do.
    assert_eq!(sweep(&sys, &api).await.unwrap(), SweepReport::default());
}
