//! The internal repair API (lesson §18) with a real client-credentials token from Keycloak and the real
//! Operaton: the lesson's body and the Idempotency-Key header; a dry-run first, a person's approval in
//! between for a HIGH-risk repair, execution by the service, the same key answering the first outcome;
//! missing key, short reason, no incident, wrong scope — each a clear 4xx with nothing written. The
//! served OpenAPI document names every route, and every route it names answers.

use ops::identity::Actor;
use ops::incident::{declare_incident, DeclareForm, IncidentForDeclare};
use ops::repair::{decide_repair, set_policy, DecisionForm, PolicyForSet, PolicyForm, RepairDecision, Services};
use ops::testing::demo_user;
use platform::engine::{BusinessKey, EngineClient};
use platform::ids::OrderId;
use platform::machine::Named;
use platform::orchestration::{ensure_deployed, give_up_start};
use platform::tenants::ACME;
use platform::testing::{captured_order, engine_url};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{idp_config, spawn_app_with, TestApp};
use crate::repairs::pending_approval;
use crate::service_tokens::keycloak_service_token;

async fn stuck_order(pool: &PgPool, number: &str) -> OrderId {
    let order = captured_order(pool, ACME, number).await.order_id;
    give_up_start(&mut pool.acquire().await.unwrap(), order, "gave up: process engine unreachable", "test").await.unwrap();
    order
}

async fn incident(pool: &PgPool) -> String {
    let form = DeclareForm {
        severity: "SEV2".into(),
        detected_by: "RECONCILIATION".into(),
        summary: "Orders captured during the engine outage never started".into(),
        tenants: vec![ACME.to_string()],
        ..Default::default()
    };
    declare_incident(pool, &Actor::system("test"), &IncidentForDeclare::parse(&form).unwrap())
        .await
        .unwrap()
        .incident_id
        .to_string()
}

async fn app(pool: &PgPool) -> TestApp {
    ensure_deployed(&EngineClient::new(engine_url())).await.unwrap();
    let mut config = idp_config();
    config.engine_url = engine_url();
    spawn_app_with(pool.clone(), config).await
}

