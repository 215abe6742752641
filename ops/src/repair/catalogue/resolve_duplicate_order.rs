//! Resolve a duplicate order (lesson §9.3–9.4): two orders captured from one accepted quote. The first
//! order is not automatically the valid one: the canonical order is chosen from the evidence
//! (`platform::duplicate::choose_canonical`: external effects, the customer's acceptance evidence, the
//! idempotency path, the earliest commit) or named by the operator against it (said in the dry-run); the
//! others are cancelled through the order machine with the evidence recorded, and their processes ended.
//! Refused — escalate to the domain owner — when more than one order already has external effects, or
//! when the order to cancel has them: that is a compensation, a business decision. Always HIGH risk.

use platform::command::CommandContext;
use platform::duplicate::{cancel_duplicate, choose_canonical, duplicate_group, ConflictKind, DuplicateGroup, OrderEvidence};
use platform::engine::BusinessKey;
use platform::ids::OrderId;
use platform::order::OrderStatus;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::PgConnection;

use super::{check, engine_error, judged, proposed, Applied, Outcome, Services, Target};
use crate::error::{Error, Result};
use crate::repair::input::Parameters;
use crate::repair::model::{DryRun, ParamKind, ParamSpec, Recheck, RepairInfo, RepairType, Risk, SafetyCheck, Verdict};

const CANONICAL: &str = "canonical_order_id";

pub const INFO: RepairInfo = RepairInfo {
    repair_type: RepairType::ResolveDuplicateOrder,
    title: "Resolve a duplicate order",
    entity_type: "ORDER",
    base_risk: Risk::High,
    checks: "Several live orders share the order's tenant and source quote; the canonical one is chosen from \
             the evidence — external effects, acceptance evidence, idempotency key (captured by the platform, \
             not imported), earliest commit — or named by the operator (said when it differs); refused when \
             more than one order has external effects, or the order to cancel has them (escalate: a \
             compensation), or the order machine cannot cancel it.",
    changes: "Each non-canonical order: its open lines CANCEL and the order CANCEL through their machines \
              (reason naming the canonical order) and the resolution with its evidence recorded \
              (oms.duplicate_order_resolution); after the commit, its process instances ended in the engine (a \
              recorded follow-up, retried until the engine answers). No row is deleted.",
    approvers: "approver (a second person)",
    runbook: "duplicate-order",
    lesson: "§9.3–9.4",
    parameters: &[ParamSpec {
        name: CANONICAL,
        label: "Order to keep, when you override the evidence (its id)",
        required: false,
        kind: ParamKind::Id,
    }],
};

/// One order the repair cancels, as the dry-run found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct ToCancel {
    order_id: OrderId,
    order_number: String,
    status: OrderStatus,
    version: i64,
    /// Its process instances, ended with it.
    process_instances: Vec<String>,
}

fn evidence_json(o: &OrderEvidence) -> Value {
    json!({
        "order_id": o.order_id, "order_number": o.order_number, "status": o.status, "version": o.version,
        "origin": o.origin, "acceptance_key": o.acceptance_key, "matches_acceptance": o.matches_acceptance,
        "created_at": o.created_at, "external_effects": o.external_effects,
    })
}

async fn group(db: &mut PgConnection, target: &Target) -> Result<Option<DuplicateGroup>> {
    let group = duplicate_group(db, target.tenant, OrderId::from_uuid(target.entity_id)).await?;
    if group.is_none() {
        // No order, or an order without a source quote.
        super::order_of(db, target).await?;
    }
    Ok(group)
}

