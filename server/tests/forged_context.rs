//! The runtime role cannot forge a tenant context (migration 0023). Tried as an attacker
//! with an SQL injection would: every context setting written by hand (`SET LOCAL` and
//! `set_config`), a seal copied from another transaction, an honest context with one
//! setting changed, and a 'system' audit row inserted directly. Each leaves every tenant
//! table and view showing no row and every router write refused; the same connection in an
//! honest context sees the rows, so the walk can fail.
//!
//! Nor can it enter a context through the verifying functions themselves with ids it has
//! found (migration 0027): every door takes the server's proof, and without it stays shut.

mod common;
use common::*;
use sqlx::{Connection, PgConnection, Row};
use uuid::Uuid;

/// Every table and view that the runtime role may select from and that holds tenant rows
/// (not declared global), in every schema it can reach.
async fn readable_tenant_relations(admin: &mut PgConnection, runtime_role: &str) -> Vec<String> {
    sqlx::query_scalar(
        r"SELECT format('%I.%I', n.nspname, c.relname)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relkind IN ('r', 'p', 'v')
             AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
             AND has_schema_privilege($1, n.oid, 'USAGE')
             AND has_table_privilege($1, c.oid, 'SELECT')
             AND coalesce(obj_description(c.oid, 'pg_class'), '') NOT LIKE 'enclave:global%'
             -- an extension's own (Citus's metadata views in public) hold no tenant rows
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
           ORDER BY 1",
    )
    .bind(runtime_role)
    .fetch_all(admin)
    .await
    .unwrap()
}

/// Rows of each relation this transaction can see, by name.
async fn visible_rows(conn: &mut PgConnection, relations: &[String]) -> Vec<(String, i64)> {
    let mut seen = Vec::new();
    for rel in relations {
        let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {rel}"))
            .fetch_one(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("count {rel}: {e}"));
        seen.push((rel.clone(), n));
    }
    seen
}

/// Per relation with an `org_id`, the rows visible that belong to another organization
/// than `org` (relations without the column are left out).
async fn rows_of_others(
    conn: &mut PgConnection,
    relations: &[String],
    org: Uuid,
) -> Vec<(String, i64)> {
    let mut others = Vec::new();
    for rel in relations {
        let has_org: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1)
                              AND attname = 'org_id' AND NOT attisdropped)",
        )
        .bind(rel)
        .fetch_one(&mut *conn)
        .await
        .unwrap();
        if has_org {
            let n: i64 =
                sqlx::query_scalar(&format!("SELECT count(*) FROM {rel} WHERE org_id <> $1"))
                    .bind(org)
                    .fetch_one(&mut *conn)
                    .await
                    .unwrap_or_else(|e| panic!("count {rel}: {e}"));
            others.push((rel.clone(), n));
        }
    }
    others
}

fn nonzero(seen: &[(String, i64)]) -> Vec<(String, i64)> {
    seen.iter().filter(|(_, n)| *n > 0).cloned().collect()
}

/// Router writes that succeed in an honest context (the tenant-table walk seeds with them).
const ROUTER_WRITES: &[&str] = &[
    "SELECT enclave.save_persona(NULL, 'Forged', 'Buyer', 'goals', 'pains', ARRAY['email'])",
    "SELECT enclave.save_campaign(NULL, 'Forged', 'grow', ARRAY['email'], 1000, NULL, NULL, 'active', NULL)",
    "SELECT enclave.save_brand_guidelines('v', 't', 'p', 'd', 'n', NULL)",
    "SELECT enclave.save_import_batch('personas', 'crm.csv', E'name\\nA\\n', 1)",
    "SELECT enclave.rename_organization('Forged name')",
];

