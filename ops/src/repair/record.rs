//! A repair as stored (`ops.repair_command_log` + `ops.repair_approval`), and the SQL that reads and
//! writes it. Only the lifecycle ([`super::lifecycle`]) writes; the guard triggers refuse any change to
//! what was requested, any status move the lifecycle does not allow, and a HIGH-risk execution without a
//! standing approval by someone else.

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use platform::machine::Named;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::follow_up::FollowUp;
use super::model::{Recheck, RepairStatus, RepairType, Risk, SafetyCheck};
use crate::error::{Error, Result};
use crate::ids::{ApprovalId, IncidentId, RepairId};

/// One repair, whole: the request with its dry-run, the decisions, the outcome and its re-check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Repair {
    pub repair_id: RepairId,
    pub repair_type: RepairType,
    pub status: RepairStatus,
    pub risk: Risk,
    pub risk_reasons: Vec<String>,
    pub tenant_id: TenantId,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub incident_id: IncidentId,
    pub mismatch_id: Option<Uuid>,
    /// The re-check of that mismatch after the execution ([`crate::reconcile::RecheckOutcome`]).
    pub mismatch_recheck: Option<Value>,
    pub reason: String,
    pub idempotency_key: String,
    pub dry_run: bool,
    pub requested_by: String,
    pub requested_by_subject: String,
    pub entity_version: Option<i64>,
    pub before_state: Value,
    pub proposed_change: Value,
    pub proposed_change_hash: String,
    pub safety_checks: Vec<SafetyCheck>,
    pub approved_by: Option<String>,
    pub approvals: Vec<ApprovalRecord>,
    pub after_state: Option<Value>,
    pub failure_reason: Option<String>,
    pub executed_by: Option<String>,
    pub executed_at: Option<DateTime<Utc>>,
    pub recheck: Option<Recheck>,
    pub rechecked_at: Option<DateTime<Utc>>,
    /// The engine calls the execution owed after its commit, with their attempts.
    pub follow_ups: Vec<FollowUp>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One decision on a repair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ApprovalRecord {
    pub approval_id: ApprovalId,
    pub approver: String,
    pub approver_subject: String,
    /// APPROVED or REJECTED.
    pub decision: String,
    pub entity_version: Option<i64>,
    pub proposed_change_hash: String,
    pub comment: Option<String>,
    pub decided_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
}

impl Repair {
    /// The standing approval: the latest decision, when it approves and has not expired.
    pub fn standing_approval(&self, now: DateTime<Utc>) -> Option<&ApprovalRecord> {
        self.approvals
            .last()
            .filter(|a| a.decision == "APPROVED" && a.expires_at.is_none_or(|e| e > now))
    }

    /// How long it has waited since it was requested.
    pub fn age(&self, now: DateTime<Utc>) -> chrono::TimeDelta {
        now - self.created_at
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    repair_id: RepairId,
    incident_id: IncidentId,
    tenant_id: TenantId,
    entity_type: String,
    entity_id: Uuid,
    command_type: String,
    dry_run: bool,
    risk: String,
    idempotency_key: String,
    requested_by: String,
    requested_by_subject: String,
    approved_by: Option<String>,
    reason: String,
    entity_version: Option<i64>,
    before_state: Value,
    proposed_change: Value,
    proposed_change_hash: String,
    after_state: Option<Value>,
    failure_reason: Option<String>,
    status: String,
    executed_by: Option<String>,
    executed_at: Option<DateTime<Utc>>,
    safety_checks: Value,
    risk_reasons: Value,
    recheck: Option<Value>,
    rechecked_at: Option<DateTime<Utc>>,
    mismatch_id: Option<Uuid>,
    mismatch_recheck: Option<Value>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

pub(super) const COLUMNS: &str = "repair_id, incident_id, tenant_id, entity_type, entity_id, command_type, dry_run, risk,
    idempotency_key, requested_by, requested_by_subject, approved_by, reason, entity_version, before_state,
    proposed_change, proposed_change_hash, after_state, failure_reason, status, executed_by, executed_at,
    safety_checks, risk_reasons, recheck, rechecked_at, mismatch_id, mismatch_recheck, created_at, updated_at";

fn json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).map_err(|e| Error::Internal(format!("stored repair JSON: {e}")))
}

fn stored<T: Named>(what: &str, value: &str) -> Result<T> {
    T::parse_name(value).ok_or_else(|| Error::Internal(format!("unexpected stored {what} {value:?}")))
}

