//! What a slot holds: its order (settled, stuck or in the recent tail) with the quote it was accepted
//! from, the anomalies the plan puts in it, sometimes a quote that never became an order — and, in the
//! last batch, the quotes that must be young when the run ends.

use rand::Rng;

use super::orders::OrderSpec;
use super::outbox::Fate;
use super::quotes::QuoteSpec;
use super::{rfc3339, Batch, Generator, DAY, FRESH_PENDING, HISTORY, HOUR, MINUTE, SECOND};
use crate::machine::Named;
use crate::order::OrderStatus;
use crate::seed::anomaly::AnomalyType;
use crate::seed::story::{OrderGoal, QuoteRoute};

impl Generator {
    /// Writes slot `slot`: its quote and order, and whatever the plan or chance adds to it.
    pub(super) fn slot(&mut self, b: &mut Batch, slot: u64) {
        let now = self.cfg.now_ms;
        let tenant = self.pick_tenant();
        let stuck = self.plan.has(slot, AnomalyType::StuckOrder);
        let (goal, captured_at, limit) = if stuck {
            let status = OrderStatus::ACTIVE[(self.stuck_seen % 4) as usize];
            self.stuck_seen += 1;
            let pick = self.rng.random_range(0..8);
            (OrderGoal::Active { status, pick }, now - self.rng.random_range(2 * HOUR..72 * HOUR), now - 65 * MINUTE)
        } else if slot >= self.old {
            let j = slot - self.old;
            let tail = self.cfg.orders - self.old;
            let width = 14 * MINUTE;
            let at = now - 15 * MINUTE + ((j as f64 + self.rng.random::<f64>()) * width as f64 / tail as f64) as i64;
            (self.recent_goal(), at, now - 30 * SECOND)
        } else {
            let span = HISTORY - HOUR;
            let at = now - HISTORY + ((slot as f64 + self.rng.random::<f64>()) * span as f64 / self.old as f64) as i64;
            (self.settled_goal(), at, now - MINUTE)
        };

        let lines = self.line_count().max(goal.min_lines());
        let needs = self.rng.random_bool(0.35);
        let route = if !needs {
            QuoteRoute::AcceptedByPolicy
        } else if self.rng.random_bool(0.05) {
            QuoteRoute::AcceptedAfterRevision
        } else {
            QuoteRoute::AcceptedByApprover
        };
        let drafted = self.draft_lines(tenant, lines, Some(needs));
        let quote = self.emit_quote(
            b,
            QuoteSpec::new(tenant, route, drafted, captured_at),
        );

        let lag = if self.plan.has(slot, AnomalyType::StaleProjection) { 1 + self.rng.random_range(0..3) } else { 0 };
        let order = self.emit_order(
            b,
            tenant,
            &quote,
            OrderSpec {
                goal,
                captured_at,
                limit,
                origin: "PLATFORM",
                number: format!("SO-{}", quote.number),
                capture_actor: "customer-portal",
                projection_lag: lag,
                vendor_silent: stuck,
            },
        );
        if stuck {
            let boundary = match order.status {
                OrderStatus::Captured => "orchestration start given up (engine unreachable)",
                OrderStatus::Orchestrating => "orchestration stalled before fulfilment began",
                OrderStatus::InProgress => "fulfilment requests sent, vendor has not answered",
                _ => "remaining lines never confirmed by the vendor",
            };
            let detail = format!(
                r#"{{"order_number":"{}","status":"{}","version":{},"stuck_since":"{}","boundary":"{boundary}"}}"#,
                order.number,
                order.status.name(),
                order.version,
                rfc3339(order.updated_at)
            );
            self.anomaly(b, AnomalyType::StuckOrder, tenant, order.order_id, &detail);
        }
        if order.projection_version < order.version {
            let detail =
                format!(r#"{{"order_version":{},"projection_version":{}}}"#, order.version, order.projection_version);
            self.anomaly(b, AnomalyType::StaleProjection, tenant, order.order_id, &detail);
        }
        if self.plan.has(slot, AnomalyType::DuplicateOrder) {
            self.duplicate_order(b, tenant, &quote, &order, captured_at);
        }

        if self.plan.has(slot, AnomalyType::AcceptedQuoteWithoutOrder) {
            self.accepted_quote_without_order(b);
        }
        if self.plan.has(slot, AnomalyType::OverdueApproval) {
            self.overdue_approval(b);
        }
        if self.plan.has(slot, AnomalyType::StaleOutboxClaim) {
            self.stale_outbox_claim(b);
        }
        if self.plan.has(slot, AnomalyType::PriceSnapshotMismatch) {
            self.price_snapshot_mismatch(b);
        }
        if self.rng.random_bool(0.3) {
            match self.other_route() {
                // An open approval must not be due when the run ends: it is written in the last batch.
                QuoteRoute::PendingApproval if !self.fresh => self.deferred_pending += 1,
                route => self.other_quote(b, route),
            }
        }
    }

    /// The last batch guarantees a quote in every status and leaves the newest few quote events for the
    /// relay.
    pub(super) fn finale(&mut self, b: &mut Batch) {
        for _ in 0..std::mem::take(&mut self.deferred_pending) {
            self.other_quote(b, QuoteRoute::PendingApproval);
        }
        for route in [
            QuoteRoute::Draft,
            QuoteRoute::Priced,
            QuoteRoute::PendingApproval,
            QuoteRoute::ApprovedByPolicy,
            QuoteRoute::Rejected,
            QuoteRoute::ExpiredPriced,
            QuoteRoute::CancelledPriced,
        ] {
            self.other_quote(b, route);
        }
        let now = self.cfg.now_ms;
        for i in 0..FRESH_PENDING as i64 {
            let tenant = self.pick_tenant();
            let lines = self.line_count();
            let lines = self.draft_lines(tenant, lines, None);
            let end = now - 25 * SECOND + i * 4 * SECOND;
            self.emit_quote(
                b,
                QuoteSpec { last_fate: Fate::Pending, ..QuoteSpec::new(tenant, QuoteRoute::Priced, lines, end) },
            );
        }
    }

    fn recent_goal(&mut self) -> OrderGoal {
        let seen = self.recent_seen;
        self.recent_seen += 1;
        let pick = self.rng.random_range(0..8);
        if seen < 4 {
            return OrderGoal::Active { status: OrderStatus::ACTIVE[seen as usize], pick };
        }
        match self.rng.random_range(0..100) {
            0..15 => OrderGoal::Active { status: OrderStatus::Captured, pick },
            15..35 => OrderGoal::Active { status: OrderStatus::Orchestrating, pick },
            35..60 => OrderGoal::Active { status: OrderStatus::InProgress, pick },
            60..75 => OrderGoal::Active { status: OrderStatus::PartiallyFulfilled, pick },
            75..95 => OrderGoal::Fulfilled,
            95..98 => OrderGoal::CancelledBeforeOrchestration,
            _ => OrderGoal::FailedReservation,
        }
    }

    fn settled_goal(&mut self) -> OrderGoal {
        match self.rng.random_range(0..100) {
            0..85 => OrderGoal::Fulfilled,
            85..88 => OrderGoal::CancelledBeforeOrchestration,
            88..91 => OrderGoal::CancelledAfterReservation,
            91..92 => OrderGoal::CancelledAfterFailure,
            92..95 => OrderGoal::FailedReservation,
            _ => OrderGoal::FailedFulfillment,
        }
    }

    fn other_route(&mut self) -> QuoteRoute {
        use QuoteRoute as R;
        const WEIGHTED: [(QuoteRoute, u32); 12] = [
            (R::Priced, 12),
            (R::Draft, 8),
            (R::PendingApproval, 5),
            (R::ApprovedByPolicy, 8),
            (R::ApprovedByApprover, 6),
            (R::Rejected, 10),
            (R::ExpiredPriced, 12),
            (R::ExpiredApproved, 6),
            (R::ExpiredPendingApproval, 5),
            (R::CancelledDraft, 4),
            (R::CancelledPriced, 12),
            (R::CancelledPendingApproval, 5),
        ];
        let total: u32 = WEIGHTED.iter().map(|w| w.1).sum();
        let mut x = self.rng.random_range(0..total);
        for (route, w) in WEIGHTED {
            if x < w {
                return route;
            }
            x -= w;
        }
        unreachable!()
    }

    /// A quote that never became an order, settled the way the detectors expect: open quotes are within
    /// their validity, an open approval is not yet due.
    fn other_quote(&mut self, b: &mut Batch, route: QuoteRoute) {
        use QuoteRoute as R;
        let now = self.cfg.now_ms;
        let tenant = self.pick_tenant();
        let sla = self.tenants[tenant].policy.sla_ms;
        let mut open_escalations = 0;
        let end = match route {
            // Due an hour from now at the earliest.
            R::PendingApproval => {
                if self.rng.random_bool(0.3) {
                    // Escalated once at its first due time; the new due time is ahead.
                    open_escalations = 1;
                    self.rng.random_range(now - 2 * sla + HOUR..now - sla - 2 * MINUTE)
                } else {
                    self.rng.random_range(now - sla + HOUR..now - 2 * MINUTE)
                }
            }
            R::Priced | R::ApprovedByPolicy | R::ApprovedByApprover => {
                self.rng.random_range(now - 25 * DAY..now - MINUTE)
            }
            R::Draft => self.rng.random_range(now - 25 * DAY..now - MINUTE),
            _ => self.rng.random_range(now - HISTORY..now - MINUTE),
        };
        let lines = self.line_count();
        let lines = self.draft_lines(tenant, lines, route.needs_approval());
        self.emit_quote(
            b,
            QuoteSpec { open_escalations, ..QuoteSpec::new(tenant, route, lines, end) },
        );
    }
}
