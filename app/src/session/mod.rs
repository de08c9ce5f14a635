//! The server-side session holds only who is signed in (user id, when) and what they
//! chose to open (organization, client workspace). Every request turns that into a
//! verified context by asking the database; nothing here trusts a header, form field or
//! URL for the tenant, and the role is never stored.

use crate::error::AppError;
use serde::{Deserialize, Serialize};
use tenancy::{SessionClaim, TenantContext, TenantDb, UserContext, SESSION_USER_KEY};
use tower_sessions::Session;
use uuid::Uuid;

const CLAIM_KEY: &str = "enclave.claim";

/// A session older than this ends however active it is.
pub const ABSOLUTE_LIFETIME_SECS: i64 = 24 * 3600;
/// A session without a request for this long ends (the session layer's expiry, and
/// checked here too). Counted from the last request, not the last change.
pub const IDLE_LIFETIME_SECS: i64 = 8 * 3600;
/// A session that opened the platform admins' console ends after this long without a
/// request (the console also refuses any session idle this long).
pub const ADMIN_IDLE_LIFETIME_SECS: i64 = 3600;
/// How often a request renews the idle expiry. Renewing is a write, so a burst of
/// requests writes once; the idle limit is therefore exact to within this.
pub const SEEN_EVERY_SECS: i64 = 60;

/// Who signed in and when, and when they were last seen. Stored under
/// [`SESSION_USER_KEY`], where the session store's user index (for "sign out of all
/// devices") finds the `user_id`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct SessionUser {
    pub user_id: Uuid,
    pub signed_in_at: i64,
    /// 0 in sessions written before this field existed: read as `signed_in_at`.
    #[serde(default)]
    pub seen_at: i64,
    /// Set once the session has been used in the admin console: it then idles out
    /// after [`ADMIN_IDLE_LIFETIME_SECS`].
    #[serde(default)]
    pub admin: bool,
}

impl SessionUser {
    /// When the session last saw a request (to within [`SEEN_EVERY_SECS`]).
    pub fn last_seen(&self) -> i64 {
        if self.seen_at == 0 {
            self.signed_in_at
        } else {
            self.seen_at
        }
    }

    fn idle_limit(&self) -> i64 {
        if self.admin {
            ADMIN_IDLE_LIFETIME_SECS
        } else {
            IDLE_LIFETIME_SECS
        }
    }
}

pub fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub async fn session() -> Result<Session, AppError> {
    leptos_axum::extract::<Session>().await.map_err(|e| {
        if crate::error::request_gone() {
            crate::error::request_ended("the session")
        } else {
            AppError::internal(&e)
        }
    })
}

pub fn db() -> Result<TenantDb, AppError> {
    leptos::prelude::use_context::<TenantDb>()
        .ok_or_else(|| crate::error::missing_context("TenantDb"))
}

/// The keys that seal and open stored secrets (provided by the server, like the pool).
pub fn vault() -> Result<vault::Vault, AppError> {
    leptos::prelude::use_context::<vault::Vault>()
        .ok_or_else(|| crate::error::missing_context("Vault"))
}

/// A session store error: the database away (its words are all the store gives us) is
/// "temporarily unavailable" (503), anything else a bug.
fn store_error(e: tower_sessions::session::Error) -> AppError {
    if tenancy::is_unavailable_text(&e.to_string()) {
        AppError::unavailable(&e)
    } else {
        AppError::internal(&e)
    }
}

/// Starts a signed-in session for `user_id`. The session id is cycled so an id that
/// existed before sign-in (fixation) is worthless after it; any earlier organization
/// choice is dropped.
pub async fn begin(session: &Session, user_id: Uuid) -> Result<(), AppError> {
    session.cycle_id().await.map_err(store_error)?;
    session.remove_value(CLAIM_KEY).await.map_err(store_error)?;
    session
        .insert(
            SESSION_USER_KEY,
            SessionUser {
                user_id,
                signed_in_at: now_unix(),
                seen_at: now_unix(),
                admin: false,
            },
        )
        .await
        .map_err(store_error)
}

