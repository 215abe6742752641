//! The outbox relay against a real PostgreSQL (a fresh database per test) and the real Kafka broker
//! (`OPSDECK_KAFKA_BROKERS`, default 127.0.0.1:59092). Each test publishes under its own topic prefix and
//! deletes its topics afterwards, so tests neither see nor disturb each other's records.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use platform::control::Control;
use platform::relay::{header, outbox_backlog, Backlog, Relay, RelayConfig, RelayCounts, RelayStats};
use platform::tenants::ACME;
use platform::testing::{count, delete_topics, kafka_brokers, kafka_reader, order_journeys, switch, wait_until};
use rdkafka::message::{Headers, Message};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// A configuration for tests: small batches and short intervals, its own topics.
fn config(topic_prefix: &str, instance: &str) -> RelayConfig {
    RelayConfig {
        topic_prefix: topic_prefix.to_string(),
        batch_size: 4,
        poll_interval: Duration::from_millis(50),
        heartbeat_interval: Duration::from_millis(200),
        backoff_base: Duration::from_millis(50),
        backoff_cap: Duration::from_millis(200),
        message_timeout: Duration::from_secs(10),
        linger: Duration::from_millis(1),
        ..RelayConfig::new(format!("{instance}-{}", Uuid::now_v7().simple()), kafka_brokers())
    }
}

fn topic_prefix() -> String {
    format!("test.relay.{}.", Uuid::now_v7().simple())
}

struct Running {
    stop: watch::Sender<bool>,
    handle: JoinHandle<RelayCounts>,
    stats: Arc<RelayStats>,
    instance_id: String,
}

impl Running {
    async fn stop(self) -> RelayCounts {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.handle).await.expect("relay stops within 30 s").unwrap()
    }
}

