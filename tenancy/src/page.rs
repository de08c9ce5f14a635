//! Everything a page needs to know about who is looking, in one statement: the user, their
//! organizations, the organization they chose (membership checked), the clients open to
//! them and the client the URL names (assignment checked). A page used to ask four times.

use crate::context::TenantContext;
use crate::error::TenantError;
use crate::identity::UserContext;
use crate::tx::{
    begin_detached, refused_is_no_access, role_and_kind, single_statement, TenantDb, TenantTx,
};
use serde::Deserialize;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::Row;
use uuid::Uuid;

/// One of the user's organizations.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Membership {
    pub org_id: Uuid,
    pub name: String,
    pub kind: String,
    pub role: String,
}

/// A client workspace the user may open.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ClientWorkspace {
    pub workspace_id: Uuid,
    pub name: String,
    pub slug: String,
}

/// What the database said about one (user, organization, client) claim.
#[derive(Debug, Clone)]
pub struct PageContext {
    pub user: UserContext,
    pub organizations: Vec<Membership>,
    /// The organization-level context; `None` when no organization was asked for or the
    /// user is not (or no longer) a member of it.
    pub organization: Option<TenantContext>,
    /// Client workspaces open to the user in that organization (agencies).
    pub clients: Vec<ClientWorkspace>,
    /// The context of the client asked for, when it exists, is open and is the user's.
    pub client: Option<TenantContext>,
}

/// A page's own transaction, opened by [`TenantDb::begin_page`]: its resolution left it
/// in the deepest context it confirmed (the client's, else the organization's).
pub struct PageTx {
    tx: TenantTx,
    workspace_id: Option<Uuid>,
    user_id: Uuid,
}

impl PageTx {
    /// Whether this transaction is in exactly `ctx`'s context.
    pub fn serves(&self, ctx: &TenantContext) -> bool {
        (
            crate::TenantScoped::org_id(&self.tx),
            self.workspace_id,
            self.user_id,
        ) == (Some(ctx.org_id), ctx.workspace_id, ctx.user_id)
    }

    pub fn into_tenant_tx(self) -> TenantTx {
        self.tx
    }
}

impl TenantDb {
    fn page_context_query<'q>(
        &self,
        user_id: Uuid,
        org_id: Option<Uuid>,
        client_slug: Option<&'q str>,
    ) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
        sqlx::query("SELECT * FROM enclave.page_context($1, $2, $3, $4)")
            .persistent(self.persistent())
            .bind(user_id)
            .bind(org_id)
            .bind(client_slug)
            .bind(self.key().user_proof(user_id))
    }

    /// Resolves a page's claim in one round trip. An unknown user is an error (as
    /// [`TenantDb::resolve_user`]); everything else is an answer.
    pub async fn resolve_page(
        &self,
        user_id: Uuid,
        org_id: Option<Uuid>,
        client_slug: Option<&str>,
    ) -> Result<PageContext, TenantError> {
        let query = self.page_context_query(user_id, org_id, client_slug);
        let row = single_statement!(self, exec => query.fetch_one(exec).await.map_err(refused_is_no_access)?);
        page_from_row(&row, user_id)
    }

    /// [`TenantDb::resolve_page`] as the first statement of a transaction that then stays
    /// in the context it confirmed, for the page's own reads: the page costs the session
    /// load and this one transaction. `None` when it confirmed no tenant context (no
    /// organization chosen, or the membership is gone); that transaction is rolled back.
    pub async fn begin_page(
        &self,
        user_id: Uuid,
        org_id: Option<Uuid>,
        client_slug: Option<&str>,
    ) -> Result<(PageContext, Option<PageTx>), TenantError> {
        let mut tx = begin_detached(self.pool()).await?;
        let row = self
            .page_context_query(user_id, org_id, client_slug)
            .fetch_one(&mut *tx)
            .await
            .map_err(refused_is_no_access)?;
        let page = page_from_row(&row, user_id)?;
        let open = page
            .client
            .as_ref()
            .or(page.organization.as_ref())
            .map(|ctx| PageTx {
                workspace_id: ctx.workspace_id,
                user_id,
                tx: TenantTx::from_parts(tx, self.persistent(), Some(ctx.org_id)),
            });
        Ok((page, open))
    }
}

fn page_from_row(row: &PgRow, user_id: Uuid) -> Result<PageContext, TenantError> {
    let user = UserContext {
        user_id,
        display_name: row.try_get("user_name")?,
        email: row.try_get("user_email")?,
    };
    let Json(organizations): Json<Vec<Membership>> = row.try_get("organizations")?;
    let Json(clients): Json<Vec<ClientWorkspace>> = row.try_get("clients")?;
    let org: Option<Uuid> = row.try_get("org_id")?;
    let (organization, client) = match org {
        None => (None, None),
        Some(org_id) => {
            let (role, org_kind) = role_and_kind(
                &row.try_get::<String, _>("role")?,
                &row.try_get::<String, _>("org_kind")?,
            )?;
            let organization = TenantContext {
                org_id,
                workspace_id: None,
                user_id,
                role,
                org_kind,
                org_name: row.try_get("org_name")?,
                workspace_name: None,
                user_name: user.display_name.clone(),
                user_email: user.email.clone(),
            };
            let workspace: Option<Uuid> = row.try_get("workspace_id")?;
            let client = match workspace {
                Some(workspace_id) => Some(TenantContext {
                    workspace_id: Some(workspace_id),
                    workspace_name: row.try_get("workspace_name")?,
                    ..organization.clone()
                }),
                None => None,
            };
            (Some(organization), client)
        }
    };
    Ok(PageContext {
        user,
        organizations,
        organization,
        clients,
        client,
    })
}
