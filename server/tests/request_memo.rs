//! Issue 16: a request resolves who is looking once (`session::RequestMemo`), and the
//! answer never stands in for a question it did not answer: another client, another
//! organization chosen in the same request, or the next request after a membership ended.

mod common;
use app::error::AppError;
use app::session::{self, RequestMemo};
use common::*;
use leptos::prelude::{provide_context, Owner};
use leptos::reactive::computed::ScopedFuture;
use std::future::Future;
use std::sync::Arc;
use tenancy::TenantDb;
use tower_sessions::Session;

/// Runs `call` as one request: the session in the request parts, the pool and one memo
/// in the context, as the server provides them.
async fn in_request<T, F, Fut>(db: &TenantDb, session: &Session, path: &str, call: F) -> T
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = T>,
{
    let method = if path.starts_with("/api/") {
        "POST"
    } else {
        "GET"
    };
    let owner = Owner::new();
    let mut request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .body(())
        .unwrap();
    request.extensions_mut().insert(session.clone());
    let (parts, ()) = request.into_parts();
    owner.with(|| {
        provide_context(db.clone());
        provide_context(parts);
        provide_context(RequestMemo::default());
    });
    let fut = owner.with(|| ScopedFuture::new(call()));
    fut.await
}

fn workspace_of(r: &Result<tenancy::TenantContext, AppError>) -> Option<uuid::Uuid> {
    r.as_ref().ok().and_then(|c| c.workspace_id())
}

