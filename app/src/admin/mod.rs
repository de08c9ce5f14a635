//! The platform admins' console (`/admin`, issue 12; ARCHITECTURE "Admin console").
//! Every screen's server function opens an [`tenancy::AdminTx`] through [`door`]: the
//! database writes the audit row naming the admin and refuses anyone who is not a
//! platform admin at that moment. Screens are server-rendered; filters are GET forms and
//! links, actions are forms, so the console works without JavaScript.

pub mod audit;
#[cfg(feature = "ssr")]
pub mod charts;
pub mod deliveries;
#[cfg(feature = "ssr")]
pub mod door;
pub mod jobs;
pub mod organizations;
pub mod overview;
pub mod reconciliation;

use leptos::prelude::*;

/// Every admin server function's endpoint. `server/tests/admin_access.rs` calls each as
/// people who must be refused, and fails when a registered `/api/admin_*` function is
/// missing here.
pub const ENDPOINTS: &[&str] = &[
    "admin_overview",
    "admin_organizations",
    "admin_organization",
    "admin_resync",
    "admin_extend_grace",
    "admin_set_override",
    "admin_end_override",
    "admin_deliveries",
    "admin_replay",
    "admin_reconciliation",
    "admin_run_reconciliation",
    "admin_jobs",
    "admin_retry_job",
    "admin_audit",
];

/// The queues the console's actions enqueue on (the server provides them as context;
/// without billing configured there are none, and the actions say so).
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
pub struct AdminQueues {
    pub stripe_events: Option<tenancy::SystemQueue<crate::billing::processing::StripeEventJob>>,
    pub reconcile: Option<std::sync::Arc<dyn RunReconciliation>>,
}

/// "Run now" on the reconciliation screen: the job itself lives in the server binary.
#[cfg(feature = "ssr")]
pub trait RunReconciliation: Send + Sync {
    fn enqueue(
        &self,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<uuid::Uuid, tenancy::TenantError>> + Send + '_>,
    >;
}

#[cfg(feature = "ssr")]
pub(crate) fn queues() -> AdminQueues {
    use_context::<AdminQueues>().unwrap_or_default()
}

const SECTIONS: &[(&str, &str)] = &[
    ("/admin", "Overview"),
    ("/admin/organizations", "Organizations"),
    ("/admin/webhooks", "Webhook deliveries"),
    ("/admin/reconciliation", "Reconciliation"),
    ("/admin/jobs", "Jobs"),
    ("/admin/audit", "Audit log"),
];

/// The console's heading and section links (the current one marked for screen readers).
#[component]
pub fn AdminFrame(title: &'static str, children: Children) -> impl IntoView {
    let path = leptos_router::hooks::use_location().pathname;
    let links = SECTIONS
        .iter()
        .map(|(href, label)| {
            let current = move || {
                let p = path.get();
                let here = if *href == "/admin" {
                    p == "/admin"
                } else {
                    p.starts_with(href)
                };
                here.then_some("page")
            };
            view! { <a href=*href aria-current=current>{*label}</a> }
        })
        .collect_view();
    view! {
        <leptos_meta::Title text=format!("{title} · Admin · Enclave")/>
        <div class="admin">
            <nav class="admin-nav" aria-label="Admin console">
                <span class="admin-badge">"Platform admin"</span>
                {links}
            </nav>
            <h1>{title}</h1>
            {children()}
        </div>
    }
}

/// What an action answered: its words as a status, or the error with the way forward.
#[component]
pub fn ActionOutcome<A>(action: ServerAction<A>) -> impl IntoView
where
    A: leptos::server_fn::ServerFn<Output = String, Error = crate::error::AppError>
        + Clone
        + Send
        + Sync
        + 'static,
{
    move || {
        action.value().get().map(|r| match r {
            Ok(words) => view! { <p class="notice ok" role="status">{words}</p> }.into_any(),
            Err(e) => view! { <crate::layout::ErrorNotice error=e/> }.into_any(),
        })
    }
}

/// Previous and next links of a paged list.
#[component]
pub fn Pager(page: u32, total: i64, page_size: i64, href: impl Fn(u32) -> String) -> impl IntoView {
    let pages = page_count(total, page_size);
    let prev = (page > 1).then(|| view! { <a href=href(page - 1) rel="prev">"← Previous"</a> });
    let next = (page < pages).then(|| view! { <a href=href(page + 1) rel="next">"Next →"</a> });
    view! { <nav class="pager" aria-label="Pages">{prev}{next}</nav> }
}

/// How many pages `total` rows make (at least one).
pub fn page_count(total: i64, page_size: i64) -> u32 {
    ((total + page_size - 1) / page_size).max(1) as u32
}

/// Cents as money, e.g. `$1,234.50`.
pub fn money(cents: i64) -> String {
    let whole = (cents.abs() / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let sign = if cents < 0 { "-" } else { "" };
    format!("{sign}${grouped}.{:02}", cents.abs() % 100)
}

/// A filter's value from the page's query string: trimmed, and None when empty.
pub fn query_text(q: &leptos_router::params::ParamsMap, key: &str) -> Option<String> {
    q.get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// A link to `path` keeping the filters that are set (values percent-encoded).
pub fn filtered_href(path: &str, pairs: &[(&str, Option<String>)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .map(|v| format!("{k}={}", crate::sign_in::percent_encode(v)))
        })
        .collect();
    format!("{path}?{}", query.join("&"))
}

/// A timestamp as people read it in the console (UTC, to the minute).
#[cfg(feature = "ssr")]
pub fn when(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

/// The page asked for, 1 when none, kept within 1..=10,000.
pub fn page_of(page: Option<u32>) -> u32 {
    page.unwrap_or(1).clamp(1, 10_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_links_keep_only_what_is_set_and_encode_it() {
        assert_eq!(
            filtered_href(
                "/admin/organizations",
                &[
                    ("search", Some("a&b c".into())),
                    ("kind", None),
                    ("page", Some("2".into()))
                ]
            ),
            "/admin/organizations?search=a%26b%20c&page=2"
        );
    }

    #[test]
    fn money_groups_thousands_and_keeps_cents() {
        assert_eq!(money(0), "$0.00");
        assert_eq!(money(4900), "$49.00");
        assert_eq!(money(123_456_78), "$123,456.78");
        assert_eq!(money(-1050), "-$10.50");
    }
}
