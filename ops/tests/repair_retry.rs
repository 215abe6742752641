//! The retry-engine-job repair against the real services: PostgreSQL (a database per test), Operaton, the
//! loopback vendor and the platform's engine worker (limited to the test's order). A transient failure is
//! retried and the order verified moving; a business failure is refused; every other refusal says why.

mod common;

use std::time::Duration;

use common::repairs::{answer, incident, refused, request, services};
use ops::repair::*;
use ops::testing::demo_user;
use platform::engine::{BusinessKey, EngineClient, FetchTopic};
use platform::ids::OrderId;
use platform::order::OrderCommand;
use platform::orchestration::{ensure_deployed, fulfillment_idempotency_key, Starter, StarterConfig, Worker, WorkerConfig};
use platform::tenants::ACME;
use platform::testing::{advance_order, captured_order, engine_url, spawn_vendor, wait_until};
use platform::vendor::{VendorClient, VendorMode};
use sqlx::PgPool;
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(45);

fn engine() -> EngineClient {
    EngineClient::new(engine_url())
}

/// A captured order of acme whose process the starter started.
async fn started_order(pool: &PgPool, number: &str) -> OrderId {
    ensure_deployed(&engine()).await.unwrap();
    let order = captured_order(pool, ACME, number).await.order_id;
    let starter = Starter::new(pool.clone(), engine(), StarterConfig::new(StarterConfig::generate_instance_id())).unwrap();
    assert_eq!(starter.start_due().await.unwrap().started, 1);
    order
}

/// The engine worker for one order: one attempt per task before the incident, short locks and backoff.
fn worker(pool: &PgPool, vendor: &VendorClient, order: OrderId) -> Worker {
    let mut config = WorkerConfig::new(format!("test-retry-{}", uuid::Uuid::now_v7()));
    config.max_retries = 1;
    config.lock_duration = Duration::from_secs(5);
    config.retry_timeout = Duration::from_millis(200);
    config.poll_interval = Duration::from_millis(100);
    config.heartbeat_interval = Duration::from_millis(200);
    config.business_keys = vec![BusinessKey::for_order(ACME, order)];
    Worker::new(pool.clone(), engine(), vendor.clone(), config)
}

async fn instances(order: OrderId) -> Vec<String> {
    engine().instances_by_business_key(&BusinessKey::for_order(ACME, order)).await.unwrap().into_iter().map(|i| i.id).collect()
}

async fn has_incident(order: OrderId) -> bool {
    for id in instances(order).await {
        if !engine().incidents(&id).await.unwrap().is_empty() {
            return true;
        }
    }
    false
}

async fn cleanup(order: OrderId) {
    for id in instances(order).await {
        let _ = engine().delete_instance(&id, "test cleanup").await;
    }
}

