//! The checks, one module each: what it compares, its kinds of mismatch with the §17.3 output (likely
//! cause, suggested action, safety level, whether automatic repair may be allowed) and its set-based SQL.
//! This file only dispatches.
//!
//! Every SQL check takes the same parameters — `$1` tenant (null: all), `$2` entity ids (null: all), `$3`
//! changed since (null: everything), `$4` the run's window end, `$5` the grace in seconds (younger entities
//! are in flight, not judged) — and answers rows `(examined, entity_id, finding)`: one per entity it
//! examined, with its finding as `json` (entity type and id, tenant, kind, expected, observed) or null when
//! the entity agrees; where what is examined is not what is found (transitions examined, orders found), a
//! row of its own carries the count, with no entity. So a run costs one statement, over the indexes its
//! module names, and the run compares the rows with the open mismatches in that statement
//! (`run::compare_sql`): only what is new or changed is ever built into a JSON array. A detector that finds
//! thousands again on every run also answers a fourth column, its finding's fingerprint
//! ([`CheckInfo::fingerprint`]): its whole runs then compare fingerprints, and build the JSON of what is new
//! or changed only.
//!
//! A check examines in one pass (not a materialized copy of every row read twice), and builds a finding
//! only for an entity that disagrees (a `case`), as `json`, not `jsonb`: the text form builds about twice as
//! fast (10 000 findings: 0.45 s against 0.9 s at 1M orders), and its text is what the run's digest reads.

pub mod audit_transition;
pub mod duplicate_order;
pub mod kafka_projection;
pub mod order_engine;
pub mod order_fulfillment;
pub mod order_outbox;
pub mod outbox_backlog;
pub mod price_snapshot;
pub mod quote_approval;
pub mod quote_order;
pub mod stuck_approval;
pub mod stuck_order;

use platform::engine::EngineClient;
use platform::machine::Named;
use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgConnection, Postgres, Row};

use super::model::{CheckInfo, CheckName, Examined, Finding, Scope};
use crate::error::{Error, Result};

/// What a check says of itself.
pub fn info(check: CheckName) -> &'static CheckInfo {
    match check {
        CheckName::QuoteApproval => &quote_approval::INFO,
        CheckName::QuoteOrder => &quote_order::INFO,
        CheckName::OrderEngine => &order_engine::INFO,
        CheckName::OrderOutbox => &order_outbox::INFO,
        CheckName::KafkaProjection => &kafka_projection::INFO,
        CheckName::OrderFulfillment => &order_fulfillment::INFO,
        CheckName::PriceSnapshot => &price_snapshot::INFO,
        CheckName::AuditTransition => &audit_transition::INFO,
        CheckName::DuplicateOrder => &duplicate_order::INFO,
        CheckName::StuckOrder => &stuck_order::INFO,
        CheckName::StuckApproval => &stuck_approval::INFO,
        CheckName::OutboxBacklog => &outbox_backlog::INFO,
    }
}

/// Every check, in order.
pub fn all() -> Vec<&'static CheckInfo> {
    CheckName::ALL.iter().map(|&c| info(c)).collect()
}

/// The statement of an SQL check (`None`: the check needs more than SQL).
pub fn sql(check: CheckName) -> Option<&'static str> {
    Some(match check {
        CheckName::QuoteApproval => quote_approval::SQL,
        CheckName::QuoteOrder => quote_order::SQL,
        CheckName::OrderEngine => return None,
        CheckName::OrderOutbox => order_outbox::SQL,
        CheckName::KafkaProjection => kafka_projection::SQL,
        CheckName::OrderFulfillment => order_fulfillment::SQL,
        CheckName::PriceSnapshot => price_snapshot::SQL,
        CheckName::AuditTransition => audit_transition::SQL,
        CheckName::DuplicateOrder => duplicate_order::SQL,
        CheckName::StuckOrder => stuck_order::SQL,
        CheckName::StuckApproval => stuck_approval::SQL,
        CheckName::OutboxBacklog => outbox_backlog::SQL,
    })
}

/// How many parameters every check's statement takes (`$1`–`$5`, see the module doc); a check's own follow.
pub(crate) const COMMON_PARAMS: usize = 5;

