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
    let (t, _): (TenantDb, _) = Database::from_pool(pool.clone()).split();
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
            tenancy::TenantRead::new("SELECT voice FROM enclave.read_brand_guidelines($1, $2, $3)"),
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
