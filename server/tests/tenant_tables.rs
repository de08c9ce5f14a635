//! For every tenant table (found in the catalog, so a new table is covered the day it
//! lands) and every pair of scopes — the SME, agency client A, agency client B — the
//! owner role (which holds INSERT/UPDATE/DELETE, so only the database's rules stand in
//! the way) in one scope's context cannot read, change, delete or insert another scope's
//! rows: an agency context writing an SME table, an SME context writing an agency table,
//! and client A touching client B's rows are all refused. And every view shows a context
//! only its own rows.
//!
//! The walk covers every schema the runtime role can reach, not only `public` and
//! `agency`: underway's tasks (scoped by the stamp in their input) and attempts (by the
//! tenant copied from their task) are walked like tenant tables, and a table that holds
//! no tenant rows at all (underway's schedules) must be out of every tenant's reach.

mod common;
use common::*;
use sqlx::{Connection, PgConnection};
use tenancy::TenantDb;
use uuid::Uuid;

#[derive(Clone, Copy, Debug)]
struct Scope {
    name: &'static str,
    org: Uuid,
    workspace: Option<Uuid>,
    user: Uuid,
}

/// Persona, campaign, outputs (one hand-written, one generated), a job, an import batch,
/// a connected account and a brand guideline save (hence a version) in one scope, through the router
/// functions; an invitation in the organization.
async fn seed_scope(db: &TenantDb, s: Scope) {
    let ctx = context(db, s.user, s.org, s.workspace).await;
    let mut tx = db.begin(&ctx).await.unwrap();
    tx.query("SELECT enclave.save_persona(NULL, $1, 'Buyer', 'goals', 'pains', ARRAY['email'])")
        .bind(format!("Persona of {}", s.name))
        .execute(tx.conn())
        .await
        .unwrap();
    let campaign: Uuid = tx
        .query_scalar("SELECT enclave.save_campaign(NULL, $1, 'grow', ARRAY['email'], 1000, NULL, NULL, 'active', NULL)")
        .bind(format!("Campaign of {}", s.name))
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.query("SELECT enclave.save_campaign_output($1, NULL, 'email', 'Hello', 'Body', 'draft')")
        .bind(campaign)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.query("SELECT enclave.create_job('generate_outputs', $1, NULL, '{}')")
        .bind(campaign)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.query("SELECT enclave.save_generated_output($1, 'job:email', 'email', 'Drafted', 'Body')")
        .bind(campaign)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.query("SELECT enclave.save_import_batch('personas', 'crm.csv', E'name\\nA\\n', 1)")
        .execute(tx.conn())
        .await
        .unwrap();
    // A connected account (migration 0024), its token sealed for this scope.
    let connection = Uuid::new_v4();
    let keys = vault::KeySet::parse(&format!("walk:{}", "11".repeat(32))).unwrap();
    let token = vault::Vault::new(keys)
        .seal(
            &vault::Secret::new(format!("token of {}", s.name)),
            &vault::Binding::connection_token(s.org, s.workspace, connection, "access"),
        )
        .unwrap();
    tx.query("SELECT enclave.save_connection($1, 'social', $2, NULL, $3, NULL, NULL)")
        .bind(connection)
        .bind(format!("Account of {}", s.name))
        .bind(token.as_bytes())
        .execute(tx.conn())
        .await
        .unwrap();
    tx.query("SELECT enclave.save_brand_guidelines('v', 't', 'p', 'd', 'n', NULL)")
        .execute(tx.conn())
        .await
        .unwrap();
    // A queued task, stamped by the database with this scope.
    tx.query(
        "INSERT INTO underway.task_queue (name) VALUES ('generate_outputs') ON CONFLICT DO NOTHING",
    )
    .execute(tx.conn())
    .await
    .unwrap();
    tx.query("INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'generate_outputs', $1)")
        .bind(serde_json::json!({ "job": null, "input": format!("task of {}", s.name) }))
        .execute(tx.conn())
        .await
        .unwrap();
    tx.query("SELECT enclave.invite_member($1, $2, 'member', $3, false, '1 day', 'Invited', NULL)")
        .bind(Uuid::new_v4())
        .bind(format!(
            "{}-{}@example.test",
            s.name,
            Uuid::new_v4().simple()
        ))
        .bind(vec![1u8; 32])
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// The SME, agency client A and agency client B of the demo data, each seeded.
async fn seeded_scopes(s: &Scratch, db: &TenantDb, sys: &tenancy::SystemDb) -> [Scope; 3] {
    let (nora, northwind) = demo_ids(sys, "nora@northwind.example").await;
    let (ada, brightside) = demo_ids(sys, "ada@brightside.example").await;
    let acme = workspace_id(sys, brightside, ada, "acme-outdoors").await;
    let harbor = workspace_id(sys, brightside, ada, "blue-harbor-bank").await;
    let scopes = [
        Scope {
            name: "sme",
            org: northwind,
            workspace: None,
            user: nora,
        },
        Scope {
            name: "acme",
            org: brightside,
            workspace: Some(acme),
            user: ada,
        },
        Scope {
            name: "harbor",
            org: brightside,
            workspace: Some(harbor),
            user: ada,
        },
    ];
    for scope in scopes {
        seed_scope(db, scope).await;
    }
    // The queue's plumbing (no context: here the system path) records an attempt of
    // every task and keeps a schedule, as underway's worker and scheduler do.
    let mut tx = sys
        .begin("test", "queue rows", serde_json::json!({}))
        .await
        .unwrap();
    for sql in [
        "INSERT INTO underway.task_attempt (task_id, task_queue_name, attempt_number)
         SELECT id, task_queue_name, 1 FROM underway.task ON CONFLICT DO NOTHING",
        "INSERT INTO underway.task_queue (name) VALUES ('session_sweep') ON CONFLICT DO NOTHING",
        "INSERT INTO underway.task_schedule (task_queue_name, schedule, timezone, input)
         VALUES ('session_sweep', '0 * * * * * *', 'UTC', '{}') ON CONFLICT DO NOTHING",
    ] {
        sqlx::query(sql).execute(tx.conn()).await.unwrap();
    }
    // Billing state (migration 0015) of both organizations, as webhook processing writes it.
    for (org, plan, customer) in [
        (northwind, "sme_team", "cus_walknorthwind"),
        (brightside, "agency_studio", "cus_walkbrightside"),
    ] {
        sqlx::query(
            "SELECT enclave.apply_subscription($1, $2, 'active', $3, NULL, now(), now() + interval '30 days', NULL, false, 2)",
        )
        .bind(org)
        .bind(plan)
        .bind(customer)
        .execute(tx.conn())
        .await
        .unwrap();
    }
    // The admin overview's revenue snapshot (migration 0021), as its daily job writes it.
    sqlx::query("SELECT enclave.snapshot_mrr()")
        .execute(tx.conn())
        .await
        .unwrap();
    // A platform admin (migration 0021): invisible to every tenant scope.
    sqlx::query("SELECT enclave.admin_grant('ada@brightside.example', 'test')")
        .execute(tx.conn())
        .await
        .unwrap();
    // A reconciliation's finding about each (migration 0018), as reconcile-billing stores it.
    let run = uuid::Uuid::new_v4();
    sqlx::query("INSERT INTO enclave.billing_reconciliations (run_id, dry_run) VALUES ($1, true)")
        .bind(run)
        .execute(tx.conn())
        .await
        .unwrap();
    for org in [northwind, brightside] {
        sqlx::query(
            "INSERT INTO enclave.billing_findings (run_id, org_id, kind, action) VALUES ($1, $2, 'state', 'would_repair')",
        )
        .bind(run)
        .bind(org)
        .execute(tx.conn())
        .await
        .unwrap();
    }
    tx.commit().await.unwrap();
    // An admin's override of each organization's seats (migration 0021; admins write them
    // through a definer function, the superuser here).
    for org in [northwind, brightside] {
        sqlx::query(
            "INSERT INTO enclave.entitlement_overrides (org_id, feature, value, reason, granted_by)
             VALUES ($1, 'seats', 60, 'walk', $1)",
        )
        .bind(org)
        .execute(&mut s.admin().await)
        .await
        .unwrap();
        // Outputs per day (consume_outputs counts them; the superuser here).
        sqlx::query("INSERT INTO public.usage_daily (org_id, day, outputs) VALUES ($1, current_date, 3) ON CONFLICT DO NOTHING")
            .bind(org)
            .execute(&mut s.admin().await)
            .await
            .unwrap();
    }
    scopes
}

/// How a table's rows belong to a scope.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Shape {
    /// `org_id` (and `workspace_id`) columns; `kind`: the row carries `org_kind`.
    Columns { workspace: bool, kind: bool },
    /// underway's tasks: the stamp `input.tenant` that the database wrote (the table has
    /// the `enclave.stamp_job_task` trigger).
    Stamp,
    /// No tenant rows at all: no tenant context may touch any of them.
    Platform,
}

