//! The paths seeded entities take through their state machines.
//!
//! A route or story here is only a list of commands; [`replay_quote`] and [`replay_order`] walk it through
//! [`crate::machine::transition`], so a seeded history can only contain transitions the machine tables
//! allow. A command the table refuses is a bug in this file, caught by the tests below.

use crate::machine::{transition, Named, Refusal};
use crate::order::{Order, OrderCommand, OrderLine, OrderLineCommand, OrderLineStatus, OrderStatus};
use crate::quote::{Quote, QuoteCommand, QuoteStatus};

/// How a seeded quote got to its status. Every quote starts with `PRICE` (the platform's
/// `create_quote` creates and prices in one step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum QuoteRoute {
    Priced,
    Draft,
    PendingApproval,
    ApprovedByPolicy,
    ApprovedByApprover,
    Rejected,
    AcceptedByPolicy,
    AcceptedByApprover,
    /// Rejected once, revised, re-priced, approved and accepted: two approval requests.
    AcceptedAfterRevision,
    ExpiredPriced,
    ExpiredApproved,
    ExpiredPendingApproval,
    CancelledDraft,
    CancelledPriced,
    CancelledPendingApproval,
}

impl QuoteRoute {
    #[cfg(test)]
    pub const ALL: [QuoteRoute; 15] = [
        QuoteRoute::Priced,
        QuoteRoute::Draft,
        QuoteRoute::PendingApproval,
        QuoteRoute::ApprovedByPolicy,
        QuoteRoute::ApprovedByApprover,
        QuoteRoute::Rejected,
        QuoteRoute::AcceptedByPolicy,
        QuoteRoute::AcceptedByApprover,
        QuoteRoute::AcceptedAfterRevision,
        QuoteRoute::ExpiredPriced,
        QuoteRoute::ExpiredApproved,
        QuoteRoute::ExpiredPendingApproval,
        QuoteRoute::CancelledDraft,
        QuoteRoute::CancelledPriced,
        QuoteRoute::CancelledPendingApproval,
    ];

    pub fn commands(self) -> &'static [QuoteCommand] {
        use QuoteCommand as C;
        match self {
            QuoteRoute::Priced => &[C::Price],
            QuoteRoute::Draft => &[C::Price, C::Revise],
            QuoteRoute::PendingApproval => &[C::Price, C::SubmitForApproval],
            QuoteRoute::ApprovedByPolicy => &[C::Price, C::ApproveWithoutReview],
            QuoteRoute::ApprovedByApprover => &[C::Price, C::SubmitForApproval, C::Approve],
            QuoteRoute::Rejected => &[C::Price, C::SubmitForApproval, C::Reject],
            QuoteRoute::AcceptedByPolicy => &[C::Price, C::ApproveWithoutReview, C::Accept],
            QuoteRoute::AcceptedByApprover => &[C::Price, C::SubmitForApproval, C::Approve, C::Accept],
            QuoteRoute::AcceptedAfterRevision => &[
                C::Price,
                C::SubmitForApproval,
                C::Reject,
                C::Revise,
                C::Price,
                C::SubmitForApproval,
                C::Approve,
                C::Accept,
            ],
            QuoteRoute::ExpiredPriced => &[C::Price, C::Expire],
            QuoteRoute::ExpiredApproved => &[C::Price, C::ApproveWithoutReview, C::Expire],
            QuoteRoute::ExpiredPendingApproval => &[C::Price, C::SubmitForApproval, C::Expire],
            QuoteRoute::CancelledDraft => &[C::Price, C::Revise, C::Cancel],
            QuoteRoute::CancelledPriced => &[C::Price, C::Cancel],
            QuoteRoute::CancelledPendingApproval => &[C::Price, C::SubmitForApproval, C::Cancel],
        }
    }

    /// `Some(true)` when the route goes through an approval request, `Some(false)` when the policy
    /// approved it without review, `None` when no approval decision was taken.
    pub fn needs_approval(self) -> Option<bool> {
        let cmds = self.commands();
        if cmds.contains(&QuoteCommand::SubmitForApproval) {
            Some(true)
        } else if cmds.contains(&QuoteCommand::ApproveWithoutReview) {
            Some(false)
        } else {
            None
        }
    }
}

