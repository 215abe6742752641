//! Approval requests as commands, and the timer that escalates the overdue ones.
//!
//! A quote that policy says needs review is submitted for approval ([`request_approval`]): the quote
//! moves PRICED → PENDING_APPROVAL and an approval request is opened for the quote's current commercial
//! version, due `sla_minutes` from now, assigned to the policy's approver group. The timer job
//! ([`escalate_overdue`]) escalates every open request past its due time through the approval machine;
//! each escalation is a transition with history and an outbox event; [`escalate`] does the same for one
//! request when a person asks. [`approve`] decides a request and approves the quote — only if the quote
//! is still the version the request was opened for; [`approve_manually`] does it for an approval given
//! outside the platform, with its evidence. [`reassign`] gives a request to someone else.
//!
//! Every change here goes through [`crate::approval::Approval`]; nothing writes a status the machine did
//! not give. Nothing here commits except [`escalate_overdue`], which owns its job transaction.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::approval::{Approval, ApprovalCommand, ApprovalStatus};
use crate::command::{apply_quote_command, CommandContext, QuoteChange};
use crate::events::{ApprovalChanged, Event};
use crate::ids::{ApprovalRequestId, EntityKind, QuoteId, TenantId};
use crate::machine::{transition, Named};
use crate::outbox;
use crate::quote::QuoteCommand;
use crate::{Error, Result};

/// One version of a tenant's approval policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ApprovalPolicy {
    pub policy_id: Uuid,
    pub policy_version: i32,
    pub tenant_id: TenantId,
    pub name: String,
    /// Discount threshold in basis points: a line discounted more than this needs review.
    pub max_discount_bp: i32,
    /// Total threshold: a quote above this needs review.
    pub max_total_minor: i64,
    pub approver_group: String,
    pub sla_minutes: i32,
}

impl ApprovalPolicy {
    /// True when a quote with this total and largest line discount needs a reviewer.
    pub fn requires_approval(&self, total_minor: i64, max_line_discount_bp: i32) -> bool {
        total_minor > self.max_total_minor || max_line_discount_bp > self.max_discount_bp
    }

    pub fn sla(&self) -> Duration {
        Duration::minutes(i64::from(self.sla_minutes))
    }
}

/// The tenant's active policy (its newest ACTIVE version), if it has one.
pub async fn active_policy(conn: &mut PgConnection, tenant: TenantId) -> Result<Option<ApprovalPolicy>> {
    Ok(sqlx::query_as::<_, ApprovalPolicy>(
        "select policy_id, policy_version, tenant_id, name, (max_discount_pct * 100)::int as max_discount_bp,
                max_total_minor, approver_group, sla_minutes
         from cpq.approval_policy where tenant_id = $1 and status = 'ACTIVE'
         order by created_at desc, policy_version desc limit 1",
    )
    .bind(tenant)
    .fetch_optional(conn)
    .await?)
}

/// An opened approval request.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalRequested {
    pub approval_request_id: ApprovalRequestId,
    pub quote: QuoteChange,
    pub quote_version: i32,
    pub assignee: String,
    pub due_at: DateTime<Utc>,
}

/// Submits a priced quote for approval under `policy`: quote SUBMIT_FOR_APPROVAL, a PENDING request for
/// the quote's current version due in `policy.sla_minutes`, its first transition row and an
/// `ApprovalRequested` event — in the caller's transaction.
#[tracing::instrument(skip(tx, policy, ctx), fields(tenant_id = %tenant, actor = %ctx.actor), err(Display))]
pub async fn request_approval(
    tx: &mut PgConnection,
    tenant: TenantId,
    quote: QuoteId,
    policy: &ApprovalPolicy,
    ctx: &CommandContext,
) -> Result<ApprovalRequested> {
    if policy.tenant_id != tenant {
        return Err(Error::Invalid { field: "policy", message: "the policy belongs to another tenant".into() });
    }
    let change = apply_quote_command(tx, tenant, quote, None, QuoteCommand::SubmitForApproval, ctx).await?;
    let quote_version: i32 = sqlx::query_scalar("select current_version from cpq.quote where quote_id = $1")
        .bind(quote)
        .fetch_one(&mut *tx)
        .await?;
    let id = ApprovalRequestId::new();
    let now = Utc::now();
    let due_at = now + policy.sla();
    let status = ApprovalStatus::Pending;
    sqlx::query(
        "insert into cpq.approval_request (approval_request_id, tenant_id, quote_id, quote_version, policy_id, policy_version,
                                           assignee, status, escalation_level, due_at, version, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, 0, $9, 1, $10, $10)",
    )
    .bind(id)
    .bind(tenant)
    .bind(quote)
    .bind(quote_version)
    .bind(policy.policy_id)
    .bind(policy.policy_version)
    .bind(&policy.approver_group)
    .bind(status.name())
    .bind(due_at)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(Error::from_db)?;
    let detail = serde_json::json!({ "policy_id": policy.policy_id, "policy_version": policy.policy_version,
                                     "assignee": policy.approver_group, "due_at": due_at });
    append_transition(tx, tenant, id, None, status, ApprovalChanged::REQUEST, 1, ctx, &detail, now).await?;
    let event = Event::ApprovalRequested(ApprovalChanged {
        approval_request_id: id,
        tenant_id: tenant,
        quote_id: quote,
        quote_version,
        command: ApprovalChanged::REQUEST.into(),
        from_status: None,
        status,
        assignee: Some(policy.approver_group.clone()),
        escalation_level: 0,
        due_at,
        version: 1,
        occurred_at: now,
    });
    outbox::enqueue_event(tx, &event, ctx.correlation_id).await?;
    Ok(ApprovalRequested { approval_request_id: id, quote: change, quote_version, assignee: policy.approver_group.clone(), due_at })
}

