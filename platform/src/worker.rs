//! What every long-running platform worker shares (outbox relay, projection consumer, engine worker,
//! orchestration starter): the heartbeat row that lets the console tell a live claim owner from a dead
//! one, a sleep that ends early when the worker is told to stop, and the arithmetic of retrying.

use std::fmt::Display;
use std::future::Future;
use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::watch;

/// Upserts the worker's row in `platform.worker_heartbeat`. `starting` resets `started_at` (an instance
/// id is never reused across processes, but a row may survive from an earlier run in tests).
pub(crate) async fn beat(
    pool: &PgPool,
    instance_id: &str,
    worker_kind: &str,
    detail: serde_json::Value,
    starting: bool,
) -> sqlx::Result<()> {
    sqlx::query(
        "insert into platform.worker_heartbeat (instance_id, worker_kind, started_at, last_beat_at, detail)
         values ($1, $2, now(), now(), $3)
         on conflict (instance_id) do update
         set worker_kind = excluded.worker_kind, last_beat_at = now(), detail = excluded.detail,
             started_at = case when $4 then now() else platform.worker_heartbeat.started_at end",
    )
    .bind(instance_id)
    .bind(worker_kind)
    .bind(detail)
    .bind(starting)
    .execute(pool)
    .await?;
    Ok(())
}

/// True once a stop was asked for, or the sender is gone (nobody can ask any more).
pub(crate) fn stop_requested(shutdown: &watch::Receiver<bool>) -> bool {
    *shutdown.borrow() || shutdown.has_changed().is_err()
}

/// Sleeps for `pause` unless a stop is requested first; true when the caller should stop.
pub(crate) async fn sleep_or_stop(shutdown: &mut watch::Receiver<bool>, pause: Duration) -> bool {
    if stop_requested(shutdown) {
        return true;
    }
    tokio::select! {
        _ = tokio::time::sleep(pause) => stop_requested(shutdown),
        changed = shutdown.changed() => changed.is_err() || *shutdown.borrow(),
    }
}

/// A worker's main loop: runs `round` until a stop is asked for — again at once after a full round
/// (`Ok(true)`: more is probably waiting), after `poll_interval` otherwise, and after a pause growing
/// with each failed round in a row ([`error_pause`]) once `on_error` has recorded the failure. Trouble
/// never ends the loop.
pub(crate) async fn run_rounds<F, Fut, E>(
    mut shutdown: watch::Receiver<bool>,
    poll_interval: Duration,
    mut round: F,
    mut on_error: impl FnMut(&E),
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<bool, E>>,
    E: Display,
{
    let mut consecutive_errors = 0u32;
    while !stop_requested(&shutdown) {
        let pause = match round().await {
            Ok(true) => {
                consecutive_errors = 0;
                continue;
            }
            Ok(false) => {
                consecutive_errors = 0;
                poll_interval
            }
            Err(error) => {
                on_error(&error);
                consecutive_errors = consecutive_errors.saturating_add(1);
                error_pause(poll_interval, consecutive_errors)
            }
        };
        if sleep_or_stop(&mut shutdown, pause).await {
            break;
        }
    }
}

/// The retry decision after a failed attempt at one unit of work (an outbox event, an orchestration
/// start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Due again after the delay.
    After(Duration),
    /// Out of attempts: left for a person, visibly.
    GiveUp,
}

/// `base · 2^(attempts-1)`, capped: the delay after the `attempts`-th failure (≥ 1). The shift is
/// bounded, so no attempt count overflows it.
pub(crate) fn exponential_backoff(base: Duration, cap: Duration, attempts: u32) -> Duration {
    let factor = 1u32 << attempts.saturating_sub(1).min(20);
    base.saturating_mul(factor).min(cap)
}

/// How long a worker waits after its `consecutive`-th failed round in a row (database trouble):
/// doubling from the poll interval, at most 30 s.
fn error_pause(poll_interval: Duration, consecutive: u32) -> Duration {
    poll_interval.saturating_mul(1u32 << consecutive.min(6)).min(Duration::from_secs(30))
}
