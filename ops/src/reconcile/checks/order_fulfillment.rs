//! Order ↔ fulfilment (lesson §17.1): each order line's state agrees with the evidence of its external
//! side effect (`oms.fulfillment_request`). Incremental by the line's `updated_at`; one mismatch per order,
//! naming its lines.

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};
use crate::repair::RepairType;

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::OrderFulfillment,
    title: "Order ↔ fulfilment",
    compares: "each order line's status against its fulfilment requests at the vendor",
    lesson: "§17.1",
    kinds: &[
        Kind {
            name: "DUPLICATE_FULFILLMENT_REQUEST",
            likely_cause: "more than one request sent for one line: a retry without its idempotency key",
            suggested_action: "compensate with the vendor; the domain owner decides",
            safety: Safety::Dangerous,
            auto_repair: false,
            repair: None,
        },
        Kind {
            name: "LINE_REQUESTED_WITHOUT_EVIDENCE",
            likely_cause: "the line says FULFILLMENT_REQUESTED but no request was recorded: the side effect is unaccounted",
            suggested_action: "check with the vendor by order; the domain owner decides",
            safety: Safety::Dangerous,
            auto_repair: false,
            repair: None,
        },
        Kind {
            name: "FULFILLMENT_COMPLETED_LINE_OPEN",
            likely_cause: "the vendor completed but the confirmation was not applied to the line (engine job failed)",
            suggested_action: "retry the failed engine job (runbook engine-incident)",
            safety: Safety::Caution,
            auto_repair: false,
            repair: Some(RepairType::RetryEngineJob),
        },
        Kind {
            name: "LINE_FULFILLED_WITHOUT_COMPLETION",
            likely_cause: "the line is FULFILLED with no completed request at the vendor",
            suggested_action: "check with the vendor; the domain owner decides",
            safety: Safety::Caution,
            auto_repair: false,
            repair: None,
        },
    ],
    incremental: true,
    grace_secs: 300,
    jit: false,
    gather: false,
    fingerprint: false,
};

pub const SQL: &str = "
with c as (
  select ol.order_id, ol.tenant_id, ol.order_line_id, ol.line_no, ol.status,
         count(fr.fulfillment_request_id) as requests,
         count(fr.fulfillment_request_id) filter (where fr.status in ('SENT', 'ACKNOWLEDGED', 'COMPLETED')) as sent,
         coalesce(bool_or(fr.status = 'COMPLETED' and fr.completed_at < $4 - make_interval(secs => $5)), false) as completed
  from oms.sales_order_line ol
  left join oms.fulfillment_request fr on fr.order_line_id = ol.order_line_id
  where ol.updated_at < $4 - make_interval(secs => $5)
    and ($3::timestamptz is null or ol.updated_at >= $3)
    and ($1::uuid is null or ol.tenant_id = $1) and ($2::uuid[] is null or ol.order_id = any($2))
  group by ol.order_id, ol.tenant_id, ol.order_line_id, ol.line_no, ol.status
), judged as (
  select *, case when sent > 1 then 1
                 when status = 'FULFILLMENT_REQUESTED' and requests = 0 then 2
                 when status <> 'FULFILLED' and completed then 3
                 when status = 'FULFILLED' and not completed then 4 end as rank
  from c
), per_order as (
  select order_id, tenant_id, min(rank) as rank,
         json_agg(json_build_object('line_no', line_no, 'order_line_id', order_line_id, 'status', status,
                                    'requests', requests, 'sent', sent, 'vendor_completed', completed) order by line_no) as lines
  from judged where rank is not null
  group by order_id, tenant_id
)
-- Lines are examined, orders are found: the count is a row of its own, with no entity.
-- Counted apart (a parallel count of the same lines), so that `c` is read once and streams into the
-- judging: a CTE read twice is materialized, two million rows written into a tuplestore and read back.
select (select count(*) from oms.sales_order_line ol
        where ol.updated_at < $4 - make_interval(secs => $5)
          and ($3::timestamptz is null or ol.updated_at >= $3)
          and ($1::uuid is null or ol.tenant_id = $1) and ($2::uuid[] is null or ol.order_id = any($2))),
       null::uuid, null::json
union all
select 0, order_id,
       json_build_object('entity_type', 'ORDER', 'entity_id', order_id, 'tenant_id', tenant_id,
         'kind', (array['DUPLICATE_FULFILLMENT_REQUEST', 'LINE_REQUESTED_WITHOUT_EVIDENCE',
                        'FULFILLMENT_COMPLETED_LINE_OPEN', 'LINE_FULFILLED_WITHOUT_COMPLETION'])[rank],
         'expected', json_build_object('line_status_matches_vendor', true),
         'observed', json_build_object('lines', lines))
from per_order";
