//! Duplicate orders (lesson §9.2): no two orders come from one quote, whatever their origin.

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};
use crate::repair::RepairType;

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::DuplicateOrder,
    title: "Duplicate orders",
    compares: "each quote an imported order came from, with all its orders: one each (two platform orders of a quote \
               are refused by uq_order_source_quote)",
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
    jit: false,
    gather: false,
    fingerprint: false,
};

/// Only an imported order can share its quote: two PLATFORM orders of one quote are refused by
/// `uq_order_source_quote`, so every group of more than one order holds an imported one. The check takes the
/// quotes of the imported orders (`ix_sales_order_imported`: a few rows, not every order) and counts each
/// one's orders (`ix_sales_order_source_quote`), instead of grouping every order of the platform by quote.
/// What it checked is those quotes.
pub const SQL: &str = "
with q as (
  select distinct tenant_id, source_quote_id
  from oms.sales_order
  where origin <> 'PLATFORM' and source_quote_id is not null
    and ($1::uuid is null or tenant_id = $1) and ($2::uuid[] is null or source_quote_id = any($2))
), c as (
  select q.tenant_id, q.source_quote_id, count(*) as order_count,
         array_agg(o.order_id order by o.created_at) as order_ids, array_agg(o.origin order by o.created_at) as origins,
         min(o.created_at) as first_created_at, max(o.created_at) as last_created_at
  from q join oms.sales_order o on o.tenant_id = q.tenant_id and o.source_quote_id = q.source_quote_id
  group by q.tenant_id, q.source_quote_id
)
select 1::bigint, source_quote_id,
       case when order_count > 1
       then json_build_object('entity_type', 'QUOTE', 'entity_id', source_quote_id, 'tenant_id', tenant_id,
           'kind', 'DUPLICATE_ORDER',
           'expected', json_build_object('orders', 1),
           'observed', json_build_object('orders', order_count, 'order_ids', order_ids, 'origins', origins,
                                          'first_created_at', first_created_at, 'last_created_at', last_created_at)) end
from c";
