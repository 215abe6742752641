//! The lifecycle (OPEN → MITIGATED → RESOLVED → CLOSED, and REOPEN) and severity changes: commands with
//! a reason, each step's time stored on the incident (`mitigated_at`, `resolved_at`, `closed_at`) and told
//! on the timeline. The table in [`Lifecycle`] decides which steps exist; one rule more guards CLOSE:
//! a SEV1 or SEV2 closes only once its post-incident review is COMPLETE and every action item has an
//! owner and a due date — the refusal lists everything still missing.

use chrono::{DateTime, Utc};
use platform::machine::transition;
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::command::{bump_version, check_version, lock_incident, refuse_if_closed, Locked, AUDIT_ENTITY};
use super::model::{next_update_due, stored, EventKind, IncidentCommand, IncidentStatus, Lifecycle, Severity};
use super::review::action_item::ActionItemType;
use super::review::pir::ReviewStatus;
use super::timeline::{self, event_type, NewEvent};
use crate::command::{run, Action, Cx, Envelope};
use crate::error::{Error, Result};
use crate::form::{parse, FieldErrors, Reason};
use crate::identity::Actor;
use crate::ids::IncidentId;

crate::form! {
    /// A lifecycle button's form: which step, and why.
    pub struct LifecycleForm / LifecycleFields {
        version: String,
        command: String,
        reason: String,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleChange {
    pub command: IncidentCommand,
    pub reason: Reason,
}

impl LifecycleChange {
    pub fn parse(form: &LifecycleForm) -> std::result::Result<Self, FieldErrors> {
        let f = LifecycleForm::FIELDS;
        let mut errors = FieldErrors::new();
        let command = parse::choice::<IncidentCommand>(&mut errors, f.command, &form.command, "a step");
        let reason = Reason::parse(&mut errors, f.reason, &form.reason);
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
    let envelope = Envelope::new(actor, action_of(change.command))
        .entity(AUDIT_ENTITY, incident_id)
        .incident(incident_id)
        .reason(change.reason.as_str());
    run(pool, envelope, async |cx| change_status_in(cx, incident_id, expected_version, change).await).await
}

/// Each lifecycle step is a command of its own (its own audit name and metric).
pub fn action_of(command: IncidentCommand) -> Action {
    match command {
        IncidentCommand::Mitigate => Action::IncidentMitigate,
        IncidentCommand::Resolve => Action::IncidentResolve,
        IncidentCommand::Close => Action::IncidentClose,
        IncidentCommand::Reopen => Action::IncidentReopen,
    }
}

async fn change_status_in(
    cx: &mut Cx<'_>,
    incident_id: IncidentId,
    expected_version: i64,
    change: &LifecycleChange,
) -> Result<StatusChanged> {
    let locked = lock_incident(cx, incident_id).await?;
    check_version("incident", incident_id, expected_version, locked.version)?;
    let to = transition::<Lifecycle>(locked.status, change.command).map_err(|r| Error::rule(r.to_string()))?;
    let who = cx.actor_display();
    let tx = cx.db();
    if change.command == IncidentCommand::Close && locked.severity.needs_review_to_close() {
        let missing = close_blockers(tx, incident_id).await?;
        if !missing.is_empty() {
            return Err(Error::Rule { reason: "the incident cannot close yet".to_string(), missing });
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
            actor: &who,
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
    // A reopened incident is not over: a review completed for how it ended must be revisited before it
    // can close again.
    let review_reopened = if change.command == IncidentCommand::Reopen {
        super::review::pir::reopen_review(tx, incident_id, &who, change.reason.as_str()).await?
    } else {
        None
    };
    cx.record(json!({ "from": locked.status, "to": to, "version": version, "review_reopened": review_reopened }));
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
    let review = review.as_deref().map(stored::<ReviewStatus>).transpose()?;
    let rows = sqlx::query_as::<_, (String, String, bool, bool)>(
        "select action, item_type, owner is not null and btrim(owner) <> '', due_date is not null
         from ops.action_item where incident_id = $1 order by created_at, action_item_id",
    )
    .bind(incident_id)
    .fetch_all(&mut *db)
    .await?;
    let items = rows
        .into_iter()
        .map(|(action, item_type, has_owner, has_due_date)| {
            Ok(ClosingItem { action, item_type: stored(&item_type)?, has_owner, has_due_date })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(what_blocks_closing(review, &items))
}

/// An action item as the close rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosingItem {
    pub action: String,
    pub item_type: ActionItemType,
    pub has_owner: bool,
    pub has_due_date: bool,
}

/// The close rule of a SEV1/SEV2 (lesson §21, §26.9): the review is COMPLETE, at least one action item
/// improves a test, an alert, a runbook or the architecture, and every item has an owner and a due date.
/// Everything missing is listed, so the person sees the whole way to CLOSED at once.
pub fn what_blocks_closing(review: Option<ReviewStatus>, items: &[ClosingItem]) -> Vec<String> {
    let mut missing = Vec::new();
    match review {
        None => missing.push("the post-incident review has not been written".to_string()),
        Some(ReviewStatus::Complete) => {}
        Some(ReviewStatus::Draft) => missing.push("the post-incident review is not complete".to_string()),
    }
    if !items.iter().any(|i| i.item_type.improves_the_system()) {
        missing.push(
            "no action item improves a test, an alert, a runbook or the architecture (add one of type TEST, ALERT, \
             RUNBOOK or ARCHITECTURE)"
                .to_string(),
        );
    }
    for item in items {
        let what = match (item.has_owner, item.has_due_date) {
            (false, false) => "has no owner and no due date",
            (false, true) => "has no owner",
            (true, false) => "has no due date",
            (true, true) => continue,
        };
        missing.push(format!("action item \"{}\" {what}", timeline::first_line(&item.action, 60)));
    }
    missing
}

crate::form! {
    /// The severity form: the new severity and why.
    pub struct SeverityForm / SeverityFields {
        version: String,
        severity: String,
        reason: String,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeverityChange {
    pub severity: Severity,
    pub reason: Reason,
}

impl SeverityChange {
    pub fn parse(form: &SeverityForm) -> std::result::Result<Self, FieldErrors> {
        let f = SeverityForm::FIELDS;
        let mut errors = FieldErrors::new();
        let severity = parse::choice::<Severity>(&mut errors, f.severity, &form.severity, "a severity");
        let reason = Reason::parse(&mut errors, f.reason, &form.reason);
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
    let envelope = Envelope::new(actor, Action::IncidentSeverity)
        .entity(AUDIT_ENTITY, incident_id)
        .incident(incident_id)
        .reason(change.reason.as_str());
    run(pool, envelope, async |cx| change_severity_in(cx, incident_id, expected_version, change).await).await
}

async fn change_severity_in(
    cx: &mut Cx<'_>,
    incident_id: IncidentId,
    expected_version: i64,
    change: &SeverityChange,
) -> Result<SeverityChanged> {
    let locked = lock_incident(cx, incident_id).await?;
    check_version("incident", incident_id, expected_version, locked.version)?;
    refuse_if_closed(&locked, "changing the severity")?;
    if locked.severity == change.severity {
        return Err(Error::invalid(
            SeverityForm::FIELDS.severity,
            format!("The incident is already {}", change.severity.label()),
        ));
    }
    let who = cx.actor_display();
    let tx = cx.db();
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
            &who,
            locked.severity,
            change.severity,
            change.reason.as_str(),
            due,
        ),
    )
    .await?;
    cx.record(json!({ "from": locked.severity, "to": change.severity, "version": version }));
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

    fn item(item_type: ActionItemType, has_owner: bool, has_due_date: bool) -> ClosingItem {
        ClosingItem { action: format!("Add a {item_type} for the relay backlog"), item_type, has_owner, has_due_date }
    }

    #[test]
    fn a_serious_incident_closes_with_a_complete_review_and_an_owned_dated_item_that_improves_the_system() {
        let ready = [item(ActionItemType::Alert, true, true), item(ActionItemType::Process, true, true)];
        assert_eq!(what_blocks_closing(Some(ReviewStatus::Complete), &ready), Vec::<String>::new());
    }

    #[test]
    fn closing_needs_an_item_that_improves_a_test_an_alert_a_runbook_or_the_architecture() {
        for improving in [ActionItemType::Test, ActionItemType::Alert, ActionItemType::Runbook, ActionItemType::Architecture] {
            let items = [item(improving, true, true)];
            assert!(what_blocks_closing(Some(ReviewStatus::Complete), &items).is_empty(), "{improving}");
        }
        for other in [ActionItemType::Dashboard, ActionItemType::Control, ActionItemType::CodeFix, ActionItemType::Process] {
            let blockers = what_blocks_closing(Some(ReviewStatus::Complete), &[item(other, true, true)]);
            assert_eq!(blockers.len(), 1, "{other}: {blockers:?}");
            assert!(blockers[0].starts_with("no action item improves a test"), "{blockers:?}");
        }
        let none = what_blocks_closing(Some(ReviewStatus::Complete), &[]);
        assert!(none[0].starts_with("no action item improves"), "{none:?}");
    }

    #[test]
    fn every_missing_piece_is_listed_at_once() {
        let blockers = what_blocks_closing(Some(ReviewStatus::Draft), &[item(ActionItemType::Test, false, true)]);
        assert_eq!(
            blockers,
            [
                "the post-incident review is not complete".to_string(),
                "action item \"Add a TEST for the relay backlog\" has no owner".to_string(),
            ]
        );
        assert_eq!(what_blocks_closing(None, &[])[0], "the post-incident review has not been written");
    }

    #[test]
    fn a_lifecycle_form_needs_a_known_step_and_a_reason() {
        let errors = LifecycleChange::parse(&LifecycleForm {
            command: "PAUSE".into(),
            reason: "meh".into(),
            ..Default::default()
        })
        .unwrap_err();
        assert!(errors.get("command").unwrap().starts_with("Choose a step: one of MITIGATE"));
        assert_eq!(errors.get("reason"), Some("Say why in at least 10 characters"));
        let ok = LifecycleChange::parse(&LifecycleForm {
            command: "mitigate".into(),
            reason: "paused the relay for acme".into(),
            ..Default::default()
        });
        assert_eq!(ok.unwrap().command, IncidentCommand::Mitigate);
        assert_eq!(<IncidentCommand as Named>::ALL.len(), 4);
    }
}
