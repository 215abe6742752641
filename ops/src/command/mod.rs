//! The one path every mutation and every scoped read takes (DESIGN §4).
//!
//! A command is an [`Envelope`] — who ([`Actor`]), what ([`Action`], which names the permission), in which
//! tenant(s), about which entity, why, under which incident, with which idempotency key, dry-run or
//! not — and a body. [`run`] (for changes) and [`read`] (for queries) do the same four things for every
//! command, so no command can forget one:
//!
//! 1. **authorise** the actor's role, token scope and, when the envelope names them, tenants — before
//!    anything is read;
//! 2. run the body in **one transaction** (read-only, repeatable read, for [`read`]); a body that finds
//!    the tenants of what it loaded checks them with [`Cx::require_tenants`] / [`Cx::require_visible`];
//! 3. write **the audit line**, one detail shape for every command: SUCCEEDED inside the transaction (so
//!    the change and its evidence commit together), REFUSED on its own after the rollback (so a refusal
//!    leaves only its audit line), FAILED after an unexpected failure, ALLOWED for a service's reads
//!    (a person's reads are not audited; a service acts with nobody watching);
//! 4. count it: `opsdeck_commands_total{action,outcome}` and `opsdeck_command_seconds{action}`.
//!
//! ```text
//! pub async fn change_status(pool: &PgPool, actor: &Actor, id: IncidentId, change: &LifecycleChange) -> Result<StatusChanged> {
//!     let envelope = Envelope::new(actor, Action::IncidentMitigate).entity(INCIDENT, id).reason(change.reason.as_str());
//!     run(pool, envelope, async |cx| {
//!         let locked = lock_incident(cx, id).await?;       // loads, then cx.require_tenants(&locked.tenants)
//!         // check invariants → write through the domain transition → timeline → cx.record(detail)
//!     }).await
//! }
//! ```
//!
//! Invalid input, a stale version and "not found" write nothing (the person corrects and retries);
//! see [`crate::error`] for what each kind of error leaves behind.

mod action;
mod envelope;
mod runner;

pub use action::Action;
pub use envelope::{Envelope, Refused};
pub use runner::{read, run, Cx};

pub use crate::identity::Actor;
