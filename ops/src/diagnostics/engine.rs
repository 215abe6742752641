//! Operaton incidents and failed jobs (lesson §13), each mapped to its order and tenant through the
//! process's business key `tenantId:orderId` (§13.3) — never through the engine's own ids — and read
//! beside the order's state in the system of record. A process without such a key is itself a finding.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use platform::engine::{BusinessKey, EngineClient};
use platform::ids::{OrderId, TenantId};
use serde::Serialize;
use sqlx::PgConnection;

use super::panel::{Status, Verdict};
use super::Scope;

pub const RUNBOOK: &str = "engine-incident.md";

/// What the engine being down hides.
pub const AFFECTED: &str = "engine incidents and failed jobs cannot be listed or retried; new orders wait in \
                            CAPTURED (orders stuck are still counted from PostgreSQL)";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProblemKind {
    /// Retries spent: the process waits for a person.
    Incident,
    /// A job whose last run threw; still retrying unless its retries are 0.
    FailedJob,
}

/// One engine problem as the engine reports it (not yet scoped or mapped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineProblem {
    pub kind: ProblemKind,
    pub id: String,
    /// `failedExternalTask`, `failedJob`, …; `None` for a failed job.
    pub incident_type: Option<String>,
    pub activity_id: Option<String>,
    pub message: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub process_instance_id: Option<String>,
    pub business_key: Option<String>,
    pub retries: Option<i32>,
}

/// The engine's problems at one moment, as the sampler read them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineObservation {
    pub observed_at: DateTime<Utc>,
    /// Every open incident in the engine (the list below holds at most the newest `max`).
    pub open_incidents: u64,
    pub problems: Vec<EngineProblem>,
}

/// Reads the newest `max` incidents and failed jobs and the business keys of their processes.
pub async fn observe(engine: &EngineClient, max: u32) -> Result<EngineObservation, String> {
    let (incidents, count, jobs) =
        tokio::join!(engine.open_incidents(max), engine.open_incident_count(), engine.failed_jobs(max));
    let (incidents, open_incidents, jobs) =
        (incidents.map_err(|e| e.to_string())?, count.map_err(|e| e.to_string())?, jobs.map_err(|e| e.to_string())?);
    let mut problems: Vec<EngineProblem> = incidents
        .into_iter()
        .map(|i| EngineProblem {
            kind: ProblemKind::Incident,
            id: i.id,
            incident_type: Some(i.incident_type),
            activity_id: i.activity_id,
            message: i.incident_message,
            since: i.incident_timestamp.as_deref().and_then(engine_time),
            process_instance_id: i.process_instance_id,
            business_key: None,
            retries: Some(0),
        })
        .collect();
    problems.extend(jobs.into_iter().map(|j| EngineProblem {
        kind: ProblemKind::FailedJob,
        id: j.id,
        incident_type: None,
        activity_id: j.failed_activity_id,
        message: j.exception_message,
        since: j.create_time.as_deref().and_then(engine_time),
        process_instance_id: j.process_instance_id,
        business_key: None,
        retries: Some(j.retries),
    }));
    let ids: Vec<String> = problems
        .iter()
        .filter_map(|p| p.process_instance_id.clone())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let keys: HashMap<String, Option<String>> = engine
        .instances_by_ids(&ids)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|i| (i.id, i.business_key))
        .collect();
    for problem in &mut problems {
        problem.business_key = problem.process_instance_id.as_ref().and_then(|id| keys.get(id).cloned().flatten());
    }
    Ok(EngineObservation { observed_at: Utc::now(), open_incidents, problems })
}

/// The engine's time stamps: `2026-11-28T10:00:00.000+0000`.
fn engine_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.3f%z").ok().map(|t| t.with_timezone(&Utc))
}

/// Where a problem belongs, by its business key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mapping", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Mapping {
    /// The order the key names, as the system of record has it now.
    Order { tenant_id: TenantId, slug: String, order_id: OrderId, order_number: String, status: String },
    /// The key names an order the system of record does not hold.
    MissingOrder { tenant_id: TenantId, order_id: OrderId },
    /// No `tenantId:orderId` key: the process cannot be tied to an order (lesson §13.3).
    NoBusinessKey,
}

