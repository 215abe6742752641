//! The loop's last step (issue 10 item 4; lesson §23.6 "every repair should be followed by
//! reconciliation"): the mismatch's own check runs again for its one entity. If the check no longer finds
//! it, that run resolves it (with the run as evidence); if it still does, a mismatch under repair goes back
//! to its owner. The outcome is written on the mismatch's history, on the repair that came from it and on
//! the incident's timeline.

use chrono::{DateTime, Utc};
use platform::engine::EngineClient;
use platform::machine::{transition, Named};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use super::mismatch::{self, event_type, history, Mismatch};
use super::model::{MismatchMachine, MismatchStatus, MismatchStep, RunOrigin};
use super::run::{run_one, OneRun, RunSummary};
use crate::error::{Error, Result};
use crate::identity::Actor;
use crate::ids::IncidentId;
use crate::incident::timeline::{self, NewEvent};
use crate::incident::EventKind;

/// What a re-check found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecheckOutcome {
    pub mismatch_id: Uuid,
    pub run_id: Option<Uuid>,
    /// The mismatch's status after the re-check.
    pub status: MismatchStatus,
    /// The check no longer finds it.
    pub coherent: bool,
    pub detail: String,
    pub at: DateTime<Utc>,
}

/// Re-runs the mismatch's check for its entity (see the module doc).
#[tracing::instrument(skip_all, fields(actor = %actor.subject, %mismatch_id))]
pub async fn recheck_entity(pool: &PgPool, engine: Option<&EngineClient>, actor: &Actor, mismatch_id: Uuid) -> Result<RecheckOutcome> {
    let before = {
        let mut db = pool.acquire().await?;
        mismatch::load(&mut db, mismatch_id, false).await?.ok_or_else(|| Error::not_found("mismatch", mismatch_id))?
    };
    let check = before.check().ok_or_else(|| Error::Internal(format!("mismatch {mismatch_id} names no known check")))?;
    if !before.status().is_open() {
        return Ok(RecheckOutcome {
            mismatch_id,
            run_id: None,
            status: before.status(),
            coherent: before.status() == MismatchStatus::Resolved,
            detail: format!("the mismatch is already {}", before.status),
            at: Utc::now(),
        });
    }
    let one = OneRun {
        check,
        tenant: before.tenant(),
        entities: Some(vec![before.entity_id]),
        origin: RunOrigin::Recheck,
        incremental: false,
        unless_run_since: None,
    };
    let summary = run_one(pool, engine, actor, &one).await?;
    let mut tx = pool.begin().await?;
    let after = mismatch::load(&mut tx, mismatch_id, true).await?.ok_or_else(|| Error::not_found("mismatch", mismatch_id))?;
    let who = actor.display();
    let (coherent, detail) = verdict(&summary, &before, &after);
    let mut status = after.status();
    if summary.error.is_none() && status.is_open() && !coherent && status == MismatchStatus::Repairing {
        status = transition::<MismatchMachine>(status, MismatchStep::RepairDidNotHelp).map_err(|r| Error::rule(r.to_string()))?;
        sqlx::query("update ops.reconciliation_mismatch set status = $2, updated_at = now() where mismatch_id = $1")
            .bind(mismatch_id)
            .bind(status.name())
            .execute(&mut *tx)
            .await?;
    }
    let outcome = RecheckOutcome { mismatch_id, run_id: Some(summary.run_id), status, coherent, detail, at: Utc::now() };
    history(&mut tx, mismatch_id, Some(summary.run_id), "RECHECKED", status, &who, json!(outcome)).await?;
    if let Some(repair_id) = after.repair_id {
        // Once per repair: the first re-check after its execution is its outcome.
        sqlx::query(
            "update ops.repair_command_log set mismatch_recheck = $2 where repair_id = $1 and mismatch_recheck is null",
        )
        .bind(repair_id)
        .bind(json!(outcome))
        .execute(&mut *tx)
        .await?;
    }
    if let Some(incident) = after.incident_id {
        tell_incident(&mut tx, IncidentId::from_uuid(incident), &after, &outcome, &who).await?;
    }
    tx.commit().await?;
    metrics::counter!("opsdeck_reconciliation_rechecks_total", "check" => check.name(), "coherent" => if coherent { "true" } else { "false" })
        .increment(1);
    Ok(outcome)
}

fn verdict(summary: &RunSummary, before: &Mismatch, after: &Mismatch) -> (bool, String) {
    if let Some(error) = &summary.error {
        return (false, format!("the re-check could not run: {error}"));
    }
    match after.status() {
        MismatchStatus::Resolved => (true, format!("the {} check no longer finds it: resolved", after.check_name)),
        s if s.is_open() && after.last_run_id == Some(summary.run_id) && after.mismatch_type != before.mismatch_type => (
            false,
            format!("the {} check now finds {} (it was {})", after.check_name, after.mismatch_type, before.mismatch_type),
        ),
        s if s.is_open() && after.last_run_id == Some(summary.run_id) => {
            (false, format!("the {} check still finds {}", after.check_name, after.mismatch_type))
        }
        s if s.is_open() => (false, "the entity changed too recently for the check to judge it yet: re-check later".into()),
        other => (false, format!("the mismatch is {other}")),
    }
}

async fn tell_incident(
    db: &mut sqlx::PgConnection,
    incident: IncidentId,
    mismatch: &Mismatch,
    outcome: &RecheckOutcome,
    who: &str,
) -> Result<()> {
    let entities: Vec<_> = mismatch::entity_ref(mismatch).into_iter().collect();
    timeline::append(
        db,
        NewEvent {
            incident_id: incident,
            kind: EventKind::System,
            event_type: event_type::MISMATCH_RECHECKED,
            actor: who,
            headline: format!(
                "Reconciliation re-check of {} {}: {}",
                mismatch.entity_type.to_lowercase(),
                mismatch.entity_id,
                outcome.detail
            ),
            body: json!({ "mismatch_id": mismatch.mismatch_id, "outcome": outcome }),
            entities: &entities,
        },
    )
    .await?;
    Ok(())
}