/// The signed-in user of this session, if the session is within its absolute and idle
/// lifetimes. An expired session is emptied on the spot. Seeing the user renews the idle
/// expiry (at most once a minute): the session is saved, and the store and the cookie
/// get a new expiry counted from now.
pub async fn signed_in(session: &Session) -> Result<Option<SessionUser>, AppError> {
    let Some(mut user) = session
        .get::<SessionUser>(SESSION_USER_KEY)
        .await
        .map_err(store_error)?
    else {
        return Ok(None);
    };
    let now = now_unix();
    let seen_at = user.last_seen();
    if now - user.signed_in_at > ABSOLUTE_LIFETIME_SECS || now - seen_at > user.idle_limit() {
        session.flush().await.map_err(store_error)?;
        return Ok(None);
    }
    if now - seen_at >= SEEN_EVERY_SECS {
        user.seen_at = now;
        session
            .insert(SESSION_USER_KEY, user)
            .await
            .map_err(store_error)?;
    }
    Ok(Some(user))
}

/// The signed-in user, confirmed by the database (it still exists).
pub async fn require_user() -> Result<UserContext, AppError> {
    let page = resolved_page(None).await?.ok_or(AppError::NotSignedIn)?;
    Ok(page.context.user.clone())
}

/// What one request learned from the database about who is looking: resolved once (one
/// statement, `enclave.page_context`) and shared by the header and the page's server
/// functions of the same request. The server provides one per request; without it each
/// call resolves on its own. Keyed by the session's user, organization choice and the
/// client asked for, so a request that changes the session's choice resolves again.
///
/// When the request renders a page, the resolution is the first statement of the page's
/// transaction, which stays open in the context it confirmed until the page's data takes
/// it ([`transaction`]); a page nobody takes it for rolls it back when the request ends.
#[derive(Clone, Default)]
pub struct RequestMemo(std::sync::Arc<tokio::sync::Mutex<Memo>>);

#[derive(Default)]
struct Memo {
    page: Option<ResolvedPage>,
    open: Option<tenancy::PageTx>,
    /// The database did not answer this request: its other calls say so at once rather
    /// than each waiting out the pool's time-out in turn.
    unavailable: Option<AppError>,
}

/// The database's answer for the session's claim, and the claim it answered.
#[derive(Clone)]
pub struct ResolvedPage {
    user_id: Uuid,
    claimed_org: Option<Uuid>,
    client: Option<String>,
    context: std::sync::Arc<tenancy::PageContext>,
}

impl ResolvedPage {
    /// The organization the session chose, if any (the answer may be "not a member").
    pub fn claimed_org(&self) -> Option<Uuid> {
        self.claimed_org
    }
    /// The user, their organizations, the organization's context and its clients.
    pub fn context(&self) -> &tenancy::PageContext {
        &self.context
    }
    /// The context of `client`, only if this resolution was asked about that client.
    fn client_context(&self, client: Option<&str>) -> Option<&TenantContext> {
        (self.client.as_deref() == client)
            .then_some(self.context.client.as_ref())
            .flatten()
    }
    fn answers(&self, user_id: Uuid, org: Option<Uuid>, need: ClientNeed<'_>) -> bool {
        self.user_id == user_id
            && self.claimed_org == org
            && match need {
                ClientNeed::Any => true,
                ClientNeed::Named(client) => self.client.as_deref() == client,
            }
    }
}

/// A transaction in `ctx`'s context: the page's own, when this request's resolution
/// opened one in exactly that context, or a new one. A page transaction in another
/// context is rolled back first (this request's data wants another context), so a
/// request never holds one connection while it waits for a second.
pub async fn transaction(ctx: &TenantContext) -> Result<tenancy::TenantTx, AppError> {
    if let Some(memo) = leptos::prelude::use_context::<RequestMemo>() {
        match memo.0.lock().await.open.take() {
            Some(tx) if tx.serves(ctx) => return Ok(tx.into_tenant_tx()),
            Some(other) => drop(other),
            None => {}
        }
    }
    Ok(db()?.begin(ctx).await?)
}

/// Which client a caller needs resolved: the one it names, or whichever the request's
/// first resolution named (the header and user checks do not care).
#[derive(Clone, Copy)]
enum ClientNeed<'a> {
    Named(Option<&'a str>),
    Any,
}

/// The client named by the path of the request being served (a page under
/// `/clients/{slug}/`), so a page's first resolution already covers its client.
fn client_of_this_request() -> Option<String> {
    leptos::prelude::use_context::<axum::http::request::Parts>()
        .and_then(|parts| crate::layout::client_in_path(parts.uri.path()))
}

