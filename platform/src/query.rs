//! Read models of platform entities for the console. This module only reads; nothing here changes state.
//!
//! [`order_detail`] gathers what an operator needs to judge one order: the order and its lines, its
//! transition history, its orchestration start (pending, started, or given up and why), the outbox events
//! it enqueued, the fulfillment requests it caused, and the Kafka-fed projection row — with whether that row lags the order. All parts are read in one read-only
//! REPEATABLE READ transaction, so they describe the same moment: a projection shown as "behind" really was
//! behind the version shown beside it, not overtaken by a commit between two queries.
//!
//! One named query per part; each names the index it relies on.

mod quote;

pub use quote::{quote_story, ApprovalRow, QuoteRow, QuoteStory, SiblingOrder, StepRow};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;

use crate::ids::{FulfillmentRequestId, OrderId, OrderLineId, OutboxEventId, QuoteId, TenantId};
pub use crate::orchestration::OrchestrationStartRow;
use crate::outbox::aggregate;
use crate::Result;

/// Order numbers are short codes (`SO-…`); anything longer is not worth a query.
const MAX_ORDER_NUMBER_LEN: usize = 64;

/// How an operator names an order: by its id (or its source quote's id), by its order number (or its
/// source quote's number), or by the engine's business key `tenantId:orderId`. Parsed once at the edge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderLookup {
    Id(OrderId),
    Number(String),
    /// `tenantId:orderId`, as the engine and its incidents name an order.
    BusinessKey { tenant: TenantId, order: OrderId },
}

/// Why an operator's text cannot name an order.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidOrderLookup {
    #[error("enter an order id or an order number")]
    Empty,
    /// Hex digits and dashes in the shape of a UUID, but not a valid one (a truncated or mistyped id).
    /// Looking it up as an order number would only answer "not found" and hide the typo.
    #[error("{input:?} is not a valid order id")]
    MalformedId { input: String },
    #[error("an order number has at most {MAX_ORDER_NUMBER_LEN} characters")]
    TooLong,
    /// Control characters (a NUL byte, a line break) are in no order number, and PostgreSQL refuses NUL
    /// in text: refusing them here keeps bad input from becoming a database error.
    #[error("an order number has no control characters")]
    ControlCharacters,
}

impl OrderLookup {
    /// A valid UUID is an order id; text shaped like an attempted UUID but invalid is refused; anything
    /// else is an order number.
    pub fn parse(input: &str) -> std::result::Result<Self, InvalidOrderLookup> {
        let input = input.trim();
        if input.is_empty() {
            return Err(InvalidOrderLookup::Empty);
        }
        if let Ok(id) = OrderId::parse(input) {
            return Ok(OrderLookup::Id(id));
        }
        if let Some((tenant, order)) = crate::engine::BusinessKey::parse(input) {
            return Ok(OrderLookup::BusinessKey { tenant, order });
        }
        if looks_like_an_id(input) {
            return Err(InvalidOrderLookup::MalformedId { input: input.chars().take(80).collect() });
        }
        if input.chars().count() > MAX_ORDER_NUMBER_LEN {
            return Err(InvalidOrderLookup::TooLong);
        }
        if input.chars().any(char::is_control) {
            return Err(InvalidOrderLookup::ControlCharacters);
        }
        Ok(OrderLookup::Number(input.to_string()))
    }
}

impl std::fmt::Display for OrderLookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OrderLookup::Id(id) => write!(f, "{id}"),
            OrderLookup::Number(number) => f.write_str(number),
            OrderLookup::BusinessKey { tenant, order } => write!(f, "{tenant}:{order}"),
        }
    }
}

