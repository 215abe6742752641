//! Order orchestration against the real services: Operaton (`OPSDECK_ENGINE_URL`, default
//! http://127.0.0.1:58080/engine-rest), a fresh PostgreSQL database per test, and the fulfillment vendor
//! on port 0. Each test's worker fetches only its own order's tasks (business-key filter) under its own
//! worker id, so tests running side by side never take each other's work.

mod fixtures;

use std::time::Duration;

use fixtures::{captured_order, engine, order_status, started, WAIT};
use platform::engine::BusinessKey;
use platform::ids::OrderId;
use platform::orchestration::{fulfillment_idempotency_key, Worker, WorkerConfig, WORKER_KIND};
use platform::tenants::ACME;
use platform::vendor::{VendorClient, VendorMode, VendorState};
use sqlx::PgPool;
use tokio::time::{sleep, Instant};

/// A vendor on an ephemeral port, its in-process state, and a client with a short timeout.
async fn spawn_vendor() -> (VendorState, VendorClient) {
    platform::testing::spawn_vendor(Duration::from_millis(1_000)).await
}

fn worker(pool: &PgPool, vendor: &VendorClient, order: OrderId) -> Worker {
    let mut config = WorkerConfig::new(format!("test-{}", uuid::Uuid::now_v7()));
    config.lock_duration = Duration::from_secs(5);
    config.retry_timeout = Duration::from_secs(1);
    config.poll_interval = Duration::from_millis(100);
    config.recheck_interval = Duration::from_millis(300);
    config.heartbeat_interval = Duration::from_millis(200);
    config.max_retries = 3;
    config.business_keys = vec![BusinessKey::for_order(ACME, order)];
    Worker::new(pool.clone(), engine(), vendor.clone(), config)
}

/// A vendor told to behave as `mode`, the order of quote `number` captured and started, and a worker for
/// it: the vendor's state and client, the order, its process instance and the worker.
async fn started_with_vendor(pool: &PgPool, mode: VendorMode, number: &str) -> (VendorState, VendorClient, OrderId, String, Worker) {
    let (vendor_state, vendor) = spawn_vendor().await;
    vendor.set_mode(mode).await.unwrap();
    let order = captured_order(pool, number).await;
    let instance = started(pool, order).await;
    let worker = worker(pool, &vendor, order);
    (vendor_state, vendor, order, instance, worker)
}