struct Table {
    name: String,
    shape: Shape,
    /// The first primary-key column (a no-op UPDATE sets it to itself).
    key: String,
}

/// Every table to walk: the tenant schemas' tables with an `org_id`, and every table of
/// the other schemas the runtime role can reach; tables declared global are left out
/// (the audit requires the declaration to give its reason).
async fn tenant_tables(admin: &mut PgConnection) -> Vec<Table> {
    let rows: Vec<(String, bool, bool, bool, bool, String)> = sqlx::query_as(
        r"SELECT format('%I.%I', n.nspname, c.relname),
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped),
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped),
                EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'org_kind' AND NOT a.attisdropped),
                EXISTS (SELECT 1 FROM pg_trigger tg WHERE tg.tgrelid = c.oid AND tg.tgfoid = 'enclave.stamp_job_task'::regproc),
                (SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
                  WHERE i.indrelid = c.oid AND i.indisprimary)
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind IN ('r', 'p')
            AND coalesce(obj_description(c.oid, 'pg_class'), '') NOT LIKE 'enclave:global%'
            AND CASE WHEN n.nspname IN ('public', 'agency')
                     THEN EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'org_id' AND NOT a.attisdropped)
                     ELSE has_schema_privilege('enclave_runtime', n.oid, 'USAGE')
                          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%' END
          ORDER BY 1",
    )
    .fetch_all(admin)
    .await
    .unwrap();
    rows.into_iter()
        .map(|(name, org, workspace, kind, stamped, key)| Table {
            shape: if org {
                Shape::Columns { workspace, kind }
            } else if stamped {
                Shape::Stamp
            } else {
                Shape::Platform
            },
            name,
            key,
        })
        .collect()
}

