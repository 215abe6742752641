//! Redis (lesson §15): PING round trip, cache hit ratio, evictions and memory, from `INFO`. Redis is
//! acceleration only: when it is down the panel says so and the console carries on from PostgreSQL.
//!
//! One connection manager per console, built lazily (the console starts without Redis) and reconnecting by
//! itself; every call is bounded by a short timeout.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::Serialize;

use super::panel::{Status, Verdict};

pub const RUNBOOK: &str = "redis-degradation.md";

/// What Redis being down hides.
pub const AFFECTED: &str = "dashboard cache and rate limits are off; the console serves from PostgreSQL";

const CALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Counters and gauges from one `INFO`, and the PING round trip.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RedisInfo {
    pub observed_at: DateTime<Utc>,
    pub ping_seconds: f64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub evicted_keys: u64,
    pub used_memory_bytes: u64,
    /// 0: no limit.
    pub maxmemory_bytes: u64,
    pub connected_clients: u64,
}

/// The panel: the latest reading, and the hit ratio and evictions since the one before.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RedisStats {
    pub latest: RedisInfo,
    /// Hits / (hits + misses) between the two readings (since Redis started when there is no earlier
    /// reading); `None` without lookups.
    pub hit_ratio: Option<f64>,
    /// Evictions between the two readings.
    pub evictions: u64,
    /// Lookups between the two readings.
    pub lookups: u64,
}

impl RedisStats {
    pub fn between(previous: Option<&RedisInfo>, latest: RedisInfo) -> RedisStats {
        // A restart resets the counters: then the latest alone counts.
        let base = previous.filter(|p| {
            p.keyspace_hits <= latest.keyspace_hits
                && p.keyspace_misses <= latest.keyspace_misses
                && p.evicted_keys <= latest.evicted_keys
        });
        let (hits, misses, evictions) = match base {
            Some(p) => (
                latest.keyspace_hits - p.keyspace_hits,
                latest.keyspace_misses - p.keyspace_misses,
                latest.evicted_keys - p.evicted_keys,
            ),
            None => (latest.keyspace_hits, latest.keyspace_misses, latest.evicted_keys),
        };
        let lookups = hits + misses;
        let hit_ratio = (lookups > 0).then(|| hits as f64 / lookups as f64);
        RedisStats { latest, hit_ratio, evictions, lookups }
    }

    pub fn memory_use(&self) -> Option<f64> {
        (self.latest.maxmemory_bytes > 0)
            .then(|| self.latest.used_memory_bytes as f64 / self.latest.maxmemory_bytes as f64)
    }

    pub fn verdict(&self, slow: Duration) -> Verdict {
        let mut wrong = Vec::new();
        if self.latest.ping_seconds > slow.as_secs_f64() {
            wrong.push(format!("PING takes {:.0} ms", self.latest.ping_seconds * 1000.0));
        }
        if self.evictions > 0 {
            wrong.push(format!("{} key(s) evicted since the last sample", self.evictions));
        }
        if let Some(ratio) = self.hit_ratio.filter(|&r| r < 0.8 && self.lookups >= 100) {
            wrong.push(format!("hit ratio {:.0} %", ratio * 100.0));
        }
        if let Some(used) = self.memory_use().filter(|&u| u > 0.9) {
            wrong.push(format!("memory {:.0} % of maxmemory", used * 100.0));
        }
        if wrong.is_empty() {
            return Verdict::ok(format!("PING {:.1} ms.", self.latest.ping_seconds * 1000.0), RUNBOOK);
        }
        Verdict::new(
            Status::Warn,
            format!("Redis degraded: {}", wrong.join("; ")),
            "Redis is acceleration only: disable optional caching if it hurts; for evictions add memory or fix \
             key cardinality and TTLs; look for hot keys.",
            RUNBOOK,
        )
    }
}

/// The console's Redis connection.
#[derive(Clone)]
pub struct RedisProbe {
    manager: Result<ConnectionManager, String>,
}

