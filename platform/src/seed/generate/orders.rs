//! Orders: captured from an accepted quote, their story replayed through the order and line machines
//! and laid out in time, each step with its transition row and outbox event; then the order and line
//! rows, the fulfilment evidence ([`super::fulfillment`]) and the projection ([`super::projection`]).

use rand::Rng;
use uuid::Uuid;

use super::outbox::{partition_of, Fate};
use super::quotes::QuoteOut;
use super::{t, utc, Batch, Generator, DAY, HOUR, MINUTE, SECOND};
use crate::events::{Event, OrderCaptured, OrderLineStatusChanged, OrderStatusChanged};
use crate::ids::{OrderId, OrderLineId, QuoteId, TenantId};
use crate::machine::Named;
use crate::order::OrderStatus;
use crate::seed::story::{order_story, replay_order, OrderGoal, Transition};
use crate::seed::world::PRODUCTS;

pub(super) struct OrderSpec {
    pub goal: OrderGoal,
    pub captured_at: i64,
    /// The story's last transition happens no later than this.
    pub limit: i64,
    pub origin: &'static str,
    pub number: String,
    pub capture_actor: &'static str,
    /// How many versions the projection is behind (0: current).
    pub projection_lag: i64,
    /// The vendor never answered the requests (a stuck order's external boundary).
    pub vendor_silent: bool,
}

pub(super) struct OrderOut {
    pub order_id: Uuid,
    pub number: String,
    pub status: OrderStatus,
    pub version: i64,
    pub projection_version: i64,
    pub updated_at: i64,
}

impl Generator {
    fn order_gap(&mut self, line: Option<usize>, command: &str, from: &str) -> i64 {
        let r = &mut self.rng;
        match (line.is_some(), command) {
            (false, "START_ORCHESTRATION") => r.random_range(200..5 * SECOND),
            (true, "RESERVE") => r.random_range(100..3 * SECOND),
            (false, "BEGIN_FULFILLMENT") => r.random_range(500..30 * SECOND),
            (true, "REQUEST_FULFILLMENT") => r.random_range(200..10 * SECOND),
            (true, "CONFIRM_FULFILLMENT") => r.random_range(10 * MINUTE..36 * HOUR),
            (true, "FAIL") if from == "FULFILLMENT_REQUESTED" => r.random_range(5 * MINUTE..6 * HOUR),
            (false, "CANCEL") => r.random_range(MINUTE..2 * DAY),
            (true, "CANCEL") => r.random_range(50..SECOND),
            _ => r.random_range(100..2 * SECOND),
        }
    }