fn filter(scope: Scope, shape: Shape) -> String {
    match (shape, scope.workspace) {
        (Shape::Columns { workspace: true, .. }, Some(ws)) => {
            format!("org_id = '{}' AND workspace_id = '{ws}'", scope.org)
        }
        (Shape::Columns { .. }, _) => format!("org_id = '{}'", scope.org),
        (Shape::Stamp, ws) => format!(
            "input #>> '{{tenant,org}}' = '{}' AND (input #>> '{{tenant,workspace}}') IS NOT DISTINCT FROM {}",
            scope.org,
            ws.map(|w| format!("'{w}'")).unwrap_or_else(|| "NULL".into())
        ),
        (Shape::Platform, _) => "true".into(),
    }
}

/// The scope a row belongs to, as its columns or its stamp say.
fn row_scope(row: &serde_json::Value, shape: Shape) -> (serde_json::Value, serde_json::Value) {
    match shape {
        Shape::Stamp => (
            row["input"]["tenant"]["org"].clone(),
            row["input"]["tenant"]["workspace"].clone(),
        ),
        _ => (row["org_id"].clone(), row["workspace_id"].clone()),
    }
}

/// The directory tables of an agency are shared by its clients on purpose (owners see
/// every client; `isolation::agency_staff_see_only_assigned_clients` covers staff).
/// Queue rows belong to one client.
fn client_scoped(table: &str) -> bool {
    (table.starts_with("agency.")
        && table != "agency.client_workspaces"
        && table != "agency.client_assignments")
        || table.starts_with("underway.")
}

