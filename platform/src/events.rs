//! The events the platform writes to the outbox, each defined once: its payload struct and its
//! `event_type` name. The commands serialize them, the seed writes them and the projection consumer
//! parses them, so a writer and a reader cannot drift apart; `tests/events.rs` parses every event the
//! commands and the seed write.
//!
//! The JSON is the wire format Kafka consumers rely on: flat objects; ids as UUID strings; statuses and
//! commands by their upper-case names; times RFC 3339 in UTC. Readers ignore fields they do not know, so
//! a field may be added; renaming or removing one breaks consumers.
//!
//! This module never writes anything: [`crate::outbox::enqueue_event`] does.

mod approval;
mod order;
mod quote;

use serde::Serialize;
use uuid::Uuid;

pub use approval::ApprovalChanged;
pub use order::{OrderCaptured, OrderLineStatusChanged, OrderStateReplayed, OrderStatusChanged};
pub use quote::QuoteStatusChanged;

use crate::ids::TenantId;
use crate::outbox::aggregate;

/// Every event the platform writes, by its `event_type`. Serializes as the bare payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Event {
    QuoteStatusChanged(QuoteStatusChanged),
    ApprovalRequested(ApprovalChanged),
    ApprovalEscalated(ApprovalChanged),
    ApprovalDecided(ApprovalChanged),
    ApprovalReassigned(ApprovalChanged),
    OrderCaptured(OrderCaptured),
    OrderStatusChanged(OrderStatusChanged),
    OrderLineStatusChanged(OrderLineStatusChanged),
    OrderStateReplayed(OrderStateReplayed),
}

/// A payload that is not one of the platform's events.
#[derive(Debug, thiserror::Error)]
pub enum UnreadableEvent {
    #[error("unknown event type {0:?}")]
    UnknownType(String),
    #[error("{event_type} payload: {source}")]
    Payload {
        event_type: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl Event {
    /// Every `event_type` the platform writes.
    pub const TYPES: [&'static str; 9] = [
        QuoteStatusChanged::TYPE,
        ApprovalChanged::REQUESTED,
        ApprovalChanged::ESCALATED,
        ApprovalChanged::DECIDED,
        ApprovalChanged::REASSIGNED,
        OrderCaptured::TYPE,
        OrderStatusChanged::TYPE,
        OrderLineStatusChanged::TYPE,
        OrderStateReplayed::TYPE,
    ];

    /// Parses a payload of type `event_type` (the outbox row's `event_type`, the record's header).
    pub fn parse(event_type: &str, payload: &[u8]) -> Result<Event, UnreadableEvent> {
        fn read<'a, T: serde::Deserialize<'a>>(event_type: &'static str, payload: &'a [u8]) -> Result<T, UnreadableEvent> {
            serde_json::from_slice(payload).map_err(|source| UnreadableEvent::Payload { event_type, source })
        }
        Ok(match event_type {
            QuoteStatusChanged::TYPE => Event::QuoteStatusChanged(read(QuoteStatusChanged::TYPE, payload)?),
            ApprovalChanged::REQUESTED => Event::ApprovalRequested(read(ApprovalChanged::REQUESTED, payload)?),
            ApprovalChanged::ESCALATED => Event::ApprovalEscalated(read(ApprovalChanged::ESCALATED, payload)?),
            ApprovalChanged::DECIDED => Event::ApprovalDecided(read(ApprovalChanged::DECIDED, payload)?),
            ApprovalChanged::REASSIGNED => Event::ApprovalReassigned(read(ApprovalChanged::REASSIGNED, payload)?),
            OrderCaptured::TYPE => Event::OrderCaptured(read(OrderCaptured::TYPE, payload)?),
            OrderStatusChanged::TYPE => Event::OrderStatusChanged(read(OrderStatusChanged::TYPE, payload)?),
            OrderLineStatusChanged::TYPE => Event::OrderLineStatusChanged(read(OrderLineStatusChanged::TYPE, payload)?),
            OrderStateReplayed::TYPE => Event::OrderStateReplayed(read(OrderStateReplayed::TYPE, payload)?),
            other => return Err(UnreadableEvent::UnknownType(other.to_owned())),
        })
    }

    pub fn event_type(&self) -> &'static str {
        match self {
            Event::QuoteStatusChanged(_) => QuoteStatusChanged::TYPE,
            Event::ApprovalRequested(_) => ApprovalChanged::REQUESTED,
            Event::ApprovalEscalated(_) => ApprovalChanged::ESCALATED,
            Event::ApprovalDecided(_) => ApprovalChanged::DECIDED,
            Event::ApprovalReassigned(_) => ApprovalChanged::REASSIGNED,
            Event::OrderCaptured(_) => OrderCaptured::TYPE,
            Event::OrderStatusChanged(_) => OrderStatusChanged::TYPE,
            Event::OrderLineStatusChanged(_) => OrderLineStatusChanged::TYPE,
            Event::OrderStateReplayed(_) => OrderStateReplayed::TYPE,
        }
    }

    /// The aggregate type, which is also the topic suffix ([`crate::outbox::aggregate`]).
    pub fn aggregate_type(&self) -> &'static str {
        match self {
            Event::QuoteStatusChanged(_) => aggregate::QUOTE,
            Event::ApprovalRequested(_)
            | Event::ApprovalEscalated(_)
            | Event::ApprovalDecided(_)
            | Event::ApprovalReassigned(_) => aggregate::APPROVAL,
            Event::OrderCaptured(_)
            | Event::OrderStatusChanged(_)
            | Event::OrderLineStatusChanged(_)
            | Event::OrderStateReplayed(_) => aggregate::ORDER,
        }
    }

