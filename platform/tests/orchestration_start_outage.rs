//! The orchestration starter through a real engine outage: Operaton is stopped with `scripts/stack.sh down
//! engine` and brought back with `up engine`.
//!
//! This binary stops the engine every other test binary uses, so it runs alone among them (cargo runs
//! test binaries one after another), its tests take turns ([`OUTAGE`]), and every outage ends with the
//! engine started again and ready — on failure too ([`EngineOutage`]'s drop) — before the next one
//! begins or the binary exits.

mod fixtures;

use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use fixtures::{captured_order, delete_instance, engine, instances, order_status, starter, starter_config, ENGINE_TIMEOUT};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use platform::ids::{OrderId, TenantId};
use platform::orchestration::{ensure_deployed, start_backlog, StarterConfig};
use platform::query::{order_detail, OrderLookup};
use platform::simulator::{run_traffic, SimConfig};
use platform::tenants::{self, ACME, GLOBEX};
use platform::testing::ServiceOutage;
use sqlx::PgPool;
use tokio::sync::{watch, Mutex};
use tokio::time::{sleep, Instant};

/// One outage at a time.
static OUTAGE: Mutex<()> = Mutex::const_new(());

/// The engine, stopped until [`EngineOutage::end`] — or the drop, if the test fails first — starts it
/// again and waits until it is ready.
struct EngineOutage(ServiceOutage);

impl EngineOutage {
    async fn begin() -> Self {
        let outage = EngineOutage(ServiceOutage::begin("engine").await);
        assert!(engine().version().await.is_err(), "the engine still answers");
        outage
    }

    /// Starts the engine and returns when it is ready: the moment of its return.
    async fn end(self) -> DateTime<Utc> {
        self.0.end().await;
        Utc::now()
    }
}

/// This process's metrics, as Prometheus would scrape them.
fn metrics() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().expect("the only recorder of this test binary"))
}

fn counter(name: &str) -> u64 {
    let text = metrics().render();
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0, |value| value.trim().parse().unwrap())
}

