//! Commands: the only way platform state changes.
//!
//! Each command runs inside the caller's transaction and follows the same steps: load the entity with
//! its version (row locked) → check the expected version (optimistic locking) → ask the state machine →
//! write the change guarded by the version it read → append the transition history row → enqueue the
//! outbox event. Nothing here commits: the caller decides the transaction, so a repair can add its own
//! evidence to the same one.

pub(crate) mod order;
mod quote;

pub use order::{apply_order_command, apply_order_line_command, replay_order_state, OrderChange, OrderLineChange, OrderStateReplay};
pub use quote::{accept_quote, apply_quote_command, create_quote, AcceptedQuote, QuoteChange, QuoteLineInput, QuoteForCreate};

use uuid::Uuid;

use crate::ids::Actor;

/// Who asks, why, and how the change is correlated with other records.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub actor: Actor,
    pub reason: Option<String>,
    pub correlation_id: Uuid,
    /// Set when the command runs as part of a governed repair.
    pub repair_id: Option<Uuid>,
}

impl CommandContext {
    pub fn new(actor: impl Into<String>) -> Self {
        Self { actor: Actor::new(actor), reason: None, correlation_id: Uuid::now_v7(), repair_id: None }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn with_repair(mut self, repair_id: Uuid) -> Self {
        self.repair_id = Some(repair_id);
        self
    }
}

/// Checks the version a caller saw against the one stored.
fn check_version(
    entity: crate::ids::EntityKind,
    id: impl ToString,
    expected: Option<i64>,
    found: i64,
) -> crate::Result<()> {
    match expected {
        Some(expected) if expected != found => {
            Err(crate::Error::Conflict { entity, id: id.to_string(), expected, found })
        }
        _ => Ok(()),
    }
}
