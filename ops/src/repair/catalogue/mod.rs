//! The repair catalogue: one module per repair, each saying what it checks ([`RepairInfo`]), computing its
//! dry-run (`assess`), applying it through the platform's commands and transitions (`apply`) and
//! verifying afterwards that what it was meant to restore holds (`recheck`). This file only dispatches.
//!
//! Adding a repair: a module here with `INFO`, `assess`, `apply` and `recheck`; its arm in each function
//! below; its variant in [`RepairType`]. The lifecycle (request → approve → execute → re-check), the
//! evidence and the two-person rule come with it from [`super::lifecycle`].

mod approve_quote_manually;
mod escalate_approval;
mod quarantine_event;
mod reassign_approver;
mod release_stale_claims;
mod replay_projection;
mod resolve_duplicate_order;
mod resume_orchestration;
mod retry_engine_job;

use std::time::Duration;

use platform::command::CommandContext;
use platform::engine::{EngineClient, EngineError};
use platform::ids::{OrderId, TenantId};
use platform::orchestration::follow_up::EngineStep;
use platform::query::{order_detail, OrderDetail, OrderLookup};
use platform::relay::release::HEARTBEAT_DEAD_AFTER;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::input::Parameters;
use super::model::{DryRun, Recheck, RepairInfo, RepairType, SafetyCheck, Verdict};
use crate::error::{Error, Result};

/// What repairs reach beyond PostgreSQL, and their settings.
#[derive(Debug, Clone)]
pub struct Services {
    pub engine: EngineClient,
    /// How long an approval stands before the repair must be approved again.
    pub approval_ttl: Duration,
    /// How long a re-check waits for what the repair set in motion and others carry out — the engine
    /// worker running a retried task, the relay and the projection consumer applying a replay — before it
    /// judges.
    pub recheck_wait: Duration,
    /// Whether execution makes the engine calls it owes right after its commit (always, in the console).
    /// `false` leaves them to the background round ([`super::follow_up::run_follow_ups`]) — what a console
    /// that dies between the commit and the call leaves behind; the tests use it to produce that.
    pub follow_ups_inline: bool,
}

impl Services {
    pub fn new(engine: EngineClient) -> Self {
        Services {
            engine,
            approval_ttl: Duration::from_secs(4 * 3600),
            recheck_wait: Duration::from_secs(30),
            follow_ups_inline: true,
        }
    }
}

/// What a repair is about: one entity of one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub tenant: TenantId,
    pub entity_id: Uuid,
}

/// An executed repair as its re-check reads it: the change it proposed and what execution left.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    pub proposed: &'a Value,
    pub after: Option<&'a Value>,
}

/// The catalogue entry of a repair type.
pub fn info(repair: RepairType) -> Option<&'static RepairInfo> {
    Some(match repair {
        RepairType::ResumeOrchestration => &resume_orchestration::INFO,
        RepairType::ReleaseStaleClaims => &release_stale_claims::INFO,
        RepairType::RetryEngineJob => &retry_engine_job::INFO,
        RepairType::ApproveQuoteManually => &approve_quote_manually::INFO,
        RepairType::ResolveDuplicateOrder => &resolve_duplicate_order::INFO,
        RepairType::ReplayProjection => &replay_projection::INFO,
        RepairType::EscalateApproval => &escalate_approval::INFO,
        RepairType::ReassignApprover => &reassign_approver::INFO,
        RepairType::QuarantineEvent => &quarantine_event::INFO,
    })
}

/// Every repair the console can run, in catalogue order.
pub fn catalogue() -> Vec<&'static RepairInfo> {
    <RepairType as platform::machine::Named>::ALL.iter().filter_map(|&t| info(t)).collect()
}

