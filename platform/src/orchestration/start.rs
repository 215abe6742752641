//! One attempt at starting an order's orchestration: one process instance per order, business key
//! `tenantId:orderId`, found and adopted rather than started a second time.

use serde::Serialize;
use sqlx::PgConnection;

use super::ownership::{database_id, DATABASE_VARIABLE};
use super::Result;
use crate::command::{apply_order_command, CommandContext};
use crate::engine::{BusinessKey, Deployment, EngineClient, ORDER_ORCHESTRATION_BPMN, ORDER_ORCHESTRATION_KEY};
use crate::ids::{EntityKind, OrderId, TenantId};
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
    /// A process instance was started and the order moved CAPTURED → ORCHESTRATING.
    Started { process_instance_id: String },
    /// The order was still CAPTURED but the engine already had an instance under its business key: an
    /// earlier attempt started it and ended before its commit. The order moved to ORCHESTRATING with
    /// that instance; nothing was started.
    Adopted { process_instance_id: String },
    /// The order had moved on (a repair resumed it) and its instance is running; nothing changed.
    AlreadyRunning { process_instance_id: String },
    /// The order is no longer CAPTURED (cancelled, failed) and has no instance: nothing to start.
    NotStartable { status: OrderStatus },
}

impl StartOutcome {
    /// The instance the order now runs under, if any.
    pub fn process_instance_id(&self) -> Option<&str> {
        match self {
            StartOutcome::Started { process_instance_id }
            | StartOutcome::Adopted { process_instance_id }
            | StartOutcome::AlreadyRunning { process_instance_id } => Some(process_instance_id),
            StartOutcome::NotStartable { .. } => None,
        }
    }
}

/// Starts — or adopts — the order's process instance inside `tx`; the caller commits.
///
/// The order row stays locked from the state check to the end of `tx`, so a command on the order (a
/// cancellation) and any other attempt wait for this one. The engine is asked before the order changes:
/// when it cannot be reached or refuses, nothing has been written and the error is the caller's to
/// record. When `tx` never commits after the engine started the instance (the starter died, PostgreSQL
/// went away), the instance exists while the order is still CAPTURED; the next attempt finds it by
/// business key and adopts it, so an order never gets two instances from its starts.
#[tracing::instrument(skip(tx, engine, ctx), fields(%tenant, %order), err(Display))]
pub(super) async fn start_in(
    tx: &mut PgConnection,
    engine: &EngineClient,
    tenant: TenantId,
    order: OrderId,
    ctx: &CommandContext,
) -> Result<StartOutcome> {
    let key = BusinessKey::for_order(tenant, order);
    let status = lock_order_status(tx, tenant, order).await?;

    let existing = engine.instances_by_business_key(&key).await?;
    if existing.len() > 1 {
        tracing::warn!(instances = existing.len(), business_key = key.as_str(),
            "more than one process instance for one order (runbook: stuck order, safety check 5)");
    }
    if let Some(instance) = existing.into_iter().next() {
        if status != OrderStatus::Captured {
            return Ok(StartOutcome::AlreadyRunning { process_instance_id: instance.id });
        }
        let adopt = ctx.clone().with_reason(format!(
            "start order orchestration: adopt process instance {} started by an earlier attempt",
            instance.id
        ));
        apply_order_command(tx, tenant, order, None, OrderCommand::StartOrchestration, &adopt).await?;
        // The order is this database's: so is its instance, whoever started it (and whether or not it
        // named a database then).
        engine.set_instance_variable(&instance.id, DATABASE_VARIABLE, &database_id(tx).await?).await?;
        tracing::warn!(process_instance_id = %instance.id, "process instance of an unfinished attempt adopted");
        return Ok(StartOutcome::Adopted { process_instance_id: instance.id });
    }
    if status != OrderStatus::Captured {
        return Ok(StartOutcome::NotStartable { status });
    }

    let database = database_id(tx).await?;
    let variables = [("tenantId", tenant.to_string()), ("orderId", order.to_string()), (DATABASE_VARIABLE, database)];
    let instance = engine.start(ORDER_ORCHESTRATION_KEY, &key, &variables).await?;
    apply_order_command(tx, tenant, order, None, OrderCommand::StartOrchestration, ctx).await?;
    tracing::info!(process_instance_id = %instance.id, business_key = key.as_str(), "orchestration started");
    Ok(StartOutcome::Started { process_instance_id: instance.id })
}

/// The order's status, its row locked for the rest of the transaction (primary key).
async fn lock_order_status(tx: &mut PgConnection, tenant: TenantId, order: OrderId) -> Result<OrderStatus> {
    let status: Option<String> =
        sqlx::query_scalar("select status from oms.sales_order where order_id = $1 and tenant_id = $2 for update")
            .bind(order)
            .bind(tenant)
            .fetch_optional(&mut *tx)
            .await?;
    let status = status.ok_or_else(|| crate::Error::NotFound { entity: EntityKind::Order, id: order.to_string() })?;
    Ok(status.parse::<OrderStatus>()?)
}
