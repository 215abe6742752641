//! The diagnostics' settings: how often the sampler runs, how long samples are kept, and the thresholds
//! of the runbooks' alerts (runbooks/README.md, "Alerts referenced by the runbooks").

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiagnosticsConfig {
    /// Time between sampling rounds.
    pub interval: Duration,
    /// Samples per partition the lag evaluator looks at (Burrow's window).
    pub window: u32,
    /// Samples older than this are deleted.
    pub retention: Duration,
    /// The consumer lag SLA: the oldest unconsumed record, or the oldest order waiting for its
    /// projection, may be this old (`kafka_consumer_lag_sla_breach`, `projection_stale`).
    pub lag_sla: Duration,
    /// `outbox_pending_age_high`.
    pub outbox_pending_age: Duration,
    /// `postgres_lock_waits`.
    pub lock_wait: Duration,
    /// `postgres_long_transactions`.
    pub long_transaction: Duration,
    /// `orders_stuck`: a non-terminal order not updated for this long.
    pub order_stuck_after: Duration,
    /// Redis PING round trips slower than this are degraded.
    pub redis_slow: Duration,
    /// How many engine incidents and failed jobs are read per round.
    pub engine_max: u32,
}

impl Default for DiagnosticsConfig {
    fn default() -> Self {
        DiagnosticsConfig {
            interval: Duration::from_secs(15),
            window: 10,
            retention: Duration::from_secs(60 * 60),
            lag_sla: Duration::from_secs(5 * 60),
            outbox_pending_age: Duration::from_secs(5 * 60),
            lock_wait: Duration::from_secs(30),
            long_transaction: Duration::from_secs(5 * 60),
            order_stuck_after: Duration::from_secs(30 * 60),
            redis_slow: Duration::from_millis(50),
            engine_max: 500,
        }
    }
}

impl DiagnosticsConfig {
    /// With a sampling interval of `interval` (the rest as default).
    pub fn every(interval: Duration) -> Self {
        DiagnosticsConfig { interval, ..Self::default() }
    }

    /// The evaluator's silence floor: one sampling interval and a half.
    pub fn lag_rules(&self) -> super::kafka::Rules {
        super::kafka::Rules { min_silence: self.interval + self.interval / 2 }
    }
}
