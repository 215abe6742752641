//! Outbox backlog and stale claims (lesson §12.1, §12.3): no stream of events waits unpublished past the
//! grace, and no event is claimed by a relay for longer than its lease.
//!
//! The backlog is judged at the lesson's own grain — one stream per tenant, aggregate type and event type,
//! its count and oldest age (§12.1's query) — so a stalled relay is one mismatch per stream it stalls, each
//! saying how many wait and since when, not one per waiting event (200 000 of them at 1M orders, which
//! told an operator nothing more and cost the run seconds to record). A stale claim is judged per event:
//! releasing it is a repair of that event. Over `ix_outbox_pending_type` and `ix_outbox_processing_claimed`;
//! always whole.

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};
use crate::repair::RepairType;

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::OutboxBacklog,
    title: "Outbox backlog and stale claims",
    compares: "each stream of unpublished events (tenant, aggregate type, event type) and each claimed event against its age",
    lesson: "§12.1, §12.3",
    kinds: &[
        Kind {
            name: "STALE_OUTBOX_CLAIM",
            likely_cause: "the relay instance holding the claim died (no heartbeat) or is blocked",
            suggested_action: "release the stale claims of the dead relay (a live relay's claims are never released)",
            safety: Safety::Safe,
            auto_repair: true,
            repair: Some(RepairType::ReleaseStaleClaims),
        },
        Kind {
            name: "OUTBOX_STREAM_BACKLOG",
            likely_cause: "the relay is down or paused, Kafka is unavailable, or an event of the stream fails to serialize",
            suggested_action: "follow runbook outbox-stuck: restore the relay or Kafka; quarantine a poison event (the oldest waiting is named)",
            safety: Safety::Safe,
            auto_repair: false,
            repair: None,
        },
    ],
    incremental: false,
    grace_secs: 300,
    jit: true,
};

pub const SQL: &str = "
with claimed as (
  -- A whole run examines the claimed events (`ix_outbox_processing_claimed`); a re-check examines the
  -- events it names whatever their status, so a released claim is judged (and agrees) rather than unseen.
  select outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, status,
         claimed_by, claimed_at, created_at, attempts, last_error
  from messaging.outbox_event
  where status = 'PROCESSING' and $2::uuid[] is null and ($1::uuid is null or tenant_id = $1)
  union all
  select outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, status,
         claimed_by, claimed_at, created_at, attempts, last_error
  from messaging.outbox_event
  where outbox_event_id = any($2) and ($1::uuid is null or tenant_id = $1)
), waiting as (
  -- The predicate of ix_outbox_pending_type (published_at is null follows from the status, but the planner
  -- matches partial indexes by their text).
  select tenant_id, aggregate_type, event_type, count(*) as waiting, count(*) filter (where status = 'FAILED') as failed,
         min(created_at) as oldest_at, max(created_at) as newest_at, max(attempts) as max_attempts,
         (array_agg(outbox_event_id order by created_at, outbox_event_id))[1] as oldest_event_id
  from messaging.outbox_event
  where published_at is null and status in ('PENDING', 'FAILED') and ($1::uuid is null or tenant_id = $1)
  group by tenant_id, aggregate_type, event_type
), streams as (
  -- A stream's entity id: stable for its tenant, aggregate type and event type (an MD5 read as a UUID).
  select md5(tenant_id::text || '/' || aggregate_type || '/' || event_type)::uuid as stream_id, w.* from waiting w
)
select 1::bigint, outbox_event_id,
       case when status = 'PROCESSING' and claimed_at < $4 - interval '10 minutes'
       then json_build_object('entity_type', 'OUTBOX_EVENT', 'entity_id', outbox_event_id, 'tenant_id', tenant_id,
           'kind', 'STALE_OUTBOX_CLAIM',
           'expected', json_build_object('claim_released_within_minutes', 10),
           'observed', json_build_object('status', status, 'claimed_by', claimed_by, 'claimed_at', claimed_at,
                                          'created_at', created_at, 'attempts', attempts, 'last_error', last_error,
                                          'aggregate_type', aggregate_type, 'aggregate_id', aggregate_id,
                                          'aggregate_version', aggregate_version, 'event_type', event_type)) end
from claimed
union all
select 1::bigint, stream_id,
       case when oldest_at < $4 - make_interval(secs => $5)
       then json_build_object('entity_type', 'OUTBOX_STREAM', 'entity_id', stream_id, 'tenant_id', tenant_id,
           'kind', 'OUTBOX_STREAM_BACKLOG',
           'expected', json_build_object('published_within_seconds', $5),
           'observed', json_build_object('aggregate_type', aggregate_type, 'event_type', event_type, 'waiting', waiting,
                                          'failed', failed, 'oldest_created_at', oldest_at, 'newest_created_at', newest_at,
                                          'max_attempts', max_attempts, 'oldest_event_id', oldest_event_id)) end
from streams
where $2::uuid[] is null or stream_id = any($2)";
