//! Reading reconciliation: the runs (newest first), one run with its findings, the mismatches filtered by
//! check, tenant, status and age and paginated by key, one mismatch with its history across runs. Tenant
//! scope: a mismatch is seen by those scoped to its tenant; a run over every tenant by everyone who may
//! read (its counts name no entity), a tenant's run by those scoped to it.

use chrono::{DateTime, TimeDelta, Utc};
use platform::ids::TenantId;
use platform::machine::Named;
use serde::Serialize;
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use super::mismatch::{self, Mismatch, COLUMNS, SEEN};
use super::model::{CheckName, MismatchStatus};
use crate::command::{read, Action, Envelope};
use crate::error::{Error, Result};
use crate::form::FieldErrors;
use crate::identity::{Actor, TenantScope};

/// One run, as listed.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct RunRow {
    pub run_id: Uuid,
    pub reconciliation_type: String,
    pub tenant_id: Option<Uuid>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub status: String,
    pub checked_count: i64,
    pub mismatch_count: i64,
    pub opened_count: i64,
    pub resolved_count: i64,
    pub auto_repairs: i32,
    pub origin: String,
    pub incremental: bool,
    pub entity_id: Option<Uuid>,
    pub worker: Option<String>,
    pub heartbeat_at: Option<DateTime<Utc>>,
    pub progress: Option<String>,
    pub error: Option<String>,
    pub created_by: String,
}

impl RunRow {
    /// A completed whole-scope run: it found again every mismatch of its check and tenants open at its
    /// window's end, or resolved it (the runs `ops.mismatch_sightings` counts, written or not).
    pub fn saw_every_open_mismatch(&self) -> bool {
        self.status == "COMPLETED" && self.entity_id.is_none() && !self.incremental
    }

    /// How long it took (or has been working).
    pub fn duration(&self, now: DateTime<Utc>) -> TimeDelta {
        self.finished_at.unwrap_or(now) - self.started_at
    }
}

const RUN_COLUMNS: &str = "run_id, reconciliation_type, tenant_id, window_start, window_end, started_at, finished_at, status,
    checked_count, mismatch_count, opened_count, resolved_count, auto_repairs, origin, incremental, entity_id, worker,
    heartbeat_at, progress, error, created_by";

/// The tenants the actor may see (`None`: every tenant).
fn scope(actor: &Actor) -> Option<Vec<Uuid>> {
    match &actor.tenants {
        TenantScope::All => None,
        TenantScope::Only(ids) => Some(ids.iter().map(|t| t.as_uuid()).collect()),
    }
}

/// The most recent runs (before `before`, a started_at/run_id key), newest first; re-checks of one entity
/// are left out unless `rechecks`.
pub async fn runs(pool: &PgPool, actor: &Actor, before: Option<(DateTime<Utc>, Uuid)>, limit: i64, rechecks: bool) -> Result<Vec<RunRow>> {
    read(pool, Envelope::new(actor, Action::ReconcileRead), async |cx| {
        let sql = format!(
            "select {RUN_COLUMNS} from ops.reconciliation_run
              where ($1::uuid[] is null or tenant_id is null or tenant_id = any($1))
                and ($2::timestamptz is null or (started_at, run_id) < ($2, $3))
                and ($4 or entity_id is null)
              order by started_at desc, run_id desc limit $5"
        );
        Ok(sqlx::query_as(&sql)
            .bind(scope(actor))
            .bind(before.map(|b| b.0))
            .bind(before.map(|b| b.1))
            .bind(rechecks)
            .bind(limit.clamp(1, 500))
            .fetch_all(cx.db())
            .await?)
    })
    .await
}

