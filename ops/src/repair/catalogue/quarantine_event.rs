//! Quarantine a poison outbox event (lesson §23.4): an event the relay cannot publish — its payload is not
//! the event its type names, or the relay gave up on it — holds back every later event of its aggregate.
//! Deleting it hides the evidence; quarantine keeps it: the row becomes QUARANTINED with its reason and
//! what it was kept in `messaging.outbox_quarantine` (`platform::relay::quarantine`), the database refuses
//! to delete it or move it back, and the aggregate's later events go out. Only FAILED or poison events.
//! LOW risk — raised to HIGH when no later event of the aggregate carries a newer state: then downstream
//! never learns the change it held (unless it is replayed), which a second person should agree to.

use platform::command::CommandContext;
use platform::ids::OutboxEventId;
use platform::relay::quarantine::{event_facts, quarantine_event, EventFacts};
use serde_json::{json, Value};
use sqlx::PgConnection;

use super::{check, judged, proposed, Outcome, Services, Target};
use crate::error::{Error, Result};
use crate::repair::model::{DryRun, Recheck, RepairInfo, RepairType, Risk, SafetyCheck, Verdict};

pub const INFO: RepairInfo = RepairInfo {
    repair_type: RepairType::QuarantineEvent,
    title: "Quarantine a poison outbox event",
    entity_type: "OUTBOX_EVENT",
    base_risk: Risk::Low,
    checks: "The event is FAILED and given up by the relay, or poison (its payload is not the event its type \
             names) and not yet published — never a published, claimed or retrying valid event; what its \
             payload is; what downstream loses: when no later event of its aggregate carries a newer state, \
             the risk is HIGH.",
    changes: "The event QUARANTINED (kept, never deleted; the database refuses to move it back) with its reason, \
              status, attempts, last error and why it is unreadable recorded in messaging.outbox_quarantine \
              (append-only); the aggregate's later events are then published. Follow with replay-projection when \
              the projection needs the state it held.",
    approvers: "none when LOW (the requester executes after confirming the dry-run); an approver when it withholds \
                the aggregate's latest state",
    runbook: "outbox-stuck",
    lesson: "§23.4",
    parameters: &[],
};

const STUCK: &str = "Is it an event the relay is stuck on (given up, or poison)?";

fn event_id(target: &Target) -> OutboxEventId {
    OutboxEventId::from_uuid(target.entity_id)
}

async fn load(db: &mut PgConnection, target: &Target) -> Result<EventFacts> {
    event_facts(db, target.tenant, event_id(target)).await?.ok_or_else(|| Error::not_found("outbox event", target.entity_id))
}

fn stuck(e: &EventFacts) -> SafetyCheck {
    let last = e.last_error.as_deref().unwrap_or("no error kept");
    match (e.status.as_str(), &e.unreadable) {
        ("FAILED", _) if e.given_up() => {
            SafetyCheck::new(STUCK, Verdict::Pass, format!("the relay gave up after {} attempts: {last}", e.attempts))
        }
        ("FAILED" | "PENDING", Some(why)) => SafetyCheck::new(
            STUCK,
            Verdict::Pass,
            format!("poison ({why}): {} after {} attempts, every attempt ends the same", e.status, e.attempts),
        ),
        ("FAILED", None) => SafetyCheck::new(
            STUCK,
            Verdict::Fail,
            format!(
                "the relay tries it again at {} ({last}): it is a valid event, not poison — fix the cause and let it retry",
                e.next_attempt_at.map(|t| t.to_rfc3339()).unwrap_or_default()
            ),
        ),
        ("PENDING", None) => SafetyCheck::new(STUCK, Verdict::Fail, "it is PENDING and readable: the relay publishes it"),
        ("PROCESSING", _) => SafetyCheck::new(
            STUCK,
            Verdict::Fail,
            "a relay holds it now: if that relay is dead, release-stale-claims gives it back first",
        ),
        ("PUBLISHED", _) => SafetyCheck::new(
            STUCK,
            Verdict::Fail,
            "it is published: downstream has it — a record a consumer cannot read goes to its dead-letter topic",
        ),
        ("QUARANTINED", _) => SafetyCheck::new(
            STUCK,
            Verdict::Fail,
            match &e.quarantine {
                Some(q) => format!("already quarantined by {} at {}: {}", q.quarantined_by, q.quarantined_at.to_rfc3339(), q.reason),
                None => "already quarantined".to_string(),
            },
        ),
        (other, _) => SafetyCheck::new(STUCK, Verdict::Fail, format!("it is {other}")),
    }
}

