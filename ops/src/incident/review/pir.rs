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

use crate::command::{run, Action, Cx, Envelope};
use crate::error::{Error, Result};
use crate::form::parse::{self as form, MAX_LINE, MAX_TEXT};
use crate::form::FieldErrors;
use crate::identity::Actor;
use crate::ids::{IncidentId, ReviewId};
use crate::incident::command::{check_version, lock_incident, refuse_if_closed, AUDIT_ENTITY};
use crate::incident::model::{stored, DetectedBy, EventKind, IncidentStatus};
use crate::incident::timeline::{self, event_type, NewEvent, TimelineEvent};

named_enum!(/// Where a review stands.
ReviewStatus {
    Draft => "DRAFT",
    Complete => "COMPLETE",
});

crate::form! {
    /// The review form as sent. Checkboxes arrive as "on" when ticked and are absent otherwise.
    pub struct ReviewForm / ReviewFields {
        /// The review's version when the form was rendered; blank when there was no review yet.
        review_version: String,
        summary: String,
        business_impact: String,
        duration: String,
        timeline: String,
        technical_root_cause: String,
        process_root_cause: String,
        detection_gap: String,
        prevention_gap: String,
        what_worked: String,
        what_did_not_work: String,
        test_added: Option<String>,
        alert_added: Option<String>,
        runbook_updated: Option<String>,
        dashboard_updated: Option<String>,
        control_added: Option<String>,
    }
}

crate::form! {
    /// Completing the review: the version of the review the person saw.
    pub struct ReviewCompleteForm / ReviewCompleteFields {
        review_version: String,
    }
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
        let f = ReviewForm::FIELDS;
        let mut e = FieldErrors::new();
        let mut text = |field, input: &str| form::optional_text(&mut e, field, input, MAX_TEXT);
        let sections = ReviewSections {
            summary: text(f.summary, &form.summary),
            business_impact: text(f.business_impact, &form.business_impact),
            duration: None,
            timeline: text(f.timeline, &form.timeline),
            technical_root_cause: text(f.technical_root_cause, &form.technical_root_cause),
            process_root_cause: text(f.process_root_cause, &form.process_root_cause),
            detection_gap: text(f.detection_gap, &form.detection_gap),
            prevention_gap: text(f.prevention_gap, &form.prevention_gap),
            what_worked: text(f.what_worked, &form.what_worked),
            what_did_not_work: text(f.what_did_not_work, &form.what_did_not_work),
            verification: FollowUpVerification {
                test_added: form::checkbox(form.test_added.as_deref()),
                alert_added: form::checkbox(form.alert_added.as_deref()),
                runbook_updated: form::checkbox(form.runbook_updated.as_deref()),
                dashboard_updated: form::checkbox(form.dashboard_updated.as_deref()),
                control_added: form::checkbox(form.control_added.as_deref()),
            },
        };
        let duration = form::optional_text(&mut e, f.duration, &form.duration, MAX_LINE);
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
            review_version: String::new(),
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

/// What the console knows of an incident's course, to propose the review's timeline and duration.
#[derive(Debug, Clone, PartialEq)]
pub struct Course<'a> {
    pub detected_at: DateTime<Utc>,
    pub detected_by: DetectedBy,
    pub first_known_bad_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The incident's timeline, oldest first.
    pub events: &'a [TimelineEvent],
}

/// The event types a review's timeline lists (the story, not every save).
const STORY: [&str; 8] = [
    event_type::DECLARED,
    event_type::SEVERITY_CHANGED,
    event_type::STATUS_CHANGED,
    event_type::STATUS_UPDATE_POSTED,
    event_type::NOTE,
    event_type::REVIEW_REOPENED,
    event_type::TRIAGE_SAVED,
    event_type::IMPACT_ASSESSED,
];

fn at(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// The review's timeline as the incident's record tells it (lesson §21.1: detection → triage →
/// mitigation → recovery → resolution), then its events. A proposal: the person edits it.
pub fn proposed_timeline(course: &Course<'_>) -> String {
    let first = |event: &str| course.events.iter().find(|e| e.event_type == event).map(|e| e.occurred_at);
    let recovering = course
        .events
        .iter()
        .find(|e| {
            e.event_type == event_type::STATUS_UPDATE_POSTED
                && e.body.get("status").and_then(|s| s.as_str()) == Some("RECOVERING")
        })
        .map(|e| e.occurred_at);
    let or_dash = |t: Option<DateTime<Utc>>| t.map(at).unwrap_or_else(|| "—".to_string());
    let mut lines = vec![format!(
        "Detection: {} ({}){}",
        at(course.detected_at),
        course.detected_by.label(),
        course.first_known_bad_at.map(|b| format!("; first known bad {}", at(b))).unwrap_or_default()
    )];
    lines.push(format!("Triage: {}", or_dash(first(event_type::TRIAGE_SAVED))));
    lines.push(format!("Mitigation: {}", or_dash(course.mitigated_at)));
    lines.push(format!("Recovery: {}", or_dash(recovering)));
    lines.push(format!("Resolution: {}", or_dash(course.resolved_at)));
    let events: Vec<String> = course
        .events
        .iter()
        .filter(|e| STORY.contains(&e.event_type.as_str()))
        .map(|e| format!("- {} {} ({})", at(e.occurred_at), e.headline, e.actor))
        .collect();
    if !events.is_empty() {
        lines.push(String::new());
        lines.push("Events:".to_string());
        lines.extend(events);
    }
    lines.join("\n")
}

/// How long customers were affected: from the first known bad time (or detection) to resolution, or so
/// far when not resolved yet.
pub fn proposed_duration(course: &Course<'_>, now: DateTime<Utc>) -> String {
    let start = course.first_known_bad_at.unwrap_or(course.detected_at);
    let (end, ongoing) = match course.resolved_at {
        Some(end) => (end, false),
        None => (now, true),
    };
    let minutes = (end - start).num_minutes().max(0);
    let length = match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    };
    let from = if course.first_known_bad_at.is_some() { "first known bad" } else { "detected" };
    if ongoing {
        format!("{length} so far (ongoing; {from} {})", at(start))
    } else {
        format!("{length} ({from} {} → resolved {})", at(start), at(end))
    }
}

