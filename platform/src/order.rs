//! Order and order-line lifecycles.
//!
//! Order: CAPTURED → ORCHESTRATING → IN_PROGRESS → PARTIALLY_FULFILLED → FULFILLED, or FAILED / CANCELLED.
//! A failed or stalled order comes back only through `RESUME_ORCHESTRATION` (lesson 8.6), never by
//! editing its status.

use crate::machine::Machine;
use crate::named_enum;

named_enum!(/// Order status, as stored in `oms.sales_order.status`.
OrderStatus {
    Captured => "CAPTURED",
    Orchestrating => "ORCHESTRATING",
    InProgress => "IN_PROGRESS",
    PartiallyFulfilled => "PARTIALLY_FULFILLED",
    Fulfilled => "FULFILLED",
    Failed => "FAILED",
    Cancelled => "CANCELLED",
});

impl OrderStatus {
    /// Non-terminal states in which an order can be stuck (lesson 8.2).
    pub const ACTIVE: [OrderStatus; 4] =
        [OrderStatus::Captured, OrderStatus::Orchestrating, OrderStatus::InProgress, OrderStatus::PartiallyFulfilled];
}

named_enum!(/// What can be asked of an order.
OrderCommand {
    StartOrchestration => "START_ORCHESTRATION",
    BeginFulfillment => "BEGIN_FULFILLMENT",
    RecordPartialFulfillment => "RECORD_PARTIAL_FULFILLMENT",
    CompleteFulfillment => "COMPLETE_FULFILLMENT",
    Fail => "FAIL",
    Cancel => "CANCEL",
    /// Repair: start or restart orchestration of a captured, stalled or failed order. An order in progress
    /// keeps its status: the transition is the evidence that its orchestration was restarted.
    ResumeOrchestration => "RESUME_ORCHESTRATION",
});

pub struct Order;

impl Machine for Order {
    const ENTITY: &'static str = "order";
    type State = OrderStatus;
    type Command = OrderCommand;
    const TABLE: &'static [(OrderStatus, OrderCommand, OrderStatus)] = {
        use OrderCommand as C;
        use OrderStatus as S;
        &[
            (S::Captured, C::StartOrchestration, S::Orchestrating),
            (S::Captured, C::Fail, S::Failed),
            (S::Captured, C::Cancel, S::Cancelled),
            (S::Captured, C::ResumeOrchestration, S::Orchestrating),
            (S::Orchestrating, C::BeginFulfillment, S::InProgress),
            (S::Orchestrating, C::Fail, S::Failed),
            (S::Orchestrating, C::Cancel, S::Cancelled),
            (S::Orchestrating, C::ResumeOrchestration, S::Orchestrating),
            (S::InProgress, C::RecordPartialFulfillment, S::PartiallyFulfilled),
            (S::InProgress, C::CompleteFulfillment, S::Fulfilled),
            (S::InProgress, C::Fail, S::Failed),
            (S::InProgress, C::Cancel, S::Cancelled),
            (S::InProgress, C::ResumeOrchestration, S::InProgress),
            (S::PartiallyFulfilled, C::RecordPartialFulfillment, S::PartiallyFulfilled),
            (S::PartiallyFulfilled, C::CompleteFulfillment, S::Fulfilled),
            (S::PartiallyFulfilled, C::Fail, S::Failed),
            (S::PartiallyFulfilled, C::ResumeOrchestration, S::PartiallyFulfilled),
            (S::Failed, C::ResumeOrchestration, S::Orchestrating),
            (S::Failed, C::Cancel, S::Cancelled),
        ]
    };
}

named_enum!(/// Order line status, as stored in `oms.sales_order_line.status`.
OrderLineStatus {
    Pending => "PENDING",
    Reserved => "RESERVED",
    FulfillmentRequested => "FULFILLMENT_REQUESTED",
    Fulfilled => "FULFILLED",
    Failed => "FAILED",
    Cancelled => "CANCELLED",
});

named_enum!(/// What can be asked of an order line.
OrderLineCommand {
    Reserve => "RESERVE",
    RequestFulfillment => "REQUEST_FULFILLMENT",
    ConfirmFulfillment => "CONFIRM_FULFILLMENT",
    Fail => "FAIL",
    Cancel => "CANCEL",
    /// Repair: a failed line goes back to be requested again (the request's idempotency key guards the vendor).
    Retry => "RETRY",
});

