//! Order ↔ outbox (lesson §17.1): every order transition has its outbox event (same aggregate version),
//! since the command writes both in one transaction. Incremental by the transition's time
//! (`ix_order_transition_occurred`), each looked up through `ix_outbox_aggregate`.

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::OrderOutbox,
    title: "Order ↔ outbox",
    compares: "each order transition against the outbox event of the version it produced",
    lesson: "§17.1, §12",
    kinds: &[Kind {
        name: "TRANSITION_WITHOUT_OUTBOX_EVENT",
        likely_cause: "the change was written outside the command path (the command writes both in one transaction)",
        suggested_action: "security/compliance review of who changed the order; downstream then needs a projection replay",
        safety: Safety::Dangerous,
        auto_repair: false,
        repair: None,
    }],
    incremental: true,
    grace_secs: 60,
    jit: false,
    gather: false,
    fingerprint: false,
};

pub const SQL: &str = "
with missing as (
  select t.order_id, t.tenant_id, t.order_version, t.to_status, t.command, t.occurred_at
  from oms.order_transition t
  where t.occurred_at < $4 - make_interval(secs => $5)
    and ($3::timestamptz is null or t.occurred_at >= $3)
    and ($1::uuid is null or t.tenant_id = $1) and ($2::uuid[] is null or t.order_id = any($2))
    and not exists (select 1 from messaging.outbox_event e
                    where e.aggregate_id = t.order_id and e.aggregate_version = t.order_version)
), per_order as (
  select order_id, tenant_id,
         json_agg(json_build_object('version', order_version, 'to_status', to_status, 'command', command,
                                      'occurred_at', occurred_at) order by order_version) as transitions
  from missing
  group by order_id, tenant_id
)
-- Counted apart from the anti-join (a row of its own, with no entity) (a count is an index-only scan; folding it into one pass would turn the
-- anti-join into a probe per transition).
select (select count(*) from oms.order_transition t
         where t.occurred_at < $4 - make_interval(secs => $5)
           and ($3::timestamptz is null or t.occurred_at >= $3)
           and ($1::uuid is null or t.tenant_id = $1) and ($2::uuid[] is null or t.order_id = any($2))),
       null::uuid, null::json
union all
select 0, order_id,
       json_build_object('entity_type', 'ORDER', 'entity_id', order_id, 'tenant_id', tenant_id,
         'kind', 'TRANSITION_WITHOUT_OUTBOX_EVENT',
         'expected', json_build_object('outbox_event_per_transition', true),
         'observed', json_build_object('transitions_without_event', transitions))
from per_order";
