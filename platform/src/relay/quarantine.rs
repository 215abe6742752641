//! Quarantining an outbox event (lesson §23.4) — what the quarantine-event repair executes, never the relay.
//! A poison event (its payload is not the event its type names) or one the relay gave up on holds back
//! every later event of its aggregate ([`super::claim::claim`]). Deleting it would hide the evidence;
//! quarantine takes it out of the relay's way instead: the row becomes `QUARANTINED` and stays, its reason
//! and what it was are kept in `messaging.outbox_quarantine` (append-only), and the database refuses to
//! delete it or move it back. The aggregate's later events then go out; if downstream needs the state the
//! quarantined event carried, the order's state is replayed as a new event (replay-projection).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::events::Event;
use crate::ids::{OutboxEventId, TenantId};
use crate::{Error, Result};

/// One outbox event and what quarantining it would mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventFacts {
    pub outbox_event_id: OutboxEventId,
    pub tenant_id: TenantId,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub aggregate_version: i64,
    pub event_type: String,
    /// The payload as written (the evidence a quarantine keeps).
    pub payload: serde_json::Value,
    pub status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Why the payload is not the event its type names (poison), when it is not.
    pub unreadable: Option<String>,
    /// Later events of the aggregate not yet published: held back while this one waits.
    pub waiting_behind: i64,
    /// The highest aggregate version a later event of the aggregate carries, if there is a later event.
    pub later_version: Option<i64>,
    /// Why it was quarantined, once it is.
    pub quarantine: Option<QuarantineRecord>,
}

impl EventFacts {
    /// FAILED with no next attempt: the relay ran out of attempts and will not try it again.
    pub fn given_up(&self) -> bool {
        self.status == "FAILED" && self.next_attempt_at.is_none()
    }
}

/// What `messaging.outbox_quarantine` keeps of a quarantined event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct QuarantineRecord {
    pub previous_status: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub unreadable_because: Option<String>,
    pub reason: String,
    pub quarantined_by: String,
    pub repair_id: Option<Uuid>,
    pub quarantined_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    tenant_id: TenantId,
    aggregate_type: String,
    aggregate_id: Uuid,
    aggregate_version: i64,
    event_type: String,
    payload: serde_json::Value,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    next_attempt_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// The facts of one event; `None` when there is no such event. `tenant` scopes the lookup.
pub async fn event_facts(db: &mut PgConnection, tenant: TenantId, event: OutboxEventId) -> Result<Option<EventFacts>> {
    let row: Option<Row> = sqlx::query_as(
        "select tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload, status, attempts,
                last_error, next_attempt_at, created_at
         from messaging.outbox_event where outbox_event_id = $1 and tenant_id = $2",
    )
    .bind(event)
    .bind(tenant)
    .fetch_optional(&mut *db)
    .await?;
    let Some(row) = row else { return Ok(None) };
    // Later events of the aggregate, by the relay's order (version, then creation, then id); uses
    // ix_outbox_aggregate.
    let (waiting_behind, later_version): (i64, Option<i64>) = sqlx::query_as(
        "select count(*) filter (where l.status in ('PENDING', 'PROCESSING', 'FAILED')), max(l.aggregate_version)
         from messaging.outbox_event l
         where l.aggregate_id = $1 and l.outbox_event_id <> $2
           and (l.aggregate_version, l.created_at, l.outbox_event_id) > ($3, $4, $2)",
    )
    .bind(row.aggregate_id)
    .bind(event)
    .bind(row.aggregate_version)
    .bind(row.created_at)
    .fetch_one(&mut *db)
    .await?;
    let quarantine: Option<QuarantineRecord> = sqlx::query_as(
        "select previous_status, attempts, last_error, unreadable_because, reason, quarantined_by, repair_id, quarantined_at
         from messaging.outbox_quarantine where outbox_event_id = $1",
    )
    .bind(event)
    .fetch_optional(&mut *db)
    .await?;
    Ok(Some(EventFacts {
        outbox_event_id: event,
        unreadable: unreadable(&row),
        tenant_id: row.tenant_id,
        aggregate_type: row.aggregate_type,
        aggregate_id: row.aggregate_id,
        aggregate_version: row.aggregate_version,
        event_type: row.event_type,
        payload: row.payload,
        status: row.status,
        attempts: row.attempts,
        last_error: row.last_error,
        next_attempt_at: row.next_attempt_at,
        created_at: row.created_at,
        waiting_behind,
        later_version,
        quarantine,
    }))
}

