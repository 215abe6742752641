//! Identifier newtypes of the incident area. Parsed once at the edge; past it, an incident id cannot be
//! mistaken for an action item id.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The input was not a valid id of the named kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid {kind} id: {input:?}")]
pub struct InvalidId {
    pub kind: &'static str,
    pub input: String,
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, sqlx::Type)]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(Uuid);

        impl $name {
            pub const KIND: &'static str = $kind;

            /// A new time-ordered (v7) id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            pub const fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

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

id_type!(/// An operational incident.
    IncidentId, "incident");
id_type!(/// One event on an incident's timeline.
    EventId, "timeline event");
id_type!(/// One posted status update.
    StatusUpdateId, "status update");
id_type!(/// The delivery of one status update to one webhook.
    DeliveryId, "notification delivery");
id_type!(/// An incident's post-incident review.
    ReviewId, "post-incident review");
id_type!(/// An action item of a post-incident review.
    ActionItemId, "action item");
