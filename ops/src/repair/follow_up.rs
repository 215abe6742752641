//! The engine calls a repair owes after its commit (issue 9 item 3; lesson §23).
//!
//! A repair that must tell the process engine something — start or restart an order's process, give a
//! failed task a retry, end a cancelled duplicate's process — gets those calls back from the platform as
//! [`EngineStep`]s. [`record`] keeps them in `ops.repair_follow_up` in the transaction of the change, so a
//! committed change always carries the calls it still owes, and a rolled-back one owes nothing. After the
//! commit [`carry_out`] makes the calls and records each attempt (`ops.repair_follow_up_attempt`); one
//! that fails — the engine went away between the commit and the call — stays pending, is shown on the
//! repair and its incident, and is tried again by [`run_follow_ups`] with a capped backoff until it
//! succeeds. Steps look before they act (see [`platform::orchestration::follow_up`]), so one carried out
//! twice after a crash is harmless; a step is claimed `for update skip locked`, so two replicas never make
//! the same call at once.

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::engine::EngineClient;
use platform::ids::TenantId;
use platform::orchestration::follow_up::EngineStep;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::ids::{IncidentId, RepairId};
use crate::incident::timeline::{self, event_type, NewEvent};
use crate::incident::{EntityRef, EntityType, EventKind};

/// Backoff of a pending step: 5 s doubled per failed attempt, at most five minutes.
pub fn backoff(failed_attempts: i64) -> Duration {
    let exp = failed_attempts.clamp(0, 6) as u32;
    Duration::from_secs(5 * 2u64.pow(exp)).min(Duration::from_secs(300))
}

/// One engine call a repair owes or made, with its attempts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FollowUp {
    pub seq: i32,
    pub description: String,
    pub step: Value,
    pub created_at: DateTime<Utc>,
    pub attempts: i64,
    /// When it succeeded, and what the engine answered.
    pub done_at: Option<DateTime<Utc>>,
    pub outcome: Option<Value>,
    pub last_error: Option<String>,
    pub last_attempt_at: Option<DateTime<Utc>>,
}

impl FollowUp {
    pub fn pending(&self) -> bool {
        self.done_at.is_none()
    }
}

/// Records the steps a change owes, in the change's transaction.
pub(super) async fn record(tx: &mut PgConnection, repair: RepairId, tenant: TenantId, steps: &[EngineStep]) -> Result<()> {
    for (seq, step) in steps.iter().enumerate() {
        sqlx::query(
            "insert into ops.repair_follow_up (repair_id, seq, tenant_id, step, description) values ($1, $2, $3, $4, $5)",
        )
        .bind(repair)
        .bind(seq as i32)
        .bind(tenant)
        .bind(serde_json::to_value(step).expect("a step serializes"))
        .bind(step.describe())
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    seq: i32,
    description: String,
    step: Value,
    created_at: DateTime<Utc>,
    attempts: i64,
    done_at: Option<DateTime<Utc>>,
    outcome: Option<Value>,
    last_error: Option<String>,
    last_attempt_at: Option<DateTime<Utc>>,
}

/// A repair's follow-ups, in order, with what their attempts say.
pub async fn of_repair(db: &mut PgConnection, repair: RepairId) -> Result<Vec<FollowUp>> {
    let rows = sqlx::query_as::<_, Row>(
        "select f.seq, f.description, f.step, f.created_at,
                (select count(*) from ops.repair_follow_up_attempt a where a.repair_id = f.repair_id and a.seq = f.seq) as attempts,
                d.attempted_at as done_at, d.outcome,
                l.error as last_error, l.attempted_at as last_attempt_at
         from ops.repair_follow_up f
         left join ops.repair_follow_up_attempt d on d.repair_id = f.repair_id and d.seq = f.seq and d.ok
         left join lateral (select a.error, a.attempted_at from ops.repair_follow_up_attempt a
                            where a.repair_id = f.repair_id and a.seq = f.seq and not a.ok
                            order by a.attempted_at desc limit 1) l on true
         where f.repair_id = $1 order by f.seq",
    )
    .bind(repair)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| FollowUp {
            seq: r.seq,
            description: r.description,
            step: r.step,
            created_at: r.created_at,
            attempts: r.attempts,
            done_at: r.done_at,
            outcome: r.outcome,
            last_error: r.last_error,
            last_attempt_at: r.last_attempt_at,
        })
        .collect())
}

