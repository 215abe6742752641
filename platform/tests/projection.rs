//! The order projection consumer against a real PostgreSQL (a fresh database per test) and the real
//! Kafka broker (`OPSDECK_KAFKA_BROKERS`, default 127.0.0.1:59092). Orders are made by the platform's
//! commands and published by the real outbox relay under a per-test topic prefix; each test consumes in
//! its own consumer group and deletes its topics afterwards.

mod projection_world;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use platform::command::apply_order_line_command;
use platform::ids::OrderLineId;
use platform::order::OrderLineCommand;
use platform::control::Control;
use platform::projection::{dlt_header, DeadLetters};
use platform::relay::header;
use platform::tenants::ACME;
use platform::testing::{
    advance_order, captured_order, ctx, kafka_brokers, kafka_reader_with, order_journeys, switch, wait_until, Isolation, FULFILMENT,
};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;
use projection_world::{
    inbox_ids, order_event_ids, wait_all_published, RunningConsumer, RunningRelay, World, EVENTS_PER_JOURNEY,
};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
struct ProjectionRow {
    order_id: Uuid,
    tenant_id: Uuid,
    order_number: String,
    status: String,
    aggregate_version: i64,
    total_minor: i64,
    currency: String,
    last_event_id: Option<Uuid>,
    projected_at: chrono::DateTime<chrono::Utc>,
}

