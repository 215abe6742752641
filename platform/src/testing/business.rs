//! Business and switches made through the platform's own commands — never inserted behind their back —
//! so every fixture row has its history and outbox events, like real data. The one exception is the
//! approval policy, which no command writes yet.

use sqlx::PgPool;

use super::ctx;
use crate::approval_timer::{active_policy, ApprovalPolicy};
use crate::command::{
    accept_quote, apply_order_command, apply_quote_command, create_quote, AcceptedQuote, QuoteForCreate, QuoteLineInput,
};
use crate::control::{set_control, Control, ControlChange, ControlState};
use crate::ids::{OrderId, QuoteId, TenantId};
use crate::order::OrderCommand;
use crate::quote::QuoteCommand;
use crate::tenants::{self, ACME, GLOBEX, INITECH, WELL_KNOWN};

/// What [`quote_lines`] add up to: 2 × 125.00 less 10 % + 49.99 = 274.99.
pub const QUOTE_TOTAL_MINOR: i64 = 27_499;

/// The tenants [`order_journeys`] spreads orders over, in turn.
pub const TENANTS: [TenantId; 3] = [ACME, GLOBEX, INITECH];

/// The happy path of an order after its capture, in order.
pub const FULFILMENT: [OrderCommand; 4] = [
    OrderCommand::StartOrchestration,
    OrderCommand::BeginFulfillment,
    OrderCommand::RecordPartialFulfillment,
    OrderCommand::CompleteFulfillment,
];

/// The lines every fixture quote has: rocket skates (2 × 125.00, 10 % off) and an anvil (49.99).
pub fn quote_lines() -> Vec<QuoteLineInput> {
    vec![
        QuoteLineInput {
            product_sku: "ROCKET-1".into(),
            description: "Rocket skates".into(),
            quantity: 2,
            unit_list_minor: 12_500,
            discount_bp: 1_000,
        },
        QuoteLineInput {
            product_sku: "ANVIL-9".into(),
            description: "Anvil".into(),
            quantity: 1,
            unit_list_minor: 4_999,
            discount_bp: 0,
        },
    ]
}

/// A PRICED quote numbered `number` (`Q-…`) with [`quote_lines`], in its own transaction. Creates the
/// well-known tenants first.
pub async fn priced_quote(pool: &PgPool, tenant: TenantId, number: &str) -> QuoteId {
    tenants::ensure_well_known(pool).await.expect("the well-known tenants exist");
    let input = QuoteForCreate {
        tenant_id: tenant,
        quote_number: number.into(),
        customer_name: "Wile E. Coyote".into(),
        currency: "EUR".into(),
        lines: quote_lines(),
    };
    let mut tx = pool.begin().await.expect("a transaction");
    let created = create_quote(&mut tx, &input, &ctx()).await.unwrap_or_else(|e| panic!("quote {number}: {e}"));
    tx.commit().await.expect("the quote commits");
    created.quote_id
}

/// A quote approved without review (PRICED → APPROVED), ready to be accepted.
pub async fn approved_quote(pool: &PgPool, tenant: TenantId, number: &str) -> QuoteId {
    let quote = priced_quote(pool, tenant, number).await;
    let mut tx = pool.begin().await.expect("a transaction");
    apply_quote_command(&mut tx, tenant, quote, Some(1), QuoteCommand::ApproveWithoutReview, &ctx())
        .await
        .unwrap_or_else(|e| panic!("approving {number}: {e}"));
    tx.commit().await.expect("the approval commits");
    quote
}

/// An approved quote accepted with key `accept-<number>`: a CAPTURED order with two PENDING lines
/// (order number `SO-…` from the quote's).
pub async fn captured_order(pool: &PgPool, tenant: TenantId, number: &str) -> AcceptedQuote {
    let quote = approved_quote(pool, tenant, number).await;
    let mut tx = pool.begin().await.expect("a transaction");
    let accepted = accept_quote(&mut tx, tenant, quote, &format!("accept-{number}"), &ctx())
        .await
        .unwrap_or_else(|e| panic!("accepting {number}: {e}"));
    tx.commit().await.expect("the acceptance commits");
    accepted
}

/// Applies `commands` to the order in turn, each in its own transaction and against the version the
/// previous one left; returns the order's version at the end.
pub async fn advance_order(pool: &PgPool, tenant: TenantId, order: OrderId, commands: &[OrderCommand]) -> i64 {
    let mut version: i64 = sqlx::query_scalar("select version from oms.sales_order where order_id = $1")
        .bind(order)
        .fetch_one(pool)
        .await
        .expect("the order exists");
    for &command in commands {
        let mut tx = pool.begin().await.expect("a transaction");
        version = apply_order_command(&mut tx, tenant, order, Some(version), command, &ctx())
            .await
            .unwrap_or_else(|e| panic!("{command} on order {order}: {e}"))
            .version;
        tx.commit().await.expect("the order command commits");
    }
    version
}

