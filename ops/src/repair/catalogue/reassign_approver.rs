//! Reassign an approval's approver (lesson §10.3: "approver assignment missing" — re-evaluate the
//! assignment; "approver unavailable" — delegation): an open request goes to someone else through the
//! approval machine (REASSIGN, `platform::approval_timer::reassign`), never by editing `assignee`. The new
//! assignee is a parameter; the quote's author is refused (nobody approves their own quote).

use platform::approval_timer::reassign;
use platform::command::CommandContext;
use serde_json::{json, Value};
use sqlx::PgConnection;

use super::escalate_approval::{dry_run, load, open_and_current, request_id};
use super::{check, judged, proposed, Outcome, Services, Target};
use crate::error::Result;
use crate::repair::input::Parameters;
use crate::repair::model::{DryRun, ParamKind, ParamSpec, Recheck, RepairInfo, RepairType, Risk, SafetyCheck, Verdict};

const ASSIGNEE: &str = "assignee";

pub const INFO: RepairInfo = RepairInfo {
    repair_type: RepairType::ReassignApprover,
    title: "Reassign an approval's approver",
    entity_type: "APPROVAL",
    base_risk: Risk::Low,
    checks: "The approval request is open and bound to the quote's current version; a new assignee is named, \
             different from the current one and not the quote's author. The console cannot verify membership of \
             the policy's approver group: said in the dry-run.",
    changes: "REASSIGN through the approval machine (status unchanged, assignee replaced); an approval \
              transition with the previous and new assignee and an ApprovalReassigned outbox event.",
    approvers: "none (LOW risk): the requester executes after confirming the dry-run",
    runbook: "stuck-approval",
    lesson: "§10.3",
    parameters: &[ParamSpec { name: ASSIGNEE, label: "New approver", required: true, kind: ParamKind::Text }],
};

pub async fn assess(db: &mut PgConnection, _services: &Services, target: &Target, parameters: &Parameters) -> Result<DryRun> {
    let r = load(db, target).await?;
    let new = parameters.get(ASSIGNEE);
    let mut checks = open_and_current(&r).to_vec();
    checks.push(match new {
        None => SafetyCheck::new("Is the new approver someone else?", Verdict::Fail, "no new approver is named"),
        Some(a) if Some(a) == r.assignee.as_deref() => {
            SafetyCheck::new("Is the new approver someone else?", Verdict::Fail, format!("{a} has it already"))
        }
        Some(a) => SafetyCheck::new(
            "Is the new approver someone else?",
            Verdict::Pass,
            format!("{} → {a}", r.assignee.as_deref().unwrap_or("nobody (assignment missing)")),
        ),
    });
    if let Some(a) = new {
        checks.push(check(
            "Is the new approver someone other than the quote's author?",
            !a.trim().eq_ignore_ascii_case(r.quote_created_by.trim()),
            format!("quote written by {}", r.quote_created_by),
        ));
        checks.push(SafetyCheck::new(
            "Does the new approver approve for the policy's group?",
            Verdict::Warn,
            format!(
                "the console keeps no directory of {} (policy version {}): make sure {a} approves for it — the approval \
                 still needs their authority",
                r.approver_group, r.policy_version
            ),
        ));
    }
    let proposed = json!({
        "approval_command": "REASSIGN",
        "status": r.status,
        "from_assignee": r.assignee,
        "to_assignee": new,
    });
    Ok(dry_run(&r, proposed, checks, INFO.base_risk))
}

pub async fn apply(db: &mut PgConnection, _services: &Services, target: &Target, dry: &DryRun, ctx: &CommandContext) -> Result<Value> {
    let to: String = proposed(&dry.proposed, "to_assignee")?;
    let done = reassign(db, request_id(target), dry.entity_version, Some(&to), ctx).await?;
    Ok(json!({ "status": done.to, "assignee": to, "previous_assignee": dry.proposed["from_assignee"], "version": done.version }))
}

/// Coherent when the request, still open, is with the new approver.
pub async fn recheck(db: &mut PgConnection, _services: &Services, target: &Target, outcome: Outcome<'_>) -> Result<Recheck> {
    let to: String = proposed(outcome.proposed, "to_assignee")?;
    let r = load(db, target).await?;
    Ok(judged(vec![check(
        "Is the request with the new approver?",
        r.assignee.as_deref() == Some(to.as_str()),
        format!("{} has it ({})", r.assignee.as_deref().unwrap_or("nobody"), r.status),
    )]))
}