pub async fn assess(db: &mut PgConnection, services: &Services, target: &Target, parameters: &Parameters) -> Result<DryRun> {
    let order = super::order_of(db, target).await?;
    let group = group(db, target).await?.unwrap_or_else(|| DuplicateGroup {
        tenant_id: target.tenant,
        source_quote_id: platform::ids::QuoteId::from_uuid(uuid::Uuid::nil()),
        quote_number: None,
        acceptance_ref: None,
        orders: vec![],
    });
    let choice = choose_canonical(&group, parameters.id(CANONICAL).map(OrderId::from_uuid));
    let number = |id: OrderId| group.orders.iter().find(|o| o.order_id == id).map(|o| o.order_number.clone()).unwrap_or_default();
    let mut checks = Vec::new();
    let mut raised = Vec::new();

    let nothing = choice.conflicts_of(ConflictKind::NothingToResolve);
    checks.push(if group.orders.is_empty() {
        SafetyCheck::new("Were several orders captured from the same quote?", Verdict::Fail, "the order has no source quote: it is nobody's duplicate")
    } else if let Some(why) = nothing.first() {
        SafetyCheck::new("Were several orders captured from the same quote?", Verdict::Fail, *why)
    } else {
        SafetyCheck::new(
            "Were several orders captured from the same quote?",
            Verdict::Pass,
            format!(
                "{} orders from quote {}: {}",
                group.orders.len(),
                group.quote_number.as_deref().unwrap_or("?"),
                group.orders.iter().map(|o| format!("{} ({}, {})", o.order_number, o.status, o.origin)).collect::<Vec<_>>().join(", ")
            ),
        )
    });
    if nothing.is_empty() && !group.orders.is_empty() {
        const Q: &str = "Which order is canonical, and on what evidence?";
        checks.push(match (choice.canonical, choice.conflicts_of(ConflictKind::NotACandidate).first(), &choice.overridden) {
            (_, Some(why), _) => SafetyCheck::new(Q, Verdict::Fail, *why),
            (Some(_), None, Some(overridden)) => SafetyCheck::new(
                Q,
                Verdict::Warn,
                format!("{overridden} ({}): the approver weighs the operator's reason", choice.because.join("; ")),
            ),
            (Some(c), None, None) => SafetyCheck::new(Q, Verdict::Pass, format!("{} stays: {}", number(c), choice.because.join("; "))),
            (None, None, _) => SafetyCheck::new(Q, Verdict::Fail, "no order can stay"),
        });
        let several = choice.conflicts_of(ConflictKind::SeveralWithEffects);
        let with_effects: Vec<&OrderEvidence> = group.orders.iter().filter(|o| o.is_live() && !o.external_effects.is_empty()).collect();
        checks.push(match (several.first(), with_effects.as_slice()) {
            (Some(why), _) => SafetyCheck::new("Does more than one order have external effects?", Verdict::Fail, *why),
            (None, []) => SafetyCheck::new("Does more than one order have external effects?", Verdict::Pass, "no order has any yet"),
            (None, [one, ..]) => {
                raised.push(format!("{} has external effects: {}", one.order_number, one.external_effects.join("; ")));
                SafetyCheck::new(
                    "Does more than one order have external effects?",
                    Verdict::Pass,
                    format!("only {} ({}): it must be the one that stays", one.order_number, one.external_effects.join("; ")),
                )
            }
        });
        let blocked: Vec<&str> = [ConflictKind::CancelHasEffects, ConflictKind::NotCancellable]
            .into_iter()
            .flat_map(|k| choice.conflicts_of(k))
            .collect();
        checks.push(if blocked.is_empty() {
            SafetyCheck::new(
                "Can the other orders be cancelled through the order machine, without a compensation?",
                Verdict::Pass,
                choice.cancel.iter().map(|id| number(*id)).collect::<Vec<_>>().join(", "),
            )
        } else {
            SafetyCheck::new(
                "Can the other orders be cancelled through the order machine, without a compensation?",
                Verdict::Fail,
                format!("{} — escalate to the domain owner", blocked.join("; ")),
            )
        });
        checks.push(SafetyCheck::new(
            "Were invoices or customer messages already sent for an order?",
            Verdict::Warn,
            "this platform keeps no billing records and sends no customer messages: the approver checks billing and \
             the CRM before approving (§9.4)",
        ));
    }

    let mut cancel = Vec::new();
    for id in &choice.cancel {
        let o = group.orders.iter().find(|o| o.order_id == *id).expect("a cancelled order is of the group");
        let instances = services
            .engine
            .instances_by_business_key(&BusinessKey::for_order(target.tenant, *id))
            .await
            .map_err(engine_error)?;
        cancel.push(ToCancel {
            order_id: *id,
            order_number: o.order_number.clone(),
            status: o.status,
            version: o.version,
            process_instances: instances.into_iter().map(|i| i.id).collect(),
        });
    }
    let proposed = json!({
        "order_command": "CANCEL",
        "line_command": "CANCEL",
        "source_quote_id": group.source_quote_id,
        "canonical": choice.canonical,
        "by_evidence": choice.by_evidence,
        "because": choice.because,
        "overridden": choice.overridden,
        "cancel": cancel,
    });
    let before = json!({
        "quote": { "quote_id": group.source_quote_id, "number": group.quote_number, "acceptance_ref": group.acceptance_ref },
        "orders": group.orders.iter().map(evidence_json).collect::<Vec<_>>(),
    });
    Ok(DryRun { entity_version: Some(order.order.version), before, proposed, checks, base_risk: INFO.base_risk, raised_because: raised })
}