impl Row {
    fn into_repair(self, approvals: Vec<ApprovalRecord>, follow_ups: Vec<FollowUp>) -> Result<Repair> {
        Ok(Repair {
            repair_id: self.repair_id,
            repair_type: stored("repair type", &self.command_type)?,
            status: stored("repair status", &self.status)?,
            risk: stored("risk", &self.risk)?,
            risk_reasons: json(self.risk_reasons)?,
            tenant_id: self.tenant_id,
            entity_type: self.entity_type,
            entity_id: self.entity_id,
            incident_id: self.incident_id,
            mismatch_id: self.mismatch_id,
            mismatch_recheck: self.mismatch_recheck,
            reason: self.reason,
            idempotency_key: self.idempotency_key,
            dry_run: self.dry_run,
            requested_by: self.requested_by,
            requested_by_subject: self.requested_by_subject,
            entity_version: self.entity_version,
            before_state: self.before_state,
            proposed_change: self.proposed_change,
            proposed_change_hash: self.proposed_change_hash,
            safety_checks: json(self.safety_checks)?,
            approved_by: self.approved_by,
            approvals,
            after_state: self.after_state,
            failure_reason: self.failure_reason,
            executed_by: self.executed_by,
            executed_at: self.executed_at,
            recheck: self.recheck.map(json).transpose()?,
            rechecked_at: self.rechecked_at,
            follow_ups,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

async fn approvals_of(db: &mut PgConnection, repair: RepairId) -> Result<Vec<ApprovalRecord>> {
    Ok(sqlx::query_as::<_, ApprovalRecord>(
        "select approval_id, approver, approver_subject, decision, entity_version, proposed_change_hash, comment,
                decided_at, expires_at
         from ops.repair_approval where repair_id = $1 order by decided_at, approval_id",
    )
    .bind(repair)
    .fetch_all(db)
    .await?)
}

/// One repair, `for update` when `lock` (the lifecycle's steps serialise on the row).
pub(super) async fn load(db: &mut PgConnection, repair: RepairId, lock: bool) -> Result<Option<Repair>> {
    let sql = format!(
        "select {COLUMNS} from ops.repair_command_log where repair_id = $1{}",
        if lock { " for update" } else { "" }
    );
    let Some(row) = sqlx::query_as::<_, Row>(&sql).bind(repair).fetch_optional(&mut *db).await? else {
        return Ok(None);
    };
    let approvals = approvals_of(db, repair).await?;
    let follow_ups = super::follow_up::of_repair(db, repair).await?;
    row.into_repair(approvals, follow_ups).map(Some)
}

/// The repair an idempotency key made, if any.
pub(super) async fn by_key(db: &mut PgConnection, key: &str) -> Result<Option<Repair>> {
    let id: Option<RepairId> = sqlx::query_scalar("select repair_id from ops.repair_command_log where idempotency_key = $1")
        .bind(key)
        .fetch_optional(&mut *db)
        .await?;
    match id {
        Some(id) => load(db, id, false).await,
        None => Ok(None),
    }
}

/// Which repairs to list.
#[derive(Debug, Clone, Copy)]
pub(super) enum ListBy {
    /// HIGH-risk repairs waiting for a decision, oldest first (`ix_repair_waiting`).
    Waiting,
    /// Of one incident, newest first (`ix_repair_incident_created`).
    Incident(IncidentId),
    /// Of one entity, newest first (`ix_repair_entity_created`).
    Entity(Uuid),
    /// All, newest first.
    Recent,
}

/// Repairs, whole, within `scope` (the tenants the reader may see; `None`: every tenant).
pub(super) async fn list(db: &mut PgConnection, by: ListBy, scope: Option<&[TenantId]>, limit: i64) -> Result<Vec<Repair>> {
    let (filter, order, param) = match by {
        // $3 is bound (null) for every shape, so each statement names it.
        ListBy::Waiting => ("status = 'REQUESTED' and risk = 'HIGH' and $3::uuid is null", "created_at", None),
        ListBy::Incident(id) => ("incident_id = $3::uuid", "created_at desc", Some(id.as_uuid())),
        ListBy::Entity(id) => ("entity_id = $3::uuid", "created_at desc", Some(id)),
        ListBy::Recent => ("$3::uuid is null", "created_at desc", None),
    };
    let sql = format!(
        "select {COLUMNS} from ops.repair_command_log
         where {filter} and ($1::uuid[] is null or tenant_id = any($1))
         order by {order} limit $2"
    );
    let rows = sqlx::query_as::<_, Row>(&sql).bind(scope).bind(limit).bind(param).fetch_all(&mut *db).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let approvals = approvals_of(db, row.repair_id).await?;
        let follow_ups = super::follow_up::of_repair(db, row.repair_id).await?;
        out.push(row.into_repair(approvals, follow_ups)?);
    }
    Ok(out)
}

/// Sets a status (and what goes with it); the triggers check the move.
pub(super) async fn settle(
    db: &mut PgConnection,
    repair: RepairId,
    status: RepairStatus,
    after_state: Option<&Value>,
    failure_reason: Option<&str>,
    executed_by: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "update ops.repair_command_log set status = $2, after_state = coalesce($3, after_state),
           failure_reason = coalesce($4, failure_reason), executed_by = coalesce($5, executed_by),
           executed_at = case when $2 in ('EXECUTED', 'FAILED') then now() else executed_at end, updated_at = now()
         where repair_id = $1",
    )
    .bind(repair)
    .bind(status.name())
    .bind(after_state)
    .bind(failure_reason)
    .bind(executed_by)
    .execute(db)
    .await
    .map_err(trigger_refusal)?;
    Ok(())
}

/// A refusal raised by the evidence triggers (SQLSTATE P0001) is a rule, said as the trigger says it.
pub(super) fn trigger_refusal(error: sqlx::Error) -> Error {
    if let sqlx::Error::Database(db) = &error {
        if db.code().as_deref() == Some("P0001") {
            return Error::rule(db.message().to_string());
        }
    }
    Error::Database(error)
}
