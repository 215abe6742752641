//! The permission table: which role may do what. Checked inside every command.

use platform::ids::TenantId;
use serde::{Deserialize, Serialize};

use super::{Actor, Role, TenantScope};

/// Everything the console lets someone do. Commands name the one they need.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Permission {
    /// Read platform entities, incidents, dashboards, audit within tenant scope.
    Read,
    DeclareIncident,
    /// Triage, impact, lifecycle (mitigate/resolve/close), timeline notes.
    ManageIncident,
    /// Post internal and customer-facing status updates.
    PostStatusUpdate,
    /// Write the post-incident review and its action items.
    ManageReview,
    /// Request a repair (dry-run) and execute a low-risk or approved one.
    RequestRepair,
    /// Approve or reject someone else's high-risk repair.
    ApproveRepair,
    RunReconciliation,
    RunDrill,
    /// Mitigation switches (pause relay/consumer, disable acceptance, pause orchestration starts).
    ChangeControl,
    /// Approval policies and role mapping.
    Administer,
}

impl Permission {
    pub const ALL: [Permission; 11] = [
        Permission::Read,
        Permission::DeclareIncident,
        Permission::ManageIncident,
        Permission::PostStatusUpdate,
        Permission::ManageReview,
        Permission::RequestRepair,
        Permission::ApproveRepair,
        Permission::RunReconciliation,
        Permission::RunDrill,
        Permission::ChangeControl,
        Permission::Administer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "READ",
            Permission::DeclareIncident => "DECLARE_INCIDENT",
            Permission::ManageIncident => "MANAGE_INCIDENT",
            Permission::PostStatusUpdate => "POST_STATUS_UPDATE",
            Permission::ManageReview => "MANAGE_REVIEW",
            Permission::RequestRepair => "REQUEST_REPAIR",
            Permission::ApproveRepair => "APPROVE_REPAIR",
            Permission::RunReconciliation => "RUN_RECONCILIATION",
            Permission::RunDrill => "RUN_DRILL",
            Permission::ChangeControl => "CHANGE_CONTROL",
            Permission::Administer => "ADMINISTER",
        }
    }

    /// The roles that grant this permission (DESIGN §7).
    pub fn granted_by(self) -> &'static [Role] {
        use Role::*;
        match self {
            Permission::Read => &[Viewer, Operator, Approver, Comms, Admin, Service],
            Permission::DeclareIncident => &[Operator, Comms, Admin],
            Permission::ManageIncident => &[Operator, Admin],
            Permission::PostStatusUpdate => &[Comms],
            Permission::ManageReview => &[Operator, Admin],
            Permission::RequestRepair => &[Operator, Service],
            Permission::ApproveRepair => &[Approver],
            Permission::RunReconciliation => &[Operator, Admin, Service],
            Permission::RunDrill => &[Operator],
            Permission::ChangeControl => &[Operator, Admin],
            Permission::Administer => &[Admin],
        }
    }
}

/// Why an actor may not do something; said to them and written to the audit log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
pub enum Refusal {
    #[error("{permission} needs one of the roles {needed}; you have {held}")]
    MissingRole { permission: &'static str, needed: String, held: String },
    /// A service token's scopes do not cover the permission, although its role would.
    #[error("{permission} is not among the permissions your token's scopes grant ({granted})")]
    MissingScope { permission: &'static str, granted: String },
    #[error("tenant {tenant} is outside your tenant scope")]
    TenantOutOfScope { tenant: TenantId },
    /// What is acted on concerns no particular tenant (a platform-wide incident): only actors scoped to
    /// every tenant may act on it.
    #[error("this concerns no particular tenant (platform-wide): only people scoped to every tenant may act on it")]
    PlatformWide,
}

impl Refusal {
    /// A stable name for the kind of refusal, for audit details and API answers.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::MissingRole { .. } => "MISSING_ROLE",
            Refusal::MissingScope { .. } => "MISSING_SCOPE",
            Refusal::TenantOutOfScope { .. } => "TENANT_OUT_OF_SCOPE",
            Refusal::PlatformWide => "NEEDS_EVERY_TENANT",
        }
    }

