//! The dashboards' figure cache in Redis (lesson §15, §26.6): a board's figures for one sampled round —
//! the latest rows and the history of each figure for a tenant (or the platform) and window — computed
//! once from `ops.figure_sample` and kept in Redis until the next round, so a page under load reads one
//! key instead of two queries per figure. PostgreSQL stays the truth: a round's key never changes once
//! written (it names the round), a miss reads the samples, and with Redis away every page reads
//! PostgreSQL, says so, and counts it (`opsdeck_figure_cache_total{outcome}`).

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use platform::redis_link::RedisLink;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};

/// How long a round's figures stay in Redis (rounds come every sampling interval; older keys expire).
const KEEP: Duration = Duration::from_secs(15 * 60);

/// How the page's figures were read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CacheOutcome {
    /// From Redis.
    Hit,
    /// From PostgreSQL, then kept in Redis.
    Miss,
    /// From PostgreSQL: Redis did not answer (the page says so).
    Unavailable,
    /// From PostgreSQL: no Redis is configured.
    Off,
}

impl CacheOutcome {
    fn label(self) -> &'static str {
        match self {
            CacheOutcome::Hit => "hit",
            CacheOutcome::Miss => "miss",
            CacheOutcome::Unavailable => "fallback",
            CacheOutcome::Off => "off",
        }
    }
}

/// One figure of a round as a board reads it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(super) struct CachedFigure {
    pub name: String,
    pub latest_rows: Vec<(Option<TenantId>, String, f64)>,
    pub series: Vec<(DateTime<Utc>, f64)>,
}

/// The console's figure cache (cheap to clone).
#[derive(Debug, Clone, Default)]
pub struct FigureCache {
    redis: RedisLink,
}

impl FigureCache {
    pub fn new(redis: RedisLink) -> Self {
        FigureCache { redis }
    }

    /// No Redis: every read goes to PostgreSQL.
    pub fn off() -> Self {
        FigureCache::default()
    }

    pub(super) fn key(board: &str, about: Option<TenantId>, hours: i64, round: DateTime<Utc>) -> String {
        let about = about.map(|t| t.to_string()).unwrap_or_else(|| "platform".into());
        format!("opsdeck:figures:{board}:{about}:{hours}:{}", round.timestamp_micros())
    }

    /// The round's figures, if Redis has them; with how the read went.
    pub(super) async fn get(&self, key: &str) -> (Option<Vec<CachedFigure>>, CacheOutcome) {
        if !self.redis.is_configured() {
            return (None, CacheOutcome::Off);
        }
        let key = key.to_string();
        match self.redis.run(|mut c| async move { c.get::<_, Option<String>>(key).await }).await {
            Ok(Some(json)) => match serde_json::from_str(&json) {
                Ok(figures) => (Some(figures), CacheOutcome::Hit),
                Err(_) => (None, CacheOutcome::Miss),
            },
            Ok(None) => (None, CacheOutcome::Miss),
            Err(error) => {
                tracing::debug!(%error, "figure cache unavailable: reading PostgreSQL");
                (None, CacheOutcome::Unavailable)
            }
        }
    }

    /// Keeps the round's figures (best effort: a failure only means the next page reads PostgreSQL).
    pub(super) async fn put(&self, key: &str, figures: &[CachedFigure]) {
        if !self.redis.is_configured() {
            return;
        }
        let (key, json) = (key.to_string(), serde_json::to_string(figures).expect("figures serialize"));
        if let Err(error) = self.redis.run(|mut c| async move { c.set_ex::<_, _, ()>(key, json, KEEP.as_secs()).await }).await {
            tracing::debug!(%error, "figure cache unavailable: not kept");
        }
    }
}

/// Counts how a page read its figures.
pub(super) fn count(outcome: CacheOutcome) {
    metrics::counter!("opsdeck_figure_cache_total", "outcome" => outcome.label()).increment(1);
}
