//! Duplicate orders (lesson §9): two orders captured from one accepted quote. `uq_order_source_quote`
//! keeps the platform from capturing a second one, but a legacy import predates it (origin
//! `LEGACY_IMPORT`), so duplicates exist. This is what the resolve-duplicate-order repair executes.
//!
//! The first order is not automatically the valid one (§9.4). [`choose_canonical`] weighs, in order:
//! external side effects already executed (an order the vendor fulfils must stay: cancelling it would
//! need a compensation, a business decision — and when two orders have effects, nothing is chosen: the
//! case is escalated), the customer's acceptance evidence (the quote's `acceptance_ref` is the key its
//! acceptance captured the order under), the idempotency path (captured by the platform's acceptance
//! rather than imported), and the earliest commit. [`cancel_duplicate`] cancels a non-canonical order
//! through the order machine — its open lines `CANCEL`, the order `CANCEL`, its process instance ended —
//! and records the resolution with its evidence. Both rows stay. This platform keeps no billing records
//! and sends no customer communication of its own, so neither weighs here (the runbook asks about them).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::command::{apply_order_command, apply_order_line_command, CommandContext};
use crate::engine::{BusinessKey, EngineClient};
use crate::ids::{EntityKind, OrderId, OrderLineId, QuoteId, TenantId};
use crate::machine::transition;
use crate::orchestration::follow_up::EngineStep;
use crate::order::{Order, OrderCommand, OrderLineStatus, OrderStatus};
use crate::{Error, Result};

/// One order of a duplicate group, with the evidence the choice rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderEvidence {
    pub order_id: OrderId,
    pub order_number: String,
    pub status: OrderStatus,
    pub version: i64,
    pub origin: String,
    pub acceptance_key: Option<String>,
    pub created_at: DateTime<Utc>,
    /// The quote's acceptance evidence (`acceptance_ref`) is this order's acceptance key.
    pub matches_acceptance: bool,
    /// External side effects already executed (or possibly executed): fulfillment sent, lines requested
    /// or fulfilled. Empty when there are none.
    pub external_effects: Vec<String>,
}

impl OrderEvidence {
    pub fn is_live(&self) -> bool {
        self.status != OrderStatus::Cancelled
    }
}

/// The orders captured from one quote of one tenant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DuplicateGroup {
    pub tenant_id: TenantId,
    pub source_quote_id: QuoteId,
    pub quote_number: Option<String>,
    /// The key the quote's acceptance captured its order under.
    pub acceptance_ref: Option<String>,
    /// Oldest first.
    pub orders: Vec<OrderEvidence>,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    order_id: OrderId,
    order_number: String,
    status: String,
    version: i64,
    origin: String,
    acceptance_key: Option<String>,
    created_at: DateTime<Utc>,
}

/// The group of orders sharing `order`'s source quote (`order` included); `None` when the tenant has no
/// such order or it has no source quote. Uses `ix_sales_order_source_quote`.
pub async fn duplicate_group(db: &mut PgConnection, tenant: TenantId, order: OrderId) -> Result<Option<DuplicateGroup>> {
    let source: Option<Option<QuoteId>> =
        sqlx::query_scalar("select source_quote_id from oms.sales_order where order_id = $1 and tenant_id = $2")
            .bind(order)
            .bind(tenant)
            .fetch_optional(&mut *db)
            .await?;
    let Some(Some(quote)) = source else { return Ok(None) };
    let (quote_number, acceptance_ref): (Option<String>, Option<String>) = sqlx::query_as(
        "select quote_number, acceptance_ref from cpq.quote where quote_id = $1 and tenant_id = $2",
    )
    .bind(quote)
    .bind(tenant)
    .fetch_optional(&mut *db)
    .await?
    .unwrap_or((None, None));
    let rows: Vec<OrderRow> = sqlx::query_as(
        "select order_id, order_number, status, version, origin, acceptance_key, created_at
         from oms.sales_order where tenant_id = $1 and source_quote_id = $2
         order by created_at, order_id",
    )
    .bind(tenant)
    .bind(quote)
    .fetch_all(&mut *db)
    .await?;
    let mut orders = Vec::with_capacity(rows.len());
    for row in rows {
        let external_effects = external_effects(db, row.order_id).await?;
        orders.push(OrderEvidence {
            matches_acceptance: acceptance_ref.is_some() && row.acceptance_key == acceptance_ref,
            status: row.status.parse()?,
            order_id: row.order_id,
            order_number: row.order_number,
            version: row.version,
            origin: row.origin,
            acceptance_key: row.acceptance_key,
            created_at: row.created_at,
            external_effects,
        });
    }
    Ok(Some(DuplicateGroup { tenant_id: tenant, source_quote_id: quote, quote_number, acceptance_ref, orders }))
}

