//! The starter's settings and the retry schedule they imply.

use std::time::Duration;

use uuid::Uuid;

use crate::orchestration::Error;
pub use crate::worker::Retry;
use crate::worker::exponential_backoff;

/// Worker kind written to `platform.worker_heartbeat.worker_kind`, and the actor prefix of the
/// transitions a starter causes.
pub const STARTER_KIND: &str = "orchestration-starter";

/// How one starter instance runs. Build with [`StarterConfig::new`] and override fields as needed; the
/// starter checks the whole thing once, against its engine client, before it starts.
#[derive(Debug, Clone)]
pub struct StarterConfig {
    /// Written to `claimed_by`, `settled_by` and the heartbeat. Unique per running process, so a claim
    /// always names one process.
    pub instance_id: String,
    /// Starts claimed per round, all attempted at once: the most engine calls (and database
    /// connections) this instance has in flight.
    pub concurrency: u32,
    /// Sleep between rounds when the last one was not full.
    pub poll_interval: Duration,
    /// How often the heartbeat row and the backlog gauges are refreshed.
    pub heartbeat_interval: Duration,
    /// Attempts before the start is given up and the order left CAPTURED for a person.
    pub max_attempts: u32,
    /// Delay after the first failed attempt; doubles per attempt up to `backoff_cap`, less up to a fifth
    /// of jitter so that starts failed together do not come back together.
    pub backoff_base: Duration,
    pub backoff_cap: Duration,
    /// How long a claim belongs to this instance. It must outlast an attempt's engine call (the engine
    /// client's request timeout, with room for the database work around it), or a second starter could
    /// take over a claim whose attempt is still able to start an instance.
    pub lease: Duration,
}

impl StarterConfig {
    pub fn new(instance_id: impl Into<String>) -> Self {
        Self {
            instance_id: instance_id.into(),
            concurrency: 4,
            poll_interval: Duration::from_millis(500),
            heartbeat_interval: Duration::from_secs(5),
            // With the backoff below: about seven and a half minutes of engine outage before a start is
            // given up; a longer outage is an incident, and its orders are the stuck-order runbook's.
            max_attempts: 20,
            backoff_base: Duration::from_secs(1),
            // An order waits at most this long after the engine returns (less when the starter sees the
            // engine answer again first and calls every waiting start due at once).
            backoff_cap: Duration::from_secs(30),
            lease: Duration::from_secs(60),
        }
    }

    /// A fresh instance id: `orchestration-starter-<uuid v7>`.
    pub fn generate_instance_id() -> String {
        format!("{STARTER_KIND}-{}", Uuid::now_v7())
    }

    /// Refuses settings the starter cannot honour with an engine client whose requests take up to
    /// `engine_timeout`, naming the field.
    pub fn validate(&self, engine_timeout: Duration) -> Result<(), Error> {
        let invalid = |field: &'static str, message: String| Err(Error::Config { field, message });
        if self.instance_id.trim().is_empty() || self.instance_id.len() > 200 {
            return invalid("instance_id", "must be 1 to 200 characters".into());
        }
        if !(1..=64).contains(&self.concurrency) {
            return invalid("concurrency", "must be between 1 and 64".into());
        }
        if self.max_attempts == 0 || self.max_attempts > 1_000 {
            return invalid("max_attempts", "must be between 1 and 1000".into());
        }
        if self.backoff_base.is_zero() || self.backoff_cap < self.backoff_base {
            return invalid("backoff", "base must be positive and not above the cap".into());
        }
        if self.poll_interval.is_zero() || self.heartbeat_interval.is_zero() {
            return invalid("poll_interval", "intervals must be positive".into());
        }
        if self.lease < engine_timeout.saturating_mul(2) {
            return invalid(
                "lease",
                format!("must be at least twice the engine's request timeout ({} ms)", engine_timeout.as_millis()),
            );
        }
        Ok(())
    }

    /// What happens after a failed attempt, given the attempts made so far (≥ 1) and a `jitter` drawn
    /// from [0, 1): still PENDING and due again after the delay, or GAVE_UP, the order left for a person.
    pub fn after_failure(&self, attempts: u32, jitter: f64) -> Retry {
        if attempts >= self.max_attempts {
            return Retry::GiveUp;
        }
        let delay = exponential_backoff(self.backoff_base, self.backoff_cap, attempts);
        Retry::After(delay.mul_f64(1.0 - 0.2 * jitter.clamp(0.0, 1.0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> StarterConfig {
        StarterConfig {
            max_attempts: 6,
            backoff_base: Duration::from_millis(100),
            backoff_cap: Duration::from_millis(500),
            ..StarterConfig::new("starter-a")
        }
    }

    #[test]
    fn backoff_doubles_per_attempt_up_to_the_cap_and_gives_up_at_max_attempts() {
        let c = config();
        let delays: Vec<Retry> = (1..=6).map(|a| c.after_failure(a, 0.0)).collect();
        let ms = |n| Retry::After(Duration::from_millis(n));
        assert_eq!(delays, [ms(100), ms(200), ms(400), ms(500), ms(500), Retry::GiveUp]);
    }

    #[test]
    fn jitter_shortens_a_delay_by_at_most_a_fifth_and_never_passes_the_cap() {
        let c = config();
        assert_eq!(c.after_failure(2, 0.5), Retry::After(Duration::from_millis(180)));
        match c.after_failure(5, 0.999_999) {
            Retry::After(d) => assert!(d >= Duration::from_millis(400) && d < Duration::from_millis(401), "{d:?}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(c.after_failure(5, 7.0), Retry::After(Duration::from_millis(400)), "jitter is clamped");
        let huge = StarterConfig { max_attempts: 1_000, ..c };
        assert_eq!(huge.after_failure(999, 0.0), Retry::After(Duration::from_millis(500)));
    }

    #[test]
    fn the_defaults_are_valid_with_the_default_engine_client() {
        StarterConfig::new(StarterConfig::generate_instance_id())
            .validate(crate::engine::DEFAULT_REQUEST_TIMEOUT)
            .unwrap();
    }

    #[test]
    fn bad_settings_are_refused_naming_the_field() {
        let bad = [
            (StarterConfig { instance_id: " ".into(), ..config() }, "instance_id"),
            (StarterConfig { concurrency: 0, ..config() }, "concurrency"),
            (StarterConfig { max_attempts: 0, ..config() }, "max_attempts"),
            (StarterConfig { backoff_cap: Duration::from_millis(10), ..config() }, "backoff"),
            (StarterConfig { poll_interval: Duration::ZERO, ..config() }, "poll_interval"),
            (StarterConfig { lease: Duration::from_secs(20), ..config() }, "lease"),
        ];
        for (config, field) in bad {
            match config.validate(Duration::from_secs(15)) {
                Err(Error::Config { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: expected a refusal, got {other:?}"),
            }
        }
    }
}
