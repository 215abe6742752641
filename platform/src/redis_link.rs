//! One process's link to Redis, for everything that uses Redis as acceleration only (the price cache, the
//! console's rate limits and figure cache): built lazily (a process starts without Redis and uses it once
//! it answers), every call bounded by [`REDIS_TIMEOUT`], and after a failure left alone for
//! [`RedisLink::RETRY_AFTER`] so callers go straight to their fallback instead of paying a timeout each.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::OnceCell;

/// The longest a Redis call may take before the caller falls back.
pub const REDIS_TIMEOUT: Duration = Duration::from_millis(250);

#[derive(Clone, Default)]
pub struct RedisLink {
    url: Option<String>,
    manager: Arc<OnceCell<ConnectionManager>>,
    down_until: Arc<Mutex<Option<Instant>>>,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: never printed.
        f.debug_struct("RedisLink").field("configured", &self.url.is_some()).field("resting", &self.resting()).finish()
    }
}

impl RedisLink {
    /// How long Redis is left alone after it failed.
    pub const RETRY_AFTER: Duration = Duration::from_secs(5);

    /// `url`: `None` never uses Redis (every call answers Err).
    pub fn new(url: Option<String>) -> Self {
        RedisLink { url, ..Default::default() }
    }

    pub fn is_configured(&self) -> bool {
        self.url.is_some()
    }

    /// Whether calls skip Redis for now, because it failed within [`Self::RETRY_AFTER`].
    pub fn resting(&self) -> bool {
        self.down_until.lock().map(|d| d.is_some_and(|until| Instant::now() < until)).unwrap_or(false)
    }

    async fn connection(&self) -> Result<ConnectionManager, String> {
        let url = self.url.as_deref().ok_or("no redis configured")?;
        if self.resting() {
            return Err("redis failed recently".to_string());
        }
        let manager = self
            .manager
            .get_or_try_init(|| async {
                let client = redis::Client::open(url).map_err(|e| e.to_string())?;
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(REDIS_TIMEOUT))
                    .set_response_timeout(Some(REDIS_TIMEOUT))
                    .set_number_of_retries(1);
                tokio::time::timeout(REDIS_TIMEOUT * 4, ConnectionManager::new_with_config(client, config))
                    .await
                    .map_err(|_| "redis connection timed out".to_string())?
                    .map_err(|e| e.to_string())
            })
            .await;
        Ok(self.failed(manager)?.clone())
    }

    /// Remembers a failure (see [`Self::RETRY_AFTER`]) and passes it on.
    fn failed<T>(&self, result: Result<T, String>) -> Result<T, String> {
        if result.is_err() {
            if let Ok(mut down) = self.down_until.lock() {
                *down = Some(Instant::now() + Self::RETRY_AFTER);
            }
        }
        result
    }

    /// Runs `call` on the connection within [`REDIS_TIMEOUT`]; any failure (no Redis, resting, timeout,
    /// error) is `Err` with its reason, and rests the link.
    pub async fn run<T, F, Fut>(&self, call: F) -> Result<T, String>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = redis::RedisResult<T>>,
    {
        let connection = self.connection().await?;
        let answer = tokio::time::timeout(REDIS_TIMEOUT, call(connection))
            .await
            .map_err(|_| "redis timed out".to_string())
            .and_then(|r| r.map_err(|e| e.to_string()));
        self.failed(answer)
    }
}
