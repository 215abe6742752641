//! A reconciliation run (lesson §6.3): one check over a tenant (or all) and a window, with its counts and
//! status, visible while it works.
//!
//! A run is three steps, each committed on its own so that progress shows and a dead worker is noticed:
//!
//! 1. **start** — a command of the runner (`reconcile.run`: authorised, audited): the RUNNING row with its
//!    window (from the watermark when incremental), origin and worker;
//! 2. **examine** — the check's one set-based statement (order ↔ engine: the engine's instances first),
//!    while a heartbeat task keeps `heartbeat_at` fresh and `progress` says what it is doing;
//! 3. **record** — first, read-only, the findings against the open mismatches of the scope
//!    ([`compare_sql`]: what is new or changed, what is found again unchanged — counted on read, not
//!    rewritten —, what is no longer found); then in one transaction: every new or changed finding upserted
//!    as the one open mismatch of its (check, entity) — OPENED or SEEN —, every open mismatch of the scope the
//!    run no longer finds RESOLVED with the run as evidence, and the run COMPLETED with its counts. A
//!    failure marks the run FAILED with why.
//!
//! A run over a scope runs the check's statement inside the comparison ([`compare_sql`]) — order ↔ engine's
//! too, with the engine's instances as parameters, when they were read in one snapshot: only what is new or
//! changed is built as JSON, and the console neither parses nor builds it.
//!
//! A run over the whole scope of a check holds the check's advisory lock, so two replicas never run the
//! same check at once; a RUNNING run found while holding the lock, or one whose heartbeat stopped, died
//! with its worker and is marked FAILED. Incremental runs look at what changed since the last clean run
//! (minus the check's grace) and do not resolve what they did not look at; full runs and re-checks do.

use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::engine::EngineClient;
use platform::ids::TenantId;
use platform::machine::Named;
use serde::Serialize;
use serde_json::json;
use sqlx::postgres::PgArguments;
use sqlx::query::QueryAs;
use sqlx::{Acquire, PgConnection, PgPool, Postgres};
use uuid::Uuid;

use super::checks;
use super::model::{CheckName, Examined, RunOrigin, RunStatus, Scope};
use crate::command::{run as command, Action, Envelope};
use crate::error::{Error, Result};
use crate::identity::Actor;

/// How audit lines name a run.
pub const AUDIT_ENTITY: &str = "RECONCILIATION_RUN";

/// A run whose heartbeat is older than this died with its worker.
pub const STALE_AFTER: Duration = Duration::from_secs(120);
const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);

/// What to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunRequest {
    /// The checks, in order (`all`: every one).
    pub checks: Vec<CheckName>,
    pub tenant: Option<TenantId>,
    pub origin: RunOrigin,
    /// Look only at what changed since the last clean run, for the checks that can.
    pub incremental: bool,
}

impl RunRequest {
    /// Every check, whole, over every tenant.
    pub fn all(origin: RunOrigin) -> Self {
        RunRequest { checks: CheckName::ALL.to_vec(), tenant: None, origin, incremental: false }
    }

    pub fn one(check: CheckName, origin: RunOrigin) -> Self {
        RunRequest { checks: vec![check], tenant: None, origin, incremental: false }
    }
}

/// What one run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSummary {
    pub run_id: Uuid,
    pub check: CheckName,
    pub status: RunStatus,
    pub incremental: bool,
    pub checked: i64,
    /// Findings of this run (new and seen again).
    pub mismatches: i64,
    pub opened: i64,
    pub resolved: i64,
    /// Repairs executed automatically after the run (where an admin allowed it).
    pub auto_repairs: i32,
    pub error: Option<String>,
}

/// Runs the requested checks one after the other. A check that fails (the engine is down) is recorded
/// FAILED with why and the next one still runs; a refusal (role, tenant scope, a run already working)
/// stops at once.
#[tracing::instrument(skip_all, fields(actor = %actor.subject, tenant = ?request.tenant, origin = %request.origin))]
pub async fn run(pool: &PgPool, engine: Option<&EngineClient>, actor: &Actor, request: &RunRequest) -> Result<Vec<RunSummary>> {
    let mut done = Vec::with_capacity(request.checks.len());
    for &check in &request.checks {
        let one = OneRun {
            check,
            tenant: request.tenant,
            entities: None,
            origin: request.origin,
            incremental: request.incremental,
            unless_run_since: None,
        };
        let mut summary = run_one(pool, engine, actor, &one).await?;
        summary.auto_repairs = auto_repair_after(pool, engine, &summary, request.tenant).await;
        done.push(summary);
    }
    Ok(done)
}

