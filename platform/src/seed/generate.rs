//! The generator: turns the slots of a run into rows, a batch of orders at a time. It never touches the
//! database; [`super::load`] copies what it produces.
//!
//! A slot is one order with the quote it was accepted from, plus whatever else the slot carries: an
//! "other" quote (one that never became an order) about every third slot, the extra entities of the
//! quote/approval/outbox anomalies planned for it, and the last slot brings the newest few quotes.
//!
//! Time: `now` is taken when the run starts, and again for the last batch (see [`Generator::next_batch`]).
//! Orders are spread over [`HISTORY`] ending an hour ago, except the last few (the "recent tail"),
//! captured in the last 15 minutes: those are the only normal orders that may still be active.
//! Everything else that is normal is settled the way the runbooks' detectors expect (see the module docs
//! of [`super`]).

use std::io::Write as _;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use super::anomaly::{AnomalyType, Plan};
use super::rows::{kafka_partition, push_rfc3339, push_uuid, TableBuf};
use super::story::{order_story, replay_order, replay_quote, OrderGoal, QuoteRoute, QuoteStep};
use super::world::{customer_name, Tenant, CUSTOMERS, PRODUCTS};
use crate::approval::{Approval, ApprovalCommand, ApprovalStatus};
use crate::command::QuoteLineInput;
use crate::machine::{transition, Named};
use crate::order::{OrderLineStatus, OrderStatus};
use crate::quote::QuoteCommand;
#[cfg(test)]
use crate::quote::QuoteStatus;

pub(super) const SECOND: i64 = 1_000;
pub(super) const MINUTE: i64 = 60 * SECOND;
pub(super) const HOUR: i64 = 60 * MINUTE;
pub(super) const DAY: i64 = 24 * HOUR;
/// How far back the seeded business goes.
pub(super) const HISTORY: i64 = 120 * DAY;
/// Quotes are valid for 30 days (as `create_quote` sets `valid_until`).
const VALIDITY: i64 = 30 * DAY;
/// Kafka partitions per topic (the local broker's `num.partitions`).
const PARTITIONS: u32 = 3;
/// How many of the newest quote events are left PENDING for the relay.
pub const FRESH_PENDING: usize = 5;
/// An approval is escalated at most this many levels.
const MAX_ESCALATION: i32 = 2;

/// The tables of a batch, in foreign-key order (the order they are copied in).
pub(super) mod t {
    pub const QUOTE: usize = 0;
    pub const QUOTE_LINE: usize = 1;
    pub const QUOTE_TRANSITION: usize = 2;
    pub const APPROVAL_REQUEST: usize = 3;
    pub const APPROVAL_TRANSITION: usize = 4;
    pub const ORDER: usize = 5;
    pub const ORDER_LINE: usize = 6;
    pub const ORDER_TRANSITION: usize = 7;
    pub const FULFILLMENT: usize = 8;
    pub const PROJECTION: usize = 9;
    pub const OUTBOX: usize = 10;
    pub const ANOMALY: usize = 11;
}

pub(super) const TABLES: [(&str, &str); 12] = [
    (
        "cpq.quote",
        "quote_id, tenant_id, quote_number, customer_name, status, current_version, version, currency, total_minor, \
         discount_pct, valid_until, accepted_at, acceptance_ref, created_by, created_at, updated_at",
    ),
    (
        "cpq.quote_line",
        "quote_line_id, quote_id, tenant_id, line_no, product_sku, description, quantity, unit_list_minor, discount_pct, \
         net_minor, price_snapshot, priced_at",
    ),
    (
        "cpq.quote_transition",
        "transition_id, quote_id, tenant_id, from_status, to_status, command, quote_version, row_version, actor, reason, \
         correlation_id, occurred_at",
    ),
    (
        "cpq.approval_request",
        "approval_request_id, tenant_id, quote_id, quote_version, policy_id, policy_version, assignee, status, \
         escalation_level, due_at, decided_at, decided_by, decision_note, version, created_at, updated_at",
    ),
    (
        "cpq.approval_transition",
        "transition_id, approval_request_id, tenant_id, from_status, to_status, command, row_version, actor, reason, \
         detail, occurred_at",
    ),
    (
        "oms.sales_order",
        "order_id, tenant_id, order_number, source_quote_id, customer_name, status, version, currency, total_minor, \
         acceptance_key, origin, created_at, updated_at",
    ),
    (
        "oms.sales_order_line",
        "order_line_id, order_id, tenant_id, line_no, product_sku, quantity, unit_price_minor, net_minor, status, version, \
         created_at, updated_at",
    ),
    (
        "oms.order_transition",
        "transition_id, order_id, tenant_id, order_line_id, from_status, to_status, command, order_version, actor, reason, \
         correlation_id, repair_id, occurred_at",
    ),
    (
        "oms.fulfillment_request",
        "fulfillment_request_id, tenant_id, order_id, order_line_id, idempotency_key, vendor, status, request_payload, \
         response_code, response_body, attempts, created_at, sent_at, completed_at, updated_at",
    ),
    (
        "oms.order_projection",
        "order_id, tenant_id, order_number, status, aggregate_version, total_minor, currency, last_event_id, \
         source_updated_at, projected_at",
    ),
    (
        "messaging.outbox_event",
        "outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload, headers, status, \
         attempts, last_error, next_attempt_at, claimed_by, claimed_at, created_at, published_at, kafka_topic, \
         kafka_partition, kafka_offset",
    ),
    ("platform.seed_anomaly", "seed_run_id, anomaly_type, tenant_id, entity_type, entity_id, detail"),
];

/// The rows of one batch, per table, and the anomalies it injected.
pub(super) struct Batch {
    pub tables: Vec<TableBuf>,
    pub anomalies: [u64; 7],
}

impl Batch {
    fn new(capacity: &[usize]) -> Self {
        let tables = TABLES
            .iter()
            .zip(capacity)
            .map(|(&(table, columns), &cap)| {
                let mut t = TableBuf::new(table, columns);
                t.buf.reserve(cap);
                t
            })
            .collect();
        Batch { tables, anomalies: [0; 7] }
    }
}

/// What a run is asked to generate.
pub(super) struct Config {
    pub orders: u64,
    pub anomaly_rate: f64,
    pub rng_seed: u64,
    pub run_no: u32,
    pub seed_run_id: Uuid,
    pub now_ms: i64,
    pub batch_orders: u64,
    /// Next Kafka offset per topic (quote, order) and partition.
    pub kafka_next: [[i64; PARTITIONS as usize]; 2],
}