async fn post(app: &TestApp, token: &str, key: Option<&str>, body: &Value) -> (u16, String) {
    let mut request = app.client.post(format!("{}/internal/v1/repairs/resume-orchestration", app.address)).bearer_auth(token).json(body);
    if let Some(key) = key {
        request = request.header("Idempotency-Key", key);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

fn body(order: OrderId, incident: &str, reason: &str, dry_run: bool) -> Value {
    json!({ "tenantId": ACME, "orderId": order, "incidentId": incident, "reason": reason, "dryRun": dry_run })
}

async fn repairs(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from ops.repair_command_log").fetch_one(pool).await.unwrap()
}

async fn cleanup(order: OrderId) {
    let engine = EngineClient::new(engine_url());
    for i in engine.instances_by_business_key(&BusinessKey::for_order(ACME, order)).await.unwrap() {
        let _ = reqwest::Client::new().delete(format!("{}/process-instance/{}", engine_url(), i.id)).send().await;
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_service_requests_a_dry_run_a_person_approves_and_the_service_executes(pool: PgPool) {
    let app = app(&pool).await;
    let order = stuck_order(&pool, "Q-API-R1").await;
    let incident = incident(&pool).await;
    let policy = PolicyForm {
        tenant: ACME.to_string(),
        repair_type: "resume-orchestration".into(),
        min_risk: "HIGH".into(),
        reason: "a person approves every resume".into(),
    };
    set_policy(&pool, &Actor::system("test"), &PolicyForSet::parse(&policy).unwrap()).await.unwrap();
    let token = keycloak_service_token(Some("ops.repair")).await;
    let reason = "orders captured in the outage window need their process";

    let (status, text) = post(&app, &token, Some("drill-key-0001"), &body(order, &incident, reason, true)).await;
    assert_eq!(status, 201, "{text}");
    let dry: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((dry["status"].as_str(), dry["risk"].as_str()), (Some("REQUESTED"), Some("HIGH")));
    assert_eq!(dry["proposedChange"]["resume_at"], "reserve");

    // Before a person approves, executing waits.
    let (status, text) = post(&app, &token, Some("drill-key-0001"), &body(order, &incident, reason, false)).await;
    assert_eq!(status, 202, "{text}");
    assert!(text.contains("waiting for approval"), "{text}");

    let hash = dry["proposedChangeHash"].as_str().unwrap().to_string();
    let decision = RepairDecision::parse(&DecisionForm { decision: "APPROVE".into(), comment: String::new(), proposed_change_hash: hash }).unwrap();
    let id = ops::ids::RepairId::parse(dry["repairId"].as_str().unwrap()).unwrap();
    decide_repair(&pool, &Services::new(EngineClient::new(engine_url())), &demo_user("ada.approver"), id, &decision).await.unwrap();

    let (status, text) = post(&app, &token, Some("drill-key-0001"), &body(order, &incident, reason, false)).await;
    assert_eq!(status, 200, "{text}");
    let done: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(done["status"], "EXECUTED");
    assert_eq!(done["coherentAfter"], true);
    // Again: the first outcome, nothing done twice.
    let (status, text) = post(&app, &token, Some("drill-key-0001"), &body(order, &incident, reason, false)).await;
    assert_eq!(status, 200);
    let again: Value = serde_json::from_str(&text).unwrap();
    assert_eq!((again["status"].as_str(), again["replayed"].as_bool()), (Some("EXECUTED"), Some(true)));
    assert_eq!(repairs(&pool).await, 1);

    let (status, text) = {
        let r = app.client.get(format!("{}/internal/v1/repairs/by-id/{id}", app.address)).bearer_auth(&token).send().await.unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    };
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("ada.approver"), "{text}");
    cleanup(order).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn bad_requests_are_clear_4xx_answers_that_write_nothing(pool: PgPool) {
    let app = app(&pool).await;
    let order = stuck_order(&pool, "Q-API-R2").await;
    let incident = incident(&pool).await;
    let token = keycloak_service_token(Some("ops.repair")).await;
    let reason = "orders captured in the outage window need their process";

    let (status, text) = post(&app, &token, None, &body(order, &incident, reason, true)).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("Idempotency-Key header is required"), "{text}");

    let (status, text) = post(&app, &token, Some("api-key-short"), &body(order, &incident, "stuck", true)).await;
    assert_eq!(status, 422);
    assert!(text.contains("at least 20 characters"), "{text}");

    let no_incident = json!({ "tenantId": ACME, "orderId": order, "reason": reason, "dryRun": true });
    let (status, _) = post(&app, &token, Some("api-key-noinc"), &no_incident).await;
    assert_eq!(status, 422, "the incident link is required");
    let (status, text) = post(&app, &token, Some("api-key-badinc"), &body(order, &uuid::Uuid::now_v7().to_string(), reason, true)).await;
    assert_eq!(status, 422);
    assert!(text.contains("There is no incident"), "{text}");

    let read_only = keycloak_service_token(None).await;
    let (status, text) = post(&app, &read_only, Some("api-key-scope"), &body(order, &incident, reason, true)).await;
    assert_eq!(status, 403, "{text}");
    assert!(text.contains("REQUEST_REPAIR"), "{text}");

    let (status, _) = post(&app, "not-a-token", Some("api-key-token"), &body(order, &incident, reason, true)).await;
    assert_eq!(status, 401);
    assert_eq!(repairs(&pool).await, 0, "nothing written");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_repairs_parameters_come_in_the_body_and_an_unknown_one_is_refused(pool: PgPool) {
    let app = app(&pool).await;
    let approval = pending_approval(&pool, "Q-API-P1").await;
    let incident = incident(&pool).await;
    let token = keycloak_service_token(Some("ops.repair")).await;
    let reassign = |parameters: Value| {
        let body = json!({ "tenantId": ACME, "entityId": approval, "incidentId": incident, "reason": "the approver left the company last week",
            "dryRun": true, "parameters": parameters });
        let request = app.client.post(format!("{}/internal/v1/repairs/reassign-approver", app.address)).bearer_auth(&token).json(&body);
        async move {
            let response = request.header("Idempotency-Key", uuid::Uuid::now_v7().to_string()).send().await.unwrap();
            (response.status().as_u16(), response.text().await.unwrap())
        }
    };

    let (status, text) = reassign(json!({ "approver": "mia.manager" })).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("no parameter approver"), "{text}");
    let (status, text) = reassign(json!({})).await;
    assert_eq!(status, 422, "{text}");
    assert!(text.contains("Give new approver"), "{text}");
    assert_eq!(repairs(&pool).await, 0, "nothing written");

    let (status, text) = reassign(json!({ "assignee": "mia.manager" })).await;
    assert_eq!(status, 201, "{text}");
    let proposed: Value = sqlx::query_scalar("select proposed_change from ops.repair_command_log").fetch_one(&pool).await.unwrap();
    assert_eq!(proposed["parameters"]["assignee"], "mia.manager");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_served_openapi_document_names_every_route_and_every_named_route_answers(pool: PgPool) {
    let app = app(&pool).await;
    let document: Value = app.client.get(format!("{}/internal/v1/openapi.json", app.address)).send().await.unwrap().json().await.unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let paths = document["paths"].as_object().unwrap();
    let names: Vec<&str> = paths.keys().map(String::as_str).collect();
    for expected in ["/whoami", "/orders/{tenant}/{order_id}", "/repairs/{repair_type}", "/repairs/by-id/{repair_id}"] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    assert!(document["components"]["securitySchemes"]["serviceAuth"].is_object());
    assert!(document["components"]["schemas"]["RepairApiRequest"]["required"].as_array().unwrap().contains(&json!("dryRun")));
    // What the handlers enforce is in the document, so clients (and fuzzers) generate valid values.
    let parameter = |path: &str, method: &str, name: &str| -> Value {
        paths[path][method]["parameters"].as_array().unwrap().iter().find(|p| p["name"] == name).unwrap()["schema"].clone()
    };
    let repair_type = parameter("/repairs/{repair_type}", "post", "repair_type");
    let types: Vec<&str> = repair_type["enum"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(types.contains(&"resume-orchestration") && types.contains(&"quarantine-event"), "{types:?}");
    assert_eq!(types.len(), ops::repair::RepairType::ALL.len());
    let key = parameter("/repairs/{repair_type}", "post", "Idempotency-Key");
    assert_eq!((key["minLength"].as_u64(), key["maxLength"].as_u64()), (Some(8), Some(200)));
    assert_eq!(parameter("/orders/{tenant}/{order_id}", "get", "order_id")["format"], "uuid");
    assert_eq!(parameter("/repairs/by-id/{repair_id}", "get", "repair_id")["format"], "uuid");
    // Every documented path and method is routed: without a token each answers 401 (the route exists),
    // where an unknown one answers the API's 404.
    for (path, item) in paths {
        let concrete = path.replace("{tenant}", &ACME.to_string()).replace('{', "x").replace('}', "");
        for method in item.as_object().unwrap().keys() {
            let url = format!("{}/internal/v1{concrete}", app.address);
            let response = match method.as_str() {
                "get" => app.client.get(&url).send().await.unwrap(),
                "post" => app.client.post(&url).json(&json!({})).send().await.unwrap(),
                other => panic!("unexpected method {other}"),
            };
            assert_eq!(response.status().as_u16(), 401, "{method} {path}");
        }
    }
    let unknown = app.client.get(format!("{}/internal/v1/nothing-here", app.address)).send().await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
}
