//! The calls Enclave makes to Stripe's API, through async-stripe 0.41's types. The same
//! code talks to Stripe or to the stand-in in `end2end/stripe/`: only the base URL and
//! the key differ (configuration, never a test branch). Every call has a time limit.

use std::collections::BTreeMap;
use std::time::Duration;
use stripe::{
    BillingPortalSession, CheckoutSession, CheckoutSessionMode, Client, CreateBillingPortalSession,
    CreateCheckoutSession, CreateCheckoutSessionCustomerUpdate,
    CreateCheckoutSessionCustomerUpdateAddress, CreateCheckoutSessionLineItems,
    CreateCheckoutSessionSubscriptionData, CreateCustomer, Customer, CustomerId, ListCustomers,
    ListSubscriptions, RequestStrategy, StripeError, Subscription, SubscriptionItem,
    SubscriptionStatusFilter, UpdateSubscriptionItem,
};
use time::OffsetDateTime;
use uuid::Uuid;

/// The API version async-stripe 0.41 pins (its `VERSION`, not exported); events rendered in another version are
/// still processed (processing fetches, it never reads the payload) but logged.
pub const API_VERSION: &str = "2023-10-16";

/// How long one call to Stripe may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

/// Which Stripe price sells which plan: `ENCLAVE_STRIPE_PRICES=plan=price_…,…`. Prices
/// are configuration, so test and live keys differ only there.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PriceCatalog {
    price_by_plan: BTreeMap<String, String>,
}

impl PriceCatalog {
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut price_by_plan = BTreeMap::new();
        for pair in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (plan, price) = pair
                .split_once('=')
                .map(|(a, b)| (a.trim(), b.trim()))
                .filter(|(a, b)| !a.is_empty() && b.starts_with("price_"))
                .ok_or_else(|| {
                    format!("ENCLAVE_STRIPE_PRICES: {pair:?} is not plan=price_… (e.g. sme_team=price_123)")
                })?;
            if price_by_plan
                .insert(plan.to_string(), price.to_string())
                .is_some()
            {
                return Err(format!(
                    "ENCLAVE_STRIPE_PRICES: plan {plan} is listed twice"
                ));
            }
        }
        Ok(Self { price_by_plan })
    }

    pub fn price_of(&self, plan: &str) -> Option<&str> {
        self.price_by_plan.get(plan).map(String::as_str)
    }

    pub fn plan_of(&self, price: &str) -> Option<&str> {
        self.price_by_plan
            .iter()
            .find(|(_, p)| p.as_str() == price)
            .map(|(plan, _)| plan.as_str())
    }

    pub fn plans(&self) -> impl Iterator<Item = &str> {
        self.price_by_plan.keys().map(String::as_str)
    }
}

/// Why a call to Stripe failed (logged; people see plain words chosen by the caller).
#[derive(Debug, thiserror::Error)]
pub enum StripeCallError {
    #[error("Stripe did not answer within {} s", CALL_TIMEOUT.as_secs())]
    Timeout,
    #[error("Stripe answered {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("Stripe could not be reached: {0}")]
    Unreachable(String),
    #[error("Stripe's answer could not be read: {0}")]
    Unreadable(String),
}

impl StripeCallError {
    /// Whether trying again later may succeed (Stripe down, slow, rate limiting, 5xx).
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Timeout | Self::Unreachable(_) => true,
            // 401/403: a key rotated at Stripe before the configuration was; the events
            // must wait for the new key, not die.
            Self::Refused { status, .. } => matches!(*status, 401 | 403 | 429) || *status >= 500,
            Self::Unreadable(_) => false,
        }
    }

    /// Stripe says the object does not exist.
    pub fn is_missing(&self) -> bool {
        matches!(self, Self::Refused { status: 404, .. })
    }
}

impl From<StripeError> for StripeCallError {
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::Stripe(r) => Self::Refused {
                status: r.http_status,
                message: r.message.unwrap_or_else(|| format!("{:?}", r.error_type)),
            },
            StripeError::Timeout => Self::Timeout,
            StripeError::ClientError(m) => Self::Unreachable(m),
            other => Self::Unreadable(other.to_string()),
        }
    }
}

/// What Enclave keeps of a subscription, read from the object Stripe returned.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedSubscription {
    pub id: String,
    pub customer: String,
    /// Stripe's status, as Stripe spells it.
    pub status: String,
    pub price_id: Option<String>,
    pub item_id: Option<String>,
    pub quantity: Option<u64>,
    pub period_start: OffsetDateTime,
    pub period_end: OffsetDateTime,
    pub trial_end: Option<OffsetDateTime>,
    pub cancel_at_period_end: bool,
    pub created: i64,
}

