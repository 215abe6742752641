//! One engine shared by two databases, as in production: workers without any business-key filter. Each
//! database's worker fetches — so locks, fails or completes — only the tasks of instances naming its
//! own database, and adopts the instances started before instances named one, when their order is its.

mod fixtures;

use std::time::Duration;

use fixtures::{captured_order, engine, order_status, peer_database, started, WAIT};
use platform::command::apply_order_command;
use platform::engine::{BusinessKey, ORDER_ORCHESTRATION_KEY};
use platform::ids::OrderId;
use platform::order::OrderCommand;
use platform::orchestration::ownership::{adopt_unmarked, DATABASE_VARIABLE};
use platform::orchestration::{ensure_deployed, PollOutcome, Worker, WorkerConfig};
use platform::tenants::ACME;
use platform::testing::ctx;
use platform::vendor::VendorClient;
use sqlx::PgPool;
use tokio::time::{sleep, Instant};

/// A worker as production runs it: every order's tasks, no business-key filter.
fn worker(pool: &PgPool, vendor: &VendorClient) -> Worker {
    let mut config = WorkerConfig::new(format!("test-shared-{}", uuid::Uuid::now_v7()));
    config.lock_duration = Duration::from_secs(5);
    config.retry_timeout = Duration::from_secs(1);
    Worker::new(pool.clone(), engine(), vendor.clone(), config)
}

/// Polls with `worker` until `order` (in `pool`) is FULFILLED; returns what the polls did, added up.
async fn run_until_fulfilled(worker: &Worker, pool: &PgPool, order: OrderId) -> PollOutcome {
    let (mut seen, deadline) = (PollOutcome::default(), Instant::now() + WAIT);
    while order_status(pool, order).await != "FULFILLED" {
        assert!(Instant::now() < deadline, "order never fulfilled (is {})", order_status(pool, order).await);
        let polled = worker.poll_once().await.unwrap();
        seen.fetched += polled.fetched;
        seen.completed += polled.completed;
        seen.failed += polled.failed;
        seen.business_errors += polled.business_errors;
        if polled.fetched == 0 {
            sleep(Duration::from_millis(100)).await;
        }
    }
    seen
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn workers_of_two_databases_sharing_the_engine_each_complete_only_their_own_orders(pool: PgPool) {
    let peer = peer_database(&pool).await;
    let (_, vendor) = platform::testing::spawn_vendor(Duration::from_secs(1)).await;
    let ours = captured_order(&pool, "Q-7201").await;
    let theirs = captured_order(&peer.pool, "Q-7201").await;
    started(&pool, ours).await;
    let their_instance = started(&peer.pool, theirs).await;

    let seen = run_until_fulfilled(&worker(&pool, &vendor), &pool, ours).await;
    assert_eq!((seen.fetched, seen.completed, seen.failed), (3, 3, 0), "our three tasks, nothing else: {seen:?}");
    assert_eq!(order_status(&peer.pool, theirs).await, "ORCHESTRATING", "their order untouched");
    let waiting = engine().external_tasks(&their_instance).await.unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!((waiting[0].activity_id.as_deref(), waiting[0].retries, waiting[0].worker_id.as_deref()), (Some("reserve"), None, None));

    let seen = run_until_fulfilled(&worker(&peer.pool, &vendor), &peer.pool, theirs).await;
    assert_eq!((seen.fetched, seen.completed, seen.failed), (3, 3, 0), "{seen:?}");
    assert_eq!(order_status(&pool, ours).await, "FULFILLED");
    peer.drop_database().await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_instance_naming_no_database_is_adopted_by_the_database_holding_its_order(pool: PgPool) {
    let peer = peer_database(&pool).await;
    let (_, vendor) = platform::testing::spawn_vendor(Duration::from_secs(1)).await;
    ensure_deployed(&engine()).await.unwrap();
    // Two instances started the way they were before instances named their database.
    let mut instances = Vec::new();
    for (db, number) in [(&pool, "Q-7202"), (&peer.pool, "Q-7203")] {
        let order = captured_order(db, number).await;
        let key = BusinessKey::for_order(ACME, order);
        let variables = [("tenantId", ACME.to_string()), ("orderId", order.to_string())];
        instances.push((order, engine().start(ORDER_ORCHESTRATION_KEY, &key, &variables).await.unwrap().id));
        let mut tx = db.begin().await.unwrap();
        apply_order_command(&mut tx, ACME, order, Some(1), OrderCommand::StartOrchestration, &ctx()).await.unwrap();
        tx.commit().await.unwrap();
    }
    let [(ours, our_instance), (_, their_instance)]: [(OrderId, String); 2] = instances.try_into().unwrap();
    let worker = worker(&pool, &vendor);
    assert_eq!(worker.poll_once().await.unwrap().fetched, 0, "an instance naming no database is nobody's");

    assert_eq!(adopt_unmarked(&pool, &engine()).await.unwrap(), 1, "ours, not theirs");
    assert_eq!(adopt_unmarked(&pool, &engine()).await.unwrap(), 0, "adopted once");
    let named = engine().instances_with_variable(DATABASE_VARIABLE, &[our_instance.as_str(), their_instance.as_str()]).await.unwrap();
    assert_eq!(named.into_iter().collect::<Vec<_>>(), [our_instance]);
    let seen = run_until_fulfilled(&worker, &pool, ours).await;
    assert_eq!((seen.completed, seen.failed), (3, 0), "{seen:?}");

    fixtures::delete_instance(&their_instance).await;
    peer.drop_database().await;
}
