//! Fault injection against a real PostgreSQL (the database-only faults): each fault leaves the state it
//! promises, through the platform's own commands and switches, and is recorded with what it touched.

use std::time::Duration;

use platform::faults::{
    approval_without_assignee, crash_relay_mid_claim, duplicate_acceptance, end_fault, list_faults, order_without_process,
    pause_consumer, pause_relay,
};
use platform::orchestration::start_backlog;
use platform::query::{order_detail, OrderLookup};
use platform::relay::{outbox_backlog, relay_paused};
use platform::tenants::{self, ACME};
use platform::testing::approval_policy;
use sqlx::PgPool;

async fn setup(pool: &PgPool) {
    tenants::ensure_well_known(pool).await.unwrap();
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn pausing_the_relay_is_a_recorded_switch_and_ending_it_switches_it_off(pool: PgPool) {
    setup(&pool).await;
    let fault = pause_relay(&pool, "drill:oscar").await.unwrap();
    assert_eq!(fault.fault_type, "PAUSE_RELAY");
    assert!(relay_paused(&pool).await.unwrap());
    assert_eq!(list_faults(&pool, true).await.unwrap().len(), 1);

    let ended = end_fault(&pool, fault.fault_id, "drill:oscar").await.unwrap();
    assert!(ended.ended_at.is_some());
    assert!(!relay_paused(&pool).await.unwrap());
    assert!(list_faults(&pool, true).await.unwrap().is_empty());
    // Both changes are in the switch's history; ending twice is refused.
    let changes: i64 = sqlx::query_scalar("select count(*) from ops.platform_control_change where control_key = 'PAUSE_RELAY'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(changes, 2);
    assert!(end_fault(&pool, fault.fault_id, "drill:oscar").await.is_err());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn pausing_a_consumer_pauses_only_that_group(pool: PgPool) {
    setup(&pool).await;
    let fault = pause_consumer(&pool, "order-projection", "drill:oscar").await.unwrap();
    assert_eq!(fault.detail["group"], "order-projection");
    assert!(platform::projection::consumer_paused(&pool, "order-projection").await.unwrap());
    assert!(!platform::projection::consumer_paused(&pool, "other").await.unwrap());
    end_fault(&pool, fault.fault_id, "drill:oscar").await.unwrap();
    assert!(!platform::projection::consumer_paused(&pool, "order-projection").await.unwrap());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_crashed_relay_leaves_stale_claims_with_no_heartbeat(pool: PgPool) {
    setup(&pool).await;
    // Two orders → quote and order events to claim.
    order_without_process(&pool, ACME, "drill:oscar").await.unwrap();
    order_without_process(&pool, ACME, "drill:oscar").await.unwrap();
    let fault = crash_relay_mid_claim(&pool, 3, Duration::from_secs(3600), "drill:oscar").await.unwrap();
    assert_eq!(fault.detail["count"], 3);
    let owner = fault.detail["claimed_by"].as_str().unwrap().to_string();
    assert!(owner.starts_with("relay-crashed-"));
    let (processing, old): (i64, i64) = sqlx::query_as(
        "select count(*), count(*) filter (where claimed_at < now() - interval '59 minutes')
         from messaging.outbox_event where status = 'PROCESSING' and claimed_by = $1",
    )
    .bind(&owner)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((processing, old), (3, 3));
    assert_eq!(outbox_backlog(&pool).await.unwrap().stale_claims, 3);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_order_without_a_process_is_one_whose_start_was_given_up_and_stays_captured(pool: PgPool) {
    setup(&pool).await;
    let fault = order_without_process(&pool, ACME, "drill:oscar").await.unwrap();
    assert_eq!(fault.entity_type.as_deref(), Some("order"));
    let order = platform::ids::OrderId::from_uuid(fault.entity_id.unwrap());
    let detail = order_detail(&mut pool.acquire().await.unwrap(), ACME, &OrderLookup::Id(order)).await.unwrap().unwrap();
    assert_eq!(detail.order.status, "CAPTURED");
    let start = detail.orchestration_start.expect("the capture recorded a start");
    assert_eq!((start.status.as_str(), start.attempts, start.settled_by.as_deref()), ("GAVE_UP", 0, Some("drill:oscar")));
    assert!(start.reason.unwrap().contains("ORDER_WITHOUT_PROCESS"));
    // No starter will try it: it is the stuck-order runbook's, as a really given-up start is.
    assert_eq!(start_backlog(&pool).await.unwrap().pending, 0);
    assert_eq!(start_backlog(&pool).await.unwrap().given_up_waiting, 1);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_approval_without_assignee_is_reassigned_to_nobody_through_the_machine(pool: PgPool) {
    setup(&pool).await;
    // No policy: refused.
    assert!(approval_without_assignee(&pool, ACME, "drill:oscar").await.is_err());
    approval_policy(&pool, ACME, 100_000).await;
    let fault = approval_without_assignee(&pool, ACME, "drill:oscar").await.unwrap();
    let request = fault.entity_id.unwrap();
    let (status, assignee): (String, Option<String>) =
        sqlx::query_as("select status, assignee from cpq.approval_request where approval_request_id = $1")
            .bind(request)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((status.as_str(), assignee), ("PENDING", None));
    let commands: Vec<String> = sqlx::query_scalar(
        "select command from cpq.approval_transition where approval_request_id = $1 order by occurred_at, transition_id",
    )
    .bind(request)
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(commands, vec!["REQUEST", "REASSIGN"]);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_duplicate_acceptance_is_refused_and_recorded(pool: PgPool) {
    setup(&pool).await;
    let fault = duplicate_acceptance(&pool, ACME, "drill:oscar").await.unwrap();
    assert_eq!(fault.detail["refused"], true, "{}", fault.detail);
    assert!(fault.detail["refusal"].as_str().unwrap().contains("refused"));
    let orders: i64 = sqlx::query_scalar("select count(*) from oms.sales_order where source_quote_id = $1")
        .bind(fault.entity_id.unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(orders, 1);
}
