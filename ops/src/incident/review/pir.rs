//! The post-incident review (lesson §21): not a blame document, a system improvement mechanism. One per
//! incident, with every section of the template — summary, customer/business impact, duration, timeline
//! (detection → triage → mitigation → recovery → resolution), technical and process root cause,
//! detection and prevention gap, what worked, what did not — and the follow-up verification checkboxes
//! (test, alert, runbook, dashboard, control). Action items live beside it ([`super::action_item`]).
//!
//! DRAFT until completed. Completing needs the incident RESOLVED and the key sections written (listed in
//! the refusal when not). Editing a COMPLETE review makes it a DRAFT again: what was signed off is no
//! longer what is there. Nothing changes once the incident is CLOSED.

use chrono::{DateTime, Utc};
use platform::named_enum;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use crate::identity::{Actor, Permission};
use crate::incident::command::{
    audit_succeeded, check_role, check_scope, check_version, finish, lock_incident, refuse_if_closed,
};
use crate::incident::error::{Error, FieldErrors, Result};
use crate::incident::form::{self, MAX_LINE, MAX_TEXT};
use crate::incident::ids::{IncidentId, ReviewId};
use crate::incident::model::{stored, EventKind, IncidentStatus};
use crate::incident::timeline::{self, event_type, NewEvent};

named_enum!(/// Where a review stands.
ReviewStatus {
    Draft => "DRAFT",
    Complete => "COMPLETE",
});

/// The review form as sent. Checkboxes arrive as "on" when ticked and are absent otherwise.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReviewForm {
    pub summary: String,
    pub business_impact: String,
    pub duration: String,
    pub timeline: String,
    pub technical_root_cause: String,
    pub process_root_cause: String,
    pub detection_gap: String,
    pub prevention_gap: String,
    pub what_worked: String,
    pub what_did_not_work: String,
    pub test_added: Option<String>,
    pub alert_added: Option<String>,
    pub runbook_updated: Option<String>,
    pub dashboard_updated: Option<String>,
    pub control_added: Option<String>,
}

/// The template's sections.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewSections {
    pub summary: Option<String>,
    pub business_impact: Option<String>,
    pub duration: Option<String>,
    pub timeline: Option<String>,
    pub technical_root_cause: Option<String>,
    pub process_root_cause: Option<String>,
    pub detection_gap: Option<String>,
    pub prevention_gap: Option<String>,
    pub what_worked: Option<String>,
    pub what_did_not_work: Option<String>,
    pub verification: FollowUpVerification,
}

/// Follow-up verification (lesson §21.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FollowUpVerification {
    pub test_added: bool,
    pub alert_added: bool,
    pub runbook_updated: bool,
    pub dashboard_updated: bool,
    pub control_added: bool,
}

/// A review draft that passed every field check.
pub type ReviewForSave = ReviewSections;

/// The sections a review must have to be COMPLETE, with how the refusal names them.
pub const KEY_SECTIONS: [(&str, &str); 8] = [
    ("summary", "summary"),
    ("business_impact", "customer/business impact"),
    ("duration", "duration"),
    ("timeline", "timeline"),
    ("technical_root_cause", "technical root cause"),
    ("process_root_cause", "process root cause"),
    ("detection_gap", "detection gap"),
    ("prevention_gap", "prevention gap"),
];

impl ReviewSections {
    pub fn parse(form: &ReviewForm) -> std::result::Result<Self, FieldErrors> {
        let mut e = FieldErrors::new();
        let mut text = |field, input: &str| form::optional_text(&mut e, field, input, MAX_TEXT);
        let sections = ReviewSections {
            summary: text("summary", &form.summary),
            business_impact: text("business_impact", &form.business_impact),
            duration: None,
            timeline: text("timeline", &form.timeline),
            technical_root_cause: text("technical_root_cause", &form.technical_root_cause),
            process_root_cause: text("process_root_cause", &form.process_root_cause),
            detection_gap: text("detection_gap", &form.detection_gap),
            prevention_gap: text("prevention_gap", &form.prevention_gap),
            what_worked: text("what_worked", &form.what_worked),
            what_did_not_work: text("what_did_not_work", &form.what_did_not_work),
            verification: FollowUpVerification {
                test_added: form::checkbox(form.test_added.as_deref()),
                alert_added: form::checkbox(form.alert_added.as_deref()),
                runbook_updated: form::checkbox(form.runbook_updated.as_deref()),
                dashboard_updated: form::checkbox(form.dashboard_updated.as_deref()),
                control_added: form::checkbox(form.control_added.as_deref()),
            },
        };
        let duration = form::optional_text(&mut e, "duration", &form.duration, MAX_LINE);
        e.finish(|| ReviewSections { duration, ..sections })
    }

