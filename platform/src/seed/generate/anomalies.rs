//! The anomalies of [`AnomalyType`]: each is written like the normal business around it, with the one
//! thing wrong that a runbook's detector looks for, and recorded in `platform.seed_anomaly` with what a
//! person would need to recognise it.

use rand::Rng;
use uuid::Uuid;

use super::orders::{OrderOut, OrderSpec};
use super::outbox::Fate;
use super::quotes::{QuoteOut, QuoteSpec};
use super::{rfc3339, t, Batch, Generator, DAY, MINUTE, SECOND};
use crate::machine::Named;
use crate::seed::anomaly::AnomalyType;
use crate::seed::story::{OrderGoal, QuoteRoute};

impl Generator {
    pub(super) fn anomaly(&mut self, b: &mut Batch, kind: AnomalyType, tenant: usize, entity_id: Uuid, detail: &str) {
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
    pub(super) fn duplicate_order(&mut self, b: &mut Batch, tenant: usize, quote: &QuoteOut, first: &OrderOut, captured_at: i64) {
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

    pub(super) fn accepted_quote_without_order(&mut self, b: &mut Batch) {
        let now = self.cfg.now_ms;
        let tenant = self.pick_tenant();
        let needs = self.rng.random_bool(0.35);
        let route = if needs { QuoteRoute::AcceptedByApprover } else { QuoteRoute::AcceptedByPolicy };
        let lines = self.line_count();
        let lines = self.draft_lines(tenant, lines, Some(needs));
        let end = self.rng.random_range(now - 7 * DAY..now - 10 * MINUTE);
        let q = self.emit_quote(
            b,
            QuoteSpec::new(tenant, route, lines, end),
        );
        let detail = format!(
            r#"{{"quote_number":"Q-{}","accepted_at":"{}","acceptance_ref":"{}"}}"#,
            q.number,
            rfc3339(q.accepted_at.unwrap_or(end)),
            q.acceptance_key.as_deref().unwrap_or("")
        );
        self.anomaly(b, AnomalyType::AcceptedQuoteWithoutOrder, tenant, q.quote_id, &detail);
    }

    pub(super) fn overdue_approval(&mut self, b: &mut Batch) {
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
            QuoteSpec { open_escalations: escalations, ..QuoteSpec::new(tenant, QuoteRoute::PendingApproval, lines, end) },
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

    pub(super) fn stale_outbox_claim(&mut self, b: &mut Batch) {
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
            QuoteSpec { last_fate: Fate::Claimed { relay, at }, ..QuoteSpec::new(tenant, route, lines, end) },
        );
        let detail = format!(
            r#"{{"claimed_by":"{}","claimed_at":"{}","aggregate_type":"quote","aggregate_id":"{}","event_type":"QuoteStatusChanged"}}"#,
            self.relays[relay].instance_id,
            rfc3339(at),
            q.quote_id
        );
        self.anomaly(b, AnomalyType::StaleOutboxClaim, tenant, q.last_event, &detail);
    }

    pub(super) fn price_snapshot_mismatch(&mut self, b: &mut Batch) {
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
            QuoteSpec { total_override: Some(total), ..QuoteSpec::new(tenant, route, lines, end) },
        );
        let detail = format!(r#"{{"quote_number":"Q-{}","total_minor":{total},"lines_net_minor":{sum}}}"#, q.number);
        self.anomaly(b, AnomalyType::PriceSnapshotMismatch, tenant, q.quote_id, &detail);
    }
}