async fn orders_captured(pool: &PgPool, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<(OrderId, TenantId)> {
    sqlx::query_as("select order_id, tenant_id from oms.sales_order where created_at between $1 and $2")
        .bind(from)
        .bind(to)
        .fetch_all(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn orders_captured_while_the_engine_is_down_reach_their_process_within_a_minute_of_its_return(pool: PgPool) {
    let _turn = OUTAGE.lock().await;
    metrics();
    tenants::ensure_well_known(&pool).await.unwrap();
    ensure_deployed(&engine()).await.unwrap();
    // The production schedule (backoff up to 30 s, 20 attempts), polled briskly.
    let starter = starter(
        &pool,
        StarterConfig {
            poll_interval: Duration::from_millis(100),
            lease: ENGINE_TIMEOUT * 2,
            ..StarterConfig::new(StarterConfig::generate_instance_id())
        },
    );
    let stats = starter.stats();
    let (stop_starter, starter_stop) = watch::channel(false);
    let starting = tokio::spawn(starter.run(starter_stop));
    let (stop_traffic, traffic_stop) = watch::channel(false);
    let traffic = {
        let pool = pool.clone();
        let sim = SimConfig {
            tenants: vec![ACME, GLOBEX],
            rate_per_sec: 2.0,
            approval_share: 0.0,
            stop: traffic_stop,
            seed: 15,
            max_quotes: None,
            prices: platform::pricing::PriceBook::new(pool.clone(), None),
        };
        tokio::spawn(async move { run_traffic(&pool, sim).await })
    };

    sleep(Duration::from_secs(3)).await;
    let went_down = Utc::now();
    let outage = EngineOutage::begin().await;
    sleep(Duration::from_secs(30)).await;
    let back = outage.end().await;
    sleep(Duration::from_secs(2)).await;
    stop_traffic.send(true).unwrap();
    let counts = traffic.await.unwrap().unwrap();
    assert_eq!(counts.errors, 0, "{counts:?}");

    let deadline = Instant::now() + Duration::from_secs(60);
    while start_backlog(&pool).await.unwrap().pending > 0 {
        assert!(Instant::now() < deadline, "starts still pending a minute after the engine returned: {:?}", stats.snapshot());
        sleep(Duration::from_millis(250)).await;
    }
    let drained_after = Utc::now() - back;
    stop_starter.send(true).unwrap();
    let totals = starting.await.unwrap().totals;

    let window = orders_captured(&pool, went_down, back).await;
    assert!(window.len() >= 20, "only {} orders were captured during the outage", window.len());
    let (retried, late): (i64, i64) = sqlx::query_as(
        "select count(*) filter (where s.attempts > 1),
                count(*) filter (where s.settled_at > $3 + interval '60 seconds')
         from oms.orchestration_start s join oms.sales_order o using (order_id)
         where o.created_at between $1 and $2",
    )
    .bind(went_down)
    .bind(back)
    .bind(back)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(retried as usize * 2 > window.len(), "most window orders needed retries: {retried} of {}", window.len());
    assert_eq!(late, 0, "every window order reached its process within a minute of the engine's return");
    assert!(totals.failed > 0 && totals.gave_up == 0, "{totals:?}");
    eprintln!(
        "outage {:.1} s: {} of {} orders captured in it, {retried} retried; all started {:.1} s after the engine's return",
        (back - went_down).as_seconds_f64(),
        window.len(),
        counts.orders_captured,
        drained_after.as_seconds_f64()
    );

    // Every order — before, during and after the outage — has exactly one instance, the one its start
    // names, and one START_ORCHESTRATION.
    let all: Vec<(OrderId, TenantId, String, Option<String>)> = sqlx::query_as(
        "select s.order_id, s.tenant_id, s.status, s.process_instance_id from oms.orchestration_start s",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(all.len() as u64, counts.orders_captured);
    for (order, tenant, status, instance) in &all {
        assert_eq!(status, "STARTED", "order {order}");
        let running = instances(*tenant, *order).await;
        assert_eq!(running.len(), 1, "order {order} has {} instances", running.len());
        assert_eq!(Some(&running[0].id), instance.as_ref());
        assert_eq!(order_status(&pool, *order).await, "ORCHESTRATING");
    }
    let not_once: i64 = sqlx::query_scalar(
        "select count(*) from oms.sales_order o
         where (select count(*) from oms.order_transition t
                where t.order_id = o.order_id and t.command = 'START_ORCHESTRATION') <> 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(not_once, 0);
    for (_, _, _, instance) in &all {
        delete_instance(instance.as_deref().unwrap()).await;
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_start_is_given_up_visibly_when_the_engine_stays_down_past_the_attempt_limit(pool: PgPool) {
    let _turn = OUTAGE.lock().await;
    let given_up_before = counter("opsdeck_orchestration_start_given_up_total");
    let orders = [captured_order(&pool, "Q-7401").await, captured_order(&pool, "Q-7402").await];
    let outage = EngineOutage::begin().await;
    let starter = starter(&pool, StarterConfig { max_attempts: 3, ..starter_config() });
    let deadline = Instant::now() + Duration::from_secs(30);
    while start_backlog(&pool).await.unwrap().pending > 0 {
        assert!(Instant::now() < deadline, "not given up: {:?}", starter.stats().snapshot());
        starter.start_due().await.unwrap();
        sleep(Duration::from_millis(50)).await;
    }
    let totals = starter.stats().snapshot().totals;
    assert_eq!((totals.failed, totals.gave_up), (6, 2), "{totals:?}");
    assert_eq!(counter("opsdeck_orchestration_start_given_up_total") - given_up_before, 2, "the metric counts them");
    for order in orders {
        let detail = order_detail(&mut pool.acquire().await.unwrap(), ACME, &OrderLookup::Id(order)).await.unwrap().unwrap();
        assert_eq!(detail.order.status, "CAPTURED");
        let start = detail.orchestration_start.unwrap();
        assert!(start.given_up());
        assert_eq!(start.attempts, 3);
        let reason = start.reason.unwrap();
        assert!(reason.starts_with("gave up after 3 attempts") && reason.contains("unreachable"), "{reason}");
    }
    assert_eq!(start_backlog(&pool).await.unwrap().given_up_waiting, 2);
    outage.end().await;

    // The engine is back, and the given-up orders stay for a person: nothing starts them by itself.
    for _ in 0..3 {
        assert_eq!(starter.start_due().await.unwrap().claimed, 0);
    }
    for order in orders {
        assert!(instances(ACME, order).await.is_empty());
        assert_eq!(order_status(&pool, order).await, "CAPTURED");
    }
}
