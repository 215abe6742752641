//! Who is acting, and what they may do.
//!
//! An [`Actor`] is built once at the edge from verified identity-provider claims (a person's ID token, or
//! a service's access token) and handed to every command. Commands call [`authorize`] themselves — the UI
//! hiding a button is a courtesy, not the check. Roles and tenant scope come from the IdP (DESIGN §7).

mod authorize;
pub mod claims;
mod role;

pub use authorize::{authorize, authorize_tenants, authorize_visible, Permission, Refusal};
pub use claims::{ClaimPaths, ClaimsError, PersonClaims};
pub use role::{Role, TenantScope};

use platform::ids::TenantId;
use serde::{Deserialize, Serialize};

/// Whether the actor is a person (SSO), a service (client credentials) or the console itself (jobs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActorKind {
    User,
    Service,
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "USER",
            ActorKind::Service => "SERVICE",
            ActorKind::System => "SYSTEM",
        }
    }
}

/// A verified identity: the IdP subject, a display name, roles and tenant scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The IdP's stable subject (`sub`); what audit and approvals record.
    pub subject: String,
    /// Human-readable name (preferred_username / name, or the client id of a service).
    pub name: String,
    pub kind: ActorKind,
    pub roles: Vec<Role>,
    pub tenants: TenantScope,
    /// A service token's scopes, as permissions: the actor may use at most these, whatever its roles grant.
    /// `None` for people and the console itself, whose roles alone decide.
    #[serde(default)]
    pub token_permissions: Option<Vec<Permission>>,
}

impl Actor {
    /// A person signed in through the identity provider.
    pub fn user(subject: impl Into<String>, name: impl Into<String>, roles: Vec<Role>, tenants: TenantScope) -> Self {
        Actor { subject: subject.into(), name: name.into(), kind: ActorKind::User, roles, tenants, token_permissions: None }
    }

    /// The console's own background jobs: every role, every tenant, recorded as SYSTEM.
    pub fn system(name: &str) -> Self {
        Actor {
            subject: format!("system:{name}"),
            name: name.to_string(),
            kind: ActorKind::System,
            roles: Role::ALL.to_vec(),
            tenants: TenantScope::All,
            token_permissions: None,
        }
    }

    /// Someone whose identity could not be established (a failed sign-in, a refused token): what the audit
    /// names when there is nobody verified to name. No role, no tenant.
    pub fn unidentified(kind: ActorKind) -> Self {
        Actor {
            subject: "unidentified".to_string(),
            name: "unidentified".to_string(),
            kind,
            roles: Vec::new(),
            tenants: TenantScope::Only(Default::default()),
            token_permissions: None,
        }
    }

    /// The permissions this actor may use, tenant scope aside: what its roles grant, cut down to its
    /// token's scopes when it has any. Pages use it to show only what the viewer may use.
    pub fn permissions(&self) -> Vec<Permission> {
        Permission::ALL.into_iter().filter(|&p| authorize(self, p, None).is_ok()).collect()
    }

    pub fn may(&self, permission: Permission) -> bool {
        authorize(self, permission, None).is_ok()
    }

    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    pub fn can_see_tenant(&self, tenant: TenantId) -> bool {
        self.tenants.contains(tenant)
    }

    /// How the actor is written in platform transition history: `name (subject)`.
    pub fn display(&self) -> String {
        if self.name == self.subject {
            self.subject.clone()
        } else {
            format!("{} ({})", self.name, self.subject)
        }
    }
}