impl FetchedSubscription {
    fn from_stripe(s: &Subscription) -> Self {
        let at =
            |t: i64| OffsetDateTime::from_unix_timestamp(t).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let item = s.items.data.first();
        Self {
            id: s.id.to_string(),
            customer: s.customer.id().to_string(),
            status: s.status.as_str().to_string(),
            price_id: item
                .and_then(|i| i.price.as_ref())
                .map(|p| p.id.to_string()),
            item_id: item.map(|i| i.id.to_string()),
            quantity: item.and_then(|i| i.quantity),
            period_start: at(s.current_period_start),
            period_end: at(s.current_period_end),
            trial_end: s.trial_end.map(at),
            cancel_at_period_end: s.cancel_at_period_end,
            created: s.created,
        }
    }

    /// Whether this subscription still bills (anything but ended ones).
    pub fn is_live(&self) -> bool {
        !matches!(self.status.as_str(), "canceled" | "incomplete_expired")
    }
}

/// The one subscription that decides an organization's plan: the newest live one, else
/// the newest of all (a canceled one keeps Free limits and shows what ended).
pub fn deciding_subscription(subs: &[FetchedSubscription]) -> Option<&FetchedSubscription> {
    subs.iter()
        .filter(|s| s.is_live())
        .max_by_key(|s| (s.created, s.id.clone()))
        .or_else(|| subs.iter().max_by_key(|s| (s.created, s.id.clone())))
}

pub struct StripeApi {
    client: Client,
    pub prices: PriceCatalog,
    /// Where Checkout and the Portal live, for the pages' `form-action` (a form posting
    /// to "Choose a plan" without JavaScript is redirected there).
    pub hosted_origins: String,
}

async fn timed<T>(
    call: impl std::future::Future<Output = Result<T, StripeError>>,
) -> Result<T, StripeCallError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result.map_err(StripeCallError::from),
        Err(_) => Err(StripeCallError::Timeout),
    }
}

fn customer_id(id: &str) -> Result<CustomerId, StripeCallError> {
    id.parse()
        .map_err(|_| StripeCallError::Unreadable(format!("{id:?} is not a customer id")))
}

impl StripeApi {
    /// `api_base` is Stripe's own API unless given (`ENCLAVE_STRIPE_API_BASE`).
    pub fn new(
        secret_key: &str,
        api_base: Option<&str>,
        prices: PriceCatalog,
    ) -> Result<Self, String> {
        let base = api_base.unwrap_or("https://api.stripe.com/");
        let parsed = url::Url::parse(base)
            .map_err(|e| format!("ENCLAVE_STRIPE_API_BASE {base:?} is not a URL: {e}"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!(
                "ENCLAVE_STRIPE_API_BASE {base:?} must be http or https"
            ));
        }
        let hosted_origins = if parsed.host_str() == Some("api.stripe.com") {
            "https://checkout.stripe.com https://billing.stripe.com".to_string()
        } else {
            parsed.origin().ascii_serialization()
        };
        let base = if base.ends_with('/') {
            base.to_string()
        } else {
            format!("{base}/")
        };
        Ok(Self {
            hosted_origins,
            client: Client::from_url(base.as_str(), secret_key).with_app_info(
                "enclave".into(),
                Some(env!("CARGO_PKG_VERSION").into()),
                None,
            ),
            prices,
        })
    }

    /// The organization's customer, created at most once: the idempotency key is derived
    /// from the organization, so two first clicks at once get the same customer.
    pub async fn create_customer(
        &self,
        org_id: Uuid,
        name: &str,
        email: Option<&str>,
    ) -> Result<String, StripeCallError> {
        // Stripe refuses a key replayed with other parameters, so the key names them too:
        // the same request from two first clicks is one customer; a renamed organization
        // retrying a day later makes a new one (the first was never recorded, and
        // reconciliation reports it).
        let key = {
            use sha2::{Digest, Sha256};
            let digest = Sha256::digest(format!("{name}\n{}", email.unwrap_or_default()));
            format!("customer:{org_id}:{}", hex_prefix(&digest))
        };
        let client = self
            .client
            .clone()
            .with_strategy(RequestStrategy::Idempotent(key));
        let mut params = CreateCustomer::new();
        params.name = Some(name);
        params.email = email;
        params.metadata = Some([("org_id".to_string(), org_id.to_string())].into());
        let customer = timed(Customer::create(&client, params)).await?;
        Ok(customer.id.to_string())
    }

