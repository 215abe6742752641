//! Kafka ↔ projection (lesson §17.1, §23.5): the read model fed from Kafka is at the order's version, with
//! its status and total. Incremental by the order's `updated_at` (`ix_sales_order_updated`).

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};
use crate::repair::RepairType;

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::KafkaProjection,
    title: "Kafka ↔ projection",
    compares: "each order's projection (read model) against the order's version, status and total",
    lesson: "§17.1, §23.5",
    kinds: &[
        Kind {
            name: "PROJECTION_MISSING",
            likely_cause: "the capture event was never consumed: consumer down or paused, or the event unpublished",
            suggested_action: "check consumer lag and the outbox; then replay the projection for the order",
            safety: Safety::Safe,
            auto_repair: true,
            repair: Some(RepairType::ReplayProjection),
        },
        Kind {
            name: "STALE_PROJECTION",
            likely_cause: "consumer lag, a quarantined event, or a consumer that is down",
            suggested_action: "replay the projection for the order once its events are published",
            safety: Safety::Safe,
            auto_repair: true,
            repair: Some(RepairType::ReplayProjection),
        },
        Kind {
            name: "PROJECTION_AHEAD",
            likely_cause: "a version the order never had: written by something other than the consumer",
            suggested_action: "security/compliance review, then replay the projection",
            safety: Safety::Dangerous,
            auto_repair: false,
            repair: None,
        },
        Kind {
            name: "PROJECTION_DIVERGED",
            likely_cause: "same version, different status or total: the consumer applied something wrong",
            suggested_action: "pause the consumer, fix it, then replay the projection",
            safety: Safety::Caution,
            auto_repair: false,
            repair: Some(RepairType::ReplayProjection),
        },
    ],
    incremental: true,
    grace_secs: 300,
    jit: true,
    gather: true,
    fingerprint: false,
};

pub const SQL: &str = "
with c as (
  select o.order_id, o.tenant_id, o.version, o.status, o.total_minor,
         p.order_id as projected, p.aggregate_version, p.status as projected_status, p.total_minor as projected_total_minor
  from oms.sales_order o
  left join oms.order_projection p on p.order_id = o.order_id
  where o.updated_at < $4 - make_interval(secs => $5)
    and ($3::timestamptz is null or o.updated_at >= $3)
    and ($1::uuid is null or o.tenant_id = $1) and ($2::uuid[] is null or o.order_id = any($2))
)
select 1::bigint, order_id,
       case when projected is null or aggregate_version <> version or projected_status <> status
                    or projected_total_minor <> total_minor
       then json_build_object('entity_type', 'ORDER', 'entity_id', order_id, 'tenant_id', tenant_id,
           'kind', case when projected is null then 'PROJECTION_MISSING'
                        when aggregate_version < version then 'STALE_PROJECTION'
                        when aggregate_version > version then 'PROJECTION_AHEAD'
                        else 'PROJECTION_DIVERGED' end,
           'expected', json_build_object('version', version, 'status', status, 'total_minor', total_minor),
           'observed', json_build_object('version', aggregate_version, 'status', projected_status,
                                          'total_minor', projected_total_minor)) end
from c";
