//! Requests per minute per client of the internal API, counted in Redis so every console replica shares
//! one budget per client (a fixed one-minute window: `INCR` then `EXPIRE` on first use). Redis is
//! acceleration here as everywhere: when it is down or slow each replica counts on its own (so a client
//! gets at most the budget per replica), `opsdeck_redis_fallback_total{use="rate_limit"}` counts it, and no
//! request fails because Redis did.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use platform::redis_link::RedisLink;

/// What a request may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Over budget: retry after this many seconds (the end of the window).
    Limited { retry_after: u64 },
}

#[derive(Clone, Debug)]
pub struct RateLimit {
    per_minute: u32,
    redis: RedisLink,
    /// Counts per (client, window) when Redis cannot count.
    local: Arc<Mutex<HashMap<String, (u64, u32)>>>,
}

impl RateLimit {
    /// `per_minute` 0: no limit.
    pub fn new(per_minute: u32, redis: RedisLink) -> Self {
        RateLimit { per_minute, redis, local: Default::default() }
    }

    /// Counts one request of `client` now and says whether it may go on.
    pub async fn check(&self, client: &str) -> Verdict {
        if self.per_minute == 0 {
            return Verdict::Allowed;
        }
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let window = now / 60;
        let key = format!("opsdeck:ratelimit:{client}:{window}");
        let counted = self
            .redis
            .run(|mut c| async move {
                let (count,): (u64,) = redis::pipe().atomic().incr(&key, 1).expire(&key, 120).ignore().query_async(&mut c).await?;
                Ok(count)
            })
            .await;
        let count = match counted {
            Ok(count) => count,
            Err(error) => {
                if self.redis.is_configured() {
                    metrics::counter!("opsdeck_redis_fallback_total", "use" => "rate_limit").increment(1);
                    tracing::debug!(%error, "rate limit counted in this process: redis unavailable");
                }
                self.count_locally(client, window)
            }
        };
        verdict(count, self.per_minute, now)
    }

    fn count_locally(&self, client: &str, window: u64) -> u64 {
        let Ok(mut local) = self.local.lock() else { return 0 };
        local.retain(|_, (w, _)| *w == window);
        let entry = local.entry(client.to_string()).or_insert((window, 0));
        entry.1 += 1;
        u64::from(entry.1)
    }
}

/// The `count`th request of a window, against a budget of `per_minute`, at `now` (seconds).
fn verdict(count: u64, per_minute: u32, now: u64) -> Verdict {
    if count <= u64::from(per_minute) {
        Verdict::Allowed
    } else {
        Verdict::Limited { retry_after: 60 - now % 60 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_holds_to_its_last_request_and_the_next_waits_for_the_window() {
        assert_eq!(verdict(10, 10, 120), Verdict::Allowed);
        assert_eq!(verdict(11, 10, 125), Verdict::Limited { retry_after: 55 });
        assert_eq!(verdict(11, 10, 179), Verdict::Limited { retry_after: 1 });
    }

    #[tokio::test]
    async fn without_redis_a_replica_counts_alone_and_still_limits() {
        let limit = RateLimit::new(2, RedisLink::new(Some("redis://127.0.0.1:1".into())));
        assert_eq!(limit.check("svc").await, Verdict::Allowed);
        assert_eq!(limit.check("svc").await, Verdict::Allowed);
        assert!(matches!(limit.check("svc").await, Verdict::Limited { .. }));
        assert_eq!(limit.check("other").await, Verdict::Allowed, "budgets are per client");
    }
}
