//! The lifecycle (OPEN → MITIGATED → RESOLVED → CLOSED, and REOPEN) and severity changes: commands with
//! a reason, each step's time stored on the incident (`mitigated_at`, `resolved_at`, `closed_at`) and told
//! on the timeline. The table in [`Lifecycle`] decides which steps exist; one rule more guards CLOSE:
//! a SEV1 or SEV2 closes only once its post-incident review is COMPLETE and every action item has an
//! owner and a due date — the refusal lists everything still missing.

use chrono::{DateTime, Utc};
use platform::machine::transition;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::command::{
    audit_succeeded, bump_version, check_role, check_scope, check_version, finish, lock_incident, refuse_if_closed,
    Locked,
};
use super::error::{Error, FieldErrors, Result};
use super::form::{self, Reason};
use super::ids::IncidentId;
use super::model::{next_update_due, EventKind, IncidentCommand, IncidentStatus, Lifecycle, Severity};
use super::timeline::{self, event_type, NewEvent};
use crate::identity::{Actor, Permission};

/// A lifecycle button's form: which step, and why.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LifecycleForm {
    pub command: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleChange {
    pub command: IncidentCommand,
    pub reason: Reason,
}

impl LifecycleChange {
    pub fn parse(form: &LifecycleForm) -> std::result::Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let command = form::choice::<IncidentCommand>(&mut errors, "command", &form.command, "a step");
        let reason = Reason::parse(&mut errors, "reason", &form.reason);
        errors.finish(|| LifecycleChange { command: command.expect("checked"), reason: reason.expect("checked") })
    }
}

/// What a lifecycle step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusChanged {
    pub from: IncidentStatus,
    pub to: IncidentStatus,
    pub version: i64,
    pub at: DateTime<Utc>,
}

/// Moves the incident one lifecycle step.
#[tracing::instrument(skip(pool, actor, change), fields(actor = %actor.subject, command = %change.command), err(Display))]
pub async fn change_status(
    pool: &PgPool,
    actor: &Actor,
    incident_id: IncidentId,
    expected_version: i64,
    change: &LifecycleChange,
) -> Result<StatusChanged> {
    let action = action_of(change.command);
    let mut tx = pool.begin().await?;
    let result = change_status_in(&mut tx, actor, incident_id, expected_version, change).await;
    finish(pool, tx, actor, action, Some(incident_id), result).await
}

fn action_of(command: IncidentCommand) -> &'static str {
    match command {
        IncidentCommand::Mitigate => "incident.mitigate",
        IncidentCommand::Resolve => "incident.resolve",
        IncidentCommand::Close => "incident.close",
        IncidentCommand::Reopen => "incident.reopen",
    }
}

async fn change_status_in(
    tx: &mut PgConnection,
    actor: &Actor,
    incident_id: IncidentId,
    expected_version: i64,
    change: &LifecycleChange,
) -> Result<StatusChanged> {
    check_role(actor, Permission::ManageIncident)?;
    let locked = lock_incident(tx, incident_id).await?;
    check_scope(actor, &locked.tenants)?;
    check_version("incident", incident_id.as_uuid(), expected_version, locked.version)?;
    let to = transition::<Lifecycle>(locked.status, change.command).map_err(|r| Error::refused(r.to_string()))?;
    if change.command == IncidentCommand::Close && locked.severity.needs_review_to_close() {
        let missing = close_blockers(tx, incident_id).await?;
        if !missing.is_empty() {
            return Err(Error::CloseBlocked { missing });
        }
    }

    let now = Utc::now();
    let version = bump_version(tx, &locked, now).await?;
    let sql = match to {
        IncidentStatus::Mitigated => {
            "update ops.operational_incident set status = $2, mitigated_at = $3 where incident_id = $1"
        }
        IncidentStatus::Resolved => {
            "update ops.operational_incident set status = $2, resolved_at = $3 where incident_id = $1"
        }
        IncidentStatus::Closed => {
            "update ops.operational_incident set status = $2, closed_at = $3 where incident_id = $1"
        }
        // Back to work: not mitigated, not resolved, and updates are due again.
        IncidentStatus::Open => {
            "update ops.operational_incident set status = $2, mitigated_at = null, resolved_at = null,
               next_update_due_at = $4 where incident_id = $1"
        }
    };
    sqlx::query(sql)
        .bind(incident_id)
        .bind(to.as_str())
        .bind(now)
        .bind(next_update_due(locked.severity, now))
        .execute(&mut *tx)
        .await?;

    timeline::append(
        tx,
        NewEvent {
            incident_id,
            kind: EventKind::System,
            event_type: event_type::STATUS_CHANGED,
            actor: &actor.display(),
            headline: format!("{} → {}: {}", locked.status, to, change.reason),
            body: json!({
                "command": change.command,
                "from": locked.status,
                "to": to,
                "reason": change.reason,
                "at": now,
                "version": version,
            }),
            entities: &[],
        },
    )
    .await?;
    audit_succeeded(
        tx,
        actor,
        action_of(change.command),
        incident_id,
        &locked.tenants,
        Some(change.reason.as_str()),
        json!({ "from": locked.status, "to": to, "version": version }),
    )
    .await?;
    tracing::info!(%incident_id, from = %locked.status, to = %to, "incident status changed");
    Ok(StatusChanged { from: locked.status, to, version, at: now })
}

