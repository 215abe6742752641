//! Quote ↔ order (lesson §17.2): an accepted quote has exactly one order. Over `ix_quote_accepted` and
//! `ix_sales_order_source_quote`; incremental by acceptance time.

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};
use crate::repair::RepairType;

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::QuoteOrder,
    title: "Quote ↔ order",
    compares: "quotes accepted more than 5 minutes ago against the orders captured from them",
    lesson: "§17.2",
    kinds: &[
        Kind {
            name: "ACCEPTED_QUOTE_WITHOUT_ORDER",
            likely_cause: "acceptance and capture are one transaction here, so the quote was changed outside the \
                           commands or its order was lost",
            suggested_action: "the domain owner decides: capture through a command or record the explicit failure",
            safety: Safety::Dangerous,
            auto_repair: false,
            repair: None,
        },
        Kind {
            name: "DUPLICATE_ORDER",
            likely_cause: "a second order for the quote (a legacy import outside uq_order_source_quote, or a retry \
                           without idempotency)",
            suggested_action: "resolve the duplicate order: cancel the non-canonical one with evidence (runbook duplicate-order)",
            safety: Safety::Dangerous,
            auto_repair: false,
            repair: Some(RepairType::ResolveDuplicateOrder),
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
  select q.tenant_id, q.quote_id, q.accepted_at, count(o.order_id) as order_count
  from cpq.quote q
  left join oms.sales_order o on o.tenant_id = q.tenant_id and o.source_quote_id = q.quote_id
  where q.status = 'ACCEPTED'
    and q.accepted_at < $4 - make_interval(secs => $5)
    and ($3::timestamptz is null or q.accepted_at >= $3)
    and ($1::uuid is null or q.tenant_id = $1) and ($2::uuid[] is null or q.quote_id = any($2))
  group by q.tenant_id, q.quote_id, q.accepted_at
)
select 1::bigint, quote_id,
       case when order_count <> 1
       then json_build_object('entity_type', 'QUOTE', 'entity_id', quote_id, 'tenant_id', tenant_id,
           'kind', case when order_count = 0 then 'ACCEPTED_QUOTE_WITHOUT_ORDER' else 'DUPLICATE_ORDER' end,
           'expected', json_build_object('orders', 1),
           'observed', json_build_object('orders', order_count, 'accepted_at', accepted_at,
               -- Listed only for the quotes found (an ordered aggregate per quote costs every quote a sort).
               'order_ids', (select coalesce(array_agg(o.order_id order by o.created_at, o.order_id), '{}')
                             from oms.sales_order o where o.tenant_id = c.tenant_id and o.source_quote_id = c.quote_id))) end
from c";