async fn projection(pool: &PgPool) -> Vec<ProjectionRow> {
    sqlx::query_as(
        "select order_id, tenant_id, order_number, status, aggregate_version, total_minor, currency::text as currency,
                last_event_id, projected_at
         from oms.order_projection order by order_id",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// (order, tenant, number, status, version, total, currency, last event id)
type OrderState = (Uuid, Uuid, String, String, i64, i64, String, Uuid);

/// Every order has a projection row with the order's status, version, number, total and currency, and
/// the row names the outbox event of that version.
async fn assert_projection_matches_orders(pool: &PgPool) {
    let orders: Vec<OrderState> = sqlx::query_as(
        "select o.order_id, o.tenant_id, o.order_number, o.status, o.version, o.total_minor, o.currency::text,
                e.outbox_event_id
         from oms.sales_order o
         join messaging.outbox_event e on e.aggregate_id = o.order_id and e.aggregate_version = o.version
         order by o.order_id",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(!orders.is_empty());
    let rows = projection(pool).await;
    let got: Vec<OrderState> = rows
        .iter()
        .map(|r| {
            (r.order_id, r.tenant_id, r.order_number.clone(), r.status.clone(), r.aggregate_version, r.total_minor, r.currency.clone(), r.last_event_id.unwrap())
        })
        .collect();
    assert_eq!(got, orders, "projection = orders (status, version, last event)");
}

/// Reads the committed records of `topic` from the beginning, outside any consumer group, and expects
/// exactly `expected` of them.
async fn read_topic(topic: String, expected: usize) -> Vec<OwnedMessage> {
    read_topic_as(topic, expected, Isolation::ReadCommitted).await
}

/// Reads `topic` from the beginning as `isolation` says, until `expected` records came and then two
/// quiet seconds passed (so that a record too many shows), and expects exactly `expected`.
async fn read_topic_as(topic: String, expected: usize, isolation: Isolation) -> Vec<OwnedMessage> {
    tokio::task::spawn_blocking(move || {
        let consumer = kafka_reader_with(std::slice::from_ref(&topic), isolation);
        // Long enough for a committed reader held back by an open transaction that Kafka aborts when
        // it times out (10 s in the tests) at its next check (every 10 s).
        let deadline = Instant::now() + Duration::from_secs(45);
        let mut quiet_until = None;
        let mut out = Vec::new();
        while Instant::now() < deadline && quiet_until.is_none_or(|until| Instant::now() < until) {
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                out.push(message.unwrap().detach());
                if out.len() >= expected {
                    quiet_until = Some(Instant::now() + Duration::from_secs(2));
                }
            }
        }
        assert_eq!(out.len(), expected, "{isolation:?} records on {topic}");
        out
    })
    .await
    .unwrap()
}

fn header_of(message: &OwnedMessage, name: &str) -> Option<String> {
    message
        .headers()?
        .iter()
        .find(|h| h.key == name)
        .map(|h| String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned())
}

fn producer() -> FutureProducer {
    ClientConfig::new().set("bootstrap.servers", kafka_brokers()).set("acks", "all").create().unwrap()
}

/// Produces a copy of `original` (same key, payload and headers) to its topic, with `event_id`
/// replaced when `new_event_id` is given.
async fn produce_copy(original: &OwnedMessage, new_event_id: Option<Uuid>) {
    let mut headers = OwnedHeaders::new();
    for h in original.headers().unwrap().iter() {
        let replaced = new_event_id.filter(|_| h.key == header::EVENT_ID).map(|id| id.to_string());
        let value = replaced.as_deref().map(str::as_bytes).or(h.value);
        headers = headers.insert(Header { key: h.key, value });
    }
    let record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(original.topic())
        .key(original.key().unwrap())
        .payload(original.payload().unwrap())
        .headers(headers);
    producer().send(record, Duration::from_secs(10)).await.map_err(|(e, _)| e).unwrap();
}

/// One order (five events) published and projected; returns the world, the running relay and consumer.
async fn one_order_projected(pool: &PgPool) -> (World, RunningRelay, RunningConsumer) {
    let world = World::new();
    order_journeys(pool, 1000..1001, 4).await;
    let relay = RunningRelay::start(pool, world.relay_config());
    wait_all_published(pool).await;
    let consumer = RunningConsumer::start(pool, world.consumer_config());
    consumer.wait_processed(EVENTS_PER_JOURNEY).await;
    (world, relay, consumer)
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn orders_published_by_the_relay_are_projected_with_their_latest_status_and_version(pool: PgPool) {
    let world = World::new();
    order_journeys(&pool, 1000..1004, 4).await;
    let relay = RunningRelay::start(&pool, world.relay_config());
    let consumer = RunningConsumer::start(&pool, world.consumer_config());
    consumer.wait_processed(4 * EVENTS_PER_JOURNEY).await;

    assert_projection_matches_orders(&pool).await;
    let counts = consumer.counts();
    assert_eq!((counts.projected, counts.duplicates, counts.dead_lettered), (4 * EVENTS_PER_JOURNEY, 0, 0));
    assert_eq!(inbox_ids(&pool, &world.group).await.into_iter().collect::<HashSet<_>>(), order_event_ids(&pool).await);

    let instance_id = consumer.instance_id.clone();
    let stopped = consumer.stop().await;
    assert_eq!(stopped.processed, 4 * EVENTS_PER_JOURNEY);
    let (kind, state, processed): (String, String, i64) = sqlx::query_as(
        "select worker_kind, detail->>'state', (detail->'counts'->>'processed')::bigint
         from platform.worker_heartbeat where instance_id = $1",
    )
    .bind(&instance_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((kind.as_str(), state.as_str(), processed), ("projection-consumer", "stopped", 20));
    relay.stop().await;
    world.delete_topics().await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_same_event_delivered_twice_changes_nothing_the_second_time(pool: PgPool) {
    let (world, relay, consumer) = one_order_projected(&pool).await;
    let before = projection(&pool).await;

    let records = read_topic(world.order_topic(), EVENTS_PER_JOURNEY as usize).await;
    let last = records.last().unwrap();
    let event_id: Uuid = header_of(last, header::EVENT_ID).unwrap().parse().unwrap();
    produce_copy(last, None).await;
    consumer.wait_processed(EVENTS_PER_JOURNEY + 1).await;

    assert_eq!(consumer.counts().duplicates, 1, "the copy is counted as a duplicate");
    assert_eq!(projection(&pool).await, before, "the row is unchanged, projected_at included");
    let inbox = inbox_ids(&pool, &world.group).await;
    assert_eq!(inbox.len(), EVENTS_PER_JOURNEY as usize);
    assert_eq!(inbox.iter().filter(|id| **id == event_id).count(), 1);

    consumer.stop().await;
    relay.stop().await;
    world.delete_topics().await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_older_version_delivered_after_a_newer_one_does_not_move_the_projection_back(pool: PgPool) {
    let (world, relay, consumer) = one_order_projected(&pool).await;
    let before = projection(&pool).await;
    assert_eq!(before[0].aggregate_version, 5);

    // Version 2 again, under a new event id so the inbox lets it through to the version check.
    let records = read_topic(world.order_topic(), EVENTS_PER_JOURNEY as usize).await;
    let v2 = records.iter().find(|m| header_of(m, header::AGGREGATE_VERSION).as_deref() == Some("2")).unwrap();
    let replayed = Uuid::now_v7();
    produce_copy(v2, Some(replayed)).await;
    consumer.wait_processed(EVENTS_PER_JOURNEY + 1).await;

    let counts = consumer.counts();
    assert_eq!((counts.stale, counts.duplicates), (1, 0));
    assert_eq!(projection(&pool).await, before, "still version 5 with its status");
    assert!(inbox_ids(&pool, &world.group).await.contains(&replayed), "the first delivery is recorded");

    consumer.stop().await;
    relay.stop().await;
    world.delete_topics().await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_poison_message_lands_in_the_dead_letter_topic_with_its_reason_and_later_messages_still_flow(pool: PgPool) {
    let world = World::new();
    let topic = world.order_topic();
    let poison: FutureRecord<'_, str, str> = FutureRecord::to(&topic).key("garbage").payload("{not json");
    let delivered = producer().send(poison, Duration::from_secs(10)).await.map_err(|(e, _)| e).unwrap();
    let consumer = RunningConsumer::start(&pool, world.consumer_config());
    order_journeys(&pool, 1000..1001, 4).await;
    let relay = RunningRelay::start(&pool, world.relay_config());
    consumer.wait_processed(1 + EVENTS_PER_JOURNEY).await;

    let counts = consumer.counts();
    assert_eq!((counts.dead_lettered, counts.projected), (1, EVENTS_PER_JOURNEY));
    assert_projection_matches_orders(&pool).await;

    let dead = read_topic(format!("{}.DLT", world.order_topic()), 1).await;
    let dead = &dead[0];
    assert_eq!(dead.payload(), Some(&b"{not json"[..]), "the record is kept byte for byte");
    assert!(header_of(dead, dlt_header::REASON).unwrap().contains("event_id"), "the reason is given");
    assert_eq!(header_of(dead, dlt_header::ORIGINAL_TOPIC), Some(world.order_topic()));
    assert_eq!(header_of(dead, dlt_header::ORIGINAL_PARTITION), Some(delivered.partition.to_string()));
    assert_eq!(header_of(dead, dlt_header::ORIGINAL_OFFSET), Some(delivered.offset.to_string()));
    assert_eq!(header_of(dead, dlt_header::CONSUMER_GROUP), Some(world.group.clone()));

    consumer.stop().await;
    relay.stop().await;
    world.delete_topics().await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_consumer_stopped_midway_and_restarted_projects_every_event_exactly_once(pool: PgPool) {
    let world = World::new();
    order_journeys(&pool, 1000..1006, 4).await;
    let relay = RunningRelay::start(&pool, world.relay_config());
    let first = RunningConsumer::start(&pool, world.consumer_config());
    first.wait_processed(8).await;
    let first_counts = first.stop().await;

    // Mid-stream by construction: more orders arrive while no consumer runs, and while the second one
    // catches up.
    order_journeys(&pool, 1006..1008, 4).await;
    let second = RunningConsumer::start(&pool, world.consumer_config());
    order_journeys(&pool, 1008..1010, 4).await;
    let total = 10 * EVENTS_PER_JOURNEY;
    wait_until("every order event is in the inbox", Duration::from_secs(90), || async {
        inbox_ids(&pool, &world.group).await.len() as u64 == total
    })
    .await;
    let second_counts = second.stop().await;

    let inbox = inbox_ids(&pool, &world.group).await;
    let distinct: HashSet<Uuid> = inbox.iter().copied().collect();
    assert_eq!(inbox.len(), distinct.len(), "every event id in the inbox exactly once");
    assert_eq!(distinct, order_event_ids(&pool).await, "count in = count out");
    assert_projection_matches_orders(&pool).await;
    // Whatever the second instance saw again (an offset committed late) was recognised, not reapplied.
    assert_eq!(first_counts.projected + second_counts.projected + second_counts.stale, total);
    assert_eq!(second_counts.processed, second_counts.projected + second_counts.stale + second_counts.duplicates);

    relay.stop().await;
    world.delete_topics().await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_line_status_change_moves_the_projected_version_but_keeps_the_order_status(pool: PgPool) {
    let world = World::new();
    let order = captured_order(&pool, ACME, "Q-1").await.order_id;
    advance_order(&pool, ACME, order, &FULFILMENT[..1]).await;
    let line: Uuid = sqlx::query_scalar("select order_line_id from oms.sales_order_line where order_id = $1 limit 1")
        .bind(order.as_uuid())
        .fetch_one(&pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    let change = apply_order_line_command(&mut tx, ACME, order, OrderLineId::from_uuid(line), OrderLineCommand::Reserve, &ctx())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(change.order_version, 3);

    let relay = RunningRelay::start(&pool, world.relay_config());
    let consumer = RunningConsumer::start(&pool, world.consumer_config());
    consumer.wait_processed(3).await;

    let rows = projection(&pool).await;
    let status_at_v2: String = sqlx::query_scalar(
        "select payload->>'status' from messaging.outbox_event where aggregate_id = $1 and aggregate_version = 2",
    )
    .bind(order.as_uuid())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((rows[0].aggregate_version, rows[0].status.as_str()), (3, status_at_v2.as_str()));
    assert_projection_matches_orders(&pool).await;

    consumer.stop().await;
    relay.stop().await;
    world.delete_topics().await;
}

/// A field of the instance's heartbeat detail, by its path (`["state"]`, `["counts", "offset_lag"]`).
async fn heartbeat_detail(pool: &PgPool, instance_id: &str, path: &[&str]) -> Option<String> {
    sqlx::query_scalar("select detail #>> $2 from platform.worker_heartbeat where instance_id = $1")
        .bind(instance_id)
        .bind(path)
        .fetch_optional(pool)
        .await
        .unwrap()
        .flatten()
}

async fn heartbeat_state(pool: &PgPool, instance_id: &str) -> Option<String> {
    heartbeat_detail(pool, instance_id, &["state"]).await
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_pause_switch_stops_consumption_and_turning_it_off_resumes_it(pool: PgPool) {
    let (world, relay, consumer) = one_order_projected(&pool).await;

    switch(&pool, Control::PauseConsumer { group: world.group.clone() }, true).await;
    wait_until("the consumer reports paused", Duration::from_secs(10), || async {
        heartbeat_state(&pool, &consumer.instance_id).await.as_deref() == Some("paused")
    })
    .await;
    assert!(consumer.counts().paused);

    order_journeys(&pool, 1001..1003, 4).await;
    wait_all_published(&pool).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(consumer.counts().processed, EVENTS_PER_JOURNEY, "nothing consumed while paused");
    assert_eq!(projection(&pool).await.len(), 1);

    switch(&pool, Control::PauseConsumer { group: world.group.clone() }, false).await;
    consumer.wait_processed(3 * EVENTS_PER_JOURNEY).await;
    assert!(!consumer.counts().paused);
    assert_projection_matches_orders(&pool).await;
    assert_eq!(consumer.counts().duplicates, 0);

    consumer.stop().await;
    relay.stop().await;
    world.delete_topics().await;
}

async fn heartbeat_offset_lag(pool: &PgPool, instance_id: &str) -> Option<i64> {
    heartbeat_detail(pool, instance_id, &["counts", "offset_lag"]).await.map(|lag| lag.parse().unwrap())
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_lag_counts_the_records_waiting_behind_a_paused_consumer_and_is_zero_once_it_caught_up(pool: PgPool) {
    let (world, relay, consumer) = one_order_projected(&pool).await;
    wait_until("the caught-up consumer reports no lag", Duration::from_secs(10), || async {
        consumer.counts().offset_lag == Some(0) && heartbeat_offset_lag(&pool, &consumer.instance_id).await == Some(0)
    })
    .await;
    assert!(consumer.counts().record_age_ms.is_some(), "the age of the last record is kept beside the lag");

    switch(&pool, Control::PauseConsumer { group: world.group.clone() }, true).await;
    wait_until("the consumer reports paused", Duration::from_secs(10), || async {
        heartbeat_state(&pool, &consumer.instance_id).await.as_deref() == Some("paused")
    })
    .await;
    order_journeys(&pool, 1001..1003, 4).await;
    wait_all_published(&pool).await;
    let waiting = 2 * EVENTS_PER_JOURNEY as i64;
    wait_until("the lag counts the records waiting, in the stats and the heartbeat", Duration::from_secs(10), || async {
        consumer.counts().offset_lag == Some(waiting) && heartbeat_offset_lag(&pool, &consumer.instance_id).await == Some(waiting)
    })
    .await;

    switch(&pool, Control::PauseConsumer { group: world.group.clone() }, false).await;
    consumer.wait_processed(3 * EVENTS_PER_JOURNEY).await;
    wait_until("the lag is back to zero", Duration::from_secs(10), || async { consumer.counts().offset_lag == Some(0) }).await;

    consumer.stop().await;
    relay.stop().await;
    world.delete_topics().await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_dead_letter_sent_by_an_instance_that_died_before_committing_it_is_not_seen_twice(pool: PgPool) {
    let world = World::new();
    let topic = world.order_topic();
    let poison: FutureRecord<'_, str, str> = FutureRecord::to(&topic).key("garbage").payload("{not json");
    producer().send(poison, Duration::from_secs(10)).await.map_err(|(e, _)| e).unwrap();
    let poison = read_topic(topic.clone(), 1).await.remove(0);

    // The crash window: the copy is sent and acknowledged, then the instance hangs or dies before the
    // commit. Forgotten, not dropped: a dead process aborts nothing, Kafka times its transaction out.
    let dying = DeadLetters::new(&world.consumer_config());
    let staged = dying.stage(&poison, "the dying instance's reason").await.unwrap();
    std::mem::forget(staged);
    std::mem::forget(dying);

    // The original's offset was never committed: the next instance reads it again and dead-letters it.
    let consumer = RunningConsumer::start(&pool, world.consumer_config());
    consumer.wait_processed(1).await;
    assert_eq!(consumer.counts().dead_lettered, 1);

    let dead_letter_topic = format!("{topic}.DLT");
    let in_the_log = read_topic_as(dead_letter_topic.clone(), 2, Isolation::ReadUncommitted).await;
    assert_eq!(
        in_the_log.iter().filter(|m| header_of(m, dlt_header::REASON).as_deref() == Some("the dying instance's reason")).count(),
        1,
        "the dying instance's copy is in the log: the crash window was really crossed"
    );
    let committed = read_topic(dead_letter_topic, 1).await;
    assert_eq!(committed[0].payload(), Some(&b"{not json"[..]));
    assert!(header_of(&committed[0], dlt_header::REASON).unwrap().contains("event_id"), "the new instance's copy");

    consumer.stop().await;
    world.delete_topics().await;
}
