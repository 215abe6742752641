//! Approval request lifecycle: pending → (escalated) → approved / rejected / cancelled.

use crate::machine::Machine;
use crate::named_enum;

named_enum!(/// Approval request status, as stored in `cpq.approval_request.status`.
ApprovalStatus {
    Pending => "PENDING",
    Escalated => "ESCALATED",
    Approved => "APPROVED",
    Rejected => "REJECTED",
    Cancelled => "CANCELLED",
});

named_enum!(/// What can be asked of an approval request.
ApprovalCommand {
    /// Past `due_at`: escalate to the next level (a job or a repair does this).
    Escalate => "ESCALATE",
    Reassign => "REASSIGN",
    Approve => "APPROVE",
    Reject => "REJECT",
    /// The quote changed after approval was requested, or was withdrawn.
    Cancel => "CANCEL",
});

pub struct Approval;

impl Machine for Approval {
    const ENTITY: &'static str = "approval request";
    type State = ApprovalStatus;
    type Command = ApprovalCommand;
    const TABLE: &'static [(ApprovalStatus, ApprovalCommand, ApprovalStatus)] = {
        use ApprovalCommand as C;
        use ApprovalStatus as S;
        &[
            (S::Pending, C::Escalate, S::Escalated),
            (S::Pending, C::Reassign, S::Pending),
            (S::Pending, C::Approve, S::Approved),
            (S::Pending, C::Reject, S::Rejected),
            (S::Pending, C::Cancel, S::Cancelled),
            (S::Escalated, C::Escalate, S::Escalated),
            (S::Escalated, C::Reassign, S::Escalated),
            (S::Escalated, C::Approve, S::Approved),
            (S::Escalated, C::Reject, S::Rejected),
            (S::Escalated, C::Cancel, S::Cancelled),
        ]
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::assert_matrix;
    use ApprovalCommand as C;
    use ApprovalStatus as S;

    #[test]
    fn every_approval_transition_is_allowed_or_refused_as_specified() {
        assert_matrix::<Approval>(&[
            (S::Pending, C::Escalate, S::Escalated),
            (S::Pending, C::Reassign, S::Pending),
            (S::Pending, C::Approve, S::Approved),
            (S::Pending, C::Reject, S::Rejected),
            (S::Pending, C::Cancel, S::Cancelled),
            (S::Escalated, C::Escalate, S::Escalated),
            (S::Escalated, C::Reassign, S::Escalated),
            (S::Escalated, C::Approve, S::Approved),
            (S::Escalated, C::Reject, S::Rejected),
            (S::Escalated, C::Cancel, S::Cancelled),
        ]);
    }
}
