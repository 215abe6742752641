//! The orchestration starter: carries out the starts the capture records, until each order has its
//! process instance — or, after a bounded number of attempts, gives the start up where a person will
//! see it (lesson 8, 13).
//!
//! # Why a start-intent row, not the `OrderCaptured` event through Kafka
//!
//! `accept_quote` writes a PENDING row in `oms.orchestration_start` in the transaction that captures
//! the order, so an order never exists without its intent to orchestrate. The starter claims due rows
//! with `for update skip locked`, the way the outbox relay claims events. Consuming `OrderCaptured` from
//! Kafka with the inbox would also be durable, but it fits worse:
//!
//! - Starts would depend on two more systems. A paused relay, a stale outbox claim or consumer lag —
//!   each its own runbook (11, 12) — would also stop every new order, and a stuck-order alert would fire
//!   for what is really an outbox problem.
//! - A Kafka consumer cannot wait out one record for 30 seconds without holding up its partition; per
//!   order backoff needs retry topics. A row has `next_attempt_at`.
//! - "Given up" must be a fact to query and join by order (the Order page, the stuck-order detector,
//!   the order↔engine reconciliation). In Kafka it would be a dead-letter record; here it is the row,
//!   with its attempts, last error and reason, read by [`crate::query::order_detail`].
//! - PAUSE_ORCHESTRATION_STARTS (per tenant) becomes a filter of the claim, and a pause holds starts
//!   back without spending their attempts.
//!
//! # One instance per order
//!
//! A claim is a lease, committed before the engine is called: it counts the attempt, names this
//! instance (`claimed_by`) and pushes `next_attempt_at` to the end of the lease. The attempt then runs
//! in its own transaction holding the order row ([`super::start::start_in`]): ask the engine for an
//! instance under `tenantId:orderId` (found → adopt it), else start one, then move the order to
//! ORCHESTRATING through the order command and settle the row as STARTED — one commit. A starter that
//! dies between the engine's answer and that commit leaves the order CAPTURED, the row PENDING and the
//! instance running; when the lease ends the row is due again and the next attempt adopts the instance.
//! The lease is at least twice the engine client's request timeout, so a claim cannot pass to another
//! starter while its own engine call may still be creating an instance. (An engine that carries out a
//! start long after the client gave up on it can still make a second instance; the order↔engine
//! reconciliation reports that as a duplicate process instance.)
//!
//! # Failures
//!
//! A failed attempt is recorded on the row (`last_error`, `attempts`) and retried after a capped,
//! jittered exponential backoff. While the engine is unreachable the starter also probes it each round;
//! when it answers again every start waiting out a backoff is made due at once, so the backlog drains
//! by itself within seconds of the engine's return. After `max_attempts` the start is GAVE_UP with why,
//! `opsdeck_orchestration_start_given_up_total` counts it, and the order stays CAPTURED: that order is
//! the stuck-order runbook's, repaired by resume-orchestration. The starter never starts a given-up
//! order again, and never changes a settled row (a trigger refuses it too).
//!
//! It writes a heartbeat (`platform.worker_heartbeat`, kind `orchestration-starter`) and exports the
//! start backlog as gauges.

mod config;
mod intent;
mod stats;

use std::sync::Arc;

use futures::future::join_all;
use sqlx::PgPool;
use tokio::sync::watch;
use tracing::Instrument;

pub use config::{Retry, StarterConfig, STARTER_KIND};
pub use intent::{start_backlog, OrchestrationStartRow, StartBacklog};
pub use stats::{export_start_backlog, StartCounts, StarterCounts, StarterStats};

pub(crate) use intent::{orchestration_start, record_start_intent};

use super::start::{start_in, StartOutcome};
use super::{Error, Result};
use crate::command::CommandContext;
use crate::engine::{EngineClient, EngineError};
use crate::ids::OrderId;
use crate::worker::{run_rounds, sleep_or_stop};
use intent::{Claimed, Settlement};

