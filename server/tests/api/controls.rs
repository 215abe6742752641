//! The controls page through the console's forms, signed in through Keycloak: oscar turns quote acceptance
//! off for acme with the incident it mitigates; every page then says customer-impacting flows are
//! disabled; bad input is refused at its field with nothing written; he turns it back on; a viewer sees
//! the switches but no form, and her post is refused.

use ops::identity::Actor;
use ops::incident::{declare_incident, DeclareForm, IncidentForDeclare};
use platform::tenants::ACME;
use sqlx::PgPool;

use crate::helpers::{idp_config, spawn_app_with, TestApp};

async fn post(app: &TestApp, fields: &[(&str, &str)]) -> (u16, String) {
    app.submit("/controls", fields).await
}

async fn incident(pool: &PgPool) -> String {
    platform::tenants::ensure_well_known(pool).await.unwrap();
    let form = DeclareForm {
        severity: "SEV2".into(),
        detected_by: "ALERT".into(),
        summary: "Quotes accepted into a broken pricing".into(),
        tenants: vec![ACME.to_string()],
        ..Default::default()
    };
    declare_incident(pool, &Actor::system("test"), &IncidentForDeclare::parse(&form).unwrap()).await.unwrap().incident_id.to_string()
}

async fn switches_on(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from ops.platform_control where enabled").fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_operator_disables_quote_acceptance_and_every_page_says_so(pool: PgPool) {
    let incident = incident(&pool).await;
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("oscar.operator").await;
    let (status, page) = app.page("/controls").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("No mitigation is in force"), "{page}");
    let tenant = ACME.to_string();

    // No incident and a short reason: said at the fields, nothing switched.
    let bad = [("switch", "quote-acceptance"), ("state", "on"), ("tenant", tenant.as_str()), ("reason", "bad")];
    let (status, page) = post(&app, &bad).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains(r#"id="control-incident-error""#) && page.contains(r#"id="control-reason-error""#), "{page}");
    assert_eq!(switches_on(&pool).await, 0);

    let on = [
        ("switch", "quote-acceptance"),
        ("state", "on"),
        ("tenant", tenant.as_str()),
        ("incident_id", incident.as_str()),
        ("reason", "pricing is wrong for acme: stop acceptances"),
    ];
    assert_eq!(post(&app, &on).await, (303, "/controls".to_string()));
    assert_eq!(switches_on(&pool).await, 1);
    let (_, orders) = app.page("/orders").await;
    assert!(orders.contains("Customer-impacting flows disabled") && orders.contains("customers cannot accept quotes"), "{orders}");
    let (_, incident_page) = app.page(&format!("/incidents/{incident}")).await;
    assert!(incident_page.contains("Quote acceptance disabled"), "the change is on the incident's timeline");

    let off = [
        ("switch", "quote-acceptance"),
        ("state", "off"),
        ("tenant", tenant.as_str()),
        ("incident_id", incident.as_str()),
        ("reason", "pricing fixed and verified on three quotes"),
    ];
    assert_eq!(post(&app, &off).await, (303, "/controls".to_string()));
    assert_eq!(switches_on(&pool).await, 0);
    let (_, orders) = app.page("/orders").await;
    assert!(!orders.contains("Customer-impacting flows disabled"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_viewer_sees_the_switches_but_may_not_flip_them(pool: PgPool) {
    let incident = incident(&pool).await;
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("vera.viewer").await;
    let (status, page) = app.page("/controls").await;
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("Turn a switch on"), "no form for a viewer");
    let (status, _) = post(&app, &[("switch", "relay"), ("state", "on"), ("incident_id", incident.as_str()), ("reason", "a viewer tries it anyway")]).await;
    assert_eq!(status, 403);
    assert_eq!(switches_on(&pool).await, 0);
}