pub struct OrderLine;

impl Machine for OrderLine {
    const ENTITY: &'static str = "order line";
    type State = OrderLineStatus;
    type Command = OrderLineCommand;
    const TABLE: &'static [(OrderLineStatus, OrderLineCommand, OrderLineStatus)] = {
        use OrderLineCommand as C;
        use OrderLineStatus as S;
        &[
            (S::Pending, C::Reserve, S::Reserved),
            (S::Pending, C::Fail, S::Failed),
            (S::Pending, C::Cancel, S::Cancelled),
            (S::Reserved, C::RequestFulfillment, S::FulfillmentRequested),
            (S::Reserved, C::Fail, S::Failed),
            (S::Reserved, C::Cancel, S::Cancelled),
            (S::FulfillmentRequested, C::ConfirmFulfillment, S::Fulfilled),
            (S::FulfillmentRequested, C::Fail, S::Failed),
            (S::Failed, C::Retry, S::Reserved),
            (S::Failed, C::Cancel, S::Cancelled),
        ]
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::{assert_matrix, transition, Machine};

    #[test]
    fn every_order_transition_is_allowed_or_refused_as_specified() {
        use OrderCommand as C;
        use OrderStatus as S;
        assert_matrix::<Order>(&[
            (S::Captured, C::StartOrchestration, S::Orchestrating),
            (S::Captured, C::Fail, S::Failed),
            (S::Captured, C::Cancel, S::Cancelled),
            (S::Captured, C::ResumeOrchestration, S::Orchestrating),
            (S::Orchestrating, C::BeginFulfillment, S::InProgress),
            (S::Orchestrating, C::Fail, S::Failed),
            (S::Orchestrating, C::Cancel, S::Cancelled),
            (S::Orchestrating, C::ResumeOrchestration, S::Orchestrating),
            (S::InProgress, C::RecordPartialFulfillment, S::PartiallyFulfilled),
            (S::InProgress, C::CompleteFulfillment, S::Fulfilled),
            (S::InProgress, C::Fail, S::Failed),
            (S::InProgress, C::Cancel, S::Cancelled),
            (S::InProgress, C::ResumeOrchestration, S::InProgress),
            (S::PartiallyFulfilled, C::RecordPartialFulfillment, S::PartiallyFulfilled),
            (S::PartiallyFulfilled, C::CompleteFulfillment, S::Fulfilled),
            (S::PartiallyFulfilled, C::Fail, S::Failed),
            (S::PartiallyFulfilled, C::ResumeOrchestration, S::PartiallyFulfilled),
            (S::Failed, C::ResumeOrchestration, S::Orchestrating),
            (S::Failed, C::Cancel, S::Cancelled),
        ]);
    }

    #[test]
    fn every_order_line_transition_is_allowed_or_refused_as_specified() {
        use OrderLineCommand as C;
        use OrderLineStatus as S;
        assert_matrix::<OrderLine>(&[
            (S::Pending, C::Reserve, S::Reserved),
            (S::Pending, C::Fail, S::Failed),
            (S::Pending, C::Cancel, S::Cancelled),
            (S::Reserved, C::RequestFulfillment, S::FulfillmentRequested),
            (S::Reserved, C::Fail, S::Failed),
            (S::Reserved, C::Cancel, S::Cancelled),
            (S::FulfillmentRequested, C::ConfirmFulfillment, S::Fulfilled),
            (S::FulfillmentRequested, C::Fail, S::Failed),
            (S::Failed, C::Retry, S::Reserved),
            (S::Failed, C::Cancel, S::Cancelled),
        ]);
    }

    #[test]
    fn a_partially_fulfilled_order_cannot_be_cancelled_without_compensation() {
        let refusal = transition::<Order>(OrderStatus::PartiallyFulfilled, OrderCommand::Cancel).unwrap_err();
        assert_eq!(refusal.to_string(), "order in PARTIALLY_FULFILLED cannot CANCEL");
    }

    #[test]
    fn fulfilled_and_cancelled_orders_are_terminal() {
        assert!(Order::is_terminal(OrderStatus::Fulfilled));
        assert!(Order::is_terminal(OrderStatus::Cancelled));
        assert!(!Order::is_terminal(OrderStatus::Failed));
        for s in OrderStatus::ACTIVE {
            assert!(!Order::is_terminal(s));
        }
    }
}
