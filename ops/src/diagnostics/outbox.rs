//! The outbox (lesson §12): what waits to be published, by aggregate and event type with its oldest age
//! (§12.1's detection query), and claims held by a relay that is dead — the ones the release-stale-claims
//! repair may hand back once the owner is known to be gone (§12.3).

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use platform::relay::release::HEARTBEAT_DEAD_AFTER;
use platform::relay::STALE_CLAIM_AFTER;
use serde::Serialize;
use sqlx::PgConnection;

use super::panel::{Status, Verdict};

pub const RUNBOOK: &str = "outbox-stuck.md";

/// Unpublished events of one aggregate and event type.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct PendingEvents {
    pub aggregate_type: String,
    pub event_type: String,
    pub pending: i64,
    /// Of `pending`, those that failed at least once (FAILED: retrying, or given up).
    pub failed: i64,
    /// FAILED with no next attempt: out of attempts, waiting for a person.
    pub given_up: i64,
    pub oldest_pending: DateTime<Utc>,
    pub newest_pending: DateTime<Utc>,
    pub oldest_age_seconds: f64,
}

/// The claims one relay instance holds.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct Claimer {
    pub claimed_by: String,
    pub claims: i64,
    /// Of `claims`, those older than the stale-claim age (§12.3: 10 minutes).
    pub stale: i64,
    pub oldest_claim: DateTime<Utc>,
    pub last_beat_at: Option<DateTime<Utc>>,
    /// `running`, `paused`, `stopped`, as its last heartbeat said.
    pub state: Option<String>,
    /// No heartbeat, one older than the dead-relay age, or a last beat saying it stopped.
    pub dead: bool,
}

/// A relay instance's last word.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct RelayBeat {
    pub instance_id: String,
    pub last_beat_at: DateTime<Utc>,
    pub state: Option<String>,
    pub alive: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutboxBacklog {
    /// Oldest first.
    pub pending: Vec<PendingEvents>,
    /// Dead owners first.
    pub claimers: Vec<Claimer>,
    pub relays: Vec<RelayBeat>,
}

impl OutboxBacklog {
    pub fn total_pending(&self) -> i64 {
        self.pending.iter().map(|p| p.pending).sum()
    }

    pub fn oldest_age_seconds(&self) -> Option<f64> {
        self.pending.iter().map(|p| p.oldest_age_seconds).reduce(f64::max)
    }

    pub fn dead_claims(&self) -> i64 {
        self.claimers.iter().filter(|c| c.dead).map(|c| c.claims).sum()
    }

    pub fn verdict(&self, pending_age: Duration) -> Verdict {
        let dead: Vec<&Claimer> = self.claimers.iter().filter(|c| c.dead).collect();
        if let Some(first) = dead.first() {
            return Verdict::new(
                Status::Err,
                format!(
                    "{} event(s) claimed by relay(s) that are dead ({} — last beat {}); no one will publish them",
                    self.dead_claims(),
                    first.claimed_by,
                    first.last_beat_at.map(|t| t.to_rfc3339()).unwrap_or_else(|| "never".into())
                ),
                "Make sure no live relay still owns the claims, then request the release-stale-claims repair \
                 (it releases only claims older than 10 minutes whose owner is dead).",
                RUNBOOK,
            );
        }
        let alive = self.relays.iter().any(|r| r.alive);
        if let Some(age) = self.oldest_age_seconds().filter(|&a| a > pending_age.as_secs_f64()) {
            let oldest = &self.pending[0];
            let next = if alive {
                "A relay is alive but the backlog ages: is Kafka up? Does the same event fail again and again \
                 (its last_error)? A given-up event holds back its aggregate until republished or quarantined."
            } else {
                "No relay is alive: restart the outbox relay; it resumes from the oldest event."
            };
            return Verdict::new(
                Status::Err,
                format!(
                    "{} event(s) unpublished; the oldest ({} {}) is {:.0} s old",
                    self.total_pending(),
                    oldest.aggregate_type,
                    oldest.event_type,
                    age
                ),
                next,
                RUNBOOK,
            );
        }
        let given_up: i64 = self.pending.iter().map(|p| p.given_up).sum();
        if given_up > 0 {
            return Verdict::new(
                Status::Warn,
                format!("{given_up} event(s) out of attempts, waiting for a person"),
                "Read their last_error: republish once the cause is fixed, or quarantine a poison event.",
                RUNBOOK,
            );
        }
        if self.total_pending() > 0 && !alive {
            return Verdict::new(
                Status::Warn,
                format!("{} event(s) pending and no relay heart-beating", self.total_pending()),
                "Start the outbox relay before the backlog ages.",
                RUNBOOK,
            );
        }
        Verdict::ok(format!("{} event(s) pending, none old.", self.total_pending()), RUNBOOK)
    }
}