/// Gives up the order's pending start on purpose (a drill), with `reason`, as `actor`, in the caller's
/// transaction. Refused when the order has no pending start.
pub async fn give_up_start(conn: &mut sqlx::PgConnection, order: OrderId, reason: &str, actor: &str) -> crate::Result<()> {
    let settlement = Settlement::GaveUp { reason: reason.to_string(), error: None };
    if !intent::settle(conn, order, None, actor, &settlement).await? {
        return Err(crate::Error::refused(format!("order {order} has no pending orchestration start")));
    }
    metrics::counter!("opsdeck_orchestration_start_given_up_total").increment(1);
    Ok(())
}

/// How one attempt ended.
enum Attempted {
    Settled(StartOutcome),
    Failed { gave_up: bool, engine: EngineSaid, error: String },
    LostClaim,
    Error(String),
}

/// What a failed attempt learnt about the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum EngineSaid {
    /// No answer: connection refused or timed out.
    Nothing,
    /// It answered (with a refusal): it is up.
    Answered,
    /// The attempt failed elsewhere (the database) before or after asking it.
    Unknown,
}

/// One starter instance. Build it with [`Starter::new`], run it with [`Starter::run`].
pub struct Starter {
    pool: PgPool,
    engine: EngineClient,
    config: StarterConfig,
    stats: Arc<StarterStats>,
}

impl Starter {
    /// Checks the configuration against the engine client's request timeout.
    pub fn new(pool: PgPool, engine: EngineClient, config: StarterConfig) -> Result<Self> {
        config.validate(engine.request_timeout())?;
        Ok(Self { pool, engine, config, stats: Arc::default() })
    }

    pub fn config(&self) -> &StarterConfig {
        &self.config
    }

    /// Live counts of this instance, readable while it runs.
    pub fn stats(&self) -> Arc<StarterStats> {
        Arc::clone(&self.stats)
    }