/// What a whole-scope run compares with the open mismatches (see `run::compare_sql`).
pub(crate) enum Source {
    /// A statement run inside the comparison — with order ↔ engine's instances as `$6`–`$8`, when it has them.
    Sql(&'static str, Option<order_engine::Instances>),
    /// Findings made before (order ↔ engine past one snapshot of the engine: each missing instance confirmed).
    Found(Examined),
}

/// What a whole-scope run of `check` compares (order ↔ engine reads the engine's instances first).
pub(crate) async fn source(check: CheckName, db: &mut PgConnection, engine: Option<&EngineClient>, scope: &Scope) -> Result<Source> {
    match sql(check) {
        Some(statement) => Ok(Source::Sql(statement, None)),
        None => order_engine::source(db, engine, scope, grace(check, scope)).await,
    }
}

/// The grace a check runs with over `scope`: its own, except when re-checking entities with the engine,
/// whose answer after a repair is authoritative at once (the repair's engine calls are made before its
/// re-check runs), so a just-repaired order is judged rather than left "in flight".
pub fn grace(check: CheckName, scope: &Scope) -> i64 {
    match (check, &scope.entities) {
        (CheckName::OrderEngine, Some(_)) => 0,
        _ => info(check).grace_secs,
    }
}

/// Runs one check over `scope`: what it examined and what disagreed.
pub async fn examine(check: CheckName, db: &mut PgConnection, engine: Option<&EngineClient>, scope: &Scope) -> Result<Examined> {
    let grace = grace(check, scope);
    let examined = match sql(check) {
        Some(statement) => run_sql(db, info(check), statement, scope, grace, |q| q).await?,
        None => order_engine::examine(db, engine, scope, grace).await?,
    };
    // A kind the SQL names but the module does not describe is a bug here, not a mismatch out there.
    if let Some(unknown) = examined.findings.iter().find(|f| info(check).kind(&f.kind).is_none()) {
        return Err(Error::Internal(format!("the {} check reported an undescribed kind {}", check.name(), unknown.kind)));
    }
    Ok(examined)
}

/// A check's rows (see the module doc) as one answer: how many it examined, and its findings as a JSON array.
pub(crate) fn as_findings(statement: &str) -> String {
    format!(
        "select coalesce(sum(x.examined), 0)::bigint, coalesce(json_agg(x.finding) filter (where x.finding is not null), '[]'::json)
         from ({statement}) as x(examined, entity_id, finding)"
    )
}

/// Runs a check's statement with the common parameters (and the check's own after them, by `more`),
/// planned as the check says ([`statement_tx`]).
pub(crate) async fn run_sql(
    db: &mut PgConnection,
    check: &CheckInfo,
    statement: &str,
    scope: &Scope,
    grace_secs: i64,
    more: impl for<'q> FnOnce(Query<'q, Postgres, PgArguments>) -> Query<'q, Postgres, PgArguments>,
) -> Result<Examined> {
    let statement = as_findings(statement);
    let query = sqlx::query(&statement)
        .bind(scope.tenant.map(uuid::Uuid::from))
        .bind(scope.entities.clone())
        .bind(scope.since)
        .bind(scope.as_of)
        .bind(grace_secs as f64);
    let mut read = statement_tx(db, check).await?;
    let row = more(query).fetch_one(&mut *read).await?;
    read.commit().await?;
    let checked: i64 = row.try_get(0)?;
    let findings: serde_json::Value = row.try_get(1)?;
    let findings: Vec<Finding> =
        serde_json::from_value(findings).map_err(|e| Error::Internal(format!("a check's findings do not decode: {e}")))?;
    Ok(Examined { checked, findings })
}

/// The transaction a check's statement runs in: read-only, with one snapshot for all it reads (repeatable
/// read: a fingerprinted check's second pass sees what its comparison saw), planned afresh for its values
/// each time, without JIT compilation unless the check allows it ([`CheckInfo::jit`]), with gathered rows
/// priced cheap where the check says so ([`CheckInfo::gather`]) — `set local`, so the pooled connection
/// keeps its own settings.
///
/// Afresh: sqlx prepares a statement once per connection, and after five executions PostgreSQL may switch
/// it to a generic plan, made without the values. A check's statement is written to be planned with them —
/// `$1 is null or …` folds away only for a known `$1`, a window end's selectivity needs the window — and
/// its generic plan ran serially: stuck approvals at 1M orders took 120–156 ms instead of 75–85 ms. A
/// plan costs a millisecond or two; a check runs every few minutes.
pub(crate) async fn statement_tx<'c>(db: &'c mut PgConnection, check: &CheckInfo) -> Result<sqlx::Transaction<'c, Postgres>> {
    let mut read = sqlx::Connection::begin(db).await?;
    // Each its own statement: sqlx's `raw_sql` would send them in one round trip, but its future did not
    // compile as `Send` for every lifetime, which a run spawned by the console needs.
    sqlx::query("set transaction isolation level repeatable read, read only").execute(&mut *read).await?;
    sqlx::query("set local plan_cache_mode = force_custom_plan").execute(&mut *read).await?;
    if !check.jit {
        sqlx::query("set local jit = off").execute(&mut *read).await?;
    }
    if check.gather {
        sqlx::query("set local parallel_tuple_cost = 0.001").execute(&mut *read).await?;
    }
    Ok(read)
}
