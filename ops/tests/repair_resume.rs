//! The resume-orchestration repair against the real services: PostgreSQL (a database per test) and
//! Operaton. Each test's orders are its own (business key tenantId:orderId); instances a test starts are
//! deleted at its end. Request → (approve) → execute → re-check, every refusal path, the binding of an
//! approval to its dry-run, racing executions, the engine down during execution, idempotency.

mod common;

use std::time::Duration;

use ops::identity::Actor;
use ops::incident::*;
use ops::repair::*;
use ops::testing::{audit_lines, demo_user};
use ops::ErrorKind;
use platform::engine::{BusinessKey, EngineClient};
use platform::ids::OrderId;
use platform::order::OrderCommand;
use platform::orchestration::{ensure_deployed, give_up_start};
use platform::tenants::ACME;
use platform::testing::{advance_order, captured_order, engine_url};
use sqlx::PgPool;
use uuid::Uuid;

use common::{declare, step};

fn services() -> Services {
    Services::new(EngineClient::with_request_timeout(engine_url(), Duration::from_secs(10)))
}

/// An order of acme whose orchestration start the starter gave up (the engine was unreachable).
async fn stuck_order(pool: &PgPool, number: &str) -> OrderId {
    let order = captured_order(pool, ACME, number).await.order_id;
    let mut conn = pool.acquire().await.unwrap();
    give_up_start(&mut conn, order, "gave up after 20 attempts: process engine unreachable", "test").await.unwrap();
    order
}

async fn incident(pool: &PgPool) -> IncidentId {
    declare(pool, &demo_user("oscar.operator"), "SEV2", &[ACME], &[]).await.incident_id
}

fn request(order: OrderId, incident: IncidentId, key: &str) -> RepairForRequest {
    RepairForRequest::parse(
        &RepairRequestForm {
            repair_type: "resume-orchestration".into(),
            tenant: ACME.to_string(),
            entity_id: order.to_string(),
            incident_id: incident.to_string(),
            reason: "the start was given up while the engine was down".into(),
            idempotency_key: key.into(),
            mismatch_id: String::new(),
            ..Default::default()
        },
        true,
    )
    .unwrap()
}

fn approve(hash: &str) -> RepairDecision {
    RepairDecision::parse(&DecisionForm { decision: "APPROVE".into(), comment: "checked the vendor: nothing sent".into(), proposed_change_hash: hash.into() })
        .unwrap()
}

async fn instances(order: OrderId) -> Vec<String> {
    let engine = EngineClient::new(engine_url());
    engine.instances_by_business_key(&BusinessKey::for_order(ACME, order)).await.unwrap().into_iter().map(|i| i.id).collect()
}

async fn cleanup(order: OrderId) {
    for id in instances(order).await {
        let _ = reqwest::Client::new().delete(format!("{}/process-instance/{id}", engine_url())).send().await;
    }
}

async fn order_status(pool: &PgPool, order: OrderId) -> (String, i64) {
    sqlx::query_as("select status, version from oms.sales_order where order_id = $1").bind(order).fetch_one(pool).await.unwrap()
}