#[tokio::test]
async fn no_scope_reaches_another_scopes_rows_in_any_tenant_table() {
    let (s, db, sys) = seeded("tables").await;
    let scopes = seeded_scopes(&s, &db, &sys).await;
    let mut admin = s.admin().await;
    let mut owner = s.owner().await;
    let tables = tenant_tables(&mut admin).await;
    let names: Vec<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    assert!(tables.len() >= 17, "tenant tables: {names:?}");
    for queue_table in [
        "underway.task",
        "underway.task_attempt",
        "underway.task_schedule",
    ] {
        assert!(
            names.contains(&queue_table),
            "{queue_table} is not walked: {names:?}"
        );
    }
    // The owner of the rows of a table without tenant rows.
    let platform = Scope {
        name: "platform",
        org: Uuid::nil(),
        workspace: None,
        user: Uuid::nil(),
    };

    let mut checks = 0;
    for Table {
        name: table,
        shape,
        key,
    } in &tables
    {
        let shape = *shape;
        let victims = if shape == Shape::Platform {
            vec![platform]
        } else {
            scopes.to_vec()
        };
        let mut covered = false;
        for victim in victims {
            let victim_rows: Vec<serde_json::Value> = sqlx::query_scalar(&format!(
                "SELECT to_jsonb(t) FROM {table} t WHERE {} LIMIT 1",
                filter(victim, shape)
            ))
            .fetch_all(&mut admin)
            .await
            .unwrap();
            let Some(row) = victim_rows.into_iter().next() else {
                continue;
            };
            covered = true;
            for attacker in scopes {
                let same_org = attacker.org == victim.org;
                if attacker.name == victim.name || (same_org && !client_scoped(table)) {
                    continue;
                }
                let target = filter(victim, shape);
                // Read, change, delete: nothing of the victim's is reachable.
                let mut tx =
                    in_context(&mut owner, attacker.org, attacker.workspace, attacker.user).await;
                let seen: i64 =
                    sqlx::query_scalar(&format!("SELECT count(*) FROM {table} WHERE {target}"))
                        .fetch_one(&mut *tx)
                        .await
                        .unwrap();
                assert_eq!(
                    seen, 0,
                    "{} sees {}'s rows in {table}",
                    attacker.name, victim.name
                );
                let updated =
                    sqlx::query(&format!("UPDATE {table} SET {key} = {key} WHERE {target}"))
                        .execute(&mut *tx)
                        .await
                        .unwrap()
                        .rows_affected();
                assert_eq!(
                    updated, 0,
                    "{} updated {}'s rows in {table}",
                    attacker.name, victim.name
                );
                let deleted = sqlx::query(&format!("DELETE FROM {table} WHERE {target}"))
                    .execute(&mut *tx)
                    .await
                    .unwrap()
                    .rows_affected();
                assert_eq!(
                    deleted, 0,
                    "{} deleted {}'s rows in {table}",
                    attacker.name, victim.name
                );
                tx.rollback().await.unwrap();

                // Insert: a copy of the victim's row as it is, and, in a kind-specific table
                // written from the other kind, re-labelled with the attacker's own
                // organization (and client). (Re-labelling a kind-neutral row, such as an
                // invitation, is just a write in one's own organization.) A task is
                // copied under a new id: its stamp is the database's to write, so the copy
                // may only ever land in the attacker's own scope.
                let mut copy = row.clone();
                if shape == Shape::Stamp {
                    copy["id"] = serde_json::json!(Uuid::new_v4());
                }
                let mut attempts = vec![copy];
                if let Shape::Columns {
                    workspace: has_ws,
                    kind: true,
                } = shape
                {
                    if !same_org {
                        let mut relabelled = row.clone();
                        relabelled["org_id"] = serde_json::json!(attacker.org);
                        if let (Some(ws), true) = (attacker.workspace, has_ws) {
                            relabelled["workspace_id"] = serde_json::json!(ws);
                        }
                        attempts.push(relabelled);
                    }
                }
                for attempt in attempts {
                    let mut tx =
                        in_context(&mut owner, attacker.org, attacker.workspace, attacker.user)
                            .await;
                    let result: Result<serde_json::Value, _> = sqlx::query_scalar(&format!(
                        "INSERT INTO {table} AS t SELECT * FROM jsonb_populate_record(NULL::{table}, $1) RETURNING to_jsonb(t)"
                    ))
                    .bind(&attempt)
                    .fetch_one(&mut *tx)
                    .await;
                    match result {
                        Ok(stored) if shape == Shape::Stamp => assert_eq!(
                            row_scope(&stored, shape),
                            (
                                serde_json::json!(attacker.org),
                                serde_json::json!(attacker.workspace)
                            ),
                            "{} inserted a task of {} into {table}: {stored}",
                            attacker.name,
                            victim.name
                        ),
                        Ok(stored) => panic!(
                            "{} inserted into {table} for {}: {stored}",
                            attacker.name, victim.name
                        ),
                        Err(err) => {
                            let msg = err.to_string();
                            assert!(
                                ["row-level security", "foreign key", "check constraint"]
                                    .iter()
                                    .any(|w| msg.contains(w)),
                                "{} inserting into {table}: unexpected error {msg}",
                                attacker.name
                            );
                        }
                    }
                    tx.rollback().await.unwrap();
                    checks += 1;
                }
            }
        }
        assert!(
            covered,
            "{table} has no seeded rows: seed it in this test so it is covered"
        );
    }
    println!(
        "{} tenant tables, {checks} insert attempts refused (or, for tasks, stamped with the attacker's own scope)",
        tables.len()
    );
}