impl std::fmt::Debug for RedisProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisProbe").finish_non_exhaustive()
    }
}

impl RedisProbe {
    /// Builds the manager without connecting (must be called inside the Tokio runtime).
    pub fn new(url: &str) -> RedisProbe {
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CALL_TIMEOUT))
            .set_response_timeout(Some(CALL_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(200));
        let manager = redis::Client::open(url)
            .and_then(|client| ConnectionManager::new_lazy_with_config(client, config))
            .map_err(|e| e.to_string());
        RedisProbe { manager }
    }

    /// PING, then INFO.
    pub async fn read(&self) -> Result<RedisInfo, String> {
        let mut connection = self.manager.clone()?;
        let started = Instant::now();
        let pong: String = bounded(redis::cmd("PING").query_async(&mut connection)).await?;
        let ping_seconds = started.elapsed().as_secs_f64();
        if pong != "PONG" {
            return Err(format!("PING answered {pong:?}"));
        }
        let info: String = bounded(redis::cmd("INFO").query_async(&mut connection)).await?;
        Ok(parse_info(&info, ping_seconds))
    }
}

async fn bounded<T>(call: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
    match tokio::time::timeout(CALL_TIMEOUT * 2, call).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("no answer within {} ms", (CALL_TIMEOUT * 2).as_millis())),
    }
}

/// Reads the fields the panel needs from `INFO`'s `key:value` lines.
pub fn parse_info(info: &str, ping_seconds: f64) -> RedisInfo {
    let fields: HashMap<&str, &str> =
        info.lines().filter_map(|line| line.trim().split_once(':')).collect();
    let number = |key: &str| fields.get(key).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
    RedisInfo {
        observed_at: Utc::now(),
        ping_seconds,
        keyspace_hits: number("keyspace_hits"),
        keyspace_misses: number("keyspace_misses"),
        evicted_keys: number("evicted_keys"),
        used_memory_bytes: number("used_memory"),
        maxmemory_bytes: number("maxmemory"),
        connected_clients: number("connected_clients"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const INFO: &str = "# Clients\r\nconnected_clients:3\r\n# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\n\
                        maxmemory:2097152\r\n# Stats\r\nkeyspace_hits:90\r\nkeyspace_misses:10\r\nevicted_keys:0\r\n";

    #[test]
    fn info_fields_are_read() {
        let info = parse_info(INFO, 0.001);
        assert_eq!((info.keyspace_hits, info.keyspace_misses, info.evicted_keys), (90, 10, 0));
        assert_eq!((info.used_memory_bytes, info.maxmemory_bytes, info.connected_clients), (1_048_576, 2_097_152, 3));
    }

    #[test]
    fn the_hit_ratio_and_evictions_are_those_since_the_previous_reading() {
        let before = parse_info(INFO, 0.001);
        let after = RedisInfo { keyspace_hits: 120, keyspace_misses: 110, evicted_keys: 7, ..before };
        let stats = RedisStats::between(Some(&before), after);
        assert_eq!((stats.lookups, stats.evictions), (130, 7));
        assert!((stats.hit_ratio.unwrap() - 30.0 / 130.0).abs() < 1e-9);
        let verdict = stats.verdict(Duration::from_millis(50));
        assert_eq!(verdict.status, Status::Warn);
        assert!(verdict.wrong.contains("7 key(s) evicted") && verdict.wrong.contains("hit ratio 23 %"), "{}", verdict.wrong);

        // After a restart the counters start again: the latest reading alone counts.
        let restarted = RedisInfo { keyspace_hits: 5, keyspace_misses: 0, evicted_keys: 0, ..before };
        let stats = RedisStats::between(Some(&after), restarted);
        assert_eq!((stats.lookups, stats.hit_ratio), (5, Some(1.0)));
        assert_eq!(stats.verdict(Duration::from_millis(50)).status, Status::Ok);
    }
}