/// Whether this request renders a tenant page (rather than calling a server function),
/// so its data will follow its resolution. Not the admin console: it reads through its
/// own door (`AdminDb`), so a page transaction would only hold a connection meanwhile.
fn renders_a_page() -> bool {
    leptos::prelude::use_context::<axum::http::request::Parts>().is_some_and(|parts| {
        let path = parts.uri.path();
        parts.method == axum::http::Method::GET
            && !path.starts_with("/api/")
            && path != "/admin"
            && !path.starts_with("/admin/")
    })
}

/// The session's user and claim resolved by the database for `client` (or for the
/// request's own client when `None` is given by a caller that does not care); `None`
/// when nobody is signed in.
pub async fn resolved_page(client: Option<String>) -> Result<Option<ResolvedPage>, AppError> {
    let need = match &client {
        Some(c) => ClientNeed::Named(Some(c.as_str())),
        None => ClientNeed::Any,
    };
    resolve_for(&db()?, &session().await?, need).await
}

async fn resolve_for(
    db: &TenantDb,
    session: &Session,
    need: ClientNeed<'_>,
) -> Result<Option<ResolvedPage>, AppError> {
    let Some(user) = signed_in(session).await? else {
        return Ok(None);
    };
    let claimed_org = session
        .get::<SessionClaim>(CLAIM_KEY)
        .await
        .map_err(store_error)?
        .filter(|c| c.user_id == user.user_id)
        .map(|c| c.org_id);
    let memo = leptos::prelude::use_context::<RequestMemo>();
    let mut kept = match &memo {
        Some(memo) => Some(memo.0.lock().await),
        None => None,
    };
    if let Some(kept) = kept.as_deref_mut() {
        if let Some(e) = &kept.unavailable {
            return Err(e.clone());
        }
        if let Some(page) = &kept.page {
            if page.answers(user.user_id, claimed_org, need) {
                return Ok(Some(page.clone()));
            }
        }
        // An earlier resolution's transaction nobody took goes before this one takes a
        // connection of its own.
        kept.open = None;
    }
    let client = match need {
        ClientNeed::Named(client) => client.map(str::to_string),
        ClientNeed::Any => client_of_this_request(),
    }
    .filter(|c| !c.is_empty());
    let resolved = if kept.is_some() && renders_a_page() {
        db.begin_page(user.user_id, claimed_org, client.as_deref())
            .await
    } else {
        db.resolve_page(user.user_id, claimed_org, client.as_deref())
            .await
            .map(|context| (context, None))
    };
    let (context, open) = match resolved {
        Ok(answer) => answer,
        // The only refusal: the session's user no longer exists.
        Err(tenancy::TenantError::NoAccess(_)) => return Err(AppError::NotSignedIn),
        Err(e) => {
            let e = AppError::from(e);
            if let (AppError::Unavailable { .. }, Some(kept)) = (&e, kept.as_deref_mut()) {
                kept.unavailable = Some(e.clone());
            }
            return Err(e);
        }
    };
    let page = ResolvedPage {
        user_id: user.user_id,
        claimed_org,
        client,
        context: std::sync::Arc::new(context),
    };
    if let Some(kept) = kept.as_deref_mut() {
        kept.page = Some(page.clone());
        kept.open = open;
    }
    Ok(Some(page))
}

/// `refusal` for whatever the database answered, except that it did not answer: an
/// outage stays "temporarily unavailable" (503), not "sign in" or "no access".
fn refused_unless_unavailable(e: tenancy::TenantError, refusal: AppError) -> AppError {
    match e {
        tenancy::TenantError::Unavailable(_) => e.into(),
        _ => refusal,
    }
}

/// Makes `org_id` the session's organization after the database confirms the
/// membership.
pub async fn enter_organization(
    db: &TenantDb,
    session: &Session,
    user_id: Uuid,
    org_id: Uuid,
) -> Result<SessionClaim, AppError> {
    let claim = SessionClaim {
        user_id,
        org_id,
        workspace_id: None,
    };
    db.resolve(claim).await.map_err(|e| {
        refused_unless_unavailable(
            e,
            AppError::NoAccess("you are not a member of that organization".into()),
        )
    })?;
    store_claim(session, claim).await?;
    Ok(claim)
}