    pub fn aggregate_id(&self) -> Uuid {
        match self {
            Event::QuoteStatusChanged(e) => e.quote_id.as_uuid(),
            Event::ApprovalRequested(e)
            | Event::ApprovalEscalated(e)
            | Event::ApprovalDecided(e)
            | Event::ApprovalReassigned(e) => e.approval_request_id.as_uuid(),
            Event::OrderCaptured(e) => e.order_id.as_uuid(),
            Event::OrderStatusChanged(e) => e.order_id.as_uuid(),
            Event::OrderLineStatusChanged(e) => e.order_id.as_uuid(),
            Event::OrderStateReplayed(e) => e.order_id.as_uuid(),
        }
    }

    /// The aggregate's version after this event: what consumers order and deduplicate by.
    pub fn aggregate_version(&self) -> i64 {
        match self {
            Event::QuoteStatusChanged(e) => e.version,
            Event::ApprovalRequested(e)
            | Event::ApprovalEscalated(e)
            | Event::ApprovalDecided(e)
            | Event::ApprovalReassigned(e) => e.version,
            Event::OrderCaptured(e) => e.version,
            Event::OrderStatusChanged(e) => e.version,
            Event::OrderLineStatusChanged(e) => e.order_version,
            Event::OrderStateReplayed(e) => e.version,
        }
    }

