//! /billing: the organization's plan, status, seats and usage, and the ways to change
//! them (Stripe Checkout to choose a plan, the Customer Portal to manage it). Owners
//! manage; admins and members see it read-only. What the page shows is what the database
//! holds, written only from Stripe's fetched state (processing.rs): coming back from
//! Checkout, the page waits for that state instead of trusting the redirect's query.

#[cfg(feature = "ssr")]
pub mod processing;
#[cfg(feature = "ssr")]
pub mod stripe_api;

use crate::error::AppError;
use crate::layout::ErrorNotice;
use leptos::prelude::*;
use leptos_meta::Title;
use serde::{Deserialize, Serialize};

/// One plan the organization could be on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanChoice {
    pub plan_id: String,
    pub name: String,
    pub price: String,
    pub limits: Vec<String>,
    pub current: bool,
    /// A Stripe price is configured for it (Free never is).
    pub purchasable: bool,
}

/// Something counted against a limit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    pub label: String,
    pub used: i64,
    /// `None`: unlimited.
    pub allowed: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BillingData {
    pub can_manage: bool,
    /// Stripe keys are configured on this server.
    pub configured: bool,
    pub plan_name: String,
    /// none (Free), trialing, active, past_due, canceled or incomplete.
    pub status: String,
    pub grace_ends: Option<String>,
    /// Past due beyond the grace period: writes are refused until it is paid.
    pub read_only: bool,
    pub renews: Option<String>,
    pub trial_ends: Option<String>,
    pub cancel_at_period_end: bool,
    pub has_customer: bool,
    /// Why the platform granted the plan in force, when it did (no subscription).
    pub granted: Option<String>,
    pub usage: Vec<Usage>,
    pub plans: Vec<PlanChoice>,
}

/// The billing service of this server: Stripe (or its stand-in), or the reason there is
/// none. Provided as context by the server.
#[cfg(feature = "ssr")]
#[derive(Clone)]
pub enum Billing {
    Configured(std::sync::Arc<stripe_api::StripeApi>),
    NotConfigured(String),
}

#[cfg(feature = "ssr")]
fn billing_service() -> Billing {
    use_context::<Billing>()
        .unwrap_or_else(|| Billing::NotConfigured("no billing service in this process".into()))
}

#[cfg(feature = "ssr")]
fn money(cents: i32) -> String {
    if cents % 100 == 0 {
        format!("${}", cents / 100)
    } else {
        format!("${}.{:02}", cents / 100, cents % 100)
    }
}

#[cfg(feature = "ssr")]
fn limit_words(n: Option<i32>, what: &str) -> String {
    match n {
        Some(n) => format!("{n} {what}"),
        None => format!("Unlimited {what}"),
    }
}

