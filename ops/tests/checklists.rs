//! Checklists recorded as commands: a rollback checklist on its incident (answers, verdict, who, when;
//! on the timeline), the latest shown, older ones kept; readiness platform-wide with what the console
//! observes itself; refusals for a viewer, a closed-scope operator and a missing incident.

mod common;

use common::*;
use ops::checklist::*;
use ops::identity::Role;
use ops::incident::{timeline, TimelineFilter};
use ops::ErrorKind;
use platform::tenants::{ACME, GLOBEX};
use sqlx::PgPool;

fn answers(checklist: Checklist, answer: &str, incident: &str) -> ChecklistForm {
    let mut form: std::collections::BTreeMap<String, String> =
        checklist.items().iter().map(|i| (i.key.to_string(), answer.to_string())).collect();
    form.insert("incident_id".into(), incident.into());
    ChecklistForm(form)
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_rollback_checklist_is_recorded_on_its_incident_and_the_latest_is_shown(pool: PgPool) {
    let world = world(&pool, ACME, "cl").await;
    let incident = declare(&pool, &operator(), "SEV2", &[ACME], &[world.order]).await.incident_id;
    let first = answers(Checklist::RollbackSafety, "NO", &incident.to_string());
    let input = ChecklistForRecord::parse(Checklist::RollbackSafety, &first).unwrap();
    let recorded = record_checklist(&pool, &operator(), &input).await.unwrap();
    assert!(recorded.verdict.starts_with("Rollback is safe"));

    let mut second = first.clone();
    second.0.insert("new_events_unreadable".into(), "YES".into());
    second.0.insert("note".into(), "v2 emits OrderCaptured v3".into());
    record_checklist(&pool, &operator(), &ChecklistForRecord::parse(Checklist::RollbackSafety, &second).unwrap()).await.unwrap();

    let latest = latest_records(&pool, &viewer(), Some(incident)).await.unwrap();
    assert_eq!(latest.len(), 1);
    assert!(latest[0].verdict.starts_with("Prefer roll-forward") && latest[0].answered_by.contains("oscar"), "{latest:?}");
    let kept: i64 = sqlx::query_scalar("select count(*) from ops.checklist_record").fetch_one(&pool).await.unwrap();
    assert_eq!(kept, 2, "the earlier record is kept");
    let events = timeline(&pool, &operator(), incident, TimelineFilter::ALL).await.unwrap();
    assert_eq!(events.iter().filter(|e| e.event_type == "CHECKLIST_RECORDED").count(), 2);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn readiness_is_platform_wide_and_the_console_answers_what_it_can(pool: PgPool) {
    let observed = readiness(&pool, &viewer()).await.unwrap();
    let answer = |key: &str| observed.iter().find(|o| o.key == key).map(|o| o.answer);
    assert_eq!(answer("transition_history"), Some(Answer::Yes));
    assert_eq!(answer("inbox_dedup"), Some(Answer::Yes));
    assert_eq!(answer("stale_claim_recovery"), Some(Answer::Yes));
    assert_eq!(answer("drills_run"), Some(Answer::No), "no drill has been run on a fresh database");

    let form = answers(Checklist::ProductionReadiness, "YES", "");
    let input = ChecklistForRecord::parse(Checklist::ProductionReadiness, &form).unwrap();
    let gwen = actor("gwen.globex", &[Role::Operator], only(&[GLOBEX]));
    assert_eq!(record_checklist(&pool, &gwen, &input).await.unwrap_err().kind(), ErrorKind::NotAllowed, "platform-wide");
    assert_eq!(record_checklist(&pool, &viewer(), &input).await.unwrap_err().kind(), ErrorKind::NotAllowed);
    let recorded = record_checklist(&pool, &operator(), &input).await.unwrap();
    assert_eq!(recorded.incident_id, None);
    assert_eq!(latest_records(&pool, &viewer(), None).await.unwrap().len(), 1);
}