/// Automatic repair of what a completed run found, where an admin allowed it (needs the engine: the
/// repairs' services). Never fails the run; returns how many repairs executed.
pub(crate) async fn auto_repair_after(
    pool: &PgPool,
    engine: Option<&EngineClient>,
    summary: &RunSummary,
    tenant: Option<TenantId>,
) -> i32 {
    let (Some(engine), RunStatus::Completed) = (engine, summary.status) else { return 0 };
    if summary.mismatches == 0 {
        return 0;
    }
    match super::auto_repair::after_run(pool, engine, summary.run_id, summary.check, tenant).await {
        Ok(done) => done.executed,
        Err(error) => {
            tracing::warn!(run_id = %summary.run_id, %error, "automatic repair after the run failed");
            0
        }
    }
}

/// One run of one check.
#[derive(Debug, Clone)]
pub(crate) struct OneRun {
    pub check: CheckName,
    pub tenant: Option<TenantId>,
    /// A re-check: only these entities.
    pub entities: Option<Vec<Uuid>>,
    pub origin: RunOrigin,
    pub incremental: bool,
    /// The scheduler's: not if a whole-scope run of the check started after this (another replica ran it
    /// between this one deciding it was due and taking the lock).
    pub unless_run_since: Option<DateTime<Utc>>,
}

#[tracing::instrument(skip_all, fields(check = %one.check, origin = %one.origin))]
pub(crate) async fn run_one(pool: &PgPool, engine: Option<&EngineClient>, actor: &Actor, one: &OneRun) -> Result<RunSummary> {
    // A run over the whole scope holds the check's lock for its duration, on a connection of its own.
    let mut lock = None;
    if one.entities.is_none() {
        let mut held = CheckLock { conn: Some(pool.acquire().await?), check: one.check };
        let conn = held.conn();
        if !try_lock(conn, one.check).await? {
            return Err(Error::rule(format!(
                "a run of the {} check is already working (another console replica or person started it): wait for it",
                one.check.slug()
            )));
        }
        // Holding the lock, any RUNNING whole-scope run of this check lost its worker.
        fail_orphans(conn, one.check).await?;
        if let Some(since) = one.unless_run_since {
            if ran_since(conn, one.check, since).await? {
                held.release().await;
                return Err(Error::rule(format!("the {} check ran meanwhile (another replica)", one.check.slug())));
            }
        }
        lock = Some(held);
    }
    let result = run_locked(pool, engine, actor, one).await;
    if let Some(held) = lock {
        held.release().await;
    }
    result
}

/// A check's advisory lock (session-level) and the pooled connection holding it. Released, the connection
/// goes back to the pool unlocked — warm: a new server process would cost the next statement its catalog
/// caches (20 ms of a 60 ms check at 1M orders). Dropped without release (the run's task died or its
/// future was dropped), the connection is closed instead, which releases the lock.
struct CheckLock {
    conn: Option<sqlx::pool::PoolConnection<sqlx::Postgres>>,
    check: CheckName,
}

impl CheckLock {
    fn conn(&mut self) -> &mut PgConnection {
        self.conn.as_mut().expect("held until released")
    }

    async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            if let Err(error) = unlock(&mut conn, self.check).await {
                tracing::warn!(%error, check = %self.check, "cannot release a check's lock: closing its connection");
                drop(conn.detach());
            }
        }
    }
}

impl Drop for CheckLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Not back to the pool still locked: closing the session releases the lock.
            drop(conn.detach());
        }
    }
}