    /// The tenant the refusal names, if any (for the audit line).
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Refusal::TenantOutOfScope { tenant } => Some(*tenant),
            _ => None,
        }
    }
}

/// Checks role, token scope (for services) and, when the action concerns one, tenant scope.
pub fn authorize(actor: &Actor, permission: Permission, tenant: Option<TenantId>) -> Result<(), Refusal> {
    let needed = permission.granted_by();
    if !actor.roles.iter().any(|r| needed.contains(r)) {
        let list = |roles: &[Role]| {
            if roles.is_empty() {
                "none".to_string()
            } else {
                roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
            }
        };
        return Err(Refusal::MissingRole { permission: permission.as_str(), needed: list(needed), held: list(&actor.roles) });
    }
    if let Some(granted) = &actor.token_permissions {
        if !granted.contains(&permission) {
            let granted = if granted.is_empty() {
                "none".to_string()
            } else {
                granted.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", ")
            };
            return Err(Refusal::MissingScope { permission: permission.as_str(), granted });
        }
    }
    if let Some(tenant) = tenant {
        if !actor.tenants.contains(tenant) {
            return Err(Refusal::TenantOutOfScope { tenant });
        }
    }
    Ok(())
}

/// May the actor act on something that concerns all of `tenants`? Every one must be in scope; none at all
/// means platform-wide, which needs an actor scoped to every tenant.
pub fn authorize_tenants(actor: &Actor, tenants: &[TenantId]) -> Result<(), Refusal> {
    if tenants.is_empty() && actor.tenants != TenantScope::All {
        return Err(Refusal::PlatformWide);
    }
    match tenants.iter().find(|t| !actor.tenants.contains(**t)) {
        Some(&tenant) => Err(Refusal::TenantOutOfScope { tenant }),
        None => Ok(()),
    }
}