#[tokio::test]
async fn every_view_shows_a_context_only_its_own_rows() {
    let (s, db, sys) = seeded("views").await;
    let scopes = seeded_scopes(&s, &db, &sys).await;
    let mut admin = s.admin().await;
    let views: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'v' AND n.nspname IN ('public', 'agency')
            AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'org_id')
          ORDER BY 1",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(views.len() >= 5, "views: {views:?}");
    let mut runtime = s.runtime().await;
    for view in &views {
        for scope in scopes {
            let mut tx = runtime.begin().await.unwrap();
            sqlx::query("SELECT enclave.enter_context($1, $2, $3, $4)")
                .bind(scope.org)
                .bind(scope.workspace)
                .bind(scope.user)
                .bind(context_key().user_proof(scope.user))
                .execute(&mut *tx)
                .await
                .unwrap();
            let (own, foreign): (i64, i64) = sqlx::query_as(&format!(
                "SELECT count(*) FILTER (WHERE org_id = $1 AND workspace_id IS NOT DISTINCT FROM $2),
                        count(*) FILTER (WHERE org_id <> $1 OR workspace_id IS DISTINCT FROM $2)
                   FROM {view}"
            ))
            .bind(scope.org)
            .bind(scope.workspace)
            .fetch_one(&mut *tx)
            .await
            .unwrap();
            assert_eq!(
                foreign, 0,
                "{view} shows {} rows of other scopes",
                scope.name
            );
            assert!(own > 0, "{view} shows {} nothing (not covered)", scope.name);
            tx.rollback().await.unwrap();
        }
    }
}

