//! The relay's SQL: claim a batch with a lease, then settle every claimed row — PUBLISHED, FAILED
//! (retry later or give up) or released untried — always clearing `claimed_by`/`claimed_at` as it leaves
//! PROCESSING (the table's CHECKs demand it). Every settling statement is guarded by
//! `status = 'PROCESSING' and claimed_by = <this instance>`, so a relay never overwrites a row it no
//! longer owns.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

use crate::ids::{OutboxEventId, TenantId};

/// An event this instance has claimed (status PROCESSING, `claimed_by` = this instance).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedEvent {
    pub outbox_event_id: OutboxEventId,
    pub tenant_id: TenantId,
    pub aggregate_type: String,
    pub aggregate_id: Uuid,
    pub aggregate_version: i64,
    pub event_type: String,
    pub payload: serde_json::Value,
    pub headers: serde_json::Value,
    /// Attempts before this one.
    pub attempts: i32,
    pub created_at: DateTime<Utc>,
}

/// Claims up to `batch` events that may go out now, oldest first, and returns them.
///
/// An event may go out when it is PENDING, or FAILED and due (`next_attempt_at <= now()`,
/// `attempts < max_attempts`), **and** every earlier event of its aggregate (by aggregate version) is
/// already PUBLISHED or QUARANTINED, or is claimed in this same statement. That is what keeps one
/// aggregate's events in order across relay instances: event v+1 cannot be claimed while v is claimed by
/// someone else, waiting out a backoff, or given up. A given-up event therefore holds back the rest of
/// its aggregate until a person republishes or quarantines it — visible as a growing pending age.
///
/// Two filters do this. The first, inside the locking scan, skips an event held back by a predecessor
/// that is not claimable now, or that comes *later* in the scan order (`created_at` is the writing
/// transaction's start, so a version written by a transaction that began earlier but committed later
/// sorts first). What survives has all its unpublished predecessors ahead of it in the scan, so the
/// first candidate of any batch is an aggregate's head or stands behind one another relay holds: a few
/// stuck aggregates at the front of the queue cannot fill every batch and starve the rest. The second,
/// over the locked candidates, drops an event whose predecessor was not locked by this statement
/// (`skip locked` passed it because another relay is claiming it, or the `limit` cut it off).
/// Relies on `ix_outbox_pending` (scan by age) and `ix_outbox_aggregate` (predecessor probes).
pub async fn claim(pool: &PgPool, instance_id: &str, batch: u32, max_attempts: u32) -> sqlx::Result<Vec<ClaimedEvent>> {
    sqlx::query_as::<_, ClaimedEvent>(
        "with candidate as (
           select e.outbox_event_id, e.aggregate_id, e.aggregate_version, e.created_at
           from messaging.outbox_event e
           where e.status in ('PENDING', 'FAILED')
             and (e.status = 'PENDING' or (e.next_attempt_at <= now() and e.attempts < $3))
             and not exists (
               select 1 from messaging.outbox_event b
               where b.aggregate_id = e.aggregate_id
                 and (b.aggregate_version, b.created_at, b.outbox_event_id)
                   < (e.aggregate_version, e.created_at, e.outbox_event_id)
                 and b.status in ('PENDING', 'PROCESSING', 'FAILED')
                 and (b.status = 'PROCESSING'
                      or (b.status = 'FAILED'
                          and (b.next_attempt_at is null or b.next_attempt_at > now() or b.attempts >= $3))
                      or (b.created_at, b.outbox_event_id) > (e.created_at, e.outbox_event_id))
             )
           order by e.created_at, e.outbox_event_id
           limit $2
           for update of e skip locked
         ),
         claimable as (
           select c.outbox_event_id
           from candidate c
           -- a scalar subquery, probed per candidate through ix_outbox_aggregate: written as `not exists`
           -- the planner may turn it into a hash anti-join over the whole table
           where not coalesce((
             select true from messaging.outbox_event b
             where b.aggregate_id = c.aggregate_id
               and (b.aggregate_version, b.created_at, b.outbox_event_id)
                 < (c.aggregate_version, c.created_at, c.outbox_event_id)
               and b.status in ('PENDING', 'PROCESSING', 'FAILED')
               and b.outbox_event_id not in (select outbox_event_id from candidate)
             limit 1
           ), false)
         )
         update messaging.outbox_event e
         set status = 'PROCESSING', claimed_by = $1, claimed_at = now()
         from claimable
         where e.outbox_event_id = claimable.outbox_event_id
         returning e.outbox_event_id, e.tenant_id, e.aggregate_type, e.aggregate_id, e.aggregate_version,
                   e.event_type, e.payload, e.headers, e.attempts, e.created_at",
    )
    .bind(instance_id)
    .bind(i64::from(batch))
    .bind(i64::from(max_attempts))
    .fetch_all(pool)
    .await
}

