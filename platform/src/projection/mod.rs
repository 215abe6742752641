//! The order projection consumer (lesson §11): consumer group `order-projection` on the order topic,
//! keeping `oms.order_projection` in step with the order events the outbox relay publishes.
//!
//! Per message, in this order:
//! 1. parse it ([`event::parse`]); a record that cannot be parsed (no or bad `event_id` header, bad JSON,
//!    unknown event type, missing fields, headers contradicting the payload) is poison: it is sent to
//!    `<topic>.DLT` with its reason and origin, the copy and the original's offset committed together
//!    in one Kafka transaction, so that a crash never sends a second copy ([`dead_letter`]), and the
//!    consumer carries on;
//! 2. in ONE database transaction, insert the inbox row (`messaging.inbox_message`, keyed by group and
//!    event id) and — unless that row already existed, which makes the message a duplicate — move the
//!    projection forward, never backwards ([`apply`]);
//! 3. only after the database commit, store and commit the Kafka offset.
//!
//! A crash between 2 and 3 redelivers the message; the inbox turns it into a counted duplicate. So the
//! projection sees every event exactly once in effect. Offsets are committed asynchronously after each
//! message (a lost commit only costs a duplicate) and synchronously when the consumer stops.
//!
//! A database error on a valid message is retried with backoff on the same message (so nothing is
//! overtaken), except one about the message's data (SQLSTATE 22/23), which no retry can fix: that one is
//! dead-lettered like poison. Kafka errors are logged and counted, and the consumer reads on at once
//! (`note_kafka_error` says why it must not pause on them).
//!
//! The consumer honours the PAUSE_CONSUMER switch for its group (`ops.platform_control` key
//! `PAUSE_CONSUMER:<group>`): while on, every assigned partition is paused (re-applied at each check, so
//! partitions assigned by a rebalance are paused too) and the heartbeat says `paused`; it keeps polling
//! so the group membership stays alive. It never writes the switch, nor `ops.consumer_pause` (the
//! console's operational record of a pause).

mod apply;
mod config;
mod control;
mod dead_letter;
mod event;
mod heartbeat;
mod lag;

use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{CommitMode, Consumer, StreamConsumer};
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::ClientConfig;
use sqlx::PgPool;
use tokio::sync::watch;
use tracing::Instrument;

use crate::worker::{sleep_or_stop, stop_requested};

pub use apply::{apply, Applied, Source};
pub use config::{dead_letter_topic, ProjectionConfig, DEFAULT_GROUP, WORKER_KIND};
pub use control::{consumer_paused, pause_key, PAUSE_CONSUMER};
pub use dead_letter::{header as dlt_header, DeadLetters, Staged};
pub use event::{parse, Change, OrderEvent, Poison};
pub use heartbeat::{ProjectionCounts, ProjectionState, ProjectionStats};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid projection consumer setting {field}: {message}")]
    Config { field: &'static str, message: String },

    #[error("kafka: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),

    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What became of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Applied(Applied),
    DeadLettered { reason: String },
}

/// One consumer instance. Build with [`ProjectionConsumer::new`], start with [`ProjectionConsumer::run`].
pub struct ProjectionConsumer {
    pool: PgPool,
    config: ProjectionConfig,
    /// Shared with the blocking calls that measure the offset lag.
    consumer: Arc<StreamConsumer>,
    dead_letters: DeadLetters,
    stats: Arc<ProjectionStats>,
}