impl Mapping {
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Mapping::Order { tenant_id, .. } | Mapping::MissingOrder { tenant_id, .. } => Some(*tenant_id),
            Mapping::NoBusinessKey => None,
        }
    }
}

/// The lesson's incident classes (§13.1), guessed from the message: a first hint, not a diagnosis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IncidentClass {
    TransientDownstream,
    BusinessValidation,
    Unclassified,
}

impl IncidentClass {
    pub fn of(message: Option<&str>) -> IncidentClass {
        let text = message.unwrap_or_default().to_ascii_lowercase();
        let any = |words: &[&str]| words.iter().any(|w| text.contains(w));
        if any(&["503", "502", "504", "timed out", "timeout", "connection refused", "unavailable", "unreachable"]) {
            IncidentClass::TransientDownstream
        } else if any(&["invalid", "validation", "not allowed", "refused"]) {
            IncidentClass::BusinessValidation
        } else {
            IncidentClass::Unclassified
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            IncidentClass::TransientDownstream => "transient downstream failure",
            IncidentClass::BusinessValidation => "business validation failure",
            IncidentClass::Unclassified => "unclassified",
        }
    }

    /// What to do, as §13.1 has it.
    pub fn advice(self) -> &'static str {
        match self {
            IncidentClass::TransientDownstream => {
                "Retry after the downstream service has recovered (the handler is idempotent: fulfillment \
                 requests carry their idempotency key)."
            }
            IncidentClass::BusinessValidation => "A domain repair or a BPMN error, not a blind retry.",
            IncidentClass::Unclassified => {
                "Inspect the failed activity and exception and classify it (§13.1) before any retry."
            }
        }
    }
}

/// A problem with its order and its class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappedProblem {
    pub problem: EngineProblem,
    pub mapping: Mapping,
    pub class: IncidentClass,
}

/// One tenant's problems, counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantProblems {
    pub tenant_id: TenantId,
    pub slug: String,
    pub incidents: u64,
    pub failed_jobs: u64,
}

/// The engine panel as one viewer may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EngineProblems {
    pub observed_at: DateTime<Utc>,
    /// Open incidents in the whole engine, for a viewer of every tenant; `None` for a scoped one.
    pub open_incidents_total: Option<u64>,
    /// Incidents first, newest first.
    pub problems: Vec<MappedProblem>,
    pub by_tenant: Vec<TenantProblems>,
}

impl EngineProblems {
    pub fn incidents(&self) -> impl Iterator<Item = &MappedProblem> {
        self.problems.iter().filter(|p| p.problem.kind == ProblemKind::Incident)
    }

    pub fn verdict(&self) -> Verdict {
        let incidents: Vec<&MappedProblem> = self.incidents().collect();
        if let Some(first) = incidents.first() {
            let order = match &first.mapping {
                Mapping::Order { slug, order_number, status, .. } => format!("order {order_number} ({slug}, {status})"),
                Mapping::MissingOrder { order_id, .. } => format!("order {order_id}, unknown to the system of record"),
                Mapping::NoBusinessKey => "a process without a tenantId:orderId business key".to_string(),
            };
            return Verdict::new(
                Status::Err,
                format!(
                    "{} engine incident(s) open; newest: {} at {} — {}",
                    incidents.len(),
                    order,
                    first.problem.activity_id.as_deref().unwrap_or("?"),
                    first.problem.message.as_deref().unwrap_or("no message")
                ),
                format!(
                    "Read the order's state first (§13.2), fix the cause, then retry the job only if the handler is \
                     idempotent. Likely {}: {}",
                    first.class.label(),
                    first.class.advice()
                ),
                RUNBOOK,
            );
        }
        let retrying = self.problems.iter().filter(|p| p.problem.kind == ProblemKind::FailedJob).count();
        if retrying > 0 {
            return Verdict::new(
                Status::Warn,
                format!("{retrying} engine job(s) failing and retrying"),
                "Find the failing dependency before the retries run out and become incidents.",
                RUNBOOK,
            );
        }
        Verdict::ok("No engine incident and no failing job.", RUNBOOK)
    }
}