pub async fn apply(db: &mut PgConnection, services: &Services, target: &Target, dry: &DryRun, ctx: &CommandContext) -> Result<Applied> {
    let canonical: OrderId = proposed(&dry.proposed, "canonical")?;
    let cancel: Vec<ToCancel> = proposed(&dry.proposed, "cancel")?;
    if cancel.is_empty() {
        return Err(Error::rule("the dry-run found no order to cancel"));
    }
    let evidence = json!({
        "canonical": canonical,
        "by_evidence": dry.proposed["by_evidence"],
        "because": dry.proposed["because"],
        "overridden": dry.proposed["overridden"],
        "orders": dry.before["orders"],
    });
    let mut done = Vec::new();
    let mut follow_ups = Vec::new();
    for order in &cancel {
        let cancelled = cancel_duplicate(db, &services.engine, target.tenant, order.order_id, order.version, canonical, &evidence, ctx).await?;
        done.push(json!({
            "order_id": cancelled.order_id,
            "order_number": order.order_number,
            "status": OrderStatus::Cancelled,
            "version": cancelled.order_version,
            "lines_cancelled": cancelled.lines_cancelled,
            "process_instances_to_end": cancelled.instances_to_end,
        }));
        follow_ups.extend(cancelled.follow_ups);
    }
    Ok(Applied { after: json!({ "canonical": canonical, "cancelled": done }), follow_ups })
}

/// Coherent when the canonical order is the quote's one live order, and every cancelled one is CANCELLED,
/// without a process, with its resolution recorded.
pub async fn recheck(db: &mut PgConnection, services: &Services, target: &Target, outcome: Outcome<'_>) -> Result<Recheck> {
    let canonical: OrderId = proposed(outcome.proposed, "canonical")?;
    let cancel: Vec<ToCancel> = proposed(outcome.proposed, "cancel")?;
    let group = group(db, target).await?.ok_or_else(|| Error::not_found("order", target.entity_id))?;
    let live: Vec<&OrderEvidence> = group.orders.iter().filter(|o| o.is_live()).collect();
    let mut checks = vec![check(
        "Is the canonical order the quote's one live order?",
        live.len() == 1 && live[0].order_id == canonical,
        live.iter().map(|o| format!("{} {}", o.order_number, o.status)).collect::<Vec<_>>().join(", "),
    )];
    for order in &cancel {
        let status = group.orders.iter().find(|o| o.order_id == order.order_id).map(|o| o.status);
        let instances = services
            .engine
            .instances_by_business_key(&BusinessKey::for_order(target.tenant, order.order_id))
            .await
            .map_err(engine_error)?;
        let resolved: bool = sqlx::query_scalar(
            "select exists (select 1 from oms.duplicate_order_resolution where duplicate_order_id = $1 and canonical_order_id = $2)",
        )
        .bind(order.order_id)
        .bind(canonical)
        .fetch_one(&mut *db)
        .await?;
        checks.push(check(
            &format!("Is {} cancelled, without a process, with its resolution recorded?", order.order_number),
            status == Some(OrderStatus::Cancelled) && instances.is_empty() && resolved,
            format!(
                "{}; {} process instance(s); resolution {}",
                status.map(|s| s.to_string()).unwrap_or_else(|| "gone".into()),
                instances.len(),
                if resolved { "recorded" } else { "missing" }
            ),
        ));
    }
    Ok(judged(checks))
}
