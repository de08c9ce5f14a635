//! `enclave serve`: guard, then the Leptos app on axum with server-side sessions.

use crate::config::{Config, Environment};
use crate::ops::guard;
use app::sign_in::oidc::{OidcProviders, SignInState};
use app::{shell, App, ServerEnv};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use std::process::ExitCode;
use std::sync::Arc;
use tenancy::{PoolSettings, TenantDb};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};

#[derive(Clone)]
struct AppState {
    leptos_options: LeptosOptions,
    request: Arc<RequestContext>,
}

/// What every request's Leptos context holds. The tenant comes from the session, never
/// from here: these are shared services.
struct RequestContext {
    db: TenantDb,
    env: ServerEnv,
    oidc: Arc<OidcProviders>,
    integrations: Arc<app::integrations::provider::Integrations>,
    vault: vault::Vault,
    queues: app::jobs::JobQueues,
    billing: app::billing::Billing,
    /// The admin console's door (the database decides who is an admin) and its queues.
    admin: tenancy::AdminDb,
    admin_queues: app::admin::AdminQueues,
}

impl RequestContext {
    /// Leptos clones the provider for every request, and axum the state: behind an Arc
    /// each is one count (cloning and dropping the whole context per request were ~1 %
    /// of the machine's CPU under load, `ENCLAVE_BENCH_PERF=1 scripts/bench-pages`).
    fn provider(self: Arc<Self>) -> impl Fn() + Clone + Send + 'static {
        move || {
            // Called once per request: the header and the page share one resolution.
            provide_context(app::session::RequestMemo::default());
            crate::left_pages::remember_page_owner();
            provide_context(self.db.clone());
            provide_context(self.env.clone());
            provide_context(self.oidc.clone());
            provide_context(self.vault.clone());
            provide_context(self.integrations.clone());
            provide_context(self.queues.clone());
            provide_context(self.billing.clone());
            provide_context(self.admin.clone());
            provide_context(self.admin_queues.clone());
        }
    }
}

impl axum::extract::FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

async fn server_fn_handler(
    State(state): State<AppState>,
    request: Request<Body>,
) -> impl IntoResponse {
    handle_server_fns_with_context(state.request.provider(), request).await
}

