//! Everything a page needs to know about who is looking, in one statement: the user, their
//! organizations, the organization they chose (membership checked), the clients open to
//! them and the client the URL names (assignment checked). A page used to ask four times.

use crate::context::{OrgKind, Role, TenantContext};
use crate::error::TenantError;
use crate::identity::UserContext;
use crate::tx::{single_statement, TenantDb};
use serde::Deserialize;
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

impl TenantDb {
    /// Resolves a page's claim in one round trip. An unknown user is an error (as
    /// [`TenantDb::resolve_user`]); everything else is an answer.
    pub async fn resolve_page(
        &self,
        user_id: Uuid,
        org_id: Option<Uuid>,
        client_slug: Option<&str>,
    ) -> Result<PageContext, TenantError> {
        let query = sqlx::query("SELECT * FROM enclave.page_context($1, $2, $3)")
            .persistent(self.persistent())
            .bind(user_id)
            .bind(org_id)
            .bind(client_slug);
        let row = single_statement!(self, exec => query.fetch_one(exec).await.map_err(|e| {
            match TenantError::from(e) {
                TenantError::Refused(why) => TenantError::NoAccess(why),
                other => other,
            }
        })?);
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
                let kind: String = row.try_get("org_kind")?;
                let role: String = row.try_get("role")?;
                let organization = TenantContext {
                    org_id,
                    workspace_id: None,
                    user_id,
                    role: Role::parse(&role)
                        .ok_or_else(|| TenantError::Rejected(format!("unknown role {role}")))?,
                    org_kind: OrgKind::parse(&kind)
                        .ok_or_else(|| TenantError::Rejected(format!("unknown kind {kind}")))?,
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
}
