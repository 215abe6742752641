//! What a projection consumer tells the world about itself: running counts, metrics and the heartbeat
//! row (`platform.worker_heartbeat`, worker kind `projection-consumer`).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use sqlx::PgPool;

use super::apply::Applied;
use super::config::{ProjectionConfig, WORKER_KIND};

/// Counts since this instance started, shared with whoever holds [`super::ProjectionConsumer::stats`].
#[derive(Debug, Default)]
pub struct ProjectionStats {
    processed: AtomicU64,
    projected: AtomicU64,
    stale: AtomicU64,
    duplicates: AtomicU64,
    dead_lettered: AtomicU64,
    errors: AtomicU64,
    paused: AtomicBool,
    /// Milliseconds between the last record's Kafka timestamp and its processing; -1 before the first.
    record_age_ms: AtomicI64,
    /// Records of the assigned partitions not yet processed ([`super::lag`]); -1 before the first reading.
    offset_lag: AtomicI64,
    last_error: Mutex<Option<String>>,
}

/// A copy of [`ProjectionStats`] at one moment; also the heartbeat's `detail.counts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProjectionCounts {
    /// Messages handled to the end (offset stored): projected + stale + duplicates + dead_lettered.
    pub processed: u64,
    pub projected: u64,
    /// First deliveries that did not move the projection (older version, or a line event with no row).
    pub stale: u64,
    /// Redeliveries recognised by the inbox and skipped.
    pub duplicates: u64,
    pub dead_lettered: u64,
    /// Database or Kafka errors (each retried).
    pub errors: u64,
    pub paused: bool,
    /// Offset lag: records of the assigned partitions not yet processed (high watermark minus committed
    /// offset, summed), as last measured; `None` before the first measurement or without partitions.
    pub offset_lag: Option<i64>,
    /// Age of the last processed record (its Kafka timestamp to its processing), in ms. Not a lag: it
    /// stays put while no record arrives.
    pub record_age_ms: Option<i64>,
    pub last_error: Option<String>,
}

impl ProjectionStats {
    pub fn snapshot(&self) -> ProjectionCounts {
        let known = |value: i64| (value >= 0).then_some(value);
        ProjectionCounts {
            processed: self.processed.load(Ordering::Relaxed),
            projected: self.projected.load(Ordering::Relaxed),
            stale: self.stale.load(Ordering::Relaxed),
            duplicates: self.duplicates.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            paused: self.paused.load(Ordering::Relaxed),
            offset_lag: known(self.offset_lag.load(Ordering::Relaxed)),
            record_age_ms: known(self.record_age_ms.load(Ordering::Relaxed)),
            last_error: self.last_error.lock().map(|e| e.clone()).unwrap_or(None),
        }
    }

    pub(super) fn record_applied(&self, group: &str, applied: Applied) {
        self.processed.fetch_add(1, Ordering::Relaxed);
        let (counter, outcome) = match applied {
            Applied::Projected => (&self.projected, "projected"),
            Applied::Stale => (&self.stale, "stale"),
            Applied::Duplicate => (&self.duplicates, "duplicate"),
        };
        counter.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("opsdeck_projection_processed_total", "group" => group.to_string(), "outcome" => outcome)
            .increment(1);
        if applied == Applied::Duplicate {
            metrics::counter!("opsdeck_projection_duplicates_total", "group" => group.to_string()).increment(1);
        }
    }

    pub(super) fn record_dead_letter(&self, group: &str) {
        self.processed.fetch_add(1, Ordering::Relaxed);
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("opsdeck_projection_processed_total", "group" => group.to_string(), "outcome" => "dead_lettered")
            .increment(1);
        metrics::counter!("opsdeck_projection_dead_lettered_total", "group" => group.to_string()).increment(1);
    }

    pub(super) fn record_age(&self, group: &str, age_ms: i64) {
        let age_ms = age_ms.max(0);
        self.record_age_ms.store(age_ms, Ordering::Relaxed);
        metrics::gauge!("opsdeck_projection_record_age_seconds", "group" => group.to_string()).set(age_ms as f64 / 1000.0);
    }

    /// `None`: no partition assigned, so no lag of this instance to speak of.
    pub(super) fn record_offset_lag(&self, group: &str, lag: Option<i64>) {
        self.offset_lag.store(lag.unwrap_or(-1), Ordering::Relaxed);
        metrics::gauge!("opsdeck_projection_offset_lag", "group" => group.to_string()).set(lag.unwrap_or(0) as f64);
    }

    pub(super) fn record_error(&self, error: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error);
        }
    }

    pub(super) fn set_paused(&self, group: &str, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
        metrics::gauge!("opsdeck_projection_paused", "group" => group.to_string()).set(if paused { 1.0 } else { 0.0 });
    }

    pub(super) fn init(&self) {
        self.record_age_ms.store(-1, Ordering::Relaxed);
        self.offset_lag.store(-1, Ordering::Relaxed);
    }
}

/// The consumer's lifecycle as the heartbeat reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectionState {
    Running,
    Paused,
    Stopped,
}

/// Upserts this instance's heartbeat row.
pub async fn beat(
    pool: &PgPool,
    config: &ProjectionConfig,
    state: ProjectionState,
    counts: &ProjectionCounts,
    starting: bool,
) -> sqlx::Result<()> {
    let detail = serde_json::json!({
        "state": state,
        "group": config.group_id,
        "topic": config.topic(),
        "counts": counts,
    });
    crate::worker::beat(pool, &config.instance_id, WORKER_KIND, detail, starting).await
}
