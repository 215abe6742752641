//! The identity provider's signing keys (JWKS), cached, found by key id (`kid`).
//!
//! Keys rotate: a token signed with a key id the cache does not know makes it fetch the JWKS again,
//! once. If that finds nothing new, unknown key ids are refused without fetching for
//! [`FRUITLESS_REFETCH_PAUSE`], so made-up key ids cannot make the console hammer the identity provider.
//! The set is also refetched when older than [`MAX_AGE`] (keeping the old set if that fails), so a key the
//! provider withdrew stops being accepted.

use std::time::{Duration, Instant};

use openidconnect::core::{CoreJsonWebKey, CoreJsonWebKeySet};
use openidconnect::{JsonWebKey as _, JsonWebKeyId, JsonWebKeySetUrl, JsonWebKeyUse as _};
use tokio::sync::{Mutex, RwLock};

pub const MAX_AGE: Duration = Duration::from_secs(3600);
pub const FRUITLESS_REFETCH_PAUSE: Duration = Duration::from_secs(60);

/// Why no key could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The provider does not publish a key with this id (or, without an id, exactly one key).
    #[error("no such key")]
    Unknown,
    /// The JWKS could not be fetched: nothing can be verified now.
    #[error("the identity provider's keys cannot be fetched: {0}")]
    Unavailable(String),
}

struct Cached {
    keys: CoreJsonWebKeySet,
    fetched_at: Instant,
}

pub struct JwksCache {
    url: JsonWebKeySetUrl,
    http: reqwest::Client,
    cached: RwLock<Cached>,
    /// Serialises fetches; holds when the last unknown-kid refetch found nothing.
    refetch: Mutex<Option<Instant>>,
}

impl JwksCache {
    /// Starts from the set fetched with discovery.
    pub fn new(url: JsonWebKeySetUrl, http: reqwest::Client, initial: CoreJsonWebKeySet) -> Self {
        JwksCache { url, http, cached: RwLock::new(Cached { keys: initial, fetched_at: Instant::now() }), refetch: Mutex::new(None) }
    }

    /// The whole current set (for openidconnect's ID token verifier).
    pub async fn current(&self) -> CoreJsonWebKeySet {
        self.refresh_if_old().await;
        self.cached.read().await.keys.clone()
    }

    /// The key with id `kid` (without one: the only signing key), refetching once if it is not known.
    pub async fn key(&self, kid: Option<&str>) -> Result<CoreJsonWebKey, KeyError> {
        self.refresh_if_old().await;
        if let Some(key) = find(&self.cached.read().await.keys, kid) {
            return Ok(key);
        }
        self.refetch_for_unknown(kid).await
    }

    /// Called when a key id was not found (here, or by the ID token verifier): fetch again, once.
    pub async fn refetch_for_unknown(&self, kid: Option<&str>) -> Result<CoreJsonWebKey, KeyError> {
        let mut fruitless = self.refetch.lock().await;
        // Someone may have fetched while this request waited for the lock.
        if let Some(key) = find(&self.cached.read().await.keys, kid) {
            return Ok(key);
        }
        if fruitless.is_some_and(|at| at.elapsed() < FRUITLESS_REFETCH_PAUSE) {
            return Err(KeyError::Unknown);
        }
        let keys = self.fetch().await?;
        let found = find(&keys, kid);
        *self.cached.write().await = Cached { keys, fetched_at: Instant::now() };
        match found {
            Some(key) => {
                *fruitless = None;
                tracing::info!(kid, "signing key found after refetching the JWKS (key rotation)");
                Ok(key)
            }
            None => {
                *fruitless = Some(Instant::now());
                Err(KeyError::Unknown)
            }
        }
    }

    async fn refresh_if_old(&self) {
        if self.cached.read().await.fetched_at.elapsed() < MAX_AGE {
            return;
        }
        let _fetching = self.refetch.lock().await;
        if self.cached.read().await.fetched_at.elapsed() < MAX_AGE {
            return;
        }
        match self.fetch().await {
            Ok(keys) => *self.cached.write().await = Cached { keys, fetched_at: Instant::now() },
            Err(error) => tracing::warn!(%error, "cannot refresh the JWKS; keeping the keys already known"),
        }
    }

    async fn fetch(&self) -> Result<CoreJsonWebKeySet, KeyError> {
        CoreJsonWebKeySet::fetch_async(&self.url, &self.http).await.map_err(|e| KeyError::Unavailable(e.to_string()))
    }
}

/// Signing keys only (`use` absent or `sig`); by id, or the only one when the token names none.
fn find(keys: &CoreJsonWebKeySet, kid: Option<&str>) -> Option<CoreJsonWebKey> {
    let mut signing = keys.keys().iter().filter(|k| {
        k.key_use().is_none_or(|u| u.allows_signature())
    });
    match kid {
        Some(kid) => {
            let kid = JsonWebKeyId::new(kid.to_string());
            signing.find(|k| k.key_id() == Some(&kid)).cloned()
        }
        None => {
            let first = signing.next()?;
            signing.next().is_none().then(|| first.clone())
        }
    }
}