/// What the outside world may already have of an order: fulfillment requests sent (or of unknown
/// outcome), lines requested or fulfilled.
async fn external_effects(db: &mut PgConnection, order: OrderId) -> Result<Vec<String>> {
    let requests: Vec<(Option<i32>, String, Option<i32>)> = sqlx::query_as(
        "select l.line_no, f.status, f.response_code
         from oms.fulfillment_request f left join oms.sales_order_line l on l.order_line_id = f.order_line_id
         where f.order_id = $1 order by l.line_no",
    )
    .bind(order)
    .fetch_all(&mut *db)
    .await?;
    let mut effects = Vec::new();
    for (line, status, code) in requests {
        let line = line.map(|n| format!("line {n}")).unwrap_or_else(|| "a line".into());
        match (status.as_str(), code) {
            ("ACKNOWLEDGED" | "COMPLETED" | "SENT", _) => effects.push(format!("fulfillment of {line} sent to the vendor ({status})")),
            ("RECORDED", _) | ("FAILED", None) => {
                effects.push(format!("fulfillment of {line} may have reached the vendor (outcome unknown)"))
            }
            _ => {}
        }
    }
    let lines: Vec<(i32, String)> = sqlx::query_as(
        "select line_no, status from oms.sales_order_line where order_id = $1 and status in ($2, $3) order by line_no",
    )
    .bind(order)
    .bind(OrderLineStatus::FulfillmentRequested.as_str())
    .bind(OrderLineStatus::Fulfilled.as_str())
    .fetch_all(&mut *db)
    .await?;
    effects.extend(lines.into_iter().map(|(n, s)| format!("line {n} is {s}")));
    Ok(effects)
}

crate::named_enum!(/// Why duplicates cannot be resolved by cancelling.
ConflictKind {
    /// There is no second live order.
    NothingToResolve => "NOTHING_TO_RESOLVE",
    /// Several orders have external effects: escalate.
    SeveralWithEffects => "SEVERAL_WITH_EFFECTS",
    /// The override names an order that cannot stay.
    NotACandidate => "NOT_A_CANDIDATE",
    /// The order to cancel has external effects.
    CancelHasEffects => "CANCEL_HAS_EFFECTS",
    /// The order machine cannot cancel it.
    NotCancellable => "NOT_CANCELLABLE",
});

/// One reason the duplicates cannot be resolved by cancelling.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub kind: ConflictKind,
    pub detail: String,
}

/// Which order stays, which are cancelled, and why — or why none can be chosen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Choice {
    /// The order that stays (the override's when it is allowed).
    pub canonical: Option<OrderId>,
    /// What the evidence alone chooses.
    pub by_evidence: Option<OrderId>,
    /// Live orders to cancel.
    pub cancel: Vec<OrderId>,
    /// Why the canonical order is the canonical one.
    pub because: Vec<String>,
    /// Why the duplicates cannot be resolved by cancelling (escalate): empty when they can.
    pub conflicts: Vec<Conflict>,
    /// Said when an operator's override differs from the evidence.
    pub overridden: Option<String>,
}

impl Choice {
    fn conflict(&mut self, kind: ConflictKind, detail: impl Into<String>) {
        self.conflicts.push(Conflict { kind, detail: detail.into() });
    }