fn start(pool: &PgPool, config: RelayConfig) -> Running {
    let instance_id = config.instance_id.clone();
    let relay = Relay::new(pool.clone(), config).unwrap();
    let stats = relay.stats();
    let (stop, shutdown) = watch::channel(false);
    let handle = tokio::spawn(relay.run(shutdown));
    Running { stop, handle, stats, instance_id }
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct Row {
    outbox_event_id: Uuid,
    aggregate_id: Uuid,
    aggregate_version: i64,
    event_type: String,
    tenant_id: Uuid,
    status: String,
    attempts: i32,
    last_error: Option<String>,
    next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    claimed_by: Option<String>,
    kafka_topic: Option<String>,
    kafka_partition: Option<i32>,
    kafka_offset: Option<i64>,
}

async fn outbox_rows(pool: &PgPool) -> Vec<Row> {
    sqlx::query_as(
        "select outbox_event_id, aggregate_id, aggregate_version, event_type, tenant_id, status, attempts, last_error,
                next_attempt_at, claimed_by, kafka_topic, kafka_partition, kafka_offset
         from messaging.outbox_event order by aggregate_id, aggregate_version",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn all_published(pool: &PgPool) -> bool {
    count(pool, "select count(*) from messaging.outbox_event where status <> 'PUBLISHED'").await == 0
}

/// A record read back from Kafka.
#[derive(Debug, Clone)]
struct Consumed {
    topic: String,
    partition: i32,
    offset: i64,
    key: String,
    headers: HashMap<String, String>,
}

impl Consumed {
    fn event_id(&self) -> Uuid {
        self.headers[header::EVENT_ID].parse().unwrap()
    }
    fn version(&self) -> i64 {
        self.headers[header::AGGREGATE_VERSION].parse().unwrap()
    }
}

/// Reads every record of `topics` from the beginning (no consumer group offsets involved), stopping one
/// quiet second after `expected` records arrived — long enough for a duplicate to show up too.
async fn consume(topics: Vec<String>, expected: usize) -> Vec<Consumed> {
    tokio::task::spawn_blocking(move || {
        let consumer = kafka_reader(&topics);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut quiet_until: Option<Instant> = None;
        let mut out = Vec::new();
        while Instant::now() < deadline && quiet_until.is_none_or(|t| Instant::now() < t) {
            if let Some(message) = consumer.poll(Duration::from_millis(100)) {
                let message = message.unwrap();
                let headers = message
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|h| (h.key.to_string(), String::from_utf8_lossy(h.value.unwrap_or_default()).into_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                out.push(Consumed {
                    topic: message.topic().to_string(),
                    partition: message.partition(),
                    offset: message.offset(),
                    key: String::from_utf8_lossy(message.key().unwrap_or_default()).into_owned(),
                    headers,
                });
            }
            if out.len() >= expected && quiet_until.is_none() {
                quiet_until = Some(Instant::now() + Duration::from_secs(1));
            }
        }
        out
    })
    .await
    .unwrap()
}

async fn topics_of(pool: &PgPool) -> Vec<String> {
    sqlx::query_scalar("select distinct kafka_topic from messaging.outbox_event where kafka_topic is not null order by 1")
        .fetch_all(pool)
        .await
        .unwrap()
}

/// Every outbox row appears in Kafka exactly once, where the row says it went, with the row's headers;
/// and each aggregate's records come in strictly increasing version order.
fn assert_kafka_matches_outbox(consumed: &[Consumed], rows: &[Row]) {
    let ids: Vec<Uuid> = consumed.iter().map(Consumed::event_id).collect();
    let distinct: HashSet<Uuid> = ids.iter().copied().collect();
    assert_eq!(ids.len(), distinct.len(), "an event was published twice");
    assert_eq!(distinct, rows.iter().map(|r| r.outbox_event_id).collect::<HashSet<_>>(), "count in = count out, same events");

    let by_id: HashMap<Uuid, &Row> = rows.iter().map(|r| (r.outbox_event_id, r)).collect();
    let mut last_version: HashMap<String, i64> = HashMap::new();
    for record in consumed {
        let row = by_id[&record.event_id()];
        assert_eq!(record.key, row.aggregate_id.to_string(), "keyed by aggregate id");
        assert_eq!(
            (Some(record.topic.as_str()), Some(record.partition), Some(record.offset)),
            (row.kafka_topic.as_deref(), row.kafka_partition, row.kafka_offset),
            "the row records where its event went"
        );
        assert_eq!(record.headers[header::EVENT_TYPE], row.event_type);
        assert_eq!(record.headers[header::TENANT_ID], row.tenant_id.to_string());
        assert_eq!(record.version(), row.aggregate_version);
        assert!(record.headers.contains_key("correlation_id"), "stored headers travel along");
        let previous = last_version.insert(record.key.clone(), record.version());
        assert!(
            previous.is_none_or(|p| p < record.version()),
            "aggregate {} went back from version {previous:?} to {}",
            record.key,
            record.version()
        );
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn events_written_by_commands_reach_kafka_exactly_once_and_in_version_order_per_aggregate(pool: PgPool) {
    let prefix = topic_prefix();
    // Two instances compete for the same rows while commands keep writing, each with several batches in
    // flight at once (lanes): small batches, so one aggregate's events spread over concurrent claims.
    let a = start(&pool, RelayConfig { lanes: 2, ..config(&prefix, "relay-a") });
    let b = start(&pool, RelayConfig { batch_size: 3, lanes: 4, ..config(&prefix, "relay-b") });
    order_journeys(&pool, 1000..1009, 4).await;
    let total = count(&pool, "select count(*) from messaging.outbox_event").await;
    assert_eq!(total, 9 * 8);
    wait_until("every event is published", Duration::from_secs(60), || all_published(&pool)).await;
    let (a, b) = (a.stop().await, b.stop().await);

    assert_eq!(a.published + b.published, total as u64, "each row published by exactly one instance");
    assert_eq!((a.failed_attempts, b.failed_attempts), (0, 0));
    let rows = outbox_rows(&pool).await;
    assert!(rows.iter().all(|r| r.status == "PUBLISHED" && r.claimed_by.is_none() && r.attempts == 0));
    let topics = topics_of(&pool).await;
    assert_eq!(topics, [format!("{prefix}order"), format!("{prefix}quote")]);

    let consumed = consume(topics.clone(), rows.len()).await;
    assert_kafka_matches_outbox(&consumed, &rows);
    assert_eq!(
        outbox_backlog(&pool).await.unwrap(),
        Backlog { pending: 0, oldest_pending_age_secs: None, processing: 0, stale_claims: 0, failed: 0 }
    );
    delete_topics(&topics).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_relay_stopped_midway_and_a_new_instance_together_lose_nothing_and_duplicate_nothing(pool: PgPool) {
    let prefix = topic_prefix();
    order_journeys(&pool, 1000..1008, 4).await;
    let total = count(&pool, "select count(*) from messaging.outbox_event").await as u64;

    let first = start(&pool, RelayConfig { batch_size: 2, ..config(&prefix, "relay-first") });
    let first_id = first.instance_id.clone();
    let stats = Arc::clone(&first.stats);
    wait_until("the first instance has published a few batches", Duration::from_secs(30), || {
        let stats = Arc::clone(&stats);
        async move { stats.snapshot().published >= 6 }
    })
    .await;
    let first = first.stop().await;
    assert!(first.published < total, "stopped mid-way ({} of {total} published)", first.published);
    assert_eq!(count(&pool, "select count(*) from messaging.outbox_event where status = 'PROCESSING'").await, 0, "a stopped relay holds no claims");
    assert_eq!(count(&pool, "select count(*) from messaging.outbox_event where status = 'PUBLISHED'").await as u64, first.published);
    let state: String = sqlx::query_scalar("select detail->>'state' from platform.worker_heartbeat where instance_id = $1")
        .bind(&first_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(state, "stopped");

    let second = start(&pool, config(&prefix, "relay-second"));
    wait_until("every event is published", Duration::from_secs(60), || all_published(&pool)).await;
    let second = second.stop().await;
    assert_eq!(first.published + second.published, total, "nothing published twice, nothing left behind");

    let rows = outbox_rows(&pool).await;
    let topics = topics_of(&pool).await;
    let consumed = consume(topics.clone(), rows.len()).await;
    assert_kafka_matches_outbox(&consumed, &rows);
    delete_topics(&topics).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn with_the_broker_unreachable_attempts_grow_until_events_fail_for_good_and_nothing_is_lost(pool: PgPool) {
    let prefix = topic_prefix();
    order_journeys(&pool, 1000..1002, 0).await; // per journey: quote v1..v3 and order v1
    let unreachable = RelayConfig {
        brokers: "127.0.0.1:1".into(),
        message_timeout: Duration::from_millis(300),
        max_attempts: 3,
        // Long enough for the poll below to see an event between attempts.
        backoff_base: Duration::from_millis(200),
        backoff_cap: Duration::from_millis(400),
        ..config(&prefix, "relay-cut-off")
    };
    let relay = start(&pool, unreachable);
    let attempts_seen = Arc::new(std::sync::Mutex::new(HashSet::new()));
    wait_until("each aggregate's first event has failed for good", Duration::from_secs(60), || {
        let (pool, seen) = (pool.clone(), Arc::clone(&attempts_seen));
        async move {
            let attempts: Vec<i32> = sqlx::query_scalar("select attempts from messaging.outbox_event where status = 'FAILED'")
                .fetch_all(&pool)
                .await
                .unwrap();
            seen.lock().unwrap().extend(attempts);
            count(&pool, "select count(*) from messaging.outbox_event where status = 'FAILED' and next_attempt_at is null").await == 4
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await; // a few more polls: nothing else may move
    let counts = relay.stop().await;

    assert!(attempts_seen.lock().unwrap().contains(&1), "attempts grow one by one");
    assert_eq!((counts.failed_attempts, counts.gave_up, counts.published), (12, 4, 0));
    let rows = outbox_rows(&pool).await;
    assert_eq!(rows.len(), 8, "nothing lost");
    for row in &rows {
        if row.aggregate_version == 1 {
            assert_eq!((row.status.as_str(), row.attempts, row.next_attempt_at), ("FAILED", 3, None), "{row:?}");
            let error = row.last_error.as_deref().unwrap_or_default();
            assert!(error.contains("timed out"), "last_error says why: {error}");
        } else {
            // A later event never overtakes the failed one: it is not even tried.
            assert_eq!((row.status.as_str(), row.attempts, row.last_error.as_deref()), ("PENDING", 0, None), "{row:?}");
        }
        assert!(row.claimed_by.is_none());
    }
    let backlog = outbox_backlog(&pool).await.unwrap();
    assert_eq!((backlog.pending, backlog.failed, backlog.processing), (4, 4, 0));

    // Once Kafka is back and a person republishes the failed events, everything goes out, in order.
    sqlx::query("update messaging.outbox_event set status = 'PENDING', attempts = 0 where status = 'FAILED'")
        .execute(&pool)
        .await
        .unwrap();
    let relay = start(&pool, config(&prefix, "relay-restored"));
    wait_until("every event is published", Duration::from_secs(60), || all_published(&pool)).await;
    relay.stop().await;
    let rows = outbox_rows(&pool).await;
    let topics = topics_of(&pool).await;
    assert_kafka_matches_outbox(&consume(topics.clone(), rows.len()).await, &rows);
    delete_topics(&topics).await;
}

async fn heartbeat_state(pool: &PgPool, instance_id: &str) -> Option<String> {
    sqlx::query_scalar("select detail->>'state' from platform.worker_heartbeat where instance_id = $1 and worker_kind = 'outbox-relay'")
        .bind(instance_id)
        .fetch_optional(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn while_pause_relay_is_on_nothing_is_claimed_and_switching_it_off_resumes_publishing(pool: PgPool) {
    let prefix = topic_prefix();
    switch(&pool, Control::PauseRelay, true).await;
    order_journeys(&pool, 1000..1002, 4).await;
    let relay = start(&pool, config(&prefix, "relay-paused"));
    let id = relay.instance_id.clone();
    wait_until("the heartbeat reports the relay paused", Duration::from_secs(10), || async {
        heartbeat_state(&pool, &id).await.as_deref() == Some("paused")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await; // ten poll intervals
    assert_eq!(count(&pool, "select count(*) from messaging.outbox_event where status <> 'PENDING' or claimed_by is not null").await, 0);
    assert_eq!(relay.stats.snapshot().claimed, 0);

    switch(&pool, Control::PauseRelay, false).await;
    wait_until("every event is published", Duration::from_secs(30), || all_published(&pool)).await;
    wait_until("the heartbeat reports the relay running", Duration::from_secs(10), || async {
        heartbeat_state(&pool, &id).await.as_deref() == Some("running")
    })
    .await;
    let counts = relay.stop().await;
    assert_eq!(counts.published, 16);
    delete_topics(&topics_of(&pool).await).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_claim_left_by_a_dead_instance_is_not_touched_and_shows_as_a_stale_claim(pool: PgPool) {
    let prefix = topic_prefix();
    order_journeys(&pool, 1000..1001, 4).await;
    // A dead relay's claim on version 1 of some order, and that order's version 2 waiting behind it.
    let (tenant, aggregate) = (ACME.as_uuid(), Uuid::now_v7());
    let dead = Uuid::now_v7();
    sqlx::query(
        "insert into messaging.outbox_event
           (outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload,
            status, claimed_by, claimed_at, created_at)
         values ($1, $2, 'order', $3, 1, 'OrderCaptured', '{}', 'PROCESSING', 'outbox-relay-dead', now() - interval '11 minutes',
                 now() - interval '12 minutes'),
                ($4, $2, 'order', $3, 2, 'OrderStatusChanged', '{}', 'PENDING', null, null, now() - interval '11 minutes')",
    )
    .bind(dead)
    .bind(tenant)
    .bind(aggregate)
    .bind(Uuid::now_v7())
    .execute(&pool)
    .await
    .unwrap();

    let relay = start(&pool, config(&prefix, "relay-alive"));
    wait_until("the journey's events are published", Duration::from_secs(30), || async {
        count(&pool, "select count(*) from messaging.outbox_event where status = 'PUBLISHED'").await == 8
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await; // ten more poll intervals
    relay.stop().await;

    let (status, claimed_by, age_minutes, attempts): (String, Option<String>, f64, i32) = sqlx::query_as(
        "select status, claimed_by, extract(epoch from now() - claimed_at)::float8 / 60, attempts
         from messaging.outbox_event where outbox_event_id = $1",
    )
    .bind(dead)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), claimed_by.as_deref(), attempts), ("PROCESSING", Some("outbox-relay-dead"), 0));
    assert!(age_minutes > 10.9, "claimed_at untouched");
    let behind: String = sqlx::query_scalar("select status from messaging.outbox_event where aggregate_id = $1 and aggregate_version = 2")
        .bind(aggregate)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(behind, "PENDING", "version 2 waits for the claimed version 1");
    let backlog = outbox_backlog(&pool).await.unwrap();
    assert_eq!((backlog.processing, backlog.stale_claims, backlog.pending, backlog.failed), (1, 1, 1, 0));
    assert!(backlog.oldest_pending_age_secs.unwrap() > 600.0);
    delete_topics(&topics_of(&pool).await).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_later_version_stamped_earlier_than_its_predecessor_still_goes_out_after_it(pool: PgPool) {
    // `created_at` is the writing transaction's start: a transaction that began first but committed
    // second writes the higher version with the older timestamp. The relay scans by age, one event per
    // batch here, and must neither publish version 2 first nor get stuck behind it.
    let prefix = topic_prefix();
    let (tenant, aggregate) = (ACME.as_uuid(), Uuid::now_v7());
    let (v1, v2) = (Uuid::now_v7(), Uuid::now_v7());
    sqlx::query(
        "insert into messaging.outbox_event
           (outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload, headers, created_at)
         values ($1, $3, 'order', $4, 1, 'OrderCaptured', '{}', '{\"correlation_id\": \"c\"}', now()),
                ($2, $3, 'order', $4, 2, 'OrderStatusChanged', '{}', '{\"correlation_id\": \"c\"}', now() - interval '1 minute')",
    )
    .bind(v1)
    .bind(v2)
    .bind(tenant)
    .bind(aggregate)
    .execute(&pool)
    .await
    .unwrap();

    let relay = start(&pool, RelayConfig { batch_size: 1, ..config(&prefix, "relay-one-by-one") });
    wait_until("both versions are published", Duration::from_secs(30), || all_published(&pool)).await;
    relay.stop().await;

    let rows = outbox_rows(&pool).await;
    assert!(rows[0].kafka_offset < rows[1].kafka_offset, "version 1 went first: {rows:?}");
    let topics = topics_of(&pool).await;
    assert_kafka_matches_outbox(&consume(topics.clone(), 2).await, &rows);
    delete_topics(&topics).await;
}
