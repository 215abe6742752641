//! What every incident command does the same way inside the command runner ([`crate::command::run`]), so
//! each command file reads as its steps only:
//!
//! 1. [`lock_incident`] — load the incident row `for update`, with its version and tenants, and check
//!    them against the actor's scope (every tenant of the incident; none means platform-wide, for actors
//!    scoped to every tenant) — refused → audited by the runner;
//! 2. [`check_version`] — the version the form was rendered with (stale → [`Error::Stale`]);
//! 3. the command's own checks and writes, its timeline event(s), and `cx.record(detail)` for the audit
//!    line the runner appends in the same transaction.

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use sqlx::PgConnection;

use super::model::{stored, IncidentStatus, Severity};
use crate::command::Cx;
use crate::error::{Error, Result};
use crate::ids::IncidentId;

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

pub(crate) fn check_version(entity: &'static str, id: impl ToString, expected: i64, found: i64) -> Result<()> {
    if expected != found {
        return Err(Error::Stale { entity, id: id.to_string(), expected, found: Some(found) });
    }
    Ok(())
}

/// A closed incident is read-only (its action items stay trackable).
pub(crate) fn refuse_if_closed(locked: &Locked, what: &str) -> Result<()> {
    if locked.status.is_closed() {
        return Err(Error::rule(format!(
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

/// Loads and locks the incident row with its tenants, and checks that the actor may act on all of them.
pub(crate) async fn lock_incident(cx: &mut Cx<'_>, incident_id: IncidentId) -> Result<Locked> {
    let locked = lock_row(cx.db(), incident_id).await?;
    cx.require_tenants(&locked.tenants)?;
    Ok(locked)
}

async fn lock_row(db: &mut PgConnection, incident_id: IncidentId) -> Result<Locked> {
    let row = sqlx::query_as::<_, LockedRow>(
        "select incident_id, incident_number, severity, status, version, next_update_due_at
         from ops.operational_incident where incident_id = $1 for update",
    )
    .bind(incident_id)
    .fetch_optional(&mut *db)
    .await?
    .ok_or_else(|| Error::not_found("incident", incident_id))?;
    let tenants = incident_tenants(&mut *db, incident_id).await?;
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

/// Checks that the incident exists and that the actor may see it (one of its tenants in scope); returns
/// its tenants. For reads.
pub(crate) async fn visible_incident(cx: &mut Cx<'_>, incident_id: IncidentId) -> Result<Vec<TenantId>> {
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from ops.operational_incident where incident_id = $1)")
            .bind(incident_id)
            .fetch_one(cx.db())
            .await?;
    if !exists {
        return Err(Error::not_found("incident", incident_id));
    }
    let tenants = incident_tenants(cx.db(), incident_id).await?;
    cx.require_visible(&tenants)?;
    Ok(tenants)
}

/// What a mitigation (a repair, a control change) is linked to: an incident that exists, that the actor
/// may see, that is OPEN or MITIGATED, and that concerns `tenant` (or every tenant). Problems are said at
/// the form's `field`. Returns the incident's tenants.
pub(crate) async fn require_active_incident(
    cx: &mut Cx<'_>,
    incident: IncidentId,
    field: &'static str,
    tenant: Option<TenantId>,
) -> Result<Vec<TenantId>> {
    let status: Option<String> = sqlx::query_scalar("select status from ops.operational_incident where incident_id = $1")
        .bind(incident)
        .fetch_optional(cx.db())
        .await?;
    let status = status.ok_or_else(|| Error::invalid(field, format!("There is no incident {incident}")))?;
    let tenants = incident_tenants(cx.db(), incident).await?;
    cx.require_visible(&tenants)?;
    if !matches!(status.as_str(), "OPEN" | "MITIGATED") {
        return Err(Error::invalid(field, format!("The incident is {status}: link an OPEN or MITIGATED incident")));
    }
    if let Some(tenant) = tenant {
        if !tenants.is_empty() && !tenants.contains(&tenant) {
            return Err(Error::invalid(field, "The incident does not concern this tenant"));
        }
    }
    Ok(tenants)
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
    version.ok_or(Error::Stale {
        entity: "incident",
        id: locked.incident_id.to_string(),
        expected: locked.version,
        found: None,
    })
}