async fn run_locked(pool: &PgPool, engine: Option<&EngineClient>, actor: &Actor, one: &OneRun) -> Result<RunSummary> {
    let info = checks::info(one.check);
    let as_of = Utc::now();
    let run_id = Uuid::now_v7();
    let mut envelope = Envelope::new(actor, Action::ReconcileRun).entity(AUDIT_ENTITY, run_id);
    if let Some(tenant) = one.tenant {
        envelope = envelope.tenant(tenant);
    }
    let worker = worker_name();
    let since = command(pool, envelope, async |cx| {
        if one.tenant.is_none() {
            // Every tenant's data: the actor must see every tenant.
            cx.require_tenants(&[])?;
        }
        let since = match (one.incremental && info.incremental && one.entities.is_none()).then_some(()) {
            Some(()) => watermark(cx.db(), one.check, one.tenant).await?.map(|w| w - chrono::TimeDelta::seconds(info.grace_secs)),
            None => None,
        };
        let who = cx.actor_display();
        sqlx::query(
            "insert into ops.reconciliation_run
               (run_id, reconciliation_type, tenant_id, window_start, window_end, started_at, status, created_by,
                origin, incremental, entity_id, worker, heartbeat_at, progress)
             values ($1, $2, $3, coalesce($4, 'epoch'::timestamptz), $5, now(), 'RUNNING', $6, $7, $8, $9, $10, now(), 'examining')",
        )
        .bind(run_id)
        .bind(one.check.name())
        .bind(one.tenant)
        .bind(since)
        .bind(as_of)
        .bind(&who)
        .bind(one.origin.name())
        .bind(since.is_some())
        .bind(one.entities.as_ref().and_then(|e| (e.len() == 1).then(|| e[0])))
        .bind(&worker)
        .execute(cx.db())
        .await?;
        cx.record(json!({ "run_id": run_id, "check": one.check, "tenant": one.tenant, "origin": one.origin,
                          "incremental": since.is_some(), "since": since, "entities": one.entities }));
        Ok(since)
    })
    .await?;

    let scope = Scope { tenant: one.tenant, entities: one.entities.clone(), since, as_of };
    // Stops beating when the run ends — or when its future is dropped (a caller gone), so that a run
    // nobody works on stops looking alive and the sweep marks it FAILED.
    let heartbeat = AbortOnDrop(tokio::spawn(beat(pool.clone(), run_id)));
    let outcome = async {
        let mut db = pool.acquire().await?;
        // A run over a scope (whole or incremental) is compared in the check's own statement; a re-check
        // of entities, with the findings the check made.
        let source = match scope.entities {
            None => checks::source(one.check, &mut db, engine, &scope).await?,
            Some(_) => checks::Source::Found(checks::examine(one.check, &mut db, engine, &scope).await?),
        };
        match source {
            // Steps 2 and 3 at once: only what is new or changed comes back, as the JSON text PostgreSQL
            // made, and goes as it came into RECORD.
            checks::Source::Sql(statement, instances) => {
                record_findings(&mut db, run_id, one, &scope, Found::Sql(statement, instances), &actor.display()).await
            }
            checks::Source::Found(examined) => {
                set_progress(&mut db, run_id, &format!("recording {} findings of {} examined", examined.findings.len(), examined.checked))
                    .await?;
                record(&mut db, run_id, one, &scope, &examined, &actor.display()).await
            }
        }
    }
    .await;
    drop(heartbeat);
    match outcome {
        Ok(summary) => {
            metrics::counter!("opsdeck_reconciliation_runs_total", "check" => one.check.name(), "status" => "COMPLETED").increment(1);
            Ok(summary)
        }
        Err(error) => {
            let why = error.public_message();
            tracing::warn!(%run_id, check = %one.check, error = %error, "a reconciliation run failed");
            metrics::counter!("opsdeck_reconciliation_runs_total", "check" => one.check.name(), "status" => "FAILED").increment(1);
            sqlx::query(
                "update ops.reconciliation_run set status = 'FAILED', finished_at = now(), error = $2, progress = 'failed'
                 where run_id = $1 and status = 'RUNNING'",
            )
            .bind(run_id)
            .bind(&why)
            .execute(pool)
            .await?;
            Ok(RunSummary {
                run_id,
                check: one.check,
                status: RunStatus::Failed,
                incremental: since.is_some(),
                checked: 0,
                mismatches: 0,
                opened: 0,
                resolved: 0,
                auto_repairs: 0,
                error: Some(why),
            })
        }
    }
}

/// A whole-scope run writes a mismatch it finds again unchanged once it was last written between one and
/// two of these ago — where in that hour fixed per mismatch (a hash of its id), so that the ten thousand a
/// detector opened at once are not all rewritten by the same run an hour later (see [`compare_sql`]).
pub const SEEN_CHECKPOINT: Duration = Duration::from_secs(60 * 60);

/// How a finding is digested, in [`compare_sql`] and [`RECORD`] alike: PostgreSQL's 64-bit text hash
/// (`hashtextextended`, seed 0 — the one hash partitioning keeps stable across releases), not MD5: a
/// detector's ten thousand findings are digested on every run, and MD5 of their text cost 6–14 ms of a
/// 90 ms statement, the hash 1 ms. It tells a changed finding from an unchanged one of the same entity;
/// were two ever to collide, the change would be written at the mismatch's next checkpoint
/// ([`SEEN_CHECKPOINT`]). A digest written before (MD5, or none) reads as changed: written once again.
fn digest(json: &str) -> String {
    format!("hashtextextended({json}::text, 0)::text")
}

