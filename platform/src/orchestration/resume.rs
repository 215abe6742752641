//! Resuming an order's orchestration (lesson §8.4–8.6) — what the resume-orchestration repair executes.
//!
//! Where the order stands decides where its process starts again ([`resume_point`]): nothing reserved yet
//! → `reserve`; lines reserved but not requested → `request-fulfillment`; everything requested →
//! `activate`. Every task is idempotent (it reads the order first), so starting there skips only what the
//! order already has. What the engine holds decides how ([`how`]): no instance → a new one under the
//! business key `tenantId:orderId`, started before that activity; one instance stalled on an incident →
//! that instance restarted in place (process-instance modification: the failed activity cancelled, the
//! target started); one running without an incident, or several → nothing to resume (refused).
//!
//! The order changes only through its machine: `RESUME_ORCHESTRATION` (a self-transition for an order in
//! progress, so its history records the restart) and `RETRY` for failed lines.

use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::Result;
use crate::command::{apply_order_command, apply_order_line_command, CommandContext};
use super::follow_up::EngineStep;
use crate::engine::{BusinessKey, EngineClient, EngineError, Incident};
use crate::ids::{OrderId, OrderLineId, TenantId};
use crate::order::{OrderCommand, OrderLineCommand, OrderLineStatus, OrderStatus};

/// The activity of the order-orchestration model where a resumed process starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ResumeAt {
    Reserve,
    RequestFulfillment,
    Activate,
}

impl ResumeAt {
    /// The BPMN activity id (`platform/bpmn/order-orchestration.bpmn`).
    pub fn activity(self) -> &'static str {
        match self {
            ResumeAt::Reserve => "reserve",
            ResumeAt::RequestFulfillment => "request-fulfillment",
            ResumeAt::Activate => "activate",
        }
    }
}

/// Where an order's orchestration starts again, from its status and its lines' statuses (failed lines
/// count as reserved: the repair retries them first); `Err` says why it cannot be resumed.
pub fn resume_point(order: OrderStatus, lines: &[OrderLineStatus]) -> std::result::Result<ResumeAt, String> {
    use OrderLineStatus as L;
    match order {
        OrderStatus::Fulfilled | OrderStatus::Cancelled => {
            return Err(format!("the order is {order}: there is nothing left to orchestrate"))
        }
        OrderStatus::Captured | OrderStatus::Orchestrating | OrderStatus::Failed => return Ok(ResumeAt::Reserve),
        OrderStatus::InProgress | OrderStatus::PartiallyFulfilled => {}
    }
    if lines.is_empty() {
        return Err("the order has no lines".to_string());
    }
    if order == OrderStatus::InProgress && lines.contains(&L::Pending) {
        return Ok(ResumeAt::Reserve);
    }
    if lines.iter().any(|l| matches!(l, L::Reserved | L::Failed | L::Pending)) {
        return Ok(ResumeAt::RequestFulfillment);
    }
    Ok(ResumeAt::Activate)
}

/// One process instance of the order, as the engine has it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceState {
    pub id: String,
    pub suspended: bool,
    pub activities: Vec<String>,
    pub incidents: Vec<IncidentState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentState {
    pub incident_type: String,
    pub activity_id: Option<String>,
    pub message: Option<String>,
}

impl From<Incident> for IncidentState {
    fn from(i: Incident) -> Self {
        IncidentState { incident_type: i.incident_type, activity_id: i.activity_id, message: i.incident_message }
    }
}

/// The order's active process instances with where each waits and its open incidents.
pub async fn instances(engine: &EngineClient, tenant: TenantId, order: OrderId) -> std::result::Result<Vec<InstanceState>, EngineError> {
    let mut out = Vec::new();
    for instance in engine.instances_by_business_key(&BusinessKey::for_order(tenant, order)).await? {
        let activities = engine.current_activities(&instance.id).await?;
        let incidents = engine.incidents(&instance.id).await?.into_iter().map(IncidentState::from).collect();
        out.push(InstanceState { id: instance.id, suspended: instance.suspended, activities, incidents });
    }
    Ok(out)
}

/// How the process is resumed, given the instances the engine has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "how", rename_all = "snake_case")]
pub enum How {
    /// No instance: a new one under the business key, started before the activity.
    NewInstance,
    /// One instance stalled on an incident at `cancel`: restarted in place at the activity.
    RestartInPlace { process_instance_id: String, cancel: String },
}

pub fn how(instances: &[InstanceState]) -> std::result::Result<How, String> {
    match instances {
        [] => Ok(How::NewInstance),
        [one] => match one.incidents.iter().find_map(|i| i.activity_id.clone()) {
            Some(cancel) => Ok(How::RestartInPlace { process_instance_id: one.id.clone(), cancel }),
            None if one.suspended => Err(format!("process instance {} is suspended: activate it, do not resume", one.id)),
            None => Err(format!(
                "process instance {} is running without an incident (at {}): there is nothing to resume",
                one.id,
                one.activities.join(", ")
            )),
        },
        several => Err(format!(
            "{} process instances share the order's business key: resolve the duplicates first (§8.5)",
            several.len()
        )),
    }
}

