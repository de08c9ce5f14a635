//! Property-based isolation through the server-function layer: the very functions the
//! browser calls (`app::personas::save_persona`, `app::campaigns::list_campaigns`, the
//! import upload route, the connected accounts' list and disconnect, ...), each run as a signed-in user with their own session, in a
//! world of 50 organizations of both kinds, several clients per agency, random members
//! and assignments. 10,000 random operations aim at the user's own scope, at clients of
//! their agency they are not assigned to, at other organizations' clients and at ids of
//! other scopes. After every step the invariant is checked against a model: everything a
//! user can read or change belongs to their organization and, in an agency, to a client
//! open to them; what a refused call aimed at is unchanged. Prints the seed and the count;
//! `ENCLAVE_PROP_SEED` and `ENCLAVE_PROP_OPS` replay or lengthen a run.

mod common;
use app::error::AppError;
use common::*;
use leptos::prelude::{provide_context, Owner};
use leptos::reactive::computed::ScopedFuture;
use leptos_axum::ResponseOptions;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::sync::Arc;
use tenancy::{SystemDb, TenantDb};
use tower::ServiceExt;
use tower_sessions::Session;
use uuid::Uuid;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Scope {
    org: Uuid,
    workspace: Option<Uuid>,
}

struct Client {
    workspace: Uuid,
    slug: String,
}

struct Org {
    id: Uuid,
    agency: bool,
    clients: Vec<Client>,
}

struct Actor {
    user: Uuid,
    org: usize,
    manager: bool,
    /// Client indexes (in the org) assigned to this member; managers change them mid-run.
    assigned: std::cell::RefCell<BTreeSet<usize>>,
    session: Session,
}

#[derive(Default)]
struct Model {
    personas: BTreeMap<Uuid, (Scope, String)>,
    campaigns: BTreeMap<Uuid, (Scope, String)>,
    outputs: BTreeMap<Uuid, (Scope, Uuid)>,
    batches: BTreeMap<Uuid, Scope>,
    connections: BTreeMap<Uuid, Scope>,
}

impl Model {
    fn personas_of(&self, s: Scope) -> BTreeMap<Uuid, String> {
        self.personas
            .iter()
            .filter(|(_, (sc, _))| *sc == s)
            .map(|(id, (_, n))| (*id, n.clone()))
            .collect()
    }
    fn campaigns_of(&self, s: Scope) -> usize {
        self.campaigns.values().filter(|(sc, _)| *sc == s).count()
    }
}

struct World {
    db: TenantDb,
    orgs: Vec<Org>,
    actors: Vec<Actor>,
}

impl World {
    /// The scope a call aimed at `target` must run in for this actor, or None if refused.
    fn access(&self, a: &Actor, target: &Option<String>) -> Option<Scope> {
        let org = &self.orgs[a.org];
        match (org.agency, target) {
            (false, None) => Some(Scope {
                org: org.id,
                workspace: None,
            }),
            (false, Some(_)) | (true, None) => None,
            (true, Some(slug)) => {
                let i = org.clients.iter().position(|c| &c.slug == slug)?;
                (a.manager || a.assigned.borrow().contains(&i)).then_some(Scope {
                    org: org.id,
                    workspace: Some(org.clients[i].workspace),
                })
            }
        }
    }
}

/// Runs a server function as `actor`: their session in the request parts, the pool in
/// the context, exactly as the Leptos integration provides them to a request.
async fn as_user<T, F, Fut>(db: &TenantDb, actor: &Actor, call: F) -> Result<T, AppError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, AppError>>,
{
    // Every other call as a page render (GET: the resolution opens the page's
    // transaction and the call may take it), the rest as a hydrated page's server-function
    // call (POST /api/…: no page transaction), as production runs them.
    static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let as_page = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 2 == 0;
    let owner = Owner::new();
    let mut request = if as_page {
        axum::http::Request::get("/campaigns").body(()).unwrap()
    } else {
        axum::http::Request::post("/api/call").body(()).unwrap()
    };
    request.extensions_mut().insert(actor.session.clone());
    let (parts, ()) = request.into_parts();
    owner.with(|| {
        provide_context(db.clone());
        provide_context(parts);
        provide_context(ResponseOptions::default());
        // Connected accounts: no provider configured, so nothing is called outside.
        provide_context(Arc::new(app::integrations::provider::Integrations::none()));
        provide_context(test_vault());
        // One request, one resolution of who is looking (as the server provides it).
        provide_context(app::session::RequestMemo::default());
    });
    let fut = owner.with(|| ScopedFuture::new(call()));
    fut.await
}