async fn make_high_risk(pool: &PgPool) {
    platform::tenants::ensure_well_known(pool).await.unwrap();
    let admin = demo_user("adam.admin");
    let policy = PolicyForSet::parse(&PolicyForm {
        tenant: ACME.to_string(),
        repair_type: "resume-orchestration".into(),
        min_risk: "HIGH".into(),
        reason: "acme wants two people on every resume".into(),
    })
    .unwrap();
    set_policy(pool, &admin, &policy).await.unwrap();
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_low_risk_resume_runs_after_its_requester_confirms_the_dry_run_and_is_rechecked(pool: PgPool) {
    ensure_deployed(&EngineClient::new(engine_url())).await.unwrap();
    let order = stuck_order(&pool, "R-1").await;
    let incident = incident(&pool).await;
    let oscar = demo_user("oscar.operator");
    let services = services();

    let requested = request_repair(&pool, &services, &oscar, &request(order, incident, "resume-R-1-key")).await.unwrap();
    let repair = requested.repair;
    assert_eq!((repair.status, repair.risk), (RepairStatus::Requested, Risk::Low));
    assert_eq!(repair.entity_version, Some(1));
    assert_eq!(repair.proposed_change["resume_at"], "reserve");
    assert_eq!(repair.proposed_change["how"]["how"], "new_instance");
    assert_eq!(repair.before_state["order"]["status"], "CAPTURED");
    assert!(repair.safety_checks.iter().all(|c| c.verdict == Verdict::Pass), "{:?}", repair.safety_checks);
    assert!(instances(order).await.is_empty(), "a dry-run changes nothing");
    assert_eq!(order_status(&pool, order).await, ("CAPTURED".into(), 1));

    // Only the requester executes a LOW-risk repair.
    let olga = demo_user("olga.opsapprover");
    let err = execute_repair(&pool, &services, &olga, repair.repair_id, Some(&repair.proposed_change_hash)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Rule, "{err}");

    let executed = execute_repair(&pool, &services, &oscar, repair.repair_id, Some(&repair.proposed_change_hash)).await.unwrap();
    let done = executed.repair;
    assert_eq!(done.status, RepairStatus::Executed);
    let after = done.after_state.clone().unwrap();
    assert_eq!(after["order_status"], "ORCHESTRATING");
    assert_eq!(after["resumed_at"], "reserve");
    let started = instances(order).await;
    assert_eq!(started.len(), 1, "one instance under the business key");
    assert!(after["process_instance_id"].is_null(), "a new instance is started after the commit");
    assert_eq!(after["engine_follow_ups"].as_array().map(Vec::len), Some(1), "{after}");
    let [call] = done.follow_ups.as_slice() else { panic!("one engine call owed: {:?}", done.follow_ups) };
    assert!(!call.pending(), "made right after the commit: {call:?}");
    assert_eq!((call.attempts, call.outcome.as_ref().map(|o| o["started"].clone())), (1, Some(started[0].as_str().into())));
    let activities = EngineClient::new(engine_url()).current_activities(&started[0]).await.unwrap();
    assert_eq!(activities, ["reserve"], "the process waits at the reserve step");
    let recheck = done.recheck.expect("re-checked after the commit");
    assert!(recheck.coherent, "{recheck:?}");

    // Evidence: the order's transition, the incident's timeline, the audit lines.
    let (command,): (String,) = sqlx::query_as(
        "select command from oms.order_transition where order_id = $1 and order_line_id is null order by occurred_at desc limit 1",
    )
    .bind(order)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(command, "RESUME_ORCHESTRATION");
    let story: Vec<String> = common::detail(&pool, incident).await.timeline.into_iter().map(|e| e.event_type).collect();
    for kind in ["REPAIR_REQUESTED", "REPAIR_EXECUTED", "REPAIR_RECHECKED"] {
        assert!(story.contains(&kind.to_string()), "{kind} in {story:?}");
    }
    let actions: Vec<(String, String)> = audit_lines(&pool).await.into_iter().map(|l| (l.action, l.outcome)).collect();
    for line in [("repair.request", "SUCCEEDED"), ("repair.execute", "REFUSED"), ("repair.execute", "SUCCEEDED"), ("repair.recheck", "SUCCEEDED")] {
        assert!(actions.contains(&(line.0.to_string(), line.1.to_string())), "{line:?} in {actions:?}");
    }

    // Executing again answers the first outcome: still one instance.
    let again = execute_repair(&pool, &services, &oscar, repair.repair_id, None).await.unwrap();
    assert!(again.replayed);
    assert_eq!(instances(order).await.len(), 1);
    cleanup(order).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_high_risk_resume_needs_another_person_with_the_approver_role(pool: PgPool) {
    ensure_deployed(&EngineClient::new(engine_url())).await.unwrap();
    make_high_risk(&pool).await;
    let order = stuck_order(&pool, "R-2").await;
    let incident = incident(&pool).await;
    let services = services();
    let olga = demo_user("olga.opsapprover");

    let repair = request_repair(&pool, &services, &olga, &request(order, incident, "resume-R-2-key")).await.unwrap().repair;
    assert_eq!(repair.risk, Risk::High);
    assert!(repair.risk_reasons[0].starts_with("tenant policy: acme wants two people"), "{:?}", repair.risk_reasons);
    let hash = repair.proposed_change_hash.clone();

    // Not executable before approval.
    let err = execute_repair(&pool, &services, &olga, repair.repair_id, Some(&hash)).await.unwrap_err();
    assert!(err.to_string().contains("only after another person approved it"), "{err}");
    // Olga holds the approver role too — nobody approves their own request.
    let err = decide_repair(&pool, &services, &olga, repair.repair_id, &approve(&hash)).await.unwrap_err();
    assert!(err.to_string().contains("nobody approves their own request"), "{err}");
    // A viewer and an operator without the approver role are refused by role.
    for who in ["vera.viewer", "oscar.operator"] {
        let err = decide_repair(&pool, &services, &demo_user(who), repair.repair_id, &approve(&hash)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotAllowed, "{who}: {err}");
    }
    // The database refuses a self-approval even when the code is bypassed.
    let refused = sqlx::query(
        "insert into ops.repair_approval (approval_id, repair_id, approver, approver_subject, decision, entity_version, proposed_change_hash)
         values ($1, $2, 'olga', $3, 'APPROVED', $4, $5)",
    )
    .bind(Uuid::now_v7())
    .bind(repair.repair_id)
    .bind(&repair.requested_by_subject)
    .bind(repair.entity_version)
    .bind(&hash)
    .execute(&pool)
    .await
    .unwrap_err();
    assert!(refused.to_string().contains("nobody approves their own request"), "{refused}");
    // … and a HIGH-risk execution without an approval.
    let refused = sqlx::query("update ops.repair_command_log set status = 'EXECUTED' where repair_id = $1")
        .bind(repair.repair_id)
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(refused.to_string().contains("only after approval by another person"), "{refused}");

    let ada = demo_user("ada.approver");
    let approved = decide_repair(&pool, &services, &ada, repair.repair_id, &approve(&hash)).await.unwrap();
    assert_eq!(approved.status, RepairStatus::Approved);
    assert_eq!(approved.approvals.len(), 1);
    assert!(approved.approvals[0].expires_at.is_some());

    let executed = execute_repair(&pool, &services, &olga, repair.repair_id, Some(&hash)).await.unwrap().repair;
    assert_eq!(executed.status, RepairStatus::Executed, "{:?}", executed.failure_reason);
    assert_eq!(instances(order).await.len(), 1);
    cleanup(order).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_approval_is_void_when_the_entity_moved_on_and_the_repair_must_be_requested_again(pool: PgPool) {
    ensure_deployed(&EngineClient::new(engine_url())).await.unwrap();
    make_high_risk(&pool).await;
    let order = stuck_order(&pool, "R-3").await;
    let incident = incident(&pool).await;
    let services = services();
    let oscar = demo_user("oscar.operator");
    let repair = request_repair(&pool, &services, &oscar, &request(order, incident, "resume-R-3-key")).await.unwrap().repair;
    decide_repair(&pool, &services, &demo_user("ada.approver"), repair.repair_id, &approve(&repair.proposed_change_hash))
        .await
        .unwrap();

    // The order moves on after the approval (someone failed it meanwhile).
    advance_order(&pool, ACME, order, &[OrderCommand::Fail]).await;

    let executed = execute_repair(&pool, &services, &oscar, repair.repair_id, None).await.unwrap().repair;
    assert_eq!(executed.status, RepairStatus::Failed);
    let why = executed.failure_reason.unwrap();
    assert!(why.contains("moved on since the dry-run (version 1 → 2)") && why.contains("request the repair again"), "{why}");
    assert!(instances(order).await.is_empty(), "nothing was started");
    assert_eq!(order_status(&pool, order).await.0, "FAILED");
    let failed = audit_lines(&pool).await.into_iter().find(|l| l.action == "repair.execute").unwrap();
    assert_eq!(failed.outcome, "FAILED");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn two_executions_racing_give_one_effect(pool: PgPool) {
    ensure_deployed(&EngineClient::new(engine_url())).await.unwrap();
    let order = stuck_order(&pool, "R-4").await;
    let incident = incident(&pool).await;
    let services = services();
    let oscar = demo_user("oscar.operator");
    let repair = request_repair(&pool, &services, &oscar, &request(order, incident, "resume-R-4-key")).await.unwrap().repair;

    let (a, b) = tokio::join!(
        execute_repair(&pool, &services, &oscar, repair.repair_id, None),
        execute_repair(&pool, &services, &oscar, repair.repair_id, None),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!([a.replayed, b.replayed].iter().filter(|r| **r).count(), 1, "one acts, the other answers its outcome");
    assert_eq!(a.repair.status, RepairStatus::Executed);
    assert_eq!(b.repair.status, RepairStatus::Executed);
    assert_eq!(instances(order).await.len(), 1, "one instance");
    let resumes: i64 = sqlx::query_scalar("select count(*) from oms.order_transition where order_id = $1 and command = 'RESUME_ORCHESTRATION'")
        .bind(order)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(resumes, 1);
    cleanup(order).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn with_the_engine_down_execution_fails_changing_nothing_and_a_later_request_succeeds(pool: PgPool) {
    ensure_deployed(&EngineClient::new(engine_url())).await.unwrap();
    let order = stuck_order(&pool, "R-5").await;
    let incident = incident(&pool).await;
    let oscar = demo_user("oscar.operator");
    let repair = request_repair(&pool, &services(), &oscar, &request(order, incident, "resume-R-5-key")).await.unwrap().repair;

    // The engine as the console sees it when it is down: nothing answers at its address.
    let down = Services::new(EngineClient::with_request_timeout("http://127.0.0.1:9/engine-rest", Duration::from_secs(2)));
    let failed = execute_repair(&pool, &down, &oscar, repair.repair_id, None).await.unwrap().repair;
    assert_eq!(failed.status, RepairStatus::Failed);
    assert!(failed.failure_reason.as_deref().unwrap().contains("process engine is unavailable"), "{:?}", failed.failure_reason);
    assert_eq!(order_status(&pool, order).await, ("CAPTURED".into(), 1), "no half change");

    // Once the engine answers, a new request (new key) resumes it.
    let again = request_repair(&pool, &services(), &oscar, &request(order, incident, "resume-R-5-key-2")).await.unwrap().repair;
    let done = execute_repair(&pool, &services(), &oscar, again.repair_id, None).await.unwrap().repair;
    assert_eq!(done.status, RepairStatus::Executed);
    assert_eq!(instances(order).await.len(), 1);
    cleanup(order).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_same_key_answers_the_first_request_and_refusals_write_nothing(pool: PgPool) {
    ensure_deployed(&EngineClient::new(engine_url())).await.unwrap();
    let order = stuck_order(&pool, "R-6").await;
    let incident = incident(&pool).await;
    let services = services();
    let oscar = demo_user("oscar.operator");
    let input = request(order, incident, "resume-R-6-key");
    let (a, b) = tokio::join!(
        request_repair(&pool, &services, &oscar, &input),
        request_repair(&pool, &services, &oscar, &input),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.repair.repair_id, b.repair.repair_id, "racing requests with one key make one repair");
    assert_eq!([a.replayed, b.replayed].iter().filter(|r| **r).count(), 1);
    let count = || async { sqlx::query_scalar::<_, i64>("select count(*) from ops.repair_command_log").fetch_one(&pool).await.unwrap() };
    assert_eq!(count().await, 1);

    // The same key for another entity is refused.
    let other = stuck_order(&pool, "R-6b").await;
    let err = request_repair(&pool, &services, &oscar, &request(other, incident, "resume-R-6-key")).await.unwrap_err();
    assert!(err.to_string().contains("already used for another request"), "{err}");

    // A viewer may not request; a closed incident may not be linked; the refusals write no repair.
    let err = request_repair(&pool, &services, &demo_user("vera.viewer"), &request(other, incident, "resume-R-6-viewer")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAllowed);
    let closed = declare(&pool, &oscar, "SEV4", &[ACME], &[]).await.incident_id;
    let op = Actor::system("test");
    let resolved = change_status(&pool, &op, closed, 1, &step(IncidentCommand::Resolve, "nothing to do here")).await.unwrap();
    change_status(&pool, &op, closed, resolved.version, &step(IncidentCommand::Close, "nothing to do here")).await.unwrap();
    let err = request_repair(&pool, &services, &oscar, &request(other, closed, "resume-R-6-closed")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.field_errors().unwrap().get("incident_id").unwrap().contains("OPEN or MITIGATED"));
    // An operator of globex only may not repair acme.
    let gwen = demo_user("gwen.globex");
    let err = request_repair(&pool, &services, &gwen, &request(other, incident, "resume-R-6-gwen")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAllowed);
    assert_eq!(count().await, 1, "no repair was written by a refusal");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_running_instance_refuses_the_resume_and_says_why(pool: PgPool) {
    ensure_deployed(&EngineClient::new(engine_url())).await.unwrap();
    let order = stuck_order(&pool, "R-7").await;
    let incident = incident(&pool).await;
    let services = services();
    let oscar = demo_user("oscar.operator");
    let first = request_repair(&pool, &services, &oscar, &request(order, incident, "resume-R-7-key")).await.unwrap().repair;
    execute_repair(&pool, &services, &oscar, first.repair_id, None).await.unwrap();

    let err = request_repair(&pool, &services, &oscar, &request(order, incident, "resume-R-7-again")).await.unwrap_err();
    let ops::Error::Rule { missing, .. } = &err else { panic!("{err}") };
    assert!(missing.iter().any(|m| m.contains("running without an incident")), "{missing:?}");
    cleanup(order).await;
}