/// The kinds of a check as JSON rows (kind, likely cause, suggested action, safety, automatic repair,
/// suggested repair): joined to the findings in SQL rather than copied into each.
fn kinds_json(check: CheckName) -> String {
    let kinds: Vec<serde_json::Value> = checks::info(check)
        .kinds
        .iter()
        .map(|kind| {
            json!({
                "kind": kind.name, "likely_cause": kind.likely_cause, "suggested_action": kind.suggested_action,
                "safety": kind.safety, "auto_repair": kind.auto_repair, "suggested_repair": kind.repair.map(|r| r.name()),
            })
        })
        .collect();
    serde_json::Value::Array(kinds).to_string()
}

/// Findings given as JSON (built in the console) as a check's rows (see [`checks`]): `$10`, after the
/// comparison's own.
const JSON_FINDINGS: &str = "select 0::bigint, (e->>'entity_id')::uuid, e from json_array_elements($10::json) as e";

/// Step 3's first half, read-only: a check's rows (`source`, see [`checks`]; `$1`–`$5` its parameters, and
/// order ↔ engine's instances `$6`–`$8`) against the open mismatches of the run's scope, in one pass. The
/// comparison's own parameters follow the check's, from `first` (named below from `$6`). It answers
///
/// - how many entities the rows examined;
/// - what to write: every finding that is new, or differs from the one its open mismatch last wrote
///   (`finding_digest`: a 64-bit hash of the finding's JSON text, [`digest`], or the check's fingerprint)
///   — or every one, unless the run is whole (`$7`) — and every one to two hours (`$8`,
///   [`SEEN_CHECKPOINT`], spread per mismatch) the ones found again unchanged, so a read never counts more
///   than two hours of runs. As JSON text; or, `fingerprinted` (the source answers a fourth column, see
///   [`checks::CheckInfo::fingerprint`]), as the entities' ids, whose findings [`fingerprinted_sql`] then
///   builds — the JSON of the others is never built at all;
/// - how many were found again unchanged (left as they are: their sighting is counted on read,
///   `ops.reconciliation_mismatch_seen` — every completed whole run since the last write found it, or that
///   run would have resolved it);
/// - when the run looked (`$9`), the open mismatches it no longer finds.
///
/// Only what is new or changed is built into JSON for the run: a detector that finds tens of thousands
/// again costs a digest of each, not a parse. Read-only, the statement keeps the check's parallel plan
/// (one that also writes cannot have one); the `offset 0` keeps each row's state computed once.
fn compare_sql(source: &str, first: usize, fingerprinted: bool) -> String {
    let [check, whole, checkpoint, looked] = [0, 1, 2, 3].map(|i| format!("${}", first + i));
    // What a row is judged by, what it carries up, and what the comparison answers of the rows to write.
    // Fingerprinted, the finding is never named, so PostgreSQL never builds it.
    let (columns, judged, digest, carried, to_write) = if fingerprinted {
        (
            "examined, entity_id, finding, fingerprint",
            "x.fingerprint",
            "x.fingerprint::text".to_string(),
            "x.entity_id",
            "null::text, coalesce(array_agg(entity_id) filter (where state = 'WRITE'), '{}')",
        )
    } else {
        (
            "examined, entity_id, finding",
            "x.finding",
            digest("x.finding"),
            "x.finding",
            "coalesce(json_agg(finding) filter (where state = 'WRITE'), '[]'::json)::text, '{}'::uuid[]",
        )
    };
    format!(
        "select coalesce(sum(examined), 0)::bigint, {to_write},
                count(*) filter (where state = 'SAME'), coalesce(array_agg(mismatch_id) filter (where state = 'GONE'), '{{}}')
         from (
           select x.examined, {carried}, m.mismatch_id,
                  case when {judged} is null then case when m.mismatch_id is not null and {looked} then 'GONE' end
                       when m.mismatch_id is null or not {whole}
                            or m.last_seen_at < $4 - make_interval(secs => {checkpoint} * (1 + (hashtext(m.mismatch_id::text) & 1023) / 1024.0))
                            or m.finding_digest is distinct from {digest} then 'WRITE'
                       else 'SAME' end as state
           from ({source}) as x({columns})
           full join (select mismatch_id, entity_id, finding_digest, last_seen_at from ops.reconciliation_mismatch
                      where check_name = {check} and status in ('OPEN', 'ACKNOWLEDGED', 'REPAIRING') and ({whole} or {looked})
                        and first_seen_at <= $4
                        and ($1::uuid is null or tenant_id = $1) and ($2::uuid[] is null or entity_id = any($2))) m
             on m.entity_id = x.entity_id
           offset 0
         ) j"
    )
}