/// What still stands between a SEV1/SEV2 and CLOSED; empty when nothing does. (Severity is not checked
/// here: callers ask only for incidents that need a review.)
pub(crate) async fn close_blockers(db: &mut PgConnection, incident_id: IncidentId) -> Result<Vec<String>> {
    let review: Option<String> =
        sqlx::query_scalar("select status from ops.post_incident_review where incident_id = $1")
            .bind(incident_id)
            .fetch_optional(&mut *db)
            .await?;
    let mut missing = Vec::new();
    match review.as_deref() {
        None => missing.push("the post-incident review has not been written".to_string()),
        Some("COMPLETE") => {}
        Some(_) => missing.push("the post-incident review is not complete".to_string()),
    }
    let items = sqlx::query_as::<_, (String, bool, bool)>(
        "select action, owner is null or btrim(owner) = '', due_date is null from ops.action_item
         where incident_id = $1 order by created_at, action_item_id",
    )
    .bind(incident_id)
    .fetch_all(&mut *db)
    .await?;
    for (action, no_owner, no_due) in items {
        let what = match (no_owner, no_due) {
            (true, true) => "has no owner and no due date",
            (true, false) => "has no owner",
            (false, true) => "has no due date",
            (false, false) => continue,
        };
        missing.push(format!("action item \"{}\" {what}", timeline::first_line(&action, 60)));
    }
    Ok(missing)
}

/// The severity form: the new severity and why.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct SeverityForm {
    pub severity: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityChange {
    pub severity: Severity,
    pub reason: Reason,
}