/// One escalation the timer made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Escalated {
    pub approval_request_id: ApprovalRequestId,
    pub tenant_id: TenantId,
    pub quote_id: QuoteId,
    pub from: ApprovalStatus,
    pub escalation_level: i32,
    pub overdue_since: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub version: i64,
}

#[derive(sqlx::FromRow)]
struct OverdueRow {
    approval_request_id: ApprovalRequestId,
    tenant_id: TenantId,
    quote_id: QuoteId,
    quote_version: i32,
    assignee: Option<String>,
    status: String,
    escalation_level: i32,
    due_at: DateTime<Utc>,
    version: i64,
    approver_group: String,
    sla_minutes: i32,
}

/// The timer job: escalates every open request due at or before `now`, in one transaction. Rows another
/// run holds are skipped (`for update skip locked`), and an escalated request is due again only one SLA
/// after `now`, so running twice with the same `now` escalates nothing the second time.
#[tracing::instrument(skip(pool), err(Display))]
pub async fn escalate_overdue(pool: &PgPool, now: DateTime<Utc>, actor: &str) -> Result<Vec<Escalated>> {
    let ctx = CommandContext::new(actor).with_reason("approval due time passed");
    let mut tx = pool.begin().await?;
    // Uses ix_approval_request_open_due.
    let due = sqlx::query_as::<_, OverdueRow>(&format!(
        "{OVERDUE_SELECT} where r.status in ('PENDING', 'ESCALATED') and r.due_at <= $1
         order by r.due_at
         for update of r skip locked"
    ))
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;

    let mut escalated = Vec::with_capacity(due.len());
    for row in due {
        escalated.push(escalate_row(&mut tx, &row, now, &ctx).await?);
    }
    tx.commit().await?;
    if !escalated.is_empty() {
        tracing::info!(count = escalated.len(), "escalated overdue approvals");
    }
    Ok(escalated)
}

/// Escalates one open request now, inside `tx` — what the timer does at the due time, asked for by a
/// person when the timer did not (lesson §10.3: "timer failed → trigger escalation command"). Refused as
/// stale when the request is no longer at `expected_version`.
#[tracing::instrument(skip(tx, ctx), fields(actor = %ctx.actor), err(Display))]
pub async fn escalate(
    tx: &mut PgConnection,
    request: ApprovalRequestId,
    expected_version: Option<i64>,
    ctx: &CommandContext,
) -> Result<Escalated> {
    let row = sqlx::query_as::<_, OverdueRow>(&format!("{OVERDUE_SELECT} where r.approval_request_id = $1 for update of r"))
        .bind(request)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| Error::NotFound { entity: EntityKind::ApprovalRequest, id: request.to_string() })?;
    check_version(request, expected_version, row.version)?;
    escalate_row(tx, &row, Utc::now(), ctx).await
}

const OVERDUE_SELECT: &str = "select r.approval_request_id, r.tenant_id, r.quote_id, r.quote_version, r.assignee, r.status,
            r.escalation_level, r.due_at, r.version, p.approver_group, p.sla_minutes
     from cpq.approval_request r
     join cpq.approval_policy p on p.policy_id = r.policy_id and p.policy_version = r.policy_version";