/// One run and the mismatches it found (first `limit`), if the actor may see it.
pub async fn run_detail(pool: &PgPool, actor: &Actor, run_id: Uuid, limit: i64) -> Result<(RunRow, Vec<Mismatch>)> {
    let envelope = Envelope::new(actor, Action::ReconcileRead).entity(super::run::AUDIT_ENTITY, run_id);
    read(pool, envelope, async |cx| {
        let sql = format!("select {RUN_COLUMNS} from ops.reconciliation_run where run_id = $1");
        let run: RunRow = sqlx::query_as(&sql).bind(run_id).fetch_optional(cx.db()).await?.ok_or_else(|| Error::not_found("run", run_id))?;
        if let Some(tenant) = run.tenant_id {
            cx.require_visible(&[TenantId::from_uuid(tenant)])?;
        }
        // What the run found: what it opened, wrote or resolved — and, for a completed whole-scope run,
        // every mismatch of its check and tenants open at its window's end (such a run finds every open
        // mismatch again or resolves it; it writes only the changed ones).
        let whole = run.saw_every_open_mismatch();
        let sql = format!(
            "select {COLUMNS} from {SEEN} m
              where m.check_name = $4
                and (m.run_id = $1 or m.resolved_run_id = $1 or m.last_written_run_id = $1
                     or ($5 and m.first_seen_at <= $6 and (m.resolved_at is null or m.resolved_at > $6)
                         and ($7::uuid is null or m.tenant_id = $7)))
                and ($2::uuid[] is null or m.tenant_id = any($2))
              order by m.first_seen_at desc, m.mismatch_id desc limit $3"
        );
        let found = sqlx::query_as(&sql)
            .bind(run_id)
            .bind(scope(actor))
            .bind(limit.clamp(1, 1000))
            .bind(&run.reconciliation_type)
            .bind(whole)
            .bind(run.window_end)
            .bind(run.tenant_id)
            .fetch_all(cx.db())
            .await?;
        Ok((run, found))
    })
    .await
}

crate::form! {
    /// The mismatch list's filters (a GET form) and its page key.
    pub struct MismatchFilterForm / MismatchFilterFields {
        check: String,
        tenant: String,
        status: String,
        /// Only mismatches first seen at least this many hours ago.
        older_than_hours: String,
        /// The page key: `<first_seen_at RFC 3339>_<mismatch_id>` of the last row shown.
        after: String,
    }
}

/// Which mismatches: every field optional. `status` empty means the open ones.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MismatchFilter {
    pub check: Option<CheckName>,
    pub tenant: Option<TenantId>,
    /// `None`: the open statuses.
    pub status: Option<MismatchStatus>,
    pub older_than_hours: Option<i64>,
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

impl MismatchFilter {
    pub fn parse(form: &MismatchFilterForm) -> std::result::Result<Self, FieldErrors> {
        let f = MismatchFilterForm::FIELDS;
        let mut e = FieldErrors::new();
        let check = match form.check.trim() {
            "" => None,
            c => CheckName::from_arg(c).or_else(|| {
                e.add(f.check, "Choose a check from the list");
                None
            }),
        };
        let tenant = match form.tenant.trim() {
            "" => None,
            t => TenantId::parse(t).ok().or_else(|| {
                e.add(f.tenant, "Choose a tenant from the list");
                None
            }),
        };
        let status = match form.status.trim() {
            "" => None,
            s => MismatchStatus::parse_name(s).or_else(|| {
                e.add(f.status, "Choose a status from the list");
                None
            }),
        };
        let older_than_hours = match form.older_than_hours.trim() {
            "" => None,
            h => match h.parse::<i64>() {
                Ok(h) if (0..=24 * 365).contains(&h) => Some(h),
                _ => {
                    e.add(f.older_than_hours, "A number of hours, 0 to 8760");
                    None
                }
            },
        };
        let after = match form.after.trim() {
            "" => None,
            key => parse_key(key).or_else(|| {
                e.add(f.after, "Not a page key of this list: start from the first page");
                None
            }),
        };
        e.finish(|| MismatchFilter { check, tenant, status, older_than_hours, after })
    }
}

/// The page key of a mismatch row.
pub fn page_key(m: &Mismatch) -> String {
    format!("{}_{}", m.first_seen_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true), m.mismatch_id)
}

fn parse_key(key: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let (at, id) = key.rsplit_once('_')?;
    Some((DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc), Uuid::parse_str(id).ok()?))
}

/// A page of mismatches, newest first seen first (key: first_seen_at, mismatch_id; `ix_mismatch_list` and
/// its per-status, per-check and per-tenant siblings).
pub async fn mismatches(pool: &PgPool, actor: &Actor, filter: &MismatchFilter, limit: i64) -> Result<Vec<Mismatch>> {
    let mut envelope = Envelope::new(actor, Action::ReconcileRead);
    if let Some(tenant) = filter.tenant {
        envelope = envelope.tenant(tenant);
    }
    read(pool, envelope, async |cx| list(cx.db(), actor, filter, limit).await).await
}

