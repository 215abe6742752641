//! Quote ↔ approval (lesson §17.1): a quote pending approval has an open approval request for its current
//! version, and no open request belongs to a quote that left PENDING_APPROVAL. Both sides come from partial
//! indexes (`ix_quote_pending_approval`; `uq_approval_request_open`, which carries what the check reads of
//! a request: an index-only scan), so the check is always whole.
//! The two sides are matched in one hash join (quotes pending ⟗ open requests); only a request left
//! without a pending quote looks its quote up (by key), instead of every open request probing its quote.

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::QuoteApproval,
    title: "Quote ↔ approval",
    compares: "quotes pending approval against their open approval requests",
    lesson: "§17.1, §10",
    kinds: &[
        Kind {
            name: "QUOTE_PENDING_WITHOUT_APPROVAL",
            likely_cause: "the approval request was cancelled or never created: nobody will ever be asked to approve",
            suggested_action: "cancel and resubmit the quote through its commands (runbook stuck-approval)",
            safety: Safety::Caution,
            auto_repair: false,
            repair: None,
        },
        Kind {
            name: "APPROVAL_FOR_STALE_QUOTE_VERSION",
            likely_cause: "the quote changed after the request: approving it would approve another version",
            suggested_action: "cancel the stale request and request a new one for the current version",
            safety: Safety::Caution,
            auto_repair: false,
            repair: None,
        },
        Kind {
            name: "OPEN_APPROVAL_ON_DECIDED_QUOTE",
            likely_cause: "the quote left PENDING_APPROVAL without its request being closed",
            suggested_action: "cancel the request through its command",
            safety: Safety::Caution,
            auto_repair: false,
            repair: None,
        },
    ],
    incremental: false,
    grace_secs: 60,
    jit: false,
    gather: false,
    fingerprint: false,
};

pub const SQL: &str = "
with pq as (
  select q.quote_id, q.tenant_id, q.current_version, q.updated_at
  from cpq.quote q
  where q.status = 'PENDING_APPROVAL'
    and ($1::uuid is null or q.tenant_id = $1) and ($2::uuid[] is null or q.quote_id = any($2))
), ar as (
  select ar.approval_request_id, ar.quote_id, ar.tenant_id, ar.status, ar.quote_version
  from cpq.approval_request ar
  where ar.status in ('PENDING', 'ESCALATED')
    and ($1::uuid is null or ar.tenant_id = $1) and ($2::uuid[] is null or ar.quote_id = any($2))
), j as (
  select coalesce(pq.quote_id, ar.quote_id) as quote_id, coalesce(pq.tenant_id, ar.tenant_id) as tenant_id,
         pq.quote_id is not null as pending, pq.current_version, pq.updated_at,
         ar.approval_request_id, ar.quote_version, ar.status as request_status
  from pq full join ar on ar.quote_id = pq.quote_id
), looked as (
  -- Only an open request whose quote is not pending looks its quote up, by key (a subquery in a case:
  -- never turned into a join over every quote).
  select j.*,
         case when not j.pending then
           (select q.status from cpq.quote q where q.quote_id = j.quote_id and q.updated_at < $4 - make_interval(secs => $5))
         end as quote_status
  from j
), judged as (
  select * from looked
  where (pending and updated_at < $4 - make_interval(secs => $5)) or (not pending and quote_status is not null)
)
select 1::bigint, quote_id,
       case when not pending or approval_request_id is null or quote_version <> current_version
       then case
           when not pending then json_build_object('entity_type', 'QUOTE', 'entity_id', quote_id, 'tenant_id', tenant_id,
             'kind', 'OPEN_APPROVAL_ON_DECIDED_QUOTE',
             'expected', json_build_object('quote_status', 'PENDING_APPROVAL'),
             'observed', json_build_object('quote_status', quote_status, 'approval_request_id', approval_request_id,
                                            'request_status', request_status))
           else json_build_object('entity_type', 'QUOTE', 'entity_id', quote_id, 'tenant_id', tenant_id,
             'kind', case when approval_request_id is null then 'QUOTE_PENDING_WITHOUT_APPROVAL'
                          else 'APPROVAL_FOR_STALE_QUOTE_VERSION' end,
             'expected', json_build_object('open_approval_request_for_version', current_version),
             'observed', json_build_object('approval_request_id', approval_request_id, 'request_for_version', quote_version))
           end end
from judged";
