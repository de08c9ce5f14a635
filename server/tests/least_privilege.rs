//! Least privilege for the runtime role (migration 0012), tried as an attacker would: the
//! runtime role in a verified context calls what it is granted and reads what it may
//! select. 0001's functions refuse outside the audited system path, invitations are for
//! owners and admins, and queue rows belong to their own organization and client.

mod common;
use common::*;
use sqlx::{Connection, PgConnection, Postgres, Transaction};
use uuid::Uuid;

fn sqlstate(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.into_owned())
}

/// A runtime-role transaction in the user-only context (signed in, no organization).
async fn as_user(rt: &mut PgConnection, user: Uuid) -> Transaction<'_, Postgres> {
    let mut tx = rt.begin().await.unwrap();
    sqlx::query("SELECT enclave.enter_user($1, $2)")
        .bind(user)
        .bind(context_key().user_proof(user))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

async fn user_id(sys: &tenancy::SystemDb, email: &str) -> Uuid {
    demo_ids(sys, email).await.0
}

async fn member_role(s: &Scratch, org: Uuid, user: Uuid) -> Option<String> {
    sqlx::query_scalar("SELECT role FROM public.memberships WHERE org_id = $1 AND user_id = $2")
        .bind(org)
        .bind(user)
        .fetch_optional(&mut s.admin().await)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_admin_cannot_use_the_first_migrations_functions_on_another_organizations_people() {
    let (s, t, sys) = seeded("lp_first").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    let ben = user_id(&sys, "ben@brightside.example").await;
    let cleo = user_id(&sys, "cleo@brightside.example").await;
    let harbor = workspace_id(&sys, brightside, ada, "blue-harbor-bank").await;

    // Ben becomes an admin of Brightside the ordinary way (an owner's decision, audited).
    let owner = context(&t, ada, brightside, None).await;
    let mut tx = t.begin(&owner).await.unwrap();
    tx.query("SELECT enclave.change_member_role($1, 'admin')")
        .bind(ben)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let audit_before: i64 = sqlx::query_scalar("SELECT count(*) FROM enclave.audit_log")
        .fetch_one(&mut s.admin().await)
        .await
        .unwrap();

    // As the runtime role in Ben's verified admin context, each of 0001's functions is
    // refused: making Northwind's owner an owner of Brightside, a client with a chosen
    // address, an assignment, an organization with a chosen address, a user.
    let mut rt = s.runtime().await;
    for (what, sql, binds) in [
        (
            "add_member",
            "SELECT enclave.add_member($1, 'owner')",
            vec![nora],
        ),
        (
            "create_client_workspace",
            "SELECT enclave.create_client_workspace('Evil Client', 'evil-client')",
            vec![],
        ),
        (
            "assign_client",
            "SELECT enclave.assign_client($1, $2)",
            vec![harbor, cleo],
        ),
        (
            "create_organization",
            "SELECT enclave.create_organization('sme', 'Squatted', 'squatted', $1)",
            vec![ben],
        ),
        (
            "create_user",
            "SELECT enclave.create_user('mallory@example.test', 'Mallory')",
            vec![],
        ),
    ] {
        let mut tx = in_context(&mut rt, brightside, None, ben).await;
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(b);
        }
        let err = q
            .execute(&mut *tx)
            .await
            .expect_err(&format!("{what} was allowed in an admin's tenant context"));
        assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{what}: {err}");
        tx.rollback().await.unwrap();
    }
    // A plain member cannot assign herself to a client either.
    let mut tx = in_context(&mut rt, brightside, None, cleo).await;
    let err = sqlx::query("SELECT enclave.assign_client($1, $2)")
        .bind(harbor)
        .bind(cleo)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
    tx.rollback().await.unwrap();
    // Signed in with no organization: no organization with a chosen address either.
    let mut tx = as_user(&mut rt, ben).await;
    let err = sqlx::query(
        "SELECT enclave.create_organization('agency', 'Mine', 'brightside-agency-2', $1)",
    )
    .bind(ben)
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
    tx.rollback().await.unwrap();

    // Nothing changed: Nora is no member of Brightside, Cleo not assigned to Blue Harbor,
    // and no row of any kind was written.
    assert_eq!(member_role(&s, brightside, nora).await, None);
    let mut admin = s.admin().await;
    let (assigned, squatted, clients, audit_after): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM agency.client_assignments WHERE workspace_id = $1 AND user_id = $2),
                (SELECT count(*) FROM public.organizations WHERE slug IN ('squatted', 'brightside-agency-2')),
                (SELECT count(*) FROM agency.client_workspaces WHERE slug = 'evil-client'),
                (SELECT count(*) FROM enclave.audit_log)",
    )
    .bind(harbor)
    .bind(cleo)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!((assigned, squatted, clients), (0, 0, 0));
    assert_eq!(
        audit_after, audit_before,
        "a refused call left an audit row"
    );

    // The ways that remain for an admin keep their rules: ownership is an owner's to
    // give, and only to a member (Nora joins through an invitation, or not at all).
    let admin_ctx = context(&t, ben, brightside, None).await;
    let mut tx = t.begin(&admin_ctx).await.unwrap();
    let refused = tx
        .query("SELECT enclave.change_member_role($1, 'owner')")
        .bind(nora)
        .execute(tx.conn())
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("not a member"), "{refused}");
    drop(tx);
    assert_eq!(member_role(&s, brightside, nora).await, None);
    assert_eq!(
        member_role(&s, northwind, nora).await.as_deref(),
        Some("owner")
    );

    // On the audited system path (seeding) the functions still work, and say what they did.
    let mut tx = sys
        .begin("test", "seed a member", serde_json::json!({}))
        .await
        .unwrap();
    tx.enter_tenant(brightside, None, ada).await.unwrap();
    sqlx::query("SELECT enclave.add_member($1, 'member')")
        .bind(nora)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        member_role(&s, brightside, nora).await.as_deref(),
        Some("member")
    );
    // (Seeding wrote such rows too, as "seed-demo".)
    let (org, detail): (Option<Uuid>, serde_json::Value) = sqlx::query_as(
        "SELECT org_id, detail FROM enclave.audit_log
          WHERE path = 'system' AND action = 'add member without an invitation' AND actor = 'test'",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(org, Some(brightside));
    assert_eq!(detail["user_id"], serde_json::json!(nora));
}

