//! Starting an order's orchestration: one process instance per order, business key `tenantId:orderId`.

use serde::Serialize;
use sqlx::PgPool;

use super::control::orchestration_starts_paused;
use super::Result;
use crate::command::{apply_order_command, CommandContext};
use crate::engine::{BusinessKey, Deployment, EngineClient, ORDER_ORCHESTRATION_BPMN, ORDER_ORCHESTRATION_KEY};
use crate::ids::{Actor, OrderId, TenantId};
use crate::order::{OrderCommand, OrderStatus};

/// Deploys the order-orchestration model; an unchanged model is not redeployed (duplicate filtering),
/// so calling this at every start-up is cheap and safe.
#[tracing::instrument(skip(engine), err(Display))]
pub async fn ensure_deployed(engine: &EngineClient) -> Result<Deployment> {
    Ok(engine.deploy(ORDER_ORCHESTRATION_KEY, "order-orchestration.bpmn", ORDER_ORCHESTRATION_BPMN).await?)
}

/// What a start attempt did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum StartOutcome {
    /// The order moved CAPTURED → ORCHESTRATING and a process instance was started.
    Started { process_instance_id: String },
    /// A process instance with the order's business key is already active; nothing was started.
    AlreadyRunning { process_instance_id: String },
    /// PAUSE_ORCHESTRATION_STARTS is on for the order's tenant; the order stays CAPTURED.
    Paused,
    /// The order is not CAPTURED and has no active instance: starting is a repair
    /// (RESUME_ORCHESTRATION), not this call's business.
    NotStartable { status: OrderStatus },
}

/// Starts orchestration of a captured order, at most once.
///
/// The order row stays locked (inside the command's transaction) from the state check to the engine
/// start, so two concurrent calls for one order serialise: the second finds the order ORCHESTRATING and
/// the instance running. If the engine refuses, the transaction rolls back and the order stays CAPTURED.
/// If the commit fails after the engine started the instance, the instance exists with a CAPTURED order;
/// the next call finds it by business key and reports it rather than starting another.
#[tracing::instrument(skip(pool, engine, actor), fields(%tenant, %order), err(Display))]
pub async fn start_orchestration(
    pool: &PgPool,
    engine: &EngineClient,
    tenant: TenantId,
    order: OrderId,
    actor: &Actor,
) -> Result<StartOutcome> {
    if orchestration_starts_paused(pool, tenant).await? {
        tracing::warn!("orchestration starts are paused; order left CAPTURED");
        return Ok(StartOutcome::Paused);
    }
    let key = BusinessKey::for_order(tenant, order);
    let mut tx = pool.begin().await?;
    let status: Option<String> =
        sqlx::query_scalar("select status from oms.sales_order where order_id = $1 and tenant_id = $2 for update")
            .bind(order)
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?;
    let status: OrderStatus = status
        .ok_or_else(|| crate::Error::NotFound { entity: crate::ids::EntityKind::Order, id: order.to_string() })?
        .parse::<OrderStatus>()?;

    if let Some(existing) = engine.instances_by_business_key(&key).await?.into_iter().next() {
        return Ok(StartOutcome::AlreadyRunning { process_instance_id: existing.id });
    }
    if status != OrderStatus::Captured {
        return Ok(StartOutcome::NotStartable { status });
    }

    let ctx = CommandContext::new(actor.as_str()).with_reason("start order orchestration");
    apply_order_command(&mut tx, tenant, order, None, OrderCommand::StartOrchestration, &ctx).await?;
    let instance = engine
        .start(ORDER_ORCHESTRATION_KEY, &key, &[("tenantId", tenant.to_string()), ("orderId", order.to_string())])
        .await?;
    tx.commit().await?;
    tracing::info!(process_instance_id = %instance.id, business_key = key.as_str(), "orchestration started");
    Ok(StartOutcome::Started { process_instance_id: instance.id })
}
