//! The reconciliation benchmark (issue 10 "Scale" — a benchmark, not a timed test; ignored by default):
//! seeds `RECONCILE_BENCH_ORDERS` orders (default 100 000) into a fresh database, then for every check
//! times a whole run (examine + record the mismatches) beside the lesson's bare SQL (or its equivalent)
//! on the same data, and prints the ratio; then the simulator makes `RECONCILE_BENCH_CHANGES` quotes
//! (default 10 000, with their approvals, acceptances and orders) and every incremental check re-runs.
//!
//!     RECONCILE_BENCH_ORDERS=1000000 cargo test -p ops --release --test reconcile_bench -- --ignored --nocapture
//!
//! Targets: each check within 1.5× its bare SQL; an incremental re-run under 1 s. The order ↔ engine
//! check's bare SQL leaves out the engine's paging (its time is the REST reads).

use std::time::{Duration, Instant};

use ops::reconcile::{self, checks, CheckName, RunOrigin, RunRequest};
use ops::testing::demo_user;
use platform::engine::EngineClient;
use platform::machine::Named;
use platform::seed::{self, SeedParams};
use platform::simulator::{run_traffic, SimConfig};
use platform::testing::engine_url;
use sqlx::PgPool;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The lesson's query (§8.2, §9.2, §10.2, §12.1/12.3, §17.2) or the plain equivalent, as a person would
/// run it with psql.
fn bare(check: CheckName) -> &'static str {
    match check {
        CheckName::QuoteApproval => "select q.quote_id from cpq.quote q where q.status = 'PENDING_APPROVAL' and not exists (
              select 1 from cpq.approval_request ar where ar.quote_id = q.quote_id and ar.status in ('PENDING', 'ESCALATED'))",
        CheckName::QuoteOrder => "select q.tenant_id, q.quote_id, q.status, q.accepted_at, count(o.order_id) as order_count
              from cpq.quote q left join oms.sales_order o on o.tenant_id = q.tenant_id and o.source_quote_id = q.quote_id
              where q.status = 'ACCEPTED' and q.accepted_at < now() - interval '5 minutes'
              group by q.tenant_id, q.quote_id, q.status, q.accepted_at having count(o.order_id) <> 1",
        CheckName::OrderEngine => "select o.order_id from oms.sales_order o join oms.orchestration_start s on s.order_id = o.order_id
              where o.status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED') and s.status = 'STARTED'",
        CheckName::OrderOutbox => "select t.order_id from oms.order_transition t where not exists (
              select 1 from messaging.outbox_event e where e.aggregate_id = t.order_id and e.aggregate_version = t.order_version)",
        CheckName::KafkaProjection => "select o.order_id from oms.sales_order o left join oms.order_projection p on p.order_id = o.order_id
              where p.order_id is null or p.aggregate_version <> o.version or p.status <> o.status",
        CheckName::OrderFulfillment => "select ol.order_line_id from oms.sales_order_line ol
              left join oms.fulfillment_request fr on fr.order_line_id = ol.order_line_id
              group by ol.order_line_id, ol.status
              having count(fr.fulfillment_request_id) filter (where fr.status in ('SENT', 'ACKNOWLEDGED', 'COMPLETED')) > 1
                  or (ol.status = 'FULFILLMENT_REQUESTED' and count(fr.fulfillment_request_id) = 0)
                  or (ol.status = 'FULFILLED') <> coalesce(bool_or(fr.status = 'COMPLETED'), false)",
        CheckName::PriceSnapshot => "select q.quote_id from cpq.quote q join cpq.quote_line l on l.quote_id = q.quote_id
              group by q.quote_id having q.total_minor <> sum(l.net_minor)",
        CheckName::AuditTransition => "select o.order_id from oms.sales_order o
              where o.version is distinct from (select max(t.order_version) from oms.order_transition t where t.order_id = o.order_id)
              union all
              select q.quote_id from cpq.quote q
              where q.version is distinct from (select max(t.row_version) from cpq.quote_transition t where t.quote_id = q.quote_id)",
        CheckName::DuplicateOrder => "select tenant_id, source_quote_id, count(*) as order_count, array_agg(order_id order by created_at) as order_ids,
              min(created_at) as first_created_at, max(created_at) as last_created_at
              from oms.sales_order where source_quote_id is not null
              group by tenant_id, source_quote_id having count(*) > 1 order by last_created_at desc",
        CheckName::StuckOrder => "select o.order_id, o.tenant_id, o.order_number, o.status, o.version, o.created_at, o.updated_at,
              now() - o.updated_at as age_since_update, count(ol.order_line_id) as line_count
              from oms.sales_order o join oms.sales_order_line ol on ol.order_id = o.order_id
              where o.status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED')
                and o.updated_at < now() - interval '30 minutes'
              group by o.order_id order by age_since_update desc",
        CheckName::StuckApproval => "select q.quote_id, q.tenant_id, q.status, q.current_version, q.updated_at, ar.approval_request_id,
              ar.status as approval_status, ar.policy_version, ar.created_at as approval_created_at, ar.due_at, now() - ar.due_at as overdue_by
              from cpq.quote q join cpq.approval_request ar on ar.quote_id = q.quote_id
              where q.status = 'PENDING_APPROVAL' and ar.status in ('PENDING', 'ESCALATED') and ar.due_at < now() order by ar.due_at asc",
        CheckName::OutboxBacklog => "select aggregate_type, event_type, count(*) as pending_count, min(created_at) as oldest_pending,
              max(created_at) as newest_pending from messaging.outbox_event
              where published_at is null and status in ('PENDING', 'FAILED') group by aggregate_type, event_type
              union all
              select aggregate_type, event_type, count(*), min(claimed_at), max(claimed_at) from messaging.outbox_event
              where status = 'PROCESSING' and claimed_at < now() - interval '10 minutes' group by aggregate_type, event_type",
    }
}

