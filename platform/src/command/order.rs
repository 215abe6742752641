//! Order and order-line commands.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use super::{check_version, CommandContext};
use crate::events::{Event, OrderLineStatusChanged, OrderStateReplayed, OrderStatusChanged};
use crate::ids::{EntityKind, OrderId, OrderLineId, OutboxEventId, TenantId};
use crate::machine::{transition, Named};
use crate::order::{Order, OrderCommand, OrderLine, OrderLineCommand, OrderLineStatus, OrderStatus};
use crate::outbox;
use crate::{Error, Result};

/// What an order command did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderChange {
    pub order_id: OrderId,
    pub tenant_id: TenantId,
    pub from: OrderStatus,
    pub to: OrderStatus,
    pub version: i64,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    status: String,
    version: i64,
    order_number: String,
    total_minor: i64,
    currency: String,
}

/// Applies `command` to the order, within `tx`. `expected_version` (when given) must match the stored one.
#[tracing::instrument(skip(tx, ctx), fields(actor = %ctx.actor), err(Display))]
pub async fn apply_order_command(
    tx: &mut PgConnection,
    tenant_id: TenantId,
    order_id: OrderId,
    expected_version: Option<i64>,
    command: OrderCommand,
    ctx: &CommandContext,
) -> Result<OrderChange> {
    let row = load_order_for_update(tx, tenant_id, order_id).await?;
    check_version(EntityKind::Order, order_id, expected_version, row.version)?;
    let from: OrderStatus = row.status.parse()?;
    let to = transition::<Order>(from, command).map_err(|r| Error::refused(r.to_string()))?;

    let now = Utc::now();
    let version = row.version + 1;
    let updated = sqlx::query(
        "update oms.sales_order set status = $1, version = $2, updated_at = $3
         where order_id = $4 and tenant_id = $5 and version = $6",
    )
    .bind(to.name())
    .bind(version)
    .bind(now)
    .bind(order_id)
    .bind(tenant_id)
    .bind(row.version)
    .execute(&mut *tx)
    .await?;
    if updated.rows_affected() != 1 {
        return Err(Error::Conflict {
            entity: EntityKind::Order,
            id: order_id.to_string(),
            expected: row.version,
            found: -1,
        });
    }

    append_order_transition(tx, tenant_id, order_id, None, Some(from.name()), to.name(), command.name(), version, ctx, now)
        .await?;

    let event = Event::OrderStatusChanged(OrderStatusChanged {
        order_id,
        tenant_id,
        order_number: row.order_number,
        command,
        from_status: from,
        status: to,
        version,
        total_minor: row.total_minor,
        currency: row.currency,
        occurred_at: now,
    });
    outbox::enqueue_event(tx, &event, ctx.correlation_id).await?;

    tracing::info!(%order_id, %tenant_id, from = from.name(), to = to.name(), version, "order transition");
    Ok(OrderChange { order_id, tenant_id, from, to, version })
}

/// What an order-line command did. The order's version moves too: a line is part of the order aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderLineChange {
    pub order_line_id: OrderLineId,
    pub from: OrderLineStatus,
    pub to: OrderLineStatus,
    pub order_version: i64,
}

