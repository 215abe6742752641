//! Stuck approvals (lesson §10.2): an open approval request past its due time on a quote still pending
//! approval. Over `ix_approval_request_open_due`; always whole (a request gets overdue by not changing).
//! The observation holds the due time, not how overdue (see stuck_order's note).

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
};

pub const SQL: &str = "
with c as (
  select ar.approval_request_id, ar.tenant_id, ar.quote_id, ar.status, ar.policy_version, ar.assignee,
         ar.escalation_level, ar.created_at, ar.due_at
  from cpq.approval_request ar
  where ar.status in ('PENDING', 'ESCALATED')
    and ($1::uuid is null or ar.tenant_id = $1) and ($2::uuid[] is null or ar.approval_request_id = any($2))
)
-- The quote is joined only for the requests past their due time: the planner probes its primary key for a
-- few hundred, or hashes the quotes for tens of thousands.
select 1::bigint, c.approval_request_id,
       case when c.due_at < $4 and q.status = 'PENDING_APPROVAL'
       then json_build_object('entity_type', 'APPROVAL', 'entity_id', c.approval_request_id, 'tenant_id', c.tenant_id,
           'kind', 'OVERDUE_APPROVAL',
           'expected', json_build_object('decided_by', c.due_at),
           'observed', json_build_object('status', c.status, 'quote_id', c.quote_id, 'assignee', c.assignee,
                                          'escalation_level', c.escalation_level, 'policy_version', c.policy_version,
                                          'due_at', c.due_at)) end
from c left join cpq.quote q on q.quote_id = c.quote_id and c.due_at < $4";
