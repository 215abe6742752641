//! Duplicate orders (lesson §9.2): no two orders come from one quote, whatever their origin.

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};
use crate::repair::RepairType;

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::DuplicateOrder,
    title: "Duplicate orders",
    compares: "orders grouped by the quote they came from: one each",
    lesson: "§9.2",
    kinds: &[Kind {
        name: "DUPLICATE_ORDER",
        likely_cause: "the same quote captured twice: a legacy import outside uq_order_source_quote, or an acceptance \
                       retried without its idempotency key",
        suggested_action: "keep the canonical (first) order; cancel the other with evidence (runbook duplicate-order)",
        safety: Safety::Dangerous,
        auto_repair: false,
        repair: Some(RepairType::ResolveDuplicateOrder),
    }],
    incremental: false,
    grace_secs: 0,
};

pub const SQL: &str = "
with c as (
  select tenant_id, source_quote_id, count(*) as order_count,
         array_agg(order_id order by created_at) as order_ids, array_agg(origin order by created_at) as origins,
         min(created_at) as first_created_at, max(created_at) as last_created_at
  from oms.sales_order
  where source_quote_id is not null
    and ($1::uuid is null or tenant_id = $1) and ($2::uuid[] is null or source_quote_id = any($2))
  group by tenant_id, source_quote_id
)
select count(*),
       coalesce(json_agg(json_build_object('entity_type', 'QUOTE', 'entity_id', source_quote_id, 'tenant_id', tenant_id,
           'kind', 'DUPLICATE_ORDER',
           'expected', json_build_object('orders', 1),
           'observed', json_build_object('orders', order_count, 'order_ids', order_ids, 'origins', origins,
                                          'first_created_at', first_created_at, 'last_created_at', last_created_at)))
         filter (where order_count > 1), '[]'::json)
from c";