/// Polls with `worker` until the order reaches `status`.
async fn poll_until_status(worker: &Worker, pool: &PgPool, order: OrderId, status: &str) {
    let deadline = Instant::now() + WAIT;
    while order_status(pool, order).await != status {
        assert!(Instant::now() < deadline, "order never reached {status} (is {})", order_status(pool, order).await);
        if worker.poll_once().await.unwrap().fetched == 0 {
            sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test]
async fn the_vendor_answers_a_repeated_key_with_the_first_result_and_obeys_its_control() {
    let (state, vendor) = spawn_vendor().await;
    let payload = serde_json::json!({ "sku": "ROCKET-1" });
    let first = vendor.request_fulfillment("k-1", &payload).await.unwrap();
    let again = vendor.request_fulfillment("k-1", &payload).await.unwrap();
    assert_eq!((first.status, again.status), (202, 200));
    assert_eq!(first.vendor_reference, again.vendor_reference);
    assert!(again.replayed);

    vendor.set_mode(VendorMode::Unavailable).await.unwrap();
    let down = vendor.request_fulfillment("k-2", &payload).await.unwrap_err();
    assert_eq!(down.status(), Some(503));
    vendor.set_mode(VendorMode::Timeout { delay_ms: Some(3_000) }).await.unwrap();
    let hung = vendor.request_fulfillment("k-3", &payload).await.unwrap_err();
    assert!(matches!(hung, platform::vendor::VendorError::Timeout(_)), "{hung:?}");
    vendor.set_mode(VendorMode::Slow { delay_ms: 200 }).await.unwrap();
    assert_eq!(vendor.request_fulfillment("k-4", &payload).await.unwrap().status, 202);

    let k2 = vendor.record("k-2").await.unwrap().unwrap();
    assert_eq!((k2.calls, k2.created), (1, 0));
    assert_eq!(state.record("k-1").map(|r| (r.calls, r.created)), Some((2, 1)));
    assert!(vendor.record("never-sent").await.unwrap().is_none());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_order_runs_from_capture_to_fulfilled(pool: PgPool) {
    let (vendor_state, vendor) = spawn_vendor().await;
    let order = captured_order(&pool, "Q-7001").await;
    let instance = started(&pool, order).await;
    assert_eq!(order_status(&pool, order).await, "ORCHESTRATING");

    // The long-running loop, stopped gracefully once the order is done.
    let worker = worker(&pool, &vendor, order);
    let worker_id = worker.config().worker_id.clone();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running = tokio::spawn(worker.run(stopped));
    let deadline = Instant::now() + WAIT;
    while order_status(&pool, order).await != "FULFILLED" {
        assert!(Instant::now() < deadline, "order never fulfilled (is {})", order_status(&pool, order).await);
        sleep(Duration::from_millis(100)).await;
    }
    // The engine hears "complete" right after the commit that fulfilled the order.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let history = engine().historic_instance(&instance).await.unwrap();
        if history.state == "COMPLETED" {
            break;
        }
        assert!(Instant::now() < deadline, "instance still {}", history.state);
        sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), running).await.expect("worker stops when told").unwrap();
    assert!(engine().instances_by_business_key(&BusinessKey::for_order(ACME, order)).await.unwrap().is_empty());

    let lines: Vec<String> = sqlx::query_scalar("select status from oms.sales_order_line where order_id = $1")
        .bind(order)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(lines, vec!["FULFILLED", "FULFILLED"]);
    let commands: Vec<String> = sqlx::query_scalar(
        "select command from oms.order_transition where order_id = $1 order by occurred_at, transition_id",
    )
    .bind(order)
    .fetch_all(&pool)
    .await
    .unwrap();
    for (command, times) in [
        ("START_ORCHESTRATION", 1),
        ("RESERVE", 2),
        ("BEGIN_FULFILLMENT", 1),
        ("REQUEST_FULFILLMENT", 2),
        ("CONFIRM_FULFILLMENT", 2),
        ("COMPLETE_FULFILLMENT", 1),
    ] {
        assert_eq!(commands.iter().filter(|c| *c == command).count(), times, "{command} in {commands:?}");
    }
    let requests: Vec<(String, String, i32)> = sqlx::query_as(
        "select idempotency_key, status, attempts from oms.fulfillment_request where order_id = $1 order by idempotency_key",
    )
    .bind(order)
    .fetch_all(&pool)
    .await
    .unwrap();
    let keys = [fulfillment_idempotency_key(order, 1), fulfillment_idempotency_key(order, 2)];
    assert_eq!(
        requests,
        vec![(keys[0].clone(), "COMPLETED".to_string(), 1), (keys[1].clone(), "COMPLETED".to_string(), 1)]
    );
    for key in &keys {
        assert_eq!(vendor_state.record(key).map(|r| (r.calls, r.created)), Some((1, 1)), "{key}");
    }
    let (kind, state): (String, String) =
        sqlx::query_as("select worker_kind, detail->>'state' from platform.worker_heartbeat where instance_id = $1")
            .bind(&worker_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((kind.as_str(), state.as_str()), (WORKER_KIND, "stopped"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_vendor_outage_ends_in_an_engine_incident_after_the_retries(pool: PgPool) {
    let (vendor_state, vendor, order, instance, worker) = started_with_vendor(&pool, VendorMode::Unavailable, "Q-7002").await;

    // Three attempts (retries 3 → 2 → 1 → 0), a second apart, then the engine raises an incident.
    let deadline = Instant::now() + WAIT;
    let incident = loop {
        if let Some(incident) = engine().incidents(&instance).await.unwrap().into_iter().next() {
            break incident;
        }
        assert!(Instant::now() < deadline, "no incident raised");
        if worker.poll_once().await.unwrap().fetched == 0 {
            sleep(Duration::from_millis(100)).await;
        }
    };
    assert_eq!(incident.incident_type, "failedExternalTask");
    assert_eq!(incident.activity_id.as_deref(), Some("request-fulfillment"));
    assert!(incident.incident_message.unwrap_or_default().contains("503"));

    // The business truth: the order is in progress, the request recorded with what the vendor said.
    assert_eq!(order_status(&pool, order).await, "IN_PROGRESS");
    let key = fulfillment_idempotency_key(order, 1);
    let (status, code, attempts): (String, Option<i32>, i32) = sqlx::query_as(
        "select status, response_code, attempts from oms.fulfillment_request where idempotency_key = $1",
    )
    .bind(&key)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), code, attempts), ("FAILED", Some(503), 3));
    assert_eq!(vendor_state.record(&key).map(|r| (r.calls, r.created)), Some((3, 0)));

    // Recovery as the runbook has it: fix the vendor, then retry the job.
    vendor.set_mode(VendorMode::Ok).await.unwrap();
    let task = engine()
        .external_tasks(&instance)
        .await
        .unwrap()
        .into_iter()
        .find(|t| t.activity_id.as_deref() == Some("request-fulfillment"))
        .expect("the failed task waits");
    assert_eq!(task.retries, Some(0));
    engine().set_external_task_retries(&task.id, 1).await.unwrap();
    assert!(engine().incidents(&instance).await.unwrap().is_empty(), "setting retries resolves the incident");
    poll_until_status(&worker, &pool, order, "FULFILLED").await;

    let record = vendor.record(&key).await.unwrap().unwrap();
    assert_eq!((record.calls, record.created), (4, 1), "the vendor saw the key again but fulfilled once");
    let statuses: Vec<String> =
        sqlx::query_scalar("select status from oms.fulfillment_request where order_id = $1 order by idempotency_key")
            .bind(order)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(statuses, vec!["COMPLETED", "COMPLETED"]);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_vendor_that_acted_but_timed_out_is_asked_again_with_the_same_key_and_fulfils_once(pool: PgPool) {
    let (vendor_state, vendor) = spawn_vendor().await;
    vendor.set_mode(VendorMode::Timeout { delay_ms: Some(5_000) }).await.unwrap();
    let order = captured_order(&pool, "Q-7003").await;
    started(&pool, order).await;
    let worker = worker(&pool, &vendor, order);
    let key = fulfillment_idempotency_key(order, 1);

    let deadline = Instant::now() + WAIT;
    while vendor_state.record(&key).is_none() {
        assert!(Instant::now() < deadline, "the vendor was never called");
        worker.poll_once().await.unwrap();
    }
    let status: String = sqlx::query_scalar("select status from oms.fulfillment_request where idempotency_key = $1")
        .bind(&key)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "FAILED", "a timeout is a failed attempt");
    vendor.set_mode(VendorMode::Ok).await.unwrap();
    poll_until_status(&worker, &pool, order, "FULFILLED").await;
    assert_eq!(vendor_state.record(&key).map(|r| (r.calls, r.created)), Some((2, 1)));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_request_the_vendor_already_acknowledged_is_not_sent_again(pool: PgPool) {
    let (vendor_state, vendor) = spawn_vendor().await;
    let order = captured_order(&pool, "Q-7007").await;
    started(&pool, order).await;
    // An earlier attempt got the vendor's acknowledgement, then died before moving the line.
    let key = fulfillment_idempotency_key(order, 1);
    sqlx::query(
        "insert into oms.fulfillment_request
           (fulfillment_request_id, tenant_id, order_id, order_line_id, idempotency_key, vendor, status,
            request_payload, response_code, attempts, sent_at)
         select $1, tenant_id, order_id, order_line_id, $2, 'reference-vendor', 'ACKNOWLEDGED', '{}', 202, 1, now()
         from oms.sales_order_line where order_id = $3 and line_no = 1",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(&key)
    .bind(order)
    .execute(&pool)
    .await
    .unwrap();

    poll_until_status(&worker(&pool, &vendor, order), &pool, order, "FULFILLED").await;
    assert!(vendor_state.record(&key).is_none(), "no second call for an acknowledged request");
    assert_eq!(vendor_state.record(&fulfillment_idempotency_key(order, 2)).map(|r| (r.calls, r.created)), Some((1, 1)));
}

/// Issue 13: a vendor's business rejection (422) is not an outage. The line and the order fail through
/// their machines with the vendor's answer as the reason, the worker reports a BPMN error, and the
/// process ends without an incident — the vendor is asked once, not once per retry.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_vendor_business_rejection_fails_the_line_and_the_order_without_burning_retries(pool: PgPool) {
    let (vendor_state, _, order, instance, worker) =
        started_with_vendor(&pool, VendorMode::Reject { status: None }, "Q-7008").await;

    let deadline = Instant::now() + WAIT;
    while order_status(&pool, order).await != "FAILED" {
        assert!(Instant::now() < deadline, "order never failed (is {})", order_status(&pool, order).await);
        if worker.poll_once().await.unwrap().fetched == 0 {
            sleep(Duration::from_millis(100)).await;
        }
    }
    // The engine heard the BPMN error: the instance ended, no incident, nothing left to retry.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if engine().historic_instance(&instance).await.unwrap().state == "COMPLETED" {
            break;
        }
        assert!(Instant::now() < deadline, "the instance did not end on the BPMN error");
        sleep(Duration::from_millis(100)).await;
    }
    assert!(engine().incidents(&instance).await.unwrap().is_empty(), "a business rejection raises no incident");
    assert!(engine().instances_by_business_key(&BusinessKey::for_order(ACME, order)).await.unwrap().is_empty());

    let key = fulfillment_idempotency_key(order, 1);
    assert_eq!(vendor_state.record(&key).map(|r| (r.calls, r.created)), Some((1, 0)), "asked once, nothing created");
    let (status, code, body, attempts): (String, Option<i32>, Option<String>, i32) = sqlx::query_as(
        "select status, response_code, response_body, attempts from oms.fulfillment_request where idempotency_key = $1",
    )
    .bind(&key)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), code, attempts), ("FAILED", Some(422), 1));
    assert!(body.unwrap().contains(platform::vendor::REJECTION_REASON));
    let lines: Vec<(i32, String)> = sqlx::query_as("select line_no, status from oms.sales_order_line where order_id = $1 order by line_no")
        .bind(order)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(lines, vec![(1, "FAILED".to_string()), (2, "RESERVED".to_string())], "line 2 was never sent");
    let (command, reason): (String, String) = sqlx::query_as(
        "select command, reason from oms.order_transition where order_id = $1 and order_line_id is null
         order by occurred_at desc, transition_id desc limit 1",
    )
    .bind(order)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(command, "FAIL");
    assert!(reason.contains("line 1 (ROCKET-1) rejected by the vendor: vendor answered 422"), "{reason}");
}

