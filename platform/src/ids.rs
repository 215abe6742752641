//! Identifier newtypes. Parsed once at the edge; past it, an order id cannot be mistaken for a tenant id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What kind of entity an id or an error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EntityKind {
    Tenant,
    Quote,
    ApprovalRequest,
    ApprovalPolicy,
    Order,
    OrderLine,
    OutboxEvent,
    FulfillmentRequest,
}

impl EntityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntityKind::Tenant => "tenant",
            EntityKind::Quote => "quote",
            EntityKind::ApprovalRequest => "approval request",
            EntityKind::ApprovalPolicy => "approval policy",
            EntityKind::Order => "order",
            EntityKind::OrderLine => "order line",
            EntityKind::OutboxEvent => "outbox event",
            EntityKind::FulfillmentRequest => "fulfillment request",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The input was not a valid id of the named kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id: {input:?}")]
pub struct InvalidId {
    pub kind: EntityKind,
    pub input: String,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const KIND: EntityKind = $kind;

            /// A new time-ordered (v7) id: index-friendly for append-heavy tables.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses user input (surrounding whitespace allowed).
            pub fn parse(input: &str) -> Result<Self, InvalidId> {
                Uuid::parse_str(input.trim())
                    .map(Self)
                    .map_err(|_| InvalidId { kind: $kind, input: input.chars().take(80).collect() })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }
    };
}

id_type!(/// A tenant of the platform.
    TenantId, EntityKind::Tenant);
id_type!(/// A quote.
    QuoteId, EntityKind::Quote);
id_type!(/// An approval request for one quote version.
    ApprovalRequestId, EntityKind::ApprovalRequest);
id_type!(/// An approval policy (all versions share it).
    PolicyId, EntityKind::ApprovalPolicy);
id_type!(/// A sales order.
    OrderId, EntityKind::Order);
id_type!(/// A line of a sales order.
    OrderLineId, EntityKind::OrderLine);
id_type!(/// An event in the transactional outbox.
    OutboxEventId, EntityKind::OutboxEvent);
id_type!(/// A recorded fulfillment request (side-effect evidence).
    FulfillmentRequestId, EntityKind::FulfillmentRequest);

/// Who caused a change, as recorded in transition history (`subject` of an SSO identity, a service
/// identity, or a platform worker name).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Actor(String);

impl Actor {
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_uuid_with_surrounding_whitespace() {
        let id = OrderId::parse(" 10000000-0000-4000-8000-000000000001 ").unwrap();
        assert_eq!(id.to_string(), "10000000-0000-4000-8000-000000000001");
    }

    #[test]
    fn refuses_garbage_naming_the_kind() {
        let err = OrderId::parse("ORD-12").unwrap_err();
        assert_eq!(err.kind, EntityKind::Order);
        assert_eq!(err.to_string(), "not a valid order id: \"ORD-12\"");
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let a = OrderId::new();
        let b = OrderId::new();
        assert!(a < b);
    }
}
