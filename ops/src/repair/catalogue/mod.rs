//! The repair catalogue: one module per repair, each saying what it checks ([`RepairInfo`]), computing its
//! dry-run (`assess`), applying it through the platform's commands and transitions (`apply`) and
//! verifying afterwards that what it was meant to restore holds (`recheck`). This file only dispatches.
//!
//! Adding a repair: a module here with `INFO`, `assess`, `apply` and `recheck`; its arm in each function
//! below; its variant in [`RepairType`]. The lifecycle (request → approve → execute → re-check), the
//! evidence and the two-person rule come with it from [`super::lifecycle`].

mod release_stale_claims;
mod resume_orchestration;

use std::time::Duration;

use platform::command::CommandContext;
use platform::engine::{EngineClient, EngineError};
use platform::ids::TenantId;
use serde_json::Value;
use sqlx::PgConnection;
use uuid::Uuid;

use super::model::{DryRun, Recheck, RepairInfo, RepairType};
use crate::error::{Error, Result};

/// What repairs reach beyond PostgreSQL, and their settings.
#[derive(Debug, Clone)]
pub struct Services {
    pub engine: EngineClient,
    /// How long an approval stands before the repair must be approved again.
    pub approval_ttl: Duration,
}

impl Services {
    pub fn new(engine: EngineClient) -> Self {
        Services { engine, approval_ttl: Duration::from_secs(4 * 3600) }
    }
}

/// What a repair is about: one entity of one tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target {
    pub tenant: TenantId,
    pub entity_id: Uuid,
}

/// The catalogue entry of a repair type.
pub fn info(repair: RepairType) -> Option<&'static RepairInfo> {
    match repair {
        RepairType::ResumeOrchestration => Some(&resume_orchestration::INFO),
        RepairType::ReleaseStaleClaims => Some(&release_stale_claims::INFO),
        _ => None,
    }
}

/// Every repair the console can run, in catalogue order.
pub fn catalogue() -> Vec<&'static RepairInfo> {
    <RepairType as platform::machine::Named>::ALL.iter().filter_map(|&t| info(t)).collect()
}

fn not_in_catalogue(repair: RepairType) -> Error {
    Error::rule(format!("the {repair} repair is not in this console's catalogue yet"))
}

pub(super) async fn assess(repair: RepairType, db: &mut PgConnection, services: &Services, target: &Target) -> Result<DryRun> {
    match repair {
        RepairType::ResumeOrchestration => resume_orchestration::assess(db, services, target).await,
        RepairType::ReleaseStaleClaims => release_stale_claims::assess(db, services, target).await,
        other => Err(not_in_catalogue(other)),
    }
}

pub(super) async fn apply(
    repair: RepairType,
    db: &mut PgConnection,
    services: &Services,
    target: &Target,
    dry: &DryRun,
    ctx: &CommandContext,
) -> Result<Value> {
    match repair {
        RepairType::ResumeOrchestration => resume_orchestration::apply(db, services, target, dry, ctx).await,
        RepairType::ReleaseStaleClaims => release_stale_claims::apply(db, services, target, dry, ctx).await,
        other => Err(not_in_catalogue(other)),
    }
}

pub(super) async fn recheck(repair: RepairType, db: &mut PgConnection, services: &Services, target: &Target) -> Result<Recheck> {
    match repair {
        RepairType::ResumeOrchestration => resume_orchestration::recheck(db, services, target).await,
        RepairType::ReleaseStaleClaims => release_stale_claims::recheck(db, services, target).await,
        other => Err(not_in_catalogue(other)),
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
