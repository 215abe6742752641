//! What every long-running platform worker shares (outbox relay, projection consumer, engine worker,
//! orchestration starter): the heartbeat row that lets the console tell a live claim owner from a dead
//! one, and a sleep that ends early when the worker is told to stop.

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
