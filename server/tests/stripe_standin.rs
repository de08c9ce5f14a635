//! The Stripe stand-in (end2end/stripe/standin.mjs) kept honest. Every shape it serves is
//! read back through async-stripe 0.41's own calls and types, so a field that the crate
//! requires and the stand-in forgets (or mistypes) fails here instead of hiding behind a
//! hand-written fake; its protocol (keys, idempotent replay, list paging, errors) is
//! checked against what Stripe documents; and webhook deliveries, signed by the official
//! `stripe` npm package, are checked with our own verifier (`stripe_webhook::verify`).
//!
//! Needs Node.js and end2end/node_modules (scripts/lib.sh `ensure_npm_packages`); no
//! database. A missing `node` fails the test with a message rather than skipping it.
mod common;

use common::standin::Standin;
use enclave_server::stripe_webhook::{self, SignatureProblem, WebhookSecrets};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use stripe::{
    BillingPortalSession, CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus,
    CheckoutSessionStatus, CreateBillingPortalSession, CreateCheckoutSession,
    CreateCheckoutSessionAutomaticTax, CreateCheckoutSessionCustomerUpdate,
    CreateCheckoutSessionCustomerUpdateAddress, CreateCheckoutSessionLineItems,
    CreateCheckoutSessionSubscriptionData, CreateCustomer, Customer, ErrorCode, ErrorType, Event,
    EventObject, EventType, Expandable, Invoice, List, ListCustomers, ListEvents,
    ListSubscriptions, Price, Product, RequestStrategy, StripeError, Subscription,
    SubscriptionItem, SubscriptionStatus, SubscriptionStatusFilter, UpdateSubscriptionItem,
};
// Three modules export an enum of this name; the crate root's glob re-export is ambiguous.
use stripe::generated::billing::subscription_item::SubscriptionProrationBehavior;

/// Where the hosted pages send the browser back to (never contacted by these tests).
const APP: &str = "http://127.0.0.1:9/billing";

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn stripe_error<T: std::fmt::Debug>(result: Result<T, StripeError>) -> stripe::RequestError {
    match result {
        Err(StripeError::Stripe(e)) => e,
        other => panic!("expected a Stripe error in Stripe's shape, got {other:?}"),
    }
}