async fn order_status(pool: &PgPool, order: OrderId) -> (String, i64) {
    sqlx::query_as("select status, version from oms.sales_order where order_id = $1").bind(order).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_transient_failure_is_retried_once_its_cause_is_gone_and_the_order_is_seen_moving(pool: PgPool) {
    let (vendor_state, vendor) = spawn_vendor(Duration::from_secs(2)).await;
    vendor.set_mode(VendorMode::Unavailable).await.unwrap();
    let order = started_order(&pool, "RT-1").await;
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(worker(&pool, &vendor, order).run(stopped));
    wait_until("the vendor outage raises an incident", WAIT, || has_incident(order)).await;
    let (status, version) = order_status(&pool, order).await;
    assert_eq!(status, "IN_PROGRESS");

    let oscar = demo_user("oscar.operator");
    let incident = incident(&pool).await;
    let repair = request_repair(&pool, &services(), &oscar, &request("retry-engine-job", order, incident, "retry-RT-1", &[]))
        .await
        .unwrap()
        .repair;
    assert_eq!(repair.risk, Risk::Low, "{:?}", repair.risk_reasons);
    assert_eq!(repair.entity_version, Some(version));
    assert_eq!(repair.proposed_change["activity"], "request-fulfillment");
    assert_eq!(repair.proposed_change["failure"]["class"], "TRANSIENT");
    let checks = &repair.safety_checks;
    assert!(answer(checks, "Is the failure transient").detail.contains("the vendor answered 503"), "{checks:?}");
    assert!(answer(checks, "May the failed step's side effect").detail.contains("a 503 created nothing"));
    assert_eq!(answer(checks, "Is an engine worker alive").verdict, Verdict::Pass);
    assert!(has_incident(order).await, "a dry-run changes nothing");

    // The cause is gone; the retry runs and the re-check waits for the worker to move the order.
    vendor.set_mode(VendorMode::Ok).await.unwrap();
    let done = execute_repair(&pool, &services(), &oscar, repair.repair_id, Some(&repair.proposed_change_hash)).await.unwrap().repair;
    assert_eq!(done.status, RepairStatus::Executed, "{:?}", done.failure_reason);
    assert_eq!(done.after_state.as_ref().unwrap()["order_version"], version + 1, "the retry's own transition");
    let recheck = done.recheck.expect("re-checked");
    assert!(recheck.coherent, "{recheck:?}");
    wait_until("the order is fulfilled", WAIT, || async { order_status(&pool, order).await.0 == "FULFILLED" }).await;
    assert!(instances(order).await.is_empty(), "the process completed");
    let key = fulfillment_idempotency_key(order, 1);
    assert_eq!(vendor_state.record(&key).map(|r| (r.calls, r.created)), Some((2, 1)), "sent again once, fulfilled once");
    let (command, repair_id): (String, Option<uuid::Uuid>) = sqlx::query_as(
        "select command, repair_id from oms.order_transition where order_id = $1 and command = 'RESUME_ORCHESTRATION'",
    )
    .bind(order)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((command.as_str(), repair_id), ("RESUME_ORCHESTRATION", Some(repair.repair_id.as_uuid())));

    // Once is enough: executing again answers the first outcome; a new request finds nothing to retry.
    assert!(execute_repair(&pool, &services(), &oscar, repair.repair_id, None).await.unwrap().replayed);
    let missing = refused(&pool, &services(), &oscar, &request("retry-engine-job", order, incident, "retry-RT-1b", &[])).await;
    assert!(missing.iter().any(|m| m.contains("no process instance")), "{missing:?}");
    stop.send(true).unwrap();
    running.await.unwrap();
}

/// An incident raised before issue 13's fix: the vendor rejected the line (422) and the worker of the
/// time burnt its retries on it. The evidence says business failure, and the retry is refused.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_business_failure_is_never_retried_blindly(pool: PgPool) {
    let (_, vendor) = spawn_vendor(Duration::from_secs(2)).await;
    let order = started_order(&pool, "RT-2").await;
    let w = worker(&pool, &vendor, order);
    wait_until("the order is reserved", WAIT, || async {
        w.poll_once().await.unwrap();
        order_status(&pool, order).await.0 == "IN_PROGRESS"
    })
    .await;
    // The old worker's attempt, step by step: the request recorded, the vendor's 422, the failure reported.
    vendor.set_mode(VendorMode::Reject { status: None }).await.unwrap();
    let key = BusinessKey::for_order(ACME, order);
    let topic = FetchTopic {
        topic_name: "order-request-fulfillment".into(),
        lock_duration: 10_000,
        business_key: Some(key.as_str().into()),
        process_variables: None,
    };
    let task = engine().fetch_and_lock("legacy-worker", 1, &[topic]).await.unwrap().remove(0);
    let idempotency_key = fulfillment_idempotency_key(order, 1);
    let rejection = vendor.request_fulfillment(&idempotency_key, &serde_json::json!({ "line_no": 1 })).await.unwrap_err();
    sqlx::query(
        "insert into oms.fulfillment_request
           (fulfillment_request_id, tenant_id, order_id, order_line_id, idempotency_key, vendor, status, request_payload,
            response_code, response_body, attempts)
         select $1, tenant_id, order_id, order_line_id, $2, 'reference-vendor', 'FAILED', '{}', 422, $3, 3
         from oms.sales_order_line where order_id = $4 and line_no = 1",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(&idempotency_key)
    .bind(rejection.to_string())
    .bind(order)
    .execute(&pool)
    .await
    .unwrap();
    engine().handle_failure(&task.id, "legacy-worker", &rejection.to_string(), "", 0, Duration::ZERO).await.unwrap();
    assert!(has_incident(order).await);

    let incident = incident(&pool).await;
    let missing = refused(&pool, &services(), &demo_user("oscar.operator"), &request("retry-engine-job", order, incident, "retry-RT-2", &[])).await;
    assert!(
        missing.iter().any(|m| m.contains("the vendor rejected the request (422)") && m.contains("a blind retry of a business failure is refused")),
        "{missing:?}"
    );
    assert!(has_incident(order).await, "nothing was retried");
    assert_eq!(sqlx::query_scalar::<_, i64>("select count(*) from ops.repair_command_log").fetch_one(&pool).await.unwrap(), 0);
    cleanup(order).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn nothing_to_retry_or_an_order_no_longer_orchestrated_is_refused_with_why(pool: PgPool) {
    let (_, vendor) = spawn_vendor(Duration::from_secs(2)).await;
    let oscar = demo_user("oscar.operator");

    // A process running without a failed task.
    let running = started_order(&pool, "RT-3").await;
    let incident = incident(&pool).await;
    let missing = refused(&pool, &services(), &oscar, &request("retry-engine-job", running, incident, "retry-RT-3", &[])).await;
    assert!(missing.iter().any(|m| m.contains("runs without a failed task")), "{missing:?}");
    cleanup(running).await;

    // A failed task of an order someone failed meanwhile: resume-orchestration is its repair.
    vendor.set_mode(VendorMode::Unavailable).await.unwrap();
    let failed = started_order(&pool, "RT-4").await;
    let w = worker(&pool, &vendor, failed);
    wait_until("the outage raises an incident", WAIT, || async {
        w.poll_once().await.unwrap();
        has_incident(failed).await
    })
    .await;
    advance_order(&pool, ACME, failed, &[OrderCommand::Fail]).await;
    let missing = refused(&pool, &services(), &oscar, &request("retry-engine-job", failed, incident, "retry-RT-4", &[])).await;
    assert!(missing.iter().any(|m| m.contains("the order is FAILED") && m.contains("resume-orchestration")), "{missing:?}");
    cleanup(failed).await;
}

/// A bad deployment (§16): the release serving acme breaks the reserve step, so the worker fails it until
/// the engine raises an incident naming the release. Retrying while that release serves is refused; the
/// operator rolls back (a release change with a reason), and the retry — HIGH risk, its cause found by a
/// person — moves the order on.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_step_a_bad_release_broke_is_retried_only_after_the_release_is_rolled_back(pool: PgPool) {
    use ops::release::{change_release, ReleaseForChange, ReleaseForm};
    let (_, vendor) = spawn_vendor(Duration::from_secs(2)).await;
    let order = started_order(&pool, "RT-9").await;
    // The bad release ships before the worker takes the order's first step.
    let mut tx = pool.begin().await.unwrap();
    platform::release::deploy(
        &mut tx,
        platform::release::NewRelease {
            tenant: ACME,
            version: "9.9.9-bad",
            kind: "DEPLOY",
            defect: Some(("order-reserve", "NullPointerException in ReserveHandler")),
            reason: "a test release with a defect",
            actor: "test",
            incident_id: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (stop, stopped) = watch::channel(false);
    let running = tokio::spawn(worker(&pool, &vendor, order).run(stopped));
    wait_until("the bad release raises an incident", WAIT, || has_incident(order)).await;
    assert_eq!(order_status(&pool, order).await.0, "ORCHESTRATING", "the reserve step never ran");

    let oscar = demo_user("oscar.operator");
    let incident = incident(&pool).await;
    let blocked = refused(&pool, &services(), &oscar, &request("retry-engine-job", order, incident, "retry-RT-9", &[])).await;
    assert!(blocked.iter().any(|m| m.contains("release 9.9.9-bad still serves the tenant")), "{blocked:?}");

    // The way out: roll back, with a reason, on the incident.
    let form = ReleaseForm {
        tenant: ACME.to_string(),
        choice: "rollback".into(),
        reason: "9.9.9-bad fails every reservation".into(),
        incident_id: incident.to_string(),
        ..Default::default()
    };
    let input = ReleaseForChange::parse(&form).unwrap();
    let viewer = demo_user("vera.viewer");
    assert!(change_release(&pool, &viewer, &input).await.is_err(), "a viewer changes no release");
    let now = change_release(&pool, &oscar, &input).await.unwrap();
    assert_eq!((now.kind.as_str(), now.version.as_str(), now.is_defective()), ("ROLLBACK", platform::release::BASELINE, false));
    let again = change_release(&pool, &oscar, &input).await.unwrap_err();
    assert!(again.to_string().contains("already a rollback"), "{again}");

    let repair = request_repair(&pool, &services(), &oscar, &request("retry-engine-job", order, incident, "retry-RT-9b", &[]))
        .await
        .unwrap()
        .repair;
    assert_eq!(answer(&repair.safety_checks, "Does the release serving the tenant").verdict, Verdict::Pass);
    assert_eq!(repair.risk, Risk::High, "the failure is not known to be transient: {:?}", repair.risk_reasons);
    decide_repair(&pool, &services(), &demo_user("ada.approver"), repair.repair_id, &common::repairs::approve(&repair.proposed_change_hash))
        .await
        .unwrap();
    let done = execute_repair(&pool, &services(), &oscar, repair.repair_id, None).await.unwrap().repair;
    assert_eq!(done.status, RepairStatus::Executed, "{:?}", done.failure_reason);
    wait_until("the order is reserved", WAIT, || async { order_status(&pool, order).await.0 != "ORCHESTRATING" }).await;
    stop.send(true).unwrap();
    running.await.unwrap();
    cleanup(order).await;
}