#[server(endpoint = "billing")]
pub async fn get_billing() -> Result<BillingData, AppError> {
    let ctx = crate::session::require_context().await?;
    let mut tx = crate::session::transaction(&ctx).await?;
    // Three one-table statements by the organization's key, kept from when org_billing
    // was a distributed table on Citus (a reference table LEFT JOIN a distributed one
    // under row-level security crashed the coordinator; docs/citus/upstream/): simple,
    // and each an index lookup on one node or the other.
    let (plan_id, plan_name, seats, clients, outputs): (
        String,
        String,
        Option<i32>,
        Option<i32>,
        Option<i32>,
    ) = tx
        .query_as(
            "SELECT p.plan_id, p.name, l.seats, l.client_workspaces, l.outputs_per_period
               FROM enclave.plans p CROSS JOIN enclave.current_limits() l
              WHERE p.plan_id = enclave.current_plan()",
        )
        .fetch_one(tx.conn())
        .await?;
    type Subscription = (
        String,
        Option<time::OffsetDateTime>,
        Option<time::OffsetDateTime>,
        Option<time::OffsetDateTime>,
        bool,
        Option<String>,
    );
    let subscription: Option<Subscription> = tx
        .query_as(
            "SELECT b.status, b.grace_ends_at, b.current_period_end, b.trial_ends_at,
                    b.cancel_at_period_end, b.stripe_customer_id
               FROM public.org_billing b WHERE b.org_id = $1",
        )
        .bind(ctx.org_id())
        .fetch_optional(tx.conn())
        .await?;
    let (status, grace, period_end, trial_end, cancel_at_end, customer) = match subscription {
        Some((status, grace, period_end, trial_end, cancel_at_end, customer)) => (
            Some(status),
            grace,
            period_end,
            trial_end,
            Some(cancel_at_end),
            customer,
        ),
        None => (None, None, None, None, None, None),
    };
    let granted: Option<String> = tx
        .query_scalar(
            "SELECT g.reason FROM enclave.plan_grants g
              WHERE g.org_id = $1 AND g.plan_id = $2 AND (g.expires_at IS NULL OR g.expires_at > now())
              LIMIT 1",
        )
        .bind(ctx.org_id())
        .bind(&plan_id)
        .fetch_optional(tx.conn())
        .await?;
    let (seats_used, clients_used, outputs_used): (i64, i64, i64) = tx
        .query_as("SELECT o_seats, o_client_workspaces, o_outputs FROM enclave.billing_usage()")
        .fetch_one(tx.conn())
        .await?;
    let catalog: Vec<(String, String, bool, bool, i32, Option<i32>, Option<i32>, Option<i32>)> = tx
        .query_as(
            "SELECT p.plan_id, p.name, p.is_free, p.per_seat, p.monthly_price_cents, p.seats,
                    p.client_workspaces, p.outputs_per_period
               FROM enclave.plans p
               JOIN public.organizations o ON o.kind = p.org_kind AND o.id = enclave.current_org_id()
              ORDER BY p.monthly_price_cents, p.plan_id",
        )
        .fetch_all(tx.conn())
        .await?;
    tx.commit().await?;

    let billing = billing_service();
    let prices = match &billing {
        Billing::Configured(api) => Some(api.prices.clone()),
        Billing::NotConfigured(_) => None,
    };
    let date = |t: time::OffsetDateTime| format!("{} {} {}", t.day(), t.month(), t.year());
    let status = status.unwrap_or_else(|| "none".to_string());
    let now = time::OffsetDateTime::now_utc();
    let mut usage = vec![Usage {
        label: if ctx.role() == tenancy::Role::Member {
            "Seats (members)".into()
        } else {
            "Seats (members and pending invitations)".into()
        },
        used: seats_used,
        // A per-seat plan has no seat limit of its own; an admin's override may set one.
        allowed: seats.map(i64::from),
    }];
    // The catalog decides what a plan limits: only agency plans carry a client limit
    // (a CHECK on enclave.plans), so no kind is branched on here.
    if let Some(limit) = clients {
        usage.push(Usage {
            label: "Client workspaces".into(),
            used: clients_used,
            allowed: Some(i64::from(limit)),
        });
    }
    usage.push(Usage {
        label: "Generated outputs this period".into(),
        used: outputs_used,
        allowed: outputs.map(i64::from),
    });
    Ok(BillingData {
        can_manage: ctx.role() == tenancy::Role::Owner,
        configured: prices.is_some(),
        plan_name: plan_name.clone(),
        read_only: status == "past_due" && grace.is_some_and(|g| g < now),
        grace_ends: grace.filter(|_| status == "past_due").map(date),
        renews: period_end
            .filter(|_| matches!(status.as_str(), "active" | "trialing" | "past_due"))
            .map(date),
        trial_ends: trial_end.filter(|_| status == "trialing").map(date),
        cancel_at_period_end: cancel_at_end.unwrap_or(false),
        has_customer: customer.is_some(),
        granted: granted.filter(|_| !matches!(status.as_str(), "trialing" | "active" | "past_due")),
        status,
        usage,
        plans: catalog
            .into_iter()
            .map(|(id, name, is_free, per, cents, s, c, o)| PlanChoice {
                current: id == plan_id,
                purchasable: !is_free && prices.as_ref().is_some_and(|p| p.price_of(&id).is_some()),
                price: match (is_free, per) {
                    (true, _) => "$0 a month".into(),
                    (false, true) => format!("{} per seat a month", money(cents)),
                    (false, false) => format!("{} a month", money(cents)),
                },
                limits: [
                    Some(if per {
                        "Seats as you need them".into()
                    } else {
                        limit_words(s, "seats")
                    }),
                    c.map(|c| limit_words(Some(c), "client workspaces")),
                    Some(limit_words(o, "generated outputs a month")),
                ]
                .into_iter()
                .flatten()
                .collect(),
                plan_id: id,
                name,
            })
            .collect(),
    })
}

#[cfg(feature = "ssr")]
fn not_configured(reason: &str) -> AppError {
    tracing::warn!(%reason, "billing action asked for, but billing is not configured");
    AppError::NotAvailable(
        "Billing is not set up on this server yet, so plans cannot be changed here. Ask the operator to configure Stripe.".into(),
    )
}