fn ids<T: stripe::Object>(rows: &[T]) -> Vec<String>
where
    T::Id: std::fmt::Display,
{
    rows.iter().map(|r| r.id().to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stand_in_speaks_stripe_as_async_stripe_reads_it() {
    let standin = Standin::start(&[]);
    let client = standin.client();

    // Keys: none, or not a test key, is a 401 in Stripe's error shape.
    let anonymous = standin.request("GET", "/v1/customers", &[], "");
    assert_eq!(anonymous.status, 401);
    let e: stripe::RequestError =
        serde_json::from_value(anonymous.json()["error"].clone()).unwrap();
    assert_eq!(e.error_type, ErrorType::InvalidRequest);
    let live = stripe::Client::from_url(standin.base().as_str(), "sk_live_nope");
    let e = stripe_error(Customer::list(&live, &ListCustomers::new()).await);
    assert_eq!(
        (e.http_status, e.error_type),
        (401, ErrorType::InvalidRequest)
    );

    // One customer per organization: the same idempotency key twice makes one customer.
    let org = "org0001";
    let metadata = HashMap::from([("org_id".to_string(), org.to_string())]);
    let new_customer = |email: &'static str| {
        let mut p = CreateCustomer::new();
        p.email = Some(email);
        p.name = Some("Acme");
        p.metadata = Some(metadata.clone());
        p
    };
    let idempotent = client
        .clone()
        .with_strategy(RequestStrategy::Idempotent(format!("customer-{org}")));
    let owner = Customer::create(&idempotent, new_customer("owner@acme.test"))
        .await
        .expect("create a customer");
    let again = Customer::create(&idempotent, new_customer("owner@acme.test"))
        .await
        .expect("replay the create");
    assert_eq!(again.id, owner.id);
    let listed = Customer::list(
        &client,
        &ListCustomers {
            email: Some("owner@acme.test"),
            ..ListCustomers::new()
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&listed.data), vec![owner.id.to_string()]);
    // The same key with other parameters is Stripe's idempotency_error.
    let e = stripe_error(Customer::create(&idempotent, new_customer("other@acme.test")).await);
    assert_eq!(
        (e.http_status, e.error_type),
        (400, ErrorType::IdempotencyError)
    );
    // A replay is the stored answer, byte for byte, and says so.
    let form = "email=raw%40acme.test&metadata%5Borg_id%5D=org0002";
    let first = standin.api(
        "POST",
        "/v1/customers",
        &[("Idempotency-Key", "raw-1")],
        form,
    );
    let replay = standin.api(
        "POST",
        "/v1/customers",
        &[("Idempotency-Key", "raw-1")],
        form,
    );
    assert_eq!(
        (first.status, first.header("idempotent-replayed")),
        (200, None)
    );
    assert_eq!(
        (
            replay.status,
            replay.header("idempotent-replayed"),
            replay.body.as_str()
        ),
        (200, Some("true"), first.body.as_str())
    );
    let raw_customer: Customer = first.shape("a customer");
    assert_eq!(
        raw_customer
            .metadata
            .unwrap()
            .get("org_id")
            .map(String::as_str),
        Some("org0002")
    );

    // Retrieve; an unknown id is Stripe's 404 resource_missing.
    let fetched = Customer::retrieve(&client, &owner.id, &[]).await.unwrap();
    assert_eq!(fetched.email.as_deref(), Some("owner@acme.test"));
    assert_eq!(
        fetched.metadata.unwrap().get("org_id").map(String::as_str),
        Some(org)
    );
    let e = stripe_error(
        Customer::retrieve(&client, &"cus_nosuchcustomer".parse().unwrap(), &[]).await,
    );
    assert_eq!(
        (e.http_status, e.code),
        (404, Some(ErrorCode::ResourceMissing))
    );

    // Checkout: a subscription-mode session with a trial and automatic tax.
    let success_url = format!("{APP}?checkout={{CHECKOUT_SESSION_ID}}");
    let mut params = CreateCheckoutSession::new();
    params.mode = Some(CheckoutSessionMode::Subscription);
    params.customer = Some(owner.id.clone());
    params.client_reference_id = Some(org);
    params.success_url = Some(&success_url);
    params.cancel_url = Some(APP);
    params.line_items = Some(vec![CreateCheckoutSessionLineItems {
        price: Some("price_sme_team".into()),
        quantity: Some(3),
        ..Default::default()
    }]);
    params.subscription_data = Some(CreateCheckoutSessionSubscriptionData {
        metadata: Some(metadata.clone()),
        trial_period_days: Some(14),
        ..Default::default()
    });
    params.customer_update = Some(CreateCheckoutSessionCustomerUpdate {
        address: Some(CreateCheckoutSessionCustomerUpdateAddress::Auto),
        ..Default::default()
    });
    params.automatic_tax = Some(CreateCheckoutSessionAutomaticTax {
        enabled: true,
        ..Default::default()
    });
    params.metadata = Some(metadata.clone());
    let session = CheckoutSession::create(&client, params)
        .await
        .expect("create a Checkout session");
    assert_eq!(session.status, Some(CheckoutSessionStatus::Open));
    assert_eq!(session.payment_status, CheckoutSessionPaymentStatus::Unpaid);
    assert_eq!(
        session.url.as_deref(),
        Some(format!("{}checkout/{}", standin.base(), session.id).as_str())
    );
    // Automatic tax for a customer without an address needs customer_update[address]=auto,
    // as on Stripe (cashier-stripe#1778).
    let refused = standin.api(
        "POST",
        "/v1/checkout/sessions",
        &[],
        &format!("mode=subscription&customer={}&line_items[0][price]=price_sme_team&line_items[0][quantity]=1&success_url=http%3A%2F%2F127.0.0.1%3A9%2F&automatic_tax[enabled]=true", owner.id),
    );
    assert_eq!(refused.status, 400);
    assert_eq!(refused.json()["error"]["param"], "automatic_tax[enabled]");

    // The hosted page, then "paying" on it.
    let page = standin.request("GET", &format!("/checkout/{}", session.id), &[], "");
    assert_eq!(page.status, 200);
    for needle in [
        "<html lang=\"en\">",
        "<title>Checkout: Team",
        "<h1>Subscribe to Team</h1>",
        "$15.00 per seat per month",
        "<dt>Quantity</dt><dd>3</dd>",
        "owner@acme.test",
        "<button type=\"submit\">Pay and subscribe</button>",
        format!("<a href=\"{APP}\">Back</a>").as_str(),
    ] {
        assert!(
            page.body.contains(needle),
            "the Checkout page lacks {needle}:\n{}",
            page.body
        );
    }
    let back_to_app = format!("{APP}?checkout={}", session.id);
    for _ in 0..2 {
        // The second click finds the session complete: same redirect, nothing new.
        let paid = standin.request("POST", &format!("/checkout/{}", session.id), &[], "");
        assert_eq!(
            (paid.status, paid.header("location")),
            (303, Some(back_to_app.as_str()))
        );
    }
    let completed: CheckoutSession = standin
        .get(&format!("/v1/checkout/sessions/{}", session.id))
        .shape("a completed Checkout session");
    assert_eq!(completed.status, Some(CheckoutSessionStatus::Complete));
    // A trial charges nothing yet, which Stripe reports as no_payment_required.
    assert_eq!(
        completed.payment_status,
        CheckoutSessionPaymentStatus::NoPaymentRequired
    );
    let subscription_id = completed
        .subscription
        .as_ref()
        .expect("a completed session names its subscription")
        .id();
    let subscription = Subscription::retrieve(&client, &subscription_id, &[])
        .await
        .unwrap();
    assert_eq!(subscription.status, SubscriptionStatus::Trialing);
    assert_eq!(subscription.customer.id(), owner.id);
    assert_eq!(
        subscription.metadata.get("org_id").map(String::as_str),
        Some(org)
    );
    assert!(subscription
        .trial_end
        .is_some_and(|end| end > subscription.start_date));
    let item = &subscription.items.data[0];
    assert_eq!(
        (item.price.as_ref().map(|p| p.id.as_str()), item.quantity),
        (Some("price_sme_team"), Some(3))
    );
    let owners_subscriptions = Subscription::list(
        &client,
        &ListSubscriptions {
            customer: Some(owner.id.clone()),
            status: Some(SubscriptionStatusFilter::All),
            ..ListSubscriptions::new()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        ids(&owners_subscriptions.data),
        vec![subscription_id.to_string()]
    );
    // The payment's events: newest first, one second, invoices before the completion.
    let recent = Event::list(
        &client,
        &ListEvents {
            limit: Some(4),
            ..ListEvents::new()
        },
    )
    .await
    .unwrap();
    assert_eq!(
        recent.data.iter().map(|e| e.type_).collect::<Vec<_>>(),
        vec![
            EventType::CheckoutSessionCompleted,
            EventType::InvoicePaymentSucceeded,
            EventType::InvoicePaid,
            EventType::CustomerSubscriptionCreated
        ]
    );
    assert!(recent
        .data
        .iter()
        .all(|e| e.created == recent.data[0].created));
    match &recent.data[0].data.object {
        EventObject::CheckoutSession(s) => assert_eq!(s.id, session.id),
        other => panic!("checkout.session.completed carries {other:?}"),
    }
    match &recent.data[2].data.object {
        EventObject::Invoice(invoice) => {
            let invoice_id = invoice.id.to_string();
            let raw: Invoice = standin
                .get(&format!("/v1/invoices/{invoice_id}"))
                .shape("an invoice");
            assert_eq!(
                raw.subscription.map(|s| s.id()),
                Some(subscription_id.clone())
            );
        }
        other => panic!("invoice.paid carries {other:?}"),
    }

    // The Customer Portal: change the plan, see it on the subscription.
    let mut params = CreateBillingPortalSession::new(owner.id.clone());
    params.return_url = Some(APP);
    let portal = BillingPortalSession::create(&client, params).await.unwrap();
    assert_eq!(portal.customer, owner.id.as_str());
    assert_eq!(
        portal.url,
        format!("{}portal/{}", standin.base(), portal.id)
    );
    let page = standin.request("GET", &format!("/portal/{}", portal.id), &[], "");
    assert_eq!(page.status, 200);
    for needle in [
        "<html lang=\"en\">",
        "<h1>Manage billing</h1>",
        "Current plan: Team",
        "<dd>trialing</dd>",
        format!("<label for=\"price-{subscription_id}\">").as_str(),
        ">Change plan</button>",
        ">Cancel subscription</button>",
        format!("<a href=\"{APP}\">Return</a>").as_str(),
    ] {
        assert!(
            page.body.contains(needle),
            "the portal page lacks {needle}:\n{}",
            page.body
        );
    }
    let changed = standin.request(
        "POST",
        &format!("/portal/{}", portal.id),
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &format!("subscription={subscription_id}&price=price_sme_business&action=change"),
    );
    assert_eq!(
        (changed.status, changed.header("location")),
        (303, Some(portal.url.as_str()))
    );
    let subscription = Subscription::retrieve(&client, &subscription_id, &[])
        .await
        .unwrap();
    let item = &subscription.items.data[0];
    assert_eq!(
        (item.price.as_ref().map(|p| p.id.as_str()), item.quantity),
        (Some("price_sme_business"), Some(1))
    );
    let newest = Event::list(
        &client,
        &ListEvents {
            limit: Some(1),
            ..ListEvents::new()
        },
    )
    .await
    .unwrap();
    let newest = &newest.data[0];
    assert_eq!(newest.type_, EventType::CustomerSubscriptionUpdated);
    assert!(newest
        .data
        .previous_attributes
        .as_ref()
        .is_some_and(|p| p.contains_key("items")));

    // Subscriptions made by the test control; one canceled. Paging over status=all.
    let agency = Customer::create(
        &client,
        CreateCustomer {
            email: Some("agency@acme.test"),
            ..CreateCustomer::new()
        },
    )
    .await
    .unwrap();
    let mut made = Vec::new();
    for quantity in [2, 4, 6] {
        let created: Subscription = standin
            .control(
                "/_test/subscriptions",
                json!({ "customer": agency.id, "price": "price_sme_team", "quantity": quantity, "metadata": { "org_id": "org0003" } }),
            )
            .shape("a test-made subscription");
        assert_eq!(created.items.data[0].quantity, Some(quantity));
        made.push(created.id.to_string());
    }
    let canceled: Subscription = standin
        .control(
            &format!("/_test/subscriptions/{}/cancel", made[0]),
            json!({}),
        )
        .shape("a canceled subscription");
    assert_eq!(canceled.status, SubscriptionStatus::Canceled);
    let current = Subscription::list(
        &client,
        &ListSubscriptions {
            customer: Some(agency.id.clone()),
            ..ListSubscriptions::new()
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&current.data), vec![made[2].clone(), made[1].clone()]);
    let params = ListSubscriptions {
        customer: Some(agency.id.clone()),
        status: Some(SubscriptionStatusFilter::All),
        limit: Some(2),
        ..ListSubscriptions::new()
    };
    let first_page = Subscription::list(&client, &params).await.unwrap();
    assert!(first_page.has_more);
    assert_eq!(
        ids(&first_page.data),
        vec![made[2].clone(), made[1].clone()]
    );
    let second_page = first_page.paginate(params).next(&client).await.unwrap();
    assert!(!second_page.page.has_more);
    assert_eq!(ids(&second_page.page.data), vec![made[0].clone()]);

    // A seat change with an explicit proration behaviour, recorded on the item.
    let target: Subscription = standin
        .get(&format!("/v1/subscriptions/{}", made[1]))
        .shape("a subscription");
    let item_id = target.items.data[0].id.clone();
    let mut params = UpdateSubscriptionItem::new();
    params.quantity = Some(5);
    params.proration_behavior = Some(SubscriptionProrationBehavior::None);
    let updated = SubscriptionItem::update(&client, &item_id, params)
        .await
        .unwrap();
    assert_eq!(updated.quantity, Some(5));
    let state = standin.request("GET", "/_test/state", &[], "").json();
    let recorded = state["subscriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == made[1].as_str())
        .expect("the subscription in /_test/state");
    assert_eq!(recorded["items"]["data"][0]["quantity"], 5);
    assert_eq!(
        recorded["items"]["data"][0]["last_proration_behavior"],
        "none"
    );
    let _: Vec<Subscription> = serde_json::from_value(state["subscriptions"].clone())
        .expect("/_test/state subscriptions are Stripe subscriptions");
    let bogus = standin.api(
        "POST",
        &format!("/v1/subscription_items/{item_id}"),
        &[],
        "quantity=6&proration_behavior=sometimes",
    );
    assert_eq!(
        (bogus.status, bogus.json()["error"]["param"].clone()),
        (400, json!("proration_behavior"))
    );

    // Events: with no webhook URL nothing is delivered, so every event is listed as not delivered.
    let all = Event::list(
        &client,
        &ListEvents {
            limit: Some(100),
            ..ListEvents::new()
        },
    )
    .await
    .unwrap();
    assert!(all.data.len() >= 10, "too few events: {}", all.data.len());
    let undelivered = Event::list(
        &client,
        &ListEvents {
            delivery_success: Some(false),
            limit: Some(100),
            ..ListEvents::new()
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&undelivered.data), ids(&all.data));
    let delivered = Event::list(
        &client,
        &ListEvents {
            delivery_success: Some(true),
            ..ListEvents::new()
        },
    )
    .await
    .unwrap();
    assert!(delivered.data.is_empty());
    let updates = Event::list(
        &client,
        &ListEvents {
            type_: Some("customer.subscription.updated"),
            ..ListEvents::new()
        },
    )
    .await
    .unwrap();
    assert!(!updates.data.is_empty());
    assert!(updates
        .data
        .iter()
        .all(|e| e.type_ == EventType::CustomerSubscriptionUpdated));
    let params = ListEvents {
        limit: Some(3),
        ..ListEvents::new()
    };
    let page = Event::list(&client, &params).await.unwrap();
    let next = page.paginate(params).next(&client).await.unwrap();
    assert_eq!(ids(&next.page.data), ids(&all.data[3..6]));

    // Every object kind served, raw, through async-stripe's types.
    let _: Customer = standin
        .get(&format!("/v1/customers/{}", owner.id))
        .shape("a customer");
    let _: List<Customer> = standin
        .get("/v1/customers?limit=100")
        .list("the customer list");
    let _: Subscription = standin
        .get(&format!("/v1/subscriptions/{subscription_id}"))
        .shape("a subscription");
    let expanded: Subscription = standin
        .get(&format!(
            "/v1/subscriptions/{subscription_id}?expand[]=customer&expand[]=latest_invoice"
        ))
        .shape("an expanded subscription");
    assert!(matches!(expanded.customer, Expandable::Object(_)));
    assert!(matches!(
        expanded.latest_invoice,
        Some(Expandable::Object(_))
    ));
    let _: List<Subscription> = standin
        .get("/v1/subscriptions?status=all&limit=100")
        .list("the subscription list");
    let _: SubscriptionItem = standin
        .get(&format!("/v1/subscription_items/{item_id}"))
        .shape("a subscription item");
    let _: List<SubscriptionItem> = standin
        .get(&format!("/v1/subscription_items?subscription={}", made[1]))
        .list("the subscription item list");
    let _: CheckoutSession = standin
        .get(&format!("/v1/checkout/sessions/{}", session.id))
        .shape("a Checkout session");
    let _: BillingPortalSession = standin
        .api(
            "POST",
            "/v1/billing_portal/sessions",
            &[],
            &format!("customer={}", owner.id),
        )
        .shape("a portal session");
    let events: List<Event> = standin.get("/v1/events?limit=100").list("the event list");
    for event in &events.data {
        let _: Event = standin
            .get(&format!("/v1/events/{}", event.id))
            .shape("an event");
    }
    let team: Price = standin.get("/v1/prices/price_sme_team").shape("a price");
    assert_eq!(team.unit_amount, Some(1500));
    let product = team.product.expect("a price names its product").id();
    let product: Product = standin
        .get(&format!("/v1/products/{product}"))
        .shape("a product");
    assert_eq!(product.name.as_deref(), Some("Team"));
    let missing = standin.get("/v1/subscriptions/sub_nosuchsubscription");
    assert_eq!(missing.status, 404);
    let e: stripe::RequestError = serde_json::from_value(missing.json()["error"].clone()).unwrap();
    assert_eq!(
        (e.error_type, e.code),
        (ErrorType::InvalidRequest, Some(ErrorCode::ResourceMissing))
    );
}

/// One webhook request as received.
struct Delivery {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Delivery {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn read_delivery(stream: &TcpStream) -> Option<Delivery> {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    reader.read_line(&mut request_line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")?
        .1
        .parse()
        .ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Delivery {
        request_line: request_line.trim_end().to_string(),
        headers,
        body,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_signed_by_stripes_npm_package_pass_our_verifier() {
    let secret = "whsec_standinCrossCheck";
    let secrets = WebhookSecrets::parse(secret).unwrap();
    // The receiver answers as Enclave's endpoint would: 200 when our verifier accepts the
    // signature, 400 when it does not.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let hook_port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel::<Delivery>();
    let receiver_secrets = secrets.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            let Some(delivery) = read_delivery(&stream) else {
                continue;
            };
            let accepted = stripe_webhook::verify(
                &delivery.body,
                delivery.header("stripe-signature"),
                &receiver_secrets,
                unix_now(),
            )
            .is_ok();
            let status = if accepted {
                "200 OK"
            } else {
                "400 Bad Request"
            };
            let _ = stream.write_all(
                format!("HTTP/1.1 {status}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}")
                    .as_bytes(),
            );
            let _ = tx.send(delivery);
        }
    });
    let standin = Standin::start(&[
        (
            "STRIPE_STANDIN_WEBHOOK_URL",
            format!("http://127.0.0.1:{hook_port}/webhooks/stripe"),
        ),
        ("STRIPE_STANDIN_WEBHOOK_SECRET", secret.to_string()),
        ("STRIPE_STANDIN_RETRY_MS", "100".to_string()),
    ]);
    let client = standin.client();

    let customer = Customer::create(
        &client,
        CreateCustomer {
            email: Some("hook@acme.test"),
            ..CreateCustomer::new()
        },
    )
    .await
    .unwrap();
    let delivery = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the stand-in delivered nothing within 10 s");
    assert_eq!(delivery.request_line, "POST /webhooks/stripe HTTP/1.1");
    assert_eq!(delivery.header("content-type"), Some("application/json"));
    let header = delivery
        .header("stripe-signature")
        .expect("a Stripe-Signature header")
        .to_string();
    let now = unix_now();
    assert_eq!(
        stripe_webhook::verify(&delivery.body, Some(&header), &secrets, now),
        Ok(())
    );
    // The same check refuses another secret, a changed body and a distant clock.
    assert_eq!(
        stripe_webhook::verify(
            &delivery.body,
            Some(&header),
            &WebhookSecrets::parse("whsec_someoneElse").unwrap(),
            now
        ),
        Err(SignatureProblem::NoMatch)
    );
    let mut tampered = delivery.body.clone();
    tampered.push(b' ');
    assert_eq!(
        stripe_webhook::verify(&tampered, Some(&header), &secrets, now),
        Err(SignatureProblem::NoMatch)
    );
    assert!(matches!(
        stripe_webhook::verify(&delivery.body, Some(&header), &secrets, now + 3600),
        Err(SignatureProblem::Stale(_))
    ));
    // async-stripe's own verifier agrees, and the payload is an async-stripe Event.
    let payload = std::str::from_utf8(&delivery.body).unwrap();
    let event = stripe::Webhook::construct_event(payload, &header, secret)
        .expect("async-stripe accepts the delivery");
    assert_eq!(event.type_, EventType::CustomerCreated);
    assert_eq!(event.api_version.as_deref(), Some("2023-10-16"));
    assert!(!event.livemode);
    match &event.data.object {
        EventObject::Customer(c) => assert_eq!(c.id, customer.id),
        other => panic!("customer.created carries {other:?}"),
    }
    let settled = standin.control("/_test/settle", json!({}));
    assert_eq!(settled.status, 200);
    let attempts = standin.request("GET", "/_test/deliveries", &[], "").json();
    assert_eq!(attempts[0]["event_id"], event.id.as_str());
    assert_eq!(
        (
            attempts[0]["status"].clone(),
            attempts[0]["attempt"].clone()
        ),
        (json!(200), json!(1))
    );
    let delivered = Event::list(
        &client,
        &ListEvents {
            delivery_success: Some(true),
            ..ListEvents::new()
        },
    )
    .await
    .unwrap();
    assert_eq!(ids(&delivered.data), vec![event.id.to_string()]);
    assert_eq!(delivered.data[0].pending_webhooks, 0);

    // fail_then_retry: the first attempt carries a wrong signature (our verifier answers
    // 400), the retry a right one (200).
    let mode = standin.control("/_test/delivery", json!({ "mode": "fail_then_retry" }));
    assert_eq!(mode.json(), json!({ "mode": "fail_then_retry" }));
    Customer::create(
        &client,
        CreateCustomer {
            email: Some("retry@acme.test"),
            ..CreateCustomer::new()
        },
    )
    .await
    .unwrap();
    let refused = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a first attempt");
    let retried = rx.recv_timeout(Duration::from_secs(10)).expect("a retry");
    assert_eq!(
        refused.body, retried.body,
        "every attempt sends the same payload"
    );
    assert_eq!(
        stripe_webhook::verify(
            &refused.body,
            refused.header("stripe-signature"),
            &secrets,
            unix_now()
        ),
        Err(SignatureProblem::NoMatch)
    );
    assert_eq!(
        stripe_webhook::verify(
            &retried.body,
            retried.header("stripe-signature"),
            &secrets,
            unix_now()
        ),
        Ok(())
    );
    standin.control("/_test/settle", json!({}));
    let attempts = standin.request("GET", "/_test/deliveries", &[], "").json();
    let statuses: Vec<(Value, Value)> = attempts.as_array().unwrap()[1..]
        .iter()
        .map(|a| (a["status"].clone(), a["attempt"].clone()))
        .collect();
    assert_eq!(
        statuses,
        vec![(json!(400), json!(1)), (json!(200), json!(2))]
    );
}
