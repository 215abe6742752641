//! Replay the projection for an aggregate (lesson §11.5, §23.5): the order projection is behind its order
//! (an event was quarantined, a consumer group was reset) and nothing left in the outbox will bring it
//! forward. The order's current state is announced again — an `OrderStateReplayed` event at its current
//! version, through the outbox (`platform::command::replay_order_state`) — so the normal path carries it:
//! relay → Kafka → projection consumer, deduplicated by the inbox and applied only if the projection is
//! behind (the version guard). Never a write to the projection. Refused when the projection is not behind.

use platform::command::{replay_order_state, CommandContext};
use platform::ids::{OrderId, OutboxEventId};
use platform::query::{OrderDetail, ProjectionState};
use serde_json::{json, Value};
use sqlx::PgConnection;

use super::{check, judged, live_worker, order_of, proposed, Outcome, Patience, Services, Target};
use crate::error::{Error, Result};
use crate::repair::model::{DryRun, Recheck, RepairInfo, RepairType, Risk, SafetyCheck, Verdict};

pub const INFO: RepairInfo = RepairInfo {
    repair_type: RepairType::ReplayProjection,
    title: "Replay the projection for an order",
    entity_type: "ORDER",
    base_risk: Risk::Low,
    checks: "The order projection is behind the order (missing, or at a lower version) — not in step, not \
             diverged at the same version, not ahead; no event of the order still waits in the outbox (they \
             would bring it forward, and a replay queues behind them); the relay and the projection consumer \
             are running; the §11.5 checklist (idempotent, version-guarded consumer; one aggregate; the \
             current schema).",
    changes: "One OrderStateReplayed event with the order's current state at its current version, enqueued in \
              the outbox: the relay publishes it and the consumer applies it only where the projection is \
              behind. The order and the projection are never written directly. Re-checked: the event was \
              published and the projection is in step.",
    approvers: "none (LOW risk): the requester executes after confirming the dry-run",
    runbook: "kafka-consumer-lag",
    lesson: "§11.5, §23.5",
    parameters: &[],
};

const BEHIND: &str = "Is the projection behind the order?";
const WAITING: &str = "Do events of the order still wait in the outbox?";

fn projection_check(detail: &OrderDetail) -> SafetyCheck {
    let order = &detail.order;
    let at = detail.projection.as_ref().map(|p| format!("version {} ({})", p.aggregate_version, p.status)).unwrap_or_default();
    match detail.projection_state() {
        ProjectionState::Behind { versions } => SafetyCheck::new(
            BEHIND,
            Verdict::Pass,
            format!("the projection is at {at}, the order at version {} ({}): {versions} behind", order.version, order.status),
        ),
        ProjectionState::Missing => SafetyCheck::new(BEHIND, Verdict::Pass, "the order has no projection row yet"),
        ProjectionState::Current => SafetyCheck::new(BEHIND, Verdict::Fail, format!("no: it is in step at {at}: there is nothing to replay")),
        ProjectionState::Diverged => SafetyCheck::new(
            BEHIND,
            Verdict::Fail,
            format!(
                "no: it is at the order's version but says {at} against the order's {} — the version guard ignores a \
                 replay at the same version; find what wrote it (§23.5)",
                order.status
            ),
        ),
        ProjectionState::Ahead { versions } => SafetyCheck::new(
            BEHIND,
            Verdict::Fail,
            format!(
                "no: it is {versions} version(s) ahead of the order ({at}): something other than the consumer wrote it; a \
                 replay cannot move it back (§23.5)"
            ),
        ),
    }
}

