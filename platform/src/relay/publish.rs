//! The Kafka side of the relay: one idempotent producer (`acks=all`) and the record an outbox row
//! becomes — topic `<prefix><aggregate_type>`, key = aggregate id (one aggregate, one partition, one
//! order), payload = the event's JSON, and headers that let a consumer deduplicate and order without
//! parsing the payload.

use futures::future::join_all;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

use super::claim::{ClaimedEvent, Published};
use super::config::RelayConfig;

/// Header names on every published record. Consumers deduplicate by [`header::EVENT_ID`] (the outbox
/// event id) and order by [`header::AGGREGATE_VERSION`].
pub mod header {
    pub const EVENT_ID: &str = "event_id";
    pub const EVENT_TYPE: &str = "event_type";
    pub const TENANT_ID: &str = "tenant_id";
    pub const AGGREGATE_TYPE: &str = "aggregate_type";
    pub const AGGREGATE_VERSION: &str = "aggregate_version";
    pub(super) const RESERVED: [&str; 5] = [EVENT_ID, EVENT_TYPE, TENANT_ID, AGGREGATE_TYPE, AGGREGATE_VERSION];
}

/// The topic an aggregate type's events go to.
pub fn topic_for(prefix: &str, aggregate_type: &str) -> String {
    format!("{prefix}{aggregate_type}")
}

/// Creates the producer. Idempotence makes librdkafka's internal retries safe (no duplicates, no
/// reordering within a partition) and implies `acks=all`, which is also set explicitly so the benchmark
/// and a reader see it. Creation does not connect; an unreachable broker shows up as failed sends.
pub fn producer(config: &RelayConfig) -> rdkafka::error::KafkaResult<FutureProducer> {
    ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("client.id", &config.instance_id)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", config.linger.as_millis().to_string())
        .set("batch.size", config.batch_bytes.to_string())
        .set("message.timeout.ms", config.message_timeout.as_millis().to_string())
        // librdkafka logs through the `log` crate; connection chatter during an outage is reported once
        // per failed event by the relay instead.
        .set("log_level", "3")
        .create()
}

/// Sends one record per event concurrently and waits for every acknowledgement. The caller passes at
/// most one event per aggregate (a "wave"), so no two of these can overtake each other.
/// Results are in the order of `events`; an error is the producer's message, kept for `last_error`.
pub async fn send_wave(
    producer: &FutureProducer,
    config: &RelayConfig,
    events: &[&ClaimedEvent],
) -> Vec<Result<Published, String>> {
    join_all(events.iter().map(|event| send_one(producer, config, event))).await
}

async fn send_one(producer: &FutureProducer, config: &RelayConfig, event: &ClaimedEvent) -> Result<Published, String> {
    let topic = topic_for(&config.topic_prefix, &event.aggregate_type);
    let key = event.aggregate_id.to_string();
    let payload = serde_json::to_vec(&event.payload).map_err(|e| format!("payload not serialisable: {e}"))?;
    let record = FutureRecord::to(&topic).key(&key).payload(&payload).headers(headers(event));
    match producer.send(record, config.message_timeout).await {
        Ok(delivery) => Ok(Published {
            outbox_event_id: event.outbox_event_id,
            topic,
            partition: delivery.partition,
            offset: delivery.offset,
        }),
        Err((error, _message)) => Err(error.to_string()),
    }
}

/// The relay's own headers, then the row's `headers` object (correlation id, schema version) as
/// strings; a stored header may not override one of the relay's.
fn headers(event: &ClaimedEvent) -> OwnedHeaders {
    let event_id = event.outbox_event_id.to_string();
    let tenant = event.tenant_id.to_string();
    let version = event.aggregate_version.to_string();
    let mut headers = OwnedHeaders::new_with_capacity(8)
        .insert(Header { key: header::EVENT_ID, value: Some(&event_id) })
        .insert(Header { key: header::EVENT_TYPE, value: Some(&event.event_type) })
        .insert(Header { key: header::TENANT_ID, value: Some(&tenant) })
        .insert(Header { key: header::AGGREGATE_TYPE, value: Some(&event.aggregate_type) })
        .insert(Header { key: header::AGGREGATE_VERSION, value: Some(&version) });
    if let Some(stored) = event.headers.as_object() {
        for (key, value) in stored {
            if header::RESERVED.contains(&key.as_str()) {
                continue;
            }
            let value = match value {
                serde_json::Value::Null => continue,
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            headers = headers.insert(Header { key, value: Some(&value) });
        }
    }
    headers
}
