//! Stuck orders (lesson §8.2): an active order untouched for 30 minutes. Over
//! `ix_sales_order_active_updated`; always whole (an order gets stuck by not changing). The observation
//! holds when the order last changed, not how long ago: it stays the same while the order stays stuck, so
//! a later run that finds it again writes no history (the console shows the age). Its fingerprint
//! (`CheckInfo::fingerprint`) hashes the row `c` the finding is built from: a run that finds them again
//! builds no JSON for them.

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};
use crate::repair::RepairType;

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::StuckOrder,
    title: "Stuck orders",
    compares: "active orders (CAPTURED … PARTIALLY_FULFILLED) against 30 minutes without progress",
    lesson: "§8.2",
    kinds: &[Kind {
        name: "STUCK_ORDER",
        likely_cause: "orchestration never started or gave up (engine down), an engine incident, or a vendor that never \
                       answered: see the start status and the stuck boundary",
        suggested_action: "find the stuck boundary (runbook stuck-order); a CAPTURED or ORCHESTRATING order resumes \
                           with the resume-orchestration repair",
        safety: Safety::Caution,
        auto_repair: false,
        repair: Some(RepairType::ResumeOrchestration),
    }],
    incremental: false,
    grace_secs: 0,
    jit: true,
    gather: false,
    fingerprint: true,
};

pub const SQL: &str = "
with c as (
  select o.order_id, o.tenant_id, o.status, o.version, o.updated_at, s.status as start_status, s.reason as start_reason,
         o.updated_at < $4 - interval '30 minutes'
           and exists (select 1 from oms.sales_order_line ol where ol.order_id = o.order_id) as stuck
  from oms.sales_order o
  left join oms.orchestration_start s on s.order_id = o.order_id
  where o.status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED')
    and ($1::uuid is null or o.tenant_id = $1) and ($2::uuid[] is null or o.order_id = any($2))
)
select 1::bigint, order_id,
       case when stuck
       then json_build_object('entity_type', 'ORDER', 'entity_id', order_id, 'tenant_id', tenant_id,
           'kind', 'STUCK_ORDER',
           'expected', json_build_object('progress_within_minutes', 30),
           'observed', json_build_object('status', status, 'version', version, 'updated_at', updated_at,
                                          'orchestration_start', start_status, 'start_reason', start_reason)) end,
       case when stuck
       then hash_record_extended(c, 0) end
from c";
