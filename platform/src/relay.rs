//! The outbox relay: the long-running worker that moves committed outbox events to Kafka (lesson 12).
//!
//! Each round it claims a batch with a lease (`status = 'PROCESSING'`, `claimed_by`, `claimed_at`, one
//! `update … where id in (select … for update skip locked)`), publishes the events, and settles every
//! claimed row: PUBLISHED with its topic/partition/offset, or FAILED with `last_error` and a backoff
//! (`next_attempt_at`), or FAILED for good after `max_attempts`. Any number of instances may run side by
//! side, and each instance keeps [`RelayConfig::lanes`] batches in flight; `skip locked` keeps them off
//! each other's rows.
//!
//! Ordering: one aggregate's events reach Kafka in aggregate-version order. Records are keyed by
//! aggregate id (one partition per aggregate); the claim never takes event v+1 while v is unpublished
//! and not claimed by the same statement ([`claim::claim`]); and within a batch an aggregate's events
//! go out in "waves" — the next one is sent only after the previous one was acknowledged, and if one
//! fails the rest of that aggregate are handed back untried. Events of different aggregates are sent
//! concurrently, so a batch of distinct aggregates is a single wave.
//!
//! Delivery is at-least-once: a relay that dies between Kafka's acknowledgement and the PUBLISHED
//! update leaves a claim that is published again once released; consumers deduplicate by event id.
//!
//! It also writes a heartbeat (`platform.worker_heartbeat`) so the console can tell a live claim owner
//! from a dead one, exports the backlog as gauges, and stops claiming while the PAUSE_RELAY switch is on.
//! It never releases another instance's claims: that is the stale-claim repair's job, after it has
//! checked the owner's heartbeat. Nor does it skip an event it cannot publish: a person quarantines it
//! ([`quarantine`]), which keeps it and says why.

mod backlog;
mod claim;
mod config;
mod control;
mod heartbeat;
mod publish;
pub mod quarantine;
pub mod release;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use rdkafka::producer::FutureProducer;
use sqlx::PgPool;
use tokio::sync::{watch, Notify};
use tracing::Instrument;

pub use backlog::{outbox_backlog, Backlog, STALE_CLAIM_AFTER};
pub use config::{RelayConfig, Retry, WORKER_KIND};
pub use control::{relay_paused, PAUSE_RELAY};
pub use heartbeat::{export_backlog, RelayCounts, RelayState, RelayStats};
pub use publish::{header, topic_for};

use claim::{ClaimedEvent, Failed, Published};
use crate::ids::OutboxEventId;
use crate::worker::{run_rounds, sleep_or_stop};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid relay setting {field}: {message}")]
    Config { field: &'static str, message: String },

    #[error("kafka producer: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),

    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What one claim → publish → settle round did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub claimed: u64,
    pub published: u64,
    /// Failed attempts (including those that gave up).
    pub failed: u64,
    /// Of `failed`, events that ran out of attempts.
    pub gave_up: u64,
    /// Handed back untried behind a failed earlier event of the same aggregate.
    pub released: u64,
    /// Rows no longer owned by this instance when it came to settle them.
    pub lost_claims: u64,
    pub last_error: Option<String>,
}

/// One relay instance. Build it with [`Relay::new`], start it with [`Relay::run`].
pub struct Relay {
    pool: PgPool,
    config: RelayConfig,
    producer: FutureProducer,
    stats: Arc<RelayStats>,
    /// Wakes the heartbeat early when the paused state flips, so the console sees it at once.
    state_changed: Notify,
}

impl Relay {
    /// Checks the configuration and creates the Kafka producer (which connects lazily).
    pub fn new(pool: PgPool, config: RelayConfig) -> Result<Self, Error> {
        config.validate()?;
        let producer = publish::producer(&config)?;
        Ok(Self { pool, config, producer, stats: Arc::default(), state_changed: Notify::new() })
    }

    pub fn config(&self) -> &RelayConfig {
        &self.config
    }

    /// Live counts of this instance, readable while it runs.
    pub fn stats(&self) -> Arc<RelayStats> {
        Arc::clone(&self.stats)
    }

