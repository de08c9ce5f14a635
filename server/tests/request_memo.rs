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
    let owner = Owner::new();
    let mut request = axum::http::Request::builder().uri(path).body(()).unwrap();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_resolution_per_request_never_answers_another_question() {
    let (s, db, sys) = seeded("memo").await;
    let store = tenancy::Database::connect(&s.runtime_url, Default::default())
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
    let (viewer, page, other, none, org, seen) = in_request(
        &db,
        &session,
        "/clients/acme-outdoors/campaigns",
        || async {
            let viewer = app::layout::get_viewer(Some("acme-outdoors".into())).await;
            let page = session::require_scope(Some("acme-outdoors".into())).await;
            let other = session::require_scope(Some("blue-harbor-bank".into())).await;
            let none = session::require_scope(None).await;
            let org = session::context_if_signed_in().await;
            // The page's transaction (opened by the resolution, in the client's context)
            // goes only to a caller in exactly that context; anyone else gets a
            // transaction of their own, in their own context.
            let workspace_seen = |ctx: tenancy::TenantContext| async move {
                let mut tx = session::transaction(&ctx).await.unwrap();
                let seen: Option<uuid::Uuid> = tx
                    .query_scalar("SELECT enclave.current_workspace_id()")
                    .fetch_one(tx.conn())
                    .await
                    .unwrap();
                tx.commit().await.unwrap();
                seen
            };
            let org_ctx = org.as_ref().unwrap().clone().unwrap();
            let page_ctx = page.as_ref().unwrap().clone();
            let seen = (
                workspace_seen(org_ctx).await,
                workspace_seen(page_ctx.clone()).await,
                workspace_seen(page_ctx).await,
            );
            (viewer, page, other, none, org, seen)
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
    assert_eq!(seen, (None, Some(acme), Some(acme)));
    let org = org.unwrap().expect("signed in");
    assert_eq!((org.org_id(), org.workspace_id()), (brightside, None));

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