/// May the actor see something that concerns `tenants`? One of them in scope is enough (an incident that
/// touches the viewer's tenant is shown whole); none at all (platform-wide) needs every tenant.
pub fn authorize_visible(actor: &Actor, tenants: &[TenantId]) -> Result<(), Refusal> {
    if actor.tenants == TenantScope::All || tenants.iter().any(|t| actor.tenants.contains(*t)) {
        return Ok(());
    }
    Err(match tenants.first() {
        Some(&tenant) => Refusal::TenantOutOfScope { tenant },
        None => Refusal::PlatformWide,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::ActorKind;
    use platform::tenants::{ACME, GLOBEX};

    fn actor(roles: &[Role], tenants: TenantScope) -> Actor {
        Actor::user("s", "n", roles.to_vec(), tenants)
    }

    /// The whole role × permission matrix, written out: `true` where the role grants the permission.
    #[test]
    fn every_role_and_permission_pair_is_allowed_or_refused_as_specified() {
        use Permission as P;
        #[rustfmt::skip]
        let expected: [(Permission, [bool; 6]); 11] = [
            //                      viewer operator approver comms  admin  service
            (P::Read,               [true,  true,   true,    true,  true,  true ]),
            (P::DeclareIncident,    [false, true,   false,   true,  true,  false]),
            (P::ManageIncident,     [false, true,   false,   false, true,  false]),
            (P::PostStatusUpdate,   [false, false,  false,   true,  false, false]),
            (P::ManageReview,       [false, true,   false,   false, true,  false]),
            (P::RequestRepair,      [false, true,   false,   false, false, true ]),
            (P::ApproveRepair,      [false, false,  true,    false, false, false]),
            (P::RunReconciliation,  [false, true,   false,   false, true,  true ]),
            (P::RunDrill,           [false, true,   false,   false, false, false]),
            (P::ChangeControl,      [false, true,   false,   false, true,  false]),
            (P::Administer,         [false, false,  false,   false, true,  false]),
        ];
        assert_eq!(expected.len(), Permission::ALL.len());
        for (permission, allowed) in expected {
            for (role, allow) in Role::ALL.into_iter().zip(allowed) {
                let got = authorize(&actor(&[role], TenantScope::All), permission, Some(ACME));
                assert_eq!(got.is_ok(), allow, "{role} × {permission:?}: {got:?}");
            }
        }
    }

    #[test]
    fn a_refusal_names_the_roles_needed_and_held() {
        let err = authorize(&actor(&[Role::Viewer], TenantScope::All), Permission::ApproveRepair, None).unwrap_err();
        assert_eq!(err.to_string(), "APPROVE_REPAIR needs one of the roles approver; you have viewer");
    }

    #[test]
    fn an_operator_of_one_tenant_cannot_act_on_another() {
        let (scope, _) = TenantScope::from_claim([ACME.to_string().as_str()]);
        let op = actor(&[Role::Operator], scope);
        assert!(authorize(&op, Permission::DeclareIncident, Some(ACME)).is_ok());
        assert_eq!(
            authorize(&op, Permission::DeclareIncident, Some(GLOBEX)),
            Err(Refusal::TenantOutOfScope { tenant: GLOBEX })
        );
    }

    #[test]
    fn a_service_token_may_use_only_what_both_its_role_and_its_scopes_grant() {
        let service = Actor {
            kind: ActorKind::Service,
            token_permissions: Some(vec![Permission::Read]),
            ..actor(&[Role::Service], TenantScope::All)
        };
        assert!(authorize(&service, Permission::Read, Some(ACME)).is_ok());
        // The service role grants RequestRepair, but the token was not issued with ops.repair.
        assert_eq!(
            authorize(&service, Permission::RequestRepair, Some(ACME)),
            Err(Refusal::MissingScope { permission: "REQUEST_REPAIR", granted: "READ".into() })
        );
        // A scope cannot grant what the role does not.
        let overreaching = Actor { token_permissions: Some(vec![Permission::Administer]), ..service };
        assert!(matches!(
            authorize(&overreaching, Permission::Administer, None),
            Err(Refusal::MissingRole { .. })
        ));
    }

    #[test]
    fn an_actor_lists_the_permissions_it_may_use() {
        let viewer = actor(&[Role::Viewer], TenantScope::All);
        assert_eq!(viewer.permissions(), vec![Permission::Read]);
        assert!(Actor::unidentified(ActorKind::User).permissions().is_empty());
    }

    #[test]
    fn acting_needs_every_tenant_in_scope_and_seeing_needs_one() {
        let (scope, _) = TenantScope::from_claim([ACME.to_string().as_str()]);
        let op = actor(&[Role::Operator], scope);
        assert_eq!(authorize_tenants(&op, &[ACME]), Ok(()));
        assert_eq!(authorize_tenants(&op, &[ACME, GLOBEX]), Err(Refusal::TenantOutOfScope { tenant: GLOBEX }));
        assert_eq!(authorize_tenants(&op, &[]), Err(Refusal::PlatformWide));
        assert_eq!(authorize_visible(&op, &[GLOBEX, ACME]), Ok(()));
        assert_eq!(authorize_visible(&op, &[GLOBEX]), Err(Refusal::TenantOutOfScope { tenant: GLOBEX }));
        assert_eq!(authorize_visible(&op, &[]), Err(Refusal::PlatformWide));
        let everyone = actor(&[Role::Operator], TenantScope::All);
        assert_eq!(authorize_tenants(&everyone, &[]), Ok(()));
        assert_eq!(authorize_visible(&everyone, &[]), Ok(()));
    }

    #[test]
    fn several_roles_add_up() {
        let both = actor(&[Role::Operator, Role::Approver], TenantScope::All);
        assert!(authorize(&both, Permission::RequestRepair, None).is_ok());
        assert!(authorize(&both, Permission::ApproveRepair, None).is_ok());
    }
}
