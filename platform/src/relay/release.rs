//! Releasing stale claims (lesson §12.3) — what the release-stale-claims repair executes, never the relay
//! itself. A claim is stale when it is older than [`STALE_CLAIM_AFTER`] *and* the relay holding it is dead
//! (no heartbeat within [`HEARTBEAT_DEAD_AFTER`]): a slow relay that is alive keeps its claims. Released
//! events go back to PENDING with their attempts kept, so the next live relay publishes them in order.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::STALE_CLAIM_AFTER;
use crate::ids::{OutboxEventId, TenantId};

/// A relay whose heartbeat is older than this is dead (it beats every few seconds).
pub const HEARTBEAT_DEAD_AFTER: Duration = Duration::from_secs(120);

/// The claim an event is under, and everything else its claimer holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Claim {
    pub outbox_event_id: OutboxEventId,
    pub status: String,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub attempts: i32,
    /// The claimer's last heartbeat; `None` when it left none.
    pub claimer_last_beat: Option<DateTime<Utc>>,
    /// Every stale claim of the same claimer in the event's tenant (this event included), oldest first.
    pub stale_of_claimer: Vec<OutboxEventId>,
}

/// The claim facts of one event of `tenant`; `None` when the tenant has no such event. The claimer's other
/// stale claims are the tenant's only: a relay serves every tenant, but a repair acts for one.
pub async fn claim_of(db: &mut PgConnection, tenant: TenantId, event: OutboxEventId) -> crate::Result<Option<Claim>> {
    let row: Option<(String, Option<String>, Option<DateTime<Utc>>, i32)> = sqlx::query_as(
        "select status, claimed_by, claimed_at, attempts from messaging.outbox_event where outbox_event_id = $1 and tenant_id = $2",
    )
    .bind(event)
    .bind(tenant)
    .fetch_optional(&mut *db)
    .await?;
    let Some((status, claimed_by, claimed_at, attempts)) = row else { return Ok(None) };
    let (claimer_last_beat, stale_of_claimer) = match &claimed_by {
        Some(claimer) => {
            let beat: Option<DateTime<Utc>> =
                sqlx::query_scalar("select last_beat_at from platform.worker_heartbeat where instance_id = $1")
                    .bind(claimer)
                    .fetch_optional(&mut *db)
                    .await?;
            // Uses ix_outbox_processing_claimed.
            let stale: Vec<OutboxEventId> = sqlx::query_scalar(
                "select outbox_event_id from messaging.outbox_event
                 where status = 'PROCESSING' and claimed_by = $1 and claimed_at < now() - make_interval(secs => $2)
                   and tenant_id = $3
                 order by claimed_at, outbox_event_id",
            )
            .bind(claimer)
            .bind(STALE_CLAIM_AFTER.as_secs_f64())
            .bind(tenant)
            .fetch_all(&mut *db)
            .await?;
            (beat, stale)
        }
        None => (None, Vec::new()),
    };
    Ok(Some(Claim { outbox_event_id: event, status, claimed_by, claimed_at, attempts, claimer_last_beat, stale_of_claimer }))
}

/// Whether the claimer is dead as of `now`.
pub fn claimer_dead(last_beat: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    match last_beat {
        None => true,
        Some(beat) => now - beat > chrono::TimeDelta::from_std(HEARTBEAT_DEAD_AFTER).expect("a small duration"),
    }
}

/// Puts `events` back to PENDING (claim cleared, attempts kept) — only those still PROCESSING under
/// `claimer` and stale; returns the ones released.
pub async fn release_claims(
    tx: &mut PgConnection,
    claimer: &str,
    events: &[OutboxEventId],
) -> crate::Result<Vec<OutboxEventId>> {
    Ok(sqlx::query_scalar(
        "update messaging.outbox_event set status = 'PENDING', claimed_by = null, claimed_at = null
         where outbox_event_id = any($1) and status = 'PROCESSING' and claimed_by = $2
           and claimed_at < now() - make_interval(secs => $3)
         returning outbox_event_id",
    )
    .bind(events)
    .bind(claimer)
    .bind(STALE_CLAIM_AFTER.as_secs_f64())
    .fetch_all(&mut *tx)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claimer_without_a_recent_heartbeat_is_dead() {
        let now = Utc::now();
        assert!(claimer_dead(None, now));
        assert!(claimer_dead(Some(now - chrono::TimeDelta::minutes(5)), now));
        assert!(!claimer_dead(Some(now - chrono::TimeDelta::seconds(5)), now));
    }
}