/// The second pass of a fingerprinted check's whole run, in the comparison's snapshot: its statement over
/// the entities the comparison found new or changed (`$2`), answering their findings as JSON text and
/// their fingerprints, in the same order — what [`RECORD`] writes, with the fingerprints as digests.
fn fingerprinted_sql(source: &str) -> String {
    format!(
        "select coalesce(json_agg(x.finding), '[]'::json)::text, coalesce(array_agg(x.fingerprint::text), '{{}}')
         from ({source}) as x(examined, entity_id, finding, fingerprint)
         where x.finding is not null"
    )
}

/// Step 3's second half, in the run's transaction: the findings to write (`$1`, from [`compare_sql`])
/// upserted as the one open mismatch of their (check, entity) with a history line when it opens or what
/// it observes changed (`f`, `k`, `prev`, `found`, `up`, `ev`; the kinds' descriptions joined from the
/// check's own list, `$6`: a dozen rows, not one copy per finding), and the mismatches it no longer finds
/// (`$7`) resolved with the run as evidence (`gone`, `gone_ev`) — those still open. A write moves the
/// counters (absorbing the runs counted on read) and keeps the finding's digest: its fingerprint, given
/// in the same order (`$9`, from [`fingerprinted_sql`]), or else the hash of its JSON text.
static RECORD: LazyLock<String> = LazyLock::new(|| {
    format!(
        "with f as (
           select coalesce(($9::text[])[a.i], {digest}) as digest, r.*
           from json_array_elements($1::json) with ordinality as a(e, i),
                json_to_record(a.e) as r(entity_type text, entity_id uuid, tenant_id uuid, kind text, expected jsonb,
                                       observed jsonb)
         ), k as (
           select * from json_to_recordset($6::json) as k(kind text, likely_cause text, suggested_action text, safety text,
             auto_repair boolean, suggested_repair text)
         ), prev as (
           select m.entity_id, m.mismatch_type, m.expected_state, m.observed_state
           from ops.reconciliation_mismatch m
           where m.check_name = $3 and m.status in ('OPEN', 'ACKNOWLEDGED', 'REPAIRING') and m.entity_id in (select entity_id from f)
         ), found as (
           select f.*, k.likely_cause, k.suggested_action, k.safety, k.auto_repair, k.suggested_repair,
                  p.entity_id is not null as existed,
                  p.entity_id is null
                    or (p.mismatch_type, p.expected_state, p.observed_state) is distinct from (f.kind, f.expected, f.observed)
                    as changed
           from f join k using (kind) left join prev p using (entity_id)
         ), up as (
           insert into ops.reconciliation_mismatch as m
             (mismatch_id, run_id, tenant_id, entity_type, entity_id, mismatch_type, expected_state, observed_state,
              likely_cause, suggested_action, safety_level, auto_repair_allowed, status, check_name, first_seen_at,
              last_seen_at, times_seen, last_run_id, suggested_repair, finding_digest)
           select gen_random_uuid(), $2, t.tenant_id, t.entity_type, t.entity_id, t.kind, t.expected, t.observed,
                  t.likely_cause, t.suggested_action, t.safety, t.auto_repair, 'OPEN', $3, $4, $4, 1, $2,
                  t.suggested_repair, t.digest
           from found t
           on conflict (check_name, entity_id) where status in ('OPEN', 'ACKNOWLEDGED', 'REPAIRING') do update
             set last_seen_at = excluded.last_seen_at,
                 times_seen = m.times_seen
                   + (select s.runs from ops.mismatch_sightings(m.check_name, m.tenant_id, m.last_seen_at, null, null) s) + 1,
                 last_run_id = excluded.last_run_id,
                 mismatch_type = excluded.mismatch_type, expected_state = excluded.expected_state,
                 observed_state = excluded.observed_state, likely_cause = excluded.likely_cause,
                 suggested_action = excluded.suggested_action, safety_level = excluded.safety_level,
                 auto_repair_allowed = excluded.auto_repair_allowed, suggested_repair = excluded.suggested_repair,
                 finding_digest = excluded.finding_digest, updated_at = now()
           returning m.mismatch_id, m.entity_id, m.status, m.observed_state, (m.xmax = 0) as opened
         ), ev as (
           insert into ops.reconciliation_mismatch_event (event_id, mismatch_id, run_id, event, status, actor, detail)
           select gen_random_uuid(), up.mismatch_id, $2, case when up.opened then 'OPENED' else 'SEEN' end, up.status, $5,
                  jsonb_build_object('observed', up.observed_state)
           from up join found t using (entity_id)
           where up.opened or t.changed
         ), gone as (
           update ops.reconciliation_mismatch m
              set status = 'RESOLVED', resolved_at = now(), resolved_by = $5, resolved_run_id = $2, updated_at = now(),
                  resolution = jsonb_build_object('run_id', $2, 'origin', $8::text, 'as_of', $4,
                                                  'why', 'the check no longer finds it')
            where m.mismatch_id = any($7) and m.status in ('OPEN', 'ACKNOWLEDGED', 'REPAIRING')
           returning m.mismatch_id
         ), gone_ev as (
           insert into ops.reconciliation_mismatch_event (event_id, mismatch_id, run_id, event, status, actor, detail)
           select gen_random_uuid(), mismatch_id, $2, 'RESOLVED', 'RESOLVED', $5,
                  jsonb_build_object('why', 'the check no longer finds it', 'origin', $8::text)
           from gone
           returning 1
         )
         select (select count(*) from up where opened), (select count(*) from found where existed),
                (select count(*) from gone_ev), (select min(f.kind) from f where f.kind not in (select kind from k))",
        digest = digest("a.e")
    )
});