async fn timed_bare(pool: &PgPool, check: CheckName) -> Duration {
    let started = Instant::now();
    sqlx::query(bare(check)).fetch_all(pool).await.unwrap_or_else(|e| panic!("{check}: {e}"));
    started.elapsed()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
#[ignore = "a benchmark: run it with --ignored --nocapture (see the module doc)"]
async fn reconciliation_benchmark(pool: PgPool) {
    let orders = env_or("RECONCILE_BENCH_ORDERS", 100_000);
    let changes = env_or("RECONCILE_BENCH_CHANGES", 10_000);
    let started = Instant::now();
    seed::run(&pool, &SeedParams { orders, extra_tenants: 4, anomaly_rate: 0.01, rng_seed: 42 }).await.unwrap();
    println!("seeded {orders} orders in {:.1} s", started.elapsed().as_secs_f64());
    let engine = EngineClient::with_request_timeout(engine_url(), Duration::from_secs(30));
    let actor = demo_user("oscar.operator");

    println!("\n{:<20} {:>10} {:>10} {:>7} {:>10} {:>10}", "check", "run s", "bare s", "ratio", "checked", "mismatches");
    for &check in CheckName::ALL {
        // Warm both the same way: the bare query first (it also warms the cache for the run).
        let bare_time = timed_bare(&pool, check).await.min(timed_bare(&pool, check).await);
        let started = Instant::now();
        let run = reconcile::run(&pool, Some(&engine), &actor, &RunRequest::one(check, RunOrigin::Cli)).await.unwrap().remove(0);
        let run_time = started.elapsed();
        println!(
            "{:<20} {:>10.3} {:>10.3} {:>7.2} {:>10} {:>10}",
            check.slug(),
            run_time.as_secs_f64(),
            bare_time.as_secs_f64(),
            run_time.as_secs_f64() / bare_time.as_secs_f64().max(1e-3),
            run.checked,
            run.mismatches
        );
    }

    // Changes: the simulator's quotes, approvals, acceptances and orders, in process (no relay, no Kafka).
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let tenants = platform::tenants::WELL_KNOWN.iter().map(|t| t.0).collect();
    let sim = SimConfig {
        tenants,
        rate_per_sec: 5_000.0,
        approval_share: 0.3,
        stop,
        seed: 9,
        max_quotes: Some(changes),
        prices: platform::pricing::PriceBook::new(pool.clone(), None),
    };
    let counts = run_traffic(&pool, sim).await.unwrap();
    println!("\nchanges: {counts:?}");
    // What changed since the last clean run (minus the check's grace) is looked at; the newest changes are
    // within the grace, in flight, and counted as examined only once they are older.
    let incremental: Vec<CheckName> = CheckName::ALL.iter().copied().filter(|&c| checks::info(c).incremental).collect();
    println!("\n{:<20} {:>10} {:>10} {:>10}", "incremental", "run s", "checked", "mismatches");
    for check in incremental {
        let request = RunRequest { incremental: true, ..RunRequest::one(check, RunOrigin::Cli) };
        let started = Instant::now();
        let run = reconcile::run(&pool, Some(&engine), &actor, &request).await.unwrap().remove(0);
        println!("{:<20} {:>10.3} {:>10} {:>10}", check.slug(), started.elapsed().as_secs_f64(), run.checked, run.mismatches);
        assert!(run.incremental);
    }
}
