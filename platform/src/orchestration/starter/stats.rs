//! What a starter tells the world about itself: its counts (in the heartbeat's `detail`) and its
//! metrics — a counter per outcome and the backlog gauges.

use std::sync::Mutex;

use serde::Serialize;
use sqlx::PgPool;

use super::intent::{start_backlog, StartBacklog};

/// What starts came to, in one round or since the instance started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StartCounts {
    pub claimed: u64,
    pub started: u64,
    pub adopted: u64,
    pub already_running: u64,
    pub skipped: u64,
    /// Failed attempts, the ones that gave up included.
    pub failed: u64,
    /// Starts given up: out of attempts after a failure, or found exhausted (their last attempt never
    /// settled).
    pub gave_up: u64,
    /// Claims this instance no longer held when it came to settle them.
    pub lost_claims: u64,
    /// Attempts that ended on a database error (the claim's lease brings them back).
    pub errors: u64,
}

impl StartCounts {
    fn add(&mut self, other: &StartCounts) {
        self.claimed += other.claimed;
        self.started += other.started;
        self.adopted += other.adopted;
        self.already_running += other.already_running;
        self.skipped += other.skipped;
        self.failed += other.failed;
        self.gave_up += other.gave_up;
        self.lost_claims += other.lost_claims;
        self.errors += other.errors;
    }
}

/// A copy of a starter's state at one moment; also the heartbeat's `detail.counts`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StarterCounts {
    pub rounds: u64,
    pub totals: StartCounts,
    /// The last attempt could not reach the engine, and no answer has come since.
    pub engine_down: bool,
    pub last_error: Option<String>,
}

/// Shared between the starter's loop, its heartbeat and whoever holds [`super::Starter::stats`].
#[derive(Debug, Default)]
pub struct StarterStats(Mutex<StarterCounts>);

impl StarterStats {
    pub fn snapshot(&self) -> StarterCounts {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub(super) fn record_round(&self, round: &StartCounts, last_error: Option<String>) {
        metrics::counter!("opsdeck_orchestration_starts_total", "outcome" => "started").increment(round.started);
        metrics::counter!("opsdeck_orchestration_starts_total", "outcome" => "adopted").increment(round.adopted);
        metrics::counter!("opsdeck_orchestration_starts_total", "outcome" => "already_running")
            .increment(round.already_running);
        metrics::counter!("opsdeck_orchestration_starts_total", "outcome" => "skipped").increment(round.skipped);
        metrics::counter!("opsdeck_orchestration_start_failures_total").increment(round.failed);
        metrics::counter!("opsdeck_orchestration_start_given_up_total").increment(round.gave_up);
        self.update(|c| {
            c.rounds += 1;
            c.totals.add(round);
            if last_error.is_some() {
                c.last_error = last_error;
            }
        });
    }

    pub(super) fn record_error(&self, error: String) {
        self.update(|c| {
            c.totals.errors += 1;
            c.last_error = Some(error);
        });
    }

    pub(super) fn set_engine_down(&self, down: bool) {
        metrics::gauge!("opsdeck_orchestration_start_engine_down").set(if down { 1.0 } else { 0.0 });
        self.update(|c| c.engine_down = down);
    }

    fn update(&self, change: impl FnOnce(&mut StarterCounts)) {
        if let Ok(mut counts) = self.0.lock() {
            change(&mut counts);
        }
    }
}

/// Reads the start backlog and publishes it as gauges (the process installs the exporter; without one
/// these calls do nothing).
pub async fn export_start_backlog(pool: &PgPool) -> crate::Result<StartBacklog> {
    let backlog = start_backlog(pool).await?;
    metrics::gauge!("opsdeck_orchestration_start_pending").set(backlog.pending as f64);
    metrics::gauge!("opsdeck_orchestration_start_oldest_pending_age_seconds")
        .set(backlog.oldest_pending_age_secs.unwrap_or(0.0));
    metrics::gauge!("opsdeck_orchestration_start_given_up_waiting").set(backlog.given_up_waiting as f64);
    Ok(backlog)
}
