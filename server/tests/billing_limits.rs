//! The plan's limits (migration 0017), tried as the runtime role would send the SQL, with
//! no server function in between: seats on inviting and accepting, client workspaces,
//! the generated-outputs quota counted once per draft across retries, read-only once a
//! past-due grace period ends, and Free's limits (with nothing deleted) once canceled.
mod common;

use common::billing::apply_subscription;
use common::*;
use tenancy::{SystemDb, TenantContext, TenantDb, TenantError};
use uuid::Uuid;

async fn apply(sys: &SystemDb, org: Uuid, plan: &str, status: &str, customer: &str) {
    apply_subscription(sys, org, plan, status, customer)
        .await
        .unwrap();
}

/// Runs one statement in the context, committing when it worked.
async fn run(db: &TenantDb, c: &TenantContext, sql: &str) -> Result<(), TenantError> {
    let mut tx = db.begin(c).await?;
    tx.query(sql).execute(tx.conn()).await?;
    tx.commit().await
}

fn over_limit(result: Result<(), TenantError>, words: &str) {
    match result {
        Err(TenantError::OverLimit(message)) => {
            assert!(message.contains(words), "{message}");
            assert!(
                message.contains("Billing page"),
                "the refusal does not say where to go: {message}"
            );
        }
        other => panic!("expected a plan-limit refusal ({words}), got {other:?}"),
    }
}

async fn invite(db: &TenantDb, c: &TenantContext, email: &str) -> Result<(), TenantError> {
    let token = app::members::token::new_token();
    let mut tx = db.begin(c).await?;
    tx.query("SELECT enclave.invite_member($1, $2, 'member', $3, true, interval '7 days', 'Invitation', $4)")
        .bind(Uuid::new_v4())
        .bind(email)
        .bind(&token.hash)
        .bind(b"sealed".to_vec())
        .execute(tx.conn())
        .await?;
    tx.commit().await
}

#[tokio::test]
async fn seats_are_limited_when_inviting_and_when_accepting() {
    let s = scratch("limseats").await;
    let (db, sys) = s.dbs(4).await;
    let owner = user(&db, "https://id.test", "owner", "owner@example.com").await;
    let org = onboard(&db, &owner, "sme", "Seat Shop").await;
    let c = context(&db, owner.user_id(), org, None).await;
    // Free has 3 seats: the owner and two invitations fill them.
    invite(&db, &c, "one@example.com").await.unwrap();
    invite(&db, &c, "two@example.com").await.unwrap();
    over_limit(invite(&db, &c, "three@example.com").await, "All 3 seats");

    // The same refusal whatever sends the INSERT: the runtime role, in the owner's
    // verified context, writing the row itself (through the owner role's function path
    // it is the restrictive policy that refuses; the runtime role has no INSERT grant).
    let mut owner_conn = s.owner().await;
    let mut tx = in_context(&mut owner_conn, org, None, owner.user_id()).await;
    let direct = sqlx::query(
        "INSERT INTO public.invitations (org_id, invitation_id, email, role, token_hash, invited_by, expires_at)
         VALUES ($1, gen_random_uuid(), 'sneaky@example.com', 'member', '\\x00', $2, now() + interval '1 day')",
    )
    .bind(org)
    .bind(owner.user_id())
    .execute(&mut *tx)
    .await;
    over_limit(direct.map(|_| ()).map_err(TenantError::from), "seats");
    drop(tx);

    // Withdrawing an invitation frees its seat.
    let mut tx = db.begin(&c).await.unwrap();
    let pending: Uuid = tx
        .query_scalar(
            "SELECT invitation_id FROM public.invitations WHERE email = 'two@example.com'",
        )
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    run(
        &db,
        &c,
        &format!("SELECT enclave.revoke_invitation('{pending}')"),
    )
    .await
    .unwrap();
    invite(&db, &c, "three@example.com").await.unwrap();

    // A paid per-seat plan has no seat limit.
    apply(&sys, org, "sme_team", "active", "cus_Seats1").await;
    for i in 0..5 {
        invite(&db, &c, &format!("many{i}@example.com"))
            .await
            .unwrap();
    }
    // Back on Free (canceled): nothing is deleted, but nobody new can join; accepting an
    // invitation sent earlier is refused in words for the invitee.
    apply(&sys, org, "sme_team", "canceled", "cus_Seats1").await;
    over_limit(invite(&db, &c, "later@example.com").await, "seats");
    let token = app::members::token::new_token();
    let invitation = Uuid::new_v4();
    // An invitation sent while the plan was paid (written by the superuser).
    sqlx::query(
        "INSERT INTO public.invitations (org_id, invitation_id, email, role, token_hash, any_email, invited_by, expires_at)
         VALUES ($1, $2, 'invitee@example.com', 'member', $3, true, $4, now() + interval '1 day')",
    )
    .bind(org)
    .bind(invitation)
    .bind(&token.hash)
    .bind(owner.user_id())
    .execute(&mut s.admin().await)
    .await
    .unwrap();
    let invitee = user(&db, "https://id.test", "invitee", "invitee@example.com").await;
    // Two members would still fit Free's three seats; make it full first.
    for n in ["m1", "m2"] {
        let u = user(&db, "https://id.test", n, &format!("{n}@example.com")).await;
        sqlx::query(
            "INSERT INTO public.memberships (org_id, user_id, role) VALUES ($1, $2, 'member')",
        )
        .bind(org)
        .bind(u.user_id())
        .execute(&mut s.admin().await)
        .await
        .unwrap();
    }
    let mut tx = db.begin_user(&invitee).await.unwrap();
    let accepted = tx
        .query("SELECT enclave.accept_invitation($1, $2, $3)")
        .bind(org)
        .bind(invitation)
        .bind(&token.hash)
        .execute(tx.conn())
        .await;
    over_limit(
        accepted.map(|_| ()).map_err(TenantError::from),
        "all are taken",
    );
    let members: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.memberships WHERE org_id = $1")
            .bind(org)
            .fetch_one(&mut s.admin().await)
            .await
            .unwrap();
    assert_eq!(members, 3, "members were removed or added by the limit");
}