/// Issue 13: a vendor that ships part of an order now and backorders the rest. The order goes IN_PROGRESS
/// → PARTIALLY_FULFILLED while the engine waits at "activate" — no retry burnt, no incident — and on to
/// FULFILLED once the backorder ships; the vendor is asked to fulfil each line once.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_partial_fulfilment_goes_through_partially_fulfilled_and_completes_when_the_rest_ships(pool: PgPool) {
    let (vendor_state, vendor, order, instance, worker) = started_with_vendor(&pool, VendorMode::Partial, "Q-7009").await;

    poll_until_status(&worker, &pool, order, "PARTIALLY_FULFILLED").await;
    // Looking again while the backorder stands changes nothing and raises nothing.
    let (mut waited, until) = (0, Instant::now() + Duration::from_secs(2));
    while Instant::now() < until {
        waited += worker.poll_once().await.unwrap().waiting;
        sleep(Duration::from_millis(100)).await;
    }
    assert!(waited >= 1, "the waiting task was looked at again");
    assert_eq!(order_status(&pool, order).await, "PARTIALLY_FULFILLED");
    let lines: Vec<(i32, String)> = sqlx::query_as("select line_no, status from oms.sales_order_line where order_id = $1 order by line_no")
        .bind(order)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(lines, vec![(1, "FULFILLED".to_string()), (2, "FULFILLMENT_REQUESTED".to_string())]);
    assert!(engine().incidents(&instance).await.unwrap().is_empty(), "waiting for a backorder is no incident");
    let task = engine().external_tasks(&instance).await.unwrap().into_iter().next().expect("the activate task waits");
    assert_eq!((task.activity_id.as_deref(), task.retries, task.error_message), (Some("activate"), None, None));

    vendor.set_mode(VendorMode::Ok).await.unwrap(); // the vendor catches up: the backorder ships
    poll_until_status(&worker, &pool, order, "FULFILLED").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine().historic_instance(&instance).await.unwrap().state != "COMPLETED" {
        assert!(Instant::now() < deadline, "the instance did not complete");
        sleep(Duration::from_millis(100)).await;
    }
    let statuses: Vec<String> = sqlx::query_scalar(
        "select to_status from oms.order_transition where order_id = $1 and order_line_id is null order by order_version",
    )
    .bind(order)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(statuses, ["CAPTURED", "ORCHESTRATING", "IN_PROGRESS", "PARTIALLY_FULFILLED", "FULFILLED"]);
    for line_no in [1, 2] {
        let key = fulfillment_idempotency_key(order, line_no);
        assert_eq!(vendor_state.record(&key).map(|r| (r.calls, r.created, r.backordered)), Some((1, 1, false)), "{key}");
    }
    let requests: Vec<String> =
        sqlx::query_scalar("select status from oms.fulfillment_request where order_id = $1 order by idempotency_key")
            .bind(order)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(requests, ["COMPLETED", "COMPLETED"]);
}