    /// The conflicts of one kind, said.
    pub fn conflicts_of(&self, kind: ConflictKind) -> Vec<&str> {
        self.conflicts.iter().filter(|c| c.kind == kind).map(|c| c.detail.as_str()).collect()
    }
}

/// Chooses the canonical order of `group` (see the module doc); `choose` is an operator's override.
pub fn choose_canonical(group: &DuplicateGroup, choose: Option<OrderId>) -> Choice {
    let live: Vec<&OrderEvidence> = group.orders.iter().filter(|o| o.is_live()).collect();
    let mut choice = Choice { canonical: None, by_evidence: None, cancel: vec![], because: vec![], conflicts: vec![], overridden: None };
    if group.orders.len() < 2 {
        choice.conflict(ConflictKind::NothingToResolve, "no other order was captured from this quote: there is no duplicate");
        return choice;
    }
    if live.len() < 2 {
        choice.conflict(ConflictKind::NothingToResolve, format!(
            "{} of the quote's {} orders are cancelled already: nothing is left to resolve",
            group.orders.len() - live.len(),
            group.orders.len()
        ));
        return choice;
    }
    let with_effects: Vec<&&OrderEvidence> = live.iter().filter(|o| !o.external_effects.is_empty()).collect();
    if with_effects.len() > 1 {
        choice.conflict(ConflictKind::SeveralWithEffects, format!(
            "{} orders have external effects ({}): cancelling either needs a business compensation — escalate to the \
             domain owner",
            with_effects.len(),
            with_effects.iter().map(|o| format!("{}: {}", o.order_number, o.external_effects.join("; "))).collect::<Vec<_>>().join(" | ")
        ));
    }
    let mut ranked = live.clone();
    ranked.sort_by_key(|o| {
        (o.external_effects.is_empty(), !o.matches_acceptance, o.origin != "PLATFORM", o.created_at, o.order_id.as_uuid())
    });
    let best = ranked[0];
    choice.by_evidence = Some(best.order_id);
    let second = ranked[1];
    choice.because.push(if !best.external_effects.is_empty() {
        format!("{} has external effects ({}): it stays", best.order_number, best.external_effects.join("; "))
    } else if best.matches_acceptance && !second.matches_acceptance {
        format!("{} carries the quote's acceptance evidence (key {})", best.order_number, best.acceptance_key.clone().unwrap_or_default())
    } else if best.origin == "PLATFORM" && second.origin != "PLATFORM" {
        format!("{} was captured by the platform's acceptance (idempotency key {}); {} is a {} copy", best.order_number,
            best.acceptance_key.clone().unwrap_or_default(), second.order_number, second.origin)
    } else {
        format!("{} was committed first ({})", best.order_number, best.created_at.to_rfc3339())
    });
    if best.external_effects.is_empty() {
        choice.because.push("no order of the quote has external effects yet".into());
    }

    let canonical = match choose {
        None => best,
        Some(id) => match live.iter().find(|o| o.order_id == id) {
            Some(chosen) => {
                if chosen.order_id != best.order_id {
                    choice.overridden = Some(format!(
                        "the operator keeps {} where the evidence keeps {}",
                        chosen.order_number, best.order_number
                    ));
                }
                chosen
            }
            None => {
                let why = if group.orders.iter().any(|o| o.order_id == id) {
                    format!("order {id} is cancelled: it cannot be the canonical order")
                } else {
                    format!("order {id} was not captured from this quote")
                };
                choice.conflict(ConflictKind::NotACandidate, why);
                return choice;
            }
        },
    };
    choice.canonical = Some(canonical.order_id);
    for other in live.iter().filter(|o| o.order_id != canonical.order_id) {
        if !other.external_effects.is_empty() && with_effects.len() == 1 {
            choice.conflict(ConflictKind::CancelHasEffects, format!(
                "{} has external effects ({}): it cannot be the order cancelled",
                other.order_number,
                other.external_effects.join("; ")
            ));
        }
        if let Err(refusal) = transition::<Order>(other.status, OrderCommand::Cancel) {
            choice.conflict(ConflictKind::NotCancellable, format!("{}: {refusal}", other.order_number));
        }
        choice.cancel.push(other.order_id);
    }
    choice
}

