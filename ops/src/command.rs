//! The first step of every command: may this actor do this, here? (DESIGN §4.)
//!
//! A command names the [`Permission`] it needs and the tenant it acts in, and calls [`guard`] before it
//! reads or writes anything else:
//!
//! ```text
//! pub async fn request_repair(pool: &PgPool, actor: &Actor, input: RepairForCreate) -> Result<Repair> {
//!     guard(pool, actor, Permission::RequestRepair, Some(input.tenant_id), "REQUEST_REPAIR", Some(("ORDER", id))).await?;
//!     let mut tx = pool.begin().await?;
//!     // load with version → check invariants → transition → evidence → outbox → commit
//! }
//! ```
//!
//! A refusal is answered with [`Refused`] (the server says 403 and why) and written to the audit log by
//! the guard itself, on the pool, in a statement of its own: the command's transaction then writes
//! nothing, yet the refusal is on record. Call it before the command's transaction has appended any
//! audit line of its own (the audit chain takes one lock per transaction).
//!
//! A service (a client-credentials token on the internal API) is audited when allowed too: it acts with
//! nobody watching, so every command it runs, reads included, is on record under its own name. People's
//! allowed commands are audited by the commands themselves, with what they changed.

use platform::ids::TenantId;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::audit::{self, AuditEntry, Outcome};
use crate::error::Error;
use crate::identity::{authorize, Actor, ActorKind, Permission, Refusal};

/// A command the actor may not run, and why. Its message is what the actor is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{action} refused: {refusal}.")]
pub struct Refused {
    /// The command's audit name (`READ_ORDER`, `REQUEST_REPAIR`, …).
    pub action: String,
    pub permission: Permission,
    pub tenant: Option<TenantId>,
    pub refusal: Refusal,
}

/// Authorises `actor` for `permission` in `tenant`; on refusal appends a REFUSED audit line naming who,
/// what and why, and returns [`Error::Refused`]. `entity` is what the command was about, when known.
#[tracing::instrument(skip(pool, actor), fields(actor = %actor.subject, tenant = ?tenant))]
pub async fn guard(
    pool: &PgPool,
    actor: &Actor,
    permission: Permission,
    tenant: Option<TenantId>,
    action: &str,
    entity: Option<(&str, Uuid)>,
) -> Result<(), Error> {
    let Err(refusal) = authorize(actor, permission, tenant) else {
        if actor.kind == ActorKind::Service {
            record(pool, actor, action, Outcome::Allowed, permission, tenant, entity, None).await?;
        }
        return Ok(());
    };
    let refused = Refused { action: action.to_string(), permission, tenant, refusal };
    record_refusal(pool, actor, &refused, entity).await?;
    tracing::info!(action, permission = permission.as_str(), refusal = %refused.refusal, "command refused");
    Err(Error::Refused(refused))
}

/// The audit line of a refusal. A refusal that cannot be recorded is an error (the database is down),
/// not a silent pass: the caller is refused either way.
pub async fn record_refusal(
    pool: &PgPool,
    actor: &Actor,
    refused: &Refused,
    entity: Option<(&str, Uuid)>,
) -> Result<(), Error> {
    let outcome = Outcome::Refused;
    record(pool, actor, &refused.action, outcome, refused.permission, refused.tenant, entity, Some(&refused.refusal)).await
}

#[allow(clippy::too_many_arguments)] // one audit line's fields, named at the two call sites above
async fn record(
    pool: &PgPool,
    actor: &Actor,
    action: &str,
    outcome: Outcome,
    permission: Permission,
    tenant: Option<TenantId>,
    entity: Option<(&str, Uuid)>,
    refusal: Option<&Refusal>,
) -> Result<(), Error> {
    let reason = refusal.map(|r| r.to_string());
    audit::append(
        pool,
        AuditEntry {
            actor,
            action,
            outcome,
            tenant,
            entity,
            reason: reason.as_deref(),
            detail: json!({
                "permission": permission.as_str(),
                "refusal": refusal.map(Refusal::kind),
                "roles": actor.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            }),
        },
    )
    .await?;
    Ok(())
}
