//! The three service tasks of the order-orchestration model, each an idempotent step: it reads the
//! order first and only does what is not done yet, so a retried or re-delivered task is harmless.
//!
//! A step ends in one of four ways: done ([`Outcome::Done`], the worker completes the task), a business
//! error ([`Outcome::BusinessError`], the worker reports a BPMN error: nothing is retried), waiting
//! ([`Outcome::Waiting`], the vendor backordered lines: the worker keeps the task locked until it looks
//! again), or an error (the worker reports a failure: the engine retries it, then raises an incident).

use sqlx::{PgConnection, PgPool};

use super::failure::{self, FULFILLMENT_REJECTED};
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

/// How a step that did not fail ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Done: the worker completes the task and the process moves on.
    Done,
    /// A business answer no retry changes: the worker reports a BPMN error with `code`.
    BusinessError { code: &'static str, message: String },
    /// Not done yet and nothing failed — the vendor backordered lines: the worker keeps the task locked
    /// until it looks again, burning no retry and raising no incident.
    Waiting { message: String },
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
pub(super) async fn reserve(pool: &PgPool, ctx: &CommandContext, tenant: TenantId, order: OrderId) -> Result<Outcome> {
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
    Ok(Outcome::Done)
}

/// Request fulfillment: for each RESERVED line, record the request (committed) → call the vendor with
/// its idempotency key → on success mark it ACKNOWLEDGED and the line REQUEST_FULFILLMENT, together.
/// A transient vendor failure (503, timeout) marks the request FAILED and fails the task; the line stays
/// RESERVED for the retry. A business rejection (a 4xx other than 408/429) marks the request FAILED with
/// the vendor's answer, fails the line and the order through their machines in one transaction, and ends
/// the step with a BPMN error: the same request would be rejected again, so no retry is burnt on it
/// (lesson §13.1). A task delivered again after that (the BPMN error did not reach the engine) finds the
/// rejection recorded and raises the BPMN error again.
#[tracing::instrument(skip(pool, vendor, ctx), fields(%tenant, %order), err(Display))]
pub(super) async fn request_fulfillment(
    pool: &PgPool,
    vendor: &VendorClient,
    ctx: &CommandContext,
    tenant: TenantId,
    order: OrderId,
) -> Result<Outcome> {
    let mut conn = pool.acquire().await?;
    let status = order_status(&mut conn, tenant, order).await?;
    if status == OrderStatus::Failed {
        if let Some(rejection) = recorded_rejection(&mut conn, order).await? {
            return Ok(rejection);
        }
    }
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
                    if failure::is_business_rejection(&e) {
                        return reject_line(pool, ctx, tenant, order, &line, &e.to_string()).await;
                    }
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
    Ok(Outcome::Done)
}

/// The vendor said no to `line`: the line FAIL and the order FAIL, together, with the vendor's answer as
/// the reason; then the BPMN error.
async fn reject_line(
    pool: &PgPool,
    ctx: &CommandContext,
    tenant: TenantId,
    order: OrderId,
    line: &LineRow,
    answer: &str,
) -> Result<Outcome> {
    let message = format!("line {} ({}) rejected by the vendor: {answer}", line.line_no, line.product_sku);
    let ctx = ctx.clone().with_reason(message.clone());
    let mut tx = pool.begin().await?;
    apply_order_line_command(&mut tx, tenant, order, line.order_line_id, OrderLineCommand::Fail, &ctx).await?;
    apply_order_command(&mut tx, tenant, order, None, OrderCommand::Fail, &ctx).await?;
    tx.commit().await?;
    tracing::warn!(%order, line_no = line.line_no, %answer, "fulfillment rejected by the vendor: line and order failed");
    Ok(Outcome::BusinessError { code: FULFILLMENT_REJECTED, message })
}

/// A business rejection already recorded for a FAILED line of the order: the BPMN error to raise again.
async fn recorded_rejection(conn: &mut PgConnection, order: OrderId) -> crate::Result<Option<Outcome>> {
    let rejected: Option<(i32, String, i32, Option<String>)> = sqlx::query_as(
        "select l.line_no, l.product_sku, f.response_code, f.response_body
         from oms.sales_order_line l
         join oms.fulfillment_request f on f.order_line_id = l.order_line_id
         where l.order_id = $1 and l.status = 'FAILED' and f.status = 'FAILED' and f.response_code between 400 and 499
           and f.response_code not in (408, 429)
         order by l.line_no limit 1",
    )
    .bind(order)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(rejected.map(|(line_no, sku, code, body)| Outcome::BusinessError {
        code: FULFILLMENT_REJECTED,
        message: format!("line {line_no} ({sku}) rejected by the vendor: {}", body.unwrap_or_else(|| format!("vendor answered {code}"))),
    }))
}

/// Activate: each FULFILLMENT_REQUESTED line the vendor has shipped CONFIRM_FULFILLMENT (its request
/// COMPLETED), then the order COMPLETE_FULFILLMENT once every line is fulfilled. A fulfilled order is left
/// alone.
///
/// A line the vendor backordered is asked after again (`GET /fulfillments/{key}`); while it has not
/// shipped, the order is partially fulfilled: IN_PROGRESS → PARTIALLY_FULFILLED (RECORD_PARTIAL_FULFILLMENT)
/// once some line is fulfilled — recorded again each time more lines are — and the step waits
/// ([`Outcome::Waiting`]) with what it did committed. When the rest ships, the next look completes it.
#[tracing::instrument(skip(pool, vendor, ctx), fields(%tenant, %order), err(Display))]
pub(super) async fn activate(
    pool: &PgPool,
    vendor: &VendorClient,
    ctx: &CommandContext,
    tenant: TenantId,
    order: OrderId,
) -> Result<Outcome> {
    let waiting = still_backordered(pool, vendor, order).await?;
    let mut tx = pool.begin().await?;
    let status = order_status(&mut tx, tenant, order).await?;
    if status == OrderStatus::Fulfilled {
        return Ok(Outcome::Done);
    }
    let (mut all_fulfilled, mut fulfilled, mut confirmed_now) = (true, 0, 0);
    for line in lines(&mut tx, order).await? {
        match line.status()? {
            OrderLineStatus::FulfillmentRequested if waiting.contains(&line.line_no) => {}
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
                (fulfilled, confirmed_now) = (fulfilled + 1, confirmed_now + 1);
            }
            OrderLineStatus::Fulfilled => fulfilled += 1,
            OrderLineStatus::Cancelled => {}
            _ => all_fulfilled = false,
        }
    }
    if !all_fulfilled {
        return Err(crate::Error::refused("order has lines that were not requested for fulfillment").into());
    }
    if waiting.is_empty() {
        apply_order_command(&mut tx, tenant, order, None, OrderCommand::CompleteFulfillment, ctx).await?;
        tx.commit().await?;
        return Ok(Outcome::Done);
    }
    let newly_partial = status == OrderStatus::InProgress && fulfilled > 0;
    let more_fulfilled = status == OrderStatus::PartiallyFulfilled && confirmed_now > 0;
    if newly_partial || more_fulfilled {
        let message = format!("{fulfilled} line(s) fulfilled; lines {waiting:?} backordered by the vendor");
        let partial = ctx.clone().with_reason(message);
        apply_order_command(&mut tx, tenant, order, None, OrderCommand::RecordPartialFulfillment, &partial).await?;
    }
    tx.commit().await?;
    Ok(Outcome::Waiting { message: format!("lines {waiting:?} backordered by the vendor") })
}

/// The line numbers of the order the vendor acknowledged as backordered and still has not shipped, asked
/// of the vendor now. A fulfilment the vendor does not know is an error (retried): it cannot be confirmed.
async fn still_backordered(pool: &PgPool, vendor: &VendorClient, order: OrderId) -> Result<Vec<i32>> {
    let mut conn = pool.acquire().await?;
    let backordered = fulfillment::backordered_lines(&mut conn, order).await?;
    let mut waiting = Vec::new();
    for line in lines(&mut conn, order).await? {
        if line.status()? != OrderLineStatus::FulfillmentRequested || !backordered.contains(&line.order_line_id) {
            continue;
        }
        let key = fulfillment::fulfillment_idempotency_key(order, line.line_no);
        let record = vendor.record(&key).await?.ok_or_else(|| {
            crate::Error::refused(format!("the vendor does not know fulfillment {key} it acknowledged as backordered"))
        })?;
        if record.backordered {
            waiting.push(line.line_no);
        }
    }
    Ok(waiting)
}