/// Where a run's findings come from.
enum Found<'a> {
    /// A run over a scope: the check's statement (with order ↔ engine's instances), run inside [`compare_sql`].
    Sql(&'a str, Option<checks::order_engine::Instances>),
    /// Findings built in the console (order ↔ engine, re-checks), with how many examined.
    Json { checked: i64, findings: String },
}

/// Step 3 for findings built in the console (order ↔ engine, re-checks).
async fn record(db: &mut PgConnection, run_id: Uuid, one: &OneRun, scope: &Scope, examined: &Examined, who: &str) -> Result<RunSummary> {
    let findings = serde_json::to_string(&examined.findings).map_err(|e| Error::Internal(format!("findings do not encode: {e}")))?;
    record_findings(db, run_id, one, scope, Found::Json { checked: examined.checked, findings }, who).await
}

/// A check's own parameters (`$1`–`$5`, see [`checks`]; order ↔ engine's instances `$6`–`$8`) bound to
/// `query`, over `entities` — the scope's, or those a fingerprinted check's second pass builds.
fn with_check_params<'q, O>(
    query: QueryAs<'q, Postgres, O, PgArguments>,
    scope: &Scope,
    entities: Option<Vec<Uuid>>,
    grace: i64,
    instances: Option<checks::order_engine::Instances>,
) -> QueryAs<'q, Postgres, O, PgArguments> {
    let query = query.bind(scope.tenant.map(Uuid::from)).bind(entities).bind(scope.since).bind(scope.as_of).bind(grace as f64);
    match instances {
        Some(i) => query.bind(i.orders).bind(i.tenants).bind(i.ids),
        None => query,
    }
}

