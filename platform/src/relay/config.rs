//! The relay's settings and the retry schedule they imply.

use std::time::Duration;

use uuid::Uuid;

use super::Error;
pub use crate::worker::Retry;
use crate::worker::exponential_backoff;

/// Worker kind written to `platform.worker_heartbeat.worker_kind`.
pub const WORKER_KIND: &str = "outbox-relay";

/// How one relay instance runs. Build with [`RelayConfig::new`] and override fields as needed; the
/// relay checks the whole thing once ([`RelayConfig::validate`]) before it starts.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Written to `claimed_by` and to the heartbeat: the name under which this process owns claims.
    /// Unique per running process, so a restarted relay never mistakes a dead run's claims for its own.
    pub instance_id: String,
    /// Kafka `bootstrap.servers`.
    pub brokers: String,
    /// Topics are `<topic_prefix><aggregate_type>`, e.g. `opsdeck.order`.
    pub topic_prefix: String,
    /// Events claimed per round trip.
    pub batch_size: u32,
    /// Batches in flight at once in this process, each claimed by its own statement: while one waits for
    /// Kafka's acknowledgements another is claimed or settled. The claim keeps an aggregate's events in
    /// order across concurrent claims (as across instances), so lanes never reorder one aggregate.
    pub lanes: u32,
    /// Sleep between claims when the last batch was not full (or the relay is paused).
    pub poll_interval: Duration,
    /// How often the heartbeat row and the backlog gauges are refreshed.
    pub heartbeat_interval: Duration,
    /// Publish attempts before an event is left FAILED for a person (`next_attempt_at` null).
    pub max_attempts: u32,
    /// Delay after the first failed attempt; doubles per attempt up to `backoff_cap`.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// librdkafka `message.timeout.ms`: how long the producer keeps retrying one message internally
    /// before it reports the attempt failed.
    pub message_timeout: Duration,
    /// librdkafka `linger.ms` and `batch.size` (bytes per partition batch). The benchmark hands the same
    /// two values to Kafka's own producer perf tool.
    pub linger: Duration,
    pub batch_bytes: u32,
}

impl RelayConfig {
    pub fn new(instance_id: impl Into<String>, brokers: impl Into<String>) -> Self {
        Self {
            instance_id: instance_id.into(),
            brokers: brokers.into(),
            topic_prefix: "opsdeck.".into(),
            batch_size: 200,
            lanes: 2,
            poll_interval: Duration::from_millis(500),
            heartbeat_interval: Duration::from_secs(5),
            max_attempts: 10,
            backoff_base: Duration::from_secs(1),
            backoff_cap: Duration::from_secs(300),
            message_timeout: Duration::from_secs(30),
            linger: Duration::from_millis(5),
            batch_bytes: 131_072,
        }
    }

    /// A fresh instance id: `outbox-relay-<uuid v7>`. Never reused, so claims always name one process.
    pub fn generate_instance_id() -> String {
        format!("{WORKER_KIND}-{}", Uuid::now_v7())
    }

    /// Refuses settings the relay cannot honour, naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |field: &'static str, message: &str| Err(Error::Config { field, message: message.to_string() });
        if self.instance_id.trim().is_empty() || self.instance_id.len() > 200 {
            return invalid("instance_id", "must be 1 to 200 characters");
        }
        if self.brokers.trim().is_empty() {
            return invalid("brokers", "must name at least one host:port");
        }
        // Kafka topic names: [a-zA-Z0-9._-], at most 249 characters; leave room for the aggregate type.
        let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if !self.topic_prefix.chars().all(legal) || self.topic_prefix.len() > 200 {
            return invalid("topic_prefix", "may hold only letters, digits, '.', '_' and '-' (at most 200)");
        }
        if !(1..=10_000).contains(&self.batch_size) {
            return invalid("batch_size", "must be between 1 and 10000");
        }
        if !(1..=16).contains(&self.lanes) {
            return invalid("lanes", "must be between 1 and 16");
        }
        if self.max_attempts == 0 {
            return invalid("max_attempts", "must be at least 1");
        }
        if self.backoff_base.is_zero() || self.backoff_cap < self.backoff_base {
            return invalid("backoff", "base must be positive and not above the cap");
        }
        if self.poll_interval.is_zero() || self.heartbeat_interval.is_zero() {
            return invalid("poll_interval", "intervals must be positive");
        }
        if self.message_timeout < Duration::from_millis(1) {
            return invalid("message_timeout", "must be at least 1 ms");
        }
        if self.batch_bytes == 0 {
            return invalid("batch_bytes", "must be positive");
        }
        Ok(())
    }

    /// What happens after a failed attempt, given how many attempts the event has now had (≥ 1):
    /// FAILED with `next_attempt_at = now() + delay` (the claim takes it again once due), or FAILED for
    /// good with `next_attempt_at` null, left for a person (republish or quarantine).
    pub fn after_failure(&self, attempts: u32) -> Retry {
        if attempts >= self.max_attempts {
            return Retry::GiveUp;
        }
        Retry::After(exponential_backoff(self.backoff_base, self.backoff_cap, attempts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> RelayConfig {
        RelayConfig {
            max_attempts: 5,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_millis(500),
            ..RelayConfig::new("relay-a", "127.0.0.1:9092")
        }
    }

    #[test]
    fn backoff_doubles_per_attempt_up_to_the_cap_and_gives_up_at_max_attempts() {
        let c = config();
        let delays: Vec<Retry> = (1..=5).map(|a| c.after_failure(a)).collect();
        assert_eq!(
            delays,
            [
                Retry::After(Duration::from_millis(100)),
                Retry::After(Duration::from_millis(200)),
                Retry::After(Duration::from_millis(400)),
                Retry::After(Duration::from_millis(500)),
                Retry::GiveUp,
            ]
        );
    }

    #[test]
    fn a_huge_attempt_count_neither_overflows_nor_exceeds_the_cap() {
        let c = RelayConfig { max_attempts: u32::MAX, ..config() };
        assert_eq!(c.after_failure(u32::MAX - 1), Retry::After(Duration::from_millis(500)));
    }

    #[test]
    fn the_defaults_are_valid() {
        RelayConfig::new(RelayConfig::generate_instance_id(), "127.0.0.1:9092").validate().unwrap();
    }

    #[test]
    fn bad_settings_are_refused_naming_the_field() {
        let bad = [
            (RelayConfig { instance_id: " ".into(), ..config() }, "instance_id"),
            (RelayConfig { brokers: String::new(), ..config() }, "brokers"),
            (RelayConfig { topic_prefix: "ops deck/".into(), ..config() }, "topic_prefix"),
            (RelayConfig { batch_size: 0, ..config() }, "batch_size"),
            (RelayConfig { max_attempts: 0, ..config() }, "max_attempts"),
            (RelayConfig { backoff_cap: Duration::from_millis(10), ..config() }, "backoff"),
        ];
        for (config, field) in bad {
            match config.validate() {
                Err(Error::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected a refusal, got {other:?}"),
            }
        }
    }
}