/// What resuming did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resumed {
    /// The instance restarted in place; `None` for a new instance, which the follow-up starts (or adopts).
    pub process_instance_id: Option<String>,
    pub at: ResumeAt,
    pub how: How,
    pub order_status: OrderStatus,
    pub order_version: i64,
    pub lines_retried: Vec<i32>,
    /// The engine call the resume still owes, to carry out after the commit.
    pub follow_up: EngineStep,
}

/// Resumes the order inside `tx`: `RESUME_ORCHESTRATION` against `expected_version` (the row stays locked
/// to the commit) and `RETRY` of failed lines. The engine call is not made here: it is returned as the
/// [`EngineStep`] the caller records with the change and carries out after the commit (see
/// [`super::follow_up`]); starting adopts an instance already under the business key, and a restart in
/// place does nothing once the stalled activity's incident is gone, so carrying it out again is harmless.
pub async fn resume(
    tx: &mut PgConnection,
    tenant: TenantId,
    order: OrderId,
    expected_version: i64,
    at: ResumeAt,
    how: &How,
    ctx: &CommandContext,
) -> Result<Resumed> {
    let change =
        apply_order_command(tx, tenant, order, Some(expected_version), OrderCommand::ResumeOrchestration, ctx).await?;
    let failed: Vec<(OrderLineId, i32)> = sqlx::query_as(
        "select order_line_id, line_no from oms.sales_order_line where order_id = $1 and status = $2 order by line_no",
    )
    .bind(order)
    .bind(OrderLineStatus::Failed.as_str())
    .fetch_all(&mut *tx)
    .await?;
    let mut version = change.version;
    for (line, _) in &failed {
        version = apply_order_line_command(tx, tenant, order, *line, OrderLineCommand::Retry, ctx).await?.order_version;
    }
    let activity = at.activity().to_string();
    let (process_instance_id, follow_up) = match how {
        How::NewInstance => {
            let database = Some(super::ownership::database_id(tx).await?);
            (None, EngineStep::StartOrderProcess { tenant_id: tenant, order_id: order, activity, database })
        }
        How::RestartInPlace { process_instance_id, cancel } => (
            Some(process_instance_id.clone()),
            EngineStep::RestartInPlace { process_instance_id: process_instance_id.clone(), cancel: cancel.clone(), activity },
        ),
    };
    Ok(Resumed {
        process_instance_id,
        at,
        how: how.clone(),
        order_status: change.to,
        order_version: version,
        lines_retried: failed.into_iter().map(|(_, n)| n).collect(),
        follow_up,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderLineStatus as L;

    #[test]
    fn the_process_starts_where_the_order_stands() {
        assert_eq!(resume_point(OrderStatus::Captured, &[L::Pending]), Ok(ResumeAt::Reserve));
        assert_eq!(resume_point(OrderStatus::Orchestrating, &[L::Pending, L::Pending]), Ok(ResumeAt::Reserve));
        assert_eq!(resume_point(OrderStatus::Failed, &[L::Failed, L::Reserved]), Ok(ResumeAt::Reserve));
        assert_eq!(resume_point(OrderStatus::InProgress, &[L::Reserved, L::Pending]), Ok(ResumeAt::Reserve));
        assert_eq!(resume_point(OrderStatus::InProgress, &[L::FulfillmentRequested, L::Reserved]), Ok(ResumeAt::RequestFulfillment));
        assert_eq!(resume_point(OrderStatus::InProgress, &[L::Failed, L::FulfillmentRequested]), Ok(ResumeAt::RequestFulfillment));
        assert_eq!(resume_point(OrderStatus::InProgress, &[L::FulfillmentRequested, L::Fulfilled]), Ok(ResumeAt::Activate));
        assert_eq!(resume_point(OrderStatus::PartiallyFulfilled, &[L::Fulfilled, L::Reserved]), Ok(ResumeAt::RequestFulfillment));
        assert!(resume_point(OrderStatus::Fulfilled, &[L::Fulfilled]).unwrap_err().contains("nothing left"));
        assert!(resume_point(OrderStatus::InProgress, &[]).is_err());
    }

    fn instance(id: &str, incident_at: Option<&str>) -> InstanceState {
        InstanceState {
            id: id.into(),
            suspended: false,
            activities: vec!["request-fulfillment".into()],
            incidents: incident_at
                .map(|a| IncidentState { incident_type: "failedExternalTask".into(), activity_id: Some(a.into()), message: None })
                .into_iter()
                .collect(),
        }
    }

    #[test]
    fn the_engine_decides_how_it_is_resumed() {
        assert_eq!(how(&[]), Ok(How::NewInstance));
        assert_eq!(
            how(&[instance("p1", Some("request-fulfillment"))]),
            Ok(How::RestartInPlace { process_instance_id: "p1".into(), cancel: "request-fulfillment".into() })
        );
        assert!(how(&[instance("p1", None)]).unwrap_err().contains("nothing to resume"));
        assert!(how(&[instance("p1", None), instance("p2", None)]).unwrap_err().contains("duplicates"));
    }
}
