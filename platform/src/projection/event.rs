//! Parse, don't validate: a Kafka record on the order topic becomes an [`OrderEvent`] here or a
//! [`Poison`] reason for the dead-letter topic. Past this file nothing looks at raw bytes or headers.

use chrono::{DateTime, Utc};
use rdkafka::message::{Headers, Message};
use uuid::Uuid;

use crate::events::Event;
use crate::order::OrderStatus;
use crate::relay::header;

/// Why a record cannot be projected. Written to the dead-letter record's `dlt_reason` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Poison(pub String);

/// One order event, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderEvent {
    /// The outbox event id (header `event_id`): the inbox's deduplication key.
    pub event_id: Uuid,
    pub order_id: Uuid,
    pub tenant_id: Uuid,
    /// The order aggregate's version after this event.
    pub version: i64,
    pub occurred_at: DateTime<Utc>,
    pub change: Change,
}

/// What the event says about the order.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// OrderCaptured, OrderStatusChanged and OrderStateReplayed carry the order's whole projected state.
    Snapshot { order_number: String, status: OrderStatus, total_minor: i64, currency: String },
    /// OrderLineStatusChanged moves the order's version but says nothing of its status.
    LineChanged,
}

fn header_value<'a, M: Message>(message: &'a M, name: &str) -> Option<&'a [u8]> {
    message.headers()?.iter().find(|h| h.key == name).and_then(|h| h.value)
}

fn header_str<'a, M: Message>(message: &'a M, name: &str) -> Result<Option<&'a str>, Poison> {
    header_value(message, name)
        .map(|v| std::str::from_utf8(v).map_err(|_| Poison(format!("header {name} is not UTF-8"))))
        .transpose()
}

/// The event id alone, for callers that need it before (or without) a full parse.
pub fn event_id<M: Message>(message: &M) -> Result<Uuid, Poison> {
    let raw = header_str(message, header::EVENT_ID)?.ok_or_else(|| Poison("missing event_id header".into()))?;
    raw.parse().map_err(|_| Poison(format!("event_id header is not a UUID: {raw:?}")))
}

/// Parses one record. Headers and payload must agree: a record whose `aggregate_version` or
/// `tenant_id` header contradicts its payload is poison, not a guess.
pub fn parse<M: Message>(message: &M) -> Result<OrderEvent, Poison> {
    let event_id = event_id(message)?;
    let event_type =
        header_str(message, header::EVENT_TYPE)?.ok_or_else(|| Poison("missing event_type header".into()))?;
    let payload = message.payload().ok_or_else(|| Poison("empty payload".into()))?;
    let (order_id, tenant_id, version, occurred_at, change) =
        match Event::parse(event_type, payload).map_err(|e| Poison(e.to_string()))? {
            Event::OrderCaptured(e) => (
                e.order_id,
                e.tenant_id,
                e.version,
                e.occurred_at,
                snapshot(event_type, e.order_number, e.status, e.total_minor, e.currency)?,
            ),
            Event::OrderStatusChanged(e) => (
                e.order_id,
                e.tenant_id,
                e.version,
                e.occurred_at,
                snapshot(event_type, e.order_number, e.status, e.total_minor, e.currency)?,
            ),
            Event::OrderLineStatusChanged(e) => (e.order_id, e.tenant_id, e.order_version, e.occurred_at, Change::LineChanged),
            Event::OrderStateReplayed(e) => (
                e.order_id,
                e.tenant_id,
                e.version,
                e.occurred_at,
                snapshot(event_type, e.order_number, e.status, e.total_minor, e.currency)?,
            ),
            other => return Err(Poison(format!("{event_type} is not an order event ({} aggregate)", other.aggregate_type()))),
        };
    let event = OrderEvent {
        event_id,
        order_id: order_id.as_uuid(),
        tenant_id: tenant_id.as_uuid(),
        version,
        occurred_at,
        change,
    };
    if event.version < 1 {
        return Err(Poison(format!("aggregate version {} is not positive", event.version)));
    }
    if let Some(raw) = header_str(message, header::AGGREGATE_VERSION)? {
        if raw.parse::<i64>().ok() != Some(event.version) {
            return Err(Poison(format!("aggregate_version header {raw:?} disagrees with payload version {}", event.version)));
        }
    }
    if let Some(raw) = header_str(message, header::TENANT_ID)? {
        if raw.parse::<Uuid>().ok() != Some(event.tenant_id) {
            return Err(Poison(format!("tenant_id header {raw:?} disagrees with payload tenant {}", event.tenant_id)));
        }
    }
    Ok(event)
}