#[cfg(feature = "ssr")]
fn stripe_failed(e: &stripe_api::StripeCallError) -> AppError {
    let request_id = crate::error::new_request_id();
    tracing::error!(%request_id, error = %e, "a call to Stripe failed");
    AppError::NotAvailable(format!(
        "Stripe could not be reached just now, so nothing was changed. Try again in a minute (reference {request_id})."
    ))
}

/// The organization's Stripe customer: the recorded one, or a new one recorded now.
#[cfg(feature = "ssr")]
async fn customer_for(
    api: &stripe_api::StripeApi,
    ctx: &tenancy::TenantContext,
) -> Result<String, AppError> {
    let db = crate::session::db()?;
    let mut tx = db.begin(ctx).await?;
    let known: Option<String> = tx
        .query_scalar("SELECT stripe_customer_id FROM public.org_billing WHERE org_id = enclave.current_org_id()")
        .fetch_optional(tx.conn())
        .await?;
    tx.commit().await?;
    if let Some(customer) = known {
        return Ok(customer);
    }
    // Stripe holds the call while the transaction is closed; the record below settles a race.
    let created = api
        .create_customer(
            ctx.org_id(),
            ctx.org_name(),
            Some(ctx.user_email()).filter(|e| !e.is_empty()),
        )
        .await
        .map_err(|e| stripe_failed(&e))?;
    let mut tx = db.begin(ctx).await?;
    let recorded: String = tx
        .query_scalar("SELECT enclave.record_billing_customer($1)")
        .bind(&created)
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    if recorded != created {
        tracing::warn!(org_id = %ctx.org_id(), %created, %recorded, "a second Stripe customer was made for one organization; the first one is used");
    }
    Ok(recorded)
}

/// Opens Stripe Checkout for a plan (owners only). The browser is sent to Stripe's page.
#[server(endpoint = "choose_plan")]
pub async fn choose_plan(plan_id: String) -> Result<(), AppError> {
    let ctx = crate::session::require_context().await?;
    if ctx.role() != tenancy::Role::Owner {
        return Err(AppError::NoAccess(
            "only owners can change the plan.".into(),
        ));
    }
    let api = match billing_service() {
        Billing::Configured(api) => api,
        Billing::NotConfigured(reason) => return Err(not_configured(&reason)),
    };
    let Some(price) = api.prices.price_of(&plan_id).map(str::to_string) else {
        return Err(AppError::Invalid(
            "choose one of the plans listed on this page.".into(),
        ));
    };
    let db = crate::session::db()?;
    let mut tx = db.begin(&ctx).await?;
    let (kind_ok, per_seat, seats, live): (bool, bool, i64, bool) = tx
        .query_as(
            "SELECT p.org_kind = o.kind, p.per_seat,
                    -- Billed seats are members; invitations count once accepted.
                    (SELECT count(*) FROM public.memberships m WHERE m.org_id = o.id),
                    EXISTS (SELECT 1 FROM public.org_billing b WHERE b.org_id = o.id
                             AND b.status IN ('trialing', 'active', 'past_due', 'incomplete'))
               FROM enclave.plans p JOIN public.organizations o ON o.id = enclave.current_org_id()
              WHERE p.plan_id = $1",
        )
        .bind(&plan_id)
        .fetch_optional(tx.conn())
        .await?
        .ok_or_else(|| AppError::Invalid("choose one of the plans listed on this page.".into()))?;
    tx.commit().await?;
    if !kind_ok {
        return Err(AppError::Invalid(
            "choose one of the plans listed on this page.".into(),
        ));
    }
    if live {
        // A second Checkout would start a second subscription, billed next to the first.
        return Err(AppError::Conflict(
            "This organization already has a subscription. Change its plan with Manage billing."
                .into(),
        ));
    }
    let customer = customer_for(&api, &ctx).await?;
    // Stripe's word, not only ours: a subscription paid a moment ago may not be
    // processed yet, and a second Checkout would bill twice.
    let existing = api
        .subscriptions_of(&customer)
        .await
        .map_err(|e| stripe_failed(&e))?;
    if existing.iter().any(|s| s.is_live()) {
        return Err(AppError::Conflict(
            "This organization already has a subscription (it may still be confirming). Change its plan with Manage billing.".into(),
        ));
    }
    let base = use_context::<crate::ServerEnv>()
        .map(|e| e.public_url)
        .unwrap_or_default();
    let url = api
        .checkout(
            &customer,
            ctx.org_id(),
            &price,
            if per_seat { seats.max(1) as u64 } else { 1 },
            &format!("{base}/billing?checkout=done"),
            &format!("{base}/billing"),
        )
        .await
        .map_err(|e| stripe_failed(&e))?;
    tracing::info!(org_id = %ctx.org_id(), %plan_id, "Checkout opened");
    leptos_axum::redirect(&url);
    Ok(())
}