/// One applied quote transition. `from` is `None` for the first (creating) `PRICE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct QuoteStep {
    pub command: QuoteCommand,
    pub from: Option<QuoteStatus>,
    pub to: QuoteStatus,
}

/// Walks a route through the quote machine. The creating `PRICE` is checked as DRAFT → PRICED and
/// recorded with no `from`, as `create_quote` records it.
pub(super) fn replay_quote(commands: &[QuoteCommand]) -> Result<Vec<QuoteStep>, Refusal> {
    let mut state = QuoteStatus::Draft;
    let mut steps = Vec::with_capacity(commands.len());
    for (i, &command) in commands.iter().enumerate() {
        let to = transition::<Quote>(state, command)?;
        steps.push(QuoteStep { command, from: (i > 0).then_some(state), to });
        state = to;
    }
    Ok(steps)
}

/// A command of an order story: to the order, or to one of its lines (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    Order(OrderCommand),
    Line(usize, OrderLineCommand),
}

/// Where a seeded order's story ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OrderGoal {
    Fulfilled,
    CancelledBeforeOrchestration,
    CancelledAfterReservation,
    /// A line could not be reserved: the order fails while orchestrating.
    FailedReservation,
    /// The vendor refused a line: the order fails while in progress.
    FailedFulfillment,
    /// Failed at reservation, then cancelled by the customer.
    CancelledAfterFailure,
    /// Stopped in an active status; `pick` chooses among the points of the fulfilled story that are in
    /// that status (e.g. ORCHESTRATING after 0, 1 or all reservations).
    Active {
        status: OrderStatus,
        pick: usize,
    },
}

impl OrderGoal {
    /// The fewest lines the goal needs (a partial fulfilment needs a second line).
    pub fn min_lines(self) -> usize {
        match self {
            OrderGoal::Active { status: OrderStatus::PartiallyFulfilled, .. } => 2,
            _ => 1,
        }
    }
}

/// The commands of a story for an order with `lines` lines (after its capture, which is not a machine
/// transition: the order is born CAPTURED).
pub(super) fn order_story(goal: OrderGoal, lines: usize) -> Vec<Step> {
    use OrderCommand as O;
    use OrderLineCommand as L;
    assert!(lines >= goal.min_lines(), "{goal:?} needs at least {} lines", goal.min_lines());
    let all = 0..lines;
    let mut s = Vec::with_capacity(4 + 3 * lines);
    match goal {
        OrderGoal::Fulfilled => return fulfilled(lines),
        OrderGoal::CancelledBeforeOrchestration => {
            s.push(Step::Order(O::Cancel));
            s.extend(all.map(|l| Step::Line(l, L::Cancel)));
        }
        OrderGoal::CancelledAfterReservation => {
            s.push(Step::Order(O::StartOrchestration));
            s.extend(all.clone().map(|l| Step::Line(l, L::Reserve)));
            s.push(Step::Order(O::Cancel));
            s.extend(all.map(|l| Step::Line(l, L::Cancel)));
        }
        OrderGoal::FailedReservation | OrderGoal::CancelledAfterFailure => {
            // The last line is the one that cannot be reserved.
            s.push(Step::Order(O::StartOrchestration));
            s.extend((0..lines - 1).map(|l| Step::Line(l, L::Reserve)));
            s.push(Step::Line(lines - 1, L::Fail));
            s.push(Step::Order(O::Fail));
            if goal == OrderGoal::CancelledAfterFailure {
                s.push(Step::Order(O::Cancel));
                s.extend(all.map(|l| Step::Line(l, L::Cancel)));
            }
        }
        OrderGoal::FailedFulfillment => {
            s.push(Step::Order(O::StartOrchestration));
            s.extend(all.clone().map(|l| Step::Line(l, L::Reserve)));
            s.push(Step::Order(O::BeginFulfillment));
            s.extend(all.map(|l| Step::Line(l, L::RequestFulfillment)));
            s.push(Step::Line(0, L::Fail));
            s.push(Step::Order(O::Fail));
        }
        OrderGoal::Active { status, pick } => {
            let full = fulfilled(lines);
            let statuses = order_statuses(&full, lines);
            // Index i of `statuses` is the status after the first i commands (0: just captured).
            let ends: Vec<usize> = (0..statuses.len()).filter(|&i| statuses[i] == status).collect();
            assert!(!ends.is_empty(), "no point of the fulfilled story is {status:?}");
            let end = ends[pick % ends.len()];
            return full[..end].to_vec();
        }
    }
    s
}