/// Where Kafka put one event.
#[derive(Debug, Clone)]
pub struct Published {
    pub outbox_event_id: OutboxEventId,
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
}

/// Marks events PUBLISHED with their Kafka coordinates. Returns how many rows this instance still owned.
pub async fn mark_published(pool: &PgPool, instance_id: &str, events: &[Published]) -> sqlx::Result<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = events.iter().map(|e| e.outbox_event_id.as_uuid()).collect();
    let topics: Vec<&str> = events.iter().map(|e| e.topic.as_str()).collect();
    let partitions: Vec<i32> = events.iter().map(|e| e.partition).collect();
    let offsets: Vec<i64> = events.iter().map(|e| e.offset).collect();
    let done = sqlx::query(
        "update messaging.outbox_event e
         set status = 'PUBLISHED', published_at = now(), claimed_by = null, claimed_at = null,
             next_attempt_at = null, kafka_topic = p.topic, kafka_partition = p.part, kafka_offset = p.off
         from unnest($2::uuid[], $3::text[], $4::int[], $5::bigint[]) as p(id, topic, part, off)
         where e.outbox_event_id = p.id and e.status = 'PROCESSING' and e.claimed_by = $1",
    )
    .bind(instance_id)
    .bind(&ids)
    .bind(&topics)
    .bind(&partitions)
    .bind(&offsets)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// One failed attempt and what comes next: `retry_after` None means the event has run out of attempts.
#[derive(Debug, Clone)]
pub struct Failed {
    pub outbox_event_id: OutboxEventId,
    pub error: String,
    pub retry_after: Option<Duration>,
}

/// Counts the attempt, records the error and leaves the event FAILED: due again at
/// `now() + retry_after`, or for good (`next_attempt_at` null).
pub async fn mark_failed(pool: &PgPool, instance_id: &str, events: &[Failed]) -> sqlx::Result<u64> {
    if events.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = events.iter().map(|e| e.outbox_event_id.as_uuid()).collect();
    let errors: Vec<&str> = events.iter().map(|e| e.error.as_str()).collect();
    let delays: Vec<Option<i64>> = events
        .iter()
        .map(|e| e.retry_after.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)))
        .collect();
    let done = sqlx::query(
        "update messaging.outbox_event e
         set status = 'FAILED', attempts = e.attempts + 1, last_error = f.error,
             next_attempt_at = now() + f.delay_ms * interval '1 millisecond',
             claimed_by = null, claimed_at = null
         from unnest($2::uuid[], $3::text[], $4::bigint[]) as f(id, error, delay_ms)
         where e.outbox_event_id = f.id and e.status = 'PROCESSING' and e.claimed_by = $1",
    )
    .bind(instance_id)
    .bind(&ids)
    .bind(&errors)
    .bind(&delays)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Hands back claimed events that were not tried (an earlier event of their aggregate failed in this
/// batch): PENDING again, or FAILED as they were if they had failed before, attempts unchanged.
pub async fn release(pool: &PgPool, instance_id: &str, ids: &[OutboxEventId]) -> sqlx::Result<u64> {
    if ids.is_empty() {
        return Ok(0);
    }
    let ids: Vec<Uuid> = ids.iter().map(|id| id.as_uuid()).collect();
    let done = sqlx::query(
        "update messaging.outbox_event
         set status = case when attempts = 0 then 'PENDING' else 'FAILED' end,
             next_attempt_at = case when attempts = 0 then null else coalesce(next_attempt_at, now()) end,
             claimed_by = null, claimed_at = null
         where outbox_event_id = any($2) and status = 'PROCESSING' and claimed_by = $1",
    )
    .bind(instance_id)
    .bind(&ids)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// Returns this instance's own leftover claims to PENDING (lesson 12.3's release, limited to the one
/// owner known to be alive: us). Needed after a batch broke off half-way — e.g. PostgreSQL went away
/// between the Kafka acknowledgement and the PUBLISHED update — because the stale-claim repair will
/// never release claims whose owner still heart-beats. An event that did reach Kafka goes out again;
/// consumers deduplicate by event id (at-least-once).
pub async fn recover_own_claims(pool: &PgPool, instance_id: &str) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "update messaging.outbox_event
         set status = 'PENDING', claimed_by = null, claimed_at = null
         where status = 'PROCESSING' and claimed_by = $1",
    )
    .bind(instance_id)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