impl ProjectionConsumer {
    /// Checks the configuration and creates the consumer (subscribed to the order topic), which does
    /// not connect until it runs. The transactional dead-letter producer is made at the first dead letter.
    pub fn new(pool: PgPool, config: ProjectionConfig) -> Result<Self, Error> {
        config.validate()?;
        let consumer: StreamConsumer = ClientConfig::new()
            .set("bootstrap.servers", &config.brokers)
            .set("group.id", &config.group_id)
            .set("client.id", &config.instance_id)
            // Offsets are ours to commit, and only after the database commit.
            .set("enable.auto.commit", "false")
            .set("enable.auto.offset.store", "false")
            .set("auto.offset.reset", &config.auto_offset_reset)
            // A subscribed topic that does not exist yet is picked up at the next metadata refresh.
            .set("topic.metadata.refresh.interval.ms", config.metadata_refresh.as_millis().to_string())
            .set("session.timeout.ms", config.session_timeout.as_millis().to_string())
            .set("log_level", "3")
            .create()?;
        consumer.subscribe(&[&config.topic()])?;
        let dead_letters = DeadLetters::new(&config);
        let stats = Arc::new(ProjectionStats::default());
        stats.init();
        Ok(Self { pool, config, consumer: Arc::new(consumer), dead_letters, stats })
    }

    pub fn config(&self) -> &ProjectionConfig {
        &self.config
    }

    /// Live counts of this instance, readable while it runs.
    pub fn stats(&self) -> Arc<ProjectionStats> {
        Arc::clone(&self.stats)
    }

