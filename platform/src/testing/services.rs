//! The real services tests talk to: their addresses (from the environment `scripts/stack.sh env`
//! prints, with its defaults), a Kafka reader and topic clean-up, and the fulfillment vendor on port 0.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use tokio::net::TcpListener;
use uuid::Uuid;

use crate::projection::ProjectionConfig;
use crate::vendor::{serve_with, VendorClient, VendorState};

/// `OPSDECK_KAFKA_BROKERS`, default the local broker.
pub fn kafka_brokers() -> String {
    std::env::var("OPSDECK_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:59092".into())
}

/// `OPSDECK_ENGINE_URL` (Operaton's REST root), default the local engine.
pub fn engine_url() -> String {
    std::env::var("OPSDECK_ENGINE_URL").unwrap_or_else(|_| "http://127.0.0.1:58080/engine-rest".into())
}

/// A projection consumer's settings for a test: its own consumer group and topic prefix, and short
/// intervals and retries, so that what a test publishes is projected within a second or two.
pub fn quick_projection_config(group_id: &str, topic_prefix: &str) -> ProjectionConfig {
    ProjectionConfig {
        group_id: group_id.to_string(),
        topic_prefix: topic_prefix.to_string(),
        control_interval: Duration::from_millis(100),
        heartbeat_interval: Duration::from_millis(200),
        retry_base: Duration::from_millis(50),
        message_timeout: Duration::from_secs(10),
        metadata_refresh: Duration::from_millis(500),
        ..ProjectionConfig::new(ProjectionConfig::generate_instance_id(), kafka_brokers())
    }
}

/// A consumer assigned every partition of `topics` from the beginning, outside any consumer group's
/// offsets (a group id of its own, nothing committed), so it reads what is on the topics whoever else
/// consumed them — committed records only (librdkafka's default `isolation.level`). It blocks: poll it
/// inside `spawn_blocking`.
pub fn kafka_reader(topics: &[String]) -> BaseConsumer {
    kafka_reader_with(topics, Isolation::ReadCommitted)
}

/// `isolation.level`: whether a reader skips records of aborted (and still open) transactions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    ReadCommitted,
    /// Every record in the log, aborted transactions' too.
    ReadUncommitted,
}

/// [`kafka_reader`] with the isolation level given.
pub fn kafka_reader_with(topics: &[String], isolation: Isolation) -> BaseConsumer {
    let level = match isolation {
        Isolation::ReadCommitted => "read_committed",
        Isolation::ReadUncommitted => "read_uncommitted",
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", kafka_brokers())
        .set("group.id", format!("test-reader-{}", Uuid::now_v7()))
        .set("enable.auto.commit", "false")
        .set("isolation.level", level)
        .create()
        .expect("a Kafka consumer");
    let mut assignment = TopicPartitionList::new();
    for topic in topics {
        let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("topic metadata");
        for partition in metadata.topics()[0].partitions() {
            assignment.add_partition_offset(topic, partition.id(), Offset::Beginning).expect("a partition");
        }
    }
    consumer.assign(&assignment).expect("the assignment");
    consumer
}

/// Deletes `topics`, best effort: a leftover topic costs disk, not correctness.
pub async fn delete_topics(topics: &[String]) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", kafka_brokers()).create().expect("a Kafka admin client");
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let _ = tokio::time::timeout(Duration::from_secs(10), admin.delete_topics(&names, &AdminOptions::new())).await;
}

/// The fulfillment vendor on an ephemeral loopback port: its in-process state (to make it misbehave or
/// look at what it received) and a client with `timeout`.
pub async fn spawn_vendor(timeout: Duration) -> (VendorState, VendorClient) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().expect("the port's address");
    let state = VendorState::default();
    tokio::spawn(serve_with(listener, state.clone()));
    (state, VendorClient::new(format!("http://{addr}"), timeout))
}

/// `scripts/stack.sh`, found from this crate's sources.
const STACK: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/stack.sh");

/// A service of the stack (`kafka`, `engine`, …) stopped with `scripts/stack.sh down <service>` until
/// [`ServiceOutage::end`] — or the drop, if the test fails first — starts it again and waits until it is
/// ready. A test binary that takes a shared service down runs alone among the test binaries (cargo runs
/// them one after another), and its tests take turns.
pub struct ServiceOutage {
    service: &'static str,
    over: bool,
}

impl ServiceOutage {
    pub async fn begin(service: &'static str) -> Self {
        stack("down", service).await;
        Self { service, over: false }
    }

    /// Starts the service and returns when it is ready.
    pub async fn end(mut self) {
        self.over = true;
        stack("up", self.service).await;
    }
}

impl Drop for ServiceOutage {
    fn drop(&mut self) {
        if !self.over {
            let service = self.service;
            match std::process::Command::new("bash").args([STACK, "up", service]).status() {
                Ok(status) if status.success() => {}
                other => eprintln!("{service} WAS NOT RESTARTED after a failed outage test ({other:?}): run `bash scripts/stack.sh up {service}`"),
            }
        }
    }
}

/// `stack.sh <action> <service>`, off the test's runtime: what the test runs keeps running meanwhile.
async fn stack(action: &'static str, service: &'static str) {
    let status = tokio::task::spawn_blocking(move || std::process::Command::new("bash").args([STACK, action, service]).status())
        .await
        .expect("stack.sh ran")
        .expect("bash started");
    assert!(status.success(), "stack.sh {action} {service}: {status}");
}
