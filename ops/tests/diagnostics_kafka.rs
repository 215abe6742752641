//! Consumer lag on the real Kafka: four consumer groups read one topic while it grows — one keeps up, one
//! falls behind, one stops committing, one commits the same offset again and again — and the diagnostics
//! sampler's rounds (the process's one Kafka client, samples into this test's database) judge them as
//! Burrow would: OK, WARN, ERR (STOP), ERR (STALL). Also the lag in business terms: orders waiting for
//! the projection.

use std::time::Duration;

use ops::diagnostics::kafka::{GroupStatus, PartitionStatus};
use ops::diagnostics::{overview, Area, Diagnostics, DiagnosticsConfig, Panel, Status};
use ops::identity::Actor;
use ops::testing::{demo_user, probe_targets};
use platform::tenants::{ACME, GLOBEX};
use platform::testing::{captured_order, delete_topics, kafka_brokers};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sqlx::PgPool;
use uuid::Uuid;

/// Rounds are run by the test, not on a timer; the interval sets the evaluator's silence floor (1.5 ×).
fn config() -> DiagnosticsConfig {
    DiagnosticsConfig { window: 5, ..DiagnosticsConfig::every(Duration::from_millis(400)) }
}

async fn create_topic(topic: &str) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", kafka_brokers()).create().expect("a Kafka admin client");
    let results = admin
        .create_topics(&[NewTopic::new(topic, 1, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .expect("create_topics answers");
    for result in results {
        result.expect("the topic is created");
    }
}

/// Deletes the groups and topics of this test's earlier runs that ended before their clean-up (a failed
/// assertion): older than ten minutes by their UUIDv7, so a run going on now is left alone. Left behind,
/// they would show as stopped consumers on everyone's diagnostics.
async fn remove_leftovers() {
    let reader: BaseConsumer = ClientConfig::new().set("bootstrap.servers", kafka_brokers()).create().unwrap();
    let (topics, groups) = tokio::task::spawn_blocking(move || {
        let topics: Vec<String> = reader
            .fetch_metadata(None, Duration::from_secs(10))
            .map(|m| m.topics().iter().map(|t| t.name().to_string()).collect())
            .unwrap_or_default();
        let groups: Vec<String> = reader
            .fetch_group_list(None, Duration::from_secs(10))
            .map(|l| l.groups().iter().map(|g| g.name().to_string()).collect())
            .unwrap_or_default();
        (topics, groups)
    })
    .await
    .unwrap();
    let old = |name: &str, prefixes: &[&str]| {
        prefixes.iter().any(|p| {
            name.strip_prefix(p).and_then(|rest| Uuid::parse_str(rest).ok()).and_then(|id| id.get_timestamp()).is_some_and(|ts| {
                let (secs, _) = ts.to_unix();
                secs + 600 < chrono::Utc::now().timestamp() as u64
            })
        })
    };
    let groups: Vec<String> = groups.into_iter().filter(|g| old(g, &["diag-ok-", "diag-warn-", "diag-stop-", "diag-stall-"])).collect();
    let topics: Vec<String> = topics.into_iter().filter(|t| old(t, &["diag-lag-"])).collect();
    delete_groups(&groups).await;
    delete_topics(&topics).await;
}

async fn delete_groups(groups: &[String]) {
    if groups.is_empty() {
        return;
    }
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", kafka_brokers()).create().expect("a Kafka admin client");
    let names: Vec<&str> = groups.iter().map(String::as_str).collect();
    let _ = tokio::time::timeout(Duration::from_secs(10), admin.delete_groups(&names, &AdminOptions::new())).await;
}

/// A member of `group` reading partition 0 of `topic` from the beginning, committing by hand.
fn consumer(group: &str, topic: &str) -> BaseConsumer {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .create()
        .expect("a consumer");
    let mut assignment = TopicPartitionList::new();
    assignment.add_partition_offset(topic, 0, Offset::Beginning).unwrap();
    consumer.assign(&assignment).unwrap();
    consumer
}

/// Reads `n` records and returns the offset after the last.
fn read(consumer: &BaseConsumer, n: usize) -> i64 {
    let mut next = 0;
    for _ in 0..n {
        let message = loop {
            match consumer.poll(Duration::from_secs(10)) {
                Some(Ok(message)) => break message,
                Some(Err(e)) => panic!("consuming: {e}"),
                None => panic!("no record within 10 s"),
            }
        };
        next = rdkafka::message::Message::offset(&message) + 1;
    }
    next
}

fn commit(consumer: &BaseConsumer, topic: &str, offset: i64) {
    let mut offsets = TopicPartitionList::new();
    offsets.add_partition_offset(topic, 0, Offset::Offset(offset)).unwrap();
    consumer.commit(&offsets, CommitMode::Sync).expect("the commit is accepted");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_consumer_that_keeps_up_falls_behind_stops_or_stalls_is_judged_ok_warn_stop_stall(pool: PgPool) {
    remove_leftovers().await;
    let run = Uuid::now_v7();
    let topic = format!("diag-lag-{run}");
    create_topic(&topic).await;
    let [ok, warn, stop, stall] = ["ok", "warn", "stop", "stall"].map(|kind| format!("diag-{kind}-{run}"));
    let producer: BaseProducer = ClientConfig::new().set("bootstrap.servers", kafka_brokers()).create().unwrap();
    let consumers = std::sync::Arc::new([&ok, &warn, &stop, &stall].map(|group| consumer(group, &topic)));
    let diagnostics = Diagnostics::new(pool.clone(), &probe_targets(), config());
    // A new watcher reads `__consumer_offsets` from its start, 3 s per round: on a shared broker busy with
    // other tests' groups, its first rounds may not reach the end. Let it catch up before these groups
    // commit, so that every round below sees all four (a long-running console catches up once).
    for _ in 0..3 {
        diagnostics.round().await;
    }

    let mut produced = 0usize;
    let mut positions = [0i64; 4];
    for step in 0..6 {
        for i in 0..10 {
            let payload = format!("step {step} record {i}");
            producer.send(BaseRecord::<(), _>::to(&topic).payload(&payload)).expect("queued");
        }
        producer.flush(Duration::from_secs(10)).expect("produced");
        produced += 10;
        let topic = topic.clone();
        let (c, p) = (consumers.clone(), positions);
        positions = tokio::task::spawn_blocking(move || {
            let mut p = p;
            // Keeps up: reads everything there is and commits.
            let behind = produced - p[0] as usize;
            p[0] = read(&c[0], behind);
            commit(&c[0], &topic, p[0]);
            // Falls behind: 3 of every 10, committed.
            p[1] = read(&c[1], 3);
            commit(&c[1], &topic, p[1]);
            // Stops after two steps.
            if step < 2 {
                p[2] = read(&c[2], 3);
                commit(&c[2], &topic, p[2]);
            }
            // Stalls: stuck at offset 2, committing it again and again.
            if step == 0 {
                p[3] = read(&c[3], 2);
            }
            commit(&c[3], &topic, p[3]);
            p
        })
        .await
        .unwrap();
        diagnostics.round().await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    let seen = overview(&pool, &diagnostics, &Actor::system("test"), None).await.unwrap();
    let Panel::Ready(lag) = &seen.kafka.lag else { panic!("kafka unavailable: {:?}", seen.kafka.lag) };
    let group = |name: &str| lag.group(name).unwrap_or_else(|| panic!("group {name} not sampled"));
    let judged = |name: &str| (group(name).status, group(name).partitions[0].status);
    assert_eq!(judged(&ok), (GroupStatus::Ok, PartitionStatus::Ok));
    assert_eq!(judged(&warn), (GroupStatus::Warn, PartitionStatus::Warn));
    assert_eq!(judged(&stop), (GroupStatus::Err, PartitionStatus::Stop));
    assert_eq!(judged(&stall), (GroupStatus::Err, PartitionStatus::Stall));

    // Lag in records and in time: the oldest unconsumed record was read from the partition.
    let behind = &group(&warn).partitions[0];
    assert_eq!((behind.log_end_offset, behind.committed_offset, behind.lag), (60, 18, 42));
    let age = behind.lag_seconds.expect("the oldest unconsumed record's age");
    assert!(age > 1.0 && age < 60.0, "oldest unconsumed record {age} s old");
    assert_eq!(group(&ok).partitions[0].lag, 0);
    assert!(behind.samples <= 5, "the window holds at most 5 samples");

    // A stopped or stalled consumer never looks healthy: the panel is an error, naming one of them.
    let verdict = seen.verdict(Area::Kafka).unwrap();
    assert_eq!(verdict.status, Status::Err);
    assert!(
        verdict.wrong.starts_with(&format!("consumer group {stop} STOP on {topic}/0 since "))
            || verdict.wrong.starts_with(&format!("consumer group {stall} STALL on {topic}/0 since ")),
        "{}",
        verdict.wrong
    );
    assert!(verdict.wrong.contains("1 more group(s) not consuming"), "{}", verdict.wrong);
    assert_eq!(verdict.runbook, "kafka-consumer-lag.md");

    // Samples are bounded: one row per partition and round, pruned past the retention.
    let rows: i64 = sqlx::query_scalar("select count(*) from ops.kafka_lag_sample where topic = $1")
        .bind(&topic)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 4 * 6);

    // The groups leave with their members: a stopped test consumer must not linger on the shared broker.
    drop(consumers);
    delete_groups(&[ok, warn, stop, stall]).await;
    delete_topics(&[topic]).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn orders_published_but_not_projected_are_counted_per_tenant_within_the_viewers_scope(pool: PgPool) {
    let acme = captured_order(&pool, ACME, "Q-DW-1").await.order_id;
    let globex = captured_order(&pool, GLOBEX, "Q-DW-2").await.order_id;
    // The relay published both orders' events a minute ago; the projection has applied neither.
    sqlx::query(
        "update messaging.outbox_event set status = 'PUBLISHED', published_at = now() - interval '1 minute'
         where aggregate_id = any($1)",
    )
    .bind(vec![acme.as_uuid(), globex.as_uuid()])
    .execute(&pool)
    .await
    .unwrap();
    let diagnostics = Diagnostics::new(pool.clone(), &probe_targets(), config());

    let all = overview(&pool, &diagnostics, &demo_user("oscar.operator"), None).await.unwrap();
    let waiting: Vec<(&str, i64)> = all.kafka.waiting.iter().map(|w| (w.slug.as_str(), w.orders)).collect();
    assert_eq!(waiting, [("acme", 1), ("globex", 1)]);
    assert!(all.kafka.waiting.iter().all(|w| (55.0..120.0).contains(&w.oldest_age_seconds)));

    let vera = overview(&pool, &diagnostics, &demo_user("vera.viewer"), None).await.unwrap();
    assert_eq!(vera.kafka.waiting.iter().map(|w| w.slug.as_str()).collect::<Vec<_>>(), ["acme"]);
    let filtered = overview(&pool, &diagnostics, &demo_user("oscar.operator"), Some(GLOBEX)).await.unwrap();
    assert_eq!(filtered.kafka.waiting.iter().map(|w| w.slug.as_str()).collect::<Vec<_>>(), ["globex"]);
    // A tenant outside the viewer's scope is refused, not silently emptied.
    let refused = overview(&pool, &diagnostics, &demo_user("vera.viewer"), Some(GLOBEX)).await.unwrap_err();
    assert_eq!(refused.kind(), ops::ErrorKind::NotAllowed);

    // Once projected, nothing waits.
    sqlx::query(
        "insert into oms.order_projection (order_id, tenant_id, order_number, status, aggregate_version, total_minor,
                                           currency, source_updated_at)
         select order_id, tenant_id, order_number, status, version, total_minor, currency, updated_at
         from oms.sales_order where order_id = any($1)",
    )
    .bind(vec![acme.as_uuid(), globex.as_uuid()])
    .execute(&pool)
    .await
    .unwrap();
    let after = overview(&pool, &diagnostics, &demo_user("oscar.operator"), None).await.unwrap();
    assert!(after.kafka.waiting.is_empty(), "{:?}", after.kafka.waiting);
}
