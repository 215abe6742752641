//! The sampler and what it keeps: one [`Diagnostics`] per console, holding the long-lived clients (the
//! process's one Kafka client, the engine's REST client, the Redis connection manager) and the latest
//! round's results, which pages and `/metrics` read.

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::engine::EngineClient;
use sqlx::PgPool;
use tokio::sync::watch;
use tracing::Instrument;

use super::engine::{self, EngineObservation};
use super::kafka::{self, KafkaWatch};
use super::metrics::Exporter;
use super::panel::{Panel, Unavailable};
use super::redis::{self, RedisInfo, RedisProbe, RedisStats};
use super::{overview, DiagnosticsConfig, Overview};
use crate::health::{Probes, ProbeTargets, Readiness};
use crate::identity::Actor;

/// What the latest round found.
#[derive(Debug, Clone, Default)]
pub struct Latest {
    /// Rounds finished since the console started.
    pub round: u64,
    pub finished_at: Option<DateTime<Utc>>,
    pub readiness: Option<Readiness>,
    /// When Kafka was last observed (and the samples written), or why it could not be.
    pub kafka: Option<Result<DateTime<Utc>, Unavailable>>,
    pub engine: Option<Panel<EngineObservation>>,
    pub redis: Option<Panel<RedisStats>>,
    /// Every panel for every tenant: what `/metrics` exports.
    pub figures: Option<Overview>,
}

struct Inner {
    pool: PgPool,
    config: DiagnosticsConfig,
    probes: Probes,
    kafka: Result<KafkaWatch, String>,
    engine: EngineClient,
    redis: RedisProbe,
    latest: RwLock<Latest>,
    redis_previous: Mutex<Option<RedisInfo>>,
    rounds: watch::Sender<u64>,
    exporter: Exporter,
}

/// The console's diagnostics: cheap to clone.
#[derive(Clone)]
pub struct Diagnostics(Arc<Inner>);

impl std::fmt::Debug for Diagnostics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Diagnostics").field("config", &self.0.config).finish_non_exhaustive()
    }
}

impl Diagnostics {
    /// Builds the clients (none connects yet; must be called inside the Tokio runtime).
    pub fn new(pool: PgPool, targets: &ProbeTargets, config: DiagnosticsConfig) -> Diagnostics {
        let engine = EngineClient::with_request_timeout(&targets.engine_url, crate::health::PROBE_TIMEOUT);
        let (rounds, _) = watch::channel(0);
        Diagnostics(Arc::new(Inner {
            probes: Probes::new(pool.clone(), targets.clone()),
            pool,
            config,
            kafka: KafkaWatch::shared(&targets.kafka_brokers),
            engine,
            redis: RedisProbe::new(&targets.redis_url),
            latest: RwLock::new(Latest::default()),
            redis_previous: Mutex::new(None),
            rounds,
            exporter: Exporter::default(),
        }))
    }

    pub fn config(&self) -> &DiagnosticsConfig {
        &self.0.config
    }

    /// The readiness probes (sharing the Kafka client).
    pub fn probes(&self) -> &Probes {
        &self.0.probes
    }

    /// A copy of what the latest round found.
    pub fn latest(&self) -> Latest {
        self.0.latest.read().map(|l| l.clone()).unwrap_or_default()
    }

    /// Waits, at most `wait`, until at least one round has finished.
    pub async fn first_round(&self, wait: Duration) {
        let mut rounds = self.0.rounds.subscribe();
        let _ = tokio::time::timeout(wait, rounds.wait_for(|&n| n > 0)).await;
    }

    /// Waits, at most `wait`, for the round after the current one (tests, and anyone who changed
    /// something and wants to see it).
    pub async fn next_round(&self, wait: Duration) -> bool {
        let mut rounds = self.0.rounds.subscribe();
        let now = *rounds.borrow_and_update();
        let waited = tokio::time::timeout(wait, rounds.wait_for(|&n| n > now)).await;
        waited.is_ok()
    }

    /// Runs a round every interval until `stop` turns true (or its sender is dropped). The first round
    /// starts at once.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut ticks = tokio::time::interval(self.0.config.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = ticks.tick() => {}
                changed = stop.changed() => if changed.is_err() || *stop.borrow() { break },
            }
            self.round().await;
        }
    }

    /// One round: probe every dependency concurrently, write the Kafka samples, then read every panel for
    /// every tenant (what `/metrics` exports).
    pub async fn round(&self) {
        let span = tracing::info_span!("diagnostics_round", kafka = tracing::field::Empty, engine = tracing::field::Empty);
        async {
            let inner = &self.0;
            let (readiness, kafka, engine, redis) =
                tokio::join!(inner.probes.check(), self.sample_kafka(), self.observe_engine(), self.read_redis());
            let span = tracing::Span::current();
            span.record("kafka", kafka.is_ok());
            span.record("engine", matches!(engine, Panel::Ready(_)));
            if let Ok(mut latest) = inner.latest.write() {
                latest.readiness = Some(readiness);
                latest.kafka = Some(kafka);
                latest.engine = Some(engine);
                latest.redis = Some(redis);
            }
            let figures = match overview(&inner.pool, self, &Actor::system("diagnostics"), None).await {
                Ok(figures) => Some(figures),
                Err(error) => {
                    tracing::warn!(%error, "diagnostics figures not read");
                    None
                }
            };
            if let Ok(mut latest) = inner.latest.write() {
                latest.figures = figures;
                latest.round += 1;
                latest.finished_at = Some(Utc::now());
                inner.rounds.send_replace(latest.round);
            }
        }
        .instrument(span)
        .await
    }

    async fn sample_kafka(&self) -> Result<DateTime<Utc>, Unavailable> {
        let unavailable = |detail: String| Unavailable {
            dependency: "kafka",
            affected: kafka::AFFECTED,
            detail,
            checked_at: Some(Utc::now()),
        };
        let watch = self.0.kafka.as_ref().map_err(|e| unavailable(e.clone()))?;
        let observation = watch.observe().await.map_err(unavailable)?;
        if let Err(error) = kafka::record(&self.0.pool, &observation, self.0.config.retention).await {
            tracing::warn!(%error, "kafka lag samples not written");
        }
        Ok(observation.at)
    }

    async fn observe_engine(&self) -> Panel<EngineObservation> {
        match engine::observe(&self.0.engine, self.0.config.engine_max).await {
            Ok(observation) => Panel::Ready(observation),
            Err(detail) => Panel::Unavailable(Unavailable {
                dependency: "engine",
                affected: engine::AFFECTED,
                detail,
                checked_at: Some(Utc::now()),
            }),
        }
    }

    async fn read_redis(&self) -> Panel<RedisStats> {
        match self.0.redis.read().await {
            Ok(info) => {
                let mut previous = self.0.redis_previous.lock().unwrap_or_else(|e| e.into_inner());
                let stats = RedisStats::between(previous.as_ref(), info);
                *previous = Some(info);
                Panel::Ready(stats)
            }
            Err(detail) => Panel::Unavailable(Unavailable {
                dependency: "redis",
                affected: redis::AFFECTED,
                detail,
                checked_at: Some(Utc::now()),
            }),
        }
    }

    /// Sets every diagnostics gauge from the latest round (readiness included). A scrape calls this: it
    /// reads what the sampler kept and never probes.
    pub fn export_metrics(&self) {
        let latest = self.latest();
        self.0.exporter.export(&latest);
    }
}
