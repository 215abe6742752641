//! Automatic repair after a run (issue 10 item 5): only for a check and tenant an admin allowed
//! ([`super::policy`]), only the run's OPEN mismatches of a kind the check marks `auto_repair` with a
//! catalogue repair, at most the admin's cap per run. Each goes through the same governed lifecycle as a
//! person's repair, by the SYSTEM actor `auto-repair`: request (dry-run stored, linked to an incident the
//! run declares for the tenant, with the mismatch) → execute only when the stored risk is LOW → the
//! re-check of the mismatch. A HIGH-risk dry-run (a tenant's stricter policy, a side effect found) is left
//! REQUESTED for a person.

use platform::engine::EngineClient;
use platform::ids::TenantId;
use platform::machine::Named;
use sqlx::PgPool;
use uuid::Uuid;

use super::checks;
use super::model::CheckName;
use crate::error::Result;
use crate::identity::Actor;
use crate::incident::{declare_incident, DeclareForm, IncidentForDeclare};
use crate::repair::{self, RepairForRequest, RepairRequestForm, Risk, Services};

/// What automatic repair did after a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoRepaired {
    pub executed: i32,
    /// Requested but left for a person (HIGH risk), or refused by their dry-run.
    pub left: i32,
}

/// The run's open mismatches that qualify, per allowed tenant, up to its cap.
/// Each with the entity its repair acts on ([`super::mismatch::repair_entity`]).
async fn candidates(pool: &PgPool, run_id: Uuid, check: CheckName, tenant: Option<TenantId>) -> Result<Vec<(Uuid, Uuid, Uuid, String)>> {
    let kinds: Vec<&str> =
        checks::info(check).kinds.iter().filter(|k| k.auto_repair && k.repair.is_some()).map(|k| k.name).collect();
    let rows: Vec<(Uuid, Uuid, String, Uuid, String, serde_json::Value)> = sqlx::query_as(
        "select m.mismatch_id, m.tenant_id, m.entity_type, m.entity_id, m.suggested_repair, m.observed_state
           from ops.reconciliation_auto_repair p
           cross join lateral (
             select mismatch_id, tenant_id, entity_type, entity_id, suggested_repair, observed_state
               from ops.reconciliation_mismatch_seen m
              where m.check_name = p.check_name and m.tenant_id = p.tenant_id and m.last_run_id = $2
                and m.status = 'OPEN' and m.repair_id is null and m.mismatch_type = any($3)
                and m.suggested_repair is not null
              order by m.first_seen_at, m.mismatch_id
              limit p.max_per_run) m
          where p.check_name = $1 and p.enabled and ($4::uuid is null or p.tenant_id = $4)
          order by m.tenant_id",
    )
    .bind(check.name())
    .bind(run_id)
    .bind(&kinds)
    .bind(tenant)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(mismatch, tenant, entity_type, entity, repair, observed)| {
            let acted_on = super::mismatch::repair_entity(&entity_type, entity, Some(&repair), &observed)?;
            Some((mismatch, tenant, acted_on, repair))
        })
        .collect())
}

/// Repairs what the run found where allowed (see the module doc). Never fails the run: a repair that
/// cannot be done is logged and left to people.
pub(crate) async fn after_run(pool: &PgPool, engine: &EngineClient, run_id: Uuid, check: CheckName, tenant: Option<TenantId>) -> Result<AutoRepaired> {
    let found = candidates(pool, run_id, check, tenant).await?;
    let mut done = AutoRepaired::default();
    if found.is_empty() {
        return Ok(done);
    }
    let actor = Actor::system("auto-repair");
    let services = Services::new(engine.clone());
    let mut incidents: Vec<(Uuid, crate::ids::IncidentId)> = Vec::new();
    for (mismatch, tenant, entity, repair_type) in found {
        let incident = match incidents.iter().find(|i| i.0 == tenant) {
            Some((_, incident)) => *incident,
            None => {
                let incident = declare(pool, &actor, check, tenant, run_id).await?;
                incidents.push((tenant, incident));
                incident
            }
        };
        let form = RepairRequestForm {
            repair_type,
            tenant: tenant.to_string(),
            entity_id: entity.to_string(),
            incident_id: incident.to_string(),
            reason: format!("automatic repair of a {} mismatch, allowed by an admin for this tenant", check.slug()),
            idempotency_key: format!("auto-repair-{mismatch}"),
            mismatch_id: mismatch.to_string(),
            ..Default::default()
        };
        let outcome = async {
            let input = RepairForRequest::parse(&form, true)?;
            let requested = repair::request_repair(pool, &services, &actor, &input).await?.repair;
            if requested.risk != Risk::Low {
                return Ok(false);
            }
            let executed =
                repair::execute_repair(pool, &services, &actor, requested.repair_id, Some(&requested.proposed_change_hash)).await?;
            Ok::<_, crate::Error>(executed.repair.status == repair::RepairStatus::Executed)
        }
        .await;
        match outcome {
            Ok(true) => done.executed += 1,
            Ok(false) => done.left += 1,
            Err(error) => {
                tracing::warn!(%mismatch, %error, "an automatic repair could not be done; left to people");
                done.left += 1;
            }
        }
    }
    sqlx::query("update ops.reconciliation_run set auto_repairs = $2 where run_id = $1")
        .bind(run_id)
        .bind(done.executed)
        .execute(pool)
        .await?;
    metrics::counter!("opsdeck_reconciliation_auto_repairs_total", "check" => check.name()).increment(done.executed as u64);
    Ok(done)
}

/// The incident automatic repairs of a run are filed under, for one tenant (repairs always belong to one).
async fn declare(pool: &PgPool, actor: &Actor, check: CheckName, tenant: Uuid, run_id: Uuid) -> Result<crate::ids::IncidentId> {
    let form = DeclareForm {
        severity: "SEV4".into(),
        detected_by: "RECONCILIATION".into(),
        summary: format!("Automatic repair of {} mismatches (run {run_id})", check.slug()),
        tenants: vec![tenant.to_string()],
        ..Default::default()
    };
    let input = IncidentForDeclare::parse(&form)?;
    Ok(declare_incident(pool, actor, &input).await?.incident_id)
}