/// Only hex digits and dashes, with a dash, and a first group of eight characters as in
/// `0193a5c2-…`. Order numbers such as `2026-0042` or `SO-2026-0042` do not match.
fn looks_like_an_id(input: &str) -> bool {
    let first_group = input.split('-').next().unwrap_or_default();
    input.contains('-') && first_group.len() == 8 && input.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

/// The order itself, with its source quote's number and status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct OrderSummary {
    pub order_id: OrderId,
    pub tenant_id: TenantId,
    pub order_number: String,
    pub status: String,
    pub version: i64,
    pub customer_name: String,
    pub currency: String,
    pub total_minor: i64,
    pub source_quote_id: Option<QuoteId>,
    pub source_quote_number: Option<String>,
    pub source_quote_status: Option<String>,
    pub acceptance_key: Option<String>,
    pub origin: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl OrderSummary {
    /// The business key of the order's process instance in the engine (`tenantId:orderId`).
    pub fn business_key(&self) -> String {
        format!("{}:{}", self.tenant_id, self.order_id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct OrderLineRow {
    pub order_line_id: OrderLineId,
    pub line_no: i32,
    pub product_sku: String,
    pub quantity: i32,
    /// The quote line's unit list price (before the discount).
    pub unit_price_minor: i64,
    /// The quote line's discount in basis points; `None` for lines captured before order lines carried
    /// their pricing (their `unit_price_minor` is the net per unit, truncated).
    pub discount_bp: Option<i32>,
    /// The line's amount, as the quote priced it: what the customer pays for it.
    pub net_minor: i64,
    pub status: String,
    pub version: i64,
    pub updated_at: DateTime<Utc>,
}

/// One row of the order's append-only transition history. `line_no` is set when the change was to a line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct OrderTransitionRow {
    pub occurred_at: DateTime<Utc>,
    pub from_status: Option<String>,
    pub to_status: String,
    pub command: String,
    pub actor: String,
    pub reason: Option<String>,
    pub order_version: i64,
    pub order_line_id: Option<OrderLineId>,
    pub line_no: Option<i32>,
    pub correlation_id: Option<uuid::Uuid>,
    pub repair_id: Option<uuid::Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct OutboxEventRow {
    pub outbox_event_id: OutboxEventId,
    pub event_type: String,
    pub status: String,
    pub aggregate_version: i64,
    pub attempts: i32,
    pub claimed_by: Option<String>,
    pub claimed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub published_at: Option<DateTime<Utc>>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_error: Option<String>,
    pub kafka_topic: Option<String>,
    pub kafka_partition: Option<i32>,
    pub kafka_offset: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct FulfillmentRequestRow {
    pub fulfillment_request_id: FulfillmentRequestId,
    pub order_line_id: Option<OrderLineId>,
    pub line_no: Option<i32>,
    pub idempotency_key: String,
    pub vendor: String,
    pub status: String,
    pub attempts: i32,
    pub response_code: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The order's row in the Kafka-fed read model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct OrderProjectionRow {
    pub status: String,
    pub aggregate_version: i64,
    pub total_minor: i64,
    pub currency: String,
    pub last_event_id: Option<uuid::Uuid>,
    pub source_updated_at: DateTime<Utc>,
    pub projected_at: DateTime<Utc>,
}

/// Everything the console shows about one order, read at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderDetail {
    pub order: OrderSummary,
    pub lines: Vec<OrderLineRow>,
    pub transitions: Vec<OrderTransitionRow>,
    /// None for an order captured before starts were durable (seeded history, legacy imports).
    pub orchestration_start: Option<OrchestrationStartRow>,
    pub outbox_events: Vec<OutboxEventRow>,
    pub fulfillment_requests: Vec<FulfillmentRequestRow>,
    pub projection: Option<OrderProjectionRow>,
}

/// How the read model compares with the order it mirrors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ProjectionState {
    /// No projection row yet: the capture event has not been consumed.
    Missing,
    /// Same version, same status and total.
    Current,
    /// The projection has not yet seen the order's latest changes.
    Behind { versions: i64 },
    /// Same version but different status or total: the consumer applied something wrong.
    Diverged,
    /// A version the order never had: the projection was written by something other than the consumer.
    Ahead { versions: i64 },
}

impl OrderDetail {
    pub fn projection_state(&self) -> ProjectionState {
        let Some(projection) = &self.projection else {
            return ProjectionState::Missing;
        };
        let diff = self.order.version - projection.aggregate_version;
        match diff {
            0 if projection.status == self.order.status && projection.total_minor == self.order.total_minor => {
                ProjectionState::Current
            }
            0 => ProjectionState::Diverged,
            d if d > 0 => ProjectionState::Behind { versions: d },
            d => ProjectionState::Ahead { versions: -d },
        }
    }
}

/// Reads one order of one tenant with all its parts; `None` when the tenant has no such order.
/// An order of another tenant is `None` too: tenant scope is part of every query, not a check after it.
/// Run it in a repeatable-read transaction (the console's reads are) so every part describes one moment.
#[tracing::instrument(skip(db), fields(%tenant_id, lookup = %lookup), err(Display))]
pub async fn order_detail(
    db: &mut PgConnection,
    tenant_id: TenantId,
    lookup: &OrderLookup,
) -> Result<Option<OrderDetail>> {
    let Some(order) = find_order(db, tenant_id, lookup).await? else {
        return Ok(None);
    };
    let order_id = order.order_id;
    Ok(Some(OrderDetail {
        lines: order_lines(db, tenant_id, order_id).await?,
        transitions: order_transitions(db, tenant_id, order_id).await?,
        orchestration_start: crate::orchestration::starter::orchestration_start(db, tenant_id, order_id).await?,
        outbox_events: order_outbox_events(db, tenant_id, order_id).await?,
        fulfillment_requests: order_fulfillment_requests(db, tenant_id, order_id).await?,
        projection: order_projection(db, tenant_id, order_id).await?,
        order,
    }))
}

macro_rules! order_summary_select {
    () => {
        "select o.order_id, o.tenant_id, o.order_number, o.status, o.version, o.customer_name,
                o.currency::text as currency, o.total_minor, o.source_quote_id,
                q.quote_number as source_quote_number, q.status as source_quote_status,
                o.acceptance_key, o.origin, o.created_at, o.updated_at
         from oms.sales_order o
         left join cpq.quote q on q.quote_id = o.source_quote_id and q.tenant_id = o.tenant_id"
    };
}

/// By id: primary key of `oms.sales_order`, else the order of that source quote (the oldest, when the
/// quote has duplicates: the canonical one). By number: `unique (tenant_id, order_number)`, else the source
/// quote's number. A business key names its tenant: another tenant's key finds nothing.
async fn find_order(db: &mut PgConnection, tenant_id: TenantId, lookup: &OrderLookup) -> Result<Option<OrderSummary>> {
    let query = match lookup {
        OrderLookup::Id(order_id) => sqlx::query_as::<_, OrderSummary>(concat!(
            order_summary_select!(),
            " where o.tenant_id = $1 and (o.order_id = $2 or o.source_quote_id = $2)
             order by (o.order_id = $2) desc, o.created_at limit 1"
        ))
        .bind(tenant_id)
        .bind(*order_id),
        OrderLookup::BusinessKey { tenant, order } if *tenant == tenant_id => sqlx::query_as::<_, OrderSummary>(concat!(
            order_summary_select!(),
            " where o.tenant_id = $1 and o.order_id = $2"
        ))
        .bind(tenant_id)
        .bind(*order),
        OrderLookup::BusinessKey { .. } => return Ok(None),
        OrderLookup::Number(number) => sqlx::query_as::<_, OrderSummary>(concat!(
            order_summary_select!(),
            " where o.tenant_id = $1 and (o.order_number = $2 or q.quote_number = $2)
             order by (o.order_number = $2) desc, o.created_at limit 1"
        ))
        .bind(tenant_id)
        .bind(number.as_str()),
    };
    Ok(query.fetch_optional(db).await?)
}

/// `unique (order_id, line_no)` on `oms.sales_order_line`.
async fn order_lines(db: &mut PgConnection, tenant_id: TenantId, order_id: OrderId) -> Result<Vec<OrderLineRow>> {
    Ok(sqlx::query_as::<_, OrderLineRow>(
        "select order_line_id, line_no, product_sku, quantity, unit_price_minor, discount_bp, net_minor, status, version,
                updated_at
         from oms.sales_order_line
         where order_id = $1 and tenant_id = $2
         order by line_no",
    )
    .bind(order_id)
    .bind(tenant_id)
    .fetch_all(db)
    .await?)
}

/// `ix_order_transition_order (order_id, occurred_at)`.
async fn order_transitions(
    db: &mut PgConnection,
    tenant_id: TenantId,
    order_id: OrderId,
) -> Result<Vec<OrderTransitionRow>> {
    Ok(sqlx::query_as::<_, OrderTransitionRow>(
        "select t.occurred_at, t.from_status, t.to_status, t.command, t.actor, t.reason, t.order_version,
                t.order_line_id, l.line_no, t.correlation_id, t.repair_id
         from oms.order_transition t
         left join oms.sales_order_line l on l.order_line_id = t.order_line_id
         where t.order_id = $1 and t.tenant_id = $2
         order by t.occurred_at, t.order_version",
    )
    .bind(order_id)
    .bind(tenant_id)
    .fetch_all(db)
    .await?)
}

/// `ix_outbox_aggregate (aggregate_id, aggregate_version)`.
async fn order_outbox_events(
    db: &mut PgConnection,
    tenant_id: TenantId,
    order_id: OrderId,
) -> Result<Vec<OutboxEventRow>> {
    Ok(sqlx::query_as::<_, OutboxEventRow>(
        "select outbox_event_id, event_type, status, aggregate_version, attempts, claimed_by, claimed_at, created_at,
                published_at, next_attempt_at, last_error, kafka_topic, kafka_partition, kafka_offset
         from messaging.outbox_event
         where aggregate_id = $1 and tenant_id = $2 and aggregate_type = $3
         order by aggregate_version, created_at",
    )
    .bind(order_id)
    .bind(tenant_id)
    .bind(aggregate::ORDER)
    .fetch_all(db)
    .await?)
}

/// `ix_fulfillment_request_order (order_id)`.
async fn order_fulfillment_requests(
    db: &mut PgConnection,
    tenant_id: TenantId,
    order_id: OrderId,
) -> Result<Vec<FulfillmentRequestRow>> {
    Ok(sqlx::query_as::<_, FulfillmentRequestRow>(
        "select f.fulfillment_request_id, f.order_line_id, l.line_no, f.idempotency_key, f.vendor, f.status,
                f.attempts, f.response_code, f.created_at, f.sent_at, f.completed_at, f.updated_at
         from oms.fulfillment_request f
         left join oms.sales_order_line l on l.order_line_id = f.order_line_id
         where f.order_id = $1 and f.tenant_id = $2
         order by f.created_at, f.idempotency_key",
    )
    .bind(order_id)
    .bind(tenant_id)
    .fetch_all(db)
    .await?)
}

/// Primary key of `oms.order_projection`.
async fn order_projection(
    db: &mut PgConnection,
    tenant_id: TenantId,
    order_id: OrderId,
) -> Result<Option<OrderProjectionRow>> {
    Ok(sqlx::query_as::<_, OrderProjectionRow>(
        "select status, aggregate_version, total_minor, currency::text as currency, last_event_id,
                source_updated_at, projected_at
         from oms.order_projection
         where order_id = $1 and tenant_id = $2",
    )
    .bind(order_id)
    .bind(tenant_id)
    .fetch_optional(db)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_uuid_is_looked_up_as_an_order_id() {
        let lookup = OrderLookup::parse(" 10000000-0000-4000-8000-000000000001 ").unwrap();
        assert!(matches!(lookup, OrderLookup::Id(id) if id.to_string() == "10000000-0000-4000-8000-000000000001"));
    }

    #[test]
    fn anything_that_is_not_shaped_like_an_id_is_an_order_number() {
        for input in ["SO-2026-000042", "2026-0042", "ORD-12", "10000000-zz", "deadbeef"] {
            assert_eq!(OrderLookup::parse(input), Ok(OrderLookup::Number(input.to_string())), "{input}");
        }
    }

    #[test]
    fn a_mistyped_uuid_is_refused_instead_of_searched_as_a_number() {
        for input in
            ["10000000-0000-4000-8000-00000000000", "0193a5c2-aaaa-bbbb", "0193A5C2-0000-4000-8000-0000000000001"]
        {
            assert!(
                matches!(OrderLookup::parse(input), Err(InvalidOrderLookup::MalformedId { .. })),
                "{input} should be a malformed id"
            );
        }
        assert_eq!(
            OrderLookup::parse("0193a5c2-aaaa-bbbb").unwrap_err().to_string(),
            "\"0193a5c2-aaaa-bbbb\" is not a valid order id"
        );
    }

    #[test]
    fn empty_overlong_and_control_character_input_is_refused() {
        assert_eq!(OrderLookup::parse("   "), Err(InvalidOrderLookup::Empty));
        assert_eq!(OrderLookup::parse(&"x".repeat(65)), Err(InvalidOrderLookup::TooLong));
        assert_eq!(OrderLookup::parse("SO-\u{0}1"), Err(InvalidOrderLookup::ControlCharacters));
        assert_eq!(OrderLookup::parse("SO-1\nSO-2"), Err(InvalidOrderLookup::ControlCharacters));
    }

    fn detail(order_version: i64, projection: Option<(i64, &str)>) -> OrderDetail {
        let now = Utc::now();
        OrderDetail {
            order: OrderSummary {
                order_id: OrderId::new(),
                tenant_id: TenantId::new(),
                order_number: "SO-1".into(),
                status: "IN_PROGRESS".into(),
                version: order_version,
                customer_name: "c".into(),
                currency: "EUR".into(),
                total_minor: 100,
                source_quote_id: None,
                source_quote_number: None,
                source_quote_status: None,
                acceptance_key: None,
                origin: "PLATFORM".into(),
                created_at: now,
                updated_at: now,
            },
            lines: vec![],
            transitions: vec![],
            orchestration_start: None,
            outbox_events: vec![],
            fulfillment_requests: vec![],
            projection: projection.map(|(version, status)| OrderProjectionRow {
                status: status.into(),
                aggregate_version: version,
                total_minor: 100,
                currency: "EUR".into(),
                last_event_id: None,
                source_updated_at: now,
                projected_at: now,
            }),
        }
    }

    #[test]
    fn the_projection_is_compared_with_the_order_version() {
        assert_eq!(detail(3, None).projection_state(), ProjectionState::Missing);
        assert_eq!(detail(3, Some((3, "IN_PROGRESS"))).projection_state(), ProjectionState::Current);
        assert_eq!(detail(5, Some((3, "ORCHESTRATING"))).projection_state(), ProjectionState::Behind { versions: 2 });
        assert_eq!(detail(3, Some((3, "FAILED"))).projection_state(), ProjectionState::Diverged);
        assert_eq!(detail(3, Some((4, "FAILED"))).projection_state(), ProjectionState::Ahead { versions: 1 });
    }
}
