//! Stuck approvals (lesson §10.2): an open approval request past its due time on a quote still pending
//! approval. Over `ix_approval_request_open_due`; always whole (a request gets overdue by not changing).
//! The observation holds the due time, not how overdue (see stuck_order's note). Its fingerprint
//! (`CheckInfo::fingerprint`) hashes the request's row, which the finding is built from: a run that finds
//! the ten thousand again builds no JSON for them.

use crate::reconcile::model::{CheckInfo, CheckName, Kind, Safety};
use crate::repair::RepairType;

pub const INFO: CheckInfo = CheckInfo {
    name: CheckName::StuckApproval,
    title: "Stuck approvals",
    compares: "open approval requests against their due time",
    lesson: "§10.2",
    kinds: &[Kind {
        name: "OVERDUE_APPROVAL",
        likely_cause: "the approver is away or cannot see the quote, or the escalation timer did not fire",
        suggested_action: "trigger the approval escalation, or reassign the approver (runbook stuck-approval)",
        safety: Safety::Safe,
        auto_repair: false,
        repair: Some(RepairType::EscalateApproval),
    }],
    incremental: false,
    grace_secs: 0,
    jit: false,
    gather: false,
    fingerprint: true,
};

pub const SQL: &str = "
-- The requests not yet due are examined and agree: one row counts them, from the index alone. The quote is
-- joined only for the overdue ones (a hash of the quotes pending approval for thousands, a primary-key probe
-- for a few), never probed for a request that cannot be stuck.
select count(*)::bigint, null::uuid, null::json, null::bigint
from cpq.approval_request ar
where ar.status in ('PENDING', 'ESCALATED') and ar.due_at >= $4
  and ($1::uuid is null or ar.tenant_id = $1) and ($2::uuid[] is null or ar.approval_request_id = any($2))
union all
select 1::bigint, ar.approval_request_id,
       case when q.status = 'PENDING_APPROVAL'
       then json_build_object('entity_type', 'APPROVAL', 'entity_id', ar.approval_request_id, 'tenant_id', ar.tenant_id,
           'kind', 'OVERDUE_APPROVAL',
           'expected', json_build_object('decided_by', ar.due_at),
           'observed', json_build_object('status', ar.status, 'quote_id', ar.quote_id, 'assignee', ar.assignee,
                                          'escalation_level', ar.escalation_level, 'policy_version', ar.policy_version,
                                          'due_at', ar.due_at)) end,
       case when q.status = 'PENDING_APPROVAL'
       then hash_record_extended(ar, 0) end
from cpq.approval_request ar left join cpq.quote q on q.quote_id = ar.quote_id
where ar.status in ('PENDING', 'ESCALATED') and ar.due_at < $4
  and ($1::uuid is null or ar.tenant_id = $1) and ($2::uuid[] is null or ar.approval_request_id = any($2))";
