use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What the server-side session says the user chose: who they are and which
/// organization (and client workspace) is active. It is a *claim*: it becomes a
/// [`TenantContext`] only after the database confirms the membership
/// (`TenantDb::resolve`). It is never built from a header, form field or URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionClaim {
    pub user_id: Uuid,
    pub org_id: Uuid,
    pub workspace_id: Option<Uuid>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgKind {
    Sme,
    Agency,
}

impl OrgKind {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "sme" => Some(Self::Sme),
            "agency" => Some(Self::Agency),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sme => "sme",
            Self::Agency => "agency",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Admin,
    Member,
}

impl Role {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "owner" => Some(Self::Owner),
            "admin" => Some(Self::Admin),
            "member" => Some(Self::Member),
            _ => None,
        }
    }
}

/// A verified tenant context. Fields are private and there is no public constructor:
/// the only way to get one is `TenantDb::resolve`, which asks the database to confirm
/// the membership (and the client assignment) for this very request.
#[derive(Debug, Clone)]
pub struct TenantContext {
    pub(crate) org_id: Uuid,
    pub(crate) workspace_id: Option<Uuid>,
    pub(crate) user_id: Uuid,
    pub(crate) role: Role,
    pub(crate) org_kind: OrgKind,
    pub(crate) org_name: String,
    pub(crate) workspace_name: Option<String>,
    pub(crate) user_name: String,
    pub(crate) user_email: String,
}

impl TenantContext {
    pub fn org_id(&self) -> Uuid {
        self.org_id
    }
    pub fn workspace_id(&self) -> Option<Uuid> {
        self.workspace_id
    }
    pub fn user_id(&self) -> Uuid {
        self.user_id
    }
    pub fn role(&self) -> Role {
        self.role
    }
    /// For display (badges, labels). Storage never branches on it: the router
    /// functions in the database do.
    pub fn org_kind(&self) -> OrgKind {
        self.org_kind
    }
    pub fn org_name(&self) -> &str {
        &self.org_name
    }
    pub fn workspace_name(&self) -> Option<&str> {
        self.workspace_name.as_deref()
    }
    pub fn user_name(&self) -> &str {
        &self.user_name
    }
    pub fn user_email(&self) -> &str {
        &self.user_email
    }
}
