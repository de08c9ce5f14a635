//! Agency client management in the database: only the agency's owners and admins manage
//! clients; archiving hides a client from its staff at once; every change is audited.

mod common;
use common::*;
use tenancy::TenantError;
use uuid::Uuid;

#[tokio::test]
async fn client_management_rules() {
    let (s, db, sys) = seeded("clients").await;
    let (ada, brightside) = demo_ids(&sys, "ada@brightside.example").await;
    let (cleo, _) = demo_ids(&sys, "cleo@brightside.example").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;

    // The owner adds a client (slug from the name) and assigns Cleo.
    let owner = context(&db, ada, brightside, None).await;
    let mut tx = db.begin(&owner).await.unwrap();
    let cedar: Uuid = tx
        .query_scalar("SELECT enclave.add_client('Cedar & Sons Books')")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    let slug: String = tx
        .query_scalar("SELECT slug FROM enclave.list_clients() WHERE workspace_id = $1")
        .bind(cedar)
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(slug, "cedar-sons-books");
    tx.query("SELECT enclave.set_client_assignment($1, $2, true)")
        .bind(cedar)
        .bind(cleo)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Cleo (member) opens it, but cannot manage clients.
    let staff = context(&db, cleo, brightside, Some(cedar)).await;
    let mut tx = db.begin(&staff).await.unwrap();
    let err = tx
        .query("SELECT enclave.add_client('Mine')")
        .execute(tx.conn())
        .await
        .map_err(TenantError::from)
        .unwrap_err();
    assert!(
        matches!(&err, TenantError::Refused(m) if m.contains("only owners and admins")),
        "{err:?}"
    );
    tx.rollback().await.unwrap();

    // An SME cannot have clients, nor touch the agency's by id.
    let sme = context(&db, nora, northwind, None).await;
    for sql in [
        "SELECT enclave.add_client('Nope')",
        "SELECT enclave.archive_client($1, true)",
    ] {
        let mut tx = db.begin(&sme).await.unwrap();
        let mut q = tx.query(sql);
        if sql.contains("$1") {
            q = q.bind(cedar);
        }
        let err = q
            .execute(tx.conn())
            .await
            .map_err(TenantError::from)
            .unwrap_err();
        assert!(
            matches!(&err, TenantError::Refused(m) if m.contains("only agencies")),
            "{sql}: {err:?}"
        );
        tx.rollback().await.unwrap();
    }

    // Archiving: staff lose the client on their next request; the owner still lists it.
    let mut tx = db.begin(&owner).await.unwrap();
    tx.query("SELECT enclave.archive_client($1, true)")
        .bind(cedar)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let gone = db
        .resolve(tenancy::SessionClaim {
            user_id: cleo,
            org_id: brightside,
            workspace_id: Some(cedar),
        })
        .await
        .unwrap_err();
    assert!(gone.is_no_access(), "{gone:?}");
    let staff_now = context(&db, cleo, brightside, None).await;
    let mut tx = db.begin(&staff_now).await.unwrap();
    let visible: Vec<String> = tx
        .query_scalar("SELECT name FROM enclave.list_clients()")
        .fetch_all(tx.conn())
        .await
        .unwrap();
    assert_eq!(visible, vec!["Acme Outdoors".to_string()]);
    tx.rollback().await.unwrap();

    // Every change left an audit row naming who did it.
    let mut admin = s.admin().await;
    let actions: Vec<String> = sqlx::query_scalar(
        "SELECT action FROM enclave.audit_log WHERE org_id = $1 AND actor = $2 AND path = 'tenant' ORDER BY id",
    )
    .bind(brightside)
    .bind(ada.to_string())
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert_eq!(
        actions,
        vec!["add client", "assign client", "archive client"]
    );
}