    /// Runs until `shutdown` turns true (or its sender is dropped), then finishes the batch in hand
    /// (at most `message_timeout` per wave when Kafka is unreachable), writes a last heartbeat saying
    /// `stopped` and returns the counts. A stopped relay holds no claims.
    /// Database or Kafka trouble never ends the loop: it is logged, counted and retried with a delay.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> RelayCounts {
        let span = tracing::info_span!(
            "outbox_relay",
            instance = %self.config.instance_id,
            batch_size = self.config.batch_size,
            topic_prefix = %self.config.topic_prefix,
        );
        async {
            tracing::info!(brokers = %self.config.brokers, "outbox relay started");
            tokio::join!(self.work(shutdown.clone()), self.heartbeat(shutdown.clone()));
            let counts = self.stats.snapshot();
            if let Err(error) = heartbeat::beat(&self.pool, &self.config, RelayState::Stopped, &counts, false).await {
                tracing::warn!(%error, "last heartbeat not written");
            }
            tracing::info!(published = counts.published, failed_attempts = counts.failed_attempts, "outbox relay stopped");
            counts
        }
        .instrument(span)
        .await
    }

    async fn work(&self, shutdown: watch::Receiver<bool>) {
        // Ids are fresh per process, so this is normally a no-op at start; after a batch broke off it
        // returns the rows this (live) instance still holds.
        let unsettled_claims = AtomicBool::new(true);
        let unsettled = &unsettled_claims;
        let round = || async move {
            if unsettled.load(Ordering::Relaxed) {
                let recovered = claim::recover_own_claims(&self.pool, &self.config.instance_id).await?;
                if recovered > 0 {
                    tracing::warn!(recovered, "own unsettled claims returned to PENDING");
                }
                unsettled.store(false, Ordering::Relaxed);
            }
            let paused = control::relay_paused(&self.pool).await?;
            if paused != self.stats.snapshot().paused {
                tracing::info!(paused, "PAUSE_RELAY switch changed");
                self.stats.set_paused(paused);
                self.state_changed.notify_one();
            }
            if paused {
                return Ok::<_, Error>(false);
            }
            // `lanes` batches at once. The round ends when all have settled, so an error's recovery of
            // this instance's claims (above) never runs while one of its own batches is in flight.
            let outcomes = futures::future::join_all((0..self.config.lanes).map(|_| self.relay_once())).await;
            let mut full = false;
            for outcome in outcomes {
                // A full batch: more is probably waiting.
                full |= outcome?.claimed >= u64::from(self.config.batch_size);
            }
            Ok(full)
        };
        run_rounds(shutdown, self.config.poll_interval, round, |error| {
            tracing::warn!(%error, "relay round failed; retrying");
            self.stats.record_error(error.to_string());
            unsettled.store(true, Ordering::Relaxed);
        })
        .await;
    }

    async fn heartbeat(&self, mut shutdown: watch::Receiver<bool>) {
        let mut starting = true;
        loop {
            let counts = self.stats.snapshot();
            let state = if counts.paused { RelayState::Paused } else { RelayState::Running };
            match heartbeat::beat(&self.pool, &self.config, state, &counts, starting).await {
                Ok(()) => starting = false,
                Err(error) => tracing::warn!(%error, "heartbeat not written"),
            }
            if let Err(error) = heartbeat::export_backlog(&self.pool).await {
                tracing::debug!(%error, "backlog gauges not refreshed");
            }
            tokio::select! {
                stop = sleep_or_stop(&mut shutdown, self.config.heartbeat_interval) => if stop { break },
                _ = self.state_changed.notified() => {}
            }
        }
    }

    /// One round: claim a batch, publish it wave by wave, settle every claimed row. Public so a caller
    /// can drive the relay step by step (tests, the benchmark); [`Relay::run`] calls it in a loop.
    #[tracing::instrument(
        name = "outbox_relay_batch",
        skip_all,
        fields(instance = %self.config.instance_id, claimed, published, failed, released)
    )]
    pub async fn relay_once(&self) -> Result<BatchOutcome, Error> {
        let config = &self.config;
        let claimed = claim::claim(&self.pool, &config.instance_id, config.batch_size, config.max_attempts).await?;
        let mut outcome = BatchOutcome { claimed: claimed.len() as u64, ..BatchOutcome::default() };
        let mut chains = chains_by_aggregate(&claimed);
        let mut untried: Vec<OutboxEventId> = Vec::new();

        while !chains.is_empty() {
            let wave: Vec<&ClaimedEvent> = chains.iter().filter_map(|chain| chain.front().copied()).collect();
            let results = publish::send_wave(&self.producer, config, &wave).await;

            let mut published: Vec<Published> = Vec::with_capacity(wave.len());
            let mut failed: Vec<Failed> = Vec::new();
            for (chain, result) in chains.iter_mut().zip(results) {
                let event = chain.pop_front().expect("a wave takes the front of non-empty chains");
                match result {
                    Ok(delivery) => published.push(delivery),
                    Err(error) => {
                        let attempts = u32::try_from(event.attempts).unwrap_or(0).saturating_add(1);
                        let retry = config.after_failure(attempts);
                        if retry == Retry::GiveUp {
                            tracing::error!(
                                outbox_event_id = %event.outbox_event_id, aggregate_id = %event.aggregate_id,
                                attempts, %error, "outbox event out of attempts; left FAILED for a person"
                            );
                            outcome.gave_up += 1;
                        }
                        failed.push(Failed {
                            outbox_event_id: event.outbox_event_id,
                            error,
                            retry_after: match retry {
                                Retry::After(delay) => Some(delay),
                                Retry::GiveUp => None,
                            },
                        });
                        // Later events of this aggregate must not overtake the failed one.
                        untried.extend(chain.drain(..).map(|e| e.outbox_event_id));
                    }
                }
            }
            chains.retain(|chain| !chain.is_empty());

            if let Some(first) = failed.first() {
                tracing::warn!(failed = failed.len(), first_error = %first.error, "publish attempts failed");
                outcome.last_error = Some(first.error.clone());
            }
            let settled_published = claim::mark_published(&self.pool, &config.instance_id, &published).await?;
            let settled_failed = claim::mark_failed(&self.pool, &config.instance_id, &failed).await?;
            outcome.published += settled_published;
            outcome.failed += failed.len() as u64;
            outcome.lost_claims += (published.len() as u64 - settled_published) + (failed.len() as u64 - settled_failed);
        }
        outcome.released = claim::release(&self.pool, &config.instance_id, &untried).await?;
        outcome.lost_claims += untried.len() as u64 - outcome.released;
        if outcome.lost_claims > 0 {
            tracing::warn!(lost = outcome.lost_claims, "claims released by someone else while this instance held them");
        }

        let span = tracing::Span::current();
        span.record("claimed", outcome.claimed);
        span.record("published", outcome.published);
        span.record("failed", outcome.failed);
        span.record("released", outcome.released);
        self.stats.record_batch(&outcome);
        Ok(outcome)
    }
}

