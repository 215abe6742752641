//! The price book: catalog list prices, read through a Redis cache with PostgreSQL as the source of truth
//! (lesson §15). Cache-aside: a lookup reads Redis, and on a miss reads `cpq.catalog_price` and fills
//! Redis for [`CACHE_TTL`]. Redis is acceleration only — when it is slow or down every lookup is served
//! from PostgreSQL, counted in `opsdeck_price_cache_lookups_total{result="fallback"}`, and nothing fails.
//!
//! A price changes only through [`set_price`] (version + 1, the change appended to
//! `cpq.catalog_price_change`); the caller drops the cache entry after the commit
//! ([`PriceBook::invalidate`]), and the TTL bounds staleness if Redis missed the drop.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ids::EntityKind;
pub use crate::redis_link::REDIS_TIMEOUT;
use crate::redis_link::RedisLink;
use crate::{Error, Result};

/// How long a cached price is trusted.
pub const CACHE_TTL: Duration = Duration::from_secs(300);

/// One catalog price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct CatalogPrice {
    pub sku: String,
    pub currency: String,
    pub description: String,
    pub unit_list_minor: i64,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// Where a lookup was answered from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Cache,
    /// Not cached: read from PostgreSQL and cached.
    Database,
    /// Redis failed: read from PostgreSQL.
    Fallback,
}

impl Source {
    fn label(self) -> &'static str {
        match self {
            Source::Cache => "hit",
            Source::Database => "miss",
            Source::Fallback => "fallback",
        }
    }
}

/// The price book of one process: the pool and the process's [`RedisLink`].
#[derive(Clone, Debug)]
pub struct PriceBook {
    pool: PgPool,
    redis: RedisLink,
}

fn cache_key(sku: &str, currency: &str) -> String {
    format!("opsdeck:price:{currency}:{sku}")
}

impl PriceBook {
    /// `redis_url`: `None` reads PostgreSQL only.
    pub fn new(pool: PgPool, redis_url: Option<String>) -> Self {
        PriceBook { pool, redis: RedisLink::new(redis_url) }
    }

    /// How long Redis is left alone after it failed.
    pub const RETRY_AFTER: Duration = RedisLink::RETRY_AFTER;

    /// Whether lookups skip Redis for now, because it failed within [`Self::RETRY_AFTER`].
    pub fn cache_resting(&self) -> bool {
        self.redis.resting()
    }

    async fn cached(&self, key: &str) -> std::result::Result<Option<CatalogPrice>, String> {
        let value: Option<String> = self.redis.run(|mut c| async move { c.get(key).await }).await?;
        Ok(value.and_then(|v| serde_json::from_str(&v).ok()))
    }

    async fn fill(&self, key: &str, price: &CatalogPrice) -> std::result::Result<(), String> {
        let value = serde_json::to_string(price).map_err(|e| e.to_string())?;
        self.redis.run(|mut c| async move { c.set_ex::<_, _, ()>(key, value, CACHE_TTL.as_secs()).await }).await
    }

    /// The list price of `sku` in `currency`, and where it came from.
    pub async fn price(&self, sku: &str, currency: &str) -> Result<(CatalogPrice, Source)> {
        let key = cache_key(sku, currency);
        let source = match self.cached(&key).await {
            Ok(Some(price)) => {
                record(Source::Cache);
                return Ok((price, Source::Cache));
            }
            Ok(None) => Source::Database,
            Err(error) => {
                if self.redis.is_configured() {
                    tracing::debug!(%error, "price cache unavailable; reading PostgreSQL");
                }
                Source::Fallback
            }
        };
        let price = load(&self.pool, sku, currency).await?;
        let source = match source {
            Source::Database => match self.fill(&key, &price).await {
                Ok(()) => Source::Database,
                Err(_) => Source::Fallback,
            },
            other => other,
        };
        record(source);
        Ok((price, source))
    }