    /// Runs until `shutdown` turns true (or its sender is dropped): finishes the round in hand, writes
    /// a last heartbeat saying `stopped` and returns the counts. Database or engine trouble never ends
    /// the loop: it is logged, counted and retried.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> StarterCounts {
        let span = tracing::info_span!("orchestration_starter", instance = %self.config.instance_id);
        async {
            tracing::info!(engine = self.engine.base_url(), max_attempts = self.config.max_attempts, "orchestration starter started");
            tokio::join!(self.work(shutdown.clone()), self.heartbeat(shutdown.clone()));
            self.beat("stopped", false).await;
            let counts = self.stats.snapshot();
            tracing::info!(?counts, "orchestration starter stopped");
            counts
        }
        .instrument(span)
        .await
    }

    async fn work(&self, shutdown: watch::Receiver<bool>) {
        let full = u64::from(self.config.concurrency);
        let round = || async move { self.start_due().await.map(|round| round.claimed >= full) };
        run_rounds(shutdown, self.config.poll_interval, round, |error: &Error| {
            tracing::warn!(%error, "starter round failed; retrying");
            self.stats.record_error(error.to_string());
        })
        .await;
    }

    async fn heartbeat(&self, mut shutdown: watch::Receiver<bool>) {
        let mut starting = true;
        loop {
            self.beat("running", starting).await;
            starting = false;
            if let Err(error) = export_start_backlog(&self.pool).await {
                tracing::debug!(%error, "start backlog gauges not refreshed");
            }
            if sleep_or_stop(&mut shutdown, self.config.heartbeat_interval).await {
                break;
            }
        }
    }

    /// Upserts this instance's heartbeat row; a failed beat is logged, never fatal.
    async fn beat(&self, state: &str, starting: bool) {
        let detail = serde_json::json!({
            "state": state,
            "counts": self.stats.snapshot(),
            "engine": self.engine.base_url(),
            "concurrency": self.config.concurrency,
            "max_attempts": self.config.max_attempts,
        });
        if let Err(error) = crate::worker::beat(&self.pool, &self.config.instance_id, STARTER_KIND, detail, starting).await {
            tracing::warn!(%error, "heartbeat not written");
        }
    }

    /// One round: give up the starts out of attempts, claim up to `concurrency` due starts and attempt
    /// them all at once. Public so a caller can drive the starter step by step (tests, drills);
    /// [`Starter::run`] calls it in a loop.
    #[tracing::instrument(name = "orchestration_start_round", skip_all, fields(instance = %self.config.instance_id, claimed))]
    pub async fn start_due(&self) -> Result<StartCounts> {
        let config = &self.config;
        let mut round = StartCounts::default();
        let mut last_error = None;
        if self.stats.snapshot().engine_down {
            self.probe_engine().await?;
        }
        for given_up in intent::give_up_exhausted(&self.pool, &config.instance_id, config.max_attempts).await? {
            tracing::error!(order = %given_up.order_id, tenant = %given_up.tenant_id, reason = %given_up.reason,
                "orchestration start given up; the order is left CAPTURED for a person (runbook: stuck order)");
            round.gave_up += 1;
        }
        let claimed =
            match intent::claim(&self.pool, &config.instance_id, config.concurrency, config.max_attempts, config.lease).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    // The starts given up above are counted all the same.
                    self.stats.record_round(&round, Some(error.to_string()));
                    return Err(error.into());
                }
            };
        round.claimed = claimed.len() as u64;
        tracing::Span::current().record("claimed", round.claimed);

        let mut answered = false;
        let mut unreachable = false;
        for attempted in join_all(claimed.iter().map(|c| self.attempt(c))).await {
            match attempted {
                Attempted::Settled(outcome) => {
                    answered = true;
                    match outcome {
                        StartOutcome::Started { .. } => round.started += 1,
                        StartOutcome::Adopted { .. } => round.adopted += 1,
                        StartOutcome::AlreadyRunning { .. } => round.already_running += 1,
                        StartOutcome::NotStartable { .. } => round.skipped += 1,
                    }
                }
                Attempted::Failed { gave_up, engine, error } => {
                    round.failed += 1;
                    round.gave_up += u64::from(gave_up);
                    unreachable |= engine == EngineSaid::Nothing;
                    answered |= engine == EngineSaid::Answered;
                    last_error = Some(error);
                }
                Attempted::LostClaim => round.lost_claims += 1,
                Attempted::Error(error) => {
                    round.errors += 1;
                    last_error = Some(error);
                }
            }
        }
        if unreachable && !answered && !self.stats.snapshot().engine_down {
            tracing::warn!("process engine unreachable: new orders wait in CAPTURED and their starts are retried");
            self.stats.set_engine_down(true);
        } else if answered {
            self.engine_back().await?;
        }
        self.stats.record_round(&round, last_error);
        Ok(round)
    }

    /// While the engine is thought down: one cheap request; if it answers, the backlog is released.
    async fn probe_engine(&self) -> Result<()> {
        if self.engine.version().await.is_ok() {
            self.engine_back().await?;
        }
        Ok(())
    }

    /// The engine answered: if it was thought down, every start waiting out a backoff is due now.
    async fn engine_back(&self) -> Result<()> {
        if self.stats.snapshot().engine_down {
            let released = intent::release_backoffs(&self.pool).await?;
            tracing::info!(released, "process engine answers again; waiting starts are due now");
            self.stats.set_engine_down(false);
        }
        Ok(())
    }

    /// One attempt at a claimed start, settled in the same transaction as the order's change.
    #[tracing::instrument(skip_all, fields(order = %claimed.order_id, tenant = %claimed.tenant_id, attempt = claimed.attempts))]
    async fn attempt(&self, claimed: &Claimed) -> Attempted {
        let instance = self.config.instance_id.as_str();
        let ctx = CommandContext::new(format!("{STARTER_KIND}:{instance}")).with_reason("start order orchestration");
        let mut tx = match self.begin_attempt().await {
            Ok(tx) => tx,
            Err(error) => return Attempted::Error(error.to_string()),
        };
        match start_in(&mut tx, &self.engine, claimed.tenant_id, claimed.order_id, &ctx).await {
            Ok(outcome) => {
                let settlement = match &outcome {
                    StartOutcome::NotStartable { status } => Settlement::Skipped {
                        reason: format!("order is {status} and the engine has no process instance for it: nothing to start"),
                    },
                    started => Settlement::Started {
                        process_instance_id: started.process_instance_id().unwrap_or_default().to_string(),
                    },
                };
                let settled = async {
                    let held = intent::settle(&mut tx, claimed.order_id, Some(instance), instance, &settlement).await?;
                    // Without the claim, dropping `tx` rolls the order's change back; whoever holds the
                    // claim now adopts the instance.
                    if held {
                        tx.commit().await?;
                    }
                    Ok::<_, sqlx::Error>(held)
                };
                match settled.await {
                    Ok(true) => Attempted::Settled(outcome),
                    Ok(false) => Attempted::LostClaim,
                    Err(error) => Attempted::Error(error.to_string()),
                }
            }
            // Nothing was written (the engine is asked before the order changes): record it in `tx`.
            Err(Error::Engine(error)) => {
                let settlement = self.failure(claimed, &error);
                let recorded = async {
                    let held = intent::settle(&mut tx, claimed.order_id, Some(instance), instance, &settlement).await?;
                    tx.commit().await?;
                    Ok::<_, sqlx::Error>(held)
                };
                let said = match error {
                    EngineError::Unreachable(_) => EngineSaid::Nothing,
                    _ => EngineSaid::Answered,
                };
                self.failed(recorded.await, settlement, said)
            }
            // The transaction may be unusable: roll it back and record the failure on its own.
            Err(other) => {
                drop(tx);
                let settlement = self.failure(claimed, &other);
                let recorded = async {
                    let mut conn = self.pool.acquire().await?;
                    intent::settle(&mut conn, claimed.order_id, Some(instance), instance, &settlement).await
                };
                self.failed(recorded.await, settlement, EngineSaid::Unknown)
            }
        }
    }

    /// How a failed attempt ended once its settlement was written (or not).
    fn failed(&self, recorded: sqlx::Result<bool>, settlement: Settlement, engine: EngineSaid) -> Attempted {
        match (recorded, settlement) {
            (Ok(true), Settlement::GaveUp { reason, error }) => {
                tracing::error!(%reason, "orchestration start given up; the order is left CAPTURED for a person (runbook: stuck order)");
                Attempted::Failed { gave_up: true, engine, error: error.unwrap_or(reason) }
            }
            (Ok(true), Settlement::Retry { error, delay }) => {
                tracing::warn!(%error, retry_in_ms = delay.as_millis() as u64, "orchestration start failed; will retry");
                Attempted::Failed { gave_up: false, engine, error }
            }
            (Ok(_), _) => Attempted::LostClaim,
            (Err(error), _) => Attempted::Error(error.to_string()),
        }
    }

    /// The attempt's transaction. A starter cut off mid-attempt must not keep the order row locked
    /// longer than its claim lasts: PostgreSQL ends a transaction left idle that long.
    async fn begin_attempt(&self) -> sqlx::Result<sqlx::Transaction<'static, sqlx::Postgres>> {
        let mut tx = self.pool.begin().await?;
        let idle_ms = self.config.lease.as_millis().min(i32::MAX as u128);
        sqlx::query(&format!("set local idle_in_transaction_session_timeout = {idle_ms}")).execute(&mut *tx).await?;
        Ok(tx)
    }

    /// What a failed attempt leaves: a retry after the backoff, or the start given up.
    fn failure(&self, claimed: &Claimed, error: &dyn std::fmt::Display) -> Settlement {
        let error = error.to_string();
        let attempts = u32::try_from(claimed.attempts).unwrap_or(0);
        match self.config.after_failure(attempts, jitter(claimed.order_id, attempts)) {
            Retry::After(delay) => Settlement::Retry { error, delay },
            Retry::GiveUp => Settlement::GaveUp {
                reason: format!("gave up after {attempts} attempts; last error: {error}"),
                error: Some(error),
            },
        }
    }
}

/// A number in [0, 1) that differs from order to order and attempt to attempt, so that starts which
/// failed together (an engine outage) come back spread out rather than in one burst.
fn jitter(order: OrderId, attempts: u32) -> f64 {
    let (_, low) = order.as_uuid().as_u64_pair();
    let mixed = (low ^ u64::from(attempts)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_below_one_and_spreads_orders_that_failed_together() {
        let orders: Vec<OrderId> = (0..200).map(|_| OrderId::new()).collect();
        let draws: Vec<f64> = orders.iter().map(|o| jitter(*o, 3)).collect();
        assert!(draws.iter().all(|j| (0.0..1.0).contains(j)), "{draws:?}");
        let low = draws.iter().filter(|j| **j < 0.5).count();
        assert!((60..140).contains(&low), "{low} of 200 below one half");
        assert_ne!(jitter(orders[0], 3), jitter(orders[0], 4), "each attempt draws anew");
    }
}
