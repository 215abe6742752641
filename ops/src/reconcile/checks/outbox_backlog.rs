//! Outbox backlog and stale claims (lesson §12.1, §12.3): no event waits unpublished past the grace, and
//! none is claimed by a relay for longer than its lease. Over `ix_outbox_pending` and
//! `ix_outbox_processing_claimed`; always whole.

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};
use crate::repair::RepairType;

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::OutboxBacklog,
    title: "Outbox backlog and stale claims",
    compares: "unpublished and claimed outbox events against their age",
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
            name: "OUTBOX_EVENT_UNPUBLISHED",
            likely_cause: "the relay is down or paused, Kafka is unavailable, or the event fails to serialize",
            suggested_action: "follow runbook outbox-stuck: restore the relay or Kafka; quarantine a poison event",
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
with c as (
  -- Two parts, each matching its partial index's predicate (one `status in` of all three matches neither,
  -- and read the whole table: 3.2 s at 1M orders instead of tens of milliseconds).
  select outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, status,
         claimed_by, claimed_at, created_at, attempts, last_error
  from messaging.outbox_event
  where status in ('PENDING', 'FAILED')
    and ($1::uuid is null or tenant_id = $1) and ($2::uuid[] is null or outbox_event_id = any($2))
  union all
  select outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, status,
         claimed_by, claimed_at, created_at, attempts, last_error
  from messaging.outbox_event
  where status = 'PROCESSING'
    and ($1::uuid is null or tenant_id = $1) and ($2::uuid[] is null or outbox_event_id = any($2))
)
select 1::bigint, outbox_event_id,
       case when (status = 'PROCESSING' and claimed_at < $4 - interval '10 minutes')
                    or (status in ('PENDING', 'FAILED') and created_at < $4 - make_interval(secs => $5))
       then json_build_object('entity_type', 'OUTBOX_EVENT', 'entity_id', outbox_event_id, 'tenant_id', tenant_id,
           'kind', case when status = 'PROCESSING' then 'STALE_OUTBOX_CLAIM' else 'OUTBOX_EVENT_UNPUBLISHED' end,
           'expected', case when status = 'PROCESSING' then json_build_object('claim_released_within_minutes', 10)
                            else json_build_object('published_within_seconds', $5) end,
           'observed', json_build_object('status', status, 'claimed_by', claimed_by, 'claimed_at', claimed_at,
                                          'created_at', created_at, 'attempts', attempts, 'last_error', last_error,
                                          'aggregate_type', aggregate_type, 'aggregate_id', aggregate_id,
                                          'aggregate_version', aggregate_version, 'event_type', event_type)) end
from c";