/// What one round of [`carry_out`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Carried {
    pub done: u32,
    pub failed: u32,
}

/// Which pending steps a round takes.
#[derive(Debug, Clone, Copy)]
pub enum Which {
    /// Every pending step of one repair, now (right after its commit).
    Repair(RepairId),
    /// Pending steps of any repair whose backoff has passed (the background round).
    Due,
}

/// Carries out pending steps, each in its own transaction holding its row, and records each attempt as
/// `who`. A step another replica holds is skipped; the engine being away is an attempt that failed, not
/// an error of the round.
pub async fn carry_out(pool: &PgPool, engine: &EngineClient, who: &str, which: Which) -> Result<Carried> {
    let candidates: Vec<(RepairId, i32, i64)> = sqlx::query_as(
        "select f.repair_id, f.seq,
                (select count(*) from ops.repair_follow_up_attempt a where a.repair_id = f.repair_id and a.seq = f.seq)
         from ops.repair_follow_up f
         where ($1::uuid is null or f.repair_id = $1)
           and not exists (select 1 from ops.repair_follow_up_attempt a where a.repair_id = f.repair_id and a.seq = f.seq and a.ok)
         order by f.created_at, f.seq
         limit 200",
    )
    .bind(match which {
        Which::Repair(id) => Some(id.as_uuid()),
        Which::Due => None,
    })
    .fetch_all(pool)
    .await?;
    let mut carried = Carried::default();
    for (repair, seq, attempts) in candidates {
        if let Which::Due = which {
            let last: Option<DateTime<Utc>> = sqlx::query_scalar(
                "select max(attempted_at) from ops.repair_follow_up_attempt where repair_id = $1 and seq = $2",
            )
            .bind(repair)
            .bind(seq)
            .fetch_one(pool)
            .await?;
            let wait = chrono::Duration::from_std(backoff(attempts)).unwrap_or_default();
            if last.is_some_and(|at| Utc::now() < at + wait) {
                continue;
            }
        }
        match carry_out_one(pool, engine, who, repair, seq, attempts).await? {
            Some(true) => carried.done += 1,
            Some(false) => carried.failed += 1,
            None => {}
        }
    }
    Ok(carried)
}