pub async fn assess(db: &mut PgConnection, _services: &Services, target: &Target) -> Result<DryRun> {
    let detail = order_of(db, target).await?;
    let order = &detail.order;
    let mut checks = vec![projection_check(&detail)];

    let waiting: Vec<String> = detail
        .outbox_events
        .iter()
        .filter(|e| matches!(e.status.as_str(), "PENDING" | "PROCESSING" | "FAILED"))
        .map(|e| format!("{} v{} {}", e.event_type, e.aggregate_version, e.status))
        .collect();
    checks.push(if waiting.is_empty() {
        SafetyCheck::new(WAITING, Verdict::Pass, "no: every event of the order was published or quarantined")
    } else {
        SafetyCheck::new(
            WAITING,
            Verdict::Fail,
            format!(
                "{} wait ({}): publishing them brings the projection forward, and a replay would queue behind them — \
                 release a dead relay's claims or quarantine a poison event first",
                waiting.len(),
                waiting.join(", ")
            ),
        )
    });
    for (question, kind, what) in [
        ("Is the outbox relay running?", platform::relay::WORKER_KIND, "the relay"),
        ("Is the projection consumer running?", platform::projection::WORKER_KIND, "the consumer"),
    ] {
        checks.push(match live_worker(db, kind).await? {
            Some(w) if w.paused => SafetyCheck::new(
                question,
                Verdict::Warn,
                format!("{} is paused: the replayed event waits until it resumes", w.instance_id),
            ),
            Some(w) => SafetyCheck::new(question, Verdict::Pass, format!("{} beat {} s ago", w.instance_id, w.seconds_ago)),
            None => SafetyCheck::new(
                question,
                Verdict::Warn,
                format!("no live {what}: the replayed event waits until one runs, and the re-check will find the projection behind"),
            ),
        });
    }
    checks.push(SafetyCheck::new(
        "Is the consumer idempotent and version-guarded (§11.5)?",
        Verdict::Pass,
        "yes: the inbox deduplicates by (consumer group, event id) and the projection only moves to a higher \
         aggregate version — the replay changes it only if it is behind",
    ));
    checks.push(SafetyCheck::new(
        "Is the replay limited to one aggregate, in a schema the consumer reads?",
        Verdict::Pass,
        format!("one order, one OrderStateReplayed event at version {} in the current schema", order.version),
    ));

    let proposed = json!({
        "event": "OrderStateReplayed",
        "aggregate_version": order.version,
        "status": order.status,
        "path": "outbox → relay → Kafka → projection consumer (inbox, version guard)",
    });
    let before = json!({
        "order": { "number": order.order_number, "status": order.status, "version": order.version },
        "projection": detail.projection.as_ref().map(|p| json!({ "status": p.status, "aggregate_version": p.aggregate_version, "projected_at": p.projected_at })),
        "projection_state": detail.projection_state(),
        "outbox": detail.outbox_events.iter().map(|e| json!({ "event_type": e.event_type, "version": e.aggregate_version, "status": e.status })).collect::<Vec<_>>(),
    });
    Ok(DryRun { entity_version: Some(order.version), before, proposed, checks, base_risk: INFO.base_risk, raised_because: Vec::new() })
}

pub async fn apply(db: &mut PgConnection, _services: &Services, target: &Target, dry: &DryRun, ctx: &CommandContext) -> Result<Value> {
    let replay = replay_order_state(db, target.tenant, OrderId::from_uuid(target.entity_id), dry.entity_version, ctx).await?;
    Ok(json!({ "outbox_event_id": replay.outbox_event_id, "status": replay.status, "aggregate_version": replay.version }))
}

/// Coherent when the replayed event was published and the projection is in step with the order — given
/// [`Services::recheck_wait`] for the relay and the consumer.
pub async fn recheck(db: &mut PgConnection, services: &Services, target: &Target, outcome: Outcome<'_>) -> Result<Recheck> {
    let after = outcome.after.ok_or_else(|| Error::Internal("an executed replay keeps its event".into()))?;
    let event: OutboxEventId = proposed(after, "outbox_event_id")?;
    let patience = Patience::new(services.recheck_wait);
    let (detail, published) = loop {
        let detail = order_of(db, target).await?;
        let published = detail.outbox_events.iter().find(|e| e.outbox_event_id == event).cloned();
        let settled = detail.projection_state() == ProjectionState::Current
            || published.as_ref().is_some_and(|e| e.status == "QUARANTINED" || (e.status == "FAILED" && e.next_attempt_at.is_none()));
        if settled || !patience.wait().await {
            break (detail, published);
        }
    };
    let at = detail.projection.as_ref().map(|p| format!("version {} ({})", p.aggregate_version, p.status)).unwrap_or_else(|| "no row".into());
    Ok(judged(vec![
        check(
            "Was the replayed event published?",
            published.as_ref().is_some_and(|e| e.status == "PUBLISHED"),
            match &published {
                Some(e) if e.status == "PUBLISHED" => format!(
                    "to {} partition {} offset {}",
                    e.kafka_topic.as_deref().unwrap_or("?"),
                    e.kafka_partition.unwrap_or_default(),
                    e.kafka_offset.unwrap_or_default()
                ),
                Some(e) => format!("it is {}{}: is the relay running?", e.status, e.last_error.as_deref().map(|l| format!(" ({l})")).unwrap_or_default()),
                None => "the event is not in the outbox".to_string(),
            },
        ),
        check(
            "Is the projection in step with the order?",
            detail.projection_state() == ProjectionState::Current,
            format!("projection at {at}, order at version {} ({})", detail.order.version, detail.order.status),
        ),
    ]))
}
