//! What every command carries besides its own input (DESIGN §4): who, what, where, about what, why.

use platform::ids::TenantId;
use uuid::Uuid;

use super::Action;
use crate::identity::{Actor, Permission, Refusal};
use crate::ids::IncidentId;

/// A command's envelope. Built with [`Envelope::new`] and the builder methods; handed to
/// [`run`](super::run) or [`read`](super::read).
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    pub actor: &'a Actor,
    pub action: Action,
    /// The tenants the command acts in, when known before anything is loaded: every one must be in the
    /// actor's scope, and an empty list means platform-wide (every tenant needed). `None`: the body checks
    /// the tenants of what it loads.
    pub tenants: Option<Vec<TenantId>>,
    /// What the command is about, as the audit line names it (`("INCIDENT", id)`).
    pub entity: Option<(&'static str, Uuid)>,
    pub reason: Option<&'a str>,
    pub incident: Option<IncidentId>,
    pub idempotency_key: Option<&'a str>,
    pub dry_run: bool,
}

impl<'a> Envelope<'a> {
    pub fn new(actor: &'a Actor, action: Action) -> Self {
        Envelope {
            actor,
            action,
            tenants: None,
            entity: None,
            reason: None,
            incident: None,
            idempotency_key: None,
            dry_run: false,
        }
    }

    /// Acts in this one tenant.
    pub fn tenant(mut self, tenant: TenantId) -> Self {
        self.tenants = Some(vec![tenant]);
        self
    }

    /// Acts in all of these tenants (none: platform-wide).
    pub fn tenants(mut self, tenants: impl IntoIterator<Item = TenantId>) -> Self {
        self.tenants = Some(tenants.into_iter().collect());
        self
    }

    pub fn entity(mut self, entity_type: &'static str, id: impl Into<Uuid>) -> Self {
        self.entity = Some((entity_type, id.into()));
        self
    }

    pub fn reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }

    pub fn incident(mut self, incident: IncidentId) -> Self {
        self.incident = Some(incident);
        self
    }

    pub fn idempotency_key(mut self, key: &'a str) -> Self {
        self.idempotency_key = Some(key);
        self
    }

    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    pub fn permission(&self) -> Permission {
        self.action.permission()
    }
}

/// A command the actor may not run, and why. Its message is what the actor is told; the refusal is on
/// the audit log before anyone reads it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action} refused: {refusal}.")]
pub struct Refused {
    pub action: Action,
    pub permission: Permission,
    pub tenant: Option<TenantId>,
    pub refusal: Refusal,
}
