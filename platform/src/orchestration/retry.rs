//! Retrying an order's failed external task (lesson §13.2 step 8) — what the retry-engine-job repair
//! executes. A task whose retries ran out waits in the engine with an incident; giving it one retry back
//! resolves the incident and lets the worker take it again. The handlers are idempotent (they read the
//! order first and the vendor call carries its idempotency key), so the retry redoes only what is missing.
//!
//! The order records the retry through its machine: `RESUME_ORCHESTRATION`, a self-transition for an
//! order being orchestrated, is the evidence in its history that its orchestration was restarted.

use serde::Serialize;
use sqlx::PgConnection;

use super::follow_up::EngineStep;
use super::Result;
use crate::command::{apply_order_command, CommandContext};
use crate::engine::{BusinessKey, EngineClient, EngineError};
use crate::ids::{OrderId, TenantId};
use crate::order::{OrderCommand, OrderStatus};

/// An external task of the order's process whose retries ran out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedTask {
    pub process_instance_id: String,
    pub task_id: String,
    pub activity_id: Option<String>,
    pub topic: Option<String>,
    /// The worker's last error, as the engine keeps it.
    pub error_message: Option<String>,
    /// The incident the engine raised for it, when there is one.
    pub incident_id: Option<String>,
}

/// The order's failed tasks: external tasks of its process instances (business key `tenantId:orderId`)
/// left with no retries.
pub async fn failed_tasks(engine: &EngineClient, tenant: TenantId, order: OrderId) -> std::result::Result<Vec<FailedTask>, EngineError> {
    let mut out = Vec::new();
    for instance in engine.instances_by_business_key(&BusinessKey::for_order(tenant, order)).await? {
        let incidents = engine.incidents(&instance.id).await?;
        for task in engine.external_tasks(&instance.id).await? {
            if task.retries != Some(0) {
                continue;
            }
            let incident = incidents.iter().find(|i| i.configuration.as_deref() == Some(task.id.as_str()));
            out.push(FailedTask {
                process_instance_id: instance.id.clone(),
                task_id: task.id.clone(),
                activity_id: task.activity_id.clone(),
                topic: task.topic_name.clone(),
                error_message: task.error_message.clone().or_else(|| incident.and_then(|i| i.incident_message.clone())),
                incident_id: incident.map(|i| i.id.clone()),
            });
        }
    }
    Ok(out)
}

/// What a retry did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Retried {
    pub task_id: String,
    pub activity_id: Option<String>,
    pub order_status: OrderStatus,
    /// The order's version after the retry's transition: the worker's progress moves it further.
    pub order_version: i64,
    /// The engine call the retry still owes, to carry out after the commit.
    pub follow_up: EngineStep,
}

/// Gives the order's failed task `task_id` one retry, inside `tx`: the task is read from the engine and
/// checked (the order's, out of retries), then `RESUME_ORCHESTRATION` against `expected_version` (the
/// order row stays locked to the commit). The retry itself is returned as the [`EngineStep`] the caller
/// records with the change and carries out after the commit ([`super::follow_up`]); carried out twice it
/// does nothing the second time (the task has retries again, or is gone).
pub async fn retry_failed_task(
    tx: &mut PgConnection,
    engine: &EngineClient,
    tenant: TenantId,
    order: OrderId,
    expected_version: i64,
    task_id: &str,
    ctx: &CommandContext,
) -> Result<Retried> {
    let status: Option<String> = sqlx::query_scalar("select status from oms.sales_order where order_id = $1 and tenant_id = $2")
        .bind(order)
        .bind(tenant)
        .fetch_optional(&mut *tx)
        .await?;
    let status: OrderStatus = status
        .ok_or_else(|| crate::Error::NotFound { entity: crate::ids::EntityKind::Order, id: order.to_string() })?
        .parse()?;
    if !matches!(status, OrderStatus::Orchestrating | OrderStatus::InProgress | OrderStatus::PartiallyFulfilled) {
        return Err(crate::Error::refused(format!("order in {status}: its process has no step left to retry")).into());
    }
    let change =
        apply_order_command(tx, tenant, order, Some(expected_version), OrderCommand::ResumeOrchestration, ctx).await?;
    let task = engine
        .external_task(task_id)
        .await?
        .ok_or_else(|| crate::Error::refused(format!("external task {task_id} is gone: its process moved on or ended")))?;
    let key = BusinessKey::for_order(tenant, order);
    if task.business_key.as_deref() != Some(key.as_str()) {
        return Err(crate::Error::refused(format!("external task {task_id} is not of order {order} (business key {:?})", task.business_key)).into());
    }
    if task.retries != Some(0) {
        return Err(crate::Error::refused(format!("external task {task_id} still has retries ({:?}): nothing to retry", task.retries)).into());
    }
    tracing::info!(%order, %tenant, task_id, activity = ?task.activity_id, "failed external task to be retried after the commit");
    Ok(Retried {
        task_id: task_id.to_string(),
        activity_id: task.activity_id,
        order_status: change.to,
        order_version: change.version,
        follow_up: EngineStep::RetryTask { task_id: task_id.to_string(), retries: 1 },
    })
}
