//! The projection consumer and the outbox relay through real Kafka restarts: the broker is stopped with
//! `scripts/stack.sh down kafka` and brought back with `up kafka`, while both keep running in this process.
//!
//! This binary stops the broker every other test binary uses, so it runs alone among them (cargo runs
//! test binaries one after another), its tests take turns ([`OUTAGE`]), and every outage ends with the
//! broker started again and ready — on failure too ([`ServiceOutage`]'s drop) — before the next one
//! begins or the binary exits.

mod projection_world;

use std::time::Duration;

use platform::projection::ProjectionConfig;
use platform::relay::RelayConfig;
use platform::testing::{kafka_brokers, order_journeys, wait_until, ServiceOutage};
use projection_world::{
    inbox_ids, order_event_ids, wait_all_published, RunningConsumer, RunningRelay, World, EVENTS_PER_JOURNEY,
};
use sqlx::PgPool;
use tokio::sync::Mutex;
use tokio::time::{sleep, Instant};

/// One outage at a time.
static OUTAGE: Mutex<()> = Mutex::const_new(());

/// How long the broker stays down: long enough for every client to see it gone (failed sends, the
/// consumer's connection errors piling up), about as long as an outage in the reliability suite.
const DOWN_FOR: Duration = Duration::from_secs(20);

/// How soon after the broker is ready again an event made then must be projected. After a restart
/// the consumer holds no partitions for about a session timeout while it rejoins its group (10 s
/// now; with librdkafka's default 45 s, two rounds in three took 45 s). Observed 10 to 15 s; once,
/// more than 30 s.
const CATCH_UP: Duration = Duration::from_secs(40);

/// The settings `opsdeck platform project` runs with, on this world's topics and group.
fn console_consumer_config(world: &World) -> ProjectionConfig {
    ProjectionConfig {
        group_id: world.group.clone(),
        topic_prefix: world.prefix.clone(),
        ..ProjectionConfig::new(ProjectionConfig::generate_instance_id(), kafka_brokers())
    }
}

/// The settings `opsdeck platform relay` runs with, on this world's topics.
fn console_relay_config(world: &World) -> RelayConfig {
    RelayConfig { topic_prefix: world.prefix.clone(), ..RelayConfig::new(RelayConfig::generate_instance_id(), kafka_brokers()) }
}

async fn wait_all_projected(pool: &PgPool, world: &World, within: Duration) {
    wait_until("every order event is in the inbox", within, || async {
        inbox_ids(pool, &world.group).await.len() == order_event_ids(pool).await.len()
    })
    .await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn events_made_during_and_after_a_kafka_restart_are_published_and_projected_within_forty_seconds_every_time(pool: PgPool) {
    let _turn = OUTAGE.lock().await;
    let world = World::new();
    order_journeys(&pool, 1000..1002, 4).await;
    let relay = RunningRelay::start(&pool, console_relay_config(&world));
    let consumer = RunningConsumer::start(&pool, console_consumer_config(&world));
    consumer.wait_processed(2 * EVENTS_PER_JOURNEY).await;

    let mut next = 1002;
    for round in 1..=3 {
        let outage = ServiceOutage::begin("kafka").await;
        // Made while the broker is down: the events wait in the outbox, the relay's sends fail.
        order_journeys(&pool, next..next + 1, 4).await;
        sleep(DOWN_FOR).await;
        outage.end().await;
        let back = Instant::now();
        // Made once it is back.
        order_journeys(&pool, next + 1..next + 2, 4).await;
        next += 2;
        wait_all_published(&pool).await;
        let published = back.elapsed().as_secs_f64();
        wait_all_projected(&pool, &world, CATCH_UP).await;
        let errors = consumer.counts().errors;
        eprintln!(
            "round {round}: every event published {published:.1} s and projected {:.1} s after the broker was back \
             ({errors} consumer errors so far)",
            back.elapsed().as_secs_f64()
        );
    }

    let inbox = inbox_ids(&pool, &world.group).await;
    assert_eq!(inbox.len() as u64, u64::from(next - 1000) * EVENTS_PER_JOURNEY, "each event projected once");
    consumer.stop().await;
    relay.stop().await;
    world.delete_topics().await;
}