#[tokio::test]
async fn client_workspaces_are_limited_and_canceling_keeps_every_client() {
    let s = scratch("limclients").await;
    let (db, sys) = s.dbs(4).await;
    let owner = user(&db, "https://id.test", "agent", "agent@example.com").await;
    let org = onboard(&db, &owner, "agency", "Limit Agency").await;
    let c = context(&db, owner.user_id(), org, None).await;
    run(&db, &c, "SELECT enclave.add_client('First')")
        .await
        .unwrap();
    run(&db, &c, "SELECT enclave.add_client('Second')")
        .await
        .unwrap();
    over_limit(
        run(&db, &c, "SELECT enclave.add_client('Third')").await,
        "2 open client workspaces",
    );

    // Archiving frees a slot; restoring needs one.
    let ids = |db: TenantDb, c: TenantContext| async move {
        let mut tx = db.begin(&c).await.unwrap();
        let ids: Vec<Uuid> = tx
            .query_scalar("SELECT workspace_id FROM agency.client_workspaces ORDER BY name")
            .fetch_all(tx.conn())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        ids
    };
    let first = ids(db.clone(), c.clone()).await[0];
    run(
        &db,
        &c,
        &format!("SELECT enclave.archive_client('{first}', true)"),
    )
    .await
    .unwrap();
    run(&db, &c, "SELECT enclave.add_client('Third')")
        .await
        .unwrap();
    over_limit(
        run(
            &db,
            &c,
            &format!("SELECT enclave.archive_client('{first}', false)"),
        )
        .await,
        "client workspaces",
    );

    // Studio allows 10; canceled falls back to Free's 2 with all 3 kept and renamable.
    apply(&sys, org, "agency_studio", "active", "cus_Clients1").await;
    run(
        &db,
        &c,
        &format!("SELECT enclave.archive_client('{first}', false)"),
    )
    .await
    .unwrap();
    run(&db, &c, "SELECT enclave.add_client('Fourth')")
        .await
        .unwrap();
    apply(&sys, org, "agency_studio", "canceled", "cus_Clients1").await;
    over_limit(
        run(&db, &c, "SELECT enclave.add_client('Fifth')").await,
        "client workspaces",
    );
    assert_eq!(
        ids(db.clone(), c.clone()).await.len(),
        4,
        "canceling deleted clients"
    );
    run(
        &db,
        &c,
        &format!("SELECT enclave.rename_client('{first}', 'First again')"),
    )
    .await
    .unwrap();
}

async fn save_output(
    db: &TenantDb,
    c: &TenantContext,
    campaign: Uuid,
    key: &str,
) -> Result<bool, TenantError> {
    let mut tx = db.begin(c).await?;
    let saved: bool = tx
        .query_scalar("SELECT enclave.save_generated_output($1, $2, 'email', 'Headline', 'Body')")
        .bind(campaign)
        .bind(key)
        .fetch_one(tx.conn())
        .await?;
    tx.commit().await?;
    Ok(saved)
}

async fn outputs_used(db: &TenantDb, c: &TenantContext) -> i64 {
    let mut tx = db.begin(c).await.unwrap();
    let used: i64 = tx
        .query_scalar("SELECT o_outputs FROM enclave.billing_usage()")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    used
}