/// Each write, in a savepoint, must fail; returns those that went through.
async fn writes_that_succeed(conn: &mut PgConnection) -> Vec<String> {
    let mut through = Vec::new();
    for sql in ROUTER_WRITES {
        sqlx::query("SAVEPOINT w")
            .execute(&mut *conn)
            .await
            .unwrap();
        match sqlx::query(sql).execute(&mut *conn).await {
            Ok(_) => through.push(sql.to_string()),
            Err(e) => eprintln!("refused: {sql}: {e}"),
        }
        sqlx::query("ROLLBACK TO SAVEPOINT w")
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    through
}

/// Grants the platform admin role, as `enclave admin grant` does (system path).
async fn make_platform_admin(sys: &tenancy::SystemDb, email: &str) {
    let mut grant = sys
        .begin("test", "grant an admin", serde_json::json!({}))
        .await
        .unwrap();
    sqlx::query("SELECT enclave.admin_grant($1, 'test')")
        .bind(email)
        .execute(grant.conn())
        .await
        .unwrap();
    grant.commit().await.unwrap();
}

/// Refused for lack of privilege (SQLSTATE 42501), not for any other reason.
fn assert_refused(e: &sqlx::Error) {
    assert_eq!(
        e.as_database_error().and_then(|d| d.code()).as_deref(),
        Some("42501"),
        "{e}"
    );
}

async fn enter(conn: &mut PgConnection, org: Uuid, workspace: Option<Uuid>, user: Uuid) {
    sqlx::query("SELECT enclave.enter_context($1, $2, $3, $4)")
        .bind(org)
        .bind(workspace)
        .bind(user)
        .bind(context_key().user_proof(user))
        .execute(&mut *conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_context_the_runtime_role_writes_itself_is_worth_nothing() {
    let (s, db, sys) = seeded("forged").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    let acme = workspace_id(&sys, brightside, ada, "acme-outdoors").await;
    // Rows in both organizations, through the router functions.
    for (org, workspace, user) in [(northwind, None, nora), (brightside, Some(acme), ada)] {
        let ctx = context(&db, user, org, workspace).await;
        let mut tx = db.begin(&ctx).await.unwrap();
        for sql in &ROUTER_WRITES[..4] {
            tx.query(sql).execute(tx.conn()).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let relations = readable_tenant_relations(&mut s.admin().await, &s.runtime_role()).await;
    assert!(
        relations.iter().any(|r| r == "public.personas") && relations.len() >= 10,
        "the walk found too few relations: {relations:?}"
    );
    let mut conn = s.runtime().await;

    // Honest: Nora in Northwind sees her organization's rows and may write.
    let mut tx = conn.begin().await.unwrap();
    enter(&mut tx, northwind, None, nora).await;
    let honest = visible_rows(&mut tx, &relations).await;
    assert!(
        nonzero(&honest).len() >= 5,
        "an honest context should see its rows: {honest:?}"
    );
    tx.rollback().await.unwrap();
    // The writes in a transaction of their own: on Citus the walk above read every shard in
    // parallel, after which a transaction cannot write a reference table (`organizations`;
    // ARCHITECTURE "Scaling out").
    let mut tx = conn.begin().await.unwrap();
    enter(&mut tx, northwind, None, nora).await;
    assert_eq!(writes_that_succeed(&mut tx).await, ROUTER_WRITES.to_vec());
    let seal: String = sqlx::query_scalar("SELECT current_setting('enclave.context_seal')")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();

    // Each way of writing the context by hand, to Northwind and Nora.
    let n = northwind.to_string();
    let u = nora.to_string();
    let ada_proof = context_key().user_proof(ada);
    let forgeries: Vec<(&str, Vec<String>)> = vec![
        (
            "SET LOCAL of every setting",
            vec![
                format!("SET LOCAL enclave.org_id = '{n}'"),
                format!("SET LOCAL enclave.user_id = '{u}'"),
                "SET LOCAL enclave.workspace_id = ''".into(),
            ],
        ),
        (
            "set_config of every setting",
            vec![
                format!("SELECT set_config('enclave.org_id', '{n}', true)"),
                format!("SELECT set_config('enclave.user_id', '{u}', true)"),
                "SELECT set_config('enclave.workspace_id', '', true)".into(),
            ],
        ),
        (
            "session-level set_config",
            vec![
                format!("SELECT set_config('enclave.org_id', '{n}', false)"),
                format!("SELECT set_config('enclave.user_id', '{u}', false)"),
            ],
        ),
        (
            "a seal copied from an honest transaction",
            vec![
                format!("SET LOCAL enclave.org_id = '{n}'"),
                format!("SET LOCAL enclave.user_id = '{u}'"),
                "SET LOCAL enclave.workspace_id = ''".into(),
                format!("SET LOCAL enclave.context_seal = '{seal}'"),
            ],
        ),
        (
            "an honest context of Brightside with the organization changed",
            vec![
                format!("SELECT enclave.enter_context('{brightside}', NULL, '{ada}', '{ada_proof}')"),
                format!("SET LOCAL enclave.org_id = '{n}'"),
            ],
        ),
        (
            "an honest context of Brightside with the organization and user changed",
            vec![
                format!("SELECT enclave.enter_context('{brightside}', '{acme}', '{ada}', '{ada_proof}')"),
                format!("SELECT set_config('enclave.org_id', '{n}', true)"),
                format!("SELECT set_config('enclave.user_id', '{u}', true)"),
                "SELECT set_config('enclave.workspace_id', '', true)".into(),
            ],
        ),
        (
            "an honest user-only context of Ada with an organization added",
            vec![
                format!("SELECT enclave.enter_user('{ada}', '{ada_proof}')"),
                format!("SET LOCAL enclave.org_id = '{n}'"),
            ],
        ),
    ];
    let citus: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    for (how, statements) in forgeries {
        // On Citus only `SET LOCAL` reaches the workers (the context's own writes use it): a
        // `set_config` after an honest entry changes the coordinator alone, and the workers
        // keep the honest context. There the forgery may show part of what the honest entry
        // alone shows (its own organization's rows in the tables on the workers; the
        // coordinator's, with the forged values, show nothing), and nothing else.
        let set_config_after_entry = statements[0].contains("enclave.enter_")
            && statements[1..].iter().any(|s| s.contains("set_config("));
        let honest_base = if citus && set_config_after_entry {
            let mut tx = conn.begin().await.unwrap();
            sqlx::query(&statements[0]).execute(&mut *tx).await.unwrap();
            let base = nonzero(&visible_rows(&mut tx, &relations).await);
            tx.rollback().await.unwrap();
            Some(base)
        } else {
            None
        };
        let mut tx = conn.begin().await.unwrap();
        for sql in &statements {
            sqlx::query(sql).execute(&mut *tx).await.unwrap();
        }
        let (org, user): (Option<Uuid>, Option<Uuid>) =
            sqlx::query_as("SELECT enclave.current_org_id(), enclave.current_user_id()")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_ne!(
            org,
            Some(northwind),
            "{how}: the forged organization was accepted"
        );
        assert_ne!(user, Some(nora), "{how}: the forged user was accepted");
        let seen = visible_rows(&mut tx, &relations).await;
        // An honest Brightside context left in place would see Brightside's rows; none
        // of Northwind's may show, and with a forged organization nothing at all.
        assert!(
            nonzero(&seen)
                .iter()
                .all(|r| honest_base.as_ref().is_some_and(|base| base.contains(r))),
            "{how}: a forged context sees rows: {:?} (the honest entry alone: {honest_base:?})",
            nonzero(&seen)
        );
        if honest_base.is_some() {
            // Row by row, not only by count: every visible row is the honest entry's own
            // organization's (Brightside's).
            let others = rows_of_others(&mut tx, &relations, brightside).await;
            assert!(
                nonzero(&others).is_empty(),
                "{how}: rows of another organization than the honest entry's: {:?}",
                nonzero(&others)
            );
        }
        let through = writes_that_succeed(&mut tx).await;
        assert!(
            through.is_empty(),
            "{how}: router writes went through: {through:?}"
        );
        tx.rollback().await.unwrap();
        for reset in ["RESET enclave.org_id", "RESET enclave.user_id"] {
            sqlx::query(reset).execute(&mut conn).await.unwrap();
        }
    }

    // The system path cannot be opened by writing its audit row directly ...
    let mut tx = conn.begin().await.unwrap();
    let refused = sqlx::query(
        "INSERT INTO enclave.audit_log (path, actor, action) VALUES ('system', 'intruder', 'read everything')",
    )
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert_refused(&refused);
    tx.rollback().await.unwrap();
    // ... nor through a view or a copy of its row: after trying, nothing is readable.
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SAVEPOINT s").execute(&mut *tx).await.unwrap();
    let _ = sqlx::query("INSERT INTO enclave.audit_log (path, actor, action) VALUES ('system', 'intruder', 'again')")
        .execute(&mut *tx)
        .await;
    sqlx::query("ROLLBACK TO SAVEPOINT s")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query(&format!("SET LOCAL enclave.org_id = '{n}'"))
        .execute(&mut *tx)
        .await
        .unwrap();
    let active: bool = sqlx::query_scalar("SELECT enclave.system_path_active()")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert!(!active);
    let seen = visible_rows(&mut tx, &relations).await;
    assert!(
        nonzero(&seen).is_empty(),
        "rows readable after a direct audit insert: {:?}",
        nonzero(&seen)
    );
    tx.rollback().await.unwrap();

    // Nor as an admin: an 'admin:' row comes only from admin_begin (grant and sign-in
    // checked), and the admin functions trust the transaction's first system row.
    make_platform_admin(&sys, "ada@brightside.example").await;
    let mut tx = conn.begin().await.unwrap();
    let refused = sqlx::query("SELECT enclave.open_system_path($1, 'admin', '{}', $2)")
        .bind(format!("admin:{ada}"))
        .bind(context_key().system_proof())
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_refused(&refused);
    tx.rollback().await.unwrap();

    // enter_context refuses a user who is not a member, and leaves no context behind.
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SAVEPOINT s").execute(&mut *tx).await.unwrap();
    let refused = sqlx::query("SELECT enclave.enter_context($1, NULL, $2, $3)")
        .bind(northwind)
        .bind(ada)
        .bind(&ada_proof)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_refused(&refused);
    sqlx::query("ROLLBACK TO SAVEPOINT s")
        .execute(&mut *tx)
        .await
        .unwrap();
    let row = sqlx::query(
        "SELECT enclave.current_org_id() AS org, current_setting('enclave.org_id', true) AS raw",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    assert_eq!(row.get::<Option<Uuid>, _>("org"), None);
    assert_ne!(
        row.get::<Option<String>, _>("raw").as_deref(),
        Some(n.as_str())
    );
    tx.rollback().await.unwrap();

    // The key is the owner's: the runtime role can neither read it nor seal by itself.
    for sql in [
        "SELECT count(*) FROM enclave.context_key",
        "SELECT count(*) FROM enclave.context_proof_keys",
        "SELECT enclave.proof_holds('system', 'development/00')",
        "SELECT enclave.seal_context(gen_random_uuid(), gen_random_uuid(), NULL)",
        "SELECT enclave.put_context('a', 'b', '', 'c')",
    ] {
        assert_refused(&sqlx::query(sql).execute(&mut conn).await.unwrap_err());
    }
}

/// Ids are not secrets: the session store and the queue's tasks hold them. With Nora's and
/// Northwind's ids, a platform admin's id and no proof (or a proof that is not the
/// server's), every door is refused and nothing is readable after it; with the server's
/// proof the same calls work, so each refusal is the proof's doing.
#[tokio::test]
async fn a_door_without_the_servers_proof_stays_shut() {
    let (s, db, sys) = seeded("proof").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    make_platform_admin(&sys, "ada@brightside.example").await;
    let relations = readable_tenant_relations(&mut s.admin().await, &s.runtime_role()).await;
    let mut conn = s.runtime().await;

    let key = context_key();
    let same_id_other_bytes = tenancy::ContextKey::new(key.id(), &[9; 32]);
    let unknown_id = tenancy::ContextKey::new("stolen", &[9; 32]);
    let candidates = [
        ("no proof".to_string(), None),
        ("an empty proof".into(), Some(String::new())),
        ("Ada's proof".into(), Some(key.user_proof(ada))),
        ("the system proof".into(), Some(key.system_proof())),
        ("Nora's proof".into(), Some(key.user_proof(nora))),
        (
            "a proof under another key of the same id".into(),
            Some(same_id_other_bytes.user_proof(nora)),
        ),
        (
            "a proof under a key the database does not hold".into(),
            Some(unknown_id.user_proof(nora)),
        ),
        (
            "Nora's proof cut short".into(),
            Some(key.user_proof(nora)[..40].to_string()),
        ),
    ];
    // (door, statement taking $1 organization, $2 user, $3 proof, who it is for, the
    // proof that opens it). admin_begin is for Ada, the platform admin.
    let doors = [
        ("enter_context", "SELECT enclave.enter_context($1, NULL, $2, $3)", northwind, nora, key.user_proof(nora)),
        ("enter_user", "SELECT enclave.enter_user($2, $3) WHERE $1::uuid IS NOT NULL", northwind, nora, key.user_proof(nora)),
        ("read_brand_guidelines", "SELECT count(*) FROM enclave.read_brand_guidelines($1, NULL, $2, $3)", northwind, nora, key.user_proof(nora)),
        ("resolve_context", "SELECT count(*) FROM enclave.resolve_context($1, NULL, $2, $3)", northwind, nora, key.user_proof(nora)),
        ("page_context", "SELECT count(*) FROM enclave.page_context($2, $1, NULL, $3)", northwind, nora, key.user_proof(nora)),
        ("admin_begin", "SELECT enclave.admin_begin($2, now(), true, 'look', $1, '{}', $3)", brightside, ada, key.user_proof(ada)),
        ("open_system_path",
         "SELECT enclave.open_system_path('intruder', 'read everything', '{}', $3) WHERE $1::uuid IS NOT NULL AND $2::uuid IS NOT NULL",
         northwind, nora, key.system_proof()),
    ];
    for (door, sql, org, user, opens) in &doors {
        for (what, proof) in candidates.iter().filter(|(_, p)| p.as_ref() != Some(opens)) {
            let mut tx = conn.begin().await.unwrap();
            sqlx::query("SAVEPOINT s").execute(&mut *tx).await.unwrap();
            let refused = sqlx::query(sql)
                .bind(org)
                .bind(user)
                .bind(proof)
                .execute(&mut *tx)
                .await
                .expect_err(&format!("{door} with {what} was let through"));
            assert_refused(&refused);
            sqlx::query("ROLLBACK TO SAVEPOINT s")
                .execute(&mut *tx)
                .await
                .unwrap();
            let (seen_org, seen_user, system): (Option<Uuid>, Option<Uuid>, bool) = sqlx::query_as(
                "SELECT enclave.current_org_id(), enclave.current_user_id(), enclave.system_path_active()",
            )
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            assert_eq!(
                (seen_org, seen_user, system),
                (None, None, false),
                "{door} with {what}"
            );
            let seen = visible_rows(&mut tx, &relations).await;
            assert!(
                nonzero(&seen).is_empty(),
                "{door} with {what}: rows readable: {:?}",
                nonzero(&seen)
            );
            tx.rollback().await.unwrap();
        }
        // The server's proof opens the same door.
        let mut tx = conn.begin().await.unwrap();
        sqlx::query(sql)
            .bind(org)
            .bind(user)
            .bind(opens)
            .execute(&mut *tx)
            .await
            .unwrap_or_else(|e| panic!("{door} with the server's proof: {e}"));
        tx.rollback().await.unwrap();
    }

    // A key taken out of the configuration (enclave migrate installs exactly the
    // configured keys) stops being accepted: the server's own proof is refused.
    let ctx = context(&db, nora, northwind, None).await;
    let other = tenancy::ContextKey::new("next", &[5; 32]);
    enclave_server::ops::migrate::install_context_keys(&mut s.owner().await, &[other])
        .await
        .unwrap();
    let refused = db
        .begin(&ctx)
        .await
        .err()
        .expect("a removed key still accepted");
    assert!(refused.is_no_access(), "{refused:?}");
    enclave_server::ops::migrate::install_context_keys(&mut s.owner().await, &[key])
        .await
        .unwrap();
    db.begin(&ctx).await.unwrap().commit().await.unwrap();
}
