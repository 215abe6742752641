//! Governed repairs through the console's forms, signed in through Keycloak as two people, against the
//! real Operaton: an operator requests resume-orchestration for a stuck order and sees its dry-run; an
//! approver approves; the operator executes; the repair page tells who, why, before, after and the
//! approval. Bad input, a second decision by the requester and a viewer's attempt are refused.

use ops::identity::Actor;
use ops::incident::{declare_incident, DeclareForm, IncidentForDeclare};
use ops::repair::{set_policy, PolicyForSet, PolicyForm};
use platform::approval_timer::request_approval;
use platform::engine::{BusinessKey, EngineClient};
use platform::ids::{ApprovalRequestId, OrderId};
use platform::orchestration::{ensure_deployed, give_up_start};
use platform::tenants::ACME;
use platform::testing::{approval_policy, captured_order, ctx, engine_url, priced_quote};
use sqlx::PgPool;

use crate::helpers::{idp_config, spawn_app_with, TestApp};

async fn stuck_order(pool: &PgPool) -> OrderId {
    let order = captured_order(pool, ACME, "Q-REPAIR-1").await.order_id;
    give_up_start(&mut pool.acquire().await.unwrap(), order, "gave up: process engine unreachable", "test").await.unwrap();
    order
}

/// An open approval request of a quote of acme (its total is above the policy's threshold).
pub(crate) async fn pending_approval(pool: &PgPool, number: &str) -> ApprovalRequestId {
    let policy = approval_policy(pool, ACME, 100).await;
    let quote = priced_quote(pool, ACME, number).await;
    let mut tx = pool.begin().await.unwrap();
    let requested = request_approval(&mut tx, ACME, quote, &policy, &ctx()).await.unwrap();
    tx.commit().await.unwrap();
    requested.approval_request_id
}

async fn incident(pool: &PgPool) -> String {
    let form = DeclareForm {
        severity: "SEV2".into(),
        detected_by: "RECONCILIATION".into(),
        summary: "Orders captured during the engine outage never started".into(),
        tenants: vec![ACME.to_string()],
        ..Default::default()
    };
    let input = IncidentForDeclare::parse(&form).unwrap();
    declare_incident(pool, &Actor::system("test"), &input).await.unwrap().incident_id.to_string()
}

async fn two_people_for_resumes(pool: &PgPool) {
    let form = PolicyForm {
        tenant: ACME.to_string(),
        repair_type: "resume-orchestration".into(),
        min_risk: "HIGH".into(),
        reason: "acme wants a second person on every resume".into(),
    };
    set_policy(pool, &Actor::system("test"), &PolicyForSet::parse(&form).unwrap()).await.unwrap();
}

async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    app.submit(path, fields).await
}