/// Applies `command` to one line of an order; bumps the order's version so concurrent edits of the
/// aggregate conflict.
#[tracing::instrument(skip(tx, ctx), fields(actor = %ctx.actor), err(Display))]
pub async fn apply_order_line_command(
    tx: &mut PgConnection,
    tenant_id: TenantId,
    order_id: OrderId,
    order_line_id: OrderLineId,
    command: OrderLineCommand,
    ctx: &CommandContext,
) -> Result<OrderLineChange> {
    let order = load_order_for_update(tx, tenant_id, order_id).await?;
    let line_status: Option<String> = sqlx::query_scalar(
        "select status from oms.sales_order_line where order_line_id = $1 and order_id = $2 for update",
    )
    .bind(order_line_id)
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let from: OrderLineStatus = line_status
        .ok_or_else(|| Error::NotFound { entity: EntityKind::OrderLine, id: order_line_id.to_string() })?
        .parse()?;
    let to = transition::<OrderLine>(from, command).map_err(|r| Error::refused(r.to_string()))?;

    let now = Utc::now();
    let order_version = order.version + 1;
    sqlx::query(
        "update oms.sales_order_line set status = $1, version = version + 1, updated_at = $2 where order_line_id = $3",
    )
    .bind(to.name())
    .bind(now)
    .bind(order_line_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("update oms.sales_order set version = $1, updated_at = $2 where order_id = $3 and version = $4")
        .bind(order_version)
        .bind(now)
        .bind(order_id)
        .bind(order.version)
        .execute(&mut *tx)
        .await?;

    append_order_transition(
        tx,
        tenant_id,
        order_id,
        Some(order_line_id),
        Some(from.name()),
        to.name(),
        command.name(),
        order_version,
        ctx,
        now,
    )
    .await?;
    let event = Event::OrderLineStatusChanged(OrderLineStatusChanged {
        order_id,
        order_line_id,
        tenant_id,
        command,
        from_status: from,
        status: to,
        order_version,
        occurred_at: now,
    });
    outbox::enqueue_event(tx, &event, ctx.correlation_id).await?;
    Ok(OrderLineChange { order_line_id, from, to, order_version })
}

/// What a replay enqueued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderStateReplay {
    pub outbox_event_id: OutboxEventId,
    pub status: OrderStatus,
    pub version: i64,
}

/// Announces the order's current state again (lesson §11.5, §23.5): an `OrderStateReplayed` event at its
/// current version, through the outbox like every other event — the relay publishes it in the
/// aggregate's order, and a version-guarded consumer applies it only where it is behind. The order does
/// not change (no transition: nothing happened to it). `expected_version` must match the stored one, so
/// the replay carries the state the caller saw.
#[tracing::instrument(skip(tx, ctx), fields(actor = %ctx.actor), err(Display))]
pub async fn replay_order_state(
    tx: &mut PgConnection,
    tenant_id: TenantId,
    order_id: OrderId,
    expected_version: Option<i64>,
    ctx: &CommandContext,
) -> Result<OrderStateReplay> {
    let row = load_order_for_update(tx, tenant_id, order_id).await?;
    check_version(EntityKind::Order, order_id, expected_version, row.version)?;
    let status: OrderStatus = row.status.parse()?;
    let event = Event::OrderStateReplayed(OrderStateReplayed {
        order_id,
        tenant_id,
        order_number: row.order_number,
        status,
        version: row.version,
        total_minor: row.total_minor,
        currency: row.currency,
        reason: ctx.reason.clone(),
        occurred_at: Utc::now(),
    });
    let outbox_event_id = outbox::enqueue_event(tx, &event, ctx.correlation_id).await?;
    tracing::info!(%order_id, %tenant_id, version = row.version, "order state replayed");
    Ok(OrderStateReplay { outbox_event_id, status, version: row.version })
}

async fn load_order_for_update(tx: &mut PgConnection, tenant_id: TenantId, order_id: OrderId) -> Result<OrderRow> {
    sqlx::query_as::<_, OrderRow>(
        "select status, version, order_number, total_minor, currency::text as currency
         from oms.sales_order where order_id = $1 and tenant_id = $2 for update",
    )
    .bind(order_id)
    .bind(tenant_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::NotFound { entity: EntityKind::Order, id: order_id.to_string() })
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn append_order_transition(
    tx: &mut PgConnection,
    tenant_id: TenantId,
    order_id: OrderId,
    order_line_id: Option<OrderLineId>,
    from: Option<&str>,
    to: &str,
    command: &str,
    order_version: i64,
    ctx: &CommandContext,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "insert into oms.order_transition
           (transition_id, order_id, tenant_id, order_line_id, from_status, to_status, command, order_version,
            actor, reason, correlation_id, repair_id, occurred_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(order_id)
    .bind(tenant_id)
    .bind(order_line_id)
    .bind(from)
    .bind(to)
    .bind(command)
    .bind(order_version)
    .bind(ctx.actor.as_str())
    .bind(ctx.reason.as_deref())
    .bind(ctx.correlation_id)
    .bind(ctx.repair_id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}