/// One step: `Some(ok)` when attempted, `None` when another replica holds it or it is already done.
async fn carry_out_one(pool: &PgPool, engine: &EngineClient, who: &str, repair: RepairId, seq: i32, attempts: i64) -> Result<Option<bool>> {
    let mut tx = pool.begin().await?;
    let row: Option<(Value, String, IncidentId, TenantId, String, Uuid)> = sqlx::query_as(
        "select f.step, f.description, r.incident_id, r.tenant_id, r.entity_type, r.entity_id
         from ops.repair_follow_up f join ops.repair_command_log r using (repair_id)
         where f.repair_id = $1 and f.seq = $2
           and not exists (select 1 from ops.repair_follow_up_attempt a where a.repair_id = f.repair_id and a.seq = f.seq and a.ok)
         for update of f skip locked",
    )
    .bind(repair)
    .bind(seq)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((step, description, incident, tenant, entity_type, entity_id)) = row else {
        return Ok(None);
    };
    let step: EngineStep =
        serde_json::from_value(step).map_err(|e| Error::Internal(format!("stored follow-up step {repair}/{seq}: {e}")))?;
    let result = step.carry_out(engine).await;
    let (ok, outcome, error) = match &result {
        Ok(outcome) => (true, Some(outcome.clone()), None),
        Err(e) => (false, None, Some(e.to_string())),
    };
    sqlx::query(
        "insert into ops.repair_follow_up_attempt (attempt_id, repair_id, seq, ok, outcome, error, attempted_by)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(repair)
    .bind(seq)
    .bind(ok)
    .bind(&outcome)
    .bind(&error)
    .bind(who)
    .execute(&mut *tx)
    .await?;
    // The incident hears when a call is owed after a failure, and when a late one is made; a call that
    // succeeds at once is part of the execution it already heard about.
    let headline = match (ok, attempts) {
        (false, 0) => Some(format!("Engine call pending after the commit — {description}: {}; retried automatically", error.as_deref().unwrap_or(""))),
        (true, n) if n > 0 => Some(format!("Engine call made after {n} failed attempt(s) — {description}")),
        _ => None,
    };
    if let Some(headline) = headline {
        let entities: Vec<EntityRef> = <EntityType as platform::machine::Named>::parse_name(&entity_type)
            .map(|t| EntityRef { entity_type: t, entity_id, tenant_id: tenant })
            .into_iter()
            .collect();
        timeline::append(
            &mut tx,
            NewEvent {
                incident_id: incident,
                kind: EventKind::System,
                event_type: event_type::REPAIR_FOLLOW_UP,
                actor: who,
                headline,
                body: json!({ "repair_id": repair, "seq": seq, "ok": ok, "outcome": outcome, "error": error }),
                entities: &entities,
            },
        )
        .await?;
    }
    tx.commit().await?;
    if ok {
        tracing::info!(%repair, seq, %description, "repair follow-up carried out");
    } else {
        tracing::warn!(%repair, seq, %description, error = error.as_deref().unwrap_or(""), "repair follow-up failed; it stays pending");
    }
    Ok(Some(ok))
}

/// Retries pending follow-ups every `every`, for as long as the process runs (every replica may run it),
/// and re-checks each repair whose last owed call was made late (its re-check waited for it).
pub async fn run_follow_ups(pool: PgPool, services: super::Services, every: Duration) {
    let actor = crate::identity::Actor::system("repair-follow-up");
    let who = actor.display();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match carry_out(&pool, &services.engine, &who, Which::Due).await {
            Ok(Carried { done: 0, failed: 0 }) => continue,
            Ok(c) => tracing::info!(done = c.done, failed = c.failed, "repair follow-ups retried"),
            Err(error) => {
                tracing::warn!(%error, "repair follow-ups could not be retried");
                continue;
            }
        }
        match settled_since_recheck(&pool).await {
            Ok(repairs) => {
                for repair in repairs {
                    if let Err(error) = super::recheck_repair(&pool, &services, &actor, repair).await {
                        tracing::warn!(%repair, %error, "a repair's late engine calls were made; its re-check could not run");
                    }
                }
            }
            Err(error) => tracing::warn!(%error, "repairs to re-check could not be listed"),
        }
    }
}

/// Executed repairs whose owed calls are all made and that have not been re-checked (execution leaves the
/// re-check to the round that makes the last pending call).
pub async fn settled_since_recheck(pool: &PgPool) -> Result<Vec<RepairId>> {
    Ok(sqlx::query_scalar(
        "select r.repair_id from ops.repair_command_log r
         where r.status = 'EXECUTED'
           and exists (select 1 from ops.repair_follow_up f where f.repair_id = r.repair_id)
           and not exists (select 1 from ops.repair_follow_up f where f.repair_id = r.repair_id
                             and not exists (select 1 from ops.repair_follow_up_attempt a
                                             where a.repair_id = f.repair_id and a.seq = f.seq and a.ok))
           and r.recheck is null
         limit 50",
    )
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_and_is_capped() {
        assert_eq!(backoff(0), Duration::from_secs(5));
        assert_eq!(backoff(1), Duration::from_secs(10));
        assert_eq!(backoff(3), Duration::from_secs(40));
        assert_eq!(backoff(7), Duration::from_secs(300));
        assert_eq!(backoff(1000), Duration::from_secs(300));
    }
}
