//! The dead-letter topic `<topic>.DLT`: where a record the consumer cannot project goes, byte for byte
//! (same key, payload and headers), with headers saying why and where it came from, so a person can
//! inspect it, fix the cause and replay it.

use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::ClientConfig;

use super::config::ProjectionConfig;

/// Header names added to every dead-letter record.
pub mod header {
    pub const REASON: &str = "dlt_reason";
    pub const ORIGINAL_TOPIC: &str = "dlt_original_topic";
    pub const ORIGINAL_PARTITION: &str = "dlt_original_partition";
    pub const ORIGINAL_OFFSET: &str = "dlt_original_offset";
    pub const CONSUMER_GROUP: &str = "dlt_consumer_group";
}

/// An idempotent producer with `acks=all`: a dead letter is acknowledged before the original's offset
/// is committed.
pub fn producer(config: &ProjectionConfig) -> rdkafka::error::KafkaResult<FutureProducer> {
    ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("client.id", format!("{}-dlt", config.instance_id))
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("message.timeout.ms", config.message_timeout.as_millis().to_string())
        .set("log_level", "3")
        .create()
}

/// Sends `message` to `<its topic>.DLT` and waits for the acknowledgement.
pub async fn send(
    producer: &FutureProducer,
    config: &ProjectionConfig,
    message: &OwnedMessage,
    reason: &str,
) -> Result<(), String> {
    let topic = super::config::dead_letter_topic(message.topic());
    let partition = message.partition().to_string();
    let offset = message.offset().to_string();
    let mut headers = OwnedHeaders::new_with_capacity(8);
    if let Some(original) = message.headers() {
        for h in original.iter() {
            headers = headers.insert(Header { key: h.key, value: h.value });
        }
    }
    let headers = headers
        .insert(Header { key: header::REASON, value: Some(reason) })
        .insert(Header { key: header::ORIGINAL_TOPIC, value: Some(message.topic()) })
        .insert(Header { key: header::ORIGINAL_PARTITION, value: Some(&partition) })
        .insert(Header { key: header::ORIGINAL_OFFSET, value: Some(&offset) })
        .insert(Header { key: header::CONSUMER_GROUP, value: Some(&config.group_id) });
    let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&topic).headers(headers);
    if let Some(key) = message.key() {
        record = record.key(key);
    }
    if let Some(payload) = message.payload() {
        record = record.payload(payload);
    }
    producer.send(record, config.message_timeout).await.map(|_| ()).map_err(|(error, _)| error.to_string())
}
