//! The SQL of `oms.orchestration_start`: the intent the capture records, the starter's leased claims,
//! and the settling of every claim — STARTED, SKIPPED, GAVE_UP, or back to waiting with a backoff.
//! Every settling statement is guarded by `status = 'PENDING'` (a settled start never changes; a trigger
//! enforces it too) and, for a starter, by `claimed_by = <this instance>`, so a starter never settles a
//! claim it no longer holds.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use crate::ids::{OrderId, TenantId};
use crate::orchestration::PAUSE_ORCHESTRATION_STARTS;

/// Records the intent to orchestrate a just-captured order: PENDING, due at once. Runs in the
/// capture's transaction, so an order is never committed without it.
pub(crate) async fn record_start_intent(tx: &mut PgConnection, tenant: TenantId, order: OrderId) -> sqlx::Result<()> {
    sqlx::query(
        "insert into oms.orchestration_start (order_id, tenant_id, next_attempt_at, created_at)
         values ($1, $2, now(), now())",
    )
    .bind(order)
    .bind(tenant)
    .execute(tx)
    .await?;
    Ok(())
}

/// A start this instance has claimed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Claimed {
    pub order_id: OrderId,
    pub tenant_id: TenantId,
    /// Attempts made, this one included.
    pub attempts: i32,
}

/// Claims up to `limit` due starts, the longest-due first, skipping rows another starter is claiming
/// and tenants whose starts are paused (PAUSE_ORCHESTRATION_STARTS). Each claim counts an attempt and
/// pushes `next_attempt_at` to the end of the lease: if this instance dies holding it, the start becomes
/// due again by itself. Starts out of attempts are left to [`give_up_exhausted`].
/// Relies on `ix_orchestration_start_due`.
pub(super) async fn claim(
    pool: &PgPool,
    instance_id: &str,
    limit: u32,
    max_attempts: u32,
    lease: Duration,
) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as::<_, Claimed>(
        "with due as (
           select s.order_id
           from oms.orchestration_start s
           where s.status = 'PENDING' and s.next_attempt_at <= now() and s.attempts < $3
             and not exists (
               select 1 from ops.platform_control c
               where c.control_type = $5 and c.enabled and (c.tenant_id is null or c.tenant_id = s.tenant_id)
             )
           order by s.next_attempt_at
           limit $2
           for update of s skip locked
         )
         update oms.orchestration_start s
         set attempts = s.attempts + 1, last_attempt_at = now(), claimed_by = $1, claimed_at = now(),
             next_attempt_at = now() + make_interval(secs => $4)
         from due
         where s.order_id = due.order_id
         returning s.order_id, s.tenant_id, s.attempts",
    )
    .bind(instance_id)
    .bind(i64::from(limit))
    .bind(i64::from(max_attempts))
    .bind(lease.as_secs_f64())
    .bind(PAUSE_ORCHESTRATION_STARTS)
    .fetch_all(pool)
    .await
}

/// How a pending start is settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Settlement {
    /// The engine has the order's instance.
    Started { process_instance_id: String },
    /// Nothing to start: why.
    Skipped { reason: String },
    /// Out of attempts, or given up on purpose: why, and the last error if an attempt failed.
    GaveUp { reason: String, error: Option<String> },
    /// The attempt failed: still PENDING, due again after `delay`, the claim released.
    Retry { error: String, delay: Duration },
}

/// Settles the order's pending start. With `claim`, only while that instance holds it; without, any
/// pending start (a drill giving one up). `by` is recorded as `settled_by`. False when there was no
/// such pending start (settled meanwhile, or the claim expired and someone else took it).
pub(super) async fn settle(
    conn: &mut PgConnection,
    order: OrderId,
    claim: Option<&str>,
    by: &str,
    settlement: &Settlement,
) -> sqlx::Result<bool> {
    let (status, instance, reason, error, delay) = match settlement {
        Settlement::Started { process_instance_id } => ("STARTED", Some(process_instance_id.as_str()), None, None, None),
        Settlement::Skipped { reason } => ("SKIPPED", None, Some(reason.as_str()), None, None),
        Settlement::GaveUp { reason, error } => ("GAVE_UP", None, Some(reason.as_str()), error.as_deref(), None),
        Settlement::Retry { error, delay } => ("PENDING", None, None, Some(error.as_str()), Some(delay.as_secs_f64())),
    };
    let done = sqlx::query(
        "update oms.orchestration_start
         set status = $4, process_instance_id = $5, reason = $6, last_error = coalesce($7, last_error),
             next_attempt_at = case when $4 = 'PENDING' then now() + make_interval(secs => $8) end,
             settled_at = case when $4 = 'PENDING' then null else now() end,
             settled_by = case when $4 = 'PENDING' then null else $3 end,
             claimed_by = null, claimed_at = null
         where order_id = $1 and status = 'PENDING' and ($2::text is null or claimed_by = $2)",
    )
    .bind(order)
    .bind(claim)
    .bind(by)
    .bind(status)
    .bind(instance)
    .bind(reason)
    .bind(error)
    .bind(delay)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// A start given up because its attempts ran out without an outcome.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(super) struct Exhausted {
    pub order_id: OrderId,
    pub tenant_id: TenantId,
    pub reason: String,
}