    /// A Checkout session (subscription mode) for one plan; returns the page to send the
    /// owner to.
    #[allow(clippy::too_many_arguments)]
    pub async fn checkout(
        &self,
        customer: &str,
        org_id: Uuid,
        price: &str,
        quantity: u64,
        success_url: &str,
        cancel_url: &str,
    ) -> Result<String, StripeCallError> {
        let org = org_id.to_string();
        let mut params = CreateCheckoutSession::new();
        params.mode = Some(CheckoutSessionMode::Subscription);
        params.customer = Some(customer_id(customer)?);
        params.client_reference_id = Some(&org);
        params.success_url = Some(success_url);
        params.cancel_url = Some(cancel_url);
        params.line_items = Some(vec![CreateCheckoutSessionLineItems {
            price: Some(price.to_string()),
            quantity: Some(quantity),
            ..Default::default()
        }]);
        params.subscription_data = Some(CreateCheckoutSessionSubscriptionData {
            metadata: Some([("org_id".to_string(), org.clone())].into()),
            ..Default::default()
        });
        // Automatic tax needs the customer's address; Checkout may write it back (BILLING-NOTES case 10).
        params.customer_update = Some(CreateCheckoutSessionCustomerUpdate {
            address: Some(CreateCheckoutSessionCustomerUpdateAddress::Auto),
            ..Default::default()
        });
        let session = timed(CheckoutSession::create(&self.client, params)).await?;
        session
            .url
            .ok_or_else(|| StripeCallError::Unreadable("the Checkout session has no url".into()))
    }

    /// A Customer Portal session; returns the page to send the owner to.
    pub async fn portal(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, StripeCallError> {
        let mut params = CreateBillingPortalSession::new(customer_id(customer)?);
        params.return_url = Some(return_url);
        let session = timed(BillingPortalSession::create(&self.client, params)).await?;
        Ok(session.url)
    }

    /// Every subscription of the customer, canceled ones included, all pages.
    pub async fn subscriptions_of(
        &self,
        customer: &str,
    ) -> Result<Vec<FetchedSubscription>, StripeCallError> {
        let mut params = ListSubscriptions::new();
        params.customer = Some(customer_id(customer)?);
        params.status = Some(SubscriptionStatusFilter::All);
        params.limit = Some(100);
        let mut page = timed(Subscription::list(&self.client, &params)).await?;
        let mut all: Vec<FetchedSubscription> = page
            .data
            .iter()
            .map(FetchedSubscription::from_stripe)
            .collect();
        while page.has_more {
            let Some(last) = page.data.last() else { break };
            params.starting_after = Some(last.id.clone());
            page = timed(Subscription::list(&self.client, &params)).await?;
            all.extend(page.data.iter().map(FetchedSubscription::from_stripe));
        }
        Ok(all)
    }

    /// Every subscription of the account (canceled ones included), all pages: what
    /// reconciliation compares, a hundred at a time instead of a call per customer.
    pub async fn all_subscriptions(&self) -> Result<Vec<FetchedSubscription>, StripeCallError> {
        let mut params = ListSubscriptions::new();
        params.status = Some(SubscriptionStatusFilter::All);
        params.limit = Some(100);
        let mut all = Vec::new();
        loop {
            let page = timed(Subscription::list(&self.client, &params)).await?;
            all.extend(page.data.iter().map(FetchedSubscription::from_stripe));
            match page.data.last() {
                Some(last) if page.has_more => params.starting_after = Some(last.id.clone()),
                _ => return Ok(all),
            }
        }
    }

    /// One call that needs a valid key: the first customer of the account (`enclave
    /// doctor`).
    pub async fn check(&self) -> Result<(), StripeCallError> {
        let mut params = ListCustomers::new();
        params.limit = Some(1);
        timed(Customer::list(&self.client, &params)).await?;
        Ok(())
    }

    /// One page of the account's customers: (id, the organization in its metadata).
    pub async fn customers_page(
        &self,
        starting_after: Option<&str>,
    ) -> Result<(Vec<(String, Option<Uuid>)>, bool), StripeCallError> {
        let mut params = ListCustomers::new();
        params.limit = Some(100);
        params.starting_after = starting_after.map(customer_id).transpose()?;
        let page = timed(Customer::list(&self.client, &params)).await?;
        let customers = page
            .data
            .iter()
            .map(|c| {
                let org = c
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get("org_id"))
                    .and_then(|v| v.parse().ok());
                (c.id.to_string(), org)
            })
            .collect();
        Ok((customers, page.has_more))
    }

