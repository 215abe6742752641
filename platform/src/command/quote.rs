//! Quote commands, and acceptance: the moment a quote becomes an order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use super::order::append_order_transition;
use super::{check_version, CommandContext};
use crate::events::{Event, OrderCaptured, QuoteStatusChanged};
use crate::ids::{EntityKind, OrderId, OrderLineId, QuoteId, TenantId};
use crate::machine::{transition, Named};
use crate::order::OrderStatus;
use crate::outbox;
use crate::quote::{Quote, QuoteCommand, QuoteStatus};
use crate::{Error, Result};

/// One line of a quote to create. Parsed at the edge: quantity > 0, discount within 0..=100.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct QuoteLineInput {
    pub product_sku: String,
    pub description: String,
    pub quantity: i32,
    pub unit_list_minor: i64,
    /// Discount in basis points (1/100 of a percent): exact, no floating point.
    pub discount_bp: i32,
}

impl QuoteLineInput {
    /// Net amount of the line, rounded half-up to the minor unit.
    pub fn net_minor(&self) -> i64 {
        let gross = self.unit_list_minor * i64::from(self.quantity);
        let discounted = gross * (10_000 - i64::from(self.discount_bp));
        (discounted + 5_000) / 10_000
    }

    fn validate(&self, index: usize) -> Result<()> {
        let bad = |message: String| Err(Error::Invalid { field: "lines", message: format!("line {}: {message}", index + 1) });
        if self.product_sku.trim().is_empty() {
            return bad("product SKU is required".into());
        }
        if self.quantity <= 0 {
            return bad(format!("quantity must be positive, got {}", self.quantity));
        }
        if self.unit_list_minor < 0 {
            return bad("unit price cannot be negative".into());
        }
        if !(0..=10_000).contains(&self.discount_bp) {
            return bad(format!("discount must be between 0 and 100%, got {}bp", self.discount_bp));
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
pub struct QuoteForCreate {
    pub tenant_id: TenantId,
    pub quote_number: String,
    pub customer_name: String,
    pub currency: String,
    pub lines: Vec<QuoteLineInput>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuoteChange {
    pub quote_id: QuoteId,
    pub from: Option<QuoteStatus>,
    pub to: QuoteStatus,
    pub version: i64,
}

/// Creates a quote and prices it: lines with their price snapshot, the total as their sum.
#[tracing::instrument(skip(tx, input, ctx), fields(tenant_id = %input.tenant_id), err(Display))]
pub async fn create_quote(tx: &mut PgConnection, input: &QuoteForCreate, ctx: &CommandContext) -> Result<QuoteChange> {
    if input.lines.is_empty() {
        return Err(Error::Invalid { field: "lines", message: "a quote needs at least one line".into() });
    }
    for (i, line) in input.lines.iter().enumerate() {
        line.validate(i)?;
    }
    let quote_id = QuoteId::new();
    let now = Utc::now();
    let total: i64 = input.lines.iter().map(QuoteLineInput::net_minor).sum();
    let to = transition::<Quote>(QuoteStatus::Draft, QuoteCommand::Price).map_err(|r| Error::refused(r.to_string()))?;

    sqlx::query(
        "insert into cpq.quote (quote_id, tenant_id, quote_number, customer_name, status, currency, total_minor,
                                created_by, created_at, updated_at, valid_until)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $9 + interval '30 days')",
    )
    .bind(quote_id)
    .bind(input.tenant_id)
    .bind(&input.quote_number)
    .bind(&input.customer_name)
    .bind(to.name())
    .bind(&input.currency)
    .bind(total)
    .bind(ctx.actor.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(Error::from_db)?;

    for (i, line) in input.lines.iter().enumerate() {
        sqlx::query(
            "insert into cpq.quote_line (quote_line_id, quote_id, tenant_id, line_no, product_sku, description, quantity,
                                         unit_list_minor, discount_pct, net_minor, price_snapshot, priced_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, ($9::numeric / 100), $10, $11, $12)",
        )
        .bind(uuid::Uuid::now_v7())
        .bind(quote_id)
        .bind(input.tenant_id)
        .bind(i as i32 + 1)
        .bind(&line.product_sku)
        .bind(&line.description)
        .bind(line.quantity)
        .bind(line.unit_list_minor)
        .bind(line.discount_bp)
        .bind(line.net_minor())
        .bind(serde_json::to_value(line).unwrap_or_default())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }

    append_quote_transition(tx, input.tenant_id, quote_id, None, to, QuoteCommand::Price, 1, 1, ctx, now).await?;
    enqueue_quote_event(tx, input.tenant_id, quote_id, &input.quote_number, QuoteCommand::Price, None, to, 1, 1, total, ctx, now)
        .await?;
    Ok(QuoteChange { quote_id, from: None, to, version: 1 })
}

#[derive(sqlx::FromRow)]
struct QuoteRow {
    status: String,
    version: i64,
    current_version: i32,
    quote_number: String,
    total_minor: i64,
    customer_name: String,
    currency: String,
}

async fn load_quote_for_update(tx: &mut PgConnection, tenant_id: TenantId, quote_id: QuoteId) -> Result<QuoteRow> {
    sqlx::query_as::<_, QuoteRow>(
        "select status, version, current_version, quote_number, total_minor, customer_name, currency::text as currency
         from cpq.quote where quote_id = $1 and tenant_id = $2 for update",
    )
    .bind(quote_id)
    .bind(tenant_id)
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| Error::NotFound { entity: EntityKind::Quote, id: quote_id.to_string() })
}

/// Applies a status command to a quote. Acceptance goes through [`accept_quote`], which also captures
/// the order.
#[tracing::instrument(skip(tx, ctx), fields(actor = %ctx.actor), err(Display))]
pub async fn apply_quote_command(
    tx: &mut PgConnection,
    tenant_id: TenantId,
    quote_id: QuoteId,
    expected_version: Option<i64>,
    command: QuoteCommand,
    ctx: &CommandContext,
) -> Result<QuoteChange> {
    if command == QuoteCommand::Accept {
        return Err(Error::refused("acceptance captures an order: use accept_quote"));
    }
    let row = load_quote_for_update(tx, tenant_id, quote_id).await?;
    check_version(EntityKind::Quote, quote_id, expected_version, row.version)?;
    let from: QuoteStatus = row.status.parse()?;
    let to = transition::<Quote>(from, command).map_err(|r| Error::refused(r.to_string()))?;
    // A revision is a new commercial version: approvals bound to the old one no longer apply.
    let quote_version = if command == QuoteCommand::Revise { row.current_version + 1 } else { row.current_version };
    let version = row.version + 1;
    let now = Utc::now();
    sqlx::query(
        "update cpq.quote set status = $1, version = $2, current_version = $3, updated_at = $4
         where quote_id = $5 and version = $6",
    )
    .bind(to.name())
    .bind(version)
    .bind(quote_version)
    .bind(now)
    .bind(quote_id)
    .bind(row.version)
    .execute(&mut *tx)
    .await?;
    append_quote_transition(tx, tenant_id, quote_id, Some(from), to, command, quote_version, version, ctx, now).await?;
    enqueue_quote_event(tx, tenant_id, quote_id, &row.quote_number, command, Some(from), to, quote_version, version, row.total_minor, ctx, now)
        .await?;
    Ok(QuoteChange { quote_id, from: Some(from), to, version })
}

/// The result of accepting a quote: the quote change and the order it captured.
#[derive(Debug, Clone, Serialize)]
pub struct AcceptedQuote {
    pub quote: QuoteChange,
    pub order_id: OrderId,
    pub order_number: String,
}

/// Accepts an approved quote and captures its order in the same transaction. The acceptance key is the
/// caller's idempotency key: it is stored on the order as acceptance evidence. A second acceptance of the
/// same quote is refused by the quote's state and, should two race, by `uq_order_source_quote`.
#[tracing::instrument(skip(tx, ctx), fields(actor = %ctx.actor), err(Display))]
pub async fn accept_quote(
    tx: &mut PgConnection,
    tenant_id: TenantId,
    quote_id: QuoteId,
    acceptance_key: &str,
    ctx: &CommandContext,
) -> Result<AcceptedQuote> {
    if acceptance_key.trim().is_empty() {
        return Err(Error::Invalid { field: "acceptance_key", message: "an idempotency key is required".into() });
    }
    // Mitigation switch (DISABLE_QUOTE_ACCEPTANCE:<tenant>): refuse before touching the quote.
    if crate::control::quote_acceptance_disabled(tx, tenant_id).await? {
        return Err(Error::refused(format!("quote acceptance is disabled for tenant {tenant_id} (mitigation switch DISABLE_QUOTE_ACCEPTANCE)")));
    }
    let row = load_quote_for_update(tx, tenant_id, quote_id).await?;
    let from: QuoteStatus = row.status.parse()?;
    let to = transition::<Quote>(from, QuoteCommand::Accept).map_err(|r| Error::refused(r.to_string()))?;
    let now = Utc::now();
    let version = row.version + 1;
    sqlx::query(
        "update cpq.quote set status = $1, version = $2, accepted_at = $3, acceptance_ref = $4, updated_at = $3
         where quote_id = $5 and version = $6",
    )
    .bind(to.name())
    .bind(version)
    .bind(now)
    .bind(acceptance_key)
    .bind(quote_id)
    .bind(row.version)
    .execute(&mut *tx)
    .await?;
    append_quote_transition(tx, tenant_id, quote_id, Some(from), to, QuoteCommand::Accept, row.current_version, version, ctx, now)
        .await?;
    enqueue_quote_event(
        tx, tenant_id, quote_id, &row.quote_number, QuoteCommand::Accept, Some(from), to, row.current_version, version,
        row.total_minor, ctx, now,
    )
    .await?;

    // Capture the order from the accepted quote version.
    let order_id = OrderId::new();
    let order_number = format!("SO-{}", row.quote_number.trim_start_matches("Q-"));
    let status = OrderStatus::Captured;
    sqlx::query(
        "insert into oms.sales_order (order_id, tenant_id, order_number, source_quote_id, customer_name, status, version,
                                      currency, total_minor, acceptance_key, created_at, updated_at)
         values ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $10, $10)",
    )
    .bind(order_id)
    .bind(tenant_id)
    .bind(&order_number)
    .bind(quote_id)
    .bind(&row.customer_name)
    .bind(status.name())
    .bind(&row.currency)
    .bind(row.total_minor)
    .bind(acceptance_key)
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(Error::from_db)?;
    let line_count = capture_order_lines(tx, tenant_id, order_id, quote_id, now).await?;
    append_order_transition(tx, tenant_id, order_id, None, None, status.name(), "CAPTURE", 1, ctx, now).await?;
    // The intent to orchestrate commits with the order; the orchestration starter carries it out.
    crate::orchestration::record_start_intent(tx, tenant_id, order_id).await?;
    let event = Event::OrderCaptured(OrderCaptured {
        order_id,
        tenant_id,
        order_number: order_number.clone(),
        source_quote_id: quote_id,
        status,
        version: 1,
        total_minor: row.total_minor,
        currency: row.currency,
        line_count,
        occurred_at: now,
    });
    outbox::enqueue_event(tx, &event, ctx.correlation_id).await?;
    Ok(AcceptedQuote { quote: QuoteChange { quote_id, from: Some(from), to, version }, order_id, order_number })
}

