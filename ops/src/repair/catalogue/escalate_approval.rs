//! Escalate an approval (lesson §10.3, "timer failed → trigger escalation command"): an open approval
//! request is past its due time and the escalation timer did not move it. The request ESCALATE through the
//! approval machine — one level up, due again one SLA later, back to the policy's group when nobody has it
//! (`platform::approval_timer::escalate`, what the timer does). Refused for a request that is not overdue
//! (the timer will), or bound to an old version of the quote (cancel it and request anew).

use chrono::Utc;
use platform::approval_timer::{escalate, request_state, ApprovalRequestState};
use platform::command::CommandContext;
use platform::ids::ApprovalRequestId;
use serde_json::{json, Value};
use sqlx::PgConnection;

use super::{check, judged, proposed, Outcome, Services, Target};
use crate::error::{Error, Result};
use crate::repair::model::{DryRun, Recheck, RepairInfo, RepairType, Risk, SafetyCheck, Verdict};

pub const INFO: RepairInfo = RepairInfo {
    repair_type: RepairType::EscalateApproval,
    title: "Escalate an approval",
    entity_type: "APPROVAL",
    base_risk: Risk::Low,
    checks: "The approval request is open (PENDING or ESCALATED), bound to the quote's current version, and past \
             its due time (the timer should have escalated it); its policy version is still active (a disabled \
             one is said); who it will reach.",
    changes: "ESCALATE through the approval machine: escalation level + 1, due again one SLA later, assigned to \
              the policy's approver group when nobody had it; an approval transition and an ApprovalEscalated \
              outbox event.",
    approvers: "none (LOW risk): the requester executes after confirming the dry-run",
    runbook: "stuck-approval",
    lesson: "§10.3",
    parameters: &[],
};

pub(super) fn request_id(target: &Target) -> ApprovalRequestId {
    ApprovalRequestId::from_uuid(target.entity_id)
}

pub(super) async fn load(db: &mut PgConnection, target: &Target) -> Result<ApprovalRequestState> {
    request_state(db, target.tenant, request_id(target)).await?.ok_or_else(|| Error::not_found("approval request", target.entity_id))
}

/// The checks every change of an open request starts with: open, and bound to the quote's current version.
pub(super) fn open_and_current(r: &ApprovalRequestState) -> [SafetyCheck; 2] {
    [
        check(
            "Is the approval request open?",
            r.is_open(),
            format!("{} (level {}), quote {} is {}", r.status, r.escalation_level, r.quote_number, r.quote_status),
        ),
        check(
            "Is the request bound to the quote's current version?",
            r.is_current(),
            if r.is_current() {
                format!("version {}", r.quote_version)
            } else {
                format!(
                    "the request is for version {}, the quote is at version {}: cancel the stale approval and request a \
                     new one (§10.3)",
                    r.quote_version, r.quote_current_version
                )
            },
        ),
    ]
}

pub(super) fn request_json(r: &ApprovalRequestState) -> Value {
    json!({
        "status": r.status, "assignee": r.assignee, "escalation_level": r.escalation_level, "due_at": r.due_at,
        "version": r.version, "quote": { "quote_id": r.quote_id, "number": r.quote_number, "status": r.quote_status,
        "current_version": r.quote_current_version }, "quote_version": r.quote_version,
        "policy": { "policy_id": r.policy_id, "policy_version": r.policy_version, "status": r.policy_status,
        "approver_group": r.approver_group, "sla_minutes": r.sla_minutes },
    })
}

/// The dry-run of a change to an open request: the request as it is (its version binds the approval), the
/// change, the checks; nothing raises the risk of an approval's routing.
pub(super) fn dry_run(r: &ApprovalRequestState, proposed: Value, checks: Vec<SafetyCheck>, base_risk: Risk) -> DryRun {
    DryRun { entity_version: Some(r.version), before: request_json(r), proposed, checks, base_risk, raised_because: Vec::new() }
}

pub async fn assess(db: &mut PgConnection, _services: &Services, target: &Target) -> Result<DryRun> {
    let r = load(db, target).await?;
    let now = Utc::now();
    let mut checks = open_and_current(&r).to_vec();
    let overdue = (now - r.due_at).num_minutes();
    checks.push(if r.due_at <= now {
        SafetyCheck::new(
            "Is it past its due time?",
            Verdict::Pass,
            format!("overdue by {overdue} min (due {}): the escalation timer should have escalated it — check it", r.due_at.to_rfc3339()),
        )
    } else {
        SafetyCheck::new(
            "Is it past its due time?",
            Verdict::Fail,
            format!(
                "no, it is due in {} min: the timer escalates it then; if the approver is unavailable, reassign it",
                -overdue
            ),
        )
    });
    checks.push(if r.policy_status == "ACTIVE" {
        SafetyCheck::new("Is its policy version still active?", Verdict::Pass, format!("{} version {}", r.approver_group, r.policy_version))
    } else {
        SafetyCheck::new(
            "Is its policy version still active?",
            Verdict::Warn,
            format!(
                "version {} is {}: the escalation follows the request's own version — restore it, or request again under \
                 an approved fallback (§10.3)",
                r.policy_version, r.policy_status
            ),
        )
    });
    let reaches = r.assignee.clone().unwrap_or_else(|| r.approver_group.clone());
    checks.push(SafetyCheck::new(
        "Who will it reach?",
        Verdict::Pass,
        match &r.assignee {
            Some(a) => format!("{a}, at level {}", r.escalation_level + 1),
            None => format!("nobody has it now: it goes back to {}, at level {}", r.approver_group, r.escalation_level + 1),
        },
    ));
    let proposed = json!({
        "approval_command": "ESCALATE",
        "from": r.status,
        "to": "ESCALATED",
        "escalation_level": r.escalation_level + 1,
        "assignee": reaches,
        "due_in_minutes": r.sla_minutes,
    });
    Ok(dry_run(&r, proposed, checks, INFO.base_risk))
}

pub async fn apply(db: &mut PgConnection, _services: &Services, target: &Target, dry: &DryRun, ctx: &CommandContext) -> Result<Value> {
    let done = escalate(db, request_id(target), dry.entity_version, ctx).await?;
    Ok(json!({
        "status": "ESCALATED",
        "escalation_level": done.escalation_level,
        "due_at": done.due_at,
        "assignee": dry.proposed["assignee"],
        "version": done.version,
    }))
}

/// Coherent when the request is ESCALATED at the proposed level, someone has it, and it is due again in
/// the future.
pub async fn recheck(db: &mut PgConnection, _services: &Services, target: &Target, outcome: Outcome<'_>) -> Result<Recheck> {
    let level: i32 = proposed(outcome.proposed, "escalation_level")?;
    let r = load(db, target).await?;
    Ok(judged(vec![
        check(
            "Is the request escalated to the next level?",
            r.status == "ESCALATED" && r.escalation_level >= level,
            format!("{} at level {}", r.status, r.escalation_level),
        ),
        check("Does someone have it?", r.assignee.is_some(), r.assignee.clone().unwrap_or_else(|| "nobody".into())),
        check("Is it due again in the future?", r.due_at > Utc::now(), format!("due {}", r.due_at.to_rfc3339())),
    ]))
}