/// Opens the Stripe Customer Portal (owners only).
#[server(endpoint = "manage_billing")]
pub async fn manage_billing() -> Result<(), AppError> {
    let ctx = crate::session::require_context().await?;
    if ctx.role() != tenancy::Role::Owner {
        return Err(AppError::NoAccess("only owners can manage billing.".into()));
    }
    let api = match billing_service() {
        Billing::Configured(api) => api,
        Billing::NotConfigured(reason) => return Err(not_configured(&reason)),
    };
    let customer = customer_for(&api, &ctx).await?;
    let base = use_context::<crate::ServerEnv>()
        .map(|e| e.public_url)
        .unwrap_or_default();
    let url = api
        .portal(&customer, &format!("{base}/billing?portal=done"))
        .await
        .map_err(|e| stripe_failed(&e))?;
    leptos_axum::redirect(&url);
    Ok(())
}

fn status_words(d: &BillingData) -> String {
    match d.status.as_str() {
        "trialing" => match &d.trial_ends {
            Some(t) => format!("Trial, ends {t}"),
            None => "Trial".into(),
        },
        "active" if d.cancel_at_period_end => match &d.renews {
            Some(r) => format!("Active, ends {r} (canceled)"),
            None => "Active, canceled at the end of the period".into(),
        },
        "active" => "Active".into(),
        "past_due" if d.read_only => "Payment overdue: read-only until it is paid".into(),
        "past_due" => match &d.grace_ends {
            Some(g) => format!("Payment overdue: full use until {g}"),
            None => "Payment overdue".into(),
        },
        "canceled" => "Canceled: Free limits apply, nothing was deleted".into(),
        "incomplete" => "Waiting for the first payment".into(),
        _ => match &d.granted {
            Some(reason) => format!("Granted by Enclave ({reason})"),
            None => "Free".into(),
        },
    }
}

#[component]
fn UsageBar(u: Usage) -> impl IntoView {
    let text = match u.allowed {
        Some(a) => format!("{} of {}", u.used, a),
        None => format!("{} (no limit)", u.used),
    };
    let full = u.allowed.is_some_and(|a| u.used >= a);
    let bar = u.allowed.map(|a| {
        view! {
            <meter min="0" max=a.max(1).to_string() value=u.used.min(a).to_string()
                optimum="0" high=(a as f64 * 0.8).to_string() aria-label=u.label.clone()>{text.clone()}</meter>
        }
    });
    view! {
        <div class="usage" class:usage-full=full>
            <div class="usage-label"><span>{u.label.clone()}</span><span>{text.clone()}</span></div>
            {bar}
        </div>
    }
}