/// The projected state an order event carries; the currency must fit the projection's `char(3)`.
fn snapshot(event_type: &str, order_number: String, status: OrderStatus, total_minor: i64, currency: String) -> Result<Change, Poison> {
    if currency.len() != 3 {
        return Err(Poison(format!("{event_type} payload: currency {currency:?} is not a 3-letter code")));
    }
    Ok(Change::Snapshot { order_number, status, total_minor, currency })
}

#[cfg(test)]
mod tests {
    use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};

    use super::*;

    fn record(headers: &[(&str, &str)], payload: &str) -> OwnedMessage {
        let mut h = OwnedHeaders::new();
        for (key, value) in headers {
            h = h.insert(Header { key, value: Some(*value) });
        }
        OwnedMessage::new(Some(payload.as_bytes().to_vec()), None, "t".into(), Timestamp::NotAvailable, 0, 0, Some(h))
    }

    const ORDER: &str = "018f0000-0000-7000-8000-000000000001";
    const TENANT: &str = "10000000-0000-4000-8000-000000000001";
    const EVENT: &str = "018f0000-0000-7000-8000-0000000000ee";

    fn status_changed(version: i64) -> String {
        serde_json::json!({
            "order_id": ORDER, "tenant_id": TENANT, "order_number": "O-1", "command": "BEGIN_FULFILLMENT",
            "from_status": "ORCHESTRATING", "status": "IN_PROGRESS", "version": version, "total_minor": 100, "currency": "EUR",
            "occurred_at": "2026-11-25T10:00:00Z"
        })
        .to_string()
    }

    fn quote_changed() -> String {
        serde_json::json!({
            "quote_id": ORDER, "tenant_id": TENANT, "quote_number": "Q-1", "command": "PRICE", "from_status": null,
            "status": "PRICED", "quote_version": 1, "version": 1, "total_minor": 100, "occurred_at": "2026-11-25T10:00:00Z"
        })
        .to_string()
    }

    #[test]
    fn a_status_change_parses_into_a_snapshot() {
        let m = record(&[("event_id", EVENT), ("event_type", "OrderStatusChanged"), ("aggregate_version", "3"), ("tenant_id", TENANT)], &status_changed(3));
        let e = parse(&m).unwrap();
        assert_eq!(e.version, 3);
        assert_eq!(e.event_id.to_string(), EVENT);
        assert!(matches!(e.change, Change::Snapshot { status: OrderStatus::InProgress, .. }));
    }

    #[test]
    fn a_line_change_carries_the_order_version_and_no_status() {
        let payload = serde_json::json!({
            "order_id": ORDER, "order_line_id": EVENT, "tenant_id": TENANT, "command": "RESERVE", "from_status": "PENDING",
            "status": "RESERVED", "order_version": 4, "occurred_at": "2026-11-25T10:00:00Z"
        });
        let m = record(&[("event_id", EVENT), ("event_type", "OrderLineStatusChanged")], &payload.to_string());
        let e = parse(&m).unwrap();
        assert_eq!((e.version, e.change), (4, Change::LineChanged));
    }

    #[test]
    fn unparseable_records_are_poison_with_a_reason() {
        let cases = [
            (record(&[("event_type", "OrderStatusChanged")], &status_changed(1)), "missing event_id"),
            (record(&[("event_id", "nope"), ("event_type", "OrderStatusChanged")], &status_changed(1)), "not a UUID"),
            (record(&[("event_id", EVENT)], &status_changed(1)), "missing event_type"),
            (record(&[("event_id", EVENT), ("event_type", "OrderStatusChanged")], "{garbage"), "payload"),
            (record(&[("event_id", EVENT), ("event_type", "OrderStatusChanged")], "{}"), "missing field"),
            (record(&[("event_id", EVENT), ("event_type", "OrderDeleted")], &status_changed(1)), "unknown event type"),
            (record(&[("event_id", EVENT), ("event_type", "OrderStatusChanged"), ("aggregate_version", "2")], &status_changed(1)), "disagrees"),
            (record(&[("event_id", EVENT), ("event_type", "OrderStatusChanged")], &status_changed(1).replace("IN_PROGRESS", "IN_FULFILLMENT")), "unknown variant"),
            (record(&[("event_id", EVENT), ("event_type", "OrderStatusChanged")], &status_changed(1).replace("EUR", "EURO")), "3-letter"),
            (record(&[("event_id", EVENT), ("event_type", "QuoteStatusChanged")], &quote_changed()), "not an order event"),
        ];
        for (m, expected) in cases {
            let reason = parse(&m).unwrap_err().0;
            assert!(reason.contains(expected), "{reason:?} should mention {expected:?}");
        }
    }
}
