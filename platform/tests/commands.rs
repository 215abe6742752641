//! Platform commands against a real PostgreSQL (a fresh database per test): each change lands with its
//! transition history and outbox event in one transaction, optimistic locking refuses stale writes, and a
//! refused command writes nothing.

use platform::command::{
    accept_quote, apply_order_command, apply_order_line_command, apply_quote_command, create_quote, replay_order_state,
    QuoteForCreate, QuoteLineInput,
};
use platform::ids::{OrderId, OrderLineId};
use platform::order::{OrderCommand, OrderLineCommand, OrderLineStatus, OrderStatus};
use platform::outbox::{self, aggregate, NewEvent};
use platform::quote::{QuoteCommand, QuoteStatus};
use platform::tenants::{self, ACME, GLOBEX};
use platform::testing::{approved_quote, count_of, ctx, QUOTE_TOTAL_MINOR};
use platform::Error;
use sqlx::PgPool;

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn accepting_a_quote_captures_one_order_with_lines_history_and_events(pool: PgPool) {
    let quote = approved_quote(&pool, ACME, "Q-1001").await;
    let mut tx = pool.begin().await.unwrap();
    let accepted = accept_quote(&mut tx, ACME, quote, "accept-Q-1001", &ctx()).await.unwrap();
    tx.commit().await.unwrap();

    assert_eq!(accepted.quote.to, QuoteStatus::Accepted);
    assert_eq!(accepted.order_number, "SO-1001");
    let order = accepted.order_id.as_uuid();
    let (status, version, total): (String, i64, i64) =
        sqlx::query_as("select status, version, total_minor from oms.sales_order where order_id = $1")
            .bind(order)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), version), ("CAPTURED", 1));
    assert_eq!(total, QUOTE_TOTAL_MINOR);
    assert_eq!(count_of(&pool, "select count(*) from oms.sales_order_line where order_id = $1", order).await, 2);
    assert_eq!(count_of(&pool, "select count(*) from oms.order_transition where order_id = $1", order).await, 1);
    assert_eq!(
        count_of(&pool, "select count(*) from messaging.outbox_event where aggregate_id = $1 and event_type = 'OrderCaptured' and status = 'PENDING'", order).await,
        1
    );
    // The quote's own history: priced, approved without review, accepted.
    assert_eq!(count_of(&pool, "select count(*) from cpq.quote_transition where quote_id = $1", quote.as_uuid()).await, 3);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_quote_cannot_be_accepted_twice(pool: PgPool) {
    let quote = approved_quote(&pool, ACME, "Q-1002").await;
    let mut tx = pool.begin().await.unwrap();
    accept_quote(&mut tx, ACME, quote, "k1", &ctx()).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    let err = accept_quote(&mut tx, ACME, quote, "k2", &ctx()).await.unwrap_err();
    assert!(matches!(&err, Error::Refused { reason } if reason == "quote in ACCEPTED cannot ACCEPT (it is terminal)"), "{err}");
    drop(tx);
    assert_eq!(count_of(&pool, "select count(*) from oms.sales_order where source_quote_id = $1", quote.as_uuid()).await, 1);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_order_moves_through_its_lifecycle_and_every_step_is_recorded(pool: PgPool) {
    let quote = approved_quote(&pool, ACME, "Q-1003").await;
    let mut tx = pool.begin().await.unwrap();
    let order = accept_quote(&mut tx, ACME, quote, "k", &ctx()).await.unwrap().order_id;
    let mut version = 1;
    for (command, expected) in [
        (OrderCommand::StartOrchestration, OrderStatus::Orchestrating),
        (OrderCommand::BeginFulfillment, OrderStatus::InProgress),
        (OrderCommand::RecordPartialFulfillment, OrderStatus::PartiallyFulfilled),
        (OrderCommand::CompleteFulfillment, OrderStatus::Fulfilled),
    ] {
        let change = apply_order_command(&mut tx, ACME, order, Some(version), command, &ctx()).await.unwrap();
        assert_eq!(change.to, expected);
        assert_eq!(change.version, version + 1);
        version = change.version;
    }
    tx.commit().await.unwrap();
    let history: Vec<(Option<String>, String, i64)> = sqlx::query_as(
        "select from_status, to_status, order_version from oms.order_transition where order_id = $1 order by order_version",
    )
    .bind(order)
    .fetch_all(&pool)
    .await
    .unwrap();
    let to: Vec<&str> = history.iter().map(|h| h.1.as_str()).collect();
    assert_eq!(to, ["CAPTURED", "ORCHESTRATING", "IN_PROGRESS", "PARTIALLY_FULFILLED", "FULFILLED"]);
    assert_eq!(history.last().unwrap().2, 5);
    let events = count_of(&pool, "select count(*) from messaging.outbox_event where aggregate_id = $1", order.as_uuid()).await;
    assert_eq!(events, 5, "one event per change");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_stale_version_is_a_conflict_and_writes_nothing(pool: PgPool) {
    let quote = approved_quote(&pool, ACME, "Q-1004").await;
    let mut tx = pool.begin().await.unwrap();
    let order = accept_quote(&mut tx, ACME, quote, "k", &ctx()).await.unwrap().order_id;
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    let err = apply_order_command(&mut tx, ACME, order, Some(7), OrderCommand::StartOrchestration, &ctx()).await.unwrap_err();
    assert!(matches!(err, Error::Conflict { expected: 7, found: 1, .. }), "{err}");
    tx.commit().await.unwrap();
    let (status, version): (String, i64) =
        sqlx::query_as("select status, version from oms.sales_order where order_id = $1").bind(order).fetch_one(&pool).await.unwrap();
    assert_eq!((status.as_str(), version), ("CAPTURED", 1));
    assert_eq!(count_of(&pool, "select count(*) from oms.order_transition where order_id = $1", order.as_uuid()).await, 1);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_refused_transition_writes_nothing(pool: PgPool) {
    let quote = approved_quote(&pool, ACME, "Q-1005").await;
    let mut tx = pool.begin().await.unwrap();
    let order = accept_quote(&mut tx, ACME, quote, "k", &ctx()).await.unwrap().order_id;
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    let err = apply_order_command(&mut tx, ACME, order, None, OrderCommand::CompleteFulfillment, &ctx()).await.unwrap_err();
    assert_eq!(err.to_string(), "refused: order in CAPTURED cannot COMPLETE_FULFILLMENT");
    tx.commit().await.unwrap();
    assert_eq!(count_of(&pool, "select count(*) from messaging.outbox_event where aggregate_id = $1", order.as_uuid()).await, 1);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn another_tenant_cannot_touch_the_order(pool: PgPool) {
    let quote = approved_quote(&pool, ACME, "Q-1006").await;
    let mut tx = pool.begin().await.unwrap();
    let order = accept_quote(&mut tx, ACME, quote, "k", &ctx()).await.unwrap().order_id;
    let err = apply_order_command(&mut tx, GLOBEX, order, None, OrderCommand::Cancel, &ctx()).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_unknown_order_is_not_found(pool: PgPool) {
    let mut tx = pool.begin().await.unwrap();
    let err = apply_order_command(&mut tx, ACME, OrderId::new(), None, OrderCommand::Cancel, &ctx()).await.unwrap_err();
    assert!(err.to_string().starts_with("order ") && err.to_string().ends_with(" not found"), "{err}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_line_change_moves_the_order_version(pool: PgPool) {
    let quote = approved_quote(&pool, ACME, "Q-1007").await;
    let mut tx = pool.begin().await.unwrap();
    let order = accept_quote(&mut tx, ACME, quote, "k", &ctx()).await.unwrap().order_id;
    let line: uuid::Uuid = sqlx::query_scalar("select order_line_id from oms.sales_order_line where order_id = $1 and line_no = 1")
        .bind(order)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    let change = apply_order_line_command(&mut tx, ACME, order, OrderLineId::from_uuid(line), OrderLineCommand::Reserve, &ctx())
        .await
        .unwrap();
    assert_eq!((change.from, change.to, change.order_version), (OrderLineStatus::Pending, OrderLineStatus::Reserved, 2));
    let refused = apply_order_line_command(&mut tx, ACME, order, OrderLineId::from_uuid(line), OrderLineCommand::ConfirmFulfillment, &ctx())
        .await
        .unwrap_err();
    assert_eq!(refused.to_string(), "refused: order line in RESERVED cannot CONFIRM_FULFILLMENT");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn bad_quote_input_is_refused_before_anything_is_written(pool: PgPool) {
    tenants::ensure_well_known(&pool).await.unwrap();
    let mut tx = pool.begin().await.unwrap();
    let err = create_quote(
        &mut tx,
        &QuoteForCreate { tenant_id: ACME, quote_number: "Q-9".into(), customer_name: "C".into(), currency: "EUR".into(), lines: vec![] },
        &ctx(),
    )
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "invalid lines: a quote needs at least one line");
    tx.commit().await.unwrap();
    let quotes: i64 = sqlx::query_scalar("select count(*) from cpq.quote").fetch_one(&pool).await.unwrap();
    assert_eq!(quotes, 0);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_second_event_at_an_announced_version_is_refused_and_its_command_writes_nothing(pool: PgPool) {
    let order = platform::testing::captured_order(&pool, ACME, "Q-1008").await.order_id;
    // Version 2 of the order is announced by someone else first (a second writer, a bug).
    let stray = NewEvent {
        tenant_id: ACME,
        aggregate_type: aggregate::ORDER,
        aggregate_id: order.as_uuid(),
        aggregate_version: 2,
        event_type: "OrderStatusChanged",
        payload: &serde_json::json!({}),
        correlation_id: None,
    };
    let mut tx = pool.begin().await.unwrap();
    outbox::enqueue(&mut tx, stray.clone()).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = pool.begin().await.unwrap();
    let err = outbox::enqueue(&mut tx, stray).await.unwrap_err();
    assert!(matches!(&err, Error::AlreadyExists { constraint } if constraint == "ux_outbox_aggregate_version"), "{err}");
    drop(tx);

    // The command whose change would be version 2 fails whole: even a commit after the error keeps nothing.
    let mut tx = pool.begin().await.unwrap();
    let err = apply_order_command(&mut tx, ACME, order, Some(1), OrderCommand::StartOrchestration, &ctx()).await.unwrap_err();
    assert!(matches!(&err, Error::AlreadyExists { constraint } if constraint == "ux_outbox_aggregate_version"), "{err}");
    let _ = tx.commit().await; // PostgreSQL answers COMMIT of an aborted transaction with ROLLBACK
    let (status, version): (String, i64) =
        sqlx::query_as("select status, version from oms.sales_order where order_id = $1").bind(order).fetch_one(&pool).await.unwrap();
    assert_eq!((status.as_str(), version), ("CAPTURED", 1));
    assert_eq!(count_of(&pool, "select count(*) from oms.order_transition where order_id = $1", order.as_uuid()).await, 1);
    assert_eq!(count_of(&pool, "select count(*) from messaging.outbox_event where aggregate_id = $1", order.as_uuid()).await, 2);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_replay_may_announce_the_current_version_again(pool: PgPool) {
    let order = platform::testing::captured_order(&pool, ACME, "Q-1009").await.order_id;
    let mut tx = pool.begin().await.unwrap();
    for _ in 0..2 {
        assert_eq!(replay_order_state(&mut tx, ACME, order, Some(1), &ctx()).await.unwrap().version, 1);
    }
    tx.commit().await.unwrap();
    let at_version_1 = "select count(*) from messaging.outbox_event where aggregate_id = $1 and aggregate_version = 1";
    assert_eq!(count_of(&pool, at_version_1, order.as_uuid()).await, 3, "the capture and two replays");
}

/// An order captured from a quote with `lines`, through the commands; returns its id.
async fn order_from(pool: &PgPool, number: &str, lines: Vec<QuoteLineInput>) -> OrderId {
    tenants::ensure_well_known(pool).await.unwrap();
    let input = QuoteForCreate { tenant_id: ACME, quote_number: number.into(), customer_name: "C".into(), currency: "EUR".into(), lines };
    let mut tx = pool.begin().await.unwrap();
    let quote = create_quote(&mut tx, &input, &ctx()).await.unwrap().quote_id;
    apply_quote_command(&mut tx, ACME, quote, Some(1), QuoteCommand::ApproveWithoutReview, &ctx()).await.unwrap();
    let order = accept_quote(&mut tx, ACME, quote, &format!("accept-{number}"), &ctx()).await.unwrap().order_id;
    tx.commit().await.unwrap();
    order
}

fn line(sku: &str, quantity: i32, unit_list_minor: i64, discount_bp: i32) -> QuoteLineInput {
    QuoteLineInput { product_sku: sku.into(), description: sku.into(), quantity, unit_list_minor, discount_bp }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn order_lines_keep_their_quoted_pricing_and_add_up_to_the_order_total_to_the_cent(pool: PgPool) {
    // Nets that no quantity divides: 3 × 10.00 less 33.33 % = 20.00; 6 × 12.50 less 12.5 % = 65.63 (half up).
    let quoted = vec![line("GADGET-3", 3, 1_000, 3_333), line("WIDGET-6", 6, 1_250, 1_250), line("ANVIL-1", 1, 4_999, 0)];
    let order = order_from(&pool, "Q-2001", quoted.clone()).await;

    let lines: Vec<(i32, i64, Option<i32>, i64)> = sqlx::query_as(
        "select quantity, unit_price_minor, discount_bp, net_minor from oms.sales_order_line where order_id = $1 order by line_no",
    )
    .bind(order)
    .fetch_all(&pool)
    .await
    .unwrap();
    for (quote_line, (quantity, unit_price, discount_bp, net)) in quoted.iter().zip(&lines) {
        assert_eq!((*quantity, *unit_price, *discount_bp, *net),
                   (quote_line.quantity, quote_line.unit_list_minor, Some(quote_line.discount_bp), quote_line.net_minor()));
        // The line's own columns give back its net exactly: nothing was lost to a division.
        let repriced = line("x", *quantity, *unit_price, discount_bp.unwrap()).net_minor();
        assert_eq!(repriced, *net, "line {quote_line:?}");
    }
    assert_eq!(lines.iter().map(|l| l.3).collect::<Vec<_>>(), [2_000, 6_563, 4_999]);
    let (total, lines_sum): (i64, i64) = sqlx::query_as(
        "select o.total_minor, (select sum(net_minor)::bigint from oms.sales_order_line where order_id = o.order_id)
         from oms.sales_order o where o.order_id = $1",
    )
    .bind(order)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((total, lines_sum), (13_562, 13_562));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn order_line_ids_are_time_ordered_v7_in_line_order(pool: PgPool) {
    let before = uuid::Uuid::now_v7();
    let lines = (1..=5).map(|n| line(&format!("SKU-{n}"), n, 100, 0)).collect();
    let order = order_from(&pool, "Q-2002", lines).await;
    let after = uuid::Uuid::now_v7();

    let ids: Vec<uuid::Uuid> = sqlx::query_scalar("select order_line_id from oms.sales_order_line where order_id = $1 order by line_no")
        .bind(order)
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(ids.len(), 5);
    assert!(ids.iter().all(|id| id.get_version_num() == 7), "{ids:?}");
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids rise with the line number: {ids:?}");
    assert!(before < ids[0] && ids[4] < after, "made during the capture: {before} < {ids:?} < {after}");
}