/// A relay instance that claimed events and died; the loader records its last heartbeat.
pub(super) struct CrashedRelay {
    pub instance_id: String,
    pub first_claim_ms: i64,
    pub last_claim_ms: i64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Topic {
    Quote = 0,
    Order = 1,
}

impl Topic {
    fn aggregate_type(self) -> &'static str {
        match self {
            Topic::Quote => crate::outbox::aggregate::QUOTE,
            Topic::Order => crate::outbox::aggregate::ORDER,
        }
    }
    fn topic(self) -> &'static str {
        match self {
            Topic::Quote => "opsdeck.quote",
            Topic::Order => "opsdeck.order",
        }
    }
}

/// What happened to an outbox event.
#[derive(Clone, Copy)]
enum Fate {
    Published,
    /// Not yet picked up by the relay.
    Pending,
    /// Claimed by a relay instance (index into the crashed relays) that died at `at`.
    Claimed {
        relay: usize,
        at: i64,
    },
}

#[derive(Clone)]
struct LineDraft {
    product: usize,
    quantity: i32,
    discount_bp: i32,
    net: i64,
}

struct QuoteSpec {
    tenant: usize,
    route: QuoteRoute,
    lines: Vec<LineDraft>,
    /// Time of the route's last transition.
    end: i64,
    /// Escalations of an approval still open at the end (their due times must have passed).
    open_escalations: i32,
    last_fate: Fate,
    total_override: Option<i64>,
}

struct QuoteOut {
    quote_id: Uuid,
    number: String,
    customer: String,
    lines: Vec<LineDraft>,
    total: i64,
    accepted_at: Option<i64>,
    acceptance_key: Option<String>,
    /// The correlation of the acceptance: the captured order's first transition shares it.
    accept_correlation: Uuid,
    open_approval: Option<(Uuid, ApprovalStatus, i64, i32)>,
    last_event: Uuid,
}

struct OpenApproval {
    id: Uuid,
    quote_id: Uuid,
    quote_version: i32,
    policy_version: i32,
    status: ApprovalStatus,
    level: i32,
    assignee: String,
    due: i64,
    row_version: i64,
    created: i64,
    updated: i64,
}

struct OrderSpec {
    goal: OrderGoal,
    captured_at: i64,
    /// The story's last transition happens no later than this.
    limit: i64,
    origin: &'static str,
    number: String,
    capture_actor: &'static str,
    /// How many versions the projection is behind (0: current).
    projection_lag: i64,
    /// The vendor never answered the requests (a stuck order's external boundary).
    vendor_silent: bool,
}

struct OrderOut {
    order_id: Uuid,
    number: String,
    status: OrderStatus,
    version: i64,
    projection_version: i64,
    updated_at: i64,
}

pub(super) struct Generator {
    cfg: Config,
    rng: StdRng,
    /// Ids come from their own stream, mixed with the run number, so a second run with the same rng seed
    /// produces the same business under new ids.
    ids: StdRng,
    tenants: Vec<Tenant>,
    tenant_cum: Vec<u32>,
    plan: Plan,
    old: u64,
    next_slot: u64,
    quote_seq: u64,
    stuck_seen: u64,
    claims_seen: u64,
    recent_seen: u64,
    relays: Vec<CrashedRelay>,
    /// Quotes pending approval drawn before the last batch, written in it.
    deferred_pending: u64,
    /// Generating the last batch (timed against a fresh clock).
    fresh: bool,
    capacity: Vec<usize>,
    json: Vec<u8>,
    done: bool,
}

