//! Roles (DESIGN §7) and tenant scope.

use std::collections::BTreeSet;

use platform::ids::TenantId;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads within tenant scope.
    Viewer,
    /// Incidents, triage, repair requests, low-risk execution, reconciliation, drills.
    Operator,
    /// Approves or rejects others' high-risk repairs.
    Approver,
    /// Posts status updates.
    Comms,
    /// Policies, controls, role mapping.
    Admin,
    /// The internal API, by client credentials.
    Service,
}

impl Role {
    pub const ALL: [Role; 6] = [Role::Viewer, Role::Operator, Role::Approver, Role::Comms, Role::Admin, Role::Service];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Comms => "comms",
            Role::Admin => "admin",
            Role::Service => "service",
        }
    }

    /// Maps an IdP role name; unknown names (Keycloak's defaults, say) are ignored by the caller.
    pub fn from_claim(name: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tenants an actor may see and act on. `*` in the claim means every tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TenantScope {
    All,
    Only(BTreeSet<TenantId>),
}

impl TenantScope {
    /// From the `tenants` claim values; a value that is neither `*` nor a tenant id is ignored (and
    /// returned so the caller can log it). No values at all means no tenant.
    pub fn from_claim<'a>(values: impl IntoIterator<Item = &'a str>) -> (TenantScope, Vec<String>) {
        let mut ids = BTreeSet::new();
        let mut ignored = Vec::new();
        for v in values {
            if v.trim() == "*" {
                return (TenantScope::All, ignored);
            }
            match TenantId::parse(v) {
                Ok(id) => {
                    ids.insert(id);
                }
                Err(_) => ignored.push(v.to_string()),
            }
        }
        (TenantScope::Only(ids), ignored)
    }

    pub fn contains(&self, tenant: TenantId) -> bool {
        match self {
            TenantScope::All => true,
            TenantScope::Only(ids) => ids.contains(&tenant),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::tenants::{ACME, GLOBEX};

    #[test]
    fn a_star_grants_every_tenant() {
        let (scope, ignored) = TenantScope::from_claim(["*"]);
        assert_eq!(scope, TenantScope::All);
        assert!(scope.contains(GLOBEX));
        assert!(ignored.is_empty());
    }

    #[test]
    fn listed_tenants_are_the_only_ones_and_garbage_is_reported() {
        let acme = ACME.to_string();
        let (scope, ignored) = TenantScope::from_claim([acme.as_str(), "acme"]);
        assert!(scope.contains(ACME));
        assert!(!scope.contains(GLOBEX));
        assert_eq!(ignored, vec!["acme".to_string()]);
    }

    #[test]
    fn no_claim_means_no_tenant() {
        let (scope, _) = TenantScope::from_claim([]);
        assert!(!scope.contains(ACME));
    }

    #[test]
    fn unknown_idp_roles_are_not_roles() {
        assert_eq!(Role::from_claim("operator"), Some(Role::Operator));
        assert_eq!(Role::from_claim("default-roles-opsdeck"), None);
    }
}
