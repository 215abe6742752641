//! The scheduler every console replica runs (issue 10 item 2; DESIGN §9): each check at its interval,
//! by the SYSTEM actor `reconciler`. Whether a check is due is read from the database (its last
//! whole-scope run), not from this process' memory, and a run holds the check's advisory lock, so any
//! number of replicas run each check once per interval between them. Each tick first marks FAILED the
//! runs whose worker died. A check that can runs incrementally, with a full run at least every
//! `full_every` so that what disappeared is resolved.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use platform::engine::EngineClient;
use platform::machine::Named;
use sqlx::PgPool;

use super::checks;
use super::model::{CheckName, RunOrigin};
use super::run::{fail_stale_runs, run_one, OneRun};
use crate::error::{ErrorKind, Result};
use crate::identity::Actor;

/// When each check runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Each check and its interval (a check not listed is not scheduled).
    pub checks: Vec<(CheckName, Duration)>,
    /// An incremental check runs whole at least this often.
    pub full_every: Duration,
    /// How often the scheduler looks for due checks.
    pub tick: Duration,
}

impl Schedule {
    /// Every check at `every`, except those `overrides` name (minutes; 0: not scheduled).
    pub fn every(every: Duration, overrides: &[(CheckName, u32)], full_every: Duration) -> Schedule {
        let checks = CheckName::ALL
            .iter()
            .filter_map(|&c| match overrides.iter().find(|o| o.0 == c) {
                Some((_, 0)) => None,
                Some((_, minutes)) => Some((c, Duration::from_secs(u64::from(*minutes) * 60))),
                None => Some((c, every)),
            })
            .collect();
        Schedule { checks, full_every, tick: Duration::from_secs(30) }
    }
}

/// The last whole-scope run of a check (any origin but re-checks) and the last full COMPLETED one.
async fn last_runs(pool: &PgPool, check: CheckName) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>)> {
    Ok(sqlx::query_as(
        "select max(started_at), max(started_at) filter (where status = 'COMPLETED' and not incremental)
           from ops.reconciliation_run
          where reconciliation_type = $1 and entity_id is null and tenant_id is null",
    )
    .bind(check.name())
    .fetch_one(pool)
    .await?)
}

/// One pass: the dead runs, then every due check. Returns the checks it ran.
pub async fn tick(pool: &PgPool, engine: Option<&EngineClient>, schedule: &Schedule) -> Result<Vec<CheckName>> {
    let dead = fail_stale_runs(pool).await?;
    if dead > 0 {
        tracing::warn!(dead, "reconciliation runs whose worker died were marked FAILED");
    }
    let actor = Actor::system("reconciler");
    let now = Utc::now();
    let mut ran = Vec::new();
    for &(check, every) in &schedule.checks {
        let (last, last_full) = last_runs(pool, check).await?;
        let every = TimeDelta::from_std(every).unwrap_or(TimeDelta::MAX);
        if last.is_some_and(|l| now - l < every) {
            continue;
        }
        let full_every = TimeDelta::from_std(schedule.full_every).unwrap_or(TimeDelta::MAX);
        let incremental = checks::info(check).incremental && last_full.is_some_and(|f| now - f < full_every);
        let one = OneRun {
            check,
            tenant: None,
            entities: None,
            origin: RunOrigin::Schedule,
            incremental,
            unless_run_since: Some(now - every),
        };
        match run_one(pool, engine, &actor, &one).await {
            Ok(mut summary) => {
                summary.auto_repairs = super::run::auto_repair_after(pool, engine, &summary, None).await;
                tracing::info!(check = %check, run_id = %summary.run_id, status = %summary.status, checked = summary.checked,
                    mismatches = summary.mismatches, opened = summary.opened, resolved = summary.resolved,
                    auto_repairs = summary.auto_repairs, "reconciliation run");
                ran.push(check);
            }
            // Another replica holds the check's lock: it is running it.
            Err(error) if error.kind() == ErrorKind::Rule => tracing::debug!(check = %check, %error, "skipped"),
            Err(error) => tracing::warn!(check = %check, %error, "a scheduled reconciliation run could not start"),
        }
    }
    Ok(ran)
}

/// Runs [`tick`] every `schedule.tick` for as long as the process runs.
#[tracing::instrument(skip_all)]
pub async fn run_scheduler(pool: PgPool, engine: Option<EngineClient>, schedule: Schedule) {
    let mut ticks = tokio::time::interval(schedule.tick);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = tick(&pool, engine.as_ref(), &schedule).await {
            tracing::warn!(%error, "the reconciliation scheduler's pass failed");
        }
    }
}
