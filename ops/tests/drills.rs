//! Failure drills against the real services (PostgreSQL, Operaton): a drill breaks a real order in the
//! drill tenant through the platform's fault injection and opens its incident; worked through the
//! console (a repair, or ending the cause), it ends with the §22.2 evaluation read from the evidence; a
//! drill nobody worked scores low, and a wrong runbook becomes an action item.

mod common;

use std::time::Duration;

use ops::dashboard;
use ops::drill::{self, Answer, DrillForEnd, DrillStartForm, DrillStatus, FaultKit};
use ops::incident::{IncidentId, TimelineFilter};
use ops::repair::*;
use ops::testing::demo_user;
use ops::ErrorKind;
use platform::engine::{BusinessKey, EngineClient};
use platform::faults::DRILL_TENANT;
use platform::ids::OrderId;
use platform::orchestration::ensure_deployed;
use platform::testing::engine_url;
use sqlx::PgPool;

fn kit() -> FaultKit {
    FaultKit::default()
}

fn start(drill: &str) -> DrillStartForm {
    DrillStartForm { drill: drill.into() }
}

async fn sample(pool: &PgPool) {
    dashboard::sample_round(pool, Duration::from_secs(3600)).await.unwrap().expect("no other replica samples");
}

async fn cleanup(order: OrderId) {
    let engine = EngineClient::new(engine_url());
    for i in engine.instances_by_business_key(&BusinessKey::for_order(DRILL_TENANT, order)).await.unwrap_or_default() {
        let _ = reqwest::Client::new().delete(format!("{}/process-instance/{}", engine_url(), i.id)).send().await;
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_manual_repair_drill_worked_through_the_console_scores_every_question(pool: PgPool) {
    ensure_deployed(&EngineClient::new(engine_url())).await.unwrap();
    let oscar = demo_user("oscar.operator");
    let drill = drill::start_drill(&pool, &kit(), &oscar, &start("manual-repair-dry-run")).await.unwrap();
    assert_eq!(drill.status, DrillStatus::Broken, "{drill:?}");
    let incident: IncidentId = drill.incident_id.expect("a drill opens its incident");
    let order = OrderId::from_uuid(drill.entity_id.expect("the broken order"));
    let detail = ops::incident::incident_detail(&pool, &oscar, incident, TimelineFilter::ALL).await.unwrap();
    assert_eq!(detail.detected_by.as_str(), "DRILL");
    let story: Vec<String> = detail.timeline.iter().map(|e| e.event_type.clone()).collect();
    assert!(story.contains(&"DRILL_STARTED".to_string()) && story.contains(&"DRILL_FAULT".to_string()), "{story:?}");

    // The same drill cannot run twice at once.
    let twice = drill::start_drill(&pool, &kit(), &oscar, &start("manual-repair-dry-run")).await.unwrap_err();
    assert_eq!(twice.kind(), ErrorKind::Rule, "{twice}");

    // The alert: the dashboards see the given-up start in the drill tenant.
    sample(&pool).await;

    // The operator works it: requests the resume (found), confirms the dry-run, executes.
    let services = Services::new(EngineClient::with_request_timeout(engine_url(), Duration::from_secs(10)));
    let form = RepairRequestForm {
        repair_type: "resume-orchestration".into(),
        tenant: DRILL_TENANT.to_string(),
        entity_id: order.to_string(),
        incident_id: incident.to_string(),
        reason: "drill: the start was given up, resume it at its first step".into(),
        idempotency_key: uuid::Uuid::now_v7().to_string(),
        mismatch_id: String::new(),
        ..Default::default()
    };
    let requested = request_repair(&pool, &services, &oscar, &RepairForRequest::parse(&form, true).unwrap()).await.unwrap().repair;
    let executed = execute_repair(&pool, &services, &oscar, requested.repair_id, Some(&requested.proposed_change_hash)).await.unwrap();
    assert_eq!(executed.repair.status, RepairStatus::Executed);
    sample(&pool).await;

    let end = DrillForEnd { runbook_accurate: true, runbook_gap: None, notes: "went by the book".into() };
    let ended = drill::end_drill(&pool, &kit(), &oscar, drill.drill_id, &end).await.unwrap();
    assert_eq!(ended.status, DrillStatus::Recovered);
    let evaluation = ended.evaluation.clone().expect("kept with the drill");
    let answers: Vec<(String, Answer)> = evaluation.questions.iter().map(|q| (q.question.clone(), q.answer)).collect();
    assert!(answers.iter().all(|(_, a)| *a == Answer::Yes), "{:#?}", evaluation.questions);
    assert_eq!(ended.score, Some(7));
    assert!(evaluation.time_to_detect_seconds.is_some() && evaluation.time_to_recover_seconds.is_some());
    assert!(ended.fault.as_ref().unwrap().ended_at.is_some(), "the fault is ended with the drill");
    let story: Vec<String> =
        ops::incident::incident_detail(&pool, &oscar, incident, TimelineFilter::ALL).await.unwrap().timeline.iter().map(|e| e.event_type.clone()).collect();
    assert!(story.contains(&"DRILL_ENDED".to_string()), "{story:?}");

    // Ending it again is refused; the drill list shows the score.
    let again = drill::end_drill(&pool, &kit(), &oscar, drill.drill_id, &end).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Rule);
    let listed = drill::list_drills(&pool, &oscar, 10).await.unwrap();
    assert_eq!(listed[0].score, Some(7));
    cleanup(order).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_drill_nobody_worked_fails_and_a_wrong_runbook_becomes_an_action_item(pool: PgPool) {
    let oscar = demo_user("oscar.operator");
    let drill = drill::start_drill(&pool, &kit(), &oscar, &start("approval-sla-breach")).await.unwrap();
    assert_eq!(drill.status, DrillStatus::Broken, "{drill:?}");
    let overdue: bool = sqlx::query_scalar("select due_at < now() from cpq.approval_request where approval_request_id = $1")
        .bind(drill.entity_id.unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(overdue, "the approval is past its SLA");
    sample(&pool).await;

    let end = DrillForEnd {
        runbook_accurate: false,
        runbook_gap: Some("it does not say where to find the approver group's queue".into()),
        notes: String::new(),
    };
    let ended = drill::end_drill(&pool, &kit(), &oscar, drill.drill_id, &end).await.unwrap();
    assert_eq!(ended.status, DrillStatus::Failed, "no recovery, no pass");
    let questions = ended.evaluation.unwrap().questions;
    assert_eq!(questions[0].answer, Answer::Yes, "the overdue approval alarmed: {:?}", questions[0]);
    assert_eq!(questions[1].answer, Answer::No, "nobody found the approval");
    assert_eq!(questions[2].answer, Answer::No, "the runbook was wrong");
    assert_eq!(questions[3].answer, Answer::No, "nothing recovered it");
    let items: Vec<String> = sqlx::query_scalar("select action from ops.action_item where incident_id = $1")
        .bind(drill.incident_id.unwrap())
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    assert!(items[0].contains("stuck-approval") && items[0].contains("approver group's queue"), "{items:?}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_lock_contention_drill_is_recovered_by_ending_the_blocker_from_the_console(pool: PgPool) {
    let oscar = demo_user("oscar.operator");
    let drill = drill::start_drill(&pool, &kit(), &oscar, &start("postgres-lock-contention")).await.unwrap();
    assert_eq!(drill.status, DrillStatus::Broken, "{drill:?}");
    let name = drill.fault.as_ref().unwrap().detail["application_name"].as_str().unwrap().to_string();
    let holding = |pool: PgPool, name: String| async move {
        sqlx::query_scalar::<_, i64>("select count(*) from pg_stat_activity where application_name = $1").bind(name).fetch_one(&pool).await.unwrap()
    };
    assert_eq!(holding(pool.clone(), name.clone()).await, 1, "the blocker holds its session");
    // The order really is locked: a NOWAIT lock attempt fails.
    let mut tx = pool.begin().await.unwrap();
    let locked = sqlx::query("select 1 from oms.sales_order where order_id = $1 for update nowait").bind(drill.entity_id.unwrap()).execute(&mut *tx).await;
    assert!(locked.is_err(), "the drill order is locked");
    tx.rollback().await.unwrap();

    // A viewer cannot end it; the operator can, and the session is gone.
    let vera = demo_user("vera.viewer");
    assert_eq!(drill::stop_fault(&pool, &kit(), &vera, drill.drill_id).await.unwrap_err().kind(), ErrorKind::NotAllowed);
    let stopped = drill::stop_fault(&pool, &kit(), &oscar, drill.drill_id).await.unwrap();
    assert!(stopped.fault.unwrap().ended_at.is_some());
    platform::testing::wait_until("the blocker's session ends", Duration::from_secs(10), || {
        let (pool, name) = (pool.clone(), name.clone());
        async move { holding(pool, name).await == 0 }
    })
    .await;

    let end = DrillForEnd { runbook_accurate: true, runbook_gap: None, notes: String::new() };
    let ended = drill::end_drill(&pool, &kit(), &oscar, drill.drill_id, &end).await.unwrap();
    assert_eq!(ended.status, DrillStatus::Recovered);
    let questions = ended.evaluation.unwrap().questions;
    assert_eq!(questions[3].answer, Answer::Yes, "ending the cause from the console is this drill's recovery: {:?}", questions[3]);
}

/// The bad-deployment drill: a defective release serves the drill tenant and a drill order is accepted
/// under it. Its cause cannot be "ended" while that release serves: the operator chooses rollback or
/// roll-forward (a release change on the incident), and only then ends it.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_bad_deployment_drill_ends_only_after_a_rollback_or_roll_forward(pool: PgPool) {
    use ops::release::{change_release, ReleaseForChange, ReleaseForm};
    let oscar = demo_user("oscar.operator");
    let drill = drill::start_drill(&pool, &kit(), &oscar, &start("bad-deployment")).await.unwrap();
    assert_eq!(drill.status, DrillStatus::Broken, "{drill:?}");
    let fault = drill.fault.clone().unwrap();
    assert_eq!((fault.fault_type.as_str(), fault.detail["version"].as_str()), ("BAD_DEPLOYMENT", Some(platform::faults::BAD_RELEASE)));
    assert!(drill.entity_id.is_some(), "a drill order accepted under the bad release");
    let mut conn = pool.acquire().await.unwrap();
    let serving = platform::release::current(&mut conn, DRILL_TENANT).await.unwrap().unwrap();
    assert_eq!(serving.defect_topic.as_deref(), Some("order-reserve"));
    drop(conn);
    let worker_sees = platform::release::defect_for(&pool, DRILL_TENANT, "order-reserve").await.unwrap();
    assert!(worker_sees.is_some_and(|m| m.starts_with(&format!("release {}", platform::faults::BAD_RELEASE))));
    assert!(platform::release::defect_for(&pool, platform::tenants::ACME, "order-reserve").await.unwrap().is_none(), "one tenant ring only");

    let refused = drill::stop_fault(&pool, &kit(), &oscar, drill.drill_id).await.unwrap_err();
    assert!(refused.to_string().contains("roll it back or forward"), "{refused}");

    // Roll forward to a fixed build, on the drill's incident.
    let form = |version: &str| ReleaseForm {
        tenant: DRILL_TENANT.to_string(),
        choice: "roll-forward".into(),
        version: version.into(),
        reason: "2026.11.2 fixes the reservation payload".into(),
        incident_id: drill.incident_id.unwrap().to_string(),
    };
    let missing = ReleaseForChange::parse(&form("")).unwrap_err();
    assert!(missing.get("version").is_some(), "{missing:?}");
    let now = change_release(&pool, &oscar, &ReleaseForChange::parse(&form("2026.11.2")).unwrap()).await.unwrap();
    assert_eq!((now.kind.as_str(), now.replaces.as_deref()), ("ROLL_FORWARD", Some(platform::faults::BAD_RELEASE)));
    let story = ops::incident::incident_detail(&pool, &oscar, drill.incident_id.unwrap(), TimelineFilter::ALL).await.unwrap().timeline;
    assert!(story.iter().any(|e| e.headline.starts_with(&format!("Release {} → 2026.11.2", platform::faults::BAD_RELEASE))), "{story:?}");

    let stopped = drill::stop_fault(&pool, &kit(), &oscar, drill.drill_id).await.unwrap();
    assert!(stopped.fault.unwrap().ended_at.is_some());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_platform_wide_drill_needs_every_tenant_and_a_missing_part_is_said(pool: PgPool) {
    // olga operates acme and globex: the drill tenant is not hers, nor is a vendor outage.
    let olga = demo_user("olga.opsapprover");
    let refused = drill::start_drill(&pool, &kit(), &olga, &start("manual-repair-dry-run")).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::NotAllowed, "{refused}");
    // An unknown drill is said at its field.
    let bad = drill::start_drill(&pool, &kit(), &demo_user("oscar.operator"), &start("chaos-monkey")).await.unwrap_err();
    assert!(bad.field_errors().and_then(|f| f.get("drill")).is_some(), "{bad}");
    // Without a vendor configured the engine drill fails at once, its reason kept, nothing left running.
    let oscar = demo_user("oscar.operator");
    let drill = drill::start_drill(&pool, &kit(), &oscar, &start("engine-incident-retry")).await.unwrap();
    assert_eq!(drill.status, DrillStatus::Failed);
    let active: i64 = sqlx::query_scalar("select count(*) from ops.drill_run where status in ('RUNNING', 'BROKEN')").fetch_one(&pool).await.unwrap();
    assert_eq!(active, 0);
}