/// Copies the quote's lines onto the order, in line order, with their pricing as the quote priced them:
/// the unit list price, the discount and the net (`ck_order_line_net_is_priced` holds them together), so
/// no money is lost to a division and the lines add up to the order total. Line ids are made here, time
/// ordered (v7): PostgreSQL 15 has no `uuidv7()`. Returns how many lines were copied.
async fn capture_order_lines(
    tx: &mut PgConnection,
    tenant_id: TenantId,
    order_id: OrderId,
    quote_id: QuoteId,
    at: DateTime<Utc>,
) -> Result<usize> {
    let count: i64 = sqlx::query_scalar("select count(*) from cpq.quote_line where quote_id = $1")
        .bind(quote_id)
        .fetch_one(&mut *tx)
        .await?;
    let ids: Vec<OrderLineId> = (0..count).map(|_| OrderLineId::new()).collect();
    let copied = sqlx::query(
        "insert into oms.sales_order_line (order_line_id, order_id, tenant_id, line_no, product_sku, quantity,
                                           unit_price_minor, discount_bp, net_minor, created_at, updated_at)
         select ids.id, $1, $2, q.line_no, q.product_sku, q.quantity,
                q.unit_list_minor, (q.discount_pct * 100)::integer, q.net_minor, $3, $3
         from (select *, row_number() over (order by line_no) as n from cpq.quote_line where quote_id = $4) q
         join unnest($5::uuid[]) with ordinality as ids(id, n) using (n)",
    )
    .bind(order_id)
    .bind(tenant_id)
    .bind(at)
    .bind(quote_id)
    .bind(&ids)
    .execute(&mut *tx)
    .await?;
    Ok(copied.rows_affected() as usize)
}

