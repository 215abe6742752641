//! Approve a quote manually with external evidence (lesson §10.4): the manager approved in a chat, on the
//! phone, by email — never `quote.status = 'APPROVED'` from SQL, which loses the decision. The evidence
//! (who approved, where, when, the reference of the record) is recorded, then the quote is approved
//! through the same invariant path as a normal approval: the open request APPROVE through the approval
//! machine (decided by the named approver), the quote APPROVE_MANUALLY — refused for a stale version.
//! Always HIGH risk: a second person checks the evidence.

use chrono::{DateTime, Utc};
use platform::approval_timer::{approve_manually, latest_request_of_quote, manual_approval_of, ApprovalRequestState, ManualApprovalEvidence};
use platform::command::CommandContext;
use platform::ids::QuoteId;
use platform::quote::QuoteStatus;
use serde_json::{json, Value};
use sqlx::PgConnection;

use super::{check, judged, proposed, Outcome, Services, Target};
use crate::error::{Error, Result};
use crate::repair::input::Parameters;
use crate::repair::model::{DryRun, ParamKind, ParamSpec, Recheck, RepairInfo, RepairType, Risk, SafetyCheck, Verdict};

const APPROVED_BY: &str = "approved_by";
const CHANNEL: &str = "approval_channel";
const APPROVED_AT: &str = "approved_at";
const EVIDENCE: &str = "evidence_ref";

pub const INFO: RepairInfo = RepairInfo {
    repair_type: RepairType::ApproveQuoteManually,
    title: "Approve a quote manually with external evidence",
    entity_type: "QUOTE",
    base_risk: Risk::High,
    checks: "The quote is PENDING_APPROVAL with an open approval request for its current version; the evidence \
             is complete (who, where, when, reference); the approval is dated after the request was opened and \
             not in the future; the named approver is not the quote's author. The console cannot verify group \
             membership: the approving person does.",
    changes: "The evidence recorded (cpq.manual_approval_evidence, append-only), the approval request APPROVE \
              through the approval machine decided by the named approver, the quote APPROVE_MANUALLY → APPROVED; \
              transitions and outbox events as for any approval.",
    approvers: "approver (a second person), who checks the evidence and the approver's authority",
    runbook: "stuck-approval",
    lesson: "§10.4",
    parameters: &[
        ParamSpec { name: APPROVED_BY, label: "Who approved", required: true, kind: ParamKind::Text },
        ParamSpec { name: CHANNEL, label: "Where it was approved (channel)", required: true, kind: ParamKind::Text },
        ParamSpec { name: APPROVED_AT, label: "When it was approved (UTC)", required: true, kind: ParamKind::Time },
        ParamSpec { name: EVIDENCE, label: "Evidence reference (link, message or ticket id)", required: true, kind: ParamKind::Text },
    ],
};

fn quote_id(target: &Target) -> QuoteId {
    QuoteId::from_uuid(target.entity_id)
}

/// The evidence the parameters hold, if they hold all of it.
fn evidence(parameters: &Parameters) -> Option<ManualApprovalEvidence> {
    Some(ManualApprovalEvidence {
        approved_by: parameters.get(APPROVED_BY)?.to_string(),
        channel: parameters.get(CHANNEL)?.to_string(),
        approved_at: parameters.time(APPROVED_AT)?,
        evidence_ref: parameters.get(EVIDENCE)?.to_string(),
    })
}

async fn quote_status(db: &mut PgConnection, target: &Target) -> Result<(String, i32, i64)> {
    sqlx::query_as("select status, current_version, version from cpq.quote where quote_id = $1 and tenant_id = $2")
        .bind(quote_id(target))
        .bind(target.tenant)
        .fetch_optional(db)
        .await?
        .ok_or_else(|| Error::not_found("quote", target.entity_id))
}

pub async fn assess(db: &mut PgConnection, _services: &Services, target: &Target, parameters: &Parameters) -> Result<DryRun> {
    let (status, current_version, row_version) = quote_status(db, target).await?;
    let request = latest_request_of_quote(db, target.tenant, quote_id(target)).await?;
    let open = request.as_ref().filter(|r| r.is_open());
    let evidence = evidence(parameters);
    let now = Utc::now();
    let mut checks = Vec::new();

    checks.push(check(
        "Is the quote waiting for approval?",
        status == QuoteStatus::PendingApproval.as_str(),
        format!("it is {status} (commercial version {current_version})"),
    ));
    checks.push(match open {
        Some(r) if r.is_current() => SafetyCheck::new(
            "Is there an open approval request for the quote's current version?",
            Verdict::Pass,
            format!(
                "request {} is {} (level {}) for version {}, assigned to {}, due {}",
                r.approval_request_id,
                r.status,
                r.escalation_level,
                r.quote_version,
                r.assignee.as_deref().unwrap_or("nobody"),
                r.due_at.to_rfc3339()
            ),
        ),
        Some(r) => SafetyCheck::new(
            "Is there an open approval request for the quote's current version?",
            Verdict::Fail,
            format!(
                "request {} is for version {}, the quote is at version {current_version}: cancel the stale approval and \
                 request a new one (§10.3)",
                r.approval_request_id, r.quote_version
            ),
        ),
        None => SafetyCheck::new(
            "Is there an open approval request for the quote's current version?",
            Verdict::Fail,
            "no open request: an approval goes through its request, there is none to decide",
        ),
    });
    checks.push(match &evidence {
        Some(e) => SafetyCheck::new(
            "Is the external evidence complete?",
            Verdict::Pass,
            format!("{} via {} at {}, evidence {}", e.approved_by, e.channel, e.approved_at.to_rfc3339(), e.evidence_ref),
        ),
        None => {
            let missing: Vec<&str> = INFO.parameters.iter().filter(|p| parameters.get(p.name).is_none()).map(|p| p.label).collect();
            SafetyCheck::new("Is the external evidence complete?", Verdict::Fail, format!("missing: {}", missing.join(", ")))
        }
    });
    if let (Some(e), Some(r)) = (&evidence, open) {
        checks.push(dated(e.approved_at, r.created_at, now));
        checks.push(check(
            "Is the named approver someone other than the quote's author?",
            !e.approved_by.trim().eq_ignore_ascii_case(r.quote_created_by.trim()),
            format!("approved by {}, quote written by {}", e.approved_by, r.quote_created_by),
        ));
        checks.push(SafetyCheck::new(
            "Does the named approver belong to the policy's approver group?",
            Verdict::Warn,
            format!(
                "the console keeps no directory of {} (policy version {}): the approving person checks that {} is in \
                 it and that {} says what it claims",
                r.approver_group, r.policy_version, e.approved_by, e.evidence_ref
            ),
        ));
    }

    let proposed = json!({
        "approval_command": "APPROVE",
        "quote_command": "APPROVE_MANUALLY",
        "approval_request_id": open.map(|r| r.approval_request_id),
        "quote_version": current_version,
        "policy": open.map(|r| json!({ "policy_id": r.policy_id, "policy_version": r.policy_version, "approver_group": r.approver_group })),
        "evidence": evidence,
    });
    let before = json!({
        "quote": { "status": status, "current_version": current_version, "version": row_version },
        "approval_request": request.as_ref().map(request_json),
    });
    Ok(DryRun { entity_version: Some(row_version), before, proposed, checks, base_risk: INFO.base_risk, raised_because: Vec::new() })
}