/// Reads the backlog of the tenants `tenants` names (all when `None`).
pub async fn backlog(db: &mut PgConnection, tenants: Option<&[TenantId]>) -> sqlx::Result<OutboxBacklog> {
    let tenants: Option<Vec<uuid::Uuid>> = tenants.map(|t| t.iter().map(|t| t.as_uuid()).collect());
    // Lesson §12.1, through ix_outbox_pending_type.
    let pending: Vec<PendingEvents> = sqlx::query_as(
        "select aggregate_type, event_type, count(*) as pending,
                count(*) filter (where status = 'FAILED') as failed,
                count(*) filter (where status = 'FAILED' and next_attempt_at is null) as given_up,
                min(created_at) as oldest_pending, max(created_at) as newest_pending,
                extract(epoch from now() - min(created_at))::float8 as oldest_age_seconds
         from messaging.outbox_event
         where published_at is null and status in ('PENDING', 'FAILED')
           and ($1::uuid[] is null or tenant_id = any($1))
         group by aggregate_type, event_type
         order by oldest_pending",
    )
    .bind(&tenants)
    .fetch_all(&mut *db)
    .await?;
    // Through ix_outbox_processing_claimed; the heartbeat by its primary key.
    let claimers: Vec<Claimer> = sqlx::query_as(
        "select c.claimed_by, c.claims, c.stale, c.oldest_claim, h.last_beat_at, h.detail->>'state' as state,
                (h.last_beat_at is null or h.last_beat_at < now() - make_interval(secs => $3)
                 or h.detail->>'state' = 'stopped') as dead
         from (
           select claimed_by, count(*) as claims,
                  count(*) filter (where claimed_at < now() - make_interval(secs => $2)) as stale,
                  min(claimed_at) as oldest_claim
           from messaging.outbox_event
           where status = 'PROCESSING' and ($1::uuid[] is null or tenant_id = any($1))
           group by claimed_by
         ) c
         left join platform.worker_heartbeat h on h.instance_id = c.claimed_by
         order by dead desc, c.oldest_claim",
    )
    .bind(&tenants)
    .bind(STALE_CLAIM_AFTER.as_secs_f64())
    .bind(HEARTBEAT_DEAD_AFTER.as_secs_f64())
    .fetch_all(&mut *db)
    .await?;
    let relays: Vec<RelayBeat> = sqlx::query_as(
        "select instance_id, last_beat_at, detail->>'state' as state,
                (last_beat_at >= now() - make_interval(secs => $2) and coalesce(detail->>'state', '') <> 'stopped') as alive
         from platform.worker_heartbeat
         where worker_kind = $1 and last_beat_at >= now() - interval '1 day'
         order by last_beat_at desc
         limit 20",
    )
    .bind(platform::relay::WORKER_KIND)
    .bind(HEARTBEAT_DEAD_AFTER.as_secs_f64())
    .fetch_all(&mut *db)
    .await?;
    Ok(OutboxBacklog { pending, claimers, relays })
}