    /// Writes an order captured from `quote`: lines copied from the quote, the capture and every story
    /// transition with its outbox event, fulfilment requests for requested lines, and the projection.
    pub(super) fn emit_order(&mut self, b: &mut Batch, tenant: usize, quote: &QuoteOut, spec: OrderSpec) -> OrderOut {
        let n = quote.lines.len();
        let story = order_story(spec.goal, n);
        let replayed = replay_order(&story, n).expect("seed order stories are allowed by the order machines");

        // Times: gaps per step, squeezed to end by `limit`.
        let mut gaps: Vec<i64> = replayed.steps.iter().map(|s| self.order_gap(s.line(), s.command(), s.from())).collect();
        let total: i64 = gaps.iter().sum();
        let room = (spec.limit - spec.captured_at).max(gaps.len() as i64);
        if total > room {
            let f = room as f64 / total as f64;
            for g in &mut gaps {
                *g = ((*g as f64) * f).max(1.0) as i64;
            }
        }
        let mut times = Vec::with_capacity(gaps.len());
        let mut at = spec.captured_at;
        for g in &gaps {
            at += g;
            times.push(at);
        }

        let t = &self.tenants[tenant];
        let (tenant_id, currency, vendor) = (t.id, t.currency, t.vendor);
        let cancel_actor = t.reps[self.rng.random_range(0..t.reps.len())].clone();
        let order_id = self.id_at(spec.captured_at);
        let partition = partition_of(order_id);
        let line_ids: Vec<Uuid> = (0..n).map(|_| self.id_at(spec.captured_at)).collect();
        let version = 1 + replayed.steps.len() as i64;
        let updated_at = times.last().copied().unwrap_or(spec.captured_at);

        // Capture: the order is born CAPTURED in the acceptance's transaction.
        let mut versions: Vec<(Uuid, i64, OrderStatus)> = Vec::with_capacity(version as usize);
        let correlation =
            if spec.origin == "PLATFORM" { quote.accept_correlation } else { self.id_at(spec.captured_at) };
        self.order_transition(
            b,
            order_id,
            tenant_id,
            None,
            None,
            "CAPTURED",
            "CAPTURE",
            1,
            spec.capture_actor,
            None,
            correlation,
            spec.captured_at,
        );
        let captured = Event::OrderCaptured(OrderCaptured {
            order_id: OrderId::from_uuid(order_id),
            tenant_id: TenantId::from_uuid(tenant_id),
            order_number: spec.number.clone(),
            source_quote_id: QuoteId::from_uuid(quote.quote_id),
            status: OrderStatus::Captured,
            version: 1,
            total_minor: quote.total,
            currency: currency.to_owned(),
            line_count: n,
            occurred_at: utc(spec.captured_at),
        });
        let ev = self.event(b, &captured, partition, correlation, spec.captured_at, Fate::Published);
        versions.push((ev, spec.captured_at, OrderStatus::Captured));

        let mut line_updated = vec![spec.captured_at; n];
        let mut line_steps = vec![0_i64; n];
        // Per line: (first request time, requests, time of its outcome).
        let mut requests: Vec<Option<(i64, i32)>> = vec![None; n];
        let mut outcome: Vec<Option<i64>> = vec![None; n];
        let mut status_before = OrderStatus::Captured;
        for (k, step) in replayed.steps.iter().enumerate() {
            let at = times[k];
            let v = k as i64 + 2;
            let correlation = self.id_at(at);
            let actor = match (step.line(), step.command()) {
                (None, "CANCEL") => cancel_actor.as_str(),
                (None, _) => "orchestrator",
                (Some(_), "RESERVE") => "inventory-worker",
                (Some(_), "FAIL") if step.from() == "PENDING" => "inventory-worker",
                (Some(_), "CANCEL") => "orchestrator",
                (Some(_), _) => "fulfillment-worker",
            };
            let reason = match (step.line(), step.command()) {
                (None, "CANCEL") => Some("customer withdrew the order"),
                (Some(_), "FAIL") if step.from() == "PENDING" => Some("insufficient stock to reserve"),
                (Some(_), "FAIL") => Some("vendor rejected the request"),
                (None, "FAIL") => Some("a line could not be fulfilled"),
                _ => None,
            };
            let line_id = step.line().map(|l| line_ids[l]);
            self.order_transition(
                b,
                order_id,
                tenant_id,
                line_id,
                Some(step.from()),
                step.to(),
                step.command(),
                v,
                actor,
                reason,
                correlation,
                at,
            );
            let event = match step.transition {
                Transition::Order { command, from, to } => Event::OrderStatusChanged(OrderStatusChanged {
                    order_id: OrderId::from_uuid(order_id),
                    tenant_id: TenantId::from_uuid(tenant_id),
                    order_number: spec.number.clone(),
                    command,
                    from_status: from,
                    status: to,
                    version: v,
                    total_minor: quote.total,
                    currency: currency.to_owned(),
                    occurred_at: utc(at),
                }),
                Transition::Line { line, command, from, to } => Event::OrderLineStatusChanged(OrderLineStatusChanged {
                    order_id: OrderId::from_uuid(order_id),
                    order_line_id: OrderLineId::from_uuid(line_ids[line]),
                    tenant_id: TenantId::from_uuid(tenant_id),
                    command,
                    from_status: from,
                    status: to,
                    order_version: v,
                    occurred_at: utc(at),
                }),
            };
            let ev = self.event(b, &event, partition, correlation, at, Fate::Published);
            versions.push((ev, at, step.order_status));
            if let Some(l) = step.line() {
                line_updated[l] = at;
                line_steps[l] += 1;
                match step.command() {
                    "REQUEST_FULFILLMENT" => {
                        let r = requests[l].get_or_insert((at, 0));
                        r.1 += 1;
                    }
                    "CONFIRM_FULFILLMENT" => outcome[l] = Some(at),
                    "FAIL" if step.from() == "FULFILLMENT_REQUESTED" => outcome[l] = Some(at),
                    _ => {}
                }
            }
            status_before = step.order_status;
        }
        debug_assert_eq!(status_before, replayed.order_status);

        b.tables[t::ORDER]
            .row()
            .uuid(order_id)
            .uuid(tenant_id)
            .text(&spec.number)
            .uuid(quote.quote_id)
            .text(&quote.customer)
            .text(replayed.order_status.name())
            .i64(version)
            .text(currency)
            .i64(quote.total)
            .opt_text(quote.acceptance_key.as_deref())
            .text(spec.origin)
            .ts(spec.captured_at)
            .ts(updated_at);
        for (l, line) in quote.lines.iter().enumerate() {
            // The quote line's own pricing, as accept_quote copies it (ck_order_line_net_is_priced).
            let (sku, _, unit_list) = PRODUCTS[line.product];
            b.tables[t::ORDER_LINE]
                .row()
                .uuid(line_ids[l])
                .uuid(order_id)
                .uuid(tenant_id)
                .i32(l as i32 + 1)
                .text(sku)
                .i32(line.quantity)
                .i64(unit_list)
                .i32(line.discount_bp)
                .i64(line.net)
                .text(replayed.line_status[l].name())
                .i64(1 + line_steps[l])
                .ts(spec.captured_at)
                .ts(line_updated[l]);
            if let Some((requested_at, attempts)) = requests[l] {
                self.fulfillment_request(
                    b,
                    tenant_id,
                    order_id,
                    line_ids[l],
                    l,
                    sku,
                    line.quantity,
                    &spec.number,
                    vendor,
                    replayed.line_status[l],
                    requested_at,
                    attempts,
                    outcome[l],
                    spec.vendor_silent,
                );
            }
        }

        let (number, lag) = (&spec.number, spec.projection_lag);
        let shown = self.project(b, tenant_id, order_id, number, quote.total, currency, &versions, lag);

        OrderOut {
            order_id,
            number: spec.number,
            status: replayed.order_status,
            version,
            projection_version: shown,
            updated_at,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn order_transition(
        &mut self,
        b: &mut Batch,
        order_id: Uuid,
        tenant_id: Uuid,
        line_id: Option<Uuid>,
        from: Option<&str>,
        to: &str,
        command: &str,
        version: i64,
        actor: &str,
        reason: Option<&str>,
        correlation: Uuid,
        at: i64,
    ) {
        let id = self.id_at(at);
        b.tables[t::ORDER_TRANSITION]
            .row()
            .uuid(id)
            .uuid(order_id)
            .uuid(tenant_id)
            .opt_uuid(line_id)
            .opt_text(from)
            .text(to)
            .text(command)
            .i64(version)
            .text(actor)
            .opt_text(reason)
            .uuid(correlation)
            .null()
            .ts(at);
    }
}