    /// Events whose delivery to every endpoint failed (raw JSON, as a delivery carries
    /// them: the ledger keeps what Stripe sent, whatever its object type), all pages.
    pub async fn undelivered_events(&self) -> Result<Vec<serde_json::Value>, StripeCallError> {
        #[derive(serde::Serialize)]
        struct Params<'a> {
            delivery_success: bool,
            limit: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            starting_after: Option<&'a str>,
        }
        let mut all: Vec<serde_json::Value> = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let params = Params {
                delivery_success: false,
                limit: 100,
                starting_after: after.as_deref(),
            };
            let page: stripe::List<serde_json::Value> =
                timed(self.client.get_query("/events", &params)).await?;
            let last = page
                .data
                .last()
                .and_then(|e| e["id"].as_str())
                .map(str::to_string);
            all.extend(page.data);
            match last {
                Some(id) if page.has_more => after = Some(id),
                _ => return Ok(all),
            }
        }
    }

    /// The organization id a customer was created for (its metadata), for a customer
    /// Enclave has no row of.
    pub async fn customer_org(&self, customer: &str) -> Result<Option<Uuid>, StripeCallError> {
        let c = timed(Customer::retrieve(
            &self.client,
            &customer_id(customer)?,
            &[],
        ))
        .await?;
        Ok(c.metadata
            .as_ref()
            .and_then(|m| m.get("org_id"))
            .and_then(|v| v.parse().ok()))
    }

    /// Sets a per-seat item's quantity. `key` makes a repeat of the same change a no-op
    /// at Stripe; prorations are explicit (BILLING-NOTES case 9).
    pub async fn set_quantity(
        &self,
        item_id: &str,
        quantity: u64,
        key: String,
    ) -> Result<(), StripeCallError> {
        let client = self
            .client
            .clone()
            .with_strategy(RequestStrategy::Idempotent(key));
        let id = item_id
            .parse()
            .map_err(|_| StripeCallError::Unreadable(format!("{item_id:?} is not an item id")))?;
        let mut params = UpdateSubscriptionItem::new();
        params.quantity = Some(quantity);
        // Two enums of this name are exported (subscription and item); the field's own
        // type is reached through its serialized form.
        params.proration_behavior = serde_json::from_value(serde_json::json!("create_prorations"))
            .map_err(|e| StripeCallError::Unreadable(e.to_string()))?;
        timed(SubscriptionItem::update(&client, &id, params)).await?;
        Ok(())
    }
}

fn hex_prefix(bytes: &[u8]) -> String {
    bytes.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_come_from_configuration() {
        let c = PriceCatalog::parse("sme_team=price_1, agency_scale = price_2").unwrap();
        assert_eq!(c.price_of("sme_team"), Some("price_1"));
        assert_eq!(c.plan_of("price_2"), Some("agency_scale"));
        assert_eq!(c.plan_of("price_3"), None);
        assert!(PriceCatalog::parse("sme_team=prod_1").is_err());
        assert!(PriceCatalog::parse("sme_team=price_1,sme_team=price_2").is_err());
        assert_eq!(PriceCatalog::parse("").unwrap(), PriceCatalog::default());
    }

    fn sub(id: &str, status: &str, created: i64) -> FetchedSubscription {
        FetchedSubscription {
            id: id.into(),
            customer: "cus_1".into(),
            status: status.into(),
            price_id: None,
            item_id: None,
            quantity: None,
            period_start: OffsetDateTime::UNIX_EPOCH,
            period_end: OffsetDateTime::UNIX_EPOCH,
            trial_end: None,
            cancel_at_period_end: false,
            created,
        }
    }

    #[test]
    fn the_newest_live_subscription_decides() {
        let subs = [
            sub("sub_a", "canceled", 30),
            sub("sub_b", "active", 10),
            sub("sub_c", "past_due", 20),
        ];
        assert_eq!(deciding_subscription(&subs).unwrap().id, "sub_c");
        let ended = [
            sub("sub_a", "canceled", 30),
            sub("sub_b", "incomplete_expired", 40),
        ];
        assert_eq!(deciding_subscription(&ended).unwrap().id, "sub_b");
        assert!(deciding_subscription(&[]).is_none());
    }
}
