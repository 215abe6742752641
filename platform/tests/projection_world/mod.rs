//! What the projection tests share: a test's world (its own topic prefix and consumer group), a
//! projection consumer and an outbox relay running in the background, and the wait for the relay to
//! have published everything. A test file uses it with `mod projection_world;`.
#![allow(dead_code)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use platform::projection::{ProjectionConfig, ProjectionConsumer, ProjectionCounts, ProjectionStats};
use platform::relay::{Relay, RelayConfig, RelayCounts};
use platform::testing::{count, delete_topics, kafka_brokers, quick_projection_config, wait_until};
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// One test's world: its topic prefix and consumer group.
pub struct World {
    pub prefix: String,
    pub group: String,
}

impl World {
    pub fn new() -> Self {
        let id = Uuid::now_v7().simple();
        Self { prefix: format!("test.projection.{id}."), group: format!("order-projection-{id}") }
    }
    pub fn order_topic(&self) -> String {
        format!("{}order", self.prefix)
    }
    pub fn consumer_config(&self) -> ProjectionConfig {
        quick_projection_config(&self.group, &self.prefix)
    }
    pub fn relay_config(&self) -> RelayConfig {
        RelayConfig {
            topic_prefix: self.prefix.clone(),
            batch_size: 20,
            poll_interval: Duration::from_millis(50),
            heartbeat_interval: Duration::from_millis(500),
            message_timeout: Duration::from_secs(10),
            linger: Duration::from_millis(1),
            ..RelayConfig::new(RelayConfig::generate_instance_id(), kafka_brokers())
        }
    }
    pub async fn delete_topics(&self) {
        delete_topics(&[self.order_topic(), format!("{}order.DLT", self.prefix), format!("{}quote", self.prefix)]).await;
    }
}

pub struct RunningConsumer {
    stop: watch::Sender<bool>,
    handle: JoinHandle<ProjectionCounts>,
    pub stats: Arc<ProjectionStats>,
    pub instance_id: String,
}

impl RunningConsumer {
    pub fn start(pool: &PgPool, config: ProjectionConfig) -> Self {
        let instance_id = config.instance_id.clone();
        let consumer = ProjectionConsumer::new(pool.clone(), config).unwrap();
        let stats = consumer.stats();
        let (stop, shutdown) = watch::channel(false);
        let handle = tokio::spawn(consumer.run(shutdown));
        Self { stop, handle, stats, instance_id }
    }
    pub fn counts(&self) -> ProjectionCounts {
        self.stats.snapshot()
    }
    pub async fn stop(self) -> ProjectionCounts {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.handle).await.expect("consumer stops within 30 s").unwrap()
    }
    pub async fn wait_processed(&self, at_least: u64) {
        let stats = Arc::clone(&self.stats);
        wait_until(&format!("{at_least} messages are processed"), Duration::from_secs(60), move || {
            let stats = Arc::clone(&stats);
            async move { stats.snapshot().processed >= at_least }
        })
        .await;
    }
}

pub struct RunningRelay {
    stop: watch::Sender<bool>,
    handle: JoinHandle<RelayCounts>,
}

impl RunningRelay {
    pub fn start(pool: &PgPool, config: RelayConfig) -> Self {
        let relay = Relay::new(pool.clone(), config).unwrap();
        let (stop, shutdown) = watch::channel(false);
        Self { stop, handle: tokio::spawn(relay.run(shutdown)) }
    }
    pub async fn stop(self) {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(30), self.handle).await.expect("relay stops within 30 s").unwrap();
    }
}

pub const EVENTS_PER_JOURNEY: u64 = 5;

pub async fn wait_all_published(pool: &PgPool) {
    wait_until("every outbox event is published", Duration::from_secs(60), || async {
        count(pool, "select count(*) from messaging.outbox_event where status <> 'PUBLISHED'").await == 0
    })
    .await;
}

pub async fn inbox_ids(pool: &PgPool, group: &str) -> Vec<Uuid> {
    sqlx::query_scalar("select message_id from messaging.inbox_message where consumer_group = $1")
        .bind(group)
        .fetch_all(pool)
        .await
        .unwrap()
}

pub async fn order_event_ids(pool: &PgPool) -> HashSet<Uuid> {
    sqlx::query_scalar("select outbox_event_id from messaging.outbox_event where aggregate_type = 'order'")
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}