fn test_vault() -> vault::Vault {
    vault::Vault::new(vault::KeySet::parse(&format!("prop:{}", "55".repeat(32))).unwrap())
}

/// What the OAuth callback saves for a finished connection, in `scope` as `user`.
async fn connected_account(db: &TenantDb, user: Uuid, scope: Scope) -> Uuid {
    let ctx = context(db, user, scope.org, scope.workspace).await;
    let id = Uuid::new_v4();
    let token = test_vault()
        .seal(
            &vault::Secret::new("token"),
            &vault::Binding::connection_token(scope.org, scope.workspace, id, "refresh"),
        )
        .unwrap();
    let mut tx = db.begin(&ctx).await.unwrap();
    tx.query("SELECT enclave.save_connection($1, 'social', 'Account', NULL, NULL, $2, NULL)")
        .bind(id)
        .bind(token.as_bytes())
        .execute(tx.conn())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn build_world(
    db: &TenantDb,
    sys: &SystemDb,
    rng: &mut Rng,
    store: &tenancy::IndexedSessionStore,
) -> World {
    let mut orgs = Vec::new();
    let mut actors = Vec::new();
    let mut tx = sys
        .begin(
            "test",
            "server-function isolation world",
            serde_json::json!({}),
        )
        .await
        .unwrap();
    for i in 0..50 {
        let agency = i % 5 >= 3; // 30 SMEs, 20 agencies
        let kind = if agency { "agency" } else { "sme" };
        let owner: Uuid = sqlx::query_scalar("SELECT enclave.create_user($1, $2)")
            .bind(format!("owner{i}-{}@prop.test", Uuid::new_v4().simple()))
            .bind(format!("Owner {i}"))
            .fetch_one(tx.conn())
            .await
            .unwrap();
        let org: Uuid = sqlx::query_scalar("SELECT enclave.create_organization($1, $2, $3, $4)")
            .bind(kind)
            .bind(format!("Prop {kind} {i}"))
            .bind(format!("prop-{i}-{}", Uuid::new_v4().simple()))
            .bind(owner)
            .fetch_one(tx.conn())
            .await
            .unwrap();
        tx.enter_tenant(org, None, owner).await.unwrap();
        let mut members = vec![(owner, true)];
        for m in 0..1 + rng.below(3) {
            let role = if rng.chance(25) { "admin" } else { "member" };
            let user: Uuid = sqlx::query_scalar("SELECT enclave.create_user($1, $2)")
                .bind(format!("m{i}-{m}-{}@prop.test", Uuid::new_v4().simple()))
                .bind(format!("Member {i}.{m}"))
                .fetch_one(tx.conn())
                .await
                .unwrap();
            sqlx::query("SELECT enclave.add_member($1, $2)")
                .bind(user)
                .bind(role)
                .execute(tx.conn())
                .await
                .unwrap();
            members.push((user, role == "admin"));
        }
        let mut clients = Vec::new();
        if agency {
            for c in 0..2 + rng.below(3) {
                let slug = format!("c{i}x{c}");
                let workspace: Uuid =
                    sqlx::query_scalar("SELECT enclave.create_client_workspace($1, $2)")
                        .bind(format!("Client {i}.{c}"))
                        .bind(&slug)
                        .fetch_one(tx.conn())
                        .await
                        .unwrap();
                clients.push(Client { workspace, slug });
            }
        }
        for (user, manager) in members {
            let mut assigned = BTreeSet::new();
            if agency && !manager {
                for (ci, c) in clients.iter().enumerate() {
                    if rng.chance(50) {
                        sqlx::query("SELECT enclave.assign_client($1, $2)")
                            .bind(c.workspace)
                            .bind(user)
                            .execute(tx.conn())
                            .await
                            .unwrap();
                        assigned.insert(ci);
                    }
                }
            }
            let session = Session::new(None, Arc::new(store.clone()), None);
            actors.push(Actor {
                user,
                org: orgs.len(),
                manager,
                assigned: assigned.into(),
                session,
            });
        }
        orgs.push(Org {
            id: org,
            agency,
            clients,
        });
    }
    tx.commit().await.unwrap();
    for a in &actors {
        app::session::begin(&a.session, a.user).await.unwrap();
        app::session::enter_organization(db, &a.session, a.user, orgs[a.org].id)
            .await
            .unwrap();
    }
    World {
        db: db.clone(),
        orgs,
        actors,
    }
}

/// Uploads a CSV of personas through the real upload route; the batch id from the
/// redirect, or None when the route refused.
async fn upload(
    db: &TenantDb,
    a: &Actor,
    client: &Option<String>,
    names: &[String],
) -> Option<Uuid> {
    let boundary = "propboundary";
    let mut body = String::new();
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"resource\"\r\n\r\npersonas\r\n"
    ));
    body.push_str(&format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"p.csv\"\r\nContent-Type: text/csv\r\n\r\nName,Role\r\n"
    ));
    for n in names {
        body.push_str(&format!("{n},Imported\r\n"));
    }
    body.push_str(&format!("\r\n--{boundary}--\r\n"));
    // The scope is in the path, checked before the body is read.
    let path = match client {
        Some(c) => format!("/clients/{c}/import/upload"),
        None => "/import/upload".to_string(),
    };
    let mut request = axum::http::Request::post(path)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(axum::body::Body::from(body))
        .unwrap();
    request.extensions_mut().insert(a.session.clone());
    let router: axum::Router = app::imports::upload::router(db.clone());
    let response = router.oneshot(request).await.unwrap();
    let location = response
        .headers()
        .get("location")?
        .to_str()
        .ok()?
        .to_string();
    if location.contains("problem=") {
        return None;
    }
    Uuid::parse_str(location.rsplit('/').next()?).ok()
}

