//! Runbook pages through the console, signed in through Keycloak: the index and one runbook render with
//! their diagnostics; oscar runs a diagnostic for an incident and sees its rows in place, and the run is
//! on the incident's timeline; a bad variable is said at its field; a viewer reads but may not run; the
//! incident page suggests the runbook that fits.

use ops::identity::Actor;
use ops::incident::{declare_incident, DeclareForm, IncidentForDeclare};
use platform::tenants::ACME;
use platform::testing::captured_order;
use sqlx::PgPool;

use crate::helpers::{idp_config, spawn_app_with, TestApp, CONSOLE_URL};

async fn incident(pool: &PgPool, order: &str) -> String {
    let form = DeclareForm {
        severity: "SEV2".into(),
        detected_by: "ALERT".into(),
        summary: "Orders stuck in ORCHESTRATING for acme".into(),
        tenants: vec![ACME.to_string()],
        order_ids: order.to_string(),
        ..Default::default()
    };
    declare_incident(pool, &Actor::system("test"), &IncidentForDeclare::parse(&form).unwrap()).await.unwrap().incident_id.to_string()
}

async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    let response = app.post_form(path, fields, Some(CONSOLE_URL)).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The stuck-order block that takes an order id.
fn order_block() -> usize {
    ops::runbook::get("stuck-order").unwrap().diagnostics.iter().find(|d| d.params.iter().any(|p| p.name == "order_id")).unwrap().index
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_operator_runs_a_diagnostic_for_an_incident_and_sees_its_rows(pool: PgPool) {
    let order = captured_order(&pool, ACME, "Q-RB-1").await.order_id.to_string();
    let incident = incident(&pool, &order).await;
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("oscar.operator").await;

    let (status, index) = app.page("/runbooks").await;
    assert_eq!(status, 200);
    assert!(index.contains("Stuck order") && index.contains("Rules every runbook assumes"), "{index}");

    let (status, incident_page) = app.page(&format!("/incidents/{incident}")).await;
    assert_eq!(status, 200);
    let suggested = format!("/runbooks/stuck-order?incident={incident}");
    assert!(incident_page.contains("Runbooks that fit") && incident_page.contains(&suggested), "{incident_page}");

    let (status, page) = app.page(&format!("/runbooks/stuck-order?incident={incident}&tenant_id={ACME}&order_id={order}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Run (read-only)") && page.contains("Resume order orchestration"), "{page}");
    let resume = format!("/repairs/new?type=resume-orchestration&amp;tenant={ACME}&amp;entity={order}&amp;incident={incident}");
    assert!(page.contains(&resume), "the repair button is prefilled: {page}");

    let block = order_block();
    let path = format!("/runbooks/stuck-order/diagnostics/{block}");
    let (status, bad) = post(&app, &path, &[("incident_id", &incident), ("param_order_id", "1 or 1=1")]).await;
    assert_eq!(status, 422, "{bad}");
    assert!(bad.contains(&format!(r#"id="diagnostic-{block}-order_id-error""#)), "{bad}");

    let (status, ran) = post(&app, &path, &[("incident_id", &incident), ("param_order_id", &order)]).await;
    assert_eq!(status, 200, "{ran}");
    assert!(ran.contains("recorded on the incident") && ran.contains("CAPTURED"), "the rows are shown: {ran}");
    let runs: i64 = sqlx::query_scalar("select count(*) from ops.incident_event where event_type = 'DIAGNOSTIC_RUN'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(runs, 1);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_viewer_reads_runbooks_but_may_not_run_their_diagnostics(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("vera.viewer").await;
    let (status, page) = app.page("/runbooks/outbox-stuck").await;
    assert_eq!(status, 200);
    assert!(page.contains("Outbox") && !page.contains("Run (read-only)"), "no run form for a viewer");
    let (status, _) = post(&app, "/runbooks/outbox-stuck/diagnostics/0", &[]).await;
    assert_eq!(status, 403);
    let (status, _) = app.page("/runbooks/no-such-runbook").await;
    assert_eq!(status, 404);
}
