//! What a relay tells the world about itself: its running counts, the heartbeat row the console reads
//! to decide whether a claim's owner is alive, and the backlog gauges.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;
use sqlx::PgPool;

use super::backlog::{outbox_backlog, Backlog};
use super::config::{RelayConfig, WORKER_KIND};

/// Counts since this instance started. Shared between the relay loop, the heartbeat and whoever holds
/// a [`super::Relay::stats`] handle (tests, the benchmark).
#[derive(Debug, Default)]
pub struct RelayStats {
    batches: AtomicU64,
    claimed: AtomicU64,
    published: AtomicU64,
    failed_attempts: AtomicU64,
    gave_up: AtomicU64,
    released: AtomicU64,
    lost_claims: AtomicU64,
    errors: AtomicU64,
    paused: AtomicBool,
    last_error: Mutex<Option<String>>,
}

/// A copy of [`RelayStats`] at one moment; also the heartbeat's `detail`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RelayCounts {
    pub batches: u64,
    pub claimed: u64,
    pub published: u64,
    pub failed_attempts: u64,
    pub gave_up: u64,
    /// Claimed but handed back untried because an earlier event of the aggregate failed.
    pub released: u64,
    /// Settled rows this instance no longer owned (someone released its claim while it worked).
    pub lost_claims: u64,
    /// Batches that broke off on a database error.
    pub errors: u64,
    pub paused: bool,
    pub last_error: Option<String>,
}

impl RelayStats {
    pub fn snapshot(&self) -> RelayCounts {
        RelayCounts {
            batches: self.batches.load(Ordering::Relaxed),
            claimed: self.claimed.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
            failed_attempts: self.failed_attempts.load(Ordering::Relaxed),
            gave_up: self.gave_up.load(Ordering::Relaxed),
            released: self.released.load(Ordering::Relaxed),
            lost_claims: self.lost_claims.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
            paused: self.paused.load(Ordering::Relaxed),
            last_error: self.last_error.lock().map(|e| e.clone()).unwrap_or(None),
        }
    }

    pub(super) fn record_batch(&self, outcome: &super::BatchOutcome) {
        self.batches.fetch_add(1, Ordering::Relaxed);
        self.claimed.fetch_add(outcome.claimed, Ordering::Relaxed);
        self.published.fetch_add(outcome.published, Ordering::Relaxed);
        self.failed_attempts.fetch_add(outcome.failed, Ordering::Relaxed);
        self.gave_up.fetch_add(outcome.gave_up, Ordering::Relaxed);
        self.released.fetch_add(outcome.released, Ordering::Relaxed);
        self.lost_claims.fetch_add(outcome.lost_claims, Ordering::Relaxed);
        if let Some(error) = &outcome.last_error {
            self.set_last_error(error.clone());
        }
        metrics::counter!("opsdeck_outbox_published_total").increment(outcome.published);
        metrics::counter!("opsdeck_outbox_publish_failures_total").increment(outcome.failed);
    }

    pub(super) fn record_error(&self, error: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.set_last_error(error);
    }

    pub(super) fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    fn set_last_error(&self, error: String) {
        if let Ok(mut last) = self.last_error.lock() {
            *last = Some(error);
        }
    }
}

/// The relay's lifecycle as the heartbeat reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RelayState {
    Running,
    Paused,
    /// Stopped cleanly: holds no claims. The console need not wait for the beat to age out.
    Stopped,
}

/// Upserts this instance's heartbeat row. `starting` resets `started_at` (an id is never reused across
/// processes, but a row may survive from an earlier run in tests).
pub async fn beat(pool: &PgPool, config: &RelayConfig, state: RelayState, counts: &RelayCounts, starting: bool) -> sqlx::Result<()> {
    let detail = serde_json::json!({
        "state": state,
        "counts": counts,
        "batch_size": config.batch_size,
        "topic_prefix": config.topic_prefix,
    });
    crate::worker::beat(pool, &config.instance_id, WORKER_KIND, detail, starting).await
}

/// Reads the backlog and publishes it as gauges (the server installs the exporter; without one these
/// calls do nothing).
pub async fn export_backlog(pool: &PgPool) -> crate::Result<Backlog> {
    let backlog = outbox_backlog(pool).await?;
    metrics::gauge!("opsdeck_outbox_pending").set(backlog.pending as f64);
    metrics::gauge!("opsdeck_outbox_oldest_pending_age_seconds").set(backlog.oldest_pending_age_secs.unwrap_or(0.0));
    metrics::gauge!("opsdeck_outbox_processing").set(backlog.processing as f64);
    metrics::gauge!("opsdeck_outbox_stale_claims").set(backlog.stale_claims as f64);
    metrics::gauge!("opsdeck_outbox_failed").set(backlog.failed as f64);
    Ok(backlog)
}