/// [`compare_sql`], then [`RECORD`] and the run COMPLETED in one transaction.
async fn record_findings(db: &mut PgConnection, run_id: Uuid, one: &OneRun, scope: &Scope, found: Found<'_>, who: &str) -> Result<RunSummary> {
    let whole = scope.entities.is_none() && scope.since.is_none();
    let grace = checks::grace(one.check, scope);
    // What the run no longer finds is resolved by it — when it looked: not an incremental run (it saw only
    // what changed); not a re-check of an entity the check could not judge yet (changed within the grace).
    let looked = |checked: i64| since_is_none(scope) && (scope.entities.is_none() || checked > 0 || grace == 0);
    // The comparison's own parameters follow the check's.
    let after = |instances: &Option<checks::order_engine::Instances>| {
        checks::COMMON_PARAMS + 1 + instances.as_ref().map_or(0, |_| checks::order_engine::Instances::PARAMS)
    };
    let (source, instances, console) = match found {
        Found::Sql(statement, instances) => (statement, instances, None),
        Found::Json { checked, findings } => (JSON_FINDINGS, None, Some((checked, findings))),
    };
    // A fingerprinted check's whole run builds JSON only for what it writes (see `compare_sql`).
    let fingerprinted = whole && console.is_none() && checks::info(one.check).fingerprint;
    let (checked, to_write, digests, same, gone) = match console {
        // Nothing to compare with (a re-check that could not judge): every finding is written, none resolved.
        Some((checked, findings)) if !whole && !looked(checked) => (checked, findings, None, 0, Vec::new()),
        console => {
            let sql = compare_sql(source, after(&instances), fingerprinted);
            let query = sqlx::query_as::<_, (i64, Option<String>, Vec<Uuid>, i64, Vec<Uuid>)>(&sql);
            let mut query = with_check_params(query, scope, scope.entities.clone(), grace, instances.clone())
                .bind(one.check.name())
                .bind(whole)
                .bind(SEEN_CHECKPOINT.as_secs_f64())
                .bind(looked(console.as_ref().map_or(0, |c| c.0)));
            if let Some((_, findings)) = &console {
                query = query.bind(findings.as_str());
            }
            // One snapshot for both passes of a fingerprinted check (`statement_tx`: repeatable read).
            let mut read = checks::statement_tx(db, checks::info(one.check)).await?;
            let (examined, findings, changed, same, gone) = query.fetch_one(&mut *read).await?;
            let (to_write, digests) = match findings {
                Some(findings) => (findings, None),
                None if changed.is_empty() => ("[]".to_string(), Some(Vec::new())),
                None => {
                    let sql = fingerprinted_sql(source);
                    let query = sqlx::query_as::<_, (String, Vec<String>)>(&sql);
                    let (findings, digests) =
                        with_check_params(query, scope, Some(changed), grace, instances).fetch_one(&mut *read).await?;
                    (findings, Some(digests))
                }
            };
            read.commit().await?;
            (console.map_or(examined, |c| c.0), to_write, digests, same, gone)
        }
    };
    set_progress(db, run_id, &format!("recording the findings of {checked} examined ({same} found again unchanged)")).await?;
    let mut tx = db.begin().await?;
    let (opened, seen, resolved, undescribed): (i64, i64, i64, Option<String>) = sqlx::query_as(RECORD.as_str())
        .bind(to_write)
        .bind(run_id)
        .bind(one.check.name())
        .bind(scope.as_of)
        .bind(who)
        .bind(kinds_json(one.check))
        .bind(gone)
        .bind(one.origin.name())
        .bind(digests)
        .fetch_one(&mut *tx)
        .await?;
    // A kind the SQL names but the module does not describe is a bug here, not a mismatch out there: nothing
    // of the run is kept (the transaction is dropped).
    if let Some(kind) = undescribed {
        return Err(Error::Internal(format!("the {} check reported an undescribed kind {kind}", one.check.name())));
    }
    let seen = seen + same;
    complete(&mut tx, run_id, checked, opened, seen, resolved).await?;
    tx.commit().await?;
    Ok(summary(run_id, one.check, scope, checked, opened, seen, resolved))
}

/// The run COMPLETED with its counts.
async fn complete(db: &mut PgConnection, run_id: Uuid, checked: i64, opened: i64, seen: i64, resolved: i64) -> Result<()> {
    sqlx::query(
        "update ops.reconciliation_run
            set status = 'COMPLETED', finished_at = now(), checked_count = $2, mismatch_count = $3, opened_count = $4,
                resolved_count = $5, progress = 'done', heartbeat_at = now()
          where run_id = $1",
    )
    .bind(run_id)
    .bind(checked)
    .bind(opened + seen)
    .bind(opened)
    .bind(resolved)
    .execute(db)
    .await?;
    Ok(())
}

fn summary(run_id: Uuid, check: CheckName, scope: &Scope, checked: i64, opened: i64, seen: i64, resolved: i64) -> RunSummary {
    RunSummary {
        run_id,
        check,
        status: RunStatus::Completed,
        incremental: scope.since.is_some(),
        checked,
        mismatches: opened + seen,
        opened,
        resolved,
        auto_repairs: 0,
        error: None,
    }
}

fn since_is_none(scope: &Scope) -> bool {
    scope.since.is_none()
}

/// The end of the window of the last clean whole-scope run of the check covering the tenant.
async fn watermark(db: &mut PgConnection, check: CheckName, tenant: Option<TenantId>) -> Result<Option<DateTime<Utc>>> {
    Ok(sqlx::query_scalar(
        "select window_end from ops.reconciliation_run
          where reconciliation_type = $1 and status = 'COMPLETED' and entity_id is null and origin <> 'RECHECK'
            and (tenant_id is null or tenant_id = $2)
          order by window_end desc limit 1",
    )
    .bind(check.name())
    .bind(tenant)
    .fetch_optional(db)
    .await?)
}

