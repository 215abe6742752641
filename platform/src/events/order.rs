//! Order events: the capture, order transitions and line transitions, all on the order topic and all
//! moving the one order aggregate's version.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{OrderId, OrderLineId, QuoteId, TenantId};
use crate::order::{OrderCommand, OrderLineCommand, OrderLineStatus, OrderStatus};

/// An order was captured from an accepted quote: it is born CAPTURED at version 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderCaptured {
    pub order_id: OrderId,
    pub tenant_id: TenantId,
    pub order_number: String,
    pub source_quote_id: QuoteId,
    pub status: OrderStatus,
    pub version: i64,
    pub total_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    pub line_count: usize,
    pub occurred_at: DateTime<Utc>,
}

impl OrderCaptured {
    pub const TYPE: &'static str = "OrderCaptured";
}

/// An order moved to `status`. Carries enough of the order for the projection to rebuild its row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStatusChanged {
    pub order_id: OrderId,
    pub tenant_id: TenantId,
    pub order_number: String,
    pub command: OrderCommand,
    pub from_status: OrderStatus,
    pub status: OrderStatus,
    /// The order's version after this change.
    pub version: i64,
    pub total_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    pub occurred_at: DateTime<Utc>,
}

impl OrderStatusChanged {
    pub const TYPE: &'static str = "OrderStatusChanged";
}

/// One line of an order moved to `status`. The order's version moves too (a line is part of the order
/// aggregate); its status does not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLineStatusChanged {
    pub order_id: OrderId,
    pub order_line_id: OrderLineId,
    pub tenant_id: TenantId,
    pub command: OrderLineCommand,
    pub from_status: OrderLineStatus,
    pub status: OrderLineStatus,
    /// The order's version after this change.
    pub order_version: i64,
    pub occurred_at: DateTime<Utc>,
}

impl OrderLineStatusChanged {
    pub const TYPE: &'static str = "OrderLineStatusChanged";
}

/// The order's current state, announced again — not a change: a repair's replay for a read model that
/// missed it (lesson §11.5, §23.5). It carries the whole projected state at the order's current version,
/// so a version-guarded consumer applies it only if it is behind, and ignores it otherwise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderStateReplayed {
    pub order_id: OrderId,
    pub tenant_id: TenantId,
    pub order_number: String,
    pub status: OrderStatus,
    /// The order's current version: the replay is this version again, not a new one.
    pub version: i64,
    pub total_minor: i64,
    /// ISO 4217 code.
    pub currency: String,
    /// Why it was replayed.
    pub reason: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

impl OrderStateReplayed {
    pub const TYPE: &'static str = "OrderStateReplayed";
}