/// The dry-run of `repair` for `target` with `parameters`; the parameters go into the proposed change, so
/// an approval binds to them and execution reads them back ([`Parameters::stored`]).
pub(super) async fn assess(
    repair: RepairType,
    db: &mut PgConnection,
    services: &Services,
    target: &Target,
    parameters: &Parameters,
) -> Result<DryRun> {
    let (s, t, p) = (services, target, parameters);
    let mut dry = match repair {
        RepairType::ResumeOrchestration => resume_orchestration::assess(db, s, t).await,
        RepairType::ReleaseStaleClaims => release_stale_claims::assess(db, s, t).await,
        RepairType::RetryEngineJob => retry_engine_job::assess(db, s, t).await,
        RepairType::ApproveQuoteManually => approve_quote_manually::assess(db, s, t, p).await,
        RepairType::ResolveDuplicateOrder => resolve_duplicate_order::assess(db, s, t, p).await,
        RepairType::ReplayProjection => replay_projection::assess(db, s, t).await,
        RepairType::EscalateApproval => escalate_approval::assess(db, s, t).await,
        RepairType::ReassignApprover => reassign_approver::assess(db, s, t, p).await,
        RepairType::QuarantineEvent => quarantine_event::assess(db, s, t).await,
    }?;
    if !parameters.is_empty() {
        dry.proposed[Parameters::KEY] = serde_json::to_value(parameters).expect("parameters serialize");
    }
    Ok(dry)
}

/// What applying a repair did: its after state, and the engine calls it owes after the commit
/// ([`super::follow_up`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Applied {
    pub after: Value,
    pub follow_ups: Vec<EngineStep>,
}

impl From<Value> for Applied {
    fn from(after: Value) -> Self {
        Applied { after, follow_ups: Vec::new() }
    }
}

pub(super) async fn apply(
    repair: RepairType,
    db: &mut PgConnection,
    services: &Services,
    target: &Target,
    dry: &DryRun,
    ctx: &CommandContext,
) -> Result<Applied> {
    let (s, t) = (services, target);
    match repair {
        RepairType::ResumeOrchestration => resume_orchestration::apply(db, s, t, dry, ctx).await,
        RepairType::ReleaseStaleClaims => release_stale_claims::apply(db, s, t, dry, ctx).await.map(Applied::from),
        RepairType::RetryEngineJob => retry_engine_job::apply(db, s, t, dry, ctx).await,
        RepairType::ApproveQuoteManually => approve_quote_manually::apply(db, s, t, dry, ctx).await.map(Applied::from),
        RepairType::ResolveDuplicateOrder => resolve_duplicate_order::apply(db, s, t, dry, ctx).await,
        RepairType::ReplayProjection => replay_projection::apply(db, s, t, dry, ctx).await.map(Applied::from),
        RepairType::EscalateApproval => escalate_approval::apply(db, s, t, dry, ctx).await.map(Applied::from),
        RepairType::ReassignApprover => reassign_approver::apply(db, s, t, dry, ctx).await.map(Applied::from),
        RepairType::QuarantineEvent => quarantine_event::apply(db, s, t, dry, ctx).await.map(Applied::from),
    }
}

pub(super) async fn recheck(
    repair: RepairType,
    db: &mut PgConnection,
    services: &Services,
    target: &Target,
    outcome: Outcome<'_>,
) -> Result<Recheck> {
    let (s, t, o) = (services, target, outcome);
    match repair {
        RepairType::ResumeOrchestration => resume_orchestration::recheck(db, s, t).await,
        RepairType::ReleaseStaleClaims => release_stale_claims::recheck(db, s, t).await,
        RepairType::RetryEngineJob => retry_engine_job::recheck(db, s, t, o).await,
        RepairType::ApproveQuoteManually => approve_quote_manually::recheck(db, s, t, o).await,
        RepairType::ResolveDuplicateOrder => resolve_duplicate_order::recheck(db, s, t, o).await,
        RepairType::ReplayProjection => replay_projection::recheck(db, s, t, o).await,
        RepairType::EscalateApproval => escalate_approval::recheck(db, s, t, o).await,
        RepairType::ReassignApprover => reassign_approver::recheck(db, s, t, o).await,
        RepairType::QuarantineEvent => quarantine_event::recheck(db, s, t, o).await,
    }
}

