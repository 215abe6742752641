//! Quote ↔ approval (lesson §17.1): a quote pending approval has an open approval request for its current
//! version, and no open request belongs to a quote that left PENDING_APPROVAL. Both sides come from partial
//! indexes (`ix_quote_pending_approval`, `ix_approval_request_open_due`), so the check is always whole.

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
};

pub const SQL: &str = "
with pending as (
  select q.quote_id, q.tenant_id, q.current_version, ar.approval_request_id, ar.quote_version
  from cpq.quote q
  left join cpq.approval_request ar on ar.quote_id = q.quote_id and ar.status in ('PENDING', 'ESCALATED')
  where q.status = 'PENDING_APPROVAL'
    and q.updated_at < $4 - make_interval(secs => $5)
    and ($1::uuid is null or q.tenant_id = $1) and ($2::uuid[] is null or q.quote_id = any($2))
), decided as (
  select ar.approval_request_id, ar.quote_id, ar.tenant_id, ar.status, q.status as quote_status
  from cpq.approval_request ar
  join cpq.quote q on q.quote_id = ar.quote_id
  where ar.status in ('PENDING', 'ESCALATED') and q.status <> 'PENDING_APPROVAL'
    and q.updated_at < $4 - make_interval(secs => $5)
    and ($1::uuid is null or q.tenant_id = $1) and ($2::uuid[] is null or q.quote_id = any($2))
), p as (
  select count(*) as n,
         coalesce(jsonb_agg(jsonb_build_object('entity_type', 'QUOTE', 'entity_id', quote_id, 'tenant_id', tenant_id,
           'kind', case when approval_request_id is null then 'QUOTE_PENDING_WITHOUT_APPROVAL'
                        else 'APPROVAL_FOR_STALE_QUOTE_VERSION' end,
           'expected', jsonb_build_object('open_approval_request_for_version', current_version),
           'observed', jsonb_build_object('approval_request_id', approval_request_id, 'request_for_version', quote_version)))
           filter (where approval_request_id is null or quote_version <> current_version), '[]'::jsonb) as x
  from pending
), d as (
  select count(*) as n,
         coalesce(jsonb_agg(jsonb_build_object('entity_type', 'QUOTE', 'entity_id', quote_id, 'tenant_id', tenant_id,
           'kind', 'OPEN_APPROVAL_ON_DECIDED_QUOTE',
           'expected', jsonb_build_object('quote_status', 'PENDING_APPROVAL'),
           'observed', jsonb_build_object('quote_status', quote_status, 'approval_request_id', approval_request_id,
                                          'request_status', status))), '[]'::jsonb) as x
  from decided
)
select p.n + d.n, p.x || d.x from p, d";