async fn list(db: &mut PgConnection, actor: &Actor, filter: &MismatchFilter, limit: i64) -> Result<Vec<Mismatch>> {
    let statuses: Vec<&str> = match filter.status {
        Some(s) => vec![s.name()],
        None => MismatchStatus::ALL.iter().filter(|s| s.is_open()).map(|s| s.name()).collect(),
    };
    let sql = format!(
        "select {COLUMNS} from {SEEN}
          where status = any($1)
            and ($2::text is null or check_name = $2)
            and ($3::uuid is null or tenant_id = $3)
            and ($4::uuid[] is null or tenant_id = any($4))
            and ($5::bigint is null or first_seen_at <= now() - make_interval(hours => $5::int))
            and ($6::timestamptz is null or (first_seen_at, mismatch_id) < ($6, $7))
          order by first_seen_at desc, mismatch_id desc limit $8"
    );
    Ok(sqlx::query_as(&sql)
        .bind(statuses)
        .bind(filter.check.map(|c| c.name()))
        .bind(filter.tenant)
        .bind(scope(actor))
        .bind(filter.older_than_hours)
        .bind(filter.after.map(|a| a.0))
        .bind(filter.after.map(|a| a.1))
        .bind(limit.clamp(1, 500))
        .fetch_all(db)
        .await?)
}

/// One line of a mismatch's history.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct HistoryLine {
    pub occurred_at: DateTime<Utc>,
    pub event: String,
    pub status: String,
    pub actor: String,
    pub run_id: Option<Uuid>,
    pub detail: Value,
}

/// A mismatch, its history, and the other mismatches of the same check and entity (earlier lives).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MismatchDetail {
    pub mismatch: Mismatch,
    pub history: Vec<HistoryLine>,
    pub earlier: Vec<Mismatch>,
}

pub async fn mismatch_detail(pool: &PgPool, actor: &Actor, mismatch_id: Uuid) -> Result<MismatchDetail> {
    let envelope = Envelope::new(actor, Action::ReconcileRead).entity(mismatch::AUDIT_ENTITY, mismatch_id);
    read(pool, envelope, async |cx| {
        let found = mismatch::load(cx.db(), mismatch_id, false).await?.ok_or_else(|| Error::not_found("mismatch", mismatch_id))?;
        if let Some(tenant) = found.tenant() {
            cx.require_visible(&[tenant])?;
        }
        let history = sqlx::query_as(
            "select occurred_at, event, status, actor, run_id, detail from ops.reconciliation_mismatch_event
              where mismatch_id = $1 order by occurred_at, event_id",
        )
        .bind(mismatch_id)
        .fetch_all(cx.db())
        .await?;
        let sql = format!(
            "select {COLUMNS} from {SEEN}
              where check_name = $1 and entity_id = $2 and mismatch_id <> $3 order by first_seen_at desc limit 50"
        );
        let earlier =
            sqlx::query_as(&sql).bind(&found.check_name).bind(found.entity_id).bind(mismatch_id).fetch_all(cx.db()).await?;
        Ok(MismatchDetail { mismatch: found, history, earlier })
    })
    .await
}

/// Open mismatches by check, safety and status (the page's summary and `/metrics`).
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct OpenCount {
    pub check_name: String,
    pub safety_level: Option<String>,
    pub status: String,
    pub count: i64,
}

/// Counts for `/metrics` (the console's own, platform-wide: no actor, no entity named).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Counts {
    pub open: Vec<OpenCount>,
    /// (check, status) → runs.
    pub runs: Vec<(String, String, i64)>,
    /// (check, seconds since the last COMPLETED run).
    pub last_completed_age: Vec<(String, f64)>,
    pub running: i64,
}

pub async fn counts(pool: &PgPool) -> Result<Counts> {
    let open = sqlx::query_as(
        "select check_name, safety_level, status, count(*) as count from ops.reconciliation_mismatch
          where status in ('OPEN', 'ACKNOWLEDGED', 'REPAIRING') group by 1, 2, 3 order by 1, 2, 3",
    )
    .fetch_all(pool)
    .await?;
    let runs = sqlx::query_as("select reconciliation_type, status, count(*) from ops.reconciliation_run group by 1, 2 order by 1, 2")
        .fetch_all(pool)
        .await?;
    let last_completed_age = sqlx::query_as(
        "select reconciliation_type, extract(epoch from now() - max(finished_at))::float8 from ops.reconciliation_run
          where status = 'COMPLETED' and entity_id is null group by 1 order by 1",
    )
    .fetch_all(pool)
    .await?;
    let running = sqlx::query_scalar("select count(*) from ops.reconciliation_run where status = 'RUNNING'").fetch_one(pool).await?;
    Ok(Counts { open, runs, last_completed_age, running })
}