/// ESCALATE through the machine: one level up, due again one SLA after `now`, and a request left without
/// an assignee goes back to the policy's group (an escalation must reach someone).
async fn escalate_row(tx: &mut PgConnection, row: &OverdueRow, now: DateTime<Utc>, ctx: &CommandContext) -> Result<Escalated> {
    let from: ApprovalStatus = row.status.parse()?;
    let to = transition::<Approval>(from, ApprovalCommand::Escalate).map_err(|r| Error::refused(r.to_string()))?;
    let level = row.escalation_level + 1;
    let due_at = now + Duration::minutes(i64::from(row.sla_minutes));
    let version = row.version + 1;
    let assignee = row.assignee.clone().unwrap_or_else(|| row.approver_group.clone());
    sqlx::query(
        "update cpq.approval_request
         set status = $1, escalation_level = $2, due_at = $3, assignee = $4, version = $5, updated_at = $6
         where approval_request_id = $7 and version = $8",
    )
    .bind(to.name())
    .bind(level)
    .bind(due_at)
    .bind(&assignee)
    .bind(version)
    .bind(now)
    .bind(row.approval_request_id)
    .bind(row.version)
    .execute(&mut *tx)
    .await?;
    let detail = serde_json::json!({
        "escalation_level": level, "overdue_since": row.due_at, "due_at": due_at,
        "assignee": assignee, "previous_assignee": row.assignee,
    });
    append_transition(tx, row.tenant_id, row.approval_request_id, Some(from), to, ApprovalCommand::Escalate.name(), version, ctx, &detail, now)
        .await?;
    let event = Event::ApprovalEscalated(ApprovalChanged {
        approval_request_id: row.approval_request_id,
        tenant_id: row.tenant_id,
        quote_id: row.quote_id,
        quote_version: row.quote_version,
        command: ApprovalCommand::Escalate.name().into(),
        from_status: Some(from),
        status: to,
        assignee: Some(assignee),
        escalation_level: level,
        due_at,
        version,
        occurred_at: now,
    });
    outbox::enqueue_event(tx, &event, ctx.correlation_id).await?;
    Ok(Escalated {
        approval_request_id: row.approval_request_id,
        tenant_id: row.tenant_id,
        quote_id: row.quote_id,
        from,
        escalation_level: level,
        overdue_since: row.due_at,
        due_at,
        version,
    })
}

/// Optimistic locking for a request a person saw at `expected` (`None`: whatever it is now).
fn check_version(request: ApprovalRequestId, expected: Option<i64>, found: i64) -> Result<()> {
    match expected {
        Some(expected) if expected != found => {
            Err(Error::Conflict { entity: EntityKind::ApprovalRequest, id: request.to_string(), expected, found })
        }
        _ => Ok(()),
    }
}

/// The escalation job as a long-running worker: runs [`escalate_overdue`] every `every` until `stop`
/// turns true. A failed run is logged and retried on the next tick; returns how many it escalated.
#[tracing::instrument(skip(pool, stop))]
pub async fn run_escalation_timer(
    pool: &PgPool,
    every: std::time::Duration,
    actor: &str,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> u64 {
    let mut escalated = 0;
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if *stop.borrow() {
            return escalated;
        }
        tokio::select! {
            _ = ticker.tick() => {}
            changed = stop.changed() => {
                if changed.is_err() { return escalated; }
                continue;
            }
        }
        match escalate_overdue(pool, Utc::now(), actor).await {
            Ok(done) => escalated += done.len() as u64,
            Err(e) => tracing::warn!(error = %e, "approval escalation run failed; retrying next tick"),
        }
    }
}

/// A decided (or reassigned) request.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalChange {
    pub approval_request_id: ApprovalRequestId,
    pub from: ApprovalStatus,
    pub to: ApprovalStatus,
    pub version: i64,
    /// The quote's change, when the command also moved the quote.
    pub quote: Option<QuoteChange>,
}

#[derive(sqlx::FromRow)]
struct RequestRow {
    tenant_id: TenantId,
    quote_id: QuoteId,
    quote_version: i32,
    assignee: Option<String>,
    status: String,
    escalation_level: i32,
    due_at: DateTime<Utc>,
    version: i64,
}

