//! Reading repairs: one whole, an approver's queue ("waiting for me"), and the history per incident and
//! per entity. Tenant scope: a repair is seen by those scoped to its tenant.

use chrono::Utc;
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::catalogue::{self, Services, Target};
use super::input::Parameters;
use super::model::{DryRun, RepairType};
use super::record::{self, ListBy, Repair};
use crate::command::{read, Action, Envelope};
use crate::error::{Error, Result};
use crate::identity::{Actor, TenantScope};
use crate::ids::{IncidentId, RepairId};

/// One repair, if the actor may see its tenant (refused and audited otherwise).
pub async fn repair_detail(pool: &PgPool, actor: &Actor, repair_id: RepairId) -> Result<Repair> {
    let envelope = Envelope::new(actor, Action::RepairRead).entity(super::lifecycle::AUDIT_ENTITY, repair_id);
    read(pool, envelope, async |cx| {
        let repair = record::load(cx.db(), repair_id, false).await?.ok_or_else(|| Error::not_found("repair", repair_id))?;
        cx.require_visible(&[repair.tenant_id])?;
        Ok(repair)
    })
    .await
}

/// A repair of the actor's scope waiting for a decision, with how long it has waited.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Waiting {
    pub repair: Repair,
    pub waiting_minutes: i64,
}

/// The approver's queue: HIGH-risk repairs waiting for a decision that the actor did not request
/// (nobody approves their own), oldest first.
pub async fn waiting_for(pool: &PgPool, actor: &Actor, limit: i64) -> Result<Vec<Waiting>> {
    read(pool, Envelope::new(actor, Action::RepairRead), async |cx| {
        let rows = record::list(cx.db(), ListBy::Waiting, scope(actor).as_deref(), limit.saturating_add(50)).await?;
        let now = Utc::now();
        Ok(rows
            .into_iter()
            .filter(|r| r.requested_by_subject != actor.subject)
            .take(limit.max(0) as usize)
            .map(|r| Waiting { waiting_minutes: r.age(now).num_minutes(), repair: r })
            .collect())
    })
    .await
}

/// Repairs linked to an incident, newest first.
pub async fn repairs_of_incident(pool: &PgPool, actor: &Actor, incident: IncidentId) -> Result<Vec<Repair>> {
    read(pool, Envelope::new(actor, Action::RepairRead), async |cx| {
        record::list(cx.db(), ListBy::Incident(incident), scope(actor).as_deref(), 200).await
    })
    .await
}

/// Repairs of one entity (an order, an outbox event, …), newest first.
pub async fn repairs_of_entity(pool: &PgPool, actor: &Actor, entity: Uuid) -> Result<Vec<Repair>> {
    read(pool, Envelope::new(actor, Action::RepairRead), async |cx| repairs_of_entity_in(cx.db(), actor, entity).await).await
}

/// [`repairs_of_entity`] inside a read the caller has authorised (with the same permission as `RepairRead`).
pub(crate) async fn repairs_of_entity_in(db: &mut sqlx::PgConnection, actor: &Actor, entity: Uuid) -> Result<Vec<Repair>> {
    record::list(db, ListBy::Entity(entity), scope(actor).as_deref(), 200).await
}

/// The most recent repairs the actor may see, newest first.
pub async fn recent_repairs(pool: &PgPool, actor: &Actor, limit: i64) -> Result<Vec<Repair>> {
    read(pool, Envelope::new(actor, Action::RepairRead), async |cx| {
        record::list(cx.db(), ListBy::Recent, scope(actor).as_deref(), limit).await
    })
    .await
}

/// A repair's dry-run as it would be computed now, without storing anything: what the request page shows
/// before the operator asks for it. Reads only. For a repair with parameters, see [`preview_with`].
pub async fn preview(pool: &PgPool, services: &Services, actor: &Actor, repair: RepairType, target: Target) -> Result<DryRun> {
    preview_with(pool, services, actor, repair, target, &Parameters::new()).await
}

/// [`preview`] with the repair's parameters (who approved, the new assignee, …) as the form has them.
pub async fn preview_with(
    pool: &PgPool,
    services: &Services,
    actor: &Actor,
    repair: RepairType,
    target: Target,
    parameters: &Parameters,
) -> Result<DryRun> {
    let info = catalogue::info(repair)
        .ok_or_else(|| Error::rule(format!("the {repair} repair is not in this console's catalogue yet")))?;
    let envelope = Envelope::new(actor, Action::RepairRead).tenant(target.tenant).entity(info.entity_type, target.entity_id);
    read(pool, envelope, async |cx| catalogue::assess(repair, cx.db(), services, &target, parameters).await).await
}

/// The tenants the actor may see, for a query (`None`: every tenant).
fn scope(actor: &Actor) -> Option<Vec<platform::ids::TenantId>> {
    match &actor.tenants {
        TenantScope::All => None,
        TenantScope::Only(ids) => Some(ids.iter().copied().collect()),
    }
}