/// Reserve every line, begin fulfilment, request every line, confirm them one by one (recording the
/// partial fulfilment after the first when more remain), complete.
fn fulfilled(lines: usize) -> Vec<Step> {
    use OrderCommand as O;
    use OrderLineCommand as L;
    let mut s = Vec::with_capacity(4 + 3 * lines);
    s.push(Step::Order(O::StartOrchestration));
    s.extend((0..lines).map(|l| Step::Line(l, L::Reserve)));
    s.push(Step::Order(O::BeginFulfillment));
    s.extend((0..lines).map(|l| Step::Line(l, L::RequestFulfillment)));
    for l in 0..lines {
        s.push(Step::Line(l, L::ConfirmFulfillment));
        if l == 0 && lines > 1 {
            s.push(Step::Order(O::RecordPartialFulfillment));
        }
    }
    s.push(Step::Order(O::CompleteFulfillment));
    s
}

fn order_statuses(steps: &[Step], lines: usize) -> Vec<OrderStatus> {
    let replayed = replay_order(steps, lines).expect("the fulfilled story is allowed by the machines");
    std::iter::once(OrderStatus::Captured).chain(replayed.steps.iter().map(|a| a.order_status)).collect()
}

/// One applied order or line transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AppliedStep {
    pub transition: Transition,
    /// The order's status after this step.
    pub order_status: OrderStatus,
}

/// What a step changed: the order, or one of its lines (by index).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transition {
    Order { command: OrderCommand, from: OrderStatus, to: OrderStatus },
    Line { line: usize, command: OrderLineCommand, from: OrderLineStatus, to: OrderLineStatus },
}

/// The names as transition rows store them.
impl AppliedStep {
    pub fn line(&self) -> Option<usize> {
        match self.transition {
            Transition::Order { .. } => None,
            Transition::Line { line, .. } => Some(line),
        }
    }
    pub fn command(&self) -> &'static str {
        match self.transition {
            Transition::Order { command, .. } => command.name(),
            Transition::Line { command, .. } => command.name(),
        }
    }
    pub fn from(&self) -> &'static str {
        match self.transition {
            Transition::Order { from, .. } => from.name(),
            Transition::Line { from, .. } => from.name(),
        }
    }
    pub fn to(&self) -> &'static str {
        match self.transition {
            Transition::Order { to, .. } => to.name(),
            Transition::Line { to, .. } => to.name(),
        }
    }
}

#[derive(Debug, Clone)]
pub(super) struct Replayed {
    pub steps: Vec<AppliedStep>,
    pub order_status: OrderStatus,
    pub line_status: Vec<OrderLineStatus>,
}

