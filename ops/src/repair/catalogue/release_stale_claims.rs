//! Release stale outbox claims (lesson §12.3): the events a dead relay still holds go back to PENDING,
//! attempts kept, so a live relay publishes them in order. Named by one of the events; releases every stale
//! claim of the same dead relay in the repair's tenant (the grain of the outbox-backlog check's
//! `STALE_OUTBOX_CLAIMS` mismatch; another tenant's claims are another repair's). "Only run after verifying no active publisher instance still owns the
//! claim": the claimer's heartbeat must be dead and the claim older than its lease.

use chrono::Utc;
use platform::command::CommandContext;
use platform::ids::OutboxEventId;
use platform::relay::release::{claim_of, claimer_dead, release_claims, Claim, HEARTBEAT_DEAD_AFTER};
use platform::relay::STALE_CLAIM_AFTER;
use serde_json::{json, Value};
use sqlx::PgConnection;

use super::{Services, Target};
use crate::error::{Error, Result};
use crate::repair::model::{DryRun, Recheck, RepairInfo, RepairType, Risk, SafetyCheck, Verdict};

pub const INFO: RepairInfo = RepairInfo {
    repair_type: RepairType::ReleaseStaleClaims,
    title: "Release stale outbox claims",
    entity_type: "OUTBOX_EVENT",
    base_risk: Risk::Low,
    checks: "The event is PROCESSING; its claim is older than the relay's lease; the relay holding it has no \
             heartbeat (it is dead). A live relay's claims are never released.",
    changes: "Every stale claim of that dead relay in the tenant back to PENDING (claim cleared, attempts kept); a live relay \
              then publishes the events in aggregate order.",
    approvers: "none (LOW risk): the requester executes after confirming the dry-run",
    runbook: "outbox-stuck",
    lesson: "§12.3",
    parameters: &[],
};

async fn load(db: &mut PgConnection, target: &Target) -> Result<Claim> {
    let claim = claim_of(db, target.tenant, OutboxEventId::from_uuid(target.entity_id))
        .await?
        .ok_or_else(|| Error::not_found("outbox event", target.entity_id))?;
    Ok(claim)
}

pub async fn assess(db: &mut PgConnection, _services: &Services, target: &Target) -> Result<DryRun> {
    let claim = load(db, target).await?;
    let now = Utc::now();
    let mut checks = Vec::new();
    checks.push(if claim.status == "PROCESSING" {
        SafetyCheck::new("Is the event claimed?", Verdict::Pass, format!("PROCESSING, claimed by {}", claim.claimed_by.clone().unwrap_or_default()))
    } else {
        SafetyCheck::new("Is the event claimed?", Verdict::Fail, format!("it is {}: there is no claim to release", claim.status))
    });
    let lease = chrono::TimeDelta::from_std(STALE_CLAIM_AFTER).expect("a small duration");
    checks.push(match claim.claimed_at {
        Some(at) if now - at > lease => SafetyCheck::new(
            "Has the claim's lease run out?",
            Verdict::Pass,
            format!("claimed {} minutes ago (lease {} minutes)", (now - at).num_minutes(), lease.num_minutes()),
        ),
        Some(at) => SafetyCheck::new(
            "Has the claim's lease run out?",
            Verdict::Fail,
            format!("claimed {} s ago: the relay may still publish it", (now - at).num_seconds()),
        ),
        None => SafetyCheck::new("Has the claim's lease run out?", Verdict::Fail, "not claimed"),
    });
    let dead = claimer_dead(claim.claimer_last_beat, now);
    checks.push(if dead {
        SafetyCheck::new(
            "Is the relay holding it dead?",
            Verdict::Pass,
            match claim.claimer_last_beat {
                Some(beat) => format!("last heartbeat {} minutes ago", (now - beat).num_minutes()),
                None => "it never left a heartbeat".to_string(),
            },
        )
    } else {
        SafetyCheck::new(
            "Is the relay holding it dead?",
            Verdict::Fail,
            format!(
                "it beat {} s ago (dead after {} s of silence): an active publisher owns the claim",
                claim.claimer_last_beat.map(|b| (now - b).num_seconds()).unwrap_or_default(),
                HEARTBEAT_DEAD_AFTER.as_secs()
            ),
        )
    });
    Ok(DryRun {
        entity_version: None,
        before: json!({
            "event": claim.outbox_event_id,
            "status": claim.status,
            "claimed_by": claim.claimed_by,
            "claimed_at": claim.claimed_at,
            "attempts": claim.attempts,
            "claimer_last_beat": claim.claimer_last_beat,
        }),
        proposed: json!({
            "release": claim.stale_of_claimer,
            "claimed_by": claim.claimed_by,
            "to_status": "PENDING",
            "attempts": "kept",
        }),
        checks,
        base_risk: INFO.base_risk,
        raised_because: Vec::new(),
    })
}

pub async fn apply(
    db: &mut PgConnection,
    _services: &Services,
    _target: &Target,
    dry: &DryRun,
    _ctx: &CommandContext,
) -> Result<Value> {
    let claimer = dry.proposed["claimed_by"].as_str().ok_or_else(|| Error::rule("no claimer to release from"))?;
    let events: Vec<OutboxEventId> = serde_json::from_value(dry.proposed["release"].clone())
        .map_err(|e| Error::Internal(format!("the proposed release is unreadable: {e}")))?;
    let released = release_claims(db, claimer, &events).await?;
    Ok(json!({ "released": released, "to_status": "PENDING" }))
}

/// Coherent when the event is no longer held by the dead relay.
pub async fn recheck(db: &mut PgConnection, _services: &Services, target: &Target) -> Result<Recheck> {
    let claim = load(db, target).await?;
    let held = claim.status == "PROCESSING" && claimer_dead(claim.claimer_last_beat, Utc::now());
    let check = SafetyCheck::new(
        "Is the event free of the dead relay's claim?",
        if held { Verdict::Fail } else { Verdict::Pass },
        format!("{}{}", claim.status, claim.claimed_by.map(|c| format!(" (claimed by {c})")).unwrap_or_default()),
    );
    Ok(Recheck { coherent: !held, checks: vec![check] })
}