impl Generator {
    pub fn new(cfg: Config, tenants: Vec<Tenant>) -> Result<Self, String> {
        let mut rng = StdRng::seed_from_u64(cfg.rng_seed);
        let ids = StdRng::seed_from_u64(cfg.rng_seed ^ u64::from(cfg.run_no).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let recent = recent_tail(cfg.orders);
        let old = cfg.orders - recent;
        let plan = Plan::new(&mut rng, cfg.orders, old, cfg.anomaly_rate)?;
        let mut acc = 0;
        let tenant_cum = tenants
            .iter()
            .map(|t| {
                acc += t.weight;
                acc
            })
            .collect();
        let relays = ["a", "b", "c"]
            .iter()
            .map(|s| CrashedRelay {
                instance_id: format!("relay-crashed-{}-{s}", cfg.run_no),
                first_claim_ms: i64::MAX,
                last_claim_ms: i64::MIN,
            })
            .collect();
        Ok(Generator {
            rng,
            ids,
            tenants,
            tenant_cum,
            plan,
            old,
            next_slot: 0,
            quote_seq: 0,
            stuck_seen: 0,
            claims_seen: 0,
            recent_seen: 0,
            relays,
            deferred_pending: 0,
            fresh: false,
            capacity: vec![0; TABLES.len()],
            json: Vec::with_capacity(512),
            done: false,
            cfg,
        })
    }

    /// The next batch of rows, or `None` when the run is complete.
    ///
    /// The settled past comes first, a batch at a time. The last batch holds what must be fresh when the
    /// run ends — the recent tail of orders, quotes with an open approval, the newest outbox events — and
    /// is timed against the clock at the moment it is generated, so that however long the bulk load
    /// took, those entities are as young as the detectors' thresholds expect.
    pub fn next_batch(&mut self) -> Option<Batch> {
        if self.done {
            return None;
        }
        let mut b = Batch::new(&self.capacity);
        if self.next_slot < self.old {
            let end = (self.next_slot + self.cfg.batch_orders).min(self.old);
            for slot in self.next_slot..end {
                self.slot(&mut b, slot);
            }
            self.next_slot = end;
        } else {
            self.cfg.now_ms = self.cfg.now_ms.max(chrono::Utc::now().timestamp_millis());
            self.fresh = true;
            for slot in self.old..self.cfg.orders {
                self.slot(&mut b, slot);
            }
            self.next_slot = self.cfg.orders;
            self.finale(&mut b);
            self.done = true;
        }
        for (cap, t) in self.capacity.iter_mut().zip(&b.tables) {
            *cap = (*cap).max(t.buf.len() + t.buf.len() / 8);
        }
        Some(b)
    }

    /// The relay instances that claimed events and died (those that claimed any).
    pub fn crashed_relays(&self) -> impl Iterator<Item = &CrashedRelay> {
        self.relays.iter().filter(|r| r.first_claim_ms != i64::MAX)
    }

    // ---------------------------------------------------------------------------------------------
    // Slots

    fn slot(&mut self, b: &mut Batch, slot: u64) {
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
            QuoteSpec {
                tenant,
                route,
                lines: drafted,
                end: captured_at,
                open_escalations: 0,
                last_fate: Fate::Published,
                total_override: None,
            },
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
    fn finale(&mut self, b: &mut Batch) {
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
                QuoteSpec {
                    tenant,
                    route: QuoteRoute::Priced,
                    lines,
                    end,
                    open_escalations: 0,
                    last_fate: Fate::Pending,
                    total_override: None,
                },
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
            QuoteSpec { tenant, route, lines, end, open_escalations, last_fate: Fate::Published, total_override: None },
        );
    }

    // ---------------------------------------------------------------------------------------------
    // Anomalies

    fn anomaly(&mut self, b: &mut Batch, kind: AnomalyType, tenant: usize, entity_id: Uuid, detail: &str) {
        b.anomalies[kind as usize] += 1;
        b.tables[t::ANOMALY]
            .row()
            .uuid(self.cfg.seed_run_id)
            .text(kind.name())
            .uuid(self.tenants[tenant].id)
            .text(kind.entity_type())
            .uuid(entity_id)
            .jsonb(detail.as_bytes());
    }

    /// The legacy import created a second order for the same quote, outside `uq_order_source_quote`.
    fn duplicate_order(&mut self, b: &mut Batch, tenant: usize, quote: &QuoteOut, first: &OrderOut, captured_at: i64) {
        let now = self.cfg.now_ms;
        let latest = (now - 45 * MINUTE).min(captured_at + 3 * DAY);
        let at = self.rng.random_range(captured_at + MINUTE..latest.max(captured_at + 2 * MINUTE));
        let goal =
            if self.rng.random_bool(0.7) { OrderGoal::Fulfilled } else { OrderGoal::CancelledBeforeOrchestration };
        let dup = self.emit_order(
            b,
            tenant,
            quote,
            OrderSpec {
                goal,
                captured_at: at,
                limit: now - MINUTE,
                origin: "LEGACY_IMPORT",
                number: format!("LEG-{}", quote.number),
                capture_actor: "legacy-import",
                projection_lag: 0,
                vendor_silent: false,
            },
        );
        let detail = format!(
            r#"{{"quote_number":"Q-{}","canonical_order_id":"{}","duplicate_order_id":"{}","order_ids":["{}","{}"],"duplicate_origin":"LEGACY_IMPORT","duplicate_status":"{}"}}"#,
            quote.number,
            first.order_id,
            dup.order_id,
            first.order_id,
            dup.order_id,
            dup.status.name()
        );
        self.anomaly(b, AnomalyType::DuplicateOrder, tenant, quote.quote_id, &detail);
    }

    fn accepted_quote_without_order(&mut self, b: &mut Batch) {
        let now = self.cfg.now_ms;
        let tenant = self.pick_tenant();
        let needs = self.rng.random_bool(0.35);
        let route = if needs { QuoteRoute::AcceptedByApprover } else { QuoteRoute::AcceptedByPolicy };
        let lines = self.line_count();
        let lines = self.draft_lines(tenant, lines, Some(needs));
        let end = self.rng.random_range(now - 7 * DAY..now - 10 * MINUTE);
        let q = self.emit_quote(
            b,
            QuoteSpec {
                tenant,
                route,
                lines,
                end,
                open_escalations: 0,
                last_fate: Fate::Published,
                total_override: None,
            },
        );
        let detail = format!(
            r#"{{"quote_number":"Q-{}","accepted_at":"{}","acceptance_ref":"{}"}}"#,
            q.number,
            rfc3339(q.accepted_at.unwrap_or(end)),
            q.acceptance_key.as_deref().unwrap_or("")
        );
        self.anomaly(b, AnomalyType::AcceptedQuoteWithoutOrder, tenant, q.quote_id, &detail);
    }

    fn overdue_approval(&mut self, b: &mut Batch) {
        let now = self.cfg.now_ms;
        let tenant = self.pick_tenant();
        let sla = self.tenants[tenant].policy.sla_ms;
        // Either the escalation timer never fired (still PENDING), or it fired once and the escalated due
        // time passed as well.
        let escalations = i32::from(self.rng.random_bool(0.4));
        let latest = now - (1 + i64::from(escalations)) * sla - 30 * MINUTE;
        let end = self.rng.random_range(now - 5 * DAY..latest);
        let lines = self.line_count();
        let lines = self.draft_lines(tenant, lines, Some(true));
        let q = self.emit_quote(
            b,
            QuoteSpec {
                tenant,
                route: QuoteRoute::PendingApproval,
                lines,
                end,
                open_escalations: escalations,
                last_fate: Fate::Published,
                total_override: None,
            },
        );
        let (id, status, due, policy_version) = q.open_approval.expect("a quote pending approval has an open request");
        let detail = format!(
            r#"{{"quote_id":"{}","quote_number":"Q-{}","approval_status":"{}","due_at":"{}","policy_version":{policy_version}}}"#,
            q.quote_id,
            q.number,
            status.name(),
            rfc3339(due)
        );
        self.anomaly(b, AnomalyType::OverdueApproval, tenant, id, &detail);
    }

    fn stale_outbox_claim(&mut self, b: &mut Batch) {
        let now = self.cfg.now_ms;
        let tenant = self.pick_tenant();
        let route = [QuoteRoute::ApprovedByPolicy, QuoteRoute::Rejected, QuoteRoute::CancelledPriced]
            [self.rng.random_range(0..3)];
        let end = self.rng.random_range(now - 3 * DAY..now - 15 * MINUTE);
        let relay = (self.claims_seen % 3) as usize;
        self.claims_seen += 1;
        let at = end + self.rng.random_range(200..5 * SECOND);
        let r = &mut self.relays[relay];
        r.first_claim_ms = r.first_claim_ms.min(at);
        r.last_claim_ms = r.last_claim_ms.max(at);
        let lines = self.line_count();
        let lines = self.draft_lines(tenant, lines, route.needs_approval());
        let q = self.emit_quote(
            b,
            QuoteSpec {
                tenant,
                route,
                lines,
                end,
                open_escalations: 0,
                last_fate: Fate::Claimed { relay, at },
                total_override: None,
            },
        );
        let detail = format!(
            r#"{{"claimed_by":"{}","claimed_at":"{}","aggregate_type":"quote","aggregate_id":"{}","event_type":"QuoteStatusChanged"}}"#,
            self.relays[relay].instance_id,
            rfc3339(at),
            q.quote_id
        );
        self.anomaly(b, AnomalyType::StaleOutboxClaim, tenant, q.last_event, &detail);
    }

    fn price_snapshot_mismatch(&mut self, b: &mut Batch) {
        let now = self.cfg.now_ms;
        let tenant = self.pick_tenant();
        let route = if self.rng.random_bool(0.5) { QuoteRoute::Priced } else { QuoteRoute::ApprovedByPolicy };
        let end = self.rng.random_range(now - 25 * DAY..now - MINUTE);
        let lines = self.line_count();
        let lines = self.draft_lines(tenant, lines, route.needs_approval());
        let sum: i64 = lines.iter().map(|l| l.net).sum();
        // The total kept the list price of a line whose discount was changed afterwards.
        let delta = 1 + self.rng.random_range(0..(sum / 10).max(1));
        let total = if sum > delta && self.rng.random_bool(0.3) { sum - delta } else { sum + delta };
        let q = self.emit_quote(
            b,
            QuoteSpec {
                tenant,
                route,
                lines,
                end,
                open_escalations: 0,
                last_fate: Fate::Published,
                total_override: Some(total),
            },
        );
        let detail = format!(r#"{{"quote_number":"Q-{}","total_minor":{total},"lines_net_minor":{sum}}}"#, q.number);
        self.anomaly(b, AnomalyType::PriceSnapshotMismatch, tenant, q.quote_id, &detail);
    }

    // ---------------------------------------------------------------------------------------------
    // Quotes and approvals

    fn line_count(&mut self) -> usize {
        match self.rng.random_range(0..100) {
            0..40 => 1,
            40..75 => 2,
            75..92 => 3,
            _ => 4,
        }
    }

    /// Lines for a quote. `Some(true)`: one line's discount needs approval under every policy version;
    /// `Some(false)`: no approval needed (discounts and total under every threshold); `None`: either.
    fn draft_lines(&mut self, tenant: usize, n: usize, needs: Option<bool>) -> Vec<LineDraft> {
        let policy = &self.tenants[tenant].policy;
        let (low, high, max_total) = (policy.low_discount_bp(), policy.high_discount_bp(), policy.max_total_minor);
        let needs = needs.unwrap_or_else(|| self.rng.random_bool(0.3));
        for attempt in 0.. {
            let mut products: Vec<usize> = Vec::with_capacity(n);
            while products.len() < n {
                let p = self.rng.random_range(0..PRODUCTS.len());
                if !products.contains(&p) {
                    products.push(p);
                }
            }
            let high_line = needs.then(|| self.rng.random_range(0..n));
            let lines: Vec<LineDraft> = products
                .into_iter()
                .enumerate()
                .map(|(i, product)| {
                    let max_qty = if attempt > 3 { 1 } else { 5 };
                    let quantity = self.rng.random_range(1..=max_qty);
                    let discount_bp = if Some(i) == high_line {
                        50 * self.rng.random_range(high / 50..=(high + 2_500).min(6_000) / 50)
                    } else if self.rng.random_bool(0.4) {
                        0
                    } else {
                        50 * self.rng.random_range(0..=low / 50)
                    };
                    let input = QuoteLineInput {
                        product_sku: String::new(),
                        description: String::new(),
                        quantity,
                        unit_list_minor: PRODUCTS[product].2,
                        discount_bp,
                    };
                    LineDraft { product, quantity, discount_bp, net: input.net_minor() }
                })
                .collect();
            let total: i64 = lines.iter().map(|l| l.net).sum();
            if needs || total <= max_total || attempt > 8 {
                return lines;
            }
        }
        unreachable!()
    }

    fn quote_gap(&mut self, command: QuoteCommand, sla: i64) -> i64 {
        use QuoteCommand as C;
        let r = &mut self.rng;
        match command {
            C::SubmitForApproval | C::ApproveWithoutReview => r.random_range(MINUTE..2 * DAY),
            C::Approve | C::ApproveManually | C::Reject => r.random_range(5 * MINUTE..sla + sla * 6 / 10),
            C::Accept => r.random_range(10 * MINUTE..10 * DAY),
            C::Revise => r.random_range(HOUR..3 * DAY),
            C::Price => r.random_range(10 * MINUTE..DAY),
            C::Cancel => r.random_range(HOUR..10 * DAY),
            C::Expire => 0, // placed at valid_until
        }
    }

    /// Writes a quote with its lines, its transitions and their outbox events, and its approval requests.
    fn emit_quote(&mut self, b: &mut Batch, spec: QuoteSpec) -> QuoteOut {
        let steps = replay_quote(spec.route.commands()).expect("seed quote routes are allowed by the quote machine");
        let sla = self.tenants[spec.tenant].policy.sla_ms;
        let tenant_id = self.tenants[spec.tenant].id;
        let times = self.quote_times(&steps, spec.end, sla);
        let created = times[0];
        let quote_id = self.id_at(created);
        let partition = partition_of(quote_id);
        self.quote_seq += 1;
        let number = format!("{}-{:07}", self.cfg.run_no, self.quote_seq);
        let customer = customer_name(self.rng.random_range(0..CUSTOMERS));
        let reps = &self.tenants[spec.tenant].reps;
        let rep = reps[self.rng.random_range(0..reps.len())].clone();
        let lines_sum: i64 = spec.lines.iter().map(|l| l.net).sum();
        let total = spec.total_override.unwrap_or(lines_sum);

        let mut quote_version = 1;
        let mut approval: Option<OpenApproval> = None;
        let mut priced_at = created;
        let mut accepted_at = None;
        let mut acceptance_key = None;
        let mut accept_correlation = Uuid::nil();
        let mut last_event = Uuid::nil();
        for (i, step) in steps.iter().enumerate() {
            let at = times[i];
            if let Some(a) = approval.as_mut() {
                self.escalate_until(b, spec.tenant, a, at, MAX_ESCALATION);
            }
            let row_version = i as i64 + 1;
            let mut actor = rep.as_str();
            let approval_actor;
            match step.command {
                QuoteCommand::Revise => quote_version += 1,
                QuoteCommand::Price => priced_at = at,
                QuoteCommand::ApproveWithoutReview => actor = "policy-engine",
                QuoteCommand::Expire => actor = "quote-expiry-job",
                QuoteCommand::Accept => {
                    actor = "customer-portal";
                    accepted_at = Some(at);
                    acceptance_key = Some(format!("accept-{}", simple_hex(self.ids.random())));
                }
                _ => {}
            }
            match step.command {
                QuoteCommand::SubmitForApproval => {
                    approval = Some(self.open_approval(b, spec.tenant, quote_id, quote_version, at, &rep));
                }
                QuoteCommand::Approve | QuoteCommand::Reject => {
                    let a = approval.take().expect("a decision closes an open approval");
                    approval_actor = a.assignee.clone();
                    actor = approval_actor.as_str();
                    let cmd = if step.command == QuoteCommand::Approve {
                        ApprovalCommand::Approve
                    } else {
                        ApprovalCommand::Reject
                    };
                    self.close_approval(b, spec.tenant, a, cmd, at, None);
                }
                QuoteCommand::Revise | QuoteCommand::Expire | QuoteCommand::Cancel => {
                    if let Some(a) = approval.take() {
                        let why = match step.command {
                            QuoteCommand::Revise => "quote revised: a new version needs its own approval",
                            QuoteCommand::Expire => "quote expired",
                            _ => "quote cancelled",
                        };
                        self.close_approval(b, spec.tenant, a, ApprovalCommand::Cancel, at, Some(why));
                    }
                }
                _ => {}
            }
            let correlation = self.id_at(at);
            if step.command == QuoteCommand::Accept {
                accept_correlation = correlation;
            }
            b.tables[t::QUOTE_TRANSITION]
                .row()
                .uuid(self.id_at(at))
                .uuid(quote_id)
                .uuid(tenant_id)
                .opt_text(step.from.map(Named::name))
                .text(step.to.name())
                .text(step.command.name())
                .i32(quote_version)
                .i64(row_version)
                .text(actor)
                .null()
                .uuid(correlation)
                .ts(at);
            let fate = if i + 1 == steps.len() { spec.last_fate } else { Fate::Published };
            self.json.clear();
            quote_event_json(&mut self.json, quote_id, tenant_id, &number, step, quote_version, row_version, total, at);
            last_event = self.event(
                b,
                tenant_id,
                Topic::Quote,
                quote_id,
                partition,
                row_version,
                "QuoteStatusChanged",
                correlation,
                at,
                fate,
            );
        }
        let mut open_approval = None;
        if let Some(mut a) = approval.take() {
            for _ in 0..spec.open_escalations {
                let due = a.due;
                self.escalate_until(b, spec.tenant, &mut a, due + 1, MAX_ESCALATION);
            }
            open_approval = Some((a.id, a.status, a.due, a.policy_version));
            self.write_approval(b, spec.tenant, &a, None, None);
        }

        let last = *steps.last().expect("a route has steps");
        let updated = *times.last().expect("a route has times");
        let max_discount = spec.lines.iter().map(|l| l.discount_bp).max().unwrap_or(0);
        let tenant = &self.tenants[spec.tenant];
        b.tables[t::QUOTE]
            .row()
            .uuid(quote_id)
            .uuid(tenant_id)
            .text(&format!("Q-{number}"))
            .text(&customer)
            .text(last.to.name())
            .i32(quote_version)
            .i64(steps.len() as i64)
            .text(tenant.currency)
            .i64(total)
            .pct_bp(max_discount)
            .ts(created + VALIDITY)
            .opt_ts(accepted_at)
            .opt_text(acceptance_key.as_deref())
            .text(&rep)
            .ts(created)
            .ts(updated);
        for (i, line) in spec.lines.iter().enumerate() {
            let (sku, description, unit) = PRODUCTS[line.product];
            let snapshot = QuoteLineInput {
                product_sku: sku.to_owned(),
                description: description.to_owned(),
                quantity: line.quantity,
                unit_list_minor: unit,
                discount_bp: line.discount_bp,
            };
            self.json.clear();
            serde_json::to_writer(&mut self.json, &snapshot).expect("a line snapshot serializes");
            let id = self.id_at(priced_at);
            b.tables[t::QUOTE_LINE]
                .row()
                .uuid(id)
                .uuid(quote_id)
                .uuid(tenant_id)
                .i32(i as i32 + 1)
                .text(sku)
                .text(description)
                .i32(line.quantity)
                .i64(unit)
                .pct_bp(line.discount_bp)
                .i64(line.net)
                .jsonb(&self.json)
                .ts(priced_at);
        }
        QuoteOut {
            quote_id,
            number,
            customer,
            lines: spec.lines,
            total,
            accepted_at,
            acceptance_key,
            accept_correlation,
            open_approval,
            last_event,
        }
    }

    /// Transition times of a route ending at `end`: gaps drawn per command and laid backwards from the
    /// end, except that an expiry happens exactly at `valid_until` (30 days after creation).
    fn quote_times(&mut self, steps: &[QuoteStep], end: i64, sla: i64) -> Vec<i64> {
        let n = steps.len();
        let gaps: Vec<i64> = steps.iter().map(|s| self.quote_gap(s.command, sla)).collect();
        let mut times = vec![0; n];
        if steps[n - 1].command == QuoteCommand::Expire {
            times[0] = end - VALIDITY;
            for i in 1..n - 1 {
                times[i] = times[i - 1] + gaps[i];
            }
            times[n - 1] = end;
        } else {
            times[n - 1] = end;
            for i in (1..n).rev() {
                times[i - 1] = times[i] - gaps[i];
            }
        }
        times
    }

    fn open_approval(
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
    fn escalate_until(&mut self, b: &mut Batch, tenant: usize, a: &mut OpenApproval, until: i64, max_level: i32) {
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

    fn close_approval(
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

    fn write_approval(
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

    // ---------------------------------------------------------------------------------------------
    // Orders

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
    fn emit_order(&mut self, b: &mut Batch, tenant: usize, quote: &QuoteOut, spec: OrderSpec) -> OrderOut {
        let n = quote.lines.len();
        let story = order_story(spec.goal, n);
        let replayed = replay_order(&story, n).expect("seed order stories are allowed by the order machines");

        // Times: gaps per step, squeezed to end by `limit`.
        let mut gaps: Vec<i64> = replayed.steps.iter().map(|s| self.order_gap(s.line, s.command, s.from)).collect();
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
        self.json.clear();
        order_captured_json(
            &mut self.json,
            order_id,
            tenant_id,
            &spec.number,
            quote.quote_id,
            quote.total,
            currency,
            n,
            spec.captured_at,
        );
        let ev = self.event(
            b,
            tenant_id,
            Topic::Order,
            order_id,
            partition,
            1,
            "OrderCaptured",
            correlation,
            spec.captured_at,
            Fate::Published,
        );
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
            let actor = match (step.line, step.command) {
                (None, "CANCEL") => cancel_actor.as_str(),
                (None, _) => "orchestrator",
                (Some(_), "RESERVE") => "inventory-worker",
                (Some(_), "FAIL") if step.from == "PENDING" => "inventory-worker",
                (Some(_), "CANCEL") => "orchestrator",
                (Some(_), _) => "fulfillment-worker",
            };
            let reason = match (step.line, step.command) {
                (None, "CANCEL") => Some("customer withdrew the order"),
                (Some(_), "FAIL") if step.from == "PENDING" => Some("insufficient stock to reserve"),
                (Some(_), "FAIL") => Some("vendor rejected the request"),
                (None, "FAIL") => Some("a line could not be fulfilled"),
                _ => None,
            };
            let line_id = step.line.map(|l| line_ids[l]);
            self.order_transition(
                b,
                order_id,
                tenant_id,
                line_id,
                Some(step.from),
                step.to,
                step.command,
                v,
                actor,
                reason,
                correlation,
                at,
            );
            self.json.clear();
            let event_type = match step.line {
                None => {
                    order_status_json(
                        &mut self.json,
                        order_id,
                        tenant_id,
                        &spec.number,
                        step.command,
                        step.from,
                        step.to,
                        v,
                        quote.total,
                        currency,
                        at,
                    );
                    "OrderStatusChanged"
                }
                Some(l) => {
                    line_status_json(
                        &mut self.json,
                        order_id,
                        line_ids[l],
                        tenant_id,
                        step.command,
                        step.from,
                        step.to,
                        v,
                        at,
                    );
                    "OrderLineStatusChanged"
                }
            };
            let ev = self.event(
                b,
                tenant_id,
                Topic::Order,
                order_id,
                partition,
                v,
                event_type,
                correlation,
                at,
                Fate::Published,
            );
            versions.push((ev, at, step.order_status));
            if let Some(l) = step.line {
                line_updated[l] = at;
                line_steps[l] += 1;
                match step.command {
                    "REQUEST_FULFILLMENT" => {
                        let r = requests[l].get_or_insert((at, 0));
                        r.1 += 1;
                    }
                    "CONFIRM_FULFILLMENT" => outcome[l] = Some(at),
                    "FAIL" if step.from == "FULFILLMENT_REQUESTED" => outcome[l] = Some(at),
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
            let (sku, _, _) = PRODUCTS[line.product];
            let unit_price = if line.quantity > 0 { line.net / i64::from(line.quantity) } else { 0 };
            b.tables[t::ORDER_LINE]
                .row()
                .uuid(line_ids[l])
                .uuid(order_id)
                .uuid(tenant_id)
                .i32(l as i32 + 1)
                .text(sku)
                .i32(line.quantity)
                .i64(unit_price)
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

        // The projection consumer has applied every version, or stops `projection_lag` short.
        let shown = (version - spec.projection_lag).max(1);
        let (event_id, source_at, status) = versions[shown as usize - 1];
        // After the event was published (at most 1.5 s after it was written).
        let projected_at = (source_at + self.rng.random_range(1_600..4 * SECOND)).min(self.cfg.now_ms - 1);
        b.tables[t::PROJECTION]
            .row()
            .uuid(order_id)
            .uuid(tenant_id)
            .text(&spec.number)
            .text(status.name())
            .i64(shown)
            .i64(quote.total)
            .text(currency)
            .uuid(event_id)
            .ts(source_at)
            .ts(projected_at);

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

    /// The evidence of the external side effect, keyed like the worker keys it: one request per line,
    /// reused by retries.
    #[allow(clippy::too_many_arguments)]
    fn fulfillment_request(
        &mut self,
        b: &mut Batch,
        tenant_id: Uuid,
        order_id: Uuid,
        line_id: Uuid,
        line_index: usize,
        sku: &str,
        quantity: i32,
        order_number: &str,
        vendor: &str,
        line_status: OrderLineStatus,
        requested_at: i64,
        attempts: i32,
        outcome_at: Option<i64>,
        vendor_silent: bool,
    ) {
        let sent_at = requested_at + self.rng.random_range(20..800);
        let (status, code, body, completed_at, updated_at) = match (line_status, outcome_at) {
            (OrderLineStatus::Fulfilled, Some(at)) => {
                ("COMPLETED", Some(200), Some(r#"{"status":"DELIVERED"}"#), Some(at), at)
            }
            (OrderLineStatus::Failed | OrderLineStatus::Cancelled, Some(at)) => {
                ("FAILED", Some(422), Some(r#"{"error":"SKU not deliverable to the shipping region"}"#), None, at)
            }
            _ if vendor_silent => ("SENT", None, None, None, sent_at),
            _ => (
                "ACKNOWLEDGED",
                Some(202),
                Some(r#"{"status":"ACCEPTED"}"#),
                None,
                sent_at + self.rng.random_range(50..2 * SECOND),
            ),
        };
        let id = self.id_at(requested_at);
        self.json.clear();
        let _ = write!(
            self.json,
            r#"{{"order_id":"{order_id}","order_line_id":"{line_id}","order_number":"{order_number}","line_no":{},"sku":"{sku}","quantity":{quantity}}}"#,
            line_index + 1
        );
        let mut key = Vec::with_capacity(48);
        push_uuid(&mut key, order_id);
        let _ = write!(key, ":{}:fulfil", line_index + 1);
        b.tables[t::FULFILLMENT]
            .row()
            .uuid(id)
            .uuid(tenant_id)
            .uuid(order_id)
            .uuid(line_id)
            .text(std::str::from_utf8(&key).expect("ascii"))
            .text(vendor)
            .text(status)
            .jsonb(&self.json)
            .opt_i32(code)
            .opt_text(body)
            .i32(attempts)
            .ts(requested_at)
            .ts(sent_at)
            .opt_ts(completed_at)
            .ts(updated_at);
    }

    // ---------------------------------------------------------------------------------------------
    // Outbox

    /// Writes the outbox event whose payload is in `self.json`; returns its id.
    #[allow(clippy::too_many_arguments)]
    fn event(
        &mut self,
        b: &mut Batch,
        tenant_id: Uuid,
        topic: Topic,
        aggregate_id: Uuid,
        partition: i32,
        version: i64,
        event_type: &str,
        correlation: Uuid,
        at: i64,
        fate: Fate,
    ) -> Uuid {
        let id = self.id_at(at);
        let payload = std::mem::take(&mut self.json);
        let headers = format!(r#"{{"correlation_id":"{correlation}","schema_version":1}}"#);
        let mut row = b.tables[t::OUTBOX].row();
        row.uuid(id)
            .uuid(tenant_id)
            .text(topic.aggregate_type())
            .uuid(aggregate_id)
            .i64(version)
            .text(event_type)
            .jsonb(&payload)
            .jsonb(headers.as_bytes());
        match fate {
            Fate::Published => {
                let published_at = (at + self.rng.random_range(20..1_500)).min(self.cfg.now_ms - 1);
                let next = &mut self.cfg.kafka_next[topic as usize][partition as usize];
                let offset = *next;
                *next += 1;
                // `attempts` counts failed attempts (as the relay keeps it): these went through first time.
                row.text("PUBLISHED")
                    .i32(0)
                    .null()
                    .null()
                    .null()
                    .null()
                    .ts(at)
                    .ts(published_at)
                    .text(topic.topic())
                    .i32(partition)
                    .i64(offset);
            }
            Fate::Pending => {
                row.text("PENDING").i32(0).null().null().null().null().ts(at).null().null().null().null();
            }
            Fate::Claimed { relay, at: claimed_at } => {
                row.text("PROCESSING")
                    .i32(0)
                    .null()
                    .null()
                    .text(&self.relays[relay].instance_id)
                    .ts(claimed_at)
                    .ts(at)
                    .null()
                    .null()
                    .null()
                    .null();
            }
        }
        drop(row);
        self.json = payload;
        id
    }

    // ---------------------------------------------------------------------------------------------
    // Helpers

    fn pick_tenant(&mut self) -> usize {
        let total = *self.tenant_cum.last().expect("at least one tenant");
        let x = self.rng.random_range(0..total);
        self.tenant_cum.iter().position(|&c| x < c).expect("within the total")
    }

    /// A time-ordered (v7) id for something that happened at `ms`.
    fn id_at(&mut self, ms: i64) -> Uuid {
        let random: [u8; 16] = self.ids.random();
        let mut bytes = [0u8; 10];
        bytes.copy_from_slice(&random[..10]);
        uuid::Builder::from_unix_timestamp_millis(ms.max(0) as u64, &bytes).into_uuid()
    }
}

/// How many orders form the recent tail (captured in the last 20 minutes, possibly still active).
pub(super) fn recent_tail(orders: u64) -> u64 {
    if orders >= 40 {
        (orders / 2_000).max(8)
    } else {
        orders / 5
    }
}

fn partition_of(aggregate_id: Uuid) -> i32 {
    let mut key = [0u8; 36];
    kafka_partition(aggregate_id.as_hyphenated().encode_lower(&mut key).as_bytes(), PARTITIONS)
}

fn simple_hex(x: u64) -> String {
    format!("{x:016x}")
}

fn rfc3339(ms: i64) -> String {
    let mut buf = Vec::with_capacity(24);
    push_rfc3339(&mut buf, ms);
    String::from_utf8(buf).expect("ascii")
}

// Payloads, field for field as the platform's commands serialize them (see command/quote.rs and
// command/order.rs). Written by hand: every value is an id, a status name, a number or a seed-made
// ASCII string, none of which needs JSON escaping.

#[allow(clippy::too_many_arguments)]
fn quote_event_json(
    out: &mut Vec<u8>,
    quote_id: Uuid,
    tenant_id: Uuid,
    number: &str,
    step: &QuoteStep,
    quote_version: i32,
    version: i64,
    total: i64,
    at: i64,
) {
    let _ = write!(
        out,
        r#"{{"quote_id":"{quote_id}","tenant_id":"{tenant_id}","quote_number":"Q-{number}","command":"{}","from_status":"#,
        step.command.name()
    );
    match step.from {
        Some(from) => {
            let _ = write!(out, r#""{}""#, from.name());
        }
        None => out.extend_from_slice(b"null"),
    }
    let _ = write!(
        out,
        r#","status":"{}","quote_version":{quote_version},"version":{version},"total_minor":{total},"occurred_at":""#,
        step.to.name()
    );
    push_rfc3339(out, at);
    out.extend_from_slice(b"\"}");
}

#[allow(clippy::too_many_arguments)]
fn order_captured_json(
    out: &mut Vec<u8>,
    order_id: Uuid,
    tenant_id: Uuid,
    number: &str,
    quote_id: Uuid,
    total: i64,
    currency: &str,
    lines: usize,
    at: i64,
) {
    let _ = write!(
        out,
        r#"{{"order_id":"{order_id}","tenant_id":"{tenant_id}","order_number":"{number}","source_quote_id":"{quote_id}","status":"CAPTURED","version":1,"total_minor":{total},"currency":"{currency}","line_count":{lines},"occurred_at":""#
    );
    push_rfc3339(out, at);
    out.extend_from_slice(b"\"}");
}

#[allow(clippy::too_many_arguments)]
fn order_status_json(
    out: &mut Vec<u8>,
    order_id: Uuid,
    tenant_id: Uuid,
    number: &str,
    command: &str,
    from: &str,
    to: &str,
    version: i64,
    total: i64,
    currency: &str,
    at: i64,
) {
    let _ = write!(
        out,
        r#"{{"order_id":"{order_id}","tenant_id":"{tenant_id}","order_number":"{number}","command":"{command}","from_status":"{from}","status":"{to}","version":{version},"total_minor":{total},"currency":"{currency}","occurred_at":""#
    );
    push_rfc3339(out, at);
    out.extend_from_slice(b"\"}");
}

#[allow(clippy::too_many_arguments)]
fn line_status_json(
    out: &mut Vec<u8>,
    order_id: Uuid,
    line_id: Uuid,
    tenant_id: Uuid,
    command: &str,
    from: &str,
    to: &str,
    version: i64,
    at: i64,
) {
    let _ = write!(
        out,
        r#"{{"order_id":"{order_id}","order_line_id":"{line_id}","tenant_id":"{tenant_id}","command":"{command}","from_status":"{from}","status":"{to}","order_version":{version},"occurred_at":""#
    );
    push_rfc3339(out, at);
    out.extend_from_slice(b"\"}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seed::rows::{HEADER, PG_EPOCH_MS};
    use crate::seed::world::{Policy, PolicyVersion};

    fn tenants() -> Vec<Tenant> {
        (0..2)
            .map(|i| Tenant {
                id: Uuid::from_u128(i + 1),
                currency: "EUR",
                weight: 1,
                vendor: "shipfast",
                reps: vec!["rep@t.example".into()],
                approvers: vec!["approver@t.example".into()],
                escalation_approver: "head@t.example".into(),
                policy: Policy {
                    policy_id: Uuid::from_u128(100 + i),
                    versions: vec![PolicyVersion { version: 1, max_discount_bp: 1500, active_from: 0 }],
                    max_total_minor: 5_000_000,
                    sla_ms: 4 * HOUR,
                },
            })
            .collect()
    }

    fn generator(now_ms: i64, orders: u64, rate: f64) -> Generator {
        let cfg = Config {
            orders,
            anomaly_rate: rate,
            rng_seed: 3,
            run_no: 1,
            seed_run_id: Uuid::nil(),
            now_ms,
            batch_orders: 50,
            kafka_next: [[0; 3]; 2],
        };
        Generator::new(cfg, tenants()).unwrap()
    }

    /// The fields of each row of a binary COPY buffer.
    fn decode(t: &TableBuf) -> Vec<Vec<Option<Vec<u8>>>> {
        let b = &t.buf;
        let mut p = HEADER.len();
        let mut rows = Vec::new();
        while p < b.len() {
            let n = i16::from_be_bytes([b[p], b[p + 1]]);
            p += 2;
            let mut row = Vec::new();
            for _ in 0..n {
                let len = i32::from_be_bytes(b[p..p + 4].try_into().unwrap());
                p += 4;
                if len < 0 {
                    row.push(None);
                } else {
                    row.push(Some(b[p..p + len as usize].to_vec()));
                    p += len as usize;
                }
            }
            rows.push(row);
        }
        rows
    }

    fn ts(field: &Option<Vec<u8>>) -> i64 {
        i64::from_be_bytes(field.as_ref().unwrap()[..].try_into().unwrap()) / 1_000 + PG_EPOCH_MS
    }

    fn text(field: &Option<Vec<u8>>) -> String {
        String::from_utf8(field.clone().unwrap()).unwrap()
    }

    #[test]
    fn what_must_be_young_is_timed_against_the_clock_of_the_last_batch() {
        // A run that started three hours ago (a slow bulk load) and no anomalies.
        let real_now = chrono::Utc::now().timestamp_millis();
        let mut g = generator(real_now - 3 * HOUR, 400, 0.0);
        let mut active = 0;
        let mut open = 0;
        let mut batches = 0;
        while let Some(b) = g.next_batch() {
            batches += 1;
            for row in decode(&b.tables[t::ORDER]) {
                // status 5, updated_at 12
                if ["CAPTURED", "ORCHESTRATING", "IN_PROGRESS", "PARTIALLY_FULFILLED"].contains(&text(&row[5]).as_str()) {
                    active += 1;
                    assert!(ts(&row[12]) > real_now - 16 * MINUTE, "an active order older than the recent tail");
                }
            }
            for row in decode(&b.tables[t::APPROVAL_REQUEST]) {
                // status 7, due_at 9
                if ["PENDING", "ESCALATED"].contains(&text(&row[7]).as_str()) {
                    open += 1;
                    assert!(ts(&row[9]) > real_now + 55 * MINUTE, "an open approval due within the hour");
                }
            }
        }
        assert!(batches > 2);
        assert!(active >= 4, "the recent tail holds active orders");
        assert!(open >= 1, "some quote is pending approval");
    }

    #[test]
    fn the_same_seed_and_run_generate_the_same_settled_batches() {
        let now = 1_800_000_000_000;
        let (mut a, mut b) = (generator(now, 200, 0.05), generator(now, 200, 0.05));
        let (first_a, first_b) = (a.next_batch().unwrap(), b.next_batch().unwrap());
        for (x, y) in first_a.tables.iter().zip(&first_b.tables) {
            assert_eq!(x.buf, y.buf, "{}", x.table);
        }
    }

    #[test]
    fn every_row_has_as_many_fields_as_its_copy_statement_names() {
        let mut g = generator(chrono::Utc::now().timestamp_millis(), 300, 0.05);
        while let Some(b) = g.next_batch() {
            for t in &b.tables {
                let columns = t.columns.split(',').count();
                for row in decode(t) {
                    assert_eq!(row.len(), columns, "{}", t.table);
                }
            }
        }
    }

    #[test]
    fn the_recent_tail_is_small_but_holds_every_active_status() {
        assert_eq!(recent_tail(2_000), 8);
        assert_eq!(recent_tail(1_000_000), 500);
        assert_eq!(recent_tail(20), 4);
    }

    #[test]
    fn quote_event_payloads_parse_as_the_platform_writes_them() {
        let mut out = Vec::new();
        let step = QuoteStep { command: QuoteCommand::Price, from: None, to: QuoteStatus::Priced };
        quote_event_json(&mut out, Uuid::nil(), Uuid::nil(), "1-0000001", &step, 1, 1, 1234, 0);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["quote_number"], "Q-1-0000001");
        assert_eq!(v["from_status"], serde_json::Value::Null);
        assert_eq!(v["total_minor"], 1234);
        assert_eq!(v["occurred_at"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn order_event_payloads_are_valid_json() {
        let mut out = Vec::new();
        order_captured_json(&mut out, Uuid::nil(), Uuid::nil(), "SO-1", Uuid::nil(), 5, "EUR", 2, 0);
        serde_json::from_slice::<serde_json::Value>(&out).unwrap();
        out.clear();
        order_status_json(&mut out, Uuid::nil(), Uuid::nil(), "SO-1", "FAIL", "IN_PROGRESS", "FAILED", 3, 5, "EUR", 0);
        serde_json::from_slice::<serde_json::Value>(&out).unwrap();
        out.clear();
        line_status_json(&mut out, Uuid::nil(), Uuid::nil(), Uuid::nil(), "RESERVE", "PENDING", "RESERVED", 2, 0);
        assert_eq!(serde_json::from_slice::<serde_json::Value>(&out).unwrap()["order_version"], 2);
    }
}
