//! Identifier newtypes. Parsed once at the edge; past it, an order id cannot be mistaken for a tenant id.

use std::fmt;

use serde::{Deserialize, Serialize};

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
    CatalogPrice,
}

impl EntityKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            EntityKind::Tenant => "tenant",
            EntityKind::Quote => "quote",
            EntityKind::ApprovalRequest => "approval request",
            EntityKind::ApprovalPolicy => "approval policy",
            EntityKind::Order => "order",
            EntityKind::OrderLine => "order line",
            EntityKind::OutboxEvent => "outbox event",
            EntityKind::FulfillmentRequest => "fulfillment request",
            EntityKind::CatalogPrice => "catalog price",
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
    /// What the id should have named ("order", "incident").
    pub kind: &'static str,
    pub input: String,
}

/// Declares an identifier newtype over a UUID: `Name::new()` (time-ordered v7), `parse` of user input
/// naming `kind` when it fails, `Display`, `FromStr`, serde and sqlx as the bare UUID. Every crate's ids
/// are made with it, so an order id cannot be mistaken for an incident id anywhere.
#[macro_export]
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, sqlx::Type,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(uuid::Uuid);

        impl $name {
            /// What the id names, in words ("order", "incident"): used in messages.
            pub const KIND: &'static str = $kind;

            /// A new time-ordered (v7) id: index-friendly for append-heavy tables.
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7())
            }

            pub const fn from_uuid(id: uuid::Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> uuid::Uuid {
                self.0
            }

            /// Parses user input (surrounding whitespace allowed).
            pub fn parse(input: &str) -> Result<Self, $crate::ids::InvalidId> {
                uuid::Uuid::parse_str(input.trim())
                    .map(Self)
                    .map_err(|_| $crate::ids::InvalidId { kind: $kind, input: input.chars().take(80).collect() })
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&self.0, f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::ids::InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl From<$name> for uuid::Uuid {
            fn from(id: $name) -> uuid::Uuid {
                id.0
            }
        }
    };
}

id_type!(/// A tenant of the platform.
    TenantId, "tenant");
id_type!(/// A quote.
    QuoteId, "quote");
id_type!(/// An approval request for one quote version.
    ApprovalRequestId, "approval request");
id_type!(/// An approval policy (all versions share it).
    PolicyId, "approval policy");
id_type!(/// A sales order.
    OrderId, "order");
id_type!(/// A line of a sales order.
    OrderLineId, "order line");
id_type!(/// An event in the transactional outbox.
    OutboxEventId, "outbox event");
id_type!(/// A recorded fulfillment request (side-effect evidence).
    FulfillmentRequestId, "fulfillment request");

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
        assert_eq!(err.kind, "order");
        assert_eq!(err.to_string(), "not a valid order id: \"ORD-12\"");
    }

    #[test]
    fn new_ids_are_time_ordered() {
        let a = OrderId::new();
        let b = OrderId::new();
        assert!(a < b);
    }
}