/// Claimed events grouped per aggregate, each group in version order (then creation, then id — a
/// command may write two events of one aggregate in one transaction, with one `created_at`).
fn chains_by_aggregate(claimed: &[ClaimedEvent]) -> Vec<VecDeque<&ClaimedEvent>> {
    let mut sorted: Vec<&ClaimedEvent> = claimed.iter().collect();
    sorted.sort_by(|a, b| {
        (a.aggregate_id, a.aggregate_version, a.created_at, a.outbox_event_id).cmp(&(
            b.aggregate_id,
            b.aggregate_version,
            b.created_at,
            b.outbox_event_id,
        ))
    });
    let mut chains: Vec<VecDeque<&ClaimedEvent>> = Vec::new();
    for event in sorted {
        match chains.last_mut() {
            Some(chain) if chain.back().is_some_and(|last| last.aggregate_id == event.aggregate_id) => chain.push_back(event),
            _ => chains.push(VecDeque::from([event])),
        }
    }
    chains
}


#[cfg(test)]
mod tests {
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::ids::TenantId;

    fn event(aggregate: u128, version: i64) -> ClaimedEvent {
        ClaimedEvent {
            outbox_event_id: OutboxEventId::new(),
            tenant_id: TenantId::new(),
            aggregate_type: "order".into(),
            aggregate_id: Uuid::from_u128(aggregate),
            aggregate_version: version,
            event_type: "OrderStatusChanged".into(),
            payload: serde_json::json!({}),
            headers: serde_json::json!({}),
            attempts: 0,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_batch_is_split_into_one_chain_per_aggregate_in_version_order() {
        let claimed = vec![event(2, 2), event(1, 3), event(2, 1), event(1, 1), event(3, 7), event(1, 2)];
        let chains = chains_by_aggregate(&claimed);
        let shape: Vec<(u128, Vec<i64>)> = chains
            .iter()
            .map(|c| (c[0].aggregate_id.as_u128(), c.iter().map(|e| e.aggregate_version).collect()))
            .collect();
        assert_eq!(shape, [(1, vec![1, 2, 3]), (2, vec![1, 2]), (3, vec![7])]);
    }
}