fn dated(approved_at: DateTime<Utc>, requested_at: DateTime<Utc>, now: DateTime<Utc>) -> SafetyCheck {
    const Q: &str = "Was the approval given after the request was opened, and not in the future?";
    if approved_at > now {
        SafetyCheck::new(Q, Verdict::Fail, format!("{} is in the future", approved_at.to_rfc3339()))
    } else if approved_at < requested_at {
        SafetyCheck::new(
            Q,
            Verdict::Fail,
            format!(
                "{} is before the request was opened ({}): the evidence may be about another version of the quote",
                approved_at.to_rfc3339(),
                requested_at.to_rfc3339()
            ),
        )
    } else {
        SafetyCheck::new(Q, Verdict::Pass, format!("{} (request opened {})", approved_at.to_rfc3339(), requested_at.to_rfc3339()))
    }
}

fn request_json(r: &ApprovalRequestState) -> Value {
    json!({
        "approval_request_id": r.approval_request_id, "status": r.status, "assignee": r.assignee,
        "escalation_level": r.escalation_level, "due_at": r.due_at, "quote_version": r.quote_version,
        "version": r.version, "created_at": r.created_at,
    })
}

pub async fn apply(db: &mut PgConnection, _services: &Services, _target: &Target, dry: &DryRun, ctx: &CommandContext) -> Result<Value> {
    let request = proposed(&dry.proposed, "approval_request_id")?;
    let evidence = evidence(&Parameters::stored(&dry.proposed)).ok_or_else(|| Error::rule("the manual approval evidence is incomplete"))?;
    let change = approve_manually(db, request, dry.entity_version, &evidence, ctx).await?;
    Ok(json!({
        "approval_request_id": change.approval_request_id,
        "approval_status": change.to,
        "approval_version": change.version,
        "decided_by": evidence.approved_by,
        "quote_status": change.quote.as_ref().map(|q| q.to),
        "quote_version": change.quote.as_ref().map(|q| q.version),
    }))
}

/// Coherent when the quote is APPROVED at the version the request was for, the request APPROVED by the
/// named approver, and the evidence recorded as given.
pub async fn recheck(db: &mut PgConnection, _services: &Services, target: &Target, outcome: Outcome<'_>) -> Result<Recheck> {
    let request_id = proposed(outcome.proposed, "approval_request_id")?;
    let given = evidence(&Parameters::stored(outcome.proposed));
    let request = platform::approval_timer::request_state(db, target.tenant, request_id)
        .await?
        .ok_or_else(|| Error::not_found("approval request", request_id))?;
    let recorded = manual_approval_of(db, request_id).await?;
    let decided_by: Option<String> = sqlx::query_scalar("select decided_by from cpq.approval_request where approval_request_id = $1")
        .bind(request_id)
        .fetch_one(&mut *db)
        .await?;
    Ok(judged(vec![
        check(
            "Is the quote approved, at the version the request was for?",
            request.quote_status == QuoteStatus::Approved.as_str() && request.is_current(),
            format!("{} at version {} (request for version {})", request.quote_status, request.quote_current_version, request.quote_version),
        ),
        check(
            "Is the request approved by the named approver?",
            request.status == "APPROVED" && decided_by.is_some() && decided_by.as_deref() == given.as_ref().map(|e| e.approved_by.as_str()),
            format!("{} by {}", request.status, decided_by.as_deref().unwrap_or("nobody")),
        ),
        check(
            "Is the evidence recorded as it was given?",
            recorded.as_ref().map(|r| (&r.approved_by, &r.channel, r.approved_at, &r.evidence_ref))
                == given.as_ref().map(|e| (&e.approved_by, &e.channel, e.approved_at, &e.evidence_ref)),
            match &recorded {
                Some(r) => format!("{} via {} at {}, evidence {}, recorded by {}", r.approved_by, r.channel, r.approved_at.to_rfc3339(), r.evidence_ref, r.recorded_by),
                None => "no evidence recorded".to_string(),
            },
        ),
    ]))
}
