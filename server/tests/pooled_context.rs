//! Tenant context never survives on a pooled connection (pool of size 1 forces reuse).

mod common;
use common::*;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tenancy::{Database, TenantDb};

async fn leftover(pool: &PgPool) -> (i32, i64, i64, Option<String>) {
    sqlx::query_as(
        "SELECT pg_backend_pid(), (SELECT count(*) FROM public.brand_guidelines_unified),
                (SELECT count(*) FROM public.memberships), NULLIF(current_setting('enclave.org_id', true), '')",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn context_is_gone_after_commit_rollback_error_and_panic() {
    let (s, _t, sys) = seeded("pool").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&s.runtime_url)
        .await
        .unwrap();
    let (t, _): (TenantDb, _) = Database::from_pool(pool.clone(), common::context_key()).split();
    let ctx = context(&t, nora, northwind, None).await;
    let (pid, ..) = leftover(&pool).await;

    // Inside the context the rows are visible (so zero afterwards means something).
    let mut tx = t.begin(&ctx).await.unwrap();
    let inside: i64 = sqlx::query_scalar("SELECT count(*) FROM public.brand_guidelines_unified")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(inside, 1);
    tx.commit().await.unwrap();
    assert_eq!(leftover(&pool).await, (pid, 0, 0, None), "after commit");

    let tx = t.begin(&ctx).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(leftover(&pool).await, (pid, 0, 0, None), "after rollback");

    let mut tx = t.begin(&ctx).await.unwrap();
    assert!(sqlx::query("SELECT 1/0").execute(tx.conn()).await.is_err());
    drop(tx);
    assert_eq!(
        leftover(&pool).await,
        (pid, 0, 0, None),
        "after an error inside the transaction"
    );

    let (t2, ctx2) = (t.clone(), ctx.clone());
    let joined = tokio::spawn(async move {
        let mut tx = t2.begin(&ctx2).await.unwrap();
        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM public.memberships")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        panic!("task dies holding a tenant transaction");
    })
    .await;
    assert!(joined.is_err());
    assert_eq!(
        leftover(&pool).await,
        (pid, 0, 0, None),
        "after a panic in the task holding it"
    );

    // The single-statement read leaves nothing behind either.
    let rows: Vec<(String,)> = t
        .read(
            &ctx,
            tenancy::TenantRead::new(
                "SELECT voice FROM enclave.read_brand_guidelines($1, $2, $3, $4)",
            ),
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        leftover(&pool).await,
        (pid, 0, 0, None),
        "after a single-statement read"
    );
}

/// Is the pooled connection inside a transaction block? In one simple-protocol
/// statement outside a block, the transaction and the statement start together.
async fn in_open_transaction(pool: &PgPool) -> bool {
    use sqlx::Row;
    sqlx::raw_sql("SELECT now() <> statement_timestamp()")
        .fetch_one(pool)
        .await
        .unwrap()
        .get(0)
}

/// Polls `fut` at most `polls` times, `pause_us` apart, then drops it, as a server drops
/// the handler of a request whose client went away. True if it finished first.
async fn poll_then_drop<F: std::future::Future>(fut: F, polls: u64, pause_us: u64) -> bool {
    let mut fut = std::pin::pin!(fut);
    for _ in 0..polls {
        let done =
            std::future::poll_fn(|cx| std::task::Poll::Ready(fut.as_mut().poll(cx).is_ready()))
                .await;
        if done {
            return true;
        }
        // Let the reply travel, then let the runtime read it.
        std::thread::sleep(std::time::Duration::from_micros(pause_us));
        tokio::task::yield_now().await;
    }
    false
}

/// A request dropped while its `BEGIN` is in flight (a client that disconnects) must not
/// hand the next borrower a connection inside that transaction, where autocommit writes
/// would never commit. Plain sqlx 0.8.6 does (transact-rs/sqlx#4393); `TenantDb` does not.
#[tokio::test]
async fn a_begin_dropped_half_way_leaves_no_transaction_open() {
    let (s, _t, sys) = seeded("cancel").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(&s.runtime_url)
        .await
        .unwrap();
    let (t, _): (TenantDb, _) = Database::from_pool(pool.clone(), common::context_key()).split();
    let ctx = context(&t, nora, northwind, None).await;
    let user = t.resolve_user(nora).await.unwrap();

    let mut dropped = 0;
    for round in 0..600u64 {
        // Drop points sweep the BEGIN round trip: 1 to 10 polls, 0 to 40 µs apart.
        let (polls, pause) = (1 + round % 10, (round / 10) % 5 * 10);
        let finished = match round % 3 {
            0 => poll_then_drop(t.begin(&ctx), polls, pause).await,
            1 => poll_then_drop(t.begin_user(&user), polls, pause).await,
            _ => poll_then_drop(t.resolve_user(nora), polls, pause).await,
        };
        if !finished {
            dropped += 1;
        }
        assert!(
            !in_open_transaction(&pool).await,
            "round {round}: the connection came back inside a transaction"
        );
    }
    assert!(
        dropped > 50,
        "only {dropped} of 600 calls were dropped mid-way"
    );
    println!("{dropped} of 600 tenancy calls dropped mid-way; no connection left in a transaction");
}
