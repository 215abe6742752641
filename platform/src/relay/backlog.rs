//! How far behind the outbox is — the numbers behind the "outbox publisher stuck" runbook (lesson 12)
//! and the relay's gauges.

use std::time::Duration;

use serde::Serialize;
use sqlx::PgPool;

/// A claim older than this is stale (lesson 12.3): its owner has most likely died holding it. Only
/// the stale-claim repair releases it, after checking the owner's heartbeat; the relay never does.
pub const STALE_CLAIM_AFTER: Duration = Duration::from_secs(10 * 60);

/// The outbox's unpublished events by state. The counts do not overlap, except `stale_claims`, which
/// is the part of `processing` older than [`STALE_CLAIM_AFTER`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Backlog {
    /// Will go out without anyone acting: PENDING, or FAILED with a next attempt scheduled.
    pub pending: i64,
    /// Age of the oldest of `pending` (by `created_at`); None when nothing is pending.
    pub oldest_pending_age_secs: Option<f64>,
    /// Claimed by a relay and not yet settled.
    pub processing: i64,
    pub stale_claims: i64,
    /// FAILED with no next attempt: out of attempts, waiting for a person (republish or quarantine).
    pub failed: i64,
}

/// Reads the backlog in one statement: two index-backed scans (`ix_outbox_pending` for PENDING/FAILED,
/// `ix_outbox_processing_claimed` for PROCESSING), so it stays cheap however many events were published.
pub async fn outbox_backlog(pool: &PgPool) -> crate::Result<Backlog> {
    let (pending, oldest_pending_age_secs, failed, processing, stale_claims): (i64, Option<f64>, i64, i64, i64) =
        sqlx::query_as(
            "select w.pending, w.oldest_age, w.failed, c.processing, c.stale
             from (
               select count(*) filter (where status = 'PENDING' or next_attempt_at is not null) as pending,
                      extract(epoch from now() - min(created_at)
                        filter (where status = 'PENDING' or next_attempt_at is not null))::float8 as oldest_age,
                      count(*) filter (where status = 'FAILED' and next_attempt_at is null) as failed
               from messaging.outbox_event
               where status in ('PENDING', 'FAILED')
             ) w,
             (
               select count(*) as processing,
                      count(*) filter (where claimed_at < now() - make_interval(secs => $1)) as stale
               from messaging.outbox_event
               where status = 'PROCESSING'
             ) c",
        )
        .bind(STALE_CLAIM_AFTER.as_secs_f64())
        .fetch_one(pool)
        .await?;
    Ok(Backlog { pending, oldest_pending_age_secs, processing, stale_claims, failed })
}
