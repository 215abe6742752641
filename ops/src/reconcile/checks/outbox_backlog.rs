//! Outbox backlog and stale claims (lesson §12.1, §12.3): no stream of events waits unpublished past the
//! grace, and no relay holds a claim for longer than its lease.
//!
//! Both are judged at the grain an operator acts on, not per event:
//!
//! - the backlog per stream — tenant, aggregate type and event type, its count and oldest age (§12.1's
//!   query) — so a stalled relay is one mismatch per stream it stalls, each saying how many wait and since
//!   when (not 200 000 of them at 1M orders, which told an operator nothing more);
//! - stale claims per relay and tenant — how many it holds past the lease, since when, and the oldest —,
//!   the grain of the release-stale-claims repair, which releases every stale claim of a dead relay in the
//!   tenant it is requested for (named by the oldest event).
//!
//! Over `ix_outbox_pending_stream` (in stream order), `ix_outbox_pending` and `ix_outbox_processing_claimed`;
//! always whole. A re-check judges each entity it names, including one no longer found (all published, all
//! released): it agrees, and the mismatch resolves.

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};
use crate::repair::RepairType;

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::OutboxBacklog,
    title: "Outbox backlog and stale claims",
    compares: "each stream of unpublished events (tenant, aggregate type, event type) and each relay's claims in a tenant against their age",
    lesson: "§12.1, §12.3",
    kinds: &[
        Kind {
            name: "STALE_OUTBOX_CLAIMS",
            likely_cause: "the relay instance holding the claims died (no heartbeat) or is blocked",
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
    gather: false,
    fingerprint: false,
};

/// The entity of a relay's claims in a tenant: stable for both (an MD5 read as a UUID), like a stream's.
pub const CLAIMS_ENTITY: &str = "OUTBOX_CLAIMS";

pub const SQL: &str = "
with claims as (
  -- Every claim held, per tenant and relay (`ix_outbox_processing_claimed`): a relay whose claims are all
  -- younger than the lease is examined and agrees.
  select md5('claims/' || tenant_id::text || '/' || coalesce(claimed_by, ''))::uuid as claims_id, tenant_id, claimed_by,
         count(*) as claimed, count(*) filter (where claimed_at < $4 - interval '10 minutes') as stale,
         min(claimed_at) as oldest_claimed_at,
         max(claimed_at) filter (where claimed_at < $4 - interval '10 minutes') as newest_stale_claimed_at,
         (array_agg(outbox_event_id order by claimed_at, outbox_event_id))[1] as oldest_event_id,
         max(attempts) as max_attempts,
         array_agg(distinct aggregate_type || '/' || event_type) as streams
  from messaging.outbox_event
  where status = 'PROCESSING' and ($1::uuid is null or tenant_id = $1)
  group by tenant_id, claimed_by
), waiting as (
  -- The predicate of the partial indexes (published_at is null follows from the status, but the planner
  -- matches partial indexes by their text).
  select tenant_id, aggregate_type, event_type, count(*) as waiting, count(*) filter (where status = 'FAILED') as failed,
         min(created_at) as oldest_at, max(created_at) as newest_at, max(attempts) as max_attempts
  from messaging.outbox_event
  where published_at is null and status in ('PENDING', 'FAILED') and ($1::uuid is null or tenant_id = $1)
  group by tenant_id, aggregate_type, event_type
), judged as (
  select claims_id as entity_id,
         case when stale > 0
         then json_build_object('entity_type', 'OUTBOX_CLAIMS', 'entity_id', claims_id, 'tenant_id', tenant_id,
             'kind', 'STALE_OUTBOX_CLAIMS',
             'expected', json_build_object('claims_released_within_minutes', 10),
             'observed', json_build_object('relay', claimed_by, 'stale', stale, 'claimed', claimed,
                                            'oldest_claimed_at', oldest_claimed_at,
                                            'newest_stale_claimed_at', newest_stale_claimed_at,
                                            'oldest_event_id', oldest_event_id, 'max_attempts', max_attempts,
                                            'streams', streams)) end as finding
  from claims
  union all
  -- A stream's entity id: stable for its tenant, aggregate type and event type (an MD5 read as a UUID). Its
  -- oldest event is looked up by its age, one index probe per stream, not sorted out of every waiting one.
  select s.stream_id,
         case when oldest_at < $4 - make_interval(secs => $5)
         then json_build_object('entity_type', 'OUTBOX_STREAM', 'entity_id', s.stream_id, 'tenant_id', tenant_id,
             'kind', 'OUTBOX_STREAM_BACKLOG',
             'expected', json_build_object('published_within_seconds', $5),
             'observed', json_build_object('aggregate_type', aggregate_type, 'event_type', event_type, 'waiting', waiting,
                                            'failed', failed, 'oldest_created_at', oldest_at, 'newest_created_at', newest_at,
                                            'max_attempts', max_attempts,
                                            'oldest_event_id',
                                            (select e.outbox_event_id from messaging.outbox_event e
                                              where e.published_at is null and e.status in ('PENDING', 'FAILED')
                                                and e.aggregate_type = w.aggregate_type and e.event_type = w.event_type
                                                and e.created_at = w.oldest_at and e.tenant_id = w.tenant_id
                                              order by e.outbox_event_id limit 1))) end
  from waiting w
  cross join lateral (select md5(tenant_id::text || '/' || aggregate_type || '/' || event_type)::uuid as stream_id) s
)
-- A whole run: every stream and every relay's claims. A re-check: each entity it names, found or not.
select 1::bigint, entity_id, finding from judged where $2::uuid[] is null
union all
select 1::bigint, named.id, j.finding from unnest($2::uuid[]) as named(id) left join judged j on j.entity_id = named.id";
