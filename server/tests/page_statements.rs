//! Issue 16: one page, one tenant transaction. Starts `enclave serve` with sqlx's
//! statement log on (`RUST_LOG=sqlx::query=debug`: every statement the server sends is one
//! log line, except `BEGIN`, which sqlx queues as a simple query without logging it, so
//! a page's `BEGIN`s are counted from its `COMMIT`s and `ROLLBACK`s), signs in the demo
//! SME owner and the demo agency member, loads each page once and counts what the server
//! sent for it. A page costs the session load and one transaction whose first statement
//! resolves who is looking (user, organizations, membership, client:
//! `enclave.page_context`) and leaves it in that context for the page's reads: at most 8
//! statements, and no `enter_context` of its own (a transaction the page did not take,
//! rolled back unlogged when the request ends, would show as the page opening another).

mod common;
use common::page_server::PageServer;
use std::time::Duration;

const MOST_STATEMENTS_PER_PAGE: usize = 8;

/// Statements the server runs on its own, between requests: the database watch's probe
/// and the session store's expiry sweep.
fn background(line: &str) -> bool {
    line.contains("summary=\"SELECT 1\"") || line.to_ascii_lowercase().contains("expiry_date <")
}

/// The statements logged from now until none has come for 300 ms after `act` returns.
fn statements_of<T>(server: &PageServer, act: impl FnOnce() -> T) -> (T, Vec<String>) {
    let statement = |l: &str| l.contains(" sqlx::query: ") && !background(l);
    let before = server.log_len();
    let out = act();
    let mut lines = server.log_since(before, statement);
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let now = server.log_since(before, statement);
        if now.len() == lines.len() {
            break;
        }
        lines = now;
    }
    (out, lines)
}

fn summary(line: &str) -> &str {
    line.split("summary=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or(line)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_costs_the_session_load_and_one_transaction() {
    let (s, server) = PageServer::seeded("pagestmts", "warn,sqlx::query=debug").await;

    let report = tokio::task::spawn_blocking(move || {
        let sme = server.sign_in("nora@northwind.example");
        let agency = server.sign_in("ben@brightside.example");
        // (who, page, words of the page's own data (one of them), most statements).
        let pages: [(&String, &str, &[&str], usize); 7] = [
            (&sme, "/campaigns", &["Summer cold brew"], 5),
            (&sme, "/personas", &["Morning regular"], 5),
            (
                &sme,
                "/dashboard",
                &[
                    "Summer cold brew",
                    "Winter blend launch",
                    "Loyalty card goes digital",
                    "Wholesale open day",
                ],
                6,
            ),
            (&sme, "/brand", &["barista who remembers your order"], 6),
            (
                &agency,
                "/clients/acme-outdoors/campaigns",
                &["Rainproof week"],
                5,
            ),
            (
                &agency,
                "/clients/acme-outdoors/personas",
                &["Weekend hiker"],
                5,
            ),
            (
                &agency,
                "/clients/acme-outdoors/dashboard",
                &["Rainproof week", "Trail shoe launch"],
                6,
            ),
        ];
        // A first load of each page (the session's first renewal, anything lazily built).
        for (cookie, page, _, _) in &pages {
            let reply = server.exchange("GET", page, Some(cookie), "");
            assert_eq!(reply.status, 200, "{page}: {}", reply.body);
        }
        let mut report = Vec::new();
        for (cookie, page, shows, most) in pages {
            let (reply, lines) =
                statements_of(&server, || server.exchange("GET", page, Some(cookie), ""));
            assert_eq!(reply.status, 200, "{page}: {}", reply.body);
            assert!(
                shows.iter().any(|words| reply.body.contains(words)),
                "{page} does not show its data ({shows:?}): {}",
                &reply.body[..reply.body.len().min(2000)]
            );
            assert!(
                !reply.body.contains("role=\"alert\""),
                "{page} shows an error: {}",
                &reply.body[..reply.body.len().min(4000)]
            );
            report.push((page, most, lines));
        }
        // A page whose data never takes its transaction (the organization's settings, the
        // welcome page), and the admin console (which opens none): many at once, more than
        // the pool's connections, then nothing is left open.
        let statuses = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..40)
                .map(|i| {
                    let cookie = if i % 2 == 0 { &sme } else { &agency };
                    let page = ["/settings", "/welcome", "/members", "/clients", "/admin"][i % 5];
                    let server = &server;
                    scope.spawn(move || {
                        (page, server.exchange("GET", page, Some(cookie), "").status)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap())
                .collect::<Vec<_>>()
        });
        assert!(
            statuses.iter().all(|(_, status)| *status < 500),
            "pages that do not take their transaction, 40 at once: {statuses:?}"
        );
        report
    })
    .await
    .unwrap();
    let mut admin = s.admin().await;
    let idle_in_transaction: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_stat_activity
          WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        idle_in_transaction, 0,
        "a page left its transaction open after the request ended"
    );

    let mut too_many = Vec::new();
    for (page, most, lines) in &report {
        let ends = lines
            .iter()
            .filter(|l| matches!(summary(l), "COMMIT" | "ROLLBACK"))
            .count();
        let statements = lines.len() + ends;
        println!("{page}: {statements} statements ({ends} BEGIN not logged by sqlx)");
        for line in lines {
            println!("    {}", summary(line));
        }
        assert_eq!(
            lines.iter().filter(|l| l.contains("page_context")).count(),
            1,
            "{page} must resolve its context once, through enclave.page_context"
        );
        assert!(
            !lines.iter().any(|l| l.contains("enter_context")),
            "{page}: its data must ride the transaction page_context opened"
        );
        if statements > (*most).min(MOST_STATEMENTS_PER_PAGE) || ends != 1 {
            too_many.push(format!(
                "{page}: {statements} statements (at most {most}), {ends} transactions"
            ));
        }
    }
    assert!(
        too_many.is_empty(),
        "pages over {MOST_STATEMENTS_PER_PAGE} statements or not one transaction: {too_many:?}"
    );
}
