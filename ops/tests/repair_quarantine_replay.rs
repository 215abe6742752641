//! The quarantine-event and replay-projection repairs. Quarantine against PostgreSQL: only a given-up or
//! poison event, kept with why and never deleted; HIGH risk when it holds its aggregate's latest state.
//! Then both against the real path — outbox relay → Kafka → projection consumer, under a per-test topic
//! prefix and consumer group: an order's latest event given up, quarantined, and its state replayed until
//! the projection is in step; a replay refused when the projection is not behind or events still wait.

mod common;

use std::time::Duration;

use common::repairs::{answer, incident, refused, request, request_approve_execute, services_waiting};
use ops::repair::*;
use ops::testing::demo_user;
use platform::ids::OrderId;
use platform::order::OrderCommand;
use platform::outbox::{self, NewEvent};
use platform::projection::ProjectionConsumer;
use platform::relay::{Relay, RelayConfig};
use platform::tenants::ACME;
use platform::testing::{advance_order, captured_order, delete_topics, kafka_brokers, quick_projection_config, wait_until};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

async fn event_of(pool: &PgPool, order: OrderId, version: i64, event_type: &str) -> Uuid {
    sqlx::query_scalar(
        "select outbox_event_id from messaging.outbox_event where aggregate_id = $1 and aggregate_version = $2 and event_type = $3",
    )
    .bind(order.as_uuid())
    .bind(version)
    .bind(event_type)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// Leaves an event as the relay leaves it: `FAILED` after `attempts`, due again (`retry`) or given up.
async fn failed(pool: &PgPool, event: Uuid, attempts: i32, retry: bool) {
    sqlx::query(
        "update messaging.outbox_event set status = 'FAILED', attempts = $2, last_error = 'Broker: Message size too large',
           next_attempt_at = case when $3 then now() + interval '5 minutes' end
         where outbox_event_id = $1",
    )
    .bind(event)
    .bind(attempts)
    .bind(retry)
    .execute(pool)
    .await
    .unwrap();
}

async fn event_status(pool: &PgPool, event: Uuid) -> String {
    sqlx::query_scalar("select status from messaging.outbox_event where outbox_event_id = $1").bind(event).fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_poison_event_is_quarantined_with_why_and_stays_a_valid_one_is_not(pool: PgPool) {
    let order = captured_order(&pool, ACME, "Q-Q1").await.order_id;
    let incident = incident(&pool).await;
    let oscar = demo_user("oscar.operator");
    let services = services_waiting(Duration::from_secs(1));
    // A bad deployment wrote an event no consumer can read — a replay of the order's state (version 1),
    // the one kind of event that may announce a version again (ux_outbox_aggregate_version); the order
    // then moved on twice.
    let mut tx = pool.begin().await.unwrap();
    let poison = outbox::enqueue(
        &mut tx,
        NewEvent {
            tenant_id: ACME,
            aggregate_type: outbox::aggregate::ORDER,
            aggregate_id: order.as_uuid(),
            aggregate_version: 1,
            event_type: "OrderStateReplayed",
            payload: &serde_json::json!({ "order_id": order, "status": "IN_FULFILLMENT" }),
            correlation_id: None,
        },
    )
    .await
    .unwrap()
    .as_uuid();
    tx.commit().await.unwrap();
    advance_order(&pool, ACME, order, &[OrderCommand::StartOrchestration, OrderCommand::BeginFulfillment]).await;

    // Not poison, not given up: refused, whatever the relay is doing with it.
    let captured = event_of(&pool, order, 1, "OrderCaptured").await;
    let missing = refused(&pool, &services, &oscar, &request("quarantine-event", captured, incident, "quarantine-Q-Q1-pending", &[])).await;
    assert!(missing.iter().any(|m| m.contains("PENDING and readable")), "{missing:?}");
    let started: Uuid = sqlx::query_scalar(
        "select outbox_event_id from messaging.outbox_event where aggregate_id = $1 and aggregate_version = 2 and outbox_event_id <> $2",
    )
    .bind(order.as_uuid())
    .bind(poison)
    .fetch_one(&pool)
    .await
    .unwrap();
    failed(&pool, started, 1, true).await;
    let missing = refused(&pool, &services, &oscar, &request("quarantine-event", started, incident, "quarantine-Q-Q1-retrying", &[])).await;
    assert!(missing.iter().any(|m| m.contains("it is a valid event, not poison")), "{missing:?}");

    let repair = request_repair(&pool, &services, &oscar, &request("quarantine-event", poison, incident, "quarantine-Q-Q1", &[]))
        .await
        .unwrap()
        .repair;
    assert_eq!(repair.risk, Risk::Low, "a later event carries a newer state: {:?}", repair.risk_reasons);
    assert!(answer(&repair.safety_checks, "Is it an event the relay is stuck on").detail.starts_with("poison (OrderStateReplayed payload"));
    assert_eq!(repair.before_state["payload"]["status"], "IN_FULFILLMENT", "the payload is kept as evidence");
    assert_eq!(repair.proposed_change["releases_behind"], 2);
    let done = execute_repair(&pool, &services, &oscar, repair.repair_id, Some(&repair.proposed_change_hash)).await.unwrap().repair;
    assert_eq!(done.status, RepairStatus::Executed, "{:?}", done.failure_reason);
    assert!(done.recheck.as_ref().unwrap().coherent, "{:?}", done.recheck);
    assert_eq!(event_status(&pool, poison).await, "QUARANTINED");
    let (reason, unreadable, by): (String, Option<String>, String) = sqlx::query_as(
        "select reason, unreadable_because, quarantined_by from messaging.outbox_quarantine where outbox_event_id = $1",
    )
    .bind(poison)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(reason, repair.reason);
    let unreadable = unreadable.unwrap();
    assert!(unreadable.starts_with("OrderStateReplayed payload:"), "{unreadable}");
    assert!(by.contains("oscar") || by.contains("Oscar"), "{by}");

    // Never deleted, never moved back; quarantined once.
    for sql in [
        "delete from messaging.outbox_event where outbox_event_id = $1",
        "update messaging.outbox_event set status = 'PENDING' where outbox_event_id = $1",
    ] {
        let err = sqlx::query(sql).bind(poison).execute(&pool).await.unwrap_err();
        assert!(err.to_string().contains("is quarantined"), "{sql}: {err}");
    }
    let err = sqlx::query("update messaging.outbox_event set status = 'QUARANTINED' where outbox_event_id = $1")
        .bind(captured)
        .execute(&pool)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("without its reason"), "{err}");
    let missing = refused(&pool, &services, &oscar, &request("quarantine-event", poison, incident, "quarantine-Q-Q1-again", &[])).await;
    assert!(missing.iter().any(|m| m.contains("already quarantined by")), "{missing:?}");
}

/// One test's Kafka world: its topic prefix and consumer group, a relay and a consumer to start and stop.
struct World {
    prefix: String,
    group: String,
}

struct Running<T> {
    stop: watch::Sender<bool>,
    handle: JoinHandle<T>,
}

impl<T> Running<T> {
    async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.handle).await.expect("stops within 30 s").unwrap();
    }
}