#[component]
pub fn BillingPage() -> impl IntoView {
    let choose = ServerAction::<ChoosePlan>::new();
    let manage = ServerAction::<ManageBilling>::new();
    let query = leptos_router::hooks::use_query_map();
    // Back from Checkout: the page asks the server again every two seconds until
    // Stripe's confirmation has been processed (the redirect itself proves nothing).
    let returning = query.with_untracked(|q| q.get("checkout").as_deref() == Some("done"));
    let tick = RwSignal::new(0u32);
    let data = Resource::new(move || tick.get(), |_| get_billing());
    if returning {
        Effect::new(move |_| {
            let waiting = data
                .get()
                .and_then(|d| d.ok())
                .is_none_or(|d| !matches!(d.status.as_str(), "active" | "trialing" | "past_due"));
            if waiting && tick.get_untracked() < 45 {
                set_timeout(
                    move || tick.update(|t| *t += 1),
                    std::time::Duration::from_secs(2),
                );
            }
        });
    }
    let busy = move || choose.pending().get() || manage.pending().get();
    view! {
        <Title text="Billing · Enclave"/>
        <h1>"Billing"</h1>
        <div aria-live="polite">
            {move || busy().then(|| view! { <p class="notice" role="status">"Opening Stripe…"</p> })}
            {move || choose.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            {move || manage.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
        </div>
        <Transition fallback=|| view! { <p class="loading">"Loading billing…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! { <BillingView d=d returning=returning choose=choose manage=manage/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn BillingView(
    d: BillingData,
    returning: bool,
    choose: ServerAction<ChoosePlan>,
    manage: ServerAction<ManageBilling>,
) -> impl IntoView {
    let paid = matches!(d.status.as_str(), "active" | "trialing" | "past_due");
    let confirming = (returning && !paid).then(|| view! {
        <div class="notice" role="status" data-testid="confirming">
            <p>"Confirming your payment with Stripe… This page updates as soon as Stripe confirms it."</p>
            <noscript><p><a href="/billing?checkout=done">"Check again"</a></p></noscript>
        </div>
    });
    let confirmed = (returning && paid).then(|| view! {
        <p class="notice ok" role="status" data-testid="confirmed">"Payment confirmed. Your organization is on "{d.plan_name.clone()}"."</p>
    });
    let overdue = (d.status == "past_due").then(|| {
        let words = if d.read_only {
            "Your payment is overdue and the grace period has ended: Enclave is read-only for this organization. Everything is kept; pay the open invoice to write again.".to_string()
        } else {
            format!(
                "Your last payment failed. Everything works until {}; after that Enclave becomes read-only until it is paid.",
                d.grace_ends.clone().unwrap_or_default()
            )
        };
        view! { <div class="notice error" role="alert"><p>{words}</p></div> }
    });
    let not_configured = (!d.configured).then(|| view! {
        <p class="notice">"Billing is not set up on this server yet: plans are shown, but cannot be bought here."</p>
    });
    let read_only_hint = (!d.can_manage).then(|| {
        view! {
            <p class="hint">"Only owners can change the plan or payment details."</p>
        }
    });
    let manage_button = (d.can_manage && d.configured && d.has_customer).then(|| {
        view! {
            <ActionForm action=manage>
                <button type="submit">"Manage billing"</button>
            </ActionForm>
        }
    });
    let renewal = d.renews.clone().map(|r| {
        view! {
            <div><dt>{if d.cancel_at_period_end { "Ends" } else { "Renews" }}</dt><dd>{r}</dd></div>
        }
    });
    let status = status_words(&d);
    // One subscription at a time: while one is live, the plan changes in the Portal.
    // Not while a payment is confirming either: it would start a second subscription.
    let can_buy = d.can_manage && d.configured && !paid && !returning;
    let change_hint = (d.can_manage && d.configured && paid).then(|| {
        view! {
            <p class="hint">"To move to another plan, or to cancel, use Manage billing."</p>
        }
    });
    view! {
        {confirming}
        {confirmed}
        {overdue}
        {not_configured}
        <section aria-labelledby="current-plan" class="billing-card">
            <h2 id="current-plan">"Your plan"</h2>
            <dl class="facts">
                <div><dt>"Plan"</dt><dd data-testid="plan-name">{d.plan_name.clone()}</dd></div>
                <div><dt>"Status"</dt><dd data-testid="plan-status">{status}</dd></div>
                {renewal}
            </dl>
            <h3>"Usage"</h3>
            {d.usage.into_iter().map(|u| view! { <UsageBar u=u/> }).collect_view()}
            <div class="billing-actions">{manage_button}{read_only_hint}</div>
        </section>
        <section aria-labelledby="plans">
            <h2 id="plans">"Plans"</h2>
            {change_hint}
            <ul class="plans">
                {d.plans.into_iter().map(|p| {
                    let heading = format!("plan-{}", p.plan_id);
                    let described_by = heading.clone();
                    let label = format!("Choose {}", p.name);
                    let action = if p.current {
                        view! { <p class="current-plan" aria-label=format!("{} is your current plan", p.name)>"Current plan"</p> }.into_any()
                    } else if can_buy && p.purchasable {
                        view! {
                            <ActionForm action=choose>
                                <input type="hidden" name="plan_id" value=p.plan_id.clone()/>
                                <button type="submit" aria-describedby=described_by>{label}</button>
                            </ActionForm>
                        }.into_any()
                    } else {
                        ().into_any()
                    };
                    view! {
                        <li class="plan" class:plan-current=p.current>
                            <h3 id=heading>{p.name.clone()}</h3>
                            <p class="price">{p.price.clone()}</p>
                            <ul>{p.limits.into_iter().map(|l| view! { <li>{l}</li> }).collect_view()}</ul>
                            {action}
                        </li>
                    }
                }).collect_view()}
            </ul>
        </section>
    }
}