impl RequestRow {
    /// The event of a change that leaves the request's escalation level and due time as they are.
    #[allow(clippy::too_many_arguments)]
    fn changed(
        &self,
        request: ApprovalRequestId,
        command: ApprovalCommand,
        from: ApprovalStatus,
        to: ApprovalStatus,
        assignee: Option<String>,
        version: i64,
        at: DateTime<Utc>,
    ) -> ApprovalChanged {
        ApprovalChanged {
            approval_request_id: request,
            tenant_id: self.tenant_id,
            quote_id: self.quote_id,
            quote_version: self.quote_version,
            command: command.name().into(),
            from_status: Some(from),
            status: to,
            assignee,
            escalation_level: self.escalation_level,
            due_at: self.due_at,
            version,
            occurred_at: at,
        }
    }
}

async fn load_request_for_update(tx: &mut PgConnection, id: ApprovalRequestId) -> Result<RequestRow> {
    sqlx::query_as::<_, RequestRow>(
        "select tenant_id, quote_id, quote_version, assignee, status, escalation_level, due_at, version
         from cpq.approval_request where approval_request_id = $1 for update",
    )
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::NotFound { entity: EntityKind::ApprovalRequest, id: id.to_string() })
}

/// Approves a request and, with it, the quote. Refused as stale when the quote has moved on to another
/// commercial version since the request was opened: an approval binds one version only.
#[tracing::instrument(skip(tx, ctx, note), fields(actor = %ctx.actor), err(Display))]
pub async fn approve(
    tx: &mut PgConnection,
    request: ApprovalRequestId,
    ctx: &CommandContext,
    note: Option<&str>,
) -> Result<ApprovalChange> {
    let decided_by = ctx.actor.as_str().to_owned();
    let detail = serde_json::json!({ "note": note });
    let (row, from, to, version) = decide_approve(tx, request, &decided_by, note, detail, ctx).await?;
    let quote = apply_quote_command(tx, row.tenant_id, row.quote_id, None, QuoteCommand::Approve, ctx).await?;
    Ok(ApprovalChange { approval_request_id: request, from, to, version, quote: Some(quote) })
}

/// Approval given outside the platform (a manager in a chat, on the phone) and the evidence of it: who
/// approved, where, when, and a reference to the record (lesson §10.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ManualApprovalEvidence {
    /// Who approved, as they are known in the approver group.
    pub approved_by: String,
    /// Where: the channel the approval was given in.
    pub channel: String,
    pub approved_at: DateTime<Utc>,
    /// Where the record of it is kept (message link, ticket, document id).
    pub evidence_ref: String,
}