/// The value of a hidden input named `name` on a page.
fn hidden(page: &str, name: &str) -> String {
    let at = page.find(&format!(r#"name="{name}""#)).unwrap_or_else(|| panic!("no {name} on the page"));
    let tag_start = page[..at].rfind("<input").unwrap();
    let tag = &page[tag_start..tag_start + page[tag_start..].find('>').unwrap()];
    tag.split(r#"value=""#).nth(1).unwrap().split('"').next().unwrap().to_string()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_operator_requests_an_approver_approves_and_the_operator_executes_through_the_forms(pool: PgPool) {
    let engine = EngineClient::new(engine_url());
    ensure_deployed(&engine).await.unwrap();
    let order = stuck_order(&pool).await;
    two_people_for_resumes(&pool).await;
    let incident = incident(&pool).await;
    let mut config = idp_config();
    config.engine_url = engine_url();
    let app = spawn_app_with(pool.clone(), config).await;
    app.sign_in("oscar.operator").await;

    // The order page offers the repair; the request page shows its dry-run before anything is stored.
    let (status, order_page) = app.page(&format!("/orders/{ACME}/{order}")).await;
    assert_eq!(status, 200);
    let offer = format!("/repairs/new?type=resume-orchestration&amp;tenant={ACME}&amp;entity={order}");
    assert!(order_page.contains(&offer), "the order page offers resume-orchestration");
    let (status, page) = app.page(&format!("/repairs/new?type=resume-orchestration&tenant={ACME}&entity={order}&incident={incident}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Dry-run, as of now") && page.contains("HIGH"), "{page}");
    assert!(page.contains("Is the order in a resumable state?"));
    let key = hidden(&page, "idempotency_key");
    let order_s = order.to_string();
    let acme = ACME.to_string();
    let form = |reason: &'static str| {
        vec![
            ("repair_type", "resume-orchestration"),
            ("tenant", acme.as_str()),
            ("entity_id", order_s.as_str()),
            ("incident_id", incident.as_str()),
            ("reason", reason),
            ("idempotency_key", key.as_str()),
            ("mismatch_id", ""),
        ]
    };

    // A short reason is answered at its field, and nothing is stored.
    let (status, body) = post(&app, "/repairs", &form("stuck")).await;
    assert_eq!(status, 422);
    assert!(body.contains("Say why in at least 20 characters"), "{body}");
    let repairs = || async { sqlx::query_scalar::<_, i64>("select count(*) from ops.repair_command_log").fetch_one(&pool).await.unwrap() };
    assert_eq!(repairs().await, 0);

    let (status, repair_page) = post(&app, "/repairs", &form("the start was given up during the engine outage")).await;
    assert_eq!(status, 303, "{repair_page}");
    assert!(repair_page.starts_with("/repairs/"));
    // The same form again (same key) is the same repair.
    let (_, again) = post(&app, "/repairs", &form("the start was given up during the engine outage")).await;
    assert_eq!(again, repair_page);
    assert_eq!(repairs().await, 1);

    let (_, page) = app.page(&repair_page).await;
    assert!(page.contains("Waiting for an approver other than"), "{page}");
    assert!(page.contains("nobody approves their own request"), "the requester is told another person decides");
    assert!(!page.contains(r#"value="APPROVE""#), "no decision form for the requester");
    assert!(!page.contains(r#"name="confirm_hash""#), "nothing to execute before the approval");
    let hash: String = sqlx::query_scalar("select proposed_change_hash from ops.repair_command_log").fetch_one(&pool).await.unwrap();
    let (status, _) = post(&app, &format!("{repair_page}/decision"), &[("decision", "APPROVE"), ("comment", ""), ("proposed_change_hash", &hash)]).await;
    assert_eq!(status, 403, "an operator without the approver role is refused");

    let ada = app.fresh_browser();
    ada.sign_in("ada.approver").await;
    let (_, queue) = ada.page("/repairs").await;
    assert!(queue.contains("Waiting for my decision (1)"), "{queue}");
    let (_, page) = ada.page(&repair_page).await;
    let seen = hidden(&page, "proposed_change_hash");
    let (status, _) = post(&ada, &format!("{repair_page}/decision"), &[("decision", "APPROVE"), ("comment", "vendor confirms nothing was sent"), ("proposed_change_hash", &seen)]).await;
    assert_eq!(status, 303);

    let (_, page) = app.page(&repair_page).await;
    assert_eq!(hidden(&page, "confirm_hash"), hash, "once approved, the operator confirms the dry-run the approver saw");
    let (status, _) = post(&app, &format!("{repair_page}/execute"), &[("confirm_hash", &hash)]).await;
    assert_eq!(status, 303);
    let (_, page) = app.page(&repair_page).await;
    for shown in ["EXECUTED", "COHERENT", "ada.approver", "the start was given up during the engine outage", "ORCHESTRATING", "reserve"] {
        assert!(page.contains(shown), "{shown} on the repair page: {page}");
    }
    let instances = engine.instances_by_business_key(&BusinessKey::for_order(ACME, order)).await.unwrap();
    assert_eq!(instances.len(), 1);
    for instance in instances {
        let _ = reqwest::Client::new().delete(format!("{}/process-instance/{}", engine_url(), instance.id)).send().await;
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_repairs_parameters_are_asked_on_its_request_page_and_bound_to_the_dry_run(pool: PgPool) {
    let approval = pending_approval(&pool, "Q-REPAIR-P1").await;
    let incident = incident(&pool).await;
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("oscar.operator").await;

    // The page asks for the new approver, in the preview and in the request, and previews with it.
    let entity = approval.to_string();
    let (status, page) = app.page(&format!("/repairs/new?type=reassign-approver&tenant={ACME}&entity={entity}&incident={incident}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(r#"id="preview-assignee""#) && page.contains(r#"id="repair-assignee""#), "{page}");
    assert!(page.contains("no new approver is named"), "the dry-run without it refuses");
    let (_, page) = app
        .page(&format!("/repairs/new?type=reassign-approver&tenant={ACME}&entity={entity}&incident={incident}&assignee=mia.manager"))
        .await;
    assert!(page.contains("→ mia.manager") && page.contains(r#"value="mia.manager""#), "{page}");
    let key = hidden(&page, "idempotency_key");
    let acme = ACME.to_string();
    let form = |assignee: &'static str| {
        vec![
            ("repair_type", "reassign-approver"),
            ("tenant", acme.as_str()),
            ("entity_id", entity.as_str()),
            ("incident_id", incident.as_str()),
            ("reason", "the approver left the company last week"),
            ("idempotency_key", key.as_str()),
            ("assignee", assignee),
        ]
    };

    // Without it the request is answered at its field; with it the dry-run stored carries it.
    let (status, body) = post(&app, "/repairs", &form("")).await;
    assert_eq!(status, 422);
    assert!(body.contains("Give new approver"), "{body}");
    let (status, repair_page) = post(&app, "/repairs", &form("mia.manager")).await;
    assert_eq!(status, 303, "{repair_page}");
    let proposed: serde_json::Value =
        sqlx::query_scalar("select proposed_change from ops.repair_command_log").fetch_one(&pool).await.unwrap();
    assert_eq!((proposed["to_assignee"].as_str(), proposed["parameters"]["assignee"].as_str()), (Some("mia.manager"), Some("mia.manager")));
}
