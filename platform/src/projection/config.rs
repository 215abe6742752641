//! The projection consumer's settings.

use std::time::Duration;

use uuid::Uuid;

use super::Error;

/// Worker kind written to `platform.worker_heartbeat.worker_kind`.
pub const WORKER_KIND: &str = "projection-consumer";

/// The consumer group (and, with [`PAUSE_CONSUMER_PREFIX`], the pause switch) of the order projection.
pub const DEFAULT_GROUP: &str = "order-projection";

/// How one projection consumer runs. Build with [`ProjectionConfig::new`], override fields as needed.
#[derive(Debug, Clone)]
pub struct ProjectionConfig {
    /// Heartbeat row id; unique per process.
    pub instance_id: String,
    /// Kafka `bootstrap.servers`.
    pub brokers: String,
    /// Kafka `group.id`; also the inbox's `consumer_group` and the pause switch's target.
    pub group_id: String,
    /// Topics are `<topic_prefix>order` (the relay's naming) and `<topic_prefix>order.DLT`.
    pub topic_prefix: String,
    /// Where a new group starts: `earliest` (the default: a fresh projection rebuilds from history) or `latest`.
    pub auto_offset_reset: String,
    /// How often the pause switch is read.
    pub control_interval: Duration,
    /// How often the heartbeat row is written.
    pub heartbeat_interval: Duration,
    /// First delay after a database error on a valid message (doubles, capped at 30 s).
    pub retry_base: Duration,
    /// Dead-letter producer `message.timeout.ms`.
    pub message_timeout: Duration,
    /// librdkafka `topic.metadata.refresh.interval.ms`: how soon a subscribed topic created after the
    /// consumer started is noticed.
    pub metadata_refresh: Duration,
    /// Kafka `session.timeout.ms`: how long the group waits for a member that stopped heartbeating
    /// before it hands its partitions to the others. librdkafka's 45 s default is what a killed
    /// instance's partitions waited, and what a consumer waited after a Kafka restart when it rejoined
    /// under a new member id while the group still counted its old one. 10 s is safe: heartbeats come
    /// from librdkafka's own thread every 3 s whatever the message handling does (a stuck handler is
    /// `max.poll.interval.ms`'s business), and the broker accepts 6 s to 300 s.
    pub session_timeout: Duration,
}

impl ProjectionConfig {
    pub fn new(instance_id: impl Into<String>, brokers: impl Into<String>) -> Self {
        Self {
            instance_id: instance_id.into(),
            brokers: brokers.into(),
            group_id: DEFAULT_GROUP.into(),
            topic_prefix: "opsdeck.".into(),
            auto_offset_reset: "earliest".into(),
            control_interval: Duration::from_secs(1),
            heartbeat_interval: Duration::from_secs(5),
            retry_base: Duration::from_millis(200),
            message_timeout: Duration::from_secs(30),
            metadata_refresh: Duration::from_secs(10),
            session_timeout: Duration::from_secs(10),
        }
    }

    /// A fresh instance id: `projection-consumer-<uuid v7>`.
    pub fn generate_instance_id() -> String {
        format!("{WORKER_KIND}-{}", Uuid::now_v7())
    }

    /// The topic consumed: the relay's topic for aggregate type `order`.
    pub fn topic(&self) -> String {
        crate::relay::topic_for(&self.topic_prefix, crate::outbox::aggregate::ORDER)
    }

    /// The dead-letter topic: `<topic>.DLT`.
    pub fn dead_letter_topic(&self) -> String {
        dead_letter_topic(&self.topic())
    }

    /// Refuses settings the consumer cannot honour, naming the field.
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |field: &'static str, message: &str| Err(Error::Config { field, message: message.to_string() });
        if self.instance_id.trim().is_empty() || self.instance_id.len() > 200 {
            return invalid("instance_id", "must be 1 to 200 characters");
        }
        if self.brokers.trim().is_empty() {
            return invalid("brokers", "must name at least one host:port");
        }
        if self.group_id.trim().is_empty() || self.group_id.len() > 200 {
            return invalid("group_id", "must be 1 to 200 characters");
        }
        let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if !self.topic_prefix.chars().all(legal) || self.topic_prefix.len() > 200 {
            return invalid("topic_prefix", "may hold only letters, digits, '.', '_' and '-' (at most 200)");
        }
        if !matches!(self.auto_offset_reset.as_str(), "earliest" | "latest") {
            return invalid("auto_offset_reset", "must be earliest or latest");
        }
        if self.control_interval.is_zero() || self.heartbeat_interval.is_zero() || self.retry_base.is_zero() {
            return invalid("intervals", "must be positive");
        }
        // The broker's default group.min.session.timeout.ms and group.max.session.timeout.ms.
        if !(Duration::from_secs(6)..=Duration::from_secs(300)).contains(&self.session_timeout) {
            return invalid("session_timeout", "must be between 6 s and 300 s");
        }
        Ok(())
    }
}

/// `<topic>.DLT`.
pub fn dead_letter_topic(topic: &str) -> String {
    format!("{topic}.DLT")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_valid_and_name_the_order_topics() {
        let c = ProjectionConfig::new(ProjectionConfig::generate_instance_id(), "127.0.0.1:9092");
        c.validate().unwrap();
        assert_eq!(c.group_id, "order-projection");
        assert_eq!(c.topic(), "opsdeck.order");
        assert_eq!(c.dead_letter_topic(), "opsdeck.order.DLT");
    }

    #[test]
    fn bad_settings_are_refused_naming_the_field() {
        let base = ProjectionConfig::new("p-1", "127.0.0.1:9092");
        let bad = [
            (ProjectionConfig { instance_id: " ".into(), ..base.clone() }, "instance_id"),
            (ProjectionConfig { brokers: String::new(), ..base.clone() }, "brokers"),
            (ProjectionConfig { group_id: String::new(), ..base.clone() }, "group_id"),
            (ProjectionConfig { topic_prefix: "a b".into(), ..base.clone() }, "topic_prefix"),
            (ProjectionConfig { auto_offset_reset: "smallest".into(), ..base.clone() }, "auto_offset_reset"),
            (ProjectionConfig { session_timeout: Duration::from_secs(1), ..base.clone() }, "session_timeout"),
        ];
        for (config, field) in bad {
            match config.validate() {
                Err(Error::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected a refusal, got {other:?}"),
            }
        }
    }
}
