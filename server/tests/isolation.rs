//! The tenant boundary, as the database enforces it.

mod common;
use common::*;
use sqlx::{Connection, PgConnection, Row};
use tenancy::{SessionClaim, TenantError};

/// Enclave's tables and views of the tenant schemas; not an extension's own (on Citus,
/// `public.citus_tables` lists table names and sizes, no tenant's rows).
async fn tenant_relations(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r','v','p') AND n.nspname IN ('public','agency')
            AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
          ORDER BY 1",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

#[tokio::test]
async fn no_context_means_zero_rows_in_every_tenant_table_and_view() {
    let (s, _t, _sys) = seeded("noctx").await;
    let mut owner = s.owner().await;
    let mut rt = s.runtime().await;
    let relations = tenant_relations(&mut rt).await;
    assert!(
        relations.len() >= 8,
        "expected the tenant tables and views, got {relations:?}"
    );
    for rel in &relations {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {rel}"))
            .fetch_one(&mut rt)
            .await
            .unwrap();
        assert_eq!(
            n, 0,
            "runtime role sees {n} rows of {rel} with no tenant context"
        );
        // FORCE: even the owner sees nothing without a context.
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {rel}"))
            .fetch_one(&mut owner)
            .await
            .unwrap();
        assert_eq!(
            n, 0,
            "owner sees {n} rows of {rel} with no tenant context (FORCE missing?)"
        );
    }
    // And the data is really there (seen on the audited system path).
    let (_, sys) = s.dbs(1).await;
    let mut tx = sys
        .begin("test", "count orgs", serde_json::json!({}))
        .await
        .unwrap();
    let orgs: i64 = sqlx::query_scalar("SELECT count(*) FROM public.organizations")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(orgs, 2);
}

#[tokio::test]
async fn tenant_sees_only_itself_and_cannot_write_another_org() {
    let (s, t, sys) = seeded("ab").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    // A second SME with its own guidelines.
    let mut tx = sys
        .begin("test", "second sme", serde_json::json!({}))
        .await
        .unwrap();
    let zed: uuid::Uuid =
        sqlx::query_scalar("SELECT enclave.create_user('zed@other.example', 'Zed')")
            .fetch_one(tx.conn())
            .await
            .unwrap();
    let other: uuid::Uuid =
        sqlx::query_scalar("SELECT enclave.create_organization('sme', 'Other Co', 'other-co', $1)")
            .bind(zed)
            .fetch_one(tx.conn())
            .await
            .unwrap();
    tx.enter_tenant(other, None, zed).await.unwrap();
    sqlx::query("SELECT enclave.save_brand_guidelines('other voice','','','','',NULL)")
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let ctx = context(&t, nora, northwind, None).await;
    let mut tx = t.begin(&ctx).await.unwrap();
    let orgs: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT org_id FROM public.brand_guidelines_unified")
            .fetch_all(tx.conn())
            .await
            .unwrap();
    assert_eq!(orgs, vec![northwind]);
    for (table, id) in [
        ("public.organizations", "id"),
        ("public.memberships", "org_id"),
        ("public.brand_guidelines", "org_id"),
    ] {
        let n: i64 = sqlx::query_scalar(&format!(
            "SELECT count(*) FROM {table} WHERE {id} = ANY($1)"
        ))
        .bind(vec![other, brightside])
        .fetch_one(tx.conn())
        .await
        .unwrap();
        assert_eq!(n, 0, "{table} shows another tenant's rows");
    }
    // The runtime role cannot write tables directly at all.
    let err = sqlx::query("INSERT INTO public.brand_guidelines (org_id, voice) VALUES ($1, 'x')")
        .bind(other)
        .execute(tx.conn())
        .await
        .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().code().as_deref(),
        Some("42501")
    );
    drop(tx);

    // The owner has the privilege, so only the policy stands in the way.
    let mut owner = s.owner().await;
    let mut otx = in_context(&mut owner, northwind, None, nora).await;
    let err =
        sqlx::query("INSERT INTO public.brand_guidelines (org_id, voice) VALUES ($1, 'hijack')")
            .bind(other)
            .execute(&mut *otx)
            .await
            .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    otx.rollback().await.unwrap();
    let mut otx = in_context(&mut owner, northwind, None, nora).await;
    let updated =
        sqlx::query("UPDATE public.brand_guidelines SET voice = 'hijack' WHERE org_id = $1")
            .bind(other)
            .execute(&mut *otx)
            .await
            .unwrap();
    assert_eq!(
        updated.rows_affected(),
        0,
        "an update naming another org's id touched its rows"
    );
    otx.rollback().await.unwrap();
    let _ = ada;
}

