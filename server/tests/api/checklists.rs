//! Checklists through the console's forms: oscar records the rollback checklist on an incident (an
//! unanswered question is marked and nothing is stored), the incident page shows the verdict; the
//! readiness page shows what the console observed, and a viewer cannot record.

use ops::checklist::Checklist;
use ops::identity::Actor;
use ops::incident::{declare_incident, DeclareForm, IncidentForDeclare};
use platform::tenants::ACME;
use sqlx::PgPool;

use crate::helpers::{idp_config, spawn_app_with, TestApp};

async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    app.submit(path, fields).await
}

async fn records(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from ops.checklist_record").fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_operator_records_the_rollback_checklist_on_an_incident(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let form = DeclareForm {
        severity: "SEV2".into(),
        detected_by: "ALERT".into(),
        summary: "Release 42 broke quote submit".into(),
        tenants: vec![ACME.to_string()],
        ..Default::default()
    };
    let incident = declare_incident(&pool, &Actor::system("test"), &IncidentForDeclare::parse(&form).unwrap())
        .await
        .unwrap()
        .incident_id
        .to_string();
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("oscar.operator").await;

    let keys: Vec<&str> = Checklist::RollbackSafety.items().iter().map(|i| i.key).collect();
    let mut fields: Vec<(&str, &str)> = keys.iter().skip(1).map(|k| (*k, "NO")).collect();
    fields.push(("incident_id", incident.as_str()));
    let (status, page) = post(&app, "/checklists/rollback-safety", &fields).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains("Answer yes, no or unknown"), "{page}");
    assert_eq!(records(&pool).await, 0);

    fields.push((keys[0], "YES"));
    assert_eq!(post(&app, "/checklists/rollback-safety", &fields).await, (303, format!("/incidents/{incident}")));
    assert_eq!(records(&pool).await, 1);
    let (_, page) = app.page(&format!("/incidents/{incident}")).await;
    assert!(page.contains("Prefer roll-forward"), "the verdict is on the incident: {page}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_readiness_page_shows_what_the_console_observed(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("vera.viewer").await;
    let (status, page) = app.page("/checklists").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Observed: append-only transition tables"), "{page}");
    assert!(!page.contains("Record the answers"), "a viewer sees, cannot record");
    let all: Vec<(&str, &str)> = Checklist::ProductionReadiness.items().iter().map(|i| (i.key, "YES")).collect();
    let (status, _) = post(&app, "/checklists/production-readiness", &all).await;
    assert_eq!(status, 403);
    assert_eq!(records(&pool).await, 0);
}