/// Gives up the due starts that have no attempt left: their last attempt was claimed and never settled
/// (the starter holding it died — repeatedly, if the order itself kills starters), or the limit was
/// lowered since. The claim never takes them, so without this they would wait for ever, unseen.
/// Relies on `ix_orchestration_start_due`.
pub(super) async fn give_up_exhausted(pool: &PgPool, instance_id: &str, max_attempts: u32) -> sqlx::Result<Vec<Exhausted>> {
    sqlx::query_as::<_, Exhausted>(
        "update oms.orchestration_start
         set status = 'GAVE_UP', settled_at = now(), settled_by = $1, next_attempt_at = null,
             claimed_by = null, claimed_at = null,
             reason = case
               when claimed_by is not null then format(
                 'gave up after %s attempts; the last, claimed by %s, ended without an outcome (that starter stopped before settling it)',
                 attempts, claimed_by)
               else format('gave up after %s attempts (the limit is %s); last error: %s',
                           attempts, $2, coalesce(last_error, 'none recorded'))
             end
         where status = 'PENDING' and next_attempt_at <= now() and attempts >= $2
         returning order_id, tenant_id, reason",
    )
    .bind(instance_id)
    .bind(i64::from(max_attempts))
    .fetch_all(pool)
    .await
}

/// Makes every start waiting out a backoff due now (not the live claims). The starter calls it when it
/// sees the engine answer again after an outage, so the backlog drains at once instead of as each
/// backoff ends. Relies on `ix_orchestration_start_due`.
pub(super) async fn release_backoffs(pool: &PgPool) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "update oms.orchestration_start set next_attempt_at = now()
         where status = 'PENDING' and next_attempt_at > now() and claimed_by is null",
    )
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}

/// The starts not yet carried out, and the given-up ones still waiting for a person.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct StartBacklog {
    /// PENDING: will be attempted without anyone acting (waiting, backing off or claimed).
    pub pending: i64,
    /// Of `pending`, held by a starter's claim right now.
    pub claimed: i64,
    /// Age of the oldest pending start (since its order was captured); None when nothing is pending.
    pub oldest_pending_age_secs: Option<f64>,
    /// GAVE_UP starts whose order is still CAPTURED: orders that need a person (the resume-orchestration
    /// repair). A repaired order leaves this count; its given-up record stays.
    pub given_up_waiting: i64,
}

/// Reads the backlog in one statement over the two partial indexes (`ix_orchestration_start_due`,
/// `ix_orchestration_start_gave_up`), so it stays cheap however many starts were carried out.
pub async fn start_backlog(pool: &PgPool) -> crate::Result<StartBacklog> {
    let (pending, claimed, oldest_pending_age_secs, given_up_waiting): (i64, i64, Option<f64>, i64) = sqlx::query_as(
        "select p.pending, p.claimed, p.oldest_age, g.waiting
         from (
           select count(*) as pending,
                  count(*) filter (where claimed_by is not null) as claimed,
                  extract(epoch from now() - min(created_at))::float8 as oldest_age
           from oms.orchestration_start
           where status = 'PENDING'
         ) p,
         (
           select count(*) as waiting
           from oms.orchestration_start s
           join oms.sales_order o on o.order_id = s.order_id
           where s.status = 'GAVE_UP' and o.status = 'CAPTURED'
         ) g",
    )
    .fetch_one(pool)
    .await?;
    Ok(StartBacklog { pending, claimed, oldest_pending_age_secs, given_up_waiting })
}

/// The order's start as the console shows it (`oms.orchestration_start`, primary key). None for an
/// order captured before starts were durable (seeded history, legacy imports).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct OrchestrationStartRow {
    /// PENDING, STARTED, GAVE_UP or SKIPPED.
    pub status: String,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub claimed_by: Option<String>,
    pub process_instance_id: Option<String>,
    pub settled_by: Option<String>,
    pub settled_at: Option<DateTime<Utc>>,
    /// Why it was given up (GAVE_UP) or skipped (SKIPPED).
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl OrchestrationStartRow {
    pub fn given_up(&self) -> bool {
        self.status == "GAVE_UP"
    }
}

pub(crate) async fn orchestration_start(
    db: &mut PgConnection,
    tenant: TenantId,
    order: OrderId,
) -> sqlx::Result<Option<OrchestrationStartRow>> {
    sqlx::query_as::<_, OrchestrationStartRow>(
        "select status, attempts, next_attempt_at, last_attempt_at, last_error, claimed_by, process_instance_id,
                settled_by, settled_at, reason, created_at
         from oms.orchestration_start
         where order_id = $1 and tenant_id = $2",
    )
    .bind(order)
    .bind(tenant)
    .fetch_optional(db)
    .await
}