/// Why the row's payload is not the event its type names — or contradicts the row — if it is not.
fn unreadable(row: &Row) -> Option<String> {
    let bytes = serde_json::to_vec(&row.payload).unwrap_or_default();
    match Event::parse(&row.event_type, &bytes) {
        Err(e) => Some(e.to_string()),
        Ok(event) => {
            let said = (event.aggregate_type(), event.aggregate_id(), event.aggregate_version(), event.tenant_id());
            let row_says = (row.aggregate_type.as_str(), row.aggregate_id, row.aggregate_version, row.tenant_id);
            (said != row_says).then(|| {
                format!(
                    "the payload names {} {} version {} of tenant {}, the row {} {} version {} of tenant {}",
                    said.0, said.1, said.2, said.3, row_says.0, row_says.1, row_says.2, row_says.3
                )
            })
        }
    }
}

/// What quarantining did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Quarantined {
    pub outbox_event_id: OutboxEventId,
    pub previous_status: String,
    pub attempts: i32,
    /// Later events of the aggregate that no longer wait behind it.
    pub released_behind: i64,
}

/// Quarantines `event` inside `tx`: its reason and what it was go to `messaging.outbox_quarantine`, then
/// the row becomes `QUARANTINED` — only if it is still `expected_status` after `expected_attempts`
/// attempts (the relay may have moved it since the caller looked). Only a PENDING or FAILED event can be
/// quarantined; a published one is downstream already and a claimed one is being published.
#[allow(clippy::too_many_arguments)]
pub async fn quarantine_event(
    tx: &mut PgConnection,
    tenant: TenantId,
    event: OutboxEventId,
    expected_status: &str,
    expected_attempts: i32,
    reason: &str,
    by: &str,
    repair_id: Option<Uuid>,
) -> Result<Quarantined> {
    if !matches!(expected_status, "PENDING" | "FAILED") {
        return Err(Error::refused(format!("an outbox event that is {expected_status} cannot be quarantined")));
    }
    let facts = event_facts(tx, tenant, event)
        .await?
        .ok_or_else(|| Error::NotFound { entity: crate::ids::EntityKind::OutboxEvent, id: event.to_string() })?;
    if (facts.status.as_str(), facts.attempts) != (expected_status, expected_attempts) {
        return Err(Error::refused(format!(
            "outbox event {event} is {} after {} attempts, not {expected_status} after {expected_attempts}: look again",
            facts.status, facts.attempts
        )));
    }
    sqlx::query(
        "insert into messaging.outbox_quarantine
           (outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, previous_status,
            attempts, last_error, unreadable_because, reason, quarantined_by, repair_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(event)
    .bind(facts.tenant_id)
    .bind(&facts.aggregate_type)
    .bind(facts.aggregate_id)
    .bind(facts.aggregate_version)
    .bind(&facts.event_type)
    .bind(&facts.status)
    .bind(facts.attempts)
    .bind(&facts.last_error)
    .bind(&facts.unreadable)
    .bind(reason)
    .bind(by)
    .bind(repair_id)
    .execute(&mut *tx)
    .await
    .map_err(Error::from_db)?;
    let moved = sqlx::query(
        "update messaging.outbox_event set status = 'QUARANTINED', next_attempt_at = null
         where outbox_event_id = $1 and status = $2 and attempts = $3",
    )
    .bind(event)
    .bind(expected_status)
    .bind(expected_attempts)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if moved != 1 {
        return Err(Error::refused(format!("outbox event {event} changed while it was being quarantined: look again")));
    }
    tracing::warn!(%event, aggregate_id = %facts.aggregate_id, version = facts.aggregate_version, by, "outbox event quarantined");
    Ok(Quarantined {
        outbox_event_id: event,
        previous_status: facts.status,
        attempts: facts.attempts,
        released_behind: facts.waiting_behind,
    })
}
