//! The event contract against a real PostgreSQL: every outbox event the commands and the seed write
//! parses into the platform event its `event_type` names, says no more and no less than that struct,
//! agrees with its outbox row, and — for order events — is accepted by the projection consumer's parser
//! as the relay would publish it.

use std::collections::BTreeMap;

use chrono::Utc;
use platform::approval_timer::{approve, escalate_overdue, reassign, request_approval};
use platform::command::{accept_quote, apply_order_line_command, replay_order_state};
use platform::events::Event;
use platform::ids::OrderLineId;
use platform::order::OrderLineCommand;
use platform::relay::header;
use platform::seed::{self, SeedParams};
use platform::tenants::ACME;
use platform::testing::{advance_order, approval_policy, ctx, priced_quote, FULFILMENT};
use rdkafka::message::{Header, OwnedHeaders, OwnedMessage, Timestamp};
use sqlx::PgPool;
use uuid::Uuid;

#[derive(Debug, sqlx::FromRow)]
struct OutboxRow {
    outbox_event_id: Uuid,
    tenant_id: Uuid,
    aggregate_type: String,
    aggregate_id: Uuid,
    aggregate_version: i64,
    event_type: String,
    payload: serde_json::Value,
}

async fn outbox(pool: &PgPool) -> Vec<OutboxRow> {
    sqlx::query_as(
        "select outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload
         from messaging.outbox_event order by aggregate_id, aggregate_version",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The record the relay makes of a row: its payload, and the headers the projection reads.
fn as_published(row: &OutboxRow) -> OwnedMessage {
    let (event_id, tenant, version) = (row.outbox_event_id.to_string(), row.tenant_id.to_string(), row.aggregate_version.to_string());
    let headers = OwnedHeaders::new()
        .insert(Header { key: header::EVENT_ID, value: Some(&event_id) })
        .insert(Header { key: header::EVENT_TYPE, value: Some(&row.event_type) })
        .insert(Header { key: header::TENANT_ID, value: Some(&tenant) })
        .insert(Header { key: header::AGGREGATE_TYPE, value: Some(&row.aggregate_type) })
        .insert(Header { key: header::AGGREGATE_VERSION, value: Some(&version) });
    let payload = serde_json::to_vec(&row.payload).unwrap();
    let key = row.aggregate_id.to_string().into_bytes();
    OwnedMessage::new(Some(payload), Some(key), "order".into(), Timestamp::NotAvailable, 0, 0, Some(headers))
}

/// Checks every row against the contract; returns how many events of each type there were.
fn assert_every_event_keeps_the_contract(rows: &[OutboxRow]) -> BTreeMap<String, usize> {
    let mut per_type = BTreeMap::new();
    for row in rows {
        let bytes = serde_json::to_vec(&row.payload).unwrap();
        let event = Event::parse(&row.event_type, &bytes)
            .unwrap_or_else(|e| panic!("outbox event {} does not parse: {e}\n{}", row.outbox_event_id, row.payload));
        assert_eq!(serde_json::to_value(&event).unwrap(), row.payload, "the payload is the struct, field for field");
        assert_eq!(
            (event.aggregate_type(), event.aggregate_id(), event.aggregate_version(), event.tenant_id().as_uuid()),
            (row.aggregate_type.as_str(), row.aggregate_id, row.aggregate_version, row.tenant_id),
            "outbox event {} agrees with its payload",
            row.outbox_event_id
        );
        if row.aggregate_type == "order" {
            let projected = platform::projection::parse(&as_published(row))
                .unwrap_or_else(|poison| panic!("the projection refuses outbox event {}: {poison}", row.outbox_event_id));
            assert_eq!((projected.order_id, projected.version), (row.aggregate_id, row.aggregate_version));
        }
        *per_type.entry(row.event_type.clone()).or_default() += 1;
    }
    per_type
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_event_the_seed_writes_parses_into_the_platform_event_it_names(pool: PgPool) {
    let params = SeedParams { orders: 300, extra_tenants: 1, anomaly_rate: 0.05, rng_seed: 11 };
    let report = seed::run(&pool, &params).await.unwrap();
    let rows = outbox(&pool).await;
    assert_eq!(rows.len() as u64, report.rows_in("messaging.outbox_event"));

    let per_type = assert_every_event_keeps_the_contract(&rows);
    let types: Vec<&str> = per_type.keys().map(String::as_str).collect();
    assert_eq!(types, ["OrderCaptured", "OrderLineStatusChanged", "OrderStatusChanged", "QuoteStatusChanged"]);
    // Legacy duplicates are captured orders too.
    assert!(per_type["OrderCaptured"] as u64 >= params.orders);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_event_the_commands_write_parses_into_the_platform_event_it_names(pool: PgPool) {
    // A quote through review (requested, reassigned, escalated, approved), accepted, and its order
    // moved on by a line and by the order itself, then its state replayed: one event of every type.
    let policy = approval_policy(&pool, ACME, 100_000).await;
    let quote = priced_quote(&pool, ACME, "Q-1").await;
    let mut tx = pool.begin().await.unwrap();
    let request = request_approval(&mut tx, ACME, quote, &policy, &ctx()).await.unwrap().approval_request_id;
    reassign(&mut tx, request, None, Some("ada.approver"), &ctx()).await.unwrap();
    tx.commit().await.unwrap();
    sqlx::query("update cpq.approval_request set due_at = now() - interval '1 minute' where approval_request_id = $1")
        .bind(request)
        .execute(&pool)
        .await
        .unwrap();
    assert_eq!(escalate_overdue(&pool, Utc::now(), "approval-escalation-timer").await.unwrap().len(), 1);
    let mut tx = pool.begin().await.unwrap();
    approve(&mut tx, request, &ctx(), Some("within authority")).await.unwrap();
    let order = accept_quote(&mut tx, ACME, quote, "accept-Q-1", &ctx()).await.unwrap().order_id;
    let line: Uuid = sqlx::query_scalar("select order_line_id from oms.sales_order_line where order_id = $1 and line_no = 1")
        .bind(order)
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    apply_order_line_command(&mut tx, ACME, order, OrderLineId::from_uuid(line), OrderLineCommand::Reserve, &ctx())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    advance_order(&pool, ACME, order, &FULFILMENT[..1]).await;
    let mut tx = pool.begin().await.unwrap();
    replay_order_state(&mut tx, ACME, order, None, &ctx()).await.unwrap();
    tx.commit().await.unwrap();

    let per_type = assert_every_event_keeps_the_contract(&outbox(&pool).await);
    let mut written: Vec<&str> = per_type.keys().map(String::as_str).collect();
    let mut every = Event::TYPES.to_vec();
    written.sort_unstable();
    every.sort_unstable();
    assert_eq!(written, every, "the commands write every event type");
}
