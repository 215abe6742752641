//! Audit ↔ transition (lesson §17.1, §23.1): every order and quote row is what its last transition
//! produced (version and status), and every transition made by a repair names an executed repair.
//! Incremental by the row's `updated_at`.

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::AuditTransition,
    title: "Audit ↔ transition",
    compares: "orders and quotes against their transition history; repair transitions against executed repairs",
    lesson: "§17.1, §23.1",
    kinds: &[
        Kind {
            name: "STATE_WITHOUT_TRANSITION",
            likely_cause: "the row's version or status was not produced by a transition: SQL surgery",
            suggested_action: "security/compliance owner; freeze repairs on the entity until the cause is understood",
            safety: Safety::Dangerous,
            auto_repair: false,
            repair: None,
        },
        Kind {
            name: "REPAIR_TRANSITION_WITHOUT_EXECUTED_REPAIR",
            likely_cause: "a transition carries a repair id that names no executed repair",
            suggested_action: "security/compliance owner reviews who changed the order",
            safety: Safety::Dangerous,
            auto_repair: false,
            repair: None,
        },
    ],
    incremental: true,
    grace_secs: 60,
    jit: true,
    gather: false,
    fingerprint: false,
};

pub const SQL: &str = "
with orders as (
  select o.order_id, o.tenant_id, o.status, o.version, v.last_version, v.last_status, v.bad_repairs
  from oms.sales_order o
  cross join lateral (
    select max(t.order_version) as last_version,
           (array_agg(t.to_status order by t.order_version desc) filter (where t.order_line_id is null))[1] as last_status,
           coalesce(jsonb_agg(t.repair_id) filter (where t.repair_id is not null and not exists (
             select 1 from ops.repair_command_log r where r.repair_id = t.repair_id and r.status = 'EXECUTED')), '[]') as bad_repairs
    from oms.order_transition t where t.order_id = o.order_id) v
  where o.updated_at < $4 - make_interval(secs => $5)
    and ($3::timestamptz is null or o.updated_at >= $3)
    and ($1::uuid is null or o.tenant_id = $1) and ($2::uuid[] is null or o.order_id = any($2))
), quotes as (
  select q.quote_id, q.tenant_id, q.status, q.version, v.last_version, v.last_status
  from cpq.quote q
  cross join lateral (
    select max(t.row_version) as last_version,
           (array_agg(t.to_status order by t.row_version desc))[1] as last_status
    from cpq.quote_transition t where t.quote_id = q.quote_id) v
  where q.updated_at < $4 - make_interval(secs => $5)
    and ($3::timestamptz is null or q.updated_at >= $3)
    and ($1::uuid is null or q.tenant_id = $1) and ($2::uuid[] is null or q.quote_id = any($2))
)
select 1::bigint, order_id,
       case when last_version is distinct from version or last_status is distinct from status or bad_repairs <> '[]'::jsonb
       then json_build_object('entity_type', 'ORDER', 'entity_id', order_id, 'tenant_id', tenant_id,
         'kind', case when bad_repairs <> '[]'::jsonb and last_version is not distinct from version
                           and last_status is not distinct from status
                      then 'REPAIR_TRANSITION_WITHOUT_EXECUTED_REPAIR' else 'STATE_WITHOUT_TRANSITION' end,
         'expected', json_build_object('version', last_version, 'status', last_status),
         'observed', json_build_object('version', version, 'status', status, 'unexecuted_repair_ids', bad_repairs)) end
from orders
union all
select 1::bigint, quote_id,
       case when last_version is distinct from version or last_status is distinct from status
       then json_build_object('entity_type', 'QUOTE', 'entity_id', quote_id, 'tenant_id', tenant_id,
         'kind', 'STATE_WITHOUT_TRANSITION',
         'expected', json_build_object('version', last_version, 'status', last_status),
         'observed', json_build_object('version', version, 'status', status)) end
from quotes";
