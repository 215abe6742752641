//! Quote lifecycle: draft → priced → (approval when policy needs it) → approved → accepted.

use crate::machine::Machine;
use crate::named_enum;

named_enum!(/// Quote status, as stored in `cpq.quote.status`.
QuoteStatus {
    Draft => "DRAFT",
    Priced => "PRICED",
    PendingApproval => "PENDING_APPROVAL",
    Approved => "APPROVED",
    Rejected => "REJECTED",
    Accepted => "ACCEPTED",
    Expired => "EXPIRED",
    Cancelled => "CANCELLED",
});

named_enum!(/// What can be asked of a quote.
QuoteCommand {
    Price => "PRICE",
    SubmitForApproval => "SUBMIT_FOR_APPROVAL",
    /// Policy does not require approval for this quote version.
    ApproveWithoutReview => "APPROVE_WITHOUT_REVIEW",
    Approve => "APPROVE",
    /// Repair: approval given outside the platform, recorded with evidence (lesson 10.4).
    ApproveManually => "APPROVE_MANUALLY",
    Reject => "REJECT",
    Revise => "REVISE",
    Accept => "ACCEPT",
    Expire => "EXPIRE",
    Cancel => "CANCEL",
});

pub struct Quote;

impl Machine for Quote {
    const ENTITY: &'static str = "quote";
    type State = QuoteStatus;
    type Command = QuoteCommand;
    const TABLE: &'static [(QuoteStatus, QuoteCommand, QuoteStatus)] = {
        use QuoteCommand as C;
        use QuoteStatus as S;
        &[
            (S::Draft, C::Price, S::Priced),
            (S::Draft, C::Cancel, S::Cancelled),
            (S::Priced, C::Price, S::Priced),
            (S::Priced, C::SubmitForApproval, S::PendingApproval),
            (S::Priced, C::ApproveWithoutReview, S::Approved),
            (S::Priced, C::Revise, S::Draft),
            (S::Priced, C::Expire, S::Expired),
            (S::Priced, C::Cancel, S::Cancelled),
            (S::PendingApproval, C::Approve, S::Approved),
            (S::PendingApproval, C::ApproveManually, S::Approved),
            (S::PendingApproval, C::Reject, S::Rejected),
            (S::PendingApproval, C::Revise, S::Draft),
            (S::PendingApproval, C::Expire, S::Expired),
            (S::PendingApproval, C::Cancel, S::Cancelled),
            (S::Approved, C::Accept, S::Accepted),
            (S::Approved, C::Revise, S::Draft),
            (S::Approved, C::Expire, S::Expired),
            (S::Approved, C::Cancel, S::Cancelled),
            (S::Rejected, C::Revise, S::Draft),
            (S::Rejected, C::Cancel, S::Cancelled),
        ]
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{assert_matrix, transition};
    use QuoteCommand as C;
    use QuoteStatus as S;

    #[test]
    fn every_quote_transition_is_allowed_or_refused_as_specified() {
        assert_matrix::<Quote>(&[
            (S::Draft, C::Price, S::Priced),
            (S::Draft, C::Cancel, S::Cancelled),
            (S::Priced, C::Price, S::Priced),
            (S::Priced, C::SubmitForApproval, S::PendingApproval),
            (S::Priced, C::ApproveWithoutReview, S::Approved),
            (S::Priced, C::Revise, S::Draft),
            (S::Priced, C::Expire, S::Expired),
            (S::Priced, C::Cancel, S::Cancelled),
            (S::PendingApproval, C::Approve, S::Approved),
            (S::PendingApproval, C::ApproveManually, S::Approved),
            (S::PendingApproval, C::Reject, S::Rejected),
            (S::PendingApproval, C::Revise, S::Draft),
            (S::PendingApproval, C::Expire, S::Expired),
            (S::PendingApproval, C::Cancel, S::Cancelled),
            (S::Approved, C::Accept, S::Accepted),
            (S::Approved, C::Revise, S::Draft),
            (S::Approved, C::Expire, S::Expired),
            (S::Approved, C::Cancel, S::Cancelled),
            (S::Rejected, C::Revise, S::Draft),
            (S::Rejected, C::Cancel, S::Cancelled),
        ]);
    }

    #[test]
    fn an_unapproved_quote_cannot_be_accepted() {
        let refusal = transition::<Quote>(S::PendingApproval, C::Accept).unwrap_err();
        assert_eq!(refusal.to_string(), "quote in PENDING_APPROVAL cannot ACCEPT");
    }

    #[test]
    fn an_accepted_quote_is_terminal() {
        let refusal = transition::<Quote>(S::Accepted, C::Revise).unwrap_err();
        assert_eq!(refusal.to_string(), "quote in ACCEPTED cannot REVISE (it is terminal)");
    }
}