#[tokio::test]
async fn the_outputs_quota_counts_each_draft_once_across_retries() {
    let s = scratch("limquota").await;
    let (db, _sys) = s.dbs(4).await;
    let owner = user(&db, "https://id.test", "writer", "writer@example.com").await;
    let org = onboard(&db, &owner, "sme", "Quota Shop").await;
    let c = context(&db, owner.user_id(), org, None).await;
    let mut tx = db.begin(&c).await.unwrap();
    let campaign: Uuid = tx
        .query_scalar("SELECT enclave.save_campaign(NULL, 'Spring', 'Sell beans', '{email}', NULL, NULL, NULL, 'draft', NULL)")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // A job that runs again after a crash reuses its keys: saved once, counted once.
    assert!(save_output(&db, &c, campaign, "job1:email").await.unwrap());
    assert!(!save_output(&db, &c, campaign, "job1:email").await.unwrap());
    assert!(!save_output(&db, &c, campaign, "job1:email").await.unwrap());
    assert_eq!(outputs_used(&db, &c).await, 1);
    // Free allows 50 a period: the 51st draft is refused and not saved.
    for i in 2..=50 {
        assert!(save_output(&db, &c, campaign, &format!("job{i}:email"))
            .await
            .unwrap());
    }
    assert_eq!(outputs_used(&db, &c).await, 50);
    match save_output(&db, &c, campaign, "job51:email").await {
        Err(TenantError::OverLimit(words)) => {
            assert!(words.contains("all 50 generated outputs"), "{words}")
        }
        other => panic!("the 51st output was not refused: {other:?}"),
    }
    assert_eq!(outputs_used(&db, &c).await, 50);
    let saved: i64 =
        sqlx::query_scalar("SELECT count(*) FROM public.campaign_outputs WHERE org_id = $1")
            .bind(org)
            .fetch_one(&mut s.admin().await)
            .await
            .unwrap();
    assert_eq!(saved, 50);
}

#[tokio::test]
async fn past_due_is_full_use_until_grace_ends_then_read_only_until_paid() {
    let s = scratch("limgrace").await;
    let (db, sys) = s.dbs(4).await;
    let owner = user(&db, "https://id.test", "late", "late@example.com").await;
    let org = onboard(&db, &owner, "sme", "Late Payer").await;
    let c = context(&db, owner.user_id(), org, None).await;
    apply(&sys, org, "sme_business", "active", "cus_Grace1").await;
    let persona = "SELECT enclave.save_persona(NULL, 'Pat', 'Buyer', 'Goals', 'Pains', '{email}')";
    run(&db, &c, persona).await.unwrap();
    // Payment fails: 7 days of full use.
    apply(&sys, org, "sme_business", "past_due", "cus_Grace1").await;
    run(&db, &c, persona).await.unwrap();
    // The grace period ends: writes are refused, reads work.
    sqlx::query("UPDATE public.org_billing SET grace_ends_at = now() - interval '1 minute' WHERE org_id = $1")
        .bind(org)
        .execute(&mut s.admin().await)
        .await
        .unwrap();
    over_limit(run(&db, &c, persona).await, "read-only");
    over_limit(
        run(
            &db,
            &c,
            "SELECT enclave.save_brand_guidelines('Voice', 'Tone', 'Colours', 'Do', 'Dont', NULL)",
        )
        .await,
        "read-only",
    );
    let mut tx = db.begin(&c).await.unwrap();
    let personas: i64 = tx
        .query_scalar("SELECT count(*) FROM public.personas_unified")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(personas, 2, "reads stopped working, or data was lost");
    // Paid: writable again.
    apply(&sys, org, "sme_business", "active", "cus_Grace1").await;
    run(&db, &c, persona).await.unwrap();
}

#[tokio::test]
async fn generation_checks_the_plan_before_any_draft_is_written() {
    let s = scratch("limgen").await;
    let (db, sys) = s.dbs(4).await;
    let owner = user(&db, "https://id.test", "gen", "gen@example.com").await;
    let org = onboard(&db, &owner, "sme", "Gen Shop").await;
    let c = context(&db, owner.user_id(), org, None).await;
    let check = |drafts: i32| {
        let (db, c) = (db.clone(), c.clone());
        async move {
            let mut tx = db.begin(&c).await?;
            let external: bool = tx
                .query_scalar("SELECT enclave.check_generation($1, 'external_generator')")
                .bind(drafts)
                .fetch_one(tx.conn())
                .await?;
            tx.commit().await?;
            Ok::<_, TenantError>(external)
        }
    };
    // Free: templates only, and 50 outputs a period.
    assert!(!check(3).await.unwrap());
    over_limit(check(51).await.map(|_| ()), "51 draft(s)");
    // A paid plan includes the external generator.
    apply(&sys, org, "sme_business", "active", "cus_Gen1").await;
    assert!(check(3).await.unwrap());
    // Read-only after the grace period: refused before anything is written.
    apply(&sys, org, "sme_business", "past_due", "cus_Gen1").await;
    sqlx::query("UPDATE public.org_billing SET grace_ends_at = now() - interval '1 minute' WHERE org_id = $1")
        .bind(org)
        .execute(&mut s.admin().await)
        .await
        .unwrap();
    over_limit(check(1).await.map(|_| ()), "read-only");
}
