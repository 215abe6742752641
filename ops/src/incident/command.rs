//! What every incident command does the same way, so each command file reads as its steps only:
//!
//! 1. [`check_role`] — the permission the command needs (refused → audited);
//! 2. [`lock_incident`] — load the incident row `for update`, with its version and tenants;
//! 3. [`check_scope`] — every tenant of the incident in the actor's scope; an incident with no tenant is
//!    platform-wide and needs an actor scoped to every tenant (refused → audited);
//! 4. [`check_version`] — the version the form was rendered with (stale → [`Error::Conflict`]);
//! 5. the command's own checks and writes, its timeline event(s) and [`audit_succeeded`];
//! 6. [`finish`] — commit, or roll back and, for a refusal, append the REFUSED audit line in its own
//!    statement, outside the rolled-back transaction, so the refusal is the only thing that remains.

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::error::{Error, Result};
use super::ids::IncidentId;
use super::model::{stored, IncidentStatus, Severity};
use crate::audit::{self, AuditEntry, Outcome};
use crate::identity::{authorize, Actor, Permission, Refusal, TenantScope};

/// How audit lines name what an incident command was about.
pub(crate) const AUDIT_ENTITY: &str = "INCIDENT";

/// The incident row as a command sees it, locked for the rest of the transaction.
#[derive(Debug, Clone)]
pub(crate) struct Locked {
    pub incident_id: IncidentId,
    pub incident_number: i64,
    pub severity: Severity,
    pub status: IncidentStatus,
    pub version: i64,
    pub next_update_due_at: Option<DateTime<Utc>>,
    pub tenants: Vec<TenantId>,
}

pub(crate) fn check_role(actor: &Actor, permission: Permission) -> Result<()> {
    authorize(actor, permission, None)?;
    Ok(())
}

/// Every tenant must be in the actor's scope; no tenant at all means platform-wide, for All-scope actors.
pub(crate) fn check_scope<'a>(actor: &Actor, tenants: impl IntoIterator<Item = &'a TenantId>) -> Result<()> {
    let mut any = false;
    for &tenant in tenants {
        any = true;
        if !actor.can_see_tenant(tenant) {
            return Err(Refusal::TenantOutOfScope { tenant }.into());
        }
    }
    if !any && actor.tenants != TenantScope::All {
        return Err(Error::NeedsEveryTenant);
    }
    Ok(())
}

/// Whether a query may show an incident with these tenants: any of them in scope, or an All-scope actor.
pub(crate) fn can_see(actor: &Actor, tenants: &[TenantId]) -> bool {
    actor.tenants == TenantScope::All || tenants.iter().any(|t| actor.can_see_tenant(*t))
}

pub(crate) fn check_version(entity: &'static str, id: Uuid, expected: i64, found: i64) -> Result<()> {
    if expected != found {
        return Err(Error::Conflict { entity, id, expected, found });
    }
    Ok(())
}