    /// Drops the cached price of `sku` (after a price change has committed). A Redis failure is only
    /// logged: the TTL ends the stale entry.
    pub async fn invalidate(&self, sku: &str, currency: &str) {
        let key = cache_key(sku, currency);
        let dropped = self.redis.run(|mut c| async move { c.del::<_, ()>(&key).await }).await;
        if let Err(error) = dropped {
            metrics::counter!("opsdeck_redis_fallback_total", "use" => "price_invalidation").increment(1);
            tracing::warn!(%error, sku, currency, "a changed price stays cached until its TTL ends");
        }
    }
}

fn record(source: Source) {
    metrics::counter!("opsdeck_price_cache_lookups_total", "result" => source.label()).increment(1);
    if source == Source::Fallback {
        metrics::counter!("opsdeck_redis_fallback_total", "use" => "pricing").increment(1);
    }
}

async fn load(pool: &PgPool, sku: &str, currency: &str) -> Result<CatalogPrice> {
    sqlx::query_as::<_, CatalogPrice>(
        "select sku, currency, description, unit_list_minor, version, updated_at from cpq.catalog_price
         where sku = $1 and currency = $2",
    )
    .bind(sku)
    .bind(currency)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| Error::NotFound { entity: EntityKind::CatalogPrice, id: format!("{sku}/{currency}") })
}

/// Every catalog price in `currency`, by SKU.
pub async fn catalog(pool: &PgPool, currency: &str) -> Result<Vec<CatalogPrice>> {
    Ok(sqlx::query_as::<_, CatalogPrice>(
        "select sku, currency, description, unit_list_minor, version, updated_at from cpq.catalog_price
         where currency = $1 order by sku",
    )
    .bind(currency)
    .fetch_all(pool)
    .await?)
}

/// Changes a list price: version + 1 (guarded by the version read), the change appended with its reason.
/// Drop the cache entry after the commit ([`PriceBook::invalidate`]).
pub async fn set_price(
    tx: &mut PgConnection,
    sku: &str,
    currency: &str,
    expected_version: i64,
    new_minor: i64,
    reason: &str,
    actor: &str,
) -> Result<CatalogPrice> {
    if new_minor < 0 {
        return Err(Error::Invalid { field: "unit_list_minor", message: "a price cannot be negative".into() });
    }
    if reason.trim().chars().count() < 10 {
        return Err(Error::Invalid { field: "reason", message: "a price change needs a reason of at least 10 characters".into() });
    }
    let old: Option<(i64, i64)> = sqlx::query_as(
        "select unit_list_minor, version from cpq.catalog_price where sku = $1 and currency = $2 for update",
    )
    .bind(sku)
    .bind(currency)
    .fetch_optional(&mut *tx)
    .await?;
    let (old_minor, version) =
        old.ok_or_else(|| Error::NotFound { entity: EntityKind::CatalogPrice, id: format!("{sku}/{currency}") })?;
    if version != expected_version {
        return Err(Error::Conflict { entity: EntityKind::CatalogPrice, id: format!("{sku}/{currency}"), expected: expected_version, found: version });
    }
    let price = sqlx::query_as::<_, CatalogPrice>(
        "update cpq.catalog_price set unit_list_minor = $3, version = version + 1, updated_at = now(), updated_by = $4
         where sku = $1 and currency = $2
         returning sku, currency, description, unit_list_minor, version, updated_at",
    )
    .bind(sku)
    .bind(currency)
    .bind(new_minor)
    .bind(actor)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "insert into cpq.catalog_price_change (change_id, sku, currency, old_minor, new_minor, version, reason, changed_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(Uuid::now_v7())
    .bind(sku)
    .bind(currency)
    .bind(old_minor)
    .bind(new_minor)
    .bind(price.version)
    .bind(reason.trim())
    .bind(actor)
    .execute(&mut *tx)
    .await?;
    Ok(price)
}