    /// The key sections still empty, as the refusal names them.
    pub fn missing_key_sections(&self) -> Vec<&'static str> {
        let value = |field: &str| match field {
            "summary" => &self.summary,
            "business_impact" => &self.business_impact,
            "duration" => &self.duration,
            "timeline" => &self.timeline,
            "technical_root_cause" => &self.technical_root_cause,
            "process_root_cause" => &self.process_root_cause,
            "detection_gap" => &self.detection_gap,
            _ => &self.prevention_gap,
        };
        KEY_SECTIONS.iter().filter(|(field, _)| value(field).is_none()).map(|(_, label)| *label).collect()
    }

    /// The form pre-filled with these sections.
    pub fn to_form(&self) -> ReviewForm {
        let t = |v: &Option<String>| v.clone().unwrap_or_default();
        let c = |b: bool| b.then(|| "on".to_string());
        let v = self.verification;
        ReviewForm {
            summary: t(&self.summary),
            business_impact: t(&self.business_impact),
            duration: t(&self.duration),
            timeline: t(&self.timeline),
            technical_root_cause: t(&self.technical_root_cause),
            process_root_cause: t(&self.process_root_cause),
            detection_gap: t(&self.detection_gap),
            prevention_gap: t(&self.prevention_gap),
            what_worked: t(&self.what_worked),
            what_did_not_work: t(&self.what_did_not_work),
            test_added: c(v.test_added),
            alert_added: c(v.alert_added),
            runbook_updated: c(v.runbook_updated),
            dashboard_updated: c(v.dashboard_updated),
            control_added: c(v.control_added),
        }
    }
}

/// The review as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Review {
    pub review_id: ReviewId,
    pub status: ReviewStatus,
    pub version: i64,
    #[serde(flatten)]
    pub sections: ReviewSections,
    pub completed_at: Option<DateTime<Utc>>,
    pub created_by: String,
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ReviewRow {
    review_id: ReviewId,
    status: String,
    version: i64,
    summary: Option<String>,
    business_impact: Option<String>,
    duration_text: Option<String>,
    timeline_text: Option<String>,
    technical_root_cause: Option<String>,
    process_root_cause: Option<String>,
    detection_gap: Option<String>,
    prevention_gap: Option<String>,
    what_worked: Option<String>,
    what_did_not_work: Option<String>,
    test_added: bool,
    alert_added: bool,
    runbook_updated: bool,
    dashboard_updated: bool,
    control_added: bool,
    completed_at: Option<DateTime<Utc>>,
    created_by: String,
    updated_at: DateTime<Utc>,
}

pub(crate) async fn review_of(db: &mut PgConnection, incident_id: IncidentId, lock: bool) -> Result<Option<Review>> {
    let sql = format!(
        "select review_id, status, version, summary, business_impact, duration_text, timeline_text, technical_root_cause,
                process_root_cause, detection_gap, prevention_gap, what_worked, what_did_not_work, test_added, alert_added,
                runbook_updated, dashboard_updated, control_added, completed_at, created_by, updated_at
         from ops.post_incident_review where incident_id = $1{}",
        if lock { " for update" } else { "" }
    );
    let row = sqlx::query_as::<_, ReviewRow>(&sql).bind(incident_id).fetch_optional(db).await?;
    row.map(|r| {
        Ok(Review {
            review_id: r.review_id,
            status: stored(&r.status)?,
            version: r.version,
            sections: ReviewSections {
                summary: r.summary,
                business_impact: r.business_impact,
                duration: r.duration_text,
                timeline: r.timeline_text,
                technical_root_cause: r.technical_root_cause,
                process_root_cause: r.process_root_cause,
                detection_gap: r.detection_gap,
                prevention_gap: r.prevention_gap,
                what_worked: r.what_worked,
                what_did_not_work: r.what_did_not_work,
                verification: FollowUpVerification {
                    test_added: r.test_added,
                    alert_added: r.alert_added,
                    runbook_updated: r.runbook_updated,
                    dashboard_updated: r.dashboard_updated,
                    control_added: r.control_added,
                },
            },
            completed_at: r.completed_at,
            created_by: r.created_by,
            updated_at: r.updated_at,
        })
    })
    .transpose()
}