/// For each `n` of `numbers`, quote `Q-<n>` in tenant `TENANTS[n % 3]`, captured and moved through the
/// first `steps` commands of [`FULFILMENT`]. Per journey that is 3 quote events (priced, approved,
/// accepted) and `1 + steps` order events.
pub async fn order_journeys(pool: &PgPool, numbers: std::ops::Range<u32>, steps: usize) -> Vec<OrderId> {
    let mut orders = Vec::with_capacity(numbers.len());
    for n in numbers {
        let tenant = TENANTS[n as usize % TENANTS.len()];
        let order = captured_order(pool, tenant, &format!("Q-{n}")).await.order_id;
        advance_order(pool, tenant, order, &FULFILMENT[..steps]).await;
        orders.push(order);
    }
    orders
}

/// Version 1 of the tenant's `standard` approval policy: a line discounted more than 10 %, or a total
/// above `max_total_minor`, needs review by `<slug>-approvers` within 60 minutes.
pub async fn approval_policy(pool: &PgPool, tenant: TenantId, max_total_minor: i64) -> ApprovalPolicy {
    tenants::ensure_well_known(pool).await.expect("the well-known tenants exist");
    let slug = WELL_KNOWN.iter().find(|t| t.0 == tenant).map_or("tenant", |t| t.1);
    sqlx::query(
        "insert into cpq.approval_policy (policy_id, policy_version, tenant_id, name, max_discount_pct, max_total_minor,
                                          approver_group, sla_minutes, created_by)
         values (gen_random_uuid(), 1, $1, 'standard', 10, $2, $3, 60, $4)",
    )
    .bind(tenant)
    .bind(max_total_minor)
    .bind(format!("{slug}-approvers"))
    .bind(super::ACTOR)
    .execute(pool)
    .await
    .expect("the policy is inserted");
    let mut conn = pool.acquire().await.expect("a connection");
    active_policy(&mut conn, tenant).await.expect("the policy reads back").expect("the policy just inserted")
}

/// Turns a mitigation switch on or off through [`set_control`], as [`super::ACTOR`], in its own
/// transaction. The workers that honour it see it on their next poll.
pub async fn switch(pool: &PgPool, control: Control, enabled: bool) -> ControlState {
    let change = ControlChange {
        control,
        enabled,
        reason: "integration test switch".into(),
        actor: super::ACTOR.into(),
        incident_id: None,
    };
    let mut tx = pool.begin().await.expect("a transaction");
    let state = set_control(&mut tx, &change).await.unwrap_or_else(|e| panic!("switching {:?}: {e}", change.control));
    tx.commit().await.expect("the switch commits");
    state
}

/// A copy of `order` as the legacy import made it, `offset` after the original's capture (negative:
/// before it): origin `LEGACY_IMPORT`, so outside `uq_order_source_quote`, with the same source quote and
/// acceptance key, its lines PENDING and its CAPTURE transition by `legacy-import`. Written as the import
/// wrote it — rows, not commands: no command makes a duplicate, which is the point. Returns its id.
pub async fn legacy_duplicate(pool: &PgPool, tenant: TenantId, order: OrderId, offset: chrono::TimeDelta) -> OrderId {
    let copy = OrderId::new();
    let mut tx = pool.begin().await.expect("a transaction");
    sqlx::query(
        "insert into oms.sales_order (order_id, tenant_id, order_number, source_quote_id, customer_name, status, version,
                                      currency, total_minor, acceptance_key, origin, created_at, updated_at)
         select $1, tenant_id, 'LEG-' || order_number, source_quote_id, customer_name, 'CAPTURED', 1, currency,
                total_minor, acceptance_key, 'LEGACY_IMPORT', created_at + $3, created_at + $3
         from oms.sales_order where order_id = $2",
    )
    .bind(copy)
    .bind(order)
    .bind(offset)
    .execute(&mut *tx)
    .await
    .expect("the legacy copy is inserted");
    sqlx::query(
        "insert into oms.sales_order_line (order_line_id, order_id, tenant_id, line_no, product_sku, quantity,
                                           unit_price_minor, discount_bp, net_minor, created_at, updated_at)
         select gen_random_uuid(), $1, tenant_id, line_no, product_sku, quantity, unit_price_minor, discount_bp, net_minor,
                now(), now()
         from oms.sales_order_line where order_id = $2",
    )
    .bind(copy)
    .bind(order)
    .execute(&mut *tx)
    .await
    .expect("the legacy lines are inserted");
    let at: chrono::DateTime<chrono::Utc> = sqlx::query_scalar("select created_at from oms.sales_order where order_id = $1")
        .bind(copy)
        .fetch_one(&mut *tx)
        .await
        .expect("the copy reads back");
    crate::command::order::append_order_transition(
        &mut tx,
        tenant,
        copy,
        None,
        None,
        "CAPTURED",
        "CAPTURE",
        1,
        &crate::command::CommandContext::new("legacy-import").with_reason("legacy order import"),
        at,
    )
    .await
    .expect("the legacy capture transition is inserted");
    tx.commit().await.expect("the legacy copy commits");
    copy
}