impl World {
    fn new() -> Self {
        let id = Uuid::now_v7().simple();
        World { prefix: format!("test.repairs.{id}."), group: format!("order-projection-{id}") }
    }

    fn relay(&self, pool: &PgPool) -> Running<platform::relay::RelayCounts> {
        let config = RelayConfig {
            topic_prefix: self.prefix.clone(),
            poll_interval: Duration::from_millis(50),
            heartbeat_interval: Duration::from_millis(200),
            message_timeout: Duration::from_secs(10),
            linger: Duration::from_millis(1),
            ..RelayConfig::new(RelayConfig::generate_instance_id(), kafka_brokers())
        };
        let (stop, shutdown) = watch::channel(false);
        Running { stop, handle: tokio::spawn(Relay::new(pool.clone(), config).unwrap().run(shutdown)) }
    }

    fn consumer(&self, pool: &PgPool) -> Running<platform::projection::ProjectionCounts> {
        let config = quick_projection_config(&self.group, &self.prefix);
        let (stop, shutdown) = watch::channel(false);
        Running { stop, handle: tokio::spawn(ProjectionConsumer::new(pool.clone(), config).unwrap().run(shutdown)) }
    }

    async fn delete_topics(&self) {
        delete_topics(&[format!("{}order", self.prefix), format!("{}order.DLT", self.prefix), format!("{}quote", self.prefix)]).await;
    }
}