/// Creates an empty DRAFT review when the incident has none; returns the review's id.
pub(crate) async fn ensure_review(tx: &mut PgConnection, incident_id: IncidentId, actor: &Actor) -> Result<ReviewId> {
    sqlx::query(
        "insert into ops.post_incident_review (review_id, incident_id, created_by) values ($1, $2, $3)
         on conflict (incident_id) do nothing",
    )
    .bind(ReviewId::new())
    .bind(incident_id)
    .bind(actor.display())
    .execute(&mut *tx)
    .await?;
    Ok(sqlx::query_scalar("select review_id from ops.post_incident_review where incident_id = $1")
        .bind(incident_id)
        .fetch_one(&mut *tx)
        .await?)
}

/// What saving or completing did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReviewSaved {
    pub review_id: ReviewId,
    pub status: ReviewStatus,
    pub version: i64,
}

/// Saves the review's sections. `expected_version`: the review version the form was rendered with, or
/// `None` when it was rendered with no review yet (a review created meanwhile is then a conflict).
#[tracing::instrument(skip(pool, actor, input), fields(actor = %actor.subject), err(Display))]
pub async fn save_review(
    pool: &PgPool,
    actor: &Actor,
    incident_id: IncidentId,
    expected_version: Option<i64>,
    input: &ReviewForSave,
) -> Result<ReviewSaved> {
    let mut tx = pool.begin().await?;
    let result = save_in(&mut tx, actor, incident_id, expected_version, input).await;
    finish(pool, tx, actor, "incident.review.save", Some(incident_id), result).await
}

async fn save_in(
    tx: &mut PgConnection,
    actor: &Actor,
    incident_id: IncidentId,
    expected_version: Option<i64>,
    input: &ReviewSections,
) -> Result<ReviewSaved> {
    check_role(actor, Permission::ManageReview)?;
    let locked = lock_incident(tx, incident_id).await?;
    check_scope(actor, &locked.tenants)?;
    let existing = review_of(tx, incident_id, true).await?;
    match (&existing, expected_version) {
        (None, None) => {}
        (Some(review), Some(expected)) => {
            check_version("post-incident review", review.review_id.as_uuid(), expected, review.version)?
        }
        (Some(review), None) => check_version("post-incident review", review.review_id.as_uuid(), 0, review.version)?,
        (None, Some(expected)) => check_version("post-incident review", incident_id.as_uuid(), expected, 0)?,
    }
    refuse_if_closed(&locked, "editing the post-incident review")?;

    if let Some(review) = existing.as_ref().filter(|r| r.sections == *input) {
        return Ok(ReviewSaved { review_id: review.review_id, status: review.status, version: review.version });
    }
    let review_id = ensure_review(tx, incident_id, actor).await?;
    let v = input.verification;
    let (status, version): (String, i64) = sqlx::query_as(
        "update ops.post_incident_review set summary = $2, business_impact = $3, duration_text = $4, timeline_text = $5,
           technical_root_cause = $6, process_root_cause = $7, detection_gap = $8, prevention_gap = $9, what_worked = $10,
           what_did_not_work = $11, test_added = $12, alert_added = $13, runbook_updated = $14, dashboard_updated = $15,
           control_added = $16, status = 'DRAFT', completed_at = null,
           version = case when $17 then version else version + 1 end, updated_at = now()
         where review_id = $1 returning status, version",
    )
    .bind(review_id)
    .bind(&input.summary)
    .bind(&input.business_impact)
    .bind(&input.duration)
    .bind(&input.timeline)
    .bind(&input.technical_root_cause)
    .bind(&input.process_root_cause)
    .bind(&input.detection_gap)
    .bind(&input.prevention_gap)
    .bind(&input.what_worked)
    .bind(&input.what_did_not_work)
    .bind(v.test_added)
    .bind(v.alert_added)
    .bind(v.runbook_updated)
    .bind(v.dashboard_updated)
    .bind(v.control_added)
    // A review created just now starts at version 1.
    .bind(existing.is_none())
    .fetch_one(&mut *tx)
    .await?;
    let reopened = existing.as_ref().is_some_and(|r| r.status == ReviewStatus::Complete);
    timeline::append(
        tx,
        NewEvent {
            incident_id,
            kind: EventKind::System,
            event_type: event_type::REVIEW_SAVED,
            actor: &actor.display(),
            headline: if reopened {
                format!("Post-incident review v{version} saved; it is a draft again and needs completing")
            } else {
                format!("Post-incident review v{version} saved")
            },
            body: json!({ "review_id": review_id, "version": version, "review": input }),
            entities: &[],
        },
    )
    .await?;
    audit_succeeded(
        tx,
        actor,
        "incident.review.save",
        incident_id,
        &locked.tenants,
        None,
        json!({ "review_id": review_id, "version": version }),
    )
    .await?;
    Ok(ReviewSaved { review_id, status: stored(&status)?, version })
}