/// The review form to show: the stored review, with an empty timeline or duration proposed from the
/// incident's record; or, before anything is written, a proposal of summary, timeline and duration.
pub fn review_form(review: Option<&Review>, summary: &str, course: &Course<'_>, now: DateTime<Utc>) -> ReviewForm {
    let mut form = match review {
        Some(review) => {
            let mut form = review.sections.to_form();
            form.review_version = review.version.to_string();
            form
        }
        None => ReviewForm { summary: summary.to_string(), ..Default::default() },
    };
    if form.timeline.trim().is_empty() {
        form.timeline = proposed_timeline(course);
    }
    if form.duration.trim().is_empty() {
        form.duration = proposed_duration(course, now);
    }
    form
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
pub(crate) async fn ensure_review(tx: &mut PgConnection, incident_id: IncidentId, created_by: &str) -> Result<ReviewId> {
    sqlx::query(
        "insert into ops.post_incident_review (review_id, incident_id, created_by) values ($1, $2, $3)
         on conflict (incident_id) do nothing",
    )
    .bind(ReviewId::new())
    .bind(incident_id)
    .bind(created_by)
    .execute(&mut *tx)
    .await?;
    Ok(sqlx::query_scalar("select review_id from ops.post_incident_review where incident_id = $1")
        .bind(incident_id)
        .fetch_one(&mut *tx)
        .await?)
}

/// Makes a COMPLETE review a DRAFT again (the incident was reopened: what was signed off no longer
/// describes how it ended), with a timeline event. Returns the review's new version when it was complete.
pub(crate) async fn reopen_review(
    tx: &mut PgConnection,
    incident_id: IncidentId,
    actor: &str,
    reason: &str,
) -> Result<Option<i64>> {
    let reopened: Option<(ReviewId, i64)> = sqlx::query_as(
        "update ops.post_incident_review set status = 'DRAFT', completed_at = null, version = version + 1,
           updated_at = now()
         where incident_id = $1 and status = 'COMPLETE' returning review_id, version",
    )
    .bind(incident_id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((review_id, version)) = reopened else { return Ok(None) };
    timeline::append(
        tx,
        NewEvent {
            incident_id,
            kind: EventKind::System,
            event_type: event_type::REVIEW_REOPENED,
            actor,
            headline: "Post-incident review is a draft again: the incident was reopened; revisit it before closing"
                .to_string(),
            body: json!({ "review_id": review_id, "version": version, "reason": reason }),
            entities: &[],
        },
    )
    .await?;
    Ok(Some(version))
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
    let envelope = Envelope::new(actor, Action::ReviewSave).entity(AUDIT_ENTITY, incident_id).incident(incident_id);
    run(pool, envelope, async |cx| save_in(cx, incident_id, expected_version, input).await).await
}

async fn save_in(
    cx: &mut Cx<'_>,
    incident_id: IncidentId,
    expected_version: Option<i64>,
    input: &ReviewSections,
) -> Result<ReviewSaved> {
    let locked = lock_incident(cx, incident_id).await?;
    let who = cx.actor_display();
    let tx = cx.db();
    let existing = review_of(tx, incident_id, true).await?;
    match (&existing, expected_version) {
        (None, None) => {}
        (Some(review), Some(expected)) => check_version("post-incident review", review.review_id, expected, review.version)?,
        (Some(review), None) => check_version("post-incident review", review.review_id, 0, review.version)?,
        (None, Some(expected)) => check_version("post-incident review", incident_id, expected, 0)?,
    }
    refuse_if_closed(&locked, "editing the post-incident review")?;

    if let Some(review) = existing.as_ref().filter(|r| r.sections == *input) {
        return Ok(ReviewSaved { review_id: review.review_id, status: review.status, version: review.version });
    }
    let review_id = ensure_review(tx, incident_id, &who).await?;
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
            actor: &who,
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
    cx.record(json!({ "review_id": review_id, "version": version }));
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
    let envelope = Envelope::new(actor, Action::ReviewComplete).entity(AUDIT_ENTITY, incident_id).incident(incident_id);
    run(pool, envelope, async |cx| complete_in(cx, incident_id, expected_version).await).await
}

async fn complete_in(cx: &mut Cx<'_>, incident_id: IncidentId, expected_version: i64) -> Result<ReviewSaved> {
    let locked = lock_incident(cx, incident_id).await?;
    let who = cx.actor_display();
    let tx = cx.db();
    let review = review_of(tx, incident_id, true)
        .await?
        .ok_or_else(|| Error::rule("there is no post-incident review to complete yet: write it first"))?;
    check_version("post-incident review", review.review_id, expected_version, review.version)?;
    refuse_if_closed(&locked, "completing the post-incident review")?;
    if review.status == ReviewStatus::Complete {
        return Err(Error::rule("the post-incident review is already complete"));
    }
    if locked.status != IncidentStatus::Resolved {
        return Err(Error::rule(format!(
            "the post-incident review is completed once the incident is RESOLVED (it is {})",
            locked.status
        )));
    }
    let missing = review.sections.missing_key_sections();
    if !missing.is_empty() {
        return Err(Error::Rule {
            reason: "the post-incident review needs these sections written".to_string(),
            missing: missing.into_iter().map(str::to_string).collect(),
        });
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
            actor: &who,
            headline: "Post-incident review completed".into(),
            body: json!({ "review_id": review.review_id, "version": version, "completed_at": now }),
            entities: &[],
        },
    )
    .await?;
    cx.record(json!({ "review_id": review.review_id, "version": version }));
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

    fn event(event_type: &str, minute: u32, headline: &str, body: serde_json::Value) -> TimelineEvent {
        TimelineEvent {
            event_id: crate::ids::EventId::new(),
            kind: EventKind::System,
            event_type: event_type.into(),
            actor: "Oscar Operator (oscar)".into(),
            occurred_at: format!("2026-11-25T10:{minute:02}:00Z").parse().unwrap(),
            headline: headline.into(),
            entities: vec![],
            body,
        }
    }

    fn t(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn the_proposed_timeline_follows_the_lessons_phases_then_the_story() {
        let events = [
            event(event_type::DECLARED, 0, "Declared SEV-2 by Alert: orders stuck", json!({})),
            event(event_type::TRIAGE_SAVED, 5, "Triage v1 saved", json!({})),
            event(event_type::STATUS_UPDATE_POSTED, 20, "Internal update posted (Recovering)", json!({"status": "RECOVERING"})),
            event(event_type::ACTION_ITEM_ADDED, 30, "Action item added", json!({})),
        ];
        let course = Course {
            detected_at: t("2026-11-25T10:00:00Z"),
            detected_by: DetectedBy::Alert,
            first_known_bad_at: Some(t("2026-11-25T09:50:00Z")),
            mitigated_at: Some(t("2026-11-25T10:15:00Z")),
            resolved_at: Some(t("2026-11-25T11:40:00Z")),
            events: &events,
        };
        let timeline = proposed_timeline(&course);
        let lines: Vec<&str> = timeline.lines().collect();
        assert_eq!(lines[0], "Detection: 2026-11-25 10:00 UTC (Alert); first known bad 2026-11-25 09:50 UTC");
        assert_eq!(lines[1], "Triage: 2026-11-25 10:05 UTC");
        assert_eq!(lines[2], "Mitigation: 2026-11-25 10:15 UTC");
        assert_eq!(lines[3], "Recovery: 2026-11-25 10:20 UTC");
        assert_eq!(lines[4], "Resolution: 2026-11-25 11:40 UTC");
        assert!(timeline.contains("- 2026-11-25 10:00 UTC Declared SEV-2 by Alert: orders stuck (Oscar Operator (oscar))"));
        assert!(!timeline.contains("Action item added"), "bookkeeping is not the story: {timeline}");
        assert_eq!(proposed_duration(&course, Utc::now()), "1 h 50 min (first known bad 2026-11-25 09:50 UTC → resolved 2026-11-25 11:40 UTC)");
    }

    #[test]
    fn an_unresolved_incident_has_a_duration_so_far() {
        let course = Course {
            detected_at: t("2026-11-25T10:00:00Z"),
            detected_by: DetectedBy::UserReport,
            first_known_bad_at: None,
            mitigated_at: None,
            resolved_at: None,
            events: &[],
        };
        assert_eq!(
            proposed_duration(&course, t("2026-11-25T10:45:00Z")),
            "45 min so far (ongoing; detected 2026-11-25 10:00 UTC)"
        );
        let form = review_form(None, "Orders stuck for acme", &course, t("2026-11-25T12:00:00Z"));
        assert_eq!(form.summary, "Orders stuck for acme");
        assert!(form.timeline.starts_with("Detection: 2026-11-25 10:00 UTC (User report)"), "{}", form.timeline);
        assert_eq!(form.duration, "2 h so far (ongoing; detected 2026-11-25 10:00 UTC)");
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