async fn set_progress(db: &mut PgConnection, run_id: Uuid, progress: &str) -> Result<()> {
    sqlx::query("update ops.reconciliation_run set progress = $2, heartbeat_at = now() where run_id = $1 and status = 'RUNNING'")
        .bind(run_id)
        .bind(progress)
        .execute(db)
        .await?;
    Ok(())
}

/// A task aborted when its handle is dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Keeps the run's heartbeat fresh while it works; aborted when the run ends.
async fn beat(pool: PgPool, run_id: Uuid) {
    loop {
        tokio::time::sleep(HEARTBEAT_EVERY).await;
        let _ = sqlx::query("update ops.reconciliation_run set heartbeat_at = now() where run_id = $1 and status = 'RUNNING'")
            .bind(run_id)
            .execute(&pool)
            .await;
    }
}

/// The advisory lock of a check: `(hashtext('opsdeck.reconcile'), hashtext(check))`.
async fn try_lock(conn: &mut PgConnection, check: CheckName) -> Result<bool> {
    Ok(sqlx::query_scalar("select pg_try_advisory_lock(hashtext('opsdeck.reconcile'), hashtext($1))")
        .bind(check.name())
        .fetch_one(conn)
        .await?)
}

async fn unlock(conn: &mut PgConnection, check: CheckName) -> Result<()> {
    sqlx::query("select pg_advisory_unlock(hashtext('opsdeck.reconcile'), hashtext($1))").bind(check.name()).execute(conn).await?;
    Ok(())
}

async fn ran_since(conn: &mut PgConnection, check: CheckName, since: DateTime<Utc>) -> Result<bool> {
    Ok(sqlx::query_scalar(
        "select exists (select 1 from ops.reconciliation_run
                         where reconciliation_type = $1 and entity_id is null and tenant_id is null and started_at > $2)",
    )
    .bind(check.name())
    .bind(since)
    .fetch_one(conn)
    .await?)
}

/// Whole-scope runs of the check still RUNNING while its lock is free: their worker died.
async fn fail_orphans(conn: &mut PgConnection, check: CheckName) -> Result<u64> {
    Ok(sqlx::query(
        "update ops.reconciliation_run
            set status = 'FAILED', finished_at = now(), progress = 'failed',
                error = 'its worker stopped (' || coalesce(worker, 'unknown') || '): the check''s lock was free while the run said RUNNING'
          where reconciliation_type = $1 and status = 'RUNNING' and entity_id is null",
    )
    .bind(check.name())
    .execute(conn)
    .await?
    .rows_affected())
}

/// Runs whose heartbeat stopped: marked FAILED, never left RUNNING. Returns how many.
pub async fn fail_stale_runs(pool: &PgPool) -> Result<u64> {
    Ok(sqlx::query(
        "update ops.reconciliation_run
            set status = 'FAILED', finished_at = now(), progress = 'failed',
                error = 'its worker stopped (' || coalesce(worker, 'unknown') || '): no heartbeat since ' || heartbeat_at
          where status = 'RUNNING' and heartbeat_at < now() - make_interval(secs => $1)",
    )
    .bind(STALE_AFTER.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected())
}

/// Who works a run: host and process.
fn worker_name() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
    format!("{host}:{}", std::process::id())
}

crate::form! {
    /// The console's "run now" form.
    pub struct RunForm / RunFields {
        /// `all`, or a check's slug.
        check: String,
        /// A tenant id, or empty for every tenant.
        tenant: String,
        /// `on` when ticked.
        incremental: String,
    }
}

impl RunRequest {
    pub fn parse(form: &RunForm, origin: RunOrigin) -> std::result::Result<RunRequest, crate::form::FieldErrors> {
        let f = RunForm::FIELDS;
        let mut e = crate::form::FieldErrors::new();
        let checks = match form.check.trim() {
            "all" => Some(CheckName::ALL.to_vec()),
            c => CheckName::from_arg(c).map(|c| vec![c]),
        };
        if checks.is_none() {
            e.add(f.check, "Choose a check, or all");
        }
        let tenant = match form.tenant.trim() {
            "" => None,
            t => TenantId::parse(t).ok().or_else(|| {
                e.add(f.tenant, "Choose a tenant from the list, or every tenant");
                None
            }),
        };
        let incremental = crate::form::parse::checkbox(Some(form.incremental.as_str()).filter(|s| !s.is_empty()));
        e.finish(|| RunRequest { checks: checks.expect("checked"), tenant, origin, incremental })
    }
}