/// Walks a story through the order and order-line machines, from a captured order with pending lines.
pub(super) fn replay_order(steps: &[Step], lines: usize) -> Result<Replayed, Refusal> {
    let mut order = OrderStatus::Captured;
    let mut line_status = vec![OrderLineStatus::Pending; lines];
    let mut applied = Vec::with_capacity(steps.len());
    for &step in steps {
        match step {
            Step::Order(command) => {
                let to = transition::<Order>(order, command)?;
                applied.push(AppliedStep { transition: Transition::Order { command, from: order, to }, order_status: to });
                order = to;
            }
            Step::Line(l, command) => {
                let from = line_status[l];
                let to = transition::<OrderLine>(from, command)?;
                applied.push(AppliedStep {
                    transition: Transition::Line { line: l, command, from, to },
                    order_status: order,
                });
                line_status[l] = to;
            }
        }
    }
    Ok(Replayed { steps: applied, order_status: order, line_status })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_quote_route_is_allowed_by_the_quote_machine() {
        for route in QuoteRoute::ALL {
            let steps = replay_quote(route.commands()).unwrap_or_else(|r| panic!("{route:?}: {r}"));
            assert_eq!(steps[0].from, None);
            assert_eq!(steps[0].to, QuoteStatus::Priced);
        }
    }

    #[test]
    fn quote_routes_reach_every_quote_status() {
        for &status in QuoteStatus::ALL {
            assert!(
                QuoteRoute::ALL.iter().any(|r| replay_quote(r.commands()).unwrap().last().unwrap().to == status),
                "no route ends in {status:?}"
            );
        }
    }

    #[test]
    fn a_route_needs_approval_exactly_when_it_is_submitted() {
        assert_eq!(QuoteRoute::Rejected.needs_approval(), Some(true));
        assert_eq!(QuoteRoute::AcceptedByPolicy.needs_approval(), Some(false));
        assert_eq!(QuoteRoute::Priced.needs_approval(), None);
    }

    fn goals() -> Vec<OrderGoal> {
        let mut goals = vec![
            OrderGoal::Fulfilled,
            OrderGoal::CancelledBeforeOrchestration,
            OrderGoal::CancelledAfterReservation,
            OrderGoal::FailedReservation,
            OrderGoal::FailedFulfillment,
            OrderGoal::CancelledAfterFailure,
        ];
        for status in OrderStatus::ACTIVE {
            for pick in 0..8 {
                goals.push(OrderGoal::Active { status, pick });
            }
        }
        goals
    }

    #[test]
    fn every_order_story_is_allowed_by_the_order_and_line_machines_and_ends_where_it_should() {
        for goal in goals() {
            for lines in goal.min_lines()..=5 {
                let story = order_story(goal, lines);
                let r = replay_order(&story, lines).unwrap_or_else(|e| panic!("{goal:?} with {lines} lines: {e}"));
                let want = match goal {
                    OrderGoal::Fulfilled => OrderStatus::Fulfilled,
                    OrderGoal::CancelledBeforeOrchestration
                    | OrderGoal::CancelledAfterReservation
                    | OrderGoal::CancelledAfterFailure => OrderStatus::Cancelled,
                    OrderGoal::FailedReservation | OrderGoal::FailedFulfillment => OrderStatus::Failed,
                    OrderGoal::Active { status, .. } => status,
                };
                assert_eq!(r.order_status, want, "{goal:?} with {lines} lines");
            }
        }
    }

    #[test]
    fn a_fulfilled_order_has_every_line_fulfilled() {
        let r = replay_order(&order_story(OrderGoal::Fulfilled, 3), 3).unwrap();
        assert!(r.line_status.iter().all(|s| *s == OrderLineStatus::Fulfilled));
        // capture is not in the story: start, 3 reserve, begin, 3 request, 3 confirm, partial, complete
        assert_eq!(r.steps.len(), 13);
    }

    #[test]
    fn a_cancelled_order_has_every_line_cancelled() {
        for goal in [
            OrderGoal::CancelledBeforeOrchestration,
            OrderGoal::CancelledAfterReservation,
            OrderGoal::CancelledAfterFailure,
        ] {
            let r = replay_order(&order_story(goal, 2), 2).unwrap();
            assert!(r.line_status.iter().all(|s| *s == OrderLineStatus::Cancelled), "{goal:?}");
        }
    }

    #[test]
    fn a_captured_order_has_an_empty_story() {
        assert!(order_story(OrderGoal::Active { status: OrderStatus::Captured, pick: 5 }, 2).is_empty());
    }
}
