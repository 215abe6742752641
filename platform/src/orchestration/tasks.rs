//! The three service tasks of the order-orchestration model, each an idempotent step: it reads the
//! order first and only does what is not done yet, so a retried or re-delivered task is harmless.

use sqlx::{PgConnection, PgPool};

use super::fulfillment::{self, FulfillmentPayload, FulfillmentRequestStatus};
use super::Result;
use crate::command::{apply_order_command, apply_order_line_command, CommandContext};
use crate::ids::{OrderId, OrderLineId, TenantId};
use crate::order::{OrderCommand, OrderLineCommand, OrderLineStatus, OrderStatus};
use crate::vendor::VendorClient;

/// External-task topics of `platform/bpmn/order-orchestration.bpmn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Reserve,
    RequestFulfillment,
    Activate,
}

pub const TOPICS: [Topic; 3] = [Topic::Reserve, Topic::RequestFulfillment, Topic::Activate];

impl Topic {
    pub fn name(self) -> &'static str {
        match self {
            Topic::Reserve => "order-reserve",
            Topic::RequestFulfillment => "order-request-fulfillment",
            Topic::Activate => "order-activate",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        TOPICS.into_iter().find(|t| t.name() == name)
    }
}

#[derive(sqlx::FromRow)]
struct LineRow {
    order_line_id: OrderLineId,
    line_no: i32,
    product_sku: String,
    quantity: i32,
    status: String,
}

impl LineRow {
    fn status(&self) -> crate::Result<OrderLineStatus> {
        self.status.parse()
    }
}

async fn order_status(conn: &mut PgConnection, tenant: TenantId, order: OrderId) -> crate::Result<OrderStatus> {
    let status: Option<String> =
        sqlx::query_scalar("select status from oms.sales_order where order_id = $1 and tenant_id = $2")
            .bind(order)
            .bind(tenant)
            .fetch_optional(&mut *conn)
            .await?;
    status
        .ok_or_else(|| crate::Error::NotFound { entity: crate::ids::EntityKind::Order, id: order.to_string() })?
        .parse()
}

async fn lines(conn: &mut PgConnection, order: OrderId) -> crate::Result<Vec<LineRow>> {
    Ok(sqlx::query_as::<_, LineRow>(
        "select order_line_id, line_no, product_sku, quantity, status
         from oms.sales_order_line where order_id = $1 order by line_no",
    )
    .bind(order)
    .fetch_all(&mut *conn)
    .await?)
}

/// Reserve: every PENDING line RESERVE (reserved lines are skipped), then the order ORCHESTRATING →
/// IN_PROGRESS (BEGIN_FULFILLMENT) — from here on the order is being worked on for real.
#[tracing::instrument(skip(pool, ctx), fields(%tenant, %order), err(Display))]
pub(super) async fn reserve(pool: &PgPool, ctx: &CommandContext, tenant: TenantId, order: OrderId) -> Result<()> {
    let mut tx = pool.begin().await?;
    let status = order_status(&mut tx, tenant, order).await?;
    if !matches!(status, OrderStatus::Orchestrating | OrderStatus::InProgress) {
        return Err(crate::Error::refused(format!("order in {status} cannot be reserved")).into());
    }
    for line in lines(&mut tx, order).await? {
        if line.status()? == OrderLineStatus::Pending {
            apply_order_line_command(&mut tx, tenant, order, line.order_line_id, OrderLineCommand::Reserve, ctx)
                .await?;
        }
    }
    if status == OrderStatus::Orchestrating {
        apply_order_command(&mut tx, tenant, order, None, OrderCommand::BeginFulfillment, ctx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Request fulfillment: for each RESERVED line, record the request (committed) → call the vendor with
/// its idempotency key → on success mark it ACKNOWLEDGED and the line REQUEST_FULFILLMENT, together.
/// A vendor failure marks the request FAILED and fails the task; the line stays RESERVED for the retry.
#[tracing::instrument(skip(pool, vendor, ctx), fields(%tenant, %order), err(Display))]
pub(super) async fn request_fulfillment(
    pool: &PgPool,
    vendor: &VendorClient,
    ctx: &CommandContext,
    tenant: TenantId,
    order: OrderId,
) -> Result<()> {
    let mut conn = pool.acquire().await?;
    let status = order_status(&mut conn, tenant, order).await?;
    if !matches!(status, OrderStatus::InProgress | OrderStatus::PartiallyFulfilled) {
        return Err(crate::Error::refused(format!("order in {status} cannot request fulfillment")).into());
    }
    for line in lines(&mut conn, order).await? {
        if line.status()? != OrderLineStatus::Reserved {
            continue;
        }
        let key = fulfillment::fulfillment_idempotency_key(order, line.line_no);
        let payload = serde_json::to_value(FulfillmentPayload {
            tenant_id: tenant,
            order_id: order,
            order_line_id: line.order_line_id,
            line_no: line.line_no,
            product_sku: &line.product_sku,
            quantity: line.quantity,
        })
        .map_err(|e| crate::Error::Invalid { field: "fulfillment payload", message: e.to_string() })?;

        // Committed on its own (autocommit) before the vendor hears of it.
        let recorded = fulfillment::record(&mut conn, tenant, order, line.order_line_id, &key, &payload).await?;
        // Already acknowledged by an earlier attempt that died before the line moved: no second call.
        let ack = if recorded == FulfillmentRequestStatus::Acknowledged {
            None
        } else {
            match vendor.request_fulfillment(&key, &payload).await {
                Ok(ack) => Some(ack),
                Err(e) => {
                    fulfillment::mark_failed(&mut conn, &key, e.status(), &e.to_string()).await?;
                    return Err(e.into());
                }
            }
        };
        let mut tx = pool.begin().await?;
        if let Some(ack) = ack {
            fulfillment::mark_acknowledged(&mut tx, &key, ack.status, &ack.body).await?;
        }
        apply_order_line_command(&mut tx, tenant, order, line.order_line_id, OrderLineCommand::RequestFulfillment, ctx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

/// Activate: each FULFILLMENT_REQUESTED line CONFIRM_FULFILLMENT (its request COMPLETED), then the
/// order COMPLETE_FULFILLMENT once every line is fulfilled. A fulfilled order is left alone.
#[tracing::instrument(skip(pool, ctx), fields(%tenant, %order), err(Display))]
pub(super) async fn activate(pool: &PgPool, ctx: &CommandContext, tenant: TenantId, order: OrderId) -> Result<()> {
    let mut tx = pool.begin().await?;
    let status = order_status(&mut tx, tenant, order).await?;
    if status == OrderStatus::Fulfilled {
        return Ok(());
    }
    let mut all_fulfilled = true;
    for line in lines(&mut tx, order).await? {
        match line.status()? {
            OrderLineStatus::FulfillmentRequested => {
                apply_order_line_command(
                    &mut tx,
                    tenant,
                    order,
                    line.order_line_id,
                    OrderLineCommand::ConfirmFulfillment,
                    ctx,
                )
                .await?;
                fulfillment::mark_completed(&mut tx, line.order_line_id).await?;
            }
            OrderLineStatus::Fulfilled | OrderLineStatus::Cancelled => {}
            _ => all_fulfilled = false,
        }
    }
    if !all_fulfilled {
        return Err(crate::Error::refused("order has lines that were not requested for fulfillment").into());
    }
    apply_order_command(&mut tx, tenant, order, None, OrderCommand::CompleteFulfillment, ctx).await?;
    tx.commit().await?;
    Ok(())
}