    /// Runs until `shutdown` turns true (or its sender is dropped): finishes the message in hand (unless
    /// it is waiting out a database outage, in which case its offset stays uncommitted), commits the
    /// stored offsets synchronously, writes a last heartbeat saying `stopped` and returns the counts.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> ProjectionCounts {
        let span = tracing::info_span!(
            "projection_consumer",
            instance = %self.config.instance_id,
            group = %self.config.group_id,
            topic = %self.config.topic(),
        );
        async {
            tracing::info!(brokers = %self.config.brokers, "projection consumer started");
            tokio::join!(self.work(shutdown.clone()), self.measure_lag(shutdown));
            if let Err(error) = self.consumer.commit_consumer_state(CommitMode::Sync) {
                // NoOffset: nothing stored since the last commit.
                tracing::debug!(%error, "final offset commit");
            }
            let counts = self.stats.snapshot();
            if let Err(error) = heartbeat::beat(&self.pool, &self.config, ProjectionState::Stopped, &counts, false).await {
                tracing::warn!(%error, "last heartbeat not written");
            }
            tracing::info!(processed = counts.processed, duplicates = counts.duplicates, "projection consumer stopped");
            counts
        }
        .instrument(span)
        .await
    }

    async fn work(&self, mut shutdown: watch::Receiver<bool>) {
        let mut control = tokio::time::interval(self.config.control_interval);
        let mut heartbeat = tokio::time::interval(self.config.heartbeat_interval);
        control.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut starting = true;
        let mut kafka_errors = 0u32;
        while !stop_requested(&shutdown) {
            tokio::select! {
                biased;
                changed = shutdown.changed() => if changed.is_err() || *shutdown.borrow() { break },
                _ = control.tick() => {
                    if self.honour_pause_switch().await {
                        // The switch flipped: say so at once.
                        heartbeat.reset_immediately();
                    }
                }
                _ = heartbeat.tick() => {
                    let counts = self.stats.snapshot();
                    let state = if counts.paused { ProjectionState::Paused } else { ProjectionState::Running };
                    match heartbeat::beat(&self.pool, &self.config, state, &counts, starting).await {
                        Ok(()) => starting = false,
                        Err(error) => tracing::warn!(%error, "heartbeat not written"),
                    }
                }
                received = self.consumer.recv() => match received {
                    Ok(message) => {
                        kafka_errors = 0;
                        let message = message.detach();
                        let _ = self.process(&message, &mut shutdown).await;
                    }
                    Err(error) => {
                        self.note_kafka_error(&error, kafka_errors);
                        kafka_errors = kafka_errors.saturating_add(1);
                    }
                },
            }
        }
    }

    /// An error from the consumer queue (unknown topic before the relay's first record, a broker down,
    /// all brokers down): logged — once per streak at warn — and counted, and nothing more. It reports
    /// what librdkafka is already recovering from by itself (it reconnects, rejoins the group and
    /// fetches again); it is not an operation to retry. Above all the loop must not pause on it: errors
    /// queue up ahead of the messages while the broker is down — librdkafka (2.10 on) re-bootstraps
    /// whenever all brokers are down and can then report AllBrokersDown ten times a second — and a loop
    /// that slept up to 5 s per error kept reading minutes-old errors long after the broker was back,
    /// while the records behind them waited: the consumer "never resumed" after a Kafka restart.
    fn note_kafka_error(&self, error: &rdkafka::error::KafkaError, streak: u32) {
        if streak == 0 {
            tracing::warn!(%error, "kafka consumer error; librdkafka recovers by itself");
        } else {
            tracing::debug!(%error, streak, "kafka consumer error");
        }
        self.stats.record_error(error.to_string());
    }

    /// Every heartbeat interval, the offset lag of the assigned partitions ([`lag::offset_lag`]), asked
    /// of the broker off the async runtime so that a slow or absent broker never holds up a message.
    /// A failed measurement keeps the last figure.
    async fn measure_lag(&self, mut shutdown: watch::Receiver<bool>) {
        let reset = if self.config.auto_offset_reset == "latest" { lag::Reset::Latest } else { lag::Reset::Earliest };
        // Not shorter: a watermark query waits behind the consumer's fetch long-poll on the same
        // connection (`fetch.wait.max.ms`, 500 ms).
        let timeout = Duration::from_secs(5);
        loop {
            let consumer = Arc::clone(&self.consumer);
            match tokio::task::spawn_blocking(move || lag::offset_lag(&consumer, reset, timeout)).await {
                Ok(Ok(lag)) => self.stats.record_offset_lag(&self.config.group_id, lag),
                Ok(Err(error)) => tracing::debug!(%error, "offset lag not measured"),
                Err(error) => tracing::warn!(%error, "offset lag measurement did not finish"),
            }
            if sleep_or_stop(&mut shutdown, self.config.heartbeat_interval).await {
                break;
            }
        }
    }

    /// Reads the pause switch and pauses or resumes the assigned partitions. True when the state flipped.
    async fn honour_pause_switch(&self) -> bool {
        let paused = match control::consumer_paused(&self.pool, &self.config.group_id).await {
            Ok(paused) => paused,
            Err(error) => {
                tracing::warn!(%error, "pause switch not read; keeping the current state");
                return false;
            }
        };
        let was_paused = self.stats.snapshot().paused;
        let assignment = match self.consumer.assignment() {
            Ok(assignment) => assignment,
            Err(error) => {
                tracing::warn!(%error, "assignment not read");
                return false;
            }
        };
        // Re-applied every check while paused, so partitions gained in a rebalance are paused too.
        let result = if paused {
            self.consumer.pause(&assignment)
        } else if was_paused {
            self.consumer.resume(&assignment)
        } else {
            Ok(())
        };
        if let Err(error) = result {
            tracing::warn!(%error, paused, "pause/resume of partitions failed; retried at the next check");
            return false;
        }
        if paused != was_paused {
            tracing::info!(paused, partitions = assignment.count(), "PAUSE_CONSUMER switch changed");
            self.stats.set_paused(&self.config.group_id, paused);
            return true;
        }
        false
    }

    /// Handles one message to the end: projected (or skipped as stale/duplicate) or dead-lettered, then
    /// its offset stored and committed. `None` when a stop was requested while a database or dead-letter
    /// retry was pending: the offset stays uncommitted and the message is redelivered.
    #[tracing::instrument(
        name = "projection_message",
        skip_all,
        fields(partition = message.partition(), offset = message.offset(), event_id, outcome)
    )]
    pub async fn process(&self, message: &OwnedMessage, shutdown: &mut watch::Receiver<bool>) -> Option<Outcome> {
        if let Some(produced_ms) = message.timestamp().to_millis() {
            self.stats.record_age(&self.config.group_id, chrono::Utc::now().timestamp_millis() - produced_ms);
        }
        let outcome = match event::parse(message) {
            Ok(event) => {
                tracing::Span::current().record("event_id", tracing::field::display(event.event_id));
                self.project(message, &event, shutdown).await?
            }
            Err(poison) => {
                self.dead_letter(message, &poison.0, shutdown).await?;
                Outcome::DeadLettered { reason: poison.0 }
            }
        };
        match &outcome {
            Outcome::Applied(applied) => self.stats.record_applied(&self.config.group_id, *applied),
            Outcome::DeadLettered { .. } => self.stats.record_dead_letter(&self.config.group_id),
        }
        tracing::Span::current().record("outcome", tracing::field::debug(&outcome));
        self.commit_offset(message);
        Some(outcome)
    }

    async fn project(&self, message: &OwnedMessage, event: &OrderEvent, shutdown: &mut watch::Receiver<bool>) -> Option<Outcome> {
        let source = Source {
            consumer_group: &self.config.group_id,
            topic: message.topic(),
            partition: message.partition(),
            offset: message.offset(),
        };
        let mut attempts = 0u32;
        loop {
            match apply::apply(&self.pool, source, event).await {
                Ok(applied) => return Some(Outcome::Applied(applied)),
                Err(error) if apply::is_data_error(&error) => {
                    let reason = format!("database refused the event: {error}");
                    self.dead_letter(message, &reason, shutdown).await?;
                    return Some(Outcome::DeadLettered { reason });
                }
                Err(error) => {
                    tracing::warn!(%error, event_id = %event.event_id, "projection write failed; retrying the same message");
                    self.stats.record_error(error.to_string());
                    attempts = attempts.saturating_add(1);
                    if sleep_or_stop(shutdown, self.backoff(attempts)).await {
                        return None;
                    }
                }
            }
        }
    }

    async fn dead_letter(&self, message: &OwnedMessage, reason: &str, shutdown: &mut watch::Receiver<bool>) -> Option<()> {
        let mut attempts = 0u32;
        loop {
            if !self.still_assigned(message) {
                // Revoked meanwhile: its new owner reads it again, and dead-letters it.
                tracing::info!("partition revoked before the dead letter was committed; left to its new owner");
                return None;
            }
            let Some(group) = self.consumer.group_metadata() else { return None };
            match self.dead_letters.send(group, message, reason).await {
                Ok(()) => {
                    tracing::warn!(reason, "message dead-lettered");
                    return Some(());
                }
                Err(error) => {
                    tracing::warn!(%error, "dead-letter produce failed; retrying");
                    self.stats.record_error(error);
                    attempts = attempts.saturating_add(1);
                    if sleep_or_stop(shutdown, self.backoff(attempts)).await {
                        return None;
                    }
                }
            }
        }
    }

    fn still_assigned(&self, message: &OwnedMessage) -> bool {
        self.consumer
            .assignment()
            .map(|assignment| assignment.find_partition(message.topic(), message.partition()).is_some())
            .unwrap_or(false)
    }

    /// After the database commit (or the dead letter's transaction, which committed the offset already:
    /// storing it keeps the consumer's own commits in step): store the offset and commit it.
    fn commit_offset(&self, message: &OwnedMessage) {
        // `rd_kafka_offset_store` stores offset + 1, the next record to read.
        if let Err(error) = self.consumer.store_offset(message.topic(), message.partition(), message.offset()) {
            // The partition was revoked meanwhile: its new owner reads the message again and the inbox
            // makes it a duplicate.
            tracing::warn!(%error, "offset not stored");
            return;
        }
        if let Err(error) = self.consumer.commit_consumer_state(CommitMode::Async) {
            tracing::warn!(%error, "offset commit not sent");
        }
    }

    fn backoff(&self, attempts: u32) -> Duration {
        self.config.retry_base.saturating_mul(1 << attempts.min(8)).min(Duration::from_secs(30))
    }
}

