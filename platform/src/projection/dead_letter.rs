//! The dead-letter topic `<topic>.DLT`: where a record the consumer cannot project goes, byte for byte
//! (same key, payload and headers), with headers saying why and where it came from, so a person can
//! inspect it, fix the cause and replay it.
//!
//! Exactly one copy per poison record, crash or not. The copy and the original's offset are committed
//! in ONE Kafka transaction (the transactional producer's `send_offsets_to_transaction`, KIP-98/447):
//! either both happen or neither does. A consumer that dies after the copy was acknowledged but before
//! the commit leaves an open transaction that Kafka aborts (when the transaction times out, or at once
//! when this instance re-creates its producer under the same `transactional.id`), and an uncommitted
//! offset, so the record is read again and dead-lettered again — in a new transaction, the only one that
//! commits. Before, the copy was acknowledged first and the offset committed after, and a crash in
//! between sent a second copy on redelivery.
//!
//! Readers of the DLT must read committed records only (`isolation.level=read_committed`, librdkafka's
//! default; the Java client's default is `read_uncommitted`): an aborted copy stays in the log, marked
//! aborted, and only such a reader skips it.

use std::sync::Mutex;
use std::time::Duration;

use rdkafka::consumer::ConsumerGroupMetadata;
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

use super::config::ProjectionConfig;

/// Header names added to every dead-letter record.
pub mod header {
    pub const REASON: &str = "dlt_reason";
    pub const ORIGINAL_TOPIC: &str = "dlt_original_topic";
    pub const ORIGINAL_PARTITION: &str = "dlt_original_partition";
    pub const ORIGINAL_OFFSET: &str = "dlt_original_offset";
    pub const CONSUMER_GROUP: &str = "dlt_consumer_group";
}

/// The transactional dead-letter producer of one consumer instance, created (and its transactions
/// initialised) at the first dead letter, re-created after an error that leaves it unusable.
pub struct DeadLetters {
    config: ProjectionConfig,
    producer: Mutex<Option<FutureProducer>>,
}

/// A dead letter sent but not committed: what a crash between the two leaves. [`Staged::commit`]
/// commits it together with the original's offset; dropping it commits nothing.
pub struct Staged {
    producer: FutureProducer,
    offsets: TopicPartitionList,
    timeout: Duration,
}

impl DeadLetters {
    /// Creates nothing yet: the producer connects at the first dead letter.
    pub fn new(config: &ProjectionConfig) -> Self {
        Self { config: config.clone(), producer: Mutex::new(None) }
    }

    /// Sends `message`'s copy to `<its topic>.DLT` and commits it with the original's offset (for the
    /// consumer group `group` describes) in one transaction.
    pub async fn send(&self, group: ConsumerGroupMetadata, message: &OwnedMessage, reason: &str) -> Result<(), String> {
        self.stage(message, reason).await?.commit(group).await
    }

    /// Begins a transaction and sends the copy in it, waiting for the acknowledgement.
    pub async fn stage(&self, message: &OwnedMessage, reason: &str) -> Result<Staged, String> {
        let producer = self.producer().await?;
        let timeout = self.config.message_timeout;
        let result = async {
            producer.begin_transaction().map_err(|e| e.to_string())?;
            let topic = super::config::dead_letter_topic(message.topic());
            let headers = headers(&self.config, message, reason);
            let mut record: FutureRecord<'_, [u8], [u8]> = FutureRecord::to(&topic).headers(headers);
            if let Some(key) = message.key() {
                record = record.key(key);
            }
            if let Some(payload) = message.payload() {
                record = record.payload(payload);
            }
            producer.send(record, timeout).await.map_err(|(error, _)| error.to_string())?;
            let mut offsets = TopicPartitionList::new();
            // The next record to read, as a consumer commit would store it.
            offsets
                .add_partition_offset(message.topic(), message.partition(), Offset::Offset(message.offset() + 1))
                .map_err(|e| e.to_string())?;
            Ok(Staged { producer: producer.clone(), offsets, timeout })
        }
        .await;
        if result.is_err() {
            self.recover(&producer).await;
        }
        result
    }