/// Removes expired sessions once a minute (tower-sessions' own sweep).
pub async fn serve(cfg: Config) -> ExitCode {
    match guard::check(&cfg.runtime_url, cfg.environment).await {
        Ok(report) => tracing::info!(
            database = %report.database, environment = %report.environment, instance = %report.instance_id,
            runtime_role = %report.runtime_role, "start-up guard passed; tenancy audit clean"
        ),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    }
    let conf = match get_configuration(None) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: leptos configuration: {e}");
            return ExitCode::FAILURE;
        }
    };
    let leptos_options = conf.leptos_options;
    let addr = leptos_options.site_addr;
    let db = match crate::ops::vault_keys::open_database(&cfg, PoolSettings::default()).await {
        Ok(db) => db,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Before anything is sealed or opened (jobs included): the keys must open what the
    // database holds.
    let vault = match cfg.vault() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = crate::ops::vault_keys::check_and_register(&db.system(), &vault).await {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let store = db.session_store();
    // One watch of the database: the 503 gate and the in-process job runner follow it.
    let answering = db.probe().watch();
    let generator = match app::campaigns::generator::Generator::from_env() {
        Ok(g) => Arc::new(g),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    let billing = match cfg.billing() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match &billing {
        app::billing::Billing::NotConfigured(reason)
            if cfg.environment != Environment::Development =>
        {
            tracing::warn!(%reason, "billing is not configured: /billing says so and nothing can be bought")
        }
        app::billing::Billing::NotConfigured(reason) => {
            tracing::info!(%reason, "billing is not configured")
        }
        app::billing::Billing::Configured(api) => tracing::info!(
            plans = ?api.prices.plans().collect::<Vec<_>>(), "billing configured (Stripe)"
        ),
    }
    // Connected accounts' providers, before the workers that publish to them.
    let public_url = cfg
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{addr}"));
    let integrations = match cfg.integration_clients(Some(&public_url)) {
        Ok(i) => Arc::new(i),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for (id, _) in integrations.listed() {
        tracing::info!(provider = %id, callback = %integrations.callback_url(&id), "publishing provider configured");
    }
    let publisher = app::integrations::publish::Publisher {
        integrations: integrations.clone(),
        vault: vault.clone(),
    };
    let queues = match crate::jobs::queues(&db, generator.clone(), publisher.clone()).await {
        Ok(q) => q,
        Err(e) => {
            eprintln!("error: job queues: {e}");
            return ExitCode::FAILURE;
        }
    };
    let processing = match &billing {
        app::billing::Billing::Configured(stripe) => match db
            .jobs()
            .system_queue(app::billing::processing::StripeEventJob {
                stripe: stripe.clone(),
            })
            .await
        {
            Ok(queue) => Some(queue),
            Err(e) => {
                eprintln!("error: the Stripe event queue: {e}");
                return ExitCode::FAILURE;
            }
        },
        app::billing::Billing::NotConfigured(_) => None,
    };
    // Workers run in this process unless ENCLAVE_WORKERS=off (then `enclave worker` runs
    // them elsewhere against the same database). Their own pool keeps the web's free.
    let workers = match std::env::var("ENCLAVE_WORKERS").as_deref().map(str::trim) {
        Ok("off") => {
            tracing::info!("ENCLAVE_WORKERS=off: no job workers in this process");
            None
        }
        Ok("on") | Ok("") | Err(_) => {
            let started = async {
                let concurrency = crate::jobs::concurrency()?;
                let pool = crate::ops::vault_keys::open_database(
                    &cfg,
                    crate::jobs::worker_pool_settings(concurrency),
                )
                .await
                .map_err(|e| e.to_string())?;
                crate::jobs::start(
                    &pool,
                    generator.clone(),
                    publisher.clone(),
                    &billing,
                    concurrency,
                    Some(answering.clone()),
                )
                .await
                .map_err(|e| e.to_string())
            };
            match started.await {
                Ok(runner) => Some(runner),
                Err(e) => {
                    eprintln!("error: job workers: {e}");
                    return ExitCode::FAILURE;
                }
            }
        }
        Ok(other) => {
            eprintln!("error: ENCLAVE_WORKERS must be on or off (got {other:?})");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(generator = %generator.describe(), "campaign outputs are drafted by this writer");
    let admin_queues = match &billing {
        app::billing::Billing::Configured(stripe) => match db
            .jobs()
            .system_queue(crate::reconcile_billing::ReconcileJob {
                stripe: stripe.clone(),
                system: db.system(),
            })
            .await
        {
            Ok(queue) => app::admin::AdminQueues {
                stripe_events: processing.clone(),
                reconcile: Some(Arc::new(crate::reconcile_billing::RunNow(queue))),
            },
            Err(e) => {
                eprintln!("error: the reconciliation queue: {e}");
                return ExitCode::FAILURE;
            }
        },
        app::billing::Billing::NotConfigured(_) => app::admin::AdminQueues::default(),
    };
    let admin_db = db.admin();
    // The system path stays here, in the binary; request handlers get TenantDb, and the
    // admin console AdminDb (whose every transaction the database checks).
    let (tenant_db, system_db) = db.split();

    let env = ServerEnv {
        environment: cfg.environment.as_str().to_string(),
        public_url: public_url.clone(),
    };
    let services = cfg
        .oidc_providers()
        .map_err(|e| e.to_string())
        .and_then(|p| OidcProviders::new(p, &public_url))
        .and_then(|oidc| {
            let rates = cfg.rate_settings().map_err(|e| e.to_string())?;
            let proxies = cfg.trusted_proxies().map_err(|e| e.to_string())?;
            let timeouts = cfg.timeouts().map_err(|e| e.to_string())?;
            Ok((Arc::new(oidc), rates, Arc::new(proxies), timeouts))
        });
    let (oidc, rates, proxies, timeouts) = match services {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Stripe's deliveries are recorded on the system path; without a secret the route
    // does not exist (billing is not configured).
    let stripe_webhook = cfg.stripe_webhook_secrets().map(|secrets| {
        crate::stripe_webhook::router::<AppState>(
            secrets,
            system_db.clone(),
            Arc::new(|| time::OffsetDateTime::now_utc().unix_timestamp()),
            processing,
        )
    });
    if stripe_webhook.is_none() {
        tracing::info!("STRIPE_WEBHOOK_SECRET unset: /webhooks/stripe is not served");
    }
    if let Err(e) = crate::mail_delivery::spawn_if_configured(&cfg, system_db, &vault) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    for (id, _) in oidc.listed() {
        tracing::info!(provider = %id, callback = %format!("{public_url}/auth/{id}/callback"), "OpenID provider configured");
    }
    let sessions = SessionManagerLayer::new(store)
        .with_name("enclave_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(cfg.environment != Environment::Development)
        .with_expiry(Expiry::OnInactivity(
            tower_sessions::cookie::time::Duration::seconds(app::session::IDLE_LIFETIME_SECS),
        ));

    let request = Arc::new(RequestContext {
        db: tenant_db.clone(),
        env,
        oidc: oidc.clone(),
        integrations: integrations.clone(),
        vault: vault.clone(),
        queues,
        billing,
        admin: admin_db,
        admin_queues,
    });
    let routes = generate_route_list(App);
    let state = AppState {
        leptos_options: leptos_options.clone(),
        request: request.clone(),
    };
    let limits = crate::rate_limit::RateLimits::new(rates);
    tokio::spawn({
        let limits = limits.clone();
        async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                every.tick().await;
                limits.forget_idle();
            }
        }
    });
    let import_upload = app::imports::upload::router(tenant_db.clone());
    let connect = app::integrations::oauth::router(app::integrations::oauth::ConnectState {
        integrations,
        vault,
        db: tenant_db.clone(),
    });
    let sign_in = app::sign_in::oidc::router(SignInState {
        providers: oidc,
        db: tenant_db,
    });
    let app = Router::new()
        .merge(sign_in)
        .merge(import_upload)
        .merge(connect)
        .route("/api/{*fn_name}", post(server_fn_handler))
        .leptos_routes_with_context(&state, routes, request.clone().provider(), {
            let options = leptos_options.clone();
            move || shell(options.clone())
        })
        // Unknown paths render the not-found page with the same context as any page
        // (without it, the header's viewer lookup failed for signed-in visitors).
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(request.provider(), shell))
        // Layers run outermost last in this list: the client address, then the
        // timeouts, headers, input guard, late put-away, panic catcher, database gate,
        // in-flight bound, same-site check, session, limits, and the error status; routes
        // merged between layers skip the inner ones.
        .layer(axum::middleware::from_fn(
            crate::error_status::server_fn_error_status,
        ))
        .layer(axum::middleware::from_fn_with_state(
            limits,
            crate::rate_limit::limit_actions,
        ))
        .layer(sessions)
        .layer(axum::middleware::from_fn(
            crate::db_health::session_store_failure,
        ))
        .layer(axum::middleware::from_fn_with_state(
            crate::csrf::SiteOrigin(cfg.public_url.clone()),
            crate::csrf::require_same_site,
        ))
        // Stripe's deliveries join below the session and the same-site check: they come
        // from Stripe, not from a page of ours, and prove themselves by their signature.
        .merge(stripe_webhook.unwrap_or_default());
    // Past MAX_IN_FLIGHT requests at once, 503 before any database work; inside the input
    // guard, so a server function's body is read before the request takes a place.
    let app = crate::db_health::bound_in_flight(app)
        // While the database does not answer: 503 at once, outside everything that needs it.
        .layer(axum::middleware::from_fn_with_state(
            answering,
            crate::db_health::gate,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panicked))
        // Outside everything that makes a page: a page whose client leaves before its end
        // is put away a moment later (left_pages says why).
        .layer(axum::middleware::from_fn(crate::left_pages::put_away_late))
        .layer(axum::middleware::from_fn(crate::form_guard::guard_inputs))
        .with_state(state);
    let app = crate::security_headers::with_security_headers(
        app,
        cfg.environment != Environment::Development,
    );
    let app = crate::listener::with_timeouts(app, timeouts).layer(
        axum::middleware::from_fn_with_state(proxies, crate::rate_limit::resolve_client_addr),
    );

    let listener = match tokio::net::TcpListener::bind(&addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("enclave: serving http://{addr} ({})", cfg.environment);
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending::<()>().await } } => {}
        }
        tracing::info!("shutting down: finishing in-flight requests");
    };
    crate::listener::serve(listener, app, timeouts, shutdown, timeouts.request).await;
    if let Some(runner) = workers {
        tracing::info!("finishing the jobs in flight");
        runner.shutdown().await;
    }
    ExitCode::SUCCESS
}

/// A panic in a handler is a bug: the visitor gets a plain page with a reference, the
/// log gets the panic under it (the panic hook has printed the location already).
fn panicked(panic: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    let request_id = app::error::new_request_id();
    tracing::error!(%request_id, %detail, "a request handler panicked");
    (
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        axum::response::Html(crate::plain_page::page(
            "Something went wrong on our side",
            &format!(
                "<p>Please go back and try again in a moment.</p><p><small>Reference: {request_id}</small></p>"
            ),
        )),
    )
        .into_response()
}
