//! Approval requests: opened when a quote is submitted, escalated by the timer at each due time that
//! passes, closed by the decision or by the quote moving on — every step through the approval machine,
//! with its transition row.

use rand::Rng;
use uuid::Uuid;

use super::{t, Batch, Generator};
use crate::approval::{Approval, ApprovalCommand, ApprovalStatus};
use crate::machine::{transition, Named};

/// An approval is escalated at most this many levels.
pub(super) const MAX_ESCALATION: i32 = 2;

pub(super) struct OpenApproval {
    pub id: Uuid,
    pub quote_id: Uuid,
    pub quote_version: i32,
    pub policy_version: i32,
    pub status: ApprovalStatus,
    pub level: i32,
    pub assignee: String,
    pub due: i64,
    pub row_version: i64,
    pub created: i64,
    pub updated: i64,
}

impl Generator {
    pub(super) fn open_approval(
        &mut self,
        b: &mut Batch,
        tenant: usize,
        quote_id: Uuid,
        quote_version: i32,
        at: i64,
        rep: &str,
    ) -> OpenApproval {
        let t = &self.tenants[tenant];
        let assignee = t.approvers[self.rng.random_range(0..t.approvers.len())].clone();
        let policy_version = t.policy.version_at(at).version;
        let due = at + t.policy.sla_ms;
        let a = OpenApproval {
            id: self.id_at(at),
            quote_id,
            quote_version,
            policy_version,
            status: ApprovalStatus::Pending,
            level: 0,
            assignee,
            due,
            row_version: 1,
            created: at,
            updated: at,
        };
        let detail = format!(r#"{{"policy_version":{policy_version},"assignee":"{}"}}"#, a.assignee);
        self.approval_transition(b, tenant, &a, None, "REQUEST", rep, None, &detail, at);
        a
    }

    /// Escalates an open approval at each due time before `until`, up to `max_level`.
    pub(super) fn escalate_until(&mut self, b: &mut Batch, tenant: usize, a: &mut OpenApproval, until: i64, max_level: i32) {
        while a.due < until && a.level < max_level {
            let at = a.due;
            let from = a.status;
            a.status = transition::<Approval>(from, ApprovalCommand::Escalate).expect("an open approval can escalate");
            a.level += 1;
            a.row_version += 1;
            a.assignee = self.tenants[tenant].escalation_approver.clone();
            a.due = at + self.tenants[tenant].policy.sla_ms;
            a.updated = at;
            let detail = format!(r#"{{"escalation_level":{},"assignee":"{}"}}"#, a.level, a.assignee);
            self.approval_transition(
                b,
                tenant,
                a,
                Some(from),
                "ESCALATE",
                "approval-escalation-timer",
                Some("due time passed"),
                &detail,
                at,
            );
        }
    }

    pub(super) fn close_approval(
        &mut self,
        b: &mut Batch,
        tenant: usize,
        mut a: OpenApproval,
        command: ApprovalCommand,
        at: i64,
        why: Option<&str>,
    ) {
        let from = a.status;
        a.status = transition::<Approval>(from, command).expect("an open approval can be decided or cancelled");
        a.row_version += 1;
        a.updated = at;
        let actor = if command == ApprovalCommand::Cancel { "quote-service".to_owned() } else { a.assignee.clone() };
        let note = match command {
            ApprovalCommand::Approve => Some("within delegated discount authority"),
            ApprovalCommand::Reject => Some("discount below the floor for this segment"),
            _ => why,
        };
        self.approval_transition(b, tenant, &a, Some(from), command.name(), &actor, note, "{}", at);
        let decided = matches!(command, ApprovalCommand::Approve | ApprovalCommand::Reject);
        self.write_approval(b, tenant, &a, decided.then_some(at), if decided { note } else { None });
    }

    pub(super) fn write_approval(
        &mut self,
        b: &mut Batch,
        tenant: usize,
        a: &OpenApproval,
        decided_at: Option<i64>,
        note: Option<&str>,
    ) {
        let t = &self.tenants[tenant];
        b.tables[t::APPROVAL_REQUEST]
            .row()
            .uuid(a.id)
            .uuid(t.id)
            .uuid(a.quote_id)
            .i32(a.quote_version)
            .uuid(t.policy.policy_id)
            .i32(a.policy_version)
            .text(&a.assignee)
            .text(a.status.name())
            .i32(a.level)
            .ts(a.due)
            .opt_ts(decided_at)
            .opt_text(decided_at.map(|_| a.assignee.as_str()))
            .opt_text(note)
            .i64(a.row_version)
            .ts(a.created)
            .ts(a.updated);
    }

    #[allow(clippy::too_many_arguments)]
    fn approval_transition(
        &mut self,
        b: &mut Batch,
        tenant: usize,
        a: &OpenApproval,
        from: Option<ApprovalStatus>,
        command: &str,
        actor: &str,
        reason: Option<&str>,
        detail: &str,
        at: i64,
    ) {
        let id = self.id_at(at);
        b.tables[t::APPROVAL_TRANSITION]
            .row()
            .uuid(id)
            .uuid(a.id)
            .uuid(self.tenants[tenant].id)
            .opt_text(from.map(Named::name))
            .text(a.status.name())
            .text(command)
            .i64(a.row_version)
            .text(actor)
            .opt_text(reason)
            .jsonb(detail.as_bytes())
            .ts(at);
    }
}