/// Whom and which client the transaction `session::transaction(ctx)` hands out is in,
/// and how long ago that transaction began (ms).
async fn transaction_for(ctx: &tenancy::TenantContext) -> (uuid::Uuid, Option<uuid::Uuid>, f64) {
    let mut tx = session::transaction(ctx).await.unwrap();
    let seen: (uuid::Uuid, Option<uuid::Uuid>, f64) = tx
        .query_as(
            "SELECT enclave.current_user_id(), enclave.current_workspace_id(),
                    extract(epoch FROM statement_timestamp() - transaction_timestamp())::float8 * 1000",
        )
        .fetch_one(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_resolution_per_request_never_answers_another_question() {
    let (s, db, sys) = seeded("memo").await;
    let store =
        tenancy::Database::connect(&s.runtime_url, Default::default(), common::context_key())
            .await
            .unwrap()
            .session_store();
    let (cleo, brightside) = demo_ids(&sys, "cleo@brightside.example").await;
    let (_, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let (ada, _) = demo_ids(&sys, "ada@brightside.example").await;
    let acme = workspace_id(&sys, brightside, ada, "acme-outdoors").await;
    let session = Session::new(None, Arc::new(store.clone()), None);
    session::begin(&session, cleo).await.unwrap();
    session::enter_organization(&db, &session, cleo, brightside)
        .await
        .unwrap();

    // A client page of Cleo's: the header and the page agree; asking in the same request
    // for a client she is not assigned to, or for none, is refused, not served from memory.
    let (viewer, page, other, none, org) = in_request(
        &db,
        &session,
        "/clients/acme-outdoors/campaigns",
        || async {
            let viewer = app::layout::get_viewer(Some("acme-outdoors".into())).await;
            let page = session::require_scope(Some("acme-outdoors".into())).await;
            let other = session::require_scope(Some("blue-harbor-bank".into())).await;
            let none = session::require_scope(None).await;
            let org = session::context_if_signed_in().await;
            (viewer, page, other, none, org)
        },
    )
    .await;
    let viewer = viewer.unwrap().expect("signed in");
    let active = viewer.active.expect("Brightside is open");
    assert_eq!(active.org_id, brightside);
    assert_eq!(active.client.map(|c| c.workspace_id), Some(acme));
    assert_eq!(
        active
            .clients
            .iter()
            .map(|c| c.slug.as_str())
            .collect::<Vec<_>>(),
        ["acme-outdoors"],
        "the header lists only the clients open to Cleo"
    );
    assert_eq!(workspace_of(&page), Some(acme));
    assert!(matches!(other, Err(AppError::NoAccess(_))), "{other:?}");
    assert!(matches!(none, Err(AppError::ChooseClient)), "{none:?}");
    let org = org.unwrap().expect("signed in");
    assert_eq!((org.org_id(), org.workspace_id()), (brightside, None));

    // Which transaction a caller gets. A page request's resolution opens the page's
    // transaction in Cleo's client context; only a caller in exactly that context gets it
    // (it began before the pause); Ada's context with the same organization and client
    // does not, and then the untaken one is gone. A server-function call opens none.
    let cleo_acme = context(&db, cleo, brightside, Some(acme)).await;
    let ada_acme = context(&db, ada, brightside, Some(acme)).await;
    let pause = std::time::Duration::from_millis(200);
    let page_request = |path: &'static str, first: tenancy::TenantContext| {
        let (db, session) = (db.clone(), session.clone());
        async move {
            in_request(&db, &session, path, move || async move {
                session::require_scope(Some("acme-outdoors".into()))
                    .await
                    .unwrap();
                tokio::time::sleep(pause).await;
                (transaction_for(&first).await, transaction_for(&first).await)
            })
            .await
        }
    };
    let (page_tx, second) =
        page_request("/clients/acme-outdoors/campaigns", cleo_acme.clone()).await;
    assert_eq!((page_tx.0, page_tx.1), (cleo, Some(acme)));
    assert!(
        page_tx.2 >= 150.0,
        "the page's caller got a new transaction: {page_tx:?}"
    );
    assert!(
        second.2 < 150.0,
        "the page's transaction was handed out twice: {second:?}"
    );
    let (other_user, _) = page_request("/clients/acme-outdoors/campaigns", ada_acme).await;
    assert_eq!((other_user.0, other_user.1), (ada, Some(acme)));
    assert!(
        other_user.2 < 150.0,
        "Ada got Cleo's page transaction: {other_user:?}"
    );
    let (call, _) = page_request("/api/campaigns", cleo_acme).await;
    assert_eq!((call.0, call.1), (cleo, Some(acme)));
    assert!(
        call.2 < 150.0,
        "a server-function call opened a page transaction: {call:?}"
    );

    // The session's choice changes within a request (to an organization she does not
    // belong to): the next question is answered anew.
    let (before, after) = in_request(&db, &session, "/campaigns", || async {
        let before = session::context_if_signed_in().await;
        session::store_claim(
            &session::session().await.unwrap(),
            tenancy::SessionClaim {
                user_id: cleo,
                org_id: northwind,
                workspace_id: None,
            },
        )
        .await
        .unwrap();
        let after = session::require_scope(None).await;
        (before, after)
    })
    .await;
    assert_eq!(before.unwrap().map(|c| c.org_id()), Some(brightside));
    assert!(matches!(after, Err(AppError::NoAccess(_))), "{after:?}");

    // Back in Brightside; the membership ends between two requests: the next one knows.
    session::enter_organization(&db, &session, cleo, brightside)
        .await
        .unwrap();
    let owner_ctx = context(&db, ada, brightside, None).await;
    let mut tx = db.begin(&owner_ctx).await.unwrap();
    tx.query("SELECT enclave.remove_member($1)")
        .bind(cleo)
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (viewer, page) = in_request(
        &db,
        &session,
        "/clients/acme-outdoors/campaigns",
        || async {
            (
                app::layout::get_viewer(Some("acme-outdoors".into())).await,
                session::require_scope(Some("acme-outdoors".into())).await,
            )
        },
    )
    .await;
    let viewer = viewer.unwrap().expect("still signed in");
    assert!(viewer.active.is_none());
    assert!(matches!(viewer.problem, Some(AppError::NoAccess(_))));
    assert!(viewer.organizations.iter().all(|o| o.org_id != brightside));
    assert!(matches!(page, Err(AppError::NoAccess(_))), "{page:?}");
}