/// A closed incident is read-only (its action items stay trackable).
pub(crate) fn refuse_if_closed(locked: &Locked, what: &str) -> Result<()> {
    if locked.status.is_closed() {
        return Err(Error::refused(format!(
            "incident #{} is CLOSED: {what} is no longer possible",
            locked.incident_number
        )));
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct LockedRow {
    incident_id: IncidentId,
    incident_number: i64,
    severity: String,
    status: String,
    version: i64,
    next_update_due_at: Option<DateTime<Utc>>,
}

/// Loads and locks the incident row, with its tenants.
pub(crate) async fn lock_incident(tx: &mut PgConnection, incident_id: IncidentId) -> Result<Locked> {
    let row = sqlx::query_as::<_, LockedRow>(
        "select incident_id, incident_number, severity, status, version, next_update_due_at
         from ops.operational_incident where incident_id = $1 for update",
    )
    .bind(incident_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::NotFound { entity: "incident", id: incident_id.to_string() })?;
    let tenants = incident_tenants(&mut *tx, incident_id).await?;
    Ok(Locked {
        incident_id: row.incident_id,
        incident_number: row.incident_number,
        severity: stored(&row.severity)?,
        status: stored(&row.status)?,
        version: row.version,
        next_update_due_at: row.next_update_due_at,
        tenants,
    })
}

pub(crate) async fn incident_tenants(db: &mut PgConnection, incident_id: IncidentId) -> Result<Vec<TenantId>> {
    Ok(sqlx::query_scalar("select tenant_id from ops.incident_tenant where incident_id = $1 order by tenant_id")
        .bind(incident_id)
        .fetch_all(db)
        .await?)
}

/// Moves the incident's version on (every change of the row's content does), guarded by the version read.
pub(crate) async fn bump_version(tx: &mut PgConnection, locked: &Locked, now: DateTime<Utc>) -> Result<i64> {
    let version: Option<i64> = sqlx::query_scalar(
        "update ops.operational_incident set version = version + 1, updated_at = $3
         where incident_id = $1 and version = $2 returning version",
    )
    .bind(locked.incident_id)
    .bind(locked.version)
    .bind(now)
    .fetch_optional(&mut *tx)
    .await?;
    version.ok_or(Error::Conflict {
        entity: "incident",
        id: locked.incident_id.as_uuid(),
        expected: locked.version,
        found: -1,
    })
}

/// The tenant an audit line names: the only one, when there is exactly one (the detail lists them all).
pub(crate) fn audit_tenant(tenants: &[TenantId]) -> Option<TenantId> {
    match tenants {
        [one] => Some(*one),
        _ => None,
    }
}

/// Appends the SUCCEEDED audit line of a command, inside its transaction.
pub(crate) async fn audit_succeeded(
    tx: &mut PgConnection,
    actor: &Actor,
    action: &str,
    incident_id: IncidentId,
    tenants: &[TenantId],
    reason: Option<&str>,
    mut detail: Value,
) -> Result<()> {
    if let Value::Object(map) = &mut detail {
        map.insert("tenants".into(), json!(tenants));
    }
    audit::append(
        &mut *tx,
        AuditEntry {
            actor,
            action,
            outcome: Outcome::Succeeded,
            tenant: audit_tenant(tenants),
            entity: Some((AUDIT_ENTITY, incident_id.as_uuid())),
            reason,
            detail,
        },
    )
    .await?;
    Ok(())
}

/// Ends a command: commits its transaction on success; otherwise rolls it back and, when the error is a
/// refusal, appends the REFUSED audit line on the pool (its own statement, outside the rolled-back work).
pub(crate) async fn finish<T>(
    pool: &PgPool,
    tx: Transaction<'static, Postgres>,
    actor: &Actor,
    action: &str,
    incident_id: Option<IncidentId>,
    result: Result<T>,
) -> Result<T> {
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(error) => {
            tx.rollback().await?;
            if error.is_refusal() {
                record_refusal(pool, actor, action, incident_id, &error).await?;
            }
            Err(error)
        }
    }
}

pub(crate) async fn record_refusal(
    pool: &PgPool,
    actor: &Actor,
    action: &str,
    incident_id: Option<IncidentId>,
    error: &Error,
) -> Result<()> {
    tracing::info!(action, incident_id = ?incident_id, actor = %actor.subject, refusal = %error, "incident command refused");
    let tenant = match error {
        Error::Forbidden(Refusal::TenantOutOfScope { tenant }) => Some(*tenant),
        _ => None,
    };
    let reason = error.to_string();
    audit::append(
        pool,
        AuditEntry {
            actor,
            action,
            outcome: Outcome::Refused,
            tenant,
            entity: incident_id.map(|id| (AUDIT_ENTITY, id.as_uuid())),
            reason: Some(&reason),
            detail: json!({ "refusal": refusal_kind(error) }),
        },
    )
    .await?;
    Ok(())
}

fn refusal_kind(error: &Error) -> &'static str {
    match error {
        Error::Forbidden(refusal) => refusal.kind(),
        Error::NeedsEveryTenant => "NEEDS_EVERY_TENANT",
        Error::CloseBlocked { .. } => "CLOSE_BLOCKED",
        _ => "RULE",
    }
}