#[tokio::test]
async fn dashboard_counts_and_history_are_kept_by_the_database() {
    let (_s, db, sys) = seeded("derived").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let scope = Scope {
        name: "sme",
        org: northwind,
        workspace: None,
        user: nora,
    };
    seed_scope(&db, scope).await;
    seed_scope(&db, scope).await;
    let ctx = context(&db, nora, northwind, None).await;
    let mut tx = db.begin(&ctx).await.unwrap();
    let counts: (i64, i64, i64, i64) = tx
        .query_as("SELECT personas, campaigns, active_campaigns, outputs_to_review FROM public.workspace_counts")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    // Each seeding adds a hand-written and a generated draft: both wait for review.
    assert_eq!(counts, (2, 2, 2, 4));
    // Every save of the guidelines kept a version: seeded v1 plus two saves here.
    let versions: Vec<i32> = tx
        .query_scalar(
            "SELECT version FROM public.brand_guideline_versions_unified ORDER BY version",
        )
        .fetch_all(tx.conn())
        .await
        .unwrap();
    assert_eq!(versions, vec![1, 2, 3]);
    // Restoring version 1 saves its text again as version 4; version 1 stays.
    let seeded_voice: String = tx
        .query_scalar("SELECT voice FROM public.brand_guideline_versions_unified WHERE version = 1")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    let restored: i32 = tx
        .query_scalar("SELECT enclave.restore_brand_guidelines(1, 3)")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(restored, 4);
    // What follows a router's write is read in a new transaction, as the application does
    // (on Citus a read as the runtime role after the owner's write in one transaction is
    // refused: ARCHITECTURE "Scaling out", the write identity).
    tx.commit().await.unwrap();
    let mut tx = db.begin(&ctx).await.unwrap();
    let now: (String, i64) = tx
        .query_as("SELECT voice, (SELECT count(*) FROM public.brand_guideline_versions_unified) FROM public.brand_guidelines_unified")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(now, (seeded_voice, 4));
    // Deleting a campaign through the router removes its outputs too; counts follow.
    let campaign: Uuid = tx
        .query_scalar("SELECT campaign_id FROM public.campaigns_unified LIMIT 1")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    let deleted: bool = tx
        .query_scalar("SELECT enclave.delete_resource('campaigns', $1)")
        .bind(campaign)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert!(deleted);
    tx.commit().await.unwrap();
    let mut tx = db.begin(&ctx).await.unwrap();
    let after: (i64, i64) = tx
        .query_as("SELECT campaigns, outputs FROM public.workspace_counts")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(after, (1, 2), "the other campaign keeps its two outputs");
    tx.rollback().await.unwrap();
}

/// Every single-statement read door (`enclave.read_*(p_org, …)`) filters its rows by
/// `org_id = p_org` as well as by the policies: on Citus a read without the distribution
/// key asks every shard (the demo read went from 17 to ~600 per second on the test
/// cluster, migration 0035). The policies decide what is visible either way.
#[tokio::test]
async fn every_read_door_names_its_organization() {
    let s = scratch("readdoor").await;
    let mut admin = s.admin().await;
    let doors: Vec<(String, String)> = sqlx::query_as(
        "SELECT p.oid::regprocedure::text, p.prosrc FROM pg_proc p
          WHERE p.pronamespace = 'enclave'::regnamespace AND p.proname LIKE 'read\\_%'
            AND 'p_org' = ANY(p.proargnames)",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!doors.is_empty(), "no read door found");
    for (door, body) in doors {
        let body = body.to_lowercase();
        let queries = body.matches("return query").count();
        assert!(queries >= 1, "{door}: no RETURN QUERY");
        assert_eq!(
            body.matches("org_id = p_org").count(),
            queries,
            "{door} reads without naming its organization:\n{body}"
        );
    }
}