/// Usually an id of the scope aimed at (so the call should work), otherwise an id of any
/// scope (another organization's or client's, so it must not), or one that never existed.
fn any_id<V>(
    rng: &mut Rng,
    map: &BTreeMap<Uuid, V>,
    scope: Option<Scope>,
    of: impl Fn(&V) -> Scope,
) -> Uuid {
    let own: Vec<Uuid> = match scope {
        Some(sc) => map
            .iter()
            .filter(|(_, v)| of(v) == sc)
            .map(|(id, _)| *id)
            .collect(),
        None => Vec::new(),
    };
    match rng.below(20) {
        0 => Uuid::new_v4(),
        1..=11 if !own.is_empty() => own[rng.below(own.len())],
        _ if !map.is_empty() => *map.keys().nth(rng.below(map.len())).unwrap(),
        _ => Uuid::new_v4(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_server_function_keeps_users_inside_their_scope() {
    // Warnings (the database's reason behind a refusal) show with a failing step.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let seed = Rng::seed_from_env("ENCLAVE_PROP_SEED");
    let ops: usize = std::env::var("ENCLAVE_PROP_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000);
    println!("server-function isolation: seed=0x{seed:016x} (replay with ENCLAVE_PROP_SEED=0x{seed:016x})");
    let mut rng = Rng(seed);
    let (s, db, sys) = seeded("propfn").await;
    let store =
        tenancy::Database::connect(&s.runtime_url, Default::default(), common::context_key())
            .await
            .unwrap()
            .session_store();
    let w = build_world(&db, &sys, &mut rng, &store).await;
    let mut m = Model::default();
    // per operation: (calls, refused because aimed outside reach, succeeded)
    let mut counts: BTreeMap<&str, (usize, usize, usize)> = BTreeMap::new();
    let mut succeeded;
    let all_slugs: Vec<String> = w
        .orgs
        .iter()
        .flat_map(|o| o.clients.iter().map(|c| c.slug.clone()))
        .collect();

    // `step` counts operations that ran (a draw that finds nothing to aim at is redrawn).
    let mut step = 0usize;
    while step < ops {
        let a = &w.actors[rng.below(w.actors.len())];
        let org = &w.orgs[a.org];
        // Aim: usually somewhere open to the actor, sometimes anywhere.
        let target: Option<String> = if org.agency {
            let open: Vec<&Client> = org
                .clients
                .iter()
                .enumerate()
                .filter(|(i, _)| a.manager || a.assigned.borrow().contains(i))
                .map(|(_, c)| c)
                .collect();
            match rng.below(10) {
                0 => None,
                1 | 2 => rng.pick(&org.clients).map(|c| c.slug.clone()),
                3 => rng.pick(&all_slugs).cloned(),
                _ => rng
                    .pick(&open)
                    .map(|c| c.slug.clone())
                    .or_else(|| rng.pick(&all_slugs).cloned()),
            }
        } else if rng.chance(8) {
            rng.pick(&all_slugs).cloned()
        } else {
            None
        };
        let scope = w.access(a, &target);
        let why = |what: &str| {
            format!("step {step} (seed 0x{seed:016x}): {what} by user {} of org {} aimed at {target:?}, expected scope {scope:?}", a.user, org.id)
        };
        let op = rng.below(14);
        succeeded = false;
        let name = format!("n{step}");
        let kind = match op {
            0 | 1 => {
                let got = as_user(&w.db, a, || app::personas::list_personas(target.clone())).await;
                match scope {
                    Some(sc) => {
                        let got: BTreeMap<Uuid, String> = got
                            .unwrap_or_else(|e| panic!("{}: {e}", why("list personas refused")))
                            .personas
                            .into_iter()
                            .map(|p| (p.persona_id, p.name))
                            .collect();
                        assert_eq!(got, m.personas_of(sc), "{}", why("list personas"));
                        succeeded = true;
                    }
                    None => assert!(got.is_err(), "{}", why("list personas allowed")),
                }
                "list personas"
            }
            2 => {
                let got = as_user(&w.db, a, || {
                    app::personas::save_persona(
                        target.clone(),
                        None,
                        name.clone(),
                        "r".into(),
                        "g".into(),
                        "p".into(),
                        "email".into(),
                    )
                })
                .await;
                match scope {
                    Some(sc) => {
                        let id = got
                            .unwrap_or_else(|e| panic!("{}: {e}", why("create persona refused")));
                        m.personas.insert(id, (sc, name.clone()));
                        succeeded = true;
                    }
                    None => assert!(got.is_err(), "{}", why("create persona allowed")),
                }
                "create persona"
            }
            3 => {
                let id = any_id(&mut rng, &m.personas, scope, |v| v.0);
                let got = as_user(&w.db, a, || {
                    app::personas::save_persona(
                        target.clone(),
                        Some(id),
                        name.clone(),
                        "r".into(),
                        "g".into(),
                        "p".into(),
                        String::new(),
                    )
                })
                .await;
                let mine =
                    scope.is_some() && m.personas.get(&id).map(|(s, _)| Some(*s)) == Some(scope);
                assert_eq!(
                    got.is_ok(),
                    mine,
                    "{}",
                    why(&format!("update persona {id} ({got:?})"))
                );
                if mine {
                    m.personas.get_mut(&id).unwrap().1 = name.clone();
                }
                succeeded = mine;
                "update persona"
            }
            4 => {
                let id = any_id(&mut rng, &m.personas, scope, |v| v.0);
                let got = as_user(&w.db, a, || {
                    app::personas::delete_persona(target.clone(), id)
                })
                .await;
                let mine =
                    scope.is_some() && m.personas.get(&id).map(|(s, _)| Some(*s)) == Some(scope);
                assert_eq!(
                    got.is_ok(),
                    mine,
                    "{}",
                    why(&format!("delete persona {id} ({got:?})"))
                );
                if mine {
                    m.personas.remove(&id);
                }
                succeeded = mine;
                "delete persona"
            }
            5 => {
                let got = as_user(&w.db, a, || {
                    app::campaigns::list_campaigns(
                        target.clone(),
                        None,
                        None,
                        Some("name".into()),
                        Some(1),
                    )
                })
                .await;
                match scope {
                    Some(sc) => {
                        let page = got
                            .unwrap_or_else(|e| panic!("{}: {e}", why("list campaigns refused")));
                        assert_eq!(
                            page.total as usize,
                            m.campaigns_of(sc),
                            "{}",
                            why("campaign count")
                        );
                        succeeded = true;
                        for row in page.rows {
                            assert_eq!(
                                m.campaigns
                                    .get(&row.campaign_id)
                                    .map(|(s, n)| (*s, n.clone())),
                                Some((sc, row.name.clone())),
                                "{}",
                                why("listed campaign")
                            );
                        }
                    }
                    None => assert!(got.is_err(), "{}", why("list campaigns allowed")),
                }
                "list campaigns"
            }
            6 => {
                let got = as_user(&w.db, a, || {
                    app::campaigns::add_campaign(
                        target.clone(),
                        name.clone(),
                        String::new(),
                        "10".into(),
                        String::new(),
                        String::new(),
                    )
                })
                .await;
                match scope {
                    Some(sc) => {
                        let id = got
                            .unwrap_or_else(|e| panic!("{}: {e}", why("create campaign refused")));
                        m.campaigns.insert(id, (sc, name.clone()));
                        succeeded = true;
                    }
                    None => assert!(got.is_err(), "{}", why("create campaign allowed")),
                }
                "create campaign"
            }
            7 => {
                let id = any_id(&mut rng, &m.campaigns, scope, |v| v.0);
                let got = as_user(&w.db, a, || {
                    app::campaigns::detail::get_campaign(target.clone(), id)
                })
                .await;
                let mine =
                    scope.is_some() && m.campaigns.get(&id).map(|(s, _)| Some(*s)) == Some(scope);
                match got {
                    Ok(c) => {
                        assert!(
                            mine,
                            "{}",
                            why(&format!("read campaign {id} of another scope"))
                        );
                        assert_eq!(c.name, m.campaigns[&id].1, "{}", why("campaign name"));
                        let got: BTreeSet<Uuid> = c.outputs.iter().map(|o| o.output_id).collect();
                        let want: BTreeSet<Uuid> = m
                            .outputs
                            .iter()
                            .filter(|(_, (_, cid))| *cid == id)
                            .map(|(o, _)| *o)
                            .collect();
                        assert_eq!(got, want, "{}", why("campaign outputs"));
                        succeeded = true;
                    }
                    Err(e) => assert!(!mine, "{}", why(&format!("own campaign {id} refused: {e}"))),
                }
                "get campaign"
            }
            8 => {
                let id = any_id(&mut rng, &m.campaigns, scope, |v| v.0);
                let got = as_user(&w.db, a, || {
                    app::campaigns::detail::save_output(
                        target.clone(),
                        id,
                        None,
                        "email".into(),
                        name.clone(),
                        "body".into(),
                        "draft".into(),
                    )
                })
                .await;
                let mine =
                    scope.is_some() && m.campaigns.get(&id).map(|(s, _)| Some(*s)) == Some(scope);
                assert_eq!(
                    got.is_ok(),
                    mine,
                    "{}",
                    why(&format!("add output to {id} ({got:?})"))
                );
                if let Ok(out) = got {
                    m.outputs.insert(out, (scope.unwrap(), id));
                    succeeded = true;
                }
                "add output"
            }
            9 => {
                let id = any_id(&mut rng, &m.outputs, scope, |v| v.0);
                let got = as_user(&w.db, a, || {
                    app::campaigns::detail::delete_output(target.clone(), id)
                })
                .await;
                let mine =
                    scope.is_some() && m.outputs.get(&id).map(|(s, _)| Some(*s)) == Some(scope);
                assert_eq!(
                    got.is_ok(),
                    mine,
                    "{}",
                    why(&format!("delete output {id} ({got:?})"))
                );
                if mine {
                    m.outputs.remove(&id);
                }
                succeeded = mine;
                "delete output"
            }
            10 => {
                let id = any_id(&mut rng, &m.campaigns, scope, |v| v.0);
                let got = as_user(&w.db, a, || {
                    app::campaigns::detail::delete_campaign(target.clone(), id)
                })
                .await;
                let mine =
                    scope.is_some() && m.campaigns.get(&id).map(|(s, _)| Some(*s)) == Some(scope);
                assert_eq!(
                    got.is_ok(),
                    mine,
                    "{}",
                    why(&format!("delete campaign {id} ({got:?})"))
                );
                if mine {
                    m.campaigns.remove(&id);
                    m.outputs.retain(|_, (_, cid)| *cid != id);
                }
                succeeded = mine;
                "delete campaign"
            }
            11 => {
                // A manager (un)assigns a member to a client; anyone else, or another
                // organization's client or member, is refused. Access follows at once.
                let ws_org = if org.agency && rng.chance(70) {
                    a.org
                } else {
                    rng.below(w.orgs.len())
                };
                let Some(ci) = (!w.orgs[ws_org].clients.is_empty())
                    .then(|| rng.below(w.orgs[ws_org].clients.len()))
                else {
                    continue;
                };
                let same_org_members: Vec<usize> = (0..w.actors.len())
                    .filter(|&i| w.actors[i].org == a.org && !w.actors[i].manager)
                    .collect();
                let who = match rng.pick(&same_org_members) {
                    Some(&i) if rng.chance(80) => i,
                    _ => rng.below(w.actors.len()),
                };
                let target_user = &w.actors[who];
                let assign =
                    !target_user.assigned.borrow().contains(&ci) || target_user.org != ws_org;
                let ws = w.orgs[ws_org].clients[ci].workspace;
                let got = as_user(&w.db, a, || {
                    app::clients::set_client_assignment(ws, target_user.user, assign)
                })
                .await;
                let allowed =
                    a.manager && org.agency && ws_org == a.org && target_user.org == a.org;
                assert_eq!(
                    got.is_ok(),
                    allowed,
                    "{}",
                    why(&format!(
                        "assign {} to client {ws}: {assign} ({got:?})",
                        target_user.user
                    ))
                );
                if allowed {
                    let mut set = target_user.assigned.borrow_mut();
                    if assign {
                        set.insert(ci);
                    } else {
                        set.remove(&ci);
                    }
                }
                succeeded = allowed;
                "assign client"
            }
            12 => {
                // A finished connection (what the OAuth callback saves) in the actor's
                // reach; then the list, and a disconnect aimed at any connection.
                if let (Some(sc), true) = (scope, rng.chance(50)) {
                    m.connections
                        .insert(connected_account(&w.db, a.user, sc).await, sc);
                }
                let listed = as_user(&w.db, a, || {
                    app::integrations::list_connections(target.clone())
                })
                .await;
                assert_eq!(
                    listed.is_ok(),
                    scope.is_some(),
                    "{}",
                    why("list connections")
                );
                if let (Ok(page), Some(sc)) = (listed, scope) {
                    let got: BTreeSet<Uuid> =
                        page.connections.iter().map(|c| c.connection_id).collect();
                    let want: BTreeSet<Uuid> = m
                        .connections
                        .iter()
                        .filter(|(_, s)| **s == sc)
                        .map(|(id, _)| *id)
                        .collect();
                    assert_eq!(got, want, "{}", why("connections listed"));
                }
                let id = any_id(&mut rng, &m.connections, scope, |v| *v);
                let got = as_user(&w.db, a, || {
                    app::integrations::disconnect_account(target.clone(), id)
                })
                .await;
                let mine = scope.is_some() && m.connections.get(&id) == scope.as_ref();
                assert_eq!(
                    got.is_ok(),
                    mine,
                    "{}",
                    why(&format!("disconnect {id} ({got:?})"))
                );
                if mine {
                    m.connections.remove(&id);
                }
                succeeded = mine;
                "connections"
            }
            _ => {
                // Import: upload through the route, then run an import of a batch that is
                // usually this upload and sometimes any batch of any scope.
                let names: Vec<String> = (0..1 + rng.below(3))
                    .map(|k| format!("{name}i{k}"))
                    .collect();
                let uploaded = upload(&w.db, a, &target, &names).await;
                assert_eq!(uploaded.is_some(), scope.is_some(), "{}", why("upload"));
                if let (Some(b), Some(sc)) = (uploaded, scope) {
                    m.batches.insert(b, sc);
                }
                let batch = match uploaded {
                    Some(b) if rng.chance(80) => b,
                    _ => any_id(&mut rng, &m.batches, scope, |v| *v),
                };
                let got = as_user(&w.db, a, || {
                    app::imports::run_import(target.clone(), batch, Default::default())
                })
                .await;
                let mine = scope.is_some() && m.batches.get(&batch) == scope.as_ref();
                assert_eq!(
                    got.is_ok(),
                    mine,
                    "{}",
                    why(&format!("import batch {batch} ({got:?})"))
                );
                succeeded = mine;
                if mine {
                    m.batches.remove(&batch); // imported once; a second run is refused
                    let sc = scope.unwrap();
                    // The imported personas get ids the model learns from the scope's list.
                    let listed = as_user(&w.db, a, || app::personas::list_personas(target.clone()))
                        .await
                        .unwrap();
                    for p in listed.personas {
                        if !m.personas.contains_key(&p.persona_id) {
                            assert!(
                                p.name.starts_with('n') && p.name.contains('i'),
                                "{}",
                                why("unexpected persona after import")
                            );
                            m.personas.insert(p.persona_id, (sc, p.name));
                        }
                    }
                }
                "import"
            }
        };
        let entry = counts.entry(kind).or_default();
        entry.0 += 1;
        if scope.is_none() {
            entry.1 += 1;
        }
        if succeeded {
            entry.2 += 1;
        }
        step += 1;
    }
    assert_eq!(counts.values().map(|c| c.0).sum::<usize>(), ops);

    // Every scope, read by its owner at the end, holds exactly what the model says.
    for a in w.actors.iter().filter(|a| a.manager) {
        let org = &w.orgs[a.org];
        let targets: Vec<Option<String>> = if org.agency {
            org.clients.iter().map(|c| Some(c.slug.clone())).collect()
        } else {
            vec![None]
        };
        for t in targets {
            let sc = w.access(a, &t).unwrap();
            let got: BTreeMap<Uuid, String> =
                as_user(&w.db, a, || app::personas::list_personas(t.clone()))
                    .await
                    .unwrap()
                    .personas
                    .into_iter()
                    .map(|p| (p.persona_id, p.name))
                    .collect();
            assert_eq!(got, m.personas_of(sc), "final personas of {sc:?}");
        }
    }
    let agencies = w.orgs.iter().filter(|o| o.agency).count();
    let clients: usize = w.orgs.iter().map(|o| o.clients.len()).sum();
    println!(
        "server-function isolation: {ops} operations (seed 0x{seed:016x}) over {} organizations ({} SME, {agencies} agency, {clients} clients) and {} users; {} personas, {} campaigns, {} outputs at the end",
        w.orgs.len(),
        w.orgs.len() - agencies,
        w.actors.len(),
        m.personas.len(),
        m.campaigns.len(),
        m.outputs.len()
    );
    for (kind, (n, outside, ok)) in &counts {
        println!("  {kind:>16}: {n:>5} calls, {ok:>5} succeeded, {outside:>5} aimed outside the user's reach");
    }
    // The run must have exercised both sides of every operation.
    for (kind, (n, outside, ok)) in counts {
        assert!(ok > 0 && ok < n, "{kind}: {ok} of {n} succeeded");
        assert!(outside > 0, "{kind}: never aimed outside the user's reach");
    }
}

/// The campaigns list stays complete and its pages disjoint with 10,000 campaigns in one
/// scope, for every sort (many rows share a sort key, e.g. one `updated_at` for rows
/// written together, so the id must break ties), and another scope sees none of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_campaigns_page_completely_and_without_overlap() {
    let (s, db, sys) = seeded("page10k").await;
    let (nora, northwind) = demo_ids(&sys, "nora@northwind.example").await;
    let (ben, brightside) = demo_ids(&sys, "ben@brightside.example").await;
    let ctx = context(&db, nora, northwind, None).await;
    let mut tx = db.begin(&ctx).await.unwrap();
    tx.query(
        "SELECT enclave.save_campaign(NULL, 'Bulk ' || (g % 97), '', '{}', NULL,
                CASE WHEN g % 3 = 0 THEN NULL ELSE DATE '2026-01-01' + (g % 200) END,
                NULL, 'draft', NULL)
           FROM generate_series(1, 10000) g",
    )
    .execute(tx.conn())
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let store =
        tenancy::Database::connect(&s.runtime_url, Default::default(), common::context_key())
            .await
            .unwrap()
            .session_store();
    let session_of = |user: Uuid, org: Uuid| {
        let db = db.clone();
        let store = store.clone();
        async move {
            let session = Session::new(None, Arc::new(store), None);
            app::session::begin(&session, user).await.unwrap();
            app::session::enter_organization(&db, &session, user, org)
                .await
                .unwrap();
            Actor {
                user,
                org: 0,
                manager: false,
                assigned: Default::default(),
                session,
            }
        }
    };
    let nora = session_of(nora, northwind).await;
    for sort in ["updated", "name", "starts"] {
        let mut seen = BTreeSet::new();
        let mut page = 1;
        loop {
            let p = as_user(&db, &nora, || {
                app::campaigns::list_campaigns(
                    None,
                    Some("bulk".into()),
                    None,
                    Some(sort.into()),
                    Some(page),
                )
            })
            .await
            .unwrap();
            assert_eq!(p.total, 10_000, "sort {sort}");
            for row in &p.rows {
                assert!(
                    seen.insert(row.campaign_id),
                    "sort {sort}: {} on two pages",
                    row.campaign_id
                );
            }
            if page == p.pages {
                assert_eq!(p.pages, 400);
                break;
            }
            assert_eq!(p.rows.len(), 25, "sort {sort}, page {page}");
            page += 1;
        }
        assert_eq!(
            seen.len(),
            10_000,
            "sort {sort}: every campaign on exactly one page"
        );
    }
    // A page number past the end (or absurd) shows the last page, without overflow.
    for asked in [401, i64::MAX, i64::MIN] {
        let p = as_user(&db, &nora, || {
            app::campaigns::list_campaigns(None, Some("bulk".into()), None, None, Some(asked))
        })
        .await
        .unwrap();
        let expected = if asked == i64::MIN { 1 } else { 400 };
        assert_eq!(
            (p.page, p.pages, p.rows.len()),
            (expected, 400, 25),
            "page {asked}"
        );
    }
    // An agency client's list shows none of them.
    let ben = session_of(ben, brightside).await;
    let other = as_user(&db, &ben, || {
        app::campaigns::list_campaigns(
            Some("acme-outdoors".into()),
            Some("bulk".into()),
            None,
            None,
            None,
        )
    })
    .await
    .unwrap();
    assert_eq!(other.total, 0);
}