/// Records manual approval evidence and approves through the same path as a normal approval (lesson
/// §10.4): the evidence row (`cpq.manual_approval_evidence`, append-only), the request APPROVE through the
/// approval machine with `decided_by` the named approver (the transition's actor is who recorded it), and
/// the quote APPROVE_MANUALLY against `expected_quote_version` — refused, like any approval, when the quote
/// moved on to another commercial version. Never a status update.
#[tracing::instrument(skip(tx, ctx, evidence), fields(actor = %ctx.actor), err(Display))]
pub async fn approve_manually(
    tx: &mut PgConnection,
    request: ApprovalRequestId,
    expected_quote_version: Option<i64>,
    evidence: &ManualApprovalEvidence,
    ctx: &CommandContext,
) -> Result<ApprovalChange> {
    let now = Utc::now();
    if evidence.approved_at > now {
        return Err(Error::refused("manual approval evidence cannot be dated in the future"));
    }
    for (field, value) in [("approved_by", &evidence.approved_by), ("channel", &evidence.channel), ("evidence_ref", &evidence.evidence_ref)] {
        if value.trim().is_empty() {
            return Err(Error::Invalid { field, message: "manual approval evidence needs it".into() });
        }
    }
    let note = format!(
        "approved manually by {} via {} at {} (evidence: {}); recorded by {}",
        evidence.approved_by,
        evidence.channel,
        evidence.approved_at.to_rfc3339(),
        evidence.evidence_ref,
        ctx.actor
    );
    let detail = serde_json::json!({ "manual": true, "evidence": evidence });
    let (row, from, to, version) = decide_approve(tx, request, &evidence.approved_by, Some(&note), detail, ctx).await?;
    sqlx::query(
        "insert into cpq.manual_approval_evidence
           (evidence_id, approval_request_id, tenant_id, quote_id, quote_version, approved_by, channel, approved_at,
            evidence_ref, recorded_by, reason, repair_id, recorded_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(Uuid::now_v7())
    .bind(request)
    .bind(row.tenant_id)
    .bind(row.quote_id)
    .bind(row.quote_version)
    .bind(&evidence.approved_by)
    .bind(&evidence.channel)
    .bind(evidence.approved_at)
    .bind(&evidence.evidence_ref)
    .bind(ctx.actor.as_str())
    .bind(ctx.reason.as_deref())
    .bind(ctx.repair_id)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(Error::from_db)?;
    let quote =
        apply_quote_command(tx, row.tenant_id, row.quote_id, expected_quote_version, QuoteCommand::ApproveManually, ctx).await?;
    Ok(ApprovalChange { approval_request_id: request, from, to, version, quote: Some(quote) })
}

/// APPROVE through the machine, by `decided_by`, for the quote version the request is bound to: the
/// request row, its transition (with `detail`) and its event. The caller moves the quote.
async fn decide_approve(
    tx: &mut PgConnection,
    request: ApprovalRequestId,
    decided_by: &str,
    note: Option<&str>,
    mut detail: serde_json::Value,
    ctx: &CommandContext,
) -> Result<(RequestRow, ApprovalStatus, ApprovalStatus, i64)> {
    let row = load_request_for_update(tx, request).await?;
    let from: ApprovalStatus = row.status.parse()?;
    let to = transition::<Approval>(from, ApprovalCommand::Approve).map_err(|r| Error::refused(r.to_string()))?;
    let current: i32 = sqlx::query_scalar("select current_version from cpq.quote where quote_id = $1 for update")
        .bind(row.quote_id)
        .fetch_one(&mut *tx)
        .await?;
    if current != row.quote_version {
        return Err(Error::refused(format!(
            "stale approval: request {request} is for quote version {}, the quote is now at version {current}",
            row.quote_version
        )));
    }
    let now = Utc::now();
    let version = row.version + 1;
    sqlx::query(
        "update cpq.approval_request
         set status = $1, decided_at = $2, decided_by = $3, decision_note = $4, version = $5, updated_at = $2
         where approval_request_id = $6 and version = $7",
    )
    .bind(to.name())
    .bind(now)
    .bind(decided_by)
    .bind(note)
    .bind(version)
    .bind(request)
    .bind(row.version)
    .execute(&mut *tx)
    .await?;
    detail["quote_version"] = row.quote_version.into();
    detail["decided_by"] = decided_by.into();
    append_transition(tx, row.tenant_id, request, Some(from), to, ApprovalCommand::Approve.name(), version, ctx, &detail, now).await?;
    let event = Event::ApprovalDecided(row.changed(request, ApprovalCommand::Approve, from, to, row.assignee.clone(), version, now));
    outbox::enqueue_event(tx, &event, ctx.correlation_id).await?;
    Ok((row, from, to, version))
}

/// Reassigns an open request; `None` leaves it with nobody (what the "approval with no assignee" fault
/// produces, and what the console must then detect). Refused as stale when the request is no longer at
/// `expected_version` (`None`: whatever it is now).
#[tracing::instrument(skip(tx, ctx), fields(actor = %ctx.actor), err(Display))]
pub async fn reassign(
    tx: &mut PgConnection,
    request: ApprovalRequestId,
    expected_version: Option<i64>,
    assignee: Option<&str>,
    ctx: &CommandContext,
) -> Result<ApprovalChange> {
    let row = load_request_for_update(tx, request).await?;
    check_version(request, expected_version, row.version)?;
    let from: ApprovalStatus = row.status.parse()?;
    let to = transition::<Approval>(from, ApprovalCommand::Reassign).map_err(|r| Error::refused(r.to_string()))?;
    let now = Utc::now();
    let version = row.version + 1;
    sqlx::query(
        "update cpq.approval_request set status = $1, assignee = $2, version = $3, updated_at = $4
         where approval_request_id = $5 and version = $6",
    )
    .bind(to.name())
    .bind(assignee)
    .bind(version)
    .bind(now)
    .bind(request)
    .bind(row.version)
    .execute(&mut *tx)
    .await?;
    let detail = serde_json::json!({ "previous_assignee": row.assignee, "assignee": assignee });
    append_transition(tx, row.tenant_id, request, Some(from), to, ApprovalCommand::Reassign.name(), version, ctx, &detail, now).await?;
    let assignee = assignee.map(str::to_owned);
    let event = Event::ApprovalReassigned(row.changed(request, ApprovalCommand::Reassign, from, to, assignee, version, now));
    outbox::enqueue_event(tx, &event, ctx.correlation_id).await?;
    Ok(ApprovalChange { approval_request_id: request, from, to, version, quote: None })
}

/// An approval request as a person deciding about it needs it: the request, the policy version it is
/// bound to, and the quote it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ApprovalRequestState {
    pub approval_request_id: ApprovalRequestId,
    pub tenant_id: TenantId,
    pub status: String,
    pub assignee: Option<String>,
    pub escalation_level: i32,
    pub due_at: DateTime<Utc>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    /// The quote version the request is bound to.
    pub quote_version: i32,
    pub policy_id: Uuid,
    pub policy_version: i32,
    pub policy_status: String,
    pub approver_group: String,
    pub sla_minutes: i32,
    pub quote_id: QuoteId,
    pub quote_number: String,
    pub quote_status: String,
    /// The quote's current commercial version.
    pub quote_current_version: i32,
    /// The quote row's version (optimistic lock).
    pub quote_row_version: i64,
    pub quote_created_by: String,
}

impl ApprovalRequestState {
    /// Still waiting for a decision.
    pub fn is_open(&self) -> bool {
        matches!(self.status.parse(), Ok(ApprovalStatus::Pending | ApprovalStatus::Escalated))
    }

    /// Bound to the quote's current commercial version.
    pub fn is_current(&self) -> bool {
        self.quote_version == self.quote_current_version
    }
}

const STATE_SELECT: &str = "select r.approval_request_id, r.tenant_id, r.status, r.assignee, r.escalation_level, r.due_at,
            r.version, r.created_at, r.quote_version, r.policy_id, r.policy_version, p.status as policy_status,
            p.approver_group, p.sla_minutes, q.quote_id, q.quote_number, q.status as quote_status,
            q.current_version as quote_current_version, q.version as quote_row_version, q.created_by as quote_created_by
     from cpq.approval_request r
     join cpq.approval_policy p on p.policy_id = r.policy_id and p.policy_version = r.policy_version
     join cpq.quote q on q.quote_id = r.quote_id and q.tenant_id = r.tenant_id";

/// One request of one tenant; `None` when the tenant has no such request.
pub async fn request_state(db: &mut PgConnection, tenant: TenantId, request: ApprovalRequestId) -> Result<Option<ApprovalRequestState>> {
    Ok(sqlx::query_as::<_, ApprovalRequestState>(&format!("{STATE_SELECT} where r.approval_request_id = $1 and r.tenant_id = $2"))
        .bind(request)
        .bind(tenant)
        .fetch_optional(db)
        .await?)
}

/// The newest request of a quote of one tenant (the open one when there is one; `uq_approval_request_open`
/// allows one), uses `ix_approval_request_quote`.
pub async fn latest_request_of_quote(db: &mut PgConnection, tenant: TenantId, quote: QuoteId) -> Result<Option<ApprovalRequestState>> {
    Ok(sqlx::query_as::<_, ApprovalRequestState>(&format!(
        "{STATE_SELECT} where r.quote_id = $1 and r.tenant_id = $2
         order by (r.status in ('PENDING', 'ESCALATED')) desc, r.created_at desc limit 1"
    ))
    .bind(quote)
    .bind(tenant)
    .fetch_optional(db)
    .await?)
}

/// The manual approval evidence recorded for a request, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct RecordedManualApproval {
    pub approved_by: String,
    pub channel: String,
    pub approved_at: DateTime<Utc>,
    pub evidence_ref: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

pub async fn manual_approval_of(db: &mut PgConnection, request: ApprovalRequestId) -> Result<Option<RecordedManualApproval>> {
    Ok(sqlx::query_as::<_, RecordedManualApproval>(
        "select approved_by, channel, approved_at, evidence_ref, recorded_by, recorded_at
         from cpq.manual_approval_evidence where approval_request_id = $1",
    )
    .bind(request)
    .fetch_optional(db)
    .await?)
}

#[allow(clippy::too_many_arguments)]
async fn append_transition(
    tx: &mut PgConnection,
    tenant: TenantId,
    request: ApprovalRequestId,
    from: Option<ApprovalStatus>,
    to: ApprovalStatus,
    command: &str,
    row_version: i64,
    ctx: &CommandContext,
    detail: &serde_json::Value,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "insert into cpq.approval_transition (transition_id, approval_request_id, tenant_id, from_status, to_status, command,
                                              row_version, actor, reason, detail, occurred_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(Uuid::now_v7())
    .bind(request)
    .bind(tenant)
    .bind(from.map(Named::name))
    .bind(to.name())
    .bind(command)
    .bind(row_version)
    .bind(ctx.actor.as_str())
    .bind(ctx.reason.as_deref())
    .bind(detail)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