/// Completes the review: the incident must be RESOLVED and the key sections written.
#[tracing::instrument(skip(pool, actor), fields(actor = %actor.subject), err(Display))]
pub async fn complete_review(
    pool: &PgPool,
    actor: &Actor,
    incident_id: IncidentId,
    expected_version: i64,
) -> Result<ReviewSaved> {
    let mut tx = pool.begin().await?;
    let result = complete_in(&mut tx, actor, incident_id, expected_version).await;
    finish(pool, tx, actor, "incident.review.complete", Some(incident_id), result).await
}

async fn complete_in(
    tx: &mut PgConnection,
    actor: &Actor,
    incident_id: IncidentId,
    expected_version: i64,
) -> Result<ReviewSaved> {
    check_role(actor, Permission::ManageReview)?;
    let locked = lock_incident(tx, incident_id).await?;
    check_scope(actor, &locked.tenants)?;
    let review = review_of(tx, incident_id, true)
        .await?
        .ok_or_else(|| Error::refused("there is no post-incident review to complete yet: write it first"))?;
    check_version("post-incident review", review.review_id.as_uuid(), expected_version, review.version)?;
    refuse_if_closed(&locked, "completing the post-incident review")?;
    if review.status == ReviewStatus::Complete {
        return Err(Error::refused("the post-incident review is already complete"));
    }
    if locked.status != IncidentStatus::Resolved {
        return Err(Error::refused(format!(
            "the post-incident review is completed once the incident is RESOLVED (it is {})",
            locked.status
        )));
    }
    let missing = review.sections.missing_key_sections();
    if !missing.is_empty() {
        return Err(Error::refused(format!(
            "the post-incident review needs these sections written: {}",
            missing.join(", ")
        )));
    }
    let now = Utc::now();
    let version: i64 = sqlx::query_scalar(
        "update ops.post_incident_review set status = 'COMPLETE', completed_at = $2, version = version + 1, updated_at = $2
         where review_id = $1 returning version",
    )
    .bind(review.review_id)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    timeline::append(
        tx,
        NewEvent {
            incident_id,
            kind: EventKind::System,
            event_type: event_type::REVIEW_COMPLETED,
            actor: &actor.display(),
            headline: "Post-incident review completed".into(),
            body: json!({ "review_id": review.review_id, "version": version, "completed_at": now }),
            entities: &[],
        },
    )
    .await?;
    audit_succeeded(
        tx,
        actor,
        "incident.review.complete",
        incident_id,
        &locked.tenants,
        None,
        json!({ "review_id": review.review_id, "version": version }),
    )
    .await?;
    Ok(ReviewSaved { review_id: review.review_id, status: ReviewStatus::Complete, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkboxes_are_ticked_by_on_and_sections_are_trimmed() {
        let form =
            ReviewForm { summary: "  relay stalled  ".into(), test_added: Some("on".into()), ..Default::default() };
        let sections = ReviewSections::parse(&form).unwrap();
        assert_eq!(sections.summary.as_deref(), Some("relay stalled"));
        assert!(sections.verification.test_added);
        assert!(!sections.verification.alert_added);
        assert_eq!(ReviewSections::parse(&sections.to_form()).unwrap(), sections);
    }

    #[test]
    fn the_missing_key_sections_are_named() {
        let sections = ReviewSections { summary: Some("x".into()), duration: Some("2h".into()), ..Default::default() };
        assert_eq!(
            sections.missing_key_sections(),
            [
                "customer/business impact",
                "timeline",
                "technical root cause",
                "process root cause",
                "detection gap",
                "prevention gap"
            ]
        );
    }
}