/// A re-check from its checks: coherent when none fails.
pub(crate) fn judged(checks: Vec<SafetyCheck>) -> Recheck {
    Recheck { coherent: checks.iter().all(|c| c.verdict != Verdict::Fail), checks }
}

/// A check that passes when `ok`, fails otherwise, with what was found.
pub(crate) fn check(question: &str, ok: bool, detail: impl Into<String>) -> SafetyCheck {
    SafetyCheck::new(question, if ok { Verdict::Pass } else { Verdict::Fail }, detail)
}

/// Reads a value the dry-run put in the proposed change (the approval bound to it).
pub(crate) fn proposed<T: serde::de::DeserializeOwned>(proposed: &Value, key: &str) -> Result<T> {
    serde_json::from_value(proposed[key].clone())
        .map_err(|e| Error::Internal(format!("the proposed change's {key} is unreadable: {e}")))
}

/// The order a repair is about, whole (lines, fulfillment requests, projection, …).
pub(crate) async fn order_of(db: &mut PgConnection, target: &Target) -> Result<OrderDetail> {
    order_detail(db, target.tenant, &OrderLookup::Id(OrderId::from_uuid(target.entity_id)))
        .await?
        .ok_or_else(|| Error::not_found("order", target.entity_id))
}

/// A worker of some kind that is alive: its freshest heartbeat is recent and does not say `stopped`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LiveWorker {
    pub instance_id: String,
    pub seconds_ago: i64,
    pub paused: bool,
}

/// The live worker of `kind` that beat last, if any (`platform.worker_heartbeat`).
pub(crate) async fn live_worker(db: &mut PgConnection, kind: &str) -> Result<Option<LiveWorker>> {
    let row: Option<(String, f64, Option<String>)> = sqlx::query_as(
        "select instance_id, extract(epoch from now() - last_beat_at)::float8, detail->>'state'
         from platform.worker_heartbeat
         where worker_kind = $1 and last_beat_at > now() - make_interval(secs => $2)
           and coalesce(detail->>'state', 'running') <> 'stopped'
         order by last_beat_at desc limit 1",
    )
    .bind(kind)
    .bind(HEARTBEAT_DEAD_AFTER.as_secs_f64())
    .fetch_optional(db)
    .await?;
    Ok(row.map(|(instance_id, ago, state)| LiveWorker {
        instance_id,
        seconds_ago: ago.max(0.0).round() as i64,
        paused: state.as_deref() == Some("paused"),
    }))
}

/// How long a re-check still waits for the work a repair set in motion (the worker, the relay, the
/// consumer): `while !settled && patience.wait().await { … }` polls every half second until the deadline.
pub(crate) struct Patience {
    deadline: tokio::time::Instant,
}

impl Patience {
    pub fn new(within: Duration) -> Self {
        Patience { deadline: tokio::time::Instant::now() + within }
    }

    /// Waits half a second and says whether there is time left to look again.
    pub async fn wait(&self) -> bool {
        if tokio::time::Instant::now() >= self.deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        true
    }
}

/// The engine's failures as the console tells them: unreachable → unavailable (nothing changed); a
/// refusal → a rule with what the engine said.
pub(crate) fn engine_error(error: EngineError) -> Error {
    match error {
        EngineError::Unreachable(detail) => Error::Unavailable { dependency: "process engine", detail },
        EngineError::Rejected { status, body } => Error::rule(format!("the process engine refused ({status}): {body}")),
        other => Error::Internal(other.to_string()),
    }
}

pub(crate) fn orchestration_error(error: platform::orchestration::Error) -> Error {
    match error {
        platform::orchestration::Error::Engine(e) => engine_error(e),
        platform::orchestration::Error::Platform(e) => e.into(),
        other => Error::Internal(other.to_string()),
    }
}