/// What cancelling a duplicate did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CancelledDuplicate {
    pub order_id: OrderId,
    pub canonical_order_id: OrderId,
    pub order_version: i64,
    pub lines_cancelled: Vec<i32>,
    /// Its process instances, to end after the commit (the steps of `follow_ups`).
    pub instances_to_end: Vec<String>,
    /// The engine calls the cancellation still owes, to carry out after the commit.
    pub follow_ups: Vec<EngineStep>,
}

/// Cancels `duplicate` in favour of `canonical`, inside `tx`: both rows locked (in id order), checked to
/// be of the same tenant and quote, the duplicate at `expected_version` and without lines handed to the
/// vendor; its open lines `CANCEL` and the order `CANCEL` through their machines (reason naming the
/// canonical order) and the resolution recorded with `evidence`. Its process instances are read from the
/// engine (unreachable: refused, nothing changed) but not ended here: ending them is returned as
/// [`EngineStep`]s the caller records with the change and carries out after the commit
/// ([`crate::orchestration::follow_up`]) — ending an instance that is already gone is the same result.
#[allow(clippy::too_many_arguments)]
#[tracing::instrument(skip(tx, engine, evidence, ctx), fields(actor = %ctx.actor), err(Display))]
pub async fn cancel_duplicate(
    tx: &mut PgConnection,
    engine: &EngineClient,
    tenant: TenantId,
    duplicate: OrderId,
    expected_version: i64,
    canonical: OrderId,
    evidence: &serde_json::Value,
    ctx: &CommandContext,
) -> Result<CancelledDuplicate> {
    if duplicate == canonical {
        return Err(Error::refused("an order is not its own duplicate"));
    }
    let mut ids = [duplicate, canonical];
    ids.sort_by_key(|id| id.as_uuid());
    let rows: Vec<(OrderId, Option<QuoteId>, String, i64)> = sqlx::query_as(
        "select order_id, source_quote_id, status, version from oms.sales_order
         where tenant_id = $1 and order_id = any($2) order by order_id for update",
    )
    .bind(tenant)
    .bind(&ids[..])
    .fetch_all(&mut *tx)
    .await?;
    let find = |id: OrderId| rows.iter().find(|r| r.0 == id).ok_or_else(|| Error::NotFound { entity: EntityKind::Order, id: id.to_string() });
    let (_, dup_quote, _, dup_version) = find(duplicate)?.clone();
    let (_, canon_quote, canon_status, _) = find(canonical)?.clone();
    let quote = dup_quote.ok_or_else(|| Error::refused(format!("order {duplicate} has no source quote: it is nobody's duplicate")))?;
    if canon_quote != Some(quote) {
        return Err(Error::refused(format!("orders {duplicate} and {canonical} were not captured from the same quote")));
    }
    if canon_status == OrderStatus::Cancelled.as_str() {
        return Err(Error::refused(format!("the canonical order {canonical} is cancelled")));
    }
    if dup_version != expected_version {
        return Err(Error::Conflict { entity: EntityKind::Order, id: duplicate.to_string(), expected: expected_version, found: dup_version });
    }
    let lines: Vec<(OrderLineId, i32, String)> =
        sqlx::query_as("select order_line_id, line_no, status from oms.sales_order_line where order_id = $1 order by line_no")
            .bind(duplicate)
            .fetch_all(&mut *tx)
            .await?;
    if let Some((_, n, s)) = lines.iter().find(|(_, _, s)| {
        matches!(s.parse(), Ok(OrderLineStatus::FulfillmentRequested | OrderLineStatus::Fulfilled))
    }) {
        return Err(Error::refused(format!("line {n} of order {duplicate} is {s}: the vendor has it, cancelling needs a compensation")));
    }
    let ctx = ctx.clone().with_reason(format!(
        "duplicate of order {canonical} (quote {quote}){}",
        ctx.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
    ));
    let mut lines_cancelled = Vec::new();
    for (line, n, status) in &lines {
        if matches!(status.parse(), Ok(OrderLineStatus::Pending | OrderLineStatus::Reserved | OrderLineStatus::Failed)) {
            apply_order_line_command(tx, tenant, duplicate, *line, crate::order::OrderLineCommand::Cancel, &ctx).await?;
            lines_cancelled.push(*n);
        }
    }
    let change = apply_order_command(tx, tenant, duplicate, None, OrderCommand::Cancel, &ctx).await?;
    sqlx::query(
        "insert into oms.duplicate_order_resolution
           (resolution_id, tenant_id, source_quote_id, duplicate_order_id, canonical_order_id, evidence, reason,
            resolved_by, repair_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(quote)
    .bind(duplicate)
    .bind(canonical)
    .bind(evidence)
    .bind(ctx.reason.as_deref().unwrap_or_default())
    .bind(ctx.actor.as_str())
    .bind(ctx.repair_id)
    .execute(&mut *tx)
    .await
    .map_err(Error::from_db)?;
    let reason = format!("opsdeck: order cancelled as a duplicate of {canonical}");
    let instances_to_end: Vec<String> = engine
        .instances_by_business_key(&BusinessKey::for_order(tenant, duplicate))
        .await
        .map_err(engine_refusal)?
        .into_iter()
        .map(|i| i.id)
        .collect();
    let follow_ups = instances_to_end
        .iter()
        .map(|id| EngineStep::EndInstance { process_instance_id: id.clone(), reason: reason.clone() })
        .collect();
    tracing::warn!(%duplicate, %canonical, %quote, "duplicate order cancelled");
    Ok(CancelledDuplicate {
        order_id: duplicate,
        canonical_order_id: canonical,
        order_version: change.version,
        lines_cancelled,
        instances_to_end,
        follow_ups,
    })
}

/// The engine's failure, as the platform's refusal: nothing of the cancellation stays.
fn engine_refusal(error: crate::engine::EngineError) -> Error {
    Error::refused(format!("the process engine could not list the duplicate's processes: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(n: u128, status: OrderStatus, origin: &str, key: &str, minutes: i64, effects: &[&str]) -> OrderEvidence {
        OrderEvidence {
            order_id: OrderId::from_uuid(Uuid::from_u128(n)),
            order_number: format!("SO-{n}"),
            status,
            version: 1,
            origin: origin.into(),
            acceptance_key: Some(key.into()),
            created_at: DateTime::from_timestamp(1_800_000_000 + minutes * 60, 0).unwrap(),
            matches_acceptance: key == "accept-1",
            external_effects: effects.iter().map(|e| e.to_string()).collect(),
        }
    }

    fn group(orders: Vec<OrderEvidence>) -> DuplicateGroup {
        DuplicateGroup {
            tenant_id: crate::tenants::ACME,
            source_quote_id: QuoteId::from_uuid(Uuid::from_u128(99)),
            quote_number: Some("Q-1".into()),
            acceptance_ref: Some("accept-1".into()),
            orders,
        }
    }

    fn id(n: u128) -> OrderId {
        OrderId::from_uuid(Uuid::from_u128(n))
    }

    #[test]
    fn the_platforms_capture_stays_over_a_legacy_copy_made_earlier() {
        let g = group(vec![
            order(2, OrderStatus::Captured, "LEGACY_IMPORT", "accept-1", 0, &[]),
            order(1, OrderStatus::Captured, "PLATFORM", "accept-1", 5, &[]),
        ]);
        let c = choose_canonical(&g, None);
        assert_eq!((c.canonical, c.cancel.clone()), (Some(id(1)), vec![id(2)]));
        assert!(c.conflicts.is_empty(), "{:?}", c.conflicts);
        assert!(c.because[0].contains("captured by the platform's acceptance"), "{:?}", c.because);
    }

    #[test]
    fn acceptance_evidence_outweighs_the_earliest_commit() {
        let g = group(vec![
            order(1, OrderStatus::Captured, "PLATFORM", "accept-other", 0, &[]),
            order(2, OrderStatus::Orchestrating, "PLATFORM", "accept-1", 5, &[]),
        ]);
        let c = choose_canonical(&g, None);
        assert_eq!(c.canonical, Some(id(2)));
        assert!(c.because[0].contains("acceptance evidence"));
    }

    #[test]
    fn the_order_with_external_effects_stays_and_two_with_effects_are_escalated() {
        let one = group(vec![
            order(1, OrderStatus::Captured, "PLATFORM", "accept-1", 0, &[]),
            order(2, OrderStatus::InProgress, "LEGACY_IMPORT", "accept-1", 5, &["line 1 is FULFILLMENT_REQUESTED"]),
        ]);
        let c = choose_canonical(&one, None);
        assert_eq!((c.canonical, c.cancel.clone()), (Some(id(2)), vec![id(1)]));
        assert!(c.conflicts.is_empty());
        // Overriding it would cancel the order the vendor has.
        let c = choose_canonical(&one, Some(id(1)));
        assert!(c.overridden.is_some());
        assert!(c.conflicts_of(ConflictKind::CancelHasEffects)[0].contains("cannot be the order cancelled"), "{:?}", c.conflicts);

        let both = group(vec![
            order(1, OrderStatus::Fulfilled, "PLATFORM", "accept-1", 0, &["line 1 is FULFILLED"]),
            order(2, OrderStatus::InProgress, "LEGACY_IMPORT", "accept-1", 5, &["line 1 is FULFILLMENT_REQUESTED"]),
        ]);
        let c = choose_canonical(&both, None);
        assert!(c.conflicts_of(ConflictKind::SeveralWithEffects)[0].contains("escalate"), "{:?}", c.conflicts);
    }

    #[test]
    fn nothing_to_resolve_without_two_live_orders_and_an_override_must_be_one_of_them() {
        let single = group(vec![order(1, OrderStatus::Captured, "PLATFORM", "accept-1", 0, &[])]);
        assert!(choose_canonical(&single, None).conflicts_of(ConflictKind::NothingToResolve)[0].contains("no duplicate"));
        let settled = group(vec![
            order(1, OrderStatus::Captured, "PLATFORM", "accept-1", 0, &[]),
            order(2, OrderStatus::Cancelled, "LEGACY_IMPORT", "accept-1", 5, &[]),
        ]);
        assert!(choose_canonical(&settled, None).conflicts_of(ConflictKind::NothingToResolve)[0].contains("nothing is left"));
        let g = group(vec![
            order(1, OrderStatus::Captured, "PLATFORM", "accept-1", 0, &[]),
            order(2, OrderStatus::Captured, "LEGACY_IMPORT", "accept-1", 5, &[]),
        ]);
        assert!(choose_canonical(&g, Some(id(7))).conflicts_of(ConflictKind::NotACandidate)[0].contains("not captured from this quote"));
        let c = choose_canonical(&g, Some(id(2)));
        assert_eq!((c.canonical, c.by_evidence), (Some(id(2)), Some(id(1))));
        assert!(c.overridden.unwrap().contains("the operator keeps SO-2"));
    }

    #[test]
    fn a_partially_fulfilled_duplicate_cannot_be_cancelled() {
        let g = group(vec![
            order(1, OrderStatus::Captured, "PLATFORM", "accept-1", 0, &[]),
            order(2, OrderStatus::PartiallyFulfilled, "LEGACY_IMPORT", "accept-1", 5, &[]),
        ]);
        let c = choose_canonical(&g, Some(id(1)));
        assert!(c.conflicts_of(ConflictKind::NotCancellable)[0].contains("cannot CANCEL"), "{:?}", c.conflicts);
    }
}