async fn projection(pool: &PgPool, order: OrderId) -> Option<(String, i64)> {
    sqlx::query_as("select status, aggregate_version from oms.order_projection where order_id = $1")
        .bind(order)
        .fetch_optional(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_orders_given_up_latest_event_is_quarantined_and_its_state_replayed_through_kafka(pool: PgPool) {
    let world = World::new();
    let order = captured_order(&pool, ACME, "Q-Q2").await.order_id;
    let consumer = world.consumer(&pool);
    let relay = world.relay(&pool);
    wait_until("the capture is projected", Duration::from_secs(60), || async { projection(&pool, order).await.is_some() }).await;
    relay.stop().await;

    // The order moves on; the relay gives its event up (Kafka refused it every time).
    advance_order(&pool, ACME, order, &[OrderCommand::StartOrchestration]).await;
    let started = event_of(&pool, order, 2, "OrderStatusChanged").await;
    failed(&pool, started, 5, false).await;
    let incident = incident(&pool).await;
    let services = services_waiting(Duration::from_secs(45));

    // The replay waits for it: refused while an event of the order is still in the outbox.
    let missing = refused(&pool, &services, &demo_user("oscar.operator"), &request("replay-projection", order, incident, "replay-Q-Q2-early", &[])).await;
    assert!(missing.iter().any(|m| m.contains("OrderStatusChanged v2 FAILED") && m.contains("quarantine a poison event first")), "{missing:?}");

    // Quarantining the order's latest state is HIGH: downstream never learns it unless it is replayed.
    let quarantined = request_approve_execute(&pool, &services, &request("quarantine-event", started, incident, "quarantine-Q-Q2", &[])).await;
    assert_eq!(quarantined.status, RepairStatus::Executed, "{:?}", quarantined.failure_reason);
    assert!(quarantined.risk_reasons[0].contains("holds the order's latest state (version 2)"), "{:?}", quarantined.risk_reasons);
    assert_eq!(event_status(&pool, started).await, "QUARANTINED");
    assert_eq!(projection(&pool, order).await, Some(("CAPTURED".into(), 1)), "the projection is behind");

    // The replay: through the outbox, the relay, Kafka and the consumer.
    let relay = world.relay(&pool);
    let oscar = demo_user("oscar.operator");
    wait_until("the relay beats", Duration::from_secs(10), || async {
        platform::testing::count(&pool, "select count(*) from platform.worker_heartbeat where worker_kind = 'outbox-relay' and detail->>'state' = 'running'").await > 0
    })
    .await;
    let replay = request_repair(&pool, &services, &oscar, &request("replay-projection", order, incident, "replay-Q-Q2", &[])).await.unwrap().repair;
    assert_eq!(replay.risk, Risk::Low);
    assert!(replay.safety_checks.iter().all(|c| c.verdict == Verdict::Pass), "{:?}", replay.safety_checks);
    assert!(answer(&replay.safety_checks, "Is the projection behind").detail.contains("1 behind"));
    let done = execute_repair(&pool, &services, &oscar, replay.repair_id, Some(&replay.proposed_change_hash)).await.unwrap().repair;
    assert_eq!(done.status, RepairStatus::Executed, "{:?}", done.failure_reason);
    assert!(done.recheck.as_ref().unwrap().coherent, "{:?}", done.recheck);
    assert_eq!(projection(&pool, order).await, Some(("ORCHESTRATING".into(), 2)));
    let (event_type, version): (String, i64) = sqlx::query_as(
        "select event_type, aggregate_version from messaging.outbox_event where outbox_event_id = $1",
    )
    .bind(Uuid::parse_str(done.after_state.as_ref().unwrap()["outbox_event_id"].as_str().unwrap()).unwrap())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((event_type.as_str(), version), ("OrderStateReplayed", 2), "the same version again, not a new one");

    // In step now: nothing to replay.
    let missing = refused(&pool, &services, &oscar, &request("replay-projection", order, incident, "replay-Q-Q2-again", &[])).await;
    assert!(missing.iter().any(|m| m.contains("it is in step at version 2")), "{missing:?}");

    relay.stop().await;
    consumer.stop().await;
    world.delete_topics().await;
}