#[allow(clippy::too_many_arguments)]
async fn append_quote_transition(
    tx: &mut PgConnection,
    tenant_id: TenantId,
    quote_id: QuoteId,
    from: Option<QuoteStatus>,
    to: QuoteStatus,
    command: QuoteCommand,
    quote_version: i32,
    row_version: i64,
    ctx: &CommandContext,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query(
        "insert into cpq.quote_transition (transition_id, quote_id, tenant_id, from_status, to_status, command,
                                           quote_version, row_version, actor, reason, correlation_id, occurred_at)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(quote_id)
    .bind(tenant_id)
    .bind(from.map(Named::name))
    .bind(to.name())
    .bind(command.name())
    .bind(quote_version)
    .bind(row_version)
    .bind(ctx.actor.as_str())
    .bind(ctx.reason.as_deref())
    .bind(ctx.correlation_id)
    .bind(at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn enqueue_quote_event(
    tx: &mut PgConnection,
    tenant_id: TenantId,
    quote_id: QuoteId,
    quote_number: &str,
    command: QuoteCommand,
    from: Option<QuoteStatus>,
    to: QuoteStatus,
    quote_version: i32,
    version: i64,
    total_minor: i64,
    ctx: &CommandContext,
    at: DateTime<Utc>,
) -> Result<()> {
    let event = Event::QuoteStatusChanged(QuoteStatusChanged {
        quote_id,
        tenant_id,
        quote_number: quote_number.to_owned(),
        command,
        from_status: from,
        status: to,
        quote_version,
        version,
        total_minor,
        occurred_at: at,
    });
    outbox::enqueue_event(tx, &event, ctx.correlation_id).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(qty: i32, unit: i64, bp: i32) -> QuoteLineInput {
        QuoteLineInput { product_sku: "SKU-1".into(), description: "d".into(), quantity: qty, unit_list_minor: unit, discount_bp: bp }
    }

    #[test]
    fn net_amount_applies_the_discount_and_rounds_half_up() {
        assert_eq!(line(3, 1000, 0).net_minor(), 3000);
        assert_eq!(line(1, 999, 1250).net_minor(), 874); // 874.125 → 874
        assert_eq!(line(1, 1, 5000).net_minor(), 1); // 0.5 → 1
    }

    #[test]
    fn lines_with_bad_quantities_or_discounts_are_refused_with_their_number() {
        assert!(line(1, 100, 0).validate(0).is_ok());
        let err = line(0, 100, 0).validate(1).unwrap_err();
        assert_eq!(err.to_string(), "invalid lines: line 2: quantity must be positive, got 0");
        assert!(line(1, 100, 10_001).validate(0).is_err());
    }
}