/// (invitation rows, rows of the members screen's list) that `user` sees in `org`.
async fn invitations_seen(rt: &mut PgConnection, org: Uuid, user: Uuid) -> (i64, i64) {
    let mut tx = in_context(rt, org, None, user).await;
    let seen = sqlx::query_as(
        "SELECT (SELECT count(*) FROM public.invitations),
                (SELECT count(*) FROM enclave.list_invitations())",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    seen
}

#[tokio::test]
async fn invitations_are_visible_to_owners_and_admins_only() {
    let (s, t, sys) = seeded("lp_invites").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let sam = user_id(&sys, "sam@northwind.example").await;
    let owner = context(&t, nora, northwind, None).await;
    let mut tx = t.begin(&owner).await.unwrap();
    tx.query("SELECT enclave.invite_member($1, 'newcomer@example.test', 'member', $2, false, '1 day', 'Invited', NULL)")
        .bind(Uuid::new_v4())
        .bind(vec![7u8; 32])
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut rt = s.runtime().await;
    // Sam, a plain member, sees no email and no token hash of any invitation.
    assert_eq!(
        invitations_seen(&mut rt, northwind, sam).await,
        (0, 0),
        "a plain member sees invitations"
    );
    // The owner sees the invitation, directly and on the members screen's list.
    assert_eq!(invitations_seen(&mut rt, northwind, nora).await, (1, 1));
    // Made an admin, Sam sees it too; the role is read on every statement.
    let mut tx = t.begin(&owner).await.unwrap();
    tx.query("SELECT enclave.change_member_role($1, 'admin')")
        .bind(sam)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(invitations_seen(&mut rt, northwind, sam).await, (1, 1));
    // A member cannot withdraw one either.
    let mut tx = t.begin(&owner).await.unwrap();
    tx.query("SELECT enclave.change_member_role($1, 'member')")
        .bind(sam)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let invitation: Uuid = sqlx::query_scalar("SELECT invitation_id FROM public.invitations")
        .fetch_one(&mut s.admin().await)
        .await
        .unwrap();
    let mut tx = in_context(&mut rt, northwind, None, sam).await;
    let err = sqlx::query("SELECT enclave.revoke_invitation($1)")
        .bind(invitation)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
}

/// A tracked job and a queued task in each of: the SME, agency client A, agency client
/// B; then, as the queue's plumbing (no context, as underway's worker works), an attempt
/// of every task and a schedule of a system job. Returns each scope's task id.
async fn queue_rows(
    s: &Scratch,
    t: &tenancy::TenantDb,
    scopes: &[(Uuid, Option<Uuid>, Uuid)],
) -> Vec<Uuid> {
    let mut tasks = Vec::new();
    for (org, workspace, user) in scopes {
        let ctx = context(t, *user, *org, *workspace).await;
        let mut tx = t.begin(&ctx).await.unwrap();
        tx.query("SELECT enclave.create_job('generate_outputs', gen_random_uuid(), NULL, '{}')")
            .execute(tx.conn())
            .await
            .unwrap();
        tx.query("INSERT INTO underway.task_queue (name) VALUES ('generate_outputs') ON CONFLICT DO NOTHING")
            .execute(tx.conn())
            .await
            .unwrap();
        let id: Uuid = tx
            .query_scalar("INSERT INTO underway.task (id, task_queue_name, input) VALUES (gen_random_uuid(), 'generate_outputs', '{}') RETURNING id")
            .fetch_one(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        tasks.push(id);
    }
    let mut plumbing = s.runtime().await;
    for sql in [
        "INSERT INTO underway.task_attempt (task_id, task_queue_name, attempt_number)
         SELECT id, task_queue_name, 1 FROM underway.task",
        "INSERT INTO underway.task_queue (name) VALUES ('session_sweep') ON CONFLICT DO NOTHING",
        "INSERT INTO underway.task_schedule (task_queue_name, schedule, timezone, input)
         VALUES ('session_sweep', '0 * * * * * *', 'UTC', '{}')",
    ] {
        sqlx::query(sql).execute(&mut plumbing).await.unwrap();
    }
    tasks
}

async fn demo_scopes(sys: &tenancy::SystemDb) -> [(Uuid, Option<Uuid>, Uuid); 3] {
    let (nora, northwind) = demo_ids(sys, "nora@northwind.example").await;
    let (ada, brightside) = demo_ids(sys, "ada@brightside.example").await;
    let acme = workspace_id(sys, brightside, ada, "acme-outdoors").await;
    let harbor = workspace_id(sys, brightside, ada, "blue-harbor-bank").await;
    [
        (northwind, None, nora),
        (brightside, Some(acme), ada),
        (brightside, Some(harbor), ada),
    ]
}

const QUEUE_TABLES: [&str; 6] = [
    "public.jobs",
    "agency.jobs",
    "public.jobs_unified",
    "underway.task",
    "underway.task_attempt",
    "underway.task_schedule",
];

#[tokio::test]
async fn a_user_only_context_sees_no_job_task_attempt_or_schedule() {
    let (s, t, sys) = seeded("lp_useronly").await;
    let scopes = demo_scopes(&sys).await;
    queue_rows(&s, &t, &scopes).await;
    let mut rt = s.runtime().await;
    for (_, _, user) in scopes {
        let mut tx = as_user(&mut rt, user).await;
        for table in QUEUE_TABLES {
            let n: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
            assert_eq!(n, 0, "{table} shows {n} rows in a user-only context");
        }
        tx.rollback().await.unwrap();
    }
    // The queue's plumbing (no context at all) still sees the whole queue.
    let (tasks, attempts, schedules): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM underway.task), (SELECT count(*) FROM underway.task_attempt),
                (SELECT count(*) FROM underway.task_schedule)",
    )
    .fetch_one(&mut rt)
    .await
    .unwrap();
    assert_eq!((tasks, attempts, schedules), (3, 3, 1));
}

