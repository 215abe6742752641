//! Price snapshot ↔ quote total (lesson §17.1): a quote's total is the sum of its priced lines, exactly
//! (minor units). Incremental by the quote's `updated_at` (`ix_quote_updated`).

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::PriceSnapshot,
    title: "Price snapshot ↔ quote total",
    compares: "each quote's total against the sum of its lines' priced net amounts",
    lesson: "§17.1",
    kinds: &[
        Kind {
            name: "PRICE_SNAPSHOT_MISMATCH",
            likely_cause: "the total changed without re-pricing (a bug, or SQL outside the commands)",
            suggested_action: "revise and re-price the quote through its commands (approval again if needed)",
            safety: Safety::Caution,
            auto_repair: false,
            repair: None,
        },
        Kind {
            name: "ACCEPTED_PRICE_SNAPSHOT_MISMATCH",
            likely_cause: "the customer accepted a total that is not the sum of its priced lines",
            suggested_action: "the domain owner and finance decide; nothing is changed by SQL",
            safety: Safety::Dangerous,
            auto_repair: false,
            repair: None,
        },
    ],
    incremental: true,
    grace_secs: 60,
    jit: true,
    gather: true,
    fingerprint: false,
};

pub const SQL: &str = "
with c as (
  select q.quote_id, q.tenant_id, q.status, q.currency, q.total_minor, sum(l.net_minor) as lines_total_minor,
         count(*) as lines
  from cpq.quote q
  join cpq.quote_line l on l.quote_id = q.quote_id
  where q.updated_at < $4 - make_interval(secs => $5)
    and ($3::timestamptz is null or q.updated_at >= $3)
    and ($1::uuid is null or q.tenant_id = $1) and ($2::uuid[] is null or q.quote_id = any($2))
  group by q.quote_id
)
select 1::bigint, quote_id,
       case when total_minor <> lines_total_minor
       then json_build_object('entity_type', 'QUOTE', 'entity_id', quote_id, 'tenant_id', tenant_id,
           'kind', case when status = 'ACCEPTED' then 'ACCEPTED_PRICE_SNAPSHOT_MISMATCH' else 'PRICE_SNAPSHOT_MISMATCH' end,
           'expected', json_build_object('total_minor', lines_total_minor, 'currency', currency),
           'observed', json_build_object('total_minor', total_minor, 'difference_minor', total_minor - lines_total_minor,
                                          'lines', lines, 'status', status)) end
from c";
