//! The transactional outbox: an event is written in the same transaction as the business change it
//! announces, so "committed" and "will be published" can never disagree. The relay publishes it later.

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::events::Event;
use crate::ids::{OutboxEventId, TenantId};

/// Aggregate types double as Kafka topic suffixes (`opsdeck.<aggregate_type>`).
pub mod aggregate {
    pub const QUOTE: &str = "quote";
    pub const APPROVAL: &str = "approval";
    pub const ORDER: &str = "order";
}

/// An event to enqueue.
#[derive(Debug, Clone)]
pub struct NewEvent<'a, P: Serialize> {
    pub tenant_id: TenantId,
    pub aggregate_type: &'static str,
    pub aggregate_id: Uuid,
    pub aggregate_version: i64,
    pub event_type: &'a str,
    pub payload: &'a P,
    pub correlation_id: Option<Uuid>,
}

/// Inserts the event as PENDING inside the caller's transaction. A second event at a version of a
/// platform aggregate already announced is refused by `ux_outbox_aggregate_version`
/// ([`crate::Error::AlreadyExists`]); the caller's transaction is then aborted, so the change that event
/// announced cannot commit either.
pub async fn enqueue<P: Serialize>(tx: &mut PgConnection, event: NewEvent<'_, P>) -> crate::Result<OutboxEventId> {
    let id = OutboxEventId::new();
    let payload = serde_json::to_value(event.payload).map_err(|e| crate::Error::Invalid {
        field: "payload",
        message: e.to_string(),
    })?;
    let headers = serde_json::json!({
        "correlation_id": event.correlation_id,
        "schema_version": 1,
    });
    sqlx::query(
        "insert into messaging.outbox_event
           (outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload, headers)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id)
    .bind(event.tenant_id)
    .bind(event.aggregate_type)
    .bind(event.aggregate_id)
    .bind(event.aggregate_version)
    .bind(event.event_type)
    .bind(payload)
    .bind(headers)
    .execute(&mut *tx)
    .await
    .map_err(crate::Error::from_db)?;
    Ok(id)
}

/// Enqueues one of the platform's own events ([`crate::events`]): its type, aggregate, version and tenant
/// are the event's own, so they cannot disagree with the payload.
pub async fn enqueue_event(tx: &mut PgConnection, event: &Event, correlation_id: Uuid) -> crate::Result<OutboxEventId> {
    enqueue(
        tx,
        NewEvent {
            tenant_id: event.tenant_id(),
            aggregate_type: event.aggregate_type(),
            aggregate_id: event.aggregate_id(),
            aggregate_version: event.aggregate_version(),
            event_type: event.event_type(),
            payload: event,
            correlation_id: Some(correlation_id),
        },
    )
    .await
}
