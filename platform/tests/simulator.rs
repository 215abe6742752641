//! The traffic simulator against a real PostgreSQL: a bounded run creates quotes and orders through the
//! platform's commands only — every row it leaves has its transition history and outbox event, and
//! nothing is left half-way (no draft quotes, no order without an accepted quote).

use platform::simulator::{run_traffic, SimConfig};
use platform::tenants::{self, ACME, GLOBEX};
use platform::testing::{approval_policy, count};
use sqlx::PgPool;
use tokio::sync::watch;

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_bounded_run_creates_quotes_and_orders_through_commands_only(pool: PgPool) {
    tenants::ensure_well_known(&pool).await.unwrap();
    // ACME has a policy (some quotes need review); GLOBEX has none (everything approved without review).
    approval_policy(&pool, ACME, 10_000_000).await;
    let (_stop_tx, stop) = watch::channel(false);
    let counts = run_traffic(
        &pool,
        SimConfig { tenants: vec![ACME, GLOBEX], rate_per_sec: 500.0, approval_share: 0.5, stop, seed: 7, max_quotes: Some(30), prices: platform::pricing::PriceBook::new(pool.clone(), None) },
    )
    .await
    .unwrap();

    assert_eq!(counts.quotes_created, 30);
    assert_eq!(counts.errors, 0, "{counts:?}");
    assert_eq!(counts.refused, 0, "{counts:?}");
    assert!(counts.approvals_requested > 0, "{counts:?}");
    assert!(counts.approvals_approved > 0, "{counts:?}");
    assert!(counts.orders_captured > 0, "{counts:?}");
    assert_eq!(counts.approved_without_review + counts.approvals_requested, 30);

    assert_eq!(count(&pool, "select count(*) from cpq.quote").await, 30);
    assert_eq!(count(&pool, "select count(*) from oms.sales_order").await, counts.orders_captured as i64);
    assert_eq!(count(&pool, "select count(*) from cpq.approval_request").await, counts.approvals_requested as i64);
    assert_eq!(count(&pool, "select count(*) from cpq.quote where status = 'DRAFT'").await, 0);
    // Every quote, order and approval has history and events.
    assert_eq!(count(&pool, "select count(*) from cpq.quote q where not exists (select 1 from cpq.quote_transition t where t.quote_id = q.quote_id)").await, 0);
    assert_eq!(count(&pool, "select count(*) from oms.sales_order o where not exists (select 1 from oms.order_transition t where t.order_id = o.order_id)").await, 0);
    assert_eq!(count(&pool, "select count(*) from cpq.approval_request r where not exists (select 1 from cpq.approval_transition t where t.approval_request_id = r.approval_request_id)").await, 0);
    assert_eq!(count(&pool, "select count(*) from oms.sales_order o where not exists (select 1 from messaging.outbox_event e where e.aggregate_id = o.order_id and e.event_type = 'OrderCaptured')").await, 0);
    // Every captured order carries its intent to orchestrate, pending until a starter carries it out.
    assert_eq!(count(&pool, "select count(*) from oms.sales_order o where not exists (select 1 from oms.orchestration_start s where s.order_id = o.order_id and s.status = 'PENDING')").await, 0);
    // No orphan state: an order only from an accepted quote; an accepted quote always has its order; the
    // quote's status matches its last transition.
    assert_eq!(count(&pool, "select count(*) from oms.sales_order o join cpq.quote q on q.quote_id = o.source_quote_id where q.status <> 'ACCEPTED'").await, 0);
    assert_eq!(count(&pool, "select count(*) from cpq.quote q where q.status = 'ACCEPTED' and not exists (select 1 from oms.sales_order o where o.source_quote_id = q.quote_id)").await, 0);
    assert_eq!(
        count(&pool, "select count(*) from cpq.quote q where q.status <> (select t.to_status from cpq.quote_transition t where t.quote_id = q.quote_id order by t.row_version desc limit 1)").await,
        0
    );
    assert_eq!(count(&pool, "select count(*) from cpq.quote where status = 'PENDING_APPROVAL'").await,
               count(&pool, "select count(*) from cpq.approval_request where status in ('PENDING', 'ESCALATED')").await);
}

#[tokio::test]
async fn a_run_without_tenants_is_refused() {
    let pool = sqlx::postgres::PgPoolOptions::new().connect_lazy("postgres://unused@127.0.0.1:1/none").unwrap();
    let (_tx, stop) = watch::channel(false);
    let err = run_traffic(&pool, SimConfig { tenants: vec![], rate_per_sec: 1.0, approval_share: 0.0, stop, seed: 1, max_quotes: None, prices: platform::pricing::PriceBook::new(pool.clone(), None) })
        .await
        .unwrap_err();
    assert!(err.to_string().contains("tenants"));
}
