//! Quotes: priced lines, the route's transitions laid out in time with their outbox events, and the
//! approval requests the route opens and closes (see [`super::approvals`]).

use rand::Rng;
use uuid::Uuid;

use super::approvals::{OpenApproval, MAX_ESCALATION};
use super::outbox::{partition_of, Fate};
use super::{t, utc, Batch, Generator, DAY, HOUR, MINUTE};
use crate::approval::{ApprovalCommand, ApprovalStatus};
use crate::command::QuoteLineInput;
use crate::events::{Event, QuoteStatusChanged};
use crate::ids::{QuoteId, TenantId};
use crate::machine::Named;
use crate::quote::QuoteCommand;
use crate::seed::story::{replay_quote, QuoteRoute, QuoteStep};
use crate::seed::world::{customer_name, CUSTOMERS, PRODUCTS};

/// Quotes are valid for 30 days (as `create_quote` sets `valid_until`).
const VALIDITY: i64 = 30 * DAY;

#[derive(Clone)]
pub(super) struct LineDraft {
    pub product: usize,
    pub quantity: i32,
    pub discount_bp: i32,
    pub net: i64,
}

pub(super) struct QuoteSpec {
    pub tenant: usize,
    pub route: QuoteRoute,
    pub lines: Vec<LineDraft>,
    /// Time of the route's last transition.
    pub end: i64,
    /// Escalations of an approval still open at the end (their due times must have passed).
    pub open_escalations: i32,
    pub last_fate: Fate,
    pub total_override: Option<i64>,
}

impl QuoteSpec {
    /// A quote whose events all went out, with no approval left open and its total the sum of its lines.
    pub fn new(tenant: usize, route: QuoteRoute, lines: Vec<LineDraft>, end: i64) -> Self {
        QuoteSpec { tenant, route, lines, end, open_escalations: 0, last_fate: Fate::Published, total_override: None }
    }
}

pub(super) struct QuoteOut {
    pub quote_id: Uuid,
    pub number: String,
    pub customer: String,
    pub lines: Vec<LineDraft>,
    pub total: i64,
    pub accepted_at: Option<i64>,
    pub acceptance_key: Option<String>,
    /// The correlation of the acceptance: the captured order's first transition shares it.
    pub accept_correlation: Uuid,
    pub open_approval: Option<(Uuid, ApprovalStatus, i64, i32)>,
    pub last_event: Uuid,
}

impl Generator {
    pub(super) fn line_count(&mut self) -> usize {
        match self.rng.random_range(0..100) {
            0..40 => 1,
            40..75 => 2,
            75..92 => 3,
            _ => 4,
        }
    }

    /// Lines for a quote. `Some(true)`: one line's discount needs approval under every policy version;
    /// `Some(false)`: no approval needed (discounts and total under every threshold); `None`: either.
    pub(super) fn draft_lines(&mut self, tenant: usize, n: usize, needs: Option<bool>) -> Vec<LineDraft> {
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
    pub(super) fn emit_quote(&mut self, b: &mut Batch, spec: QuoteSpec) -> QuoteOut {
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
            let event = Event::QuoteStatusChanged(QuoteStatusChanged {
                quote_id: QuoteId::from_uuid(quote_id),
                tenant_id: TenantId::from_uuid(tenant_id),
                quote_number: format!("Q-{number}"),
                command: step.command,
                from_status: step.from,
                status: step.to,
                quote_version,
                version: row_version,
                total_minor: total,
                occurred_at: utc(at),
            });
            last_event = self.event(b, &event, partition, correlation, at, fate);
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
}

fn simple_hex(x: u64) -> String {
    format!("{x:016x}")
}