#[tokio::test]
async fn kind_is_enforced_by_policy_not_only_by_the_router() {
    let (s, t, sys) = seeded("kind").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    let acme = workspace_id(&sys, brightside, ada, "acme-outdoors").await;
    let mut owner = s.owner().await;

    // Agency context writing the SME table directly (as the owner, who has INSERT): with
    // the kind it really has, or pretending to be an SME. The row's org_kind is pinned
    // and tied to the organization's real kind (migration 0006), and the policy checks it.
    for sql in [
        "INSERT INTO public.brand_guidelines (org_id, voice) VALUES ($1, 'agency in sme table')",
        "INSERT INTO public.brand_guidelines (org_id, org_kind, voice) VALUES ($1, 'agency', 'x')",
        "INSERT INTO public.brand_guidelines (org_id, org_kind, voice) VALUES ($1, 'sme', 'x')",
    ] {
        let mut tx = in_context(&mut owner, brightside, Some(acme), ada).await;
        let err = sqlx::query(sql)
            .bind(brightside)
            .execute(&mut *tx)
            .await
            .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("row-level security")
                || msg.contains("foreign key")
                || msg.contains("check constraint"),
            "{sql}: {msg}"
        );
        tx.rollback().await.unwrap();
    }

    // SME context writing agency tables directly.
    for sql in [
        "INSERT INTO agency.client_workspaces (org_id, name, slug) VALUES ($1, 'Sneaky', 'sneaky')",
        "INSERT INTO agency.brand_guidelines (org_id, workspace_id, voice) VALUES ($1, gen_random_uuid(), 'x')",
    ] {
        let mut tx = in_context(&mut owner, northwind, None, nora).await;
        let err = sqlx::query(sql).bind(northwind).execute(&mut *tx).await.unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("row-level security") || msg.contains("foreign key"), "{sql}: {msg}");
        tx.rollback().await.unwrap();
    }

    // The router puts each kind's save in its own schema.
    let sme = context(&t, nora, northwind, None).await;
    let mut tx = t.begin(&sme).await.unwrap();
    sqlx::query("SELECT enclave.save_brand_guidelines('routed sme','','','','',NULL)")
        .execute(tx.conn())
        .await
        .unwrap();
    // Read back in a new transaction, as the application does: on Citus a read as the
    // runtime role after the router's write (as the owner) in one transaction is refused
    // (ARCHITECTURE "Scaling out", the write identity).
    tx.commit().await.unwrap();
    let mut tx = t.begin(&sme).await.unwrap();
    let sources: Vec<String> =
        sqlx::query_scalar("SELECT source FROM public.brand_guidelines_unified")
            .fetch_all(tx.conn())
            .await
            .unwrap();
    assert_eq!(sources, vec!["sme"]);
    tx.commit().await.unwrap();
    let ag = context(&t, ada, brightside, Some(acme)).await;
    let mut tx = t.begin(&ag).await.unwrap();
    sqlx::query("SELECT enclave.save_brand_guidelines('routed agency','','','','',NULL)")
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = t.begin(&ag).await.unwrap();
    let rows: Vec<(String, Option<uuid::Uuid>, String)> =
        sqlx::query_as("SELECT source, workspace_id, voice FROM public.brand_guidelines_unified")
            .fetch_all(tx.conn())
            .await
            .unwrap();
    assert_eq!(
        rows,
        vec![(
            "agency".to_string(),
            Some(acme),
            "routed agency".to_string()
        )]
    );
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn agency_staff_see_only_assigned_clients() {
    let (_s, t, sys) = seeded("clients").await;
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    let (cleo, _) = demo_ids(&sys, "cleo@brightside.example").await;
    let (ben, _) = demo_ids(&sys, "ben@brightside.example").await;
    let acme = workspace_id(&sys, brightside, ada, "acme-outdoors").await;
    let harbor = workspace_id(&sys, brightside, ada, "blue-harbor-bank").await;

    // Cleo is assigned to Acme only: Blue Harbor is refused at context entry.
    let err = t
        .resolve(SessionClaim {
            user_id: cleo,
            org_id: brightside,
            workspace_id: Some(harbor),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, TenantError::NoAccess(_)), "{err:?}");
    let ctx = context(&t, cleo, brightside, None).await;
    let mut tx = t.begin(&ctx).await.unwrap();
    let visible: Vec<uuid::Uuid> =
        sqlx::query_scalar("SELECT workspace_id FROM agency.client_workspaces")
            .fetch_all(tx.conn())
            .await
            .unwrap();
    assert_eq!(visible, vec![acme]);
    drop(tx);

    // Ben sees both; each client's guidelines only inside that client.
    for (ws, voice_fragment) in [(acme, "Adventurous"), (harbor, "Calm")] {
        let ctx = context(&t, ben, brightside, Some(ws)).await;
        let mut tx = t.begin(&ctx).await.unwrap();
        let rows: Vec<(uuid::Uuid, String)> =
            sqlx::query_as("SELECT workspace_id, voice FROM public.brand_guidelines_unified")
                .fetch_all(tx.conn())
                .await
                .unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].0, ws);
        assert!(rows[0].1.contains(voice_fragment));
    }
}