impl SeverityChange {
    pub fn parse(form: &SeverityForm) -> std::result::Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let severity = form::choice::<Severity>(&mut errors, "severity", &form.severity, "a severity");
        let reason = Reason::parse(&mut errors, "reason", &form.reason);
        errors.finish(|| SeverityChange { severity: severity.expect("checked"), reason: reason.expect("checked") })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SeverityChanged {
    pub from: Severity,
    pub to: Severity,
    pub version: i64,
    pub next_update_due_at: Option<DateTime<Utc>>,
}

/// Changes the severity (until CLOSED). A raised severity can bring the next update forward; it is never
/// pushed back by a change.
#[tracing::instrument(skip(pool, actor, change), fields(actor = %actor.subject, severity = %change.severity), err(Display))]
pub async fn change_severity(
    pool: &PgPool,
    actor: &Actor,
    incident_id: IncidentId,
    expected_version: i64,
    change: &SeverityChange,
) -> Result<SeverityChanged> {
    let mut tx = pool.begin().await?;
    let result = change_severity_in(&mut tx, actor, incident_id, expected_version, change).await;
    finish(pool, tx, actor, "incident.severity", Some(incident_id), result).await
}

async fn change_severity_in(
    tx: &mut PgConnection,
    actor: &Actor,
    incident_id: IncidentId,
    expected_version: i64,
    change: &SeverityChange,
) -> Result<SeverityChanged> {
    check_role(actor, Permission::ManageIncident)?;
    let locked = lock_incident(tx, incident_id).await?;
    check_scope(actor, &locked.tenants)?;
    check_version("incident", incident_id.as_uuid(), expected_version, locked.version)?;
    refuse_if_closed(&locked, "changing the severity")?;
    if locked.severity == change.severity {
        return Err(
            FieldErrors::single("severity", format!("The incident is already {}", change.severity.label())).into()
        );
    }
    let now = Utc::now();
    let version = bump_version(tx, &locked, now).await?;
    let due = rescheduled_due(&locked, change.severity, now);
    sqlx::query("update ops.operational_incident set severity = $2, next_update_due_at = $3 where incident_id = $1")
        .bind(incident_id)
        .bind(change.severity.as_str())
        .bind(due)
        .execute(&mut *tx)
        .await?;
    timeline::append(
        tx,
        severity_change_event(
            incident_id,
            &actor.display(),
            locked.severity,
            change.severity,
            change.reason.as_str(),
            due,
        ),
    )
    .await?;
    audit_succeeded(
        tx,
        actor,
        "incident.severity",
        incident_id,
        &locked.tenants,
        Some(change.reason.as_str()),
        json!({ "from": locked.severity, "to": change.severity, "version": version }),
    )
    .await?;
    Ok(SeverityChanged { from: locked.severity, to: change.severity, version, next_update_due_at: due })
}

/// The next update's due time once the severity is `severity`: unchanged severity keeps it; a change
/// while the incident is active brings it forward to the new cadence if that is sooner.
pub(crate) fn rescheduled_due(locked: &Locked, severity: Severity, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if severity == locked.severity || !locked.status.is_active() {
        return locked.next_update_due_at;
    }
    let by_cadence = next_update_due(severity, now);
    Some(match locked.next_update_due_at {
        Some(due) if due < by_cadence => due,
        _ => by_cadence,
    })
}

pub(crate) fn severity_change_event<'a>(
    incident_id: IncidentId,
    actor: &'a str,
    from: Severity,
    to: Severity,
    reason: &str,
    due: Option<DateTime<Utc>>,
) -> NewEvent<'a> {
    NewEvent {
        incident_id,
        kind: EventKind::System,
        event_type: event_type::SEVERITY_CHANGED,
        actor,
        headline: format!("Severity {} → {}: {reason}", from.label(), to.label()),
        body: json!({ "from": from, "to": to, "reason": reason, "next_update_due_at": due }),
        entities: &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use platform::machine::Named;

    fn locked(severity: Severity, status: IncidentStatus, due: Option<DateTime<Utc>>) -> Locked {
        Locked {
            incident_id: IncidentId::new(),
            incident_number: 1,
            severity,
            status,
            version: 1,
            next_update_due_at: due,
            tenants: vec![],
        }
    }

    #[test]
    fn raising_the_severity_brings_the_next_update_forward_and_lowering_never_pushes_it_back() {
        let now = Utc::now();
        let due = now + TimeDelta::hours(3);
        let sev3 = locked(Severity::Sev3, IncidentStatus::Open, Some(due));
        assert_eq!(rescheduled_due(&sev3, Severity::Sev1, now), Some(now + TimeDelta::minutes(30)));
        let sev1 = locked(Severity::Sev1, IncidentStatus::Open, Some(now + TimeDelta::minutes(10)));
        assert_eq!(rescheduled_due(&sev1, Severity::Sev4, now), Some(now + TimeDelta::minutes(10)));
        let resolved = locked(Severity::Sev3, IncidentStatus::Resolved, Some(due));
        assert_eq!(rescheduled_due(&resolved, Severity::Sev1, now), Some(due));
    }

    #[test]
    fn a_lifecycle_form_needs_a_known_step_and_a_reason() {
        let errors =
            LifecycleChange::parse(&LifecycleForm { command: "PAUSE".into(), reason: "meh".into() }).unwrap_err();
        assert!(errors.get("command").unwrap().starts_with("Choose a step: one of MITIGATE"));
        assert_eq!(errors.get("reason"), Some("Say why in at least 10 characters"));
        let ok = LifecycleChange::parse(&LifecycleForm {
            command: "mitigate".into(),
            reason: "paused the relay for acme".into(),
        });
        assert_eq!(ok.unwrap().command, IncidentCommand::Mitigate);
        assert_eq!(<IncidentCommand as Named>::ALL.len(), 4);
    }
}