#[tokio::test]
async fn a_client_context_sees_no_task_or_attempt_of_another_client() {
    let (s, t, sys) = seeded("lp_clients").await;
    let scopes = demo_scopes(&sys).await;
    let tasks = queue_rows(&s, &t, &scopes).await;
    let mut rt = s.runtime().await;
    for (i, (org, workspace, user)) in scopes.into_iter().enumerate() {
        let mut tx = in_context(&mut rt, org, workspace, user).await;
        for table in ["underway.task", "underway.task_attempt"] {
            let column = if table == "underway.task" {
                "id"
            } else {
                "task_id"
            };
            let seen: Vec<Uuid> = sqlx::query_scalar(&format!("SELECT {column} FROM {table}"))
                .fetch_all(&mut *tx)
                .await
                .unwrap();
            assert_eq!(seen, vec![tasks[i]], "{table} in scope {i}");
        }
        let schedules: i64 = sqlx::query_scalar("SELECT count(*) FROM underway.task_schedule")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(schedules, 0, "a tenant context sees the schedules");
        tx.rollback().await.unwrap();
    }
}

#[tokio::test]
async fn the_runtime_role_cannot_write_queue_rows_of_another_tenant() {
    let (s, t, sys) = seeded("lp_queuewrite").await;
    let scopes = demo_scopes(&sys).await;
    let tasks = queue_rows(&s, &t, &scopes).await;
    let mut rt = s.runtime().await;
    let (org, workspace, user) = scopes[1]; // client A
    for victim in [tasks[0], tasks[2]] {
        // The SME's task and client B's: no change, no removal, no new attempt.
        let mut tx = in_context(&mut rt, org, workspace, user).await;
        for sql in [
            "UPDATE underway.task_attempt SET error_message = 'hijacked', state = 'failed' WHERE task_id = $1",
            "DELETE FROM underway.task_attempt WHERE task_id = $1",
            "UPDATE underway.task SET state = 'cancelled' WHERE id = $1",
            "DELETE FROM underway.task WHERE id = $1",
        ] {
            let n = sqlx::query(sql)
                .bind(victim)
                .execute(&mut *tx)
                .await
                .unwrap()
                .rows_affected();
            assert_eq!(n, 0, "{sql} reached another tenant's row");
        }
        let err = sqlx::query(
            "INSERT INTO underway.task_attempt (task_id, task_queue_name, attempt_number, org_id, workspace_id)
             VALUES ($1, 'generate_outputs', 2, $2, $3)",
        )
        .bind(victim)
        .bind(org)
        .bind(workspace)
        .execute(&mut *tx)
        .await
        .unwrap_err();
        assert!(err.to_string().contains("row-level security"), "{err}");
        tx.rollback().await.unwrap();
    }
    // Schedules belong to the plumbing: a tenant context neither changes nor adds one.
    let mut tx = in_context(&mut rt, org, workspace, user).await;
    for sql in [
        "UPDATE underway.task_schedule SET schedule = '* * * * * * *'",
        "DELETE FROM underway.task_schedule",
    ] {
        let n = sqlx::query(sql)
            .execute(&mut *tx)
            .await
            .unwrap()
            .rows_affected();
        assert_eq!(n, 0, "{sql} reached the plumbing's schedule");
    }
    let err = sqlx::query(
        "INSERT INTO underway.task_schedule (task_queue_name, schedule, timezone, input)
         VALUES ('generate_outputs', '* * * * * * *', 'UTC', '{}')",
    )
    .execute(&mut *tx)
    .await
    .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    tx.rollback().await.unwrap();

    // Every row is as it was.
    let mut admin = s.admin().await;
    let (attempts, hijacked, tasks_left, schedule): (i64, i64, i64, String) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM underway.task_attempt),
                (SELECT count(*) FROM underway.task_attempt WHERE error_message IS NOT NULL),
                (SELECT count(*) FROM underway.task WHERE state = 'pending'),
                (SELECT schedule FROM underway.task_schedule)",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!((attempts, hijacked, tasks_left), (3, 0, 3));
    assert_eq!(schedule, "0 * * * * * *");
}