    pub fn tenant_id(&self) -> TenantId {
        match self {
            Event::QuoteStatusChanged(e) => e.tenant_id,
            Event::ApprovalRequested(e)
            | Event::ApprovalEscalated(e)
            | Event::ApprovalDecided(e)
            | Event::ApprovalReassigned(e) => e.tenant_id,
            Event::OrderCaptured(e) => e.tenant_id,
            Event::OrderStatusChanged(e) => e.tenant_id,
            Event::OrderLineStatusChanged(e) => e.tenant_id,
            Event::OrderStateReplayed(e) => e.tenant_id,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use serde_json::json;

    use super::*;
    use crate::approval::ApprovalStatus;
    use crate::ids::{ApprovalRequestId, OrderId, OrderLineId, QuoteId};
    use crate::order::{OrderCommand, OrderLineCommand, OrderLineStatus, OrderStatus};
    use crate::quote::{QuoteCommand, QuoteStatus};

    const ID: &str = "018f0000-0000-7000-8000-000000000001";
    const TENANT: &str = "10000000-0000-4000-8000-000000000001";
    const AT: &str = "2026-11-25T10:00:00.250Z";

    fn at() -> DateTime<Utc> {
        AT.parse().unwrap()
    }

    fn approval(command: &str, from: Option<ApprovalStatus>, status: ApprovalStatus) -> ApprovalChanged {
        ApprovalChanged {
            approval_request_id: ApprovalRequestId::parse(ID).unwrap(),
            tenant_id: TenantId::parse(TENANT).unwrap(),
            quote_id: QuoteId::parse(ID).unwrap(),
            quote_version: 1,
            command: command.into(),
            from_status: from,
            status,
            assignee: None,
            escalation_level: 0,
            due_at: at(),
            version: 2,
            occurred_at: at(),
        }
    }

    /// One event of every type, each with the JSON it must be on the wire.
    fn every_event() -> Vec<(Event, serde_json::Value)> {
        let tenant = TenantId::parse(TENANT).unwrap();
        let order_id = OrderId::parse(ID).unwrap();
        let approval_json = |command: &str, from: Option<&str>, status: &str| {
            json!({
                "approval_request_id": ID, "tenant_id": TENANT, "quote_id": ID, "quote_version": 1,
                "command": command, "from_status": from, "status": status, "assignee": null,
                "escalation_level": 0, "due_at": AT, "version": 2, "occurred_at": AT
            })
        };
        vec![
            (
                Event::QuoteStatusChanged(QuoteStatusChanged {
                    quote_id: QuoteId::parse(ID).unwrap(),
                    tenant_id: tenant,
                    quote_number: "Q-1".into(),
                    command: QuoteCommand::Price,
                    from_status: None,
                    status: QuoteStatus::Priced,
                    quote_version: 1,
                    version: 1,
                    total_minor: 27_499,
                    occurred_at: at(),
                }),
                json!({
                    "quote_id": ID, "tenant_id": TENANT, "quote_number": "Q-1", "command": "PRICE",
                    "from_status": null, "status": "PRICED", "quote_version": 1, "version": 1,
                    "total_minor": 27_499, "occurred_at": AT
                }),
            ),
            (
                Event::ApprovalRequested(approval("REQUEST", None, ApprovalStatus::Pending)),
                approval_json("REQUEST", None, "PENDING"),
            ),
            (
                Event::ApprovalEscalated(approval("ESCALATE", Some(ApprovalStatus::Pending), ApprovalStatus::Escalated)),
                approval_json("ESCALATE", Some("PENDING"), "ESCALATED"),
            ),
            (
                Event::ApprovalDecided(approval("APPROVE", Some(ApprovalStatus::Pending), ApprovalStatus::Approved)),
                approval_json("APPROVE", Some("PENDING"), "APPROVED"),
            ),
            (
                Event::ApprovalReassigned(approval("REASSIGN", Some(ApprovalStatus::Pending), ApprovalStatus::Pending)),
                approval_json("REASSIGN", Some("PENDING"), "PENDING"),
            ),
            (
                Event::OrderCaptured(OrderCaptured {
                    order_id,
                    tenant_id: tenant,
                    order_number: "SO-1".into(),
                    source_quote_id: QuoteId::parse(ID).unwrap(),
                    status: OrderStatus::Captured,
                    version: 1,
                    total_minor: 27_499,
                    currency: "EUR".into(),
                    line_count: 2,
                    occurred_at: at(),
                }),
                json!({
                    "order_id": ID, "tenant_id": TENANT, "order_number": "SO-1", "source_quote_id": ID,
                    "status": "CAPTURED", "version": 1, "total_minor": 27_499, "currency": "EUR", "line_count": 2,
                    "occurred_at": AT
                }),
            ),
            (
                Event::OrderStatusChanged(OrderStatusChanged {
                    order_id,
                    tenant_id: tenant,
                    order_number: "SO-1".into(),
                    command: OrderCommand::StartOrchestration,
                    from_status: OrderStatus::Captured,
                    status: OrderStatus::Orchestrating,
                    version: 2,
                    total_minor: 27_499,
                    currency: "EUR".into(),
                    occurred_at: at(),
                }),
                json!({
                    "order_id": ID, "tenant_id": TENANT, "order_number": "SO-1", "command": "START_ORCHESTRATION",
                    "from_status": "CAPTURED", "status": "ORCHESTRATING", "version": 2, "total_minor": 27_499,
                    "currency": "EUR", "occurred_at": AT
                }),
            ),
            (
                Event::OrderLineStatusChanged(OrderLineStatusChanged {
                    order_id,
                    order_line_id: OrderLineId::parse(ID).unwrap(),
                    tenant_id: tenant,
                    command: OrderLineCommand::Reserve,
                    from_status: OrderLineStatus::Pending,
                    status: OrderLineStatus::Reserved,
                    order_version: 3,
                    occurred_at: at(),
                }),
                json!({
                    "order_id": ID, "order_line_id": ID, "tenant_id": TENANT, "command": "RESERVE",
                    "from_status": "PENDING", "status": "RESERVED", "order_version": 3, "occurred_at": AT
                }),
            ),
            (
                Event::OrderStateReplayed(OrderStateReplayed {
                    order_id,
                    tenant_id: tenant,
                    order_number: "SO-1".into(),
                    status: OrderStatus::InProgress,
                    version: 4,
                    total_minor: 27_499,
                    currency: "EUR".into(),
                    reason: Some("projection behind after a quarantined event".into()),
                    occurred_at: at(),
                }),
                json!({
                    "order_id": ID, "tenant_id": TENANT, "order_number": "SO-1", "status": "IN_PROGRESS", "version": 4,
                    "total_minor": 27_499, "currency": "EUR", "reason": "projection behind after a quarantined event",
                    "occurred_at": AT
                }),
            ),
        ]
    }

    #[test]
    fn every_event_is_on_the_wire_as_consumers_read_it() {
        for (event, wire) in every_event() {
            assert_eq!(serde_json::to_value(&event).unwrap(), wire, "{}", event.event_type());
        }
    }

    #[test]
    fn every_event_parses_back_under_its_own_type() {
        let events = every_event();
        let types: Vec<&str> = events.iter().map(|(e, _)| e.event_type()).collect();
        assert_eq!(types, Event::TYPES, "one example per type, in the order of TYPES");
        for (event, _) in events {
            let bytes = serde_json::to_vec(&event).unwrap();
            assert_eq!(Event::parse(event.event_type(), &bytes).unwrap(), event);
        }
    }

    #[test]
    fn aggregate_and_version_come_from_the_payload() {
        for (event, wire) in every_event() {
            let version_field = if event.event_type() == OrderLineStatusChanged::TYPE { "order_version" } else { "version" };
            assert_eq!(event.aggregate_version(), wire[version_field].as_i64().unwrap());
            assert_eq!(event.aggregate_id().to_string(), ID);
            assert_eq!(event.tenant_id().to_string(), TENANT);
        }
        let types: Vec<&str> = every_event().iter().map(|(e, _)| e.aggregate_type()).collect();
        assert_eq!(types, ["quote", "approval", "approval", "approval", "approval", "order", "order", "order", "order"]);
    }

    #[test]
    fn an_unknown_type_or_a_payload_of_another_shape_is_unreadable() {
        let err = Event::parse("OrderDeleted", b"{}").unwrap_err();
        assert_eq!(err.to_string(), "unknown event type \"OrderDeleted\"");
        let err = Event::parse(OrderCaptured::TYPE, b"{}").unwrap_err().to_string();
        assert!(err.starts_with("OrderCaptured payload: missing field"), "{err}");
        // A status the order machine does not know is not an order event.
        let (_, mut wire) = every_event().remove(6);
        wire["status"] = "IN_FULFILLMENT".into();
        let err = Event::parse(OrderStatusChanged::TYPE, wire.to_string().as_bytes()).unwrap_err().to_string();
        assert!(err.contains("unknown variant `IN_FULFILLMENT`"), "{err}");
    }
}