/// The organization a user lands in after sign-in (the first of theirs by name), if
/// any: one statement (`enclave.page_context` with no organization asked for).
pub async fn first_organization(db: &TenantDb, user_id: Uuid) -> Result<Option<Uuid>, AppError> {
    let page = db.resolve_page(user_id, None, None).await?;
    Ok(page.organizations.first().map(|m| m.org_id))
}

pub async fn claim() -> Result<Option<SessionClaim>, AppError> {
    session()
        .await?
        .get::<SessionClaim>(CLAIM_KEY)
        .await
        .map_err(store_error)
}

pub async fn store_claim(session: &Session, claim: SessionClaim) -> Result<(), AppError> {
    session.insert(CLAIM_KEY, claim).await.map_err(store_error)
}

pub async fn sign_out() -> Result<(), AppError> {
    session().await?.flush().await.map_err(store_error)
}

/// The verified organization-level context of this request, or a clear error.
pub async fn require_context() -> Result<TenantContext, AppError> {
    context_if_signed_in().await?.ok_or(AppError::NotSignedIn)
}

/// The context for content of the page's scope: the organization itself for an SME,
/// the client named in the URL (`/clients/{client}/...`) for an agency. The database
/// decides whether the client exists, is open and is assigned to the user, on every call.
pub async fn require_scope(client: Option<String>) -> Result<TenantContext, AppError> {
    scope_of(&db()?, &session().await?, client).await
}

/// [`require_scope`] for handlers outside Leptos (which have the session and database
/// as axum extractors rather than in the Leptos context).
pub async fn scope_of(
    db: &TenantDb,
    session: &Session,
    client: Option<String>,
) -> Result<TenantContext, AppError> {
    let client = client.filter(|c| !c.is_empty());
    let page = resolve_for(db, session, ClientNeed::Named(client.as_deref()))
        .await?
        .ok_or(AppError::NotSignedIn)?;
    let ctx = organization_of(&page)?;
    match (ctx.org_kind(), client) {
        (tenancy::OrgKind::Sme, None) => Ok(ctx.clone()),
        (tenancy::OrgKind::Sme, Some(_)) => Err(AppError::NotAvailable(
            "This organization has no client workspaces.".into(),
        )),
        (tenancy::OrgKind::Agency, None) => Err(AppError::ChooseClient),
        (tenancy::OrgKind::Agency, Some(slug)) => {
            page.client_context(Some(&slug)).cloned().ok_or_else(|| {
                AppError::NoAccess(
                    "this client is not assigned to you, was archived, or does not exist".into(),
                )
            })
        }
    }
}

/// The organization-level context of a resolved page, or why there is none.
fn organization_of(page: &ResolvedPage) -> Result<&TenantContext, AppError> {
    match (&page.context.organization, page.claimed_org) {
        (Some(ctx), _) => Ok(ctx),
        (None, None) => Err(AppError::NoOrganization),
        (None, Some(_)) => Err(AppError::NoAccess(
            "you are no longer a member of this organization".into(),
        )),
    }
}

/// `None` when nobody is signed in; otherwise the verified organization-level context,
/// or a clear error when no organization is chosen or the membership is gone. (Which
/// client a page shows comes from its URL: [`require_scope`].)
pub async fn context_if_signed_in() -> Result<Option<TenantContext>, AppError> {
    match resolved_page(None).await? {
        None => Ok(None),
        Some(page) => organization_of(&page).cloned().map(Some),
    }
}

/// Drops the session's organization choice (after leaving it).
pub async fn forget_organization() -> Result<(), AppError> {
    session()
        .await?
        .remove_value(CLAIM_KEY)
        .await
        .map(|_| ())
        .map_err(store_error)
}

/// Runs one statement of a tenant function in the session's organization and commits.
/// Ids bound into it only pick rows within that organization: the functions filter on
/// the context's org, so another organization's ids match nothing.
pub async fn run_in_organization(
    sql: &'static str,
    bind: impl FnOnce(
        sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments>,
) -> Result<TenantContext, AppError> {
    let ctx = require_context().await?;
    let mut tx = transaction(&ctx).await?;
    bind(tx.query(sql)).execute(tx.conn()).await?;
    tx.commit().await?;
    Ok(ctx)
}