#[tokio::test]
async fn a_non_member_cannot_enter_an_organization() {
    let (_s, t, sys) = seeded("nonmember").await;
    let (nora, _) = demo_ids(&sys, "nora@northwind.example").await;
    let (_, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    let err = t
        .resolve(SessionClaim {
            user_id: nora,
            org_id: brightside,
            workspace_id: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, TenantError::NoAccess(_)), "{err:?}");
}

#[tokio::test]
async fn concurrent_edit_is_a_conflict_not_a_silent_overwrite() {
    let (_s, t, sys) = seeded("conflict").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let ctx = context(&t, nora, northwind, None).await;
    let save = |v: i32| {
        let t = t.clone();
        let ctx = ctx.clone();
        async move {
            let mut tx = t.begin(&ctx).await?;
            let r: Result<i32, sqlx::Error> =
                sqlx::query_scalar("SELECT enclave.save_brand_guidelines('v','t','p','d','n',$1)")
                    .bind(v)
                    .fetch_one(tx.conn())
                    .await;
            let r = r.map_err(TenantError::from)?;
            tx.commit().await?;
            Ok::<i32, TenantError>(r)
        }
    };
    assert_eq!(save(1).await.unwrap(), 2);
    assert!(matches!(
        save(1).await.unwrap_err(),
        TenantError::Conflict(_)
    ));
}

#[tokio::test]
async fn system_path_is_always_audited() {
    let (s, _t, sys) = seeded("syspath").await;
    let mut rt = s.runtime().await;
    // Without an audit row in the same transaction, the system check is false.
    let mut tx = rt.begin().await.unwrap();
    let active: bool = sqlx::query_scalar("SELECT enclave.system_path_active()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(!active);
    let orgs: i64 = sqlx::query_scalar("SELECT count(*) FROM public.organizations")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(orgs, 0);
    tx.rollback().await.unwrap();
    let mut stx = sys
        .begin(
            "test-actor",
            "count organizations",
            serde_json::json!({"why": "test"}),
        )
        .await
        .unwrap();
    let orgs: i64 = sqlx::query_scalar("SELECT count(*) FROM public.organizations")
        .fetch_one(stx.conn())
        .await
        .unwrap();
    assert_eq!(orgs, 2);
    stx.commit().await.unwrap();
    let mut admin = s.admin().await;
    let row = sqlx::query("SELECT actor, action, detail->>'why' AS why FROM enclave.audit_log WHERE actor = 'test-actor'")
        .fetch_one(&mut admin).await.unwrap();
    assert_eq!(row.get::<String, _>("action"), "count organizations");
    assert_eq!(row.get::<Option<String>, _>("why").as_deref(), Some("test"));
}