/// Maps an observation's problems to orders, keeping those `scope` admits. A problem with no order to
/// tie it to is shown only to a viewer of every tenant.
pub async fn map(db: &mut PgConnection, observation: &EngineObservation, scope: &Scope) -> crate::Result<EngineProblems> {
    let keyed: Vec<Option<(TenantId, OrderId)>> = observation
        .problems
        .iter()
        .map(|p| p.business_key.as_deref().and_then(BusinessKey::parse))
        .collect();
    let order_ids: Vec<uuid::Uuid> = keyed.iter().flatten().map(|(_, o)| o.as_uuid()).collect();
    let orders: Vec<(OrderId, TenantId, String, String, String)> = sqlx::query_as(
        "select o.order_id, o.tenant_id, t.slug, o.order_number, o.status
         from oms.sales_order o join platform.tenant t on t.tenant_id = o.tenant_id
         where o.order_id = any($1)",
    )
    .bind(&order_ids)
    .fetch_all(&mut *db)
    .await?;
    let slugs: HashMap<TenantId, String> = platform::tenants::list(&mut *db)
        .await?
        .into_iter()
        .map(|t| (t.tenant_id, t.slug))
        .collect();
    let orders: HashMap<OrderId, (TenantId, String, String, String)> =
        orders.into_iter().map(|(id, tenant, slug, number, status)| (id, (tenant, slug, number, status))).collect();

    let mut problems = Vec::new();
    for (problem, key) in observation.problems.iter().zip(keyed) {
        let mapping = match key {
            None => Mapping::NoBusinessKey,
            Some((tenant_id, order_id)) => match orders.get(&order_id) {
                // The key's tenant must be the order's: a key naming another tenant's order is not that order.
                Some((tenant, slug, number, status)) if *tenant == tenant_id => Mapping::Order {
                    tenant_id,
                    slug: slug.clone(),
                    order_id,
                    order_number: number.clone(),
                    status: status.clone(),
                },
                _ => Mapping::MissingOrder { tenant_id, order_id },
            },
        };
        let visible = match mapping.tenant() {
            Some(tenant) => scope.admits(tenant),
            None => scope.is_everything(),
        };
        if visible {
            let class = IncidentClass::of(problem.message.as_deref());
            problems.push(MappedProblem { problem: problem.clone(), mapping, class });
        }
    }
    problems.sort_by(|a, b| {
        (a.problem.kind != ProblemKind::Incident, std::cmp::Reverse(a.problem.since))
            .cmp(&(b.problem.kind != ProblemKind::Incident, std::cmp::Reverse(b.problem.since)))
    });
    let mut by_tenant: Vec<TenantProblems> = Vec::new();
    for p in &problems {
        let Some(tenant) = p.mapping.tenant() else { continue };
        let index = match by_tenant.iter().position(|t| t.tenant_id == tenant) {
            Some(i) => i,
            None => {
                let slug = slugs.get(&tenant).cloned().unwrap_or_else(|| tenant.to_string());
                by_tenant.push(TenantProblems { tenant_id: tenant, slug, incidents: 0, failed_jobs: 0 });
                by_tenant.len() - 1
            }
        };
        match p.problem.kind {
            ProblemKind::Incident => by_tenant[index].incidents += 1,
            ProblemKind::FailedJob => by_tenant[index].failed_jobs += 1,
        }
    }
    by_tenant.sort_by(|a, b| b.incidents.cmp(&a.incidents).then(a.slug.cmp(&b.slug)));
    Ok(EngineProblems {
        observed_at: observation.observed_at,
        open_incidents_total: scope.is_everything().then_some(observation.open_incidents),
        problems,
        by_tenant,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engine_time_format_parses() {
        let at = engine_time("2026-11-28T10:00:01.250+0000").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-11-28T10:00:01.250+00:00");
        assert_eq!(engine_time("yesterday"), None);
    }

    #[test]
    fn a_vendor_outage_reads_as_transient_and_bad_data_as_business() {
        assert_eq!(
            IncidentClass::of(Some("fulfillment vendor answered 503 Service Unavailable")),
            IncidentClass::TransientDownstream
        );
        assert_eq!(IncidentClass::of(Some("order line invalid: quantity 0")), IncidentClass::BusinessValidation);
        assert_eq!(IncidentClass::of(None), IncidentClass::Unclassified);
    }
}
