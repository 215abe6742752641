//! Order 360 against the real services: an order stalled by a real vendor outage shows the engine's
//! incident at its activity, and the verdict names it and offers the retry; an engine that cannot be
//! reached leaves the rest of the page and says so; the order is found by its quote and its business key.

mod common;

use std::time::Duration;

use common::*;
use ops::order360::{order_360, EngineView, Stage};
use ops::repair::RepairType;
use platform::engine::{BusinessKey, EngineClient};
use platform::orchestration::{ensure_deployed, Starter, StarterConfig, Worker, WorkerConfig};
use platform::query::OrderLookup;
use platform::tenants::ACME;
use platform::testing::{captured_order, engine_url, spawn_vendor, wait_until};
use platform::vendor::VendorMode;
use sqlx::PgPool;

fn engine() -> EngineClient {
    EngineClient::with_request_timeout(engine_url(), Duration::from_secs(5))
}

async fn delete_instance(id: &str) {
    let url = format!("{}/process-instance/{id}?skipCustomListeners=true", engine_url());
    reqwest::Client::new().delete(url).send().await.expect("the engine answers");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_real_engine_incident_is_the_verdict_and_fits_a_retry(pool: PgPool) {
    let order = captured_order(&pool, ACME, "Q-360-1").await.order_id;
    ensure_deployed(&engine()).await.unwrap();
    let config = StarterConfig { poll_interval: Duration::from_millis(50), ..StarterConfig::new(StarterConfig::generate_instance_id()) };
    let started = Starter::new(pool.clone(), engine(), config).unwrap().start_due().await.unwrap();
    assert_eq!(started.started, 1);

    let (_vendor_state, vendor) = spawn_vendor(Duration::from_millis(500)).await;
    vendor.set_mode(VendorMode::Unavailable).await.unwrap();
    let mut worker_config = WorkerConfig::new(format!("test-360-{}", uuid::Uuid::now_v7()));
    worker_config.retry_timeout = Duration::from_millis(200);
    worker_config.max_retries = 1;
    worker_config.business_keys = vec![BusinessKey::for_order(ACME, order)];
    let worker = Worker::new(pool.clone(), engine(), vendor, worker_config);
    let key = BusinessKey::for_order(ACME, order);
    let instance = engine().instances_by_business_key(&key).await.unwrap().remove(0).id;
    wait_until("an engine incident", Duration::from_secs(45), || {
        let worker = &worker;
        let instance = instance.clone();
        async move {
            worker.poll_once().await.unwrap();
            !engine().incidents(&instance).await.unwrap().is_empty()
        }
    })
    .await;

    let seen = order_360(&pool, &engine(), &operator(), ACME, &OrderLookup::Id(order)).await.unwrap().expect("the order");
    delete_instance(&instance).await;
    let EngineView::Instances(instances) = &seen.engine else { panic!("the engine answered: {:?}", seen.engine) };
    assert_eq!(instances.len(), 1);
    assert_eq!(instances[0].incidents[0].activity_id.as_deref(), Some("request-fulfillment"));
    assert_eq!(seen.verdict.stage, Stage::Engine, "{:?}", seen.verdict);
    assert!(seen.verdict.headline.contains("request-fulfillment"), "{}", seen.verdict.headline);
    assert_eq!(seen.verdict.fits.first(), Some(&RepairType::RetryEngineJob));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_unreachable_engine_leaves_the_rest_and_the_order_is_found_every_way(pool: PgPool) {
    let accepted = captured_order(&pool, ACME, "Q-360-2").await;
    let nowhere = EngineClient::with_request_timeout("http://127.0.0.1:1/engine-rest", Duration::from_secs(1));
    let by_business_key = OrderLookup::parse(&format!("{ACME}:{}", accepted.order_id)).unwrap();
    for lookup in [OrderLookup::Id(platform::ids::OrderId::from_uuid(accepted.quote.quote_id.as_uuid())), OrderLookup::Number("Q-360-2".into()), by_business_key] {
        let seen = order_360(&pool, &nowhere, &operator(), ACME, &lookup).await.unwrap().unwrap_or_else(|| panic!("{lookup}"));
        assert_eq!(seen.detail.order.order_id, accepted.order_id, "{lookup}");
        assert!(matches!(seen.engine, EngineView::Unavailable(_)));
        assert_eq!(seen.quote.as_ref().unwrap().orders.len(), 1);
    }
    // Another tenant's business key finds nothing in this tenant.
    let foreign = OrderLookup::parse(&format!("{}:{}", platform::tenants::GLOBEX, accepted.order_id)).unwrap();
    assert!(order_360(&pool, &nowhere, &operator(), ACME, &foreign).await.unwrap().is_none());
}