    /// The producer, created and its transactions initialised if need be. Initialising under this
    /// instance's `transactional.id` also aborts a transaction an earlier producer of it left open.
    async fn producer(&self) -> Result<FutureProducer, String> {
        if let Some(producer) = self.producer.lock().map_err(|e| e.to_string())?.as_ref() {
            return Ok(producer.clone());
        }
        let producer = producer(&self.config).map_err(|e| e.to_string())?;
        let timeout = self.config.message_timeout;
        blocking(&producer, move |p| p.init_transactions(timeout)).await?;
        *self.producer.lock().map_err(|e| e.to_string())? = Some(producer.clone());
        Ok(producer)
    }

    /// After a failed step: abort the open transaction; a producer that cannot (a fatal error) is
    /// dropped and the next dead letter creates a new one.
    async fn recover(&self, producer: &FutureProducer) {
        let timeout = self.config.message_timeout;
        if let Err(error) = blocking(producer, move |p| p.abort_transaction(timeout)).await {
            tracing::warn!(%error, "dead-letter transaction not aborted; the producer is re-created");
            if let Ok(mut slot) = self.producer.lock() {
                *slot = None;
            }
        }
    }
}

impl Staged {
    /// Adds the original's offset to the transaction and commits both.
    pub async fn commit(self, group: ConsumerGroupMetadata) -> Result<(), String> {
        let Staged { producer, offsets, timeout } = self;
        let committed = blocking(&producer, move |p| {
            p.send_offsets_to_transaction(&offsets, &group, timeout)?;
            p.commit_transaction(timeout)
        })
        .await;
        if committed.is_err() {
            // Whatever the error, this transaction is over: the caller retries from the start.
            let _ = blocking(&producer, move |p| p.abort_transaction(timeout)).await;
        }
        committed
    }
}

/// A transactional producer with `transactional.id` `<instance id>-dlt` (one per consumer instance;
/// KIP-447 fences a stale instance through the consumer group's generation, not through this id).
/// `transaction.timeout.ms` is the message timeout, which bounds how long an open transaction of a
/// crashed instance holds back the DLT's committed readers.
pub fn producer(config: &ProjectionConfig) -> rdkafka::error::KafkaResult<FutureProducer> {
    ClientConfig::new()
        .set("bootstrap.servers", &config.brokers)
        .set("client.id", format!("{}-dlt", config.instance_id))
        .set("transactional.id", format!("{}-dlt", config.instance_id))
        .set("transaction.timeout.ms", config.message_timeout.as_millis().to_string())
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("log_level", "3")
        .create()
}

/// The original's headers, then why and where from.
fn headers(config: &ProjectionConfig, message: &OwnedMessage, reason: &str) -> OwnedHeaders {
    let partition = message.partition().to_string();
    let offset = message.offset().to_string();
    let mut headers = OwnedHeaders::new_with_capacity(8);
    if let Some(original) = message.headers() {
        for h in original.iter() {
            headers = headers.insert(Header { key: h.key, value: h.value });
        }
    }
    headers
        .insert(Header { key: header::REASON, value: Some(reason) })
        .insert(Header { key: header::ORIGINAL_TOPIC, value: Some(message.topic()) })
        .insert(Header { key: header::ORIGINAL_PARTITION, value: Some(&partition) })
        .insert(Header { key: header::ORIGINAL_OFFSET, value: Some(&offset) })
        .insert(Header { key: header::CONSUMER_GROUP, value: Some(&config.group_id) })
}

/// The producer's transactional calls block (up to their timeout): run one off the async runtime.
async fn blocking<F>(producer: &FutureProducer, call: F) -> Result<(), String>
where
    F: FnOnce(&FutureProducer) -> Result<(), KafkaError> + Send + 'static,
{
    let producer = producer.clone();
    match tokio::task::spawn_blocking(move || call(&producer)).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(error) => Err(format!("transactional call did not finish: {error}")),
    }
}