pub async fn assess(db: &mut PgConnection, _services: &Services, target: &Target) -> Result<DryRun> {
    let e = load(db, target).await?;
    let mut raised = Vec::new();
    let mut checks = vec![stuck(&e)];
    checks.push(SafetyCheck::new(
        "Can its payload be read as the event its type names?",
        Verdict::Pass,
        match &e.unreadable {
            Some(why) => format!("no: {why}"),
            None => format!("yes: a valid {} of {} {} version {}", e.event_type, e.aggregate_type, e.aggregate_id, e.aggregate_version),
        },
    ));
    checks.push(match e.later_version {
        Some(v) => SafetyCheck::new(
            "What does downstream lose?",
            Verdict::Pass,
            format!(
                "this version only: a later event of the {} carries version {v}; {} event(s) waiting behind it go out",
                e.aggregate_type, e.waiting_behind
            ),
        ),
        None => {
            raised.push(format!(
                "it holds the {}'s latest state (version {}): downstream never learns it unless it is replayed",
                e.aggregate_type, e.aggregate_version
            ));
            SafetyCheck::new(
                "What does downstream lose?",
                Verdict::Warn,
                format!(
                    "no later event of the {} carries a newer state: consumers stay at the version before {} — replay it \
                     afterwards (replay-projection for an order)",
                    e.aggregate_type, e.aggregate_version
                ),
            )
        }
    });
    let proposed = json!({
        "to_status": "QUARANTINED",
        "from_status": e.status,
        "attempts": e.attempts,
        "aggregate": { "type": e.aggregate_type, "id": e.aggregate_id, "version": e.aggregate_version },
        "event_type": e.event_type,
        "unreadable": e.unreadable,
        "releases_behind": e.waiting_behind,
    });
    let before = json!({
        "status": e.status, "attempts": e.attempts, "last_error": e.last_error, "next_attempt_at": e.next_attempt_at,
        "created_at": e.created_at, "event_type": e.event_type, "payload": e.payload,
        "aggregate": { "type": e.aggregate_type, "id": e.aggregate_id, "version": e.aggregate_version },
        "later_version": e.later_version, "waiting_behind": e.waiting_behind,
    });
    Ok(DryRun { entity_version: None, before, proposed, checks, base_risk: INFO.base_risk, raised_because: raised })
}

pub async fn apply(db: &mut PgConnection, _services: &Services, target: &Target, dry: &DryRun, ctx: &CommandContext) -> Result<Value> {
    let from: String = proposed(&dry.proposed, "from_status")?;
    let attempts: i32 = proposed(&dry.proposed, "attempts")?;
    let reason = ctx.reason.as_deref().ok_or_else(|| Error::rule("a quarantine keeps its reason: give one"))?;
    let done = quarantine_event(db, target.tenant, event_id(target), &from, attempts, reason, ctx.actor.as_str(), ctx.repair_id).await?;
    Ok(json!({ "status": "QUARANTINED", "previous_status": done.previous_status, "attempts": done.attempts, "released_behind": done.released_behind }))
}

/// Coherent when the event is QUARANTINED with its reason recorded.
pub async fn recheck(db: &mut PgConnection, _services: &Services, target: &Target, _outcome: Outcome<'_>) -> Result<Recheck> {
    let e = load(db, target).await?;
    Ok(judged(vec![
        check(
            "Is the event quarantined, with why?",
            e.status == "QUARANTINED" && e.quarantine.is_some(),
            match &e.quarantine {
                Some(q) => format!("{} by {}: {}", e.status, q.quarantined_by, q.reason),
                None => format!("{}, no quarantine record", e.status),
            },
        ),
        check(
            "Is the rest of its aggregate free to go out?",
            e.status == "QUARANTINED",
            format!("{} later event(s) of the {} wait for the relay, no longer behind it", e.waiting_behind, e.aggregate_type),
        ),
    ]))
}
