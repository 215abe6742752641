//! Every reconciliation check against a seeded database (the real schema, the seed generator's injected
//! anomalies in `platform.seed_anomaly`): each finds exactly what was injected for it — no misses, no
//! false alarms — and a clean seed (anomaly rate 0) gives nothing on any check. The order ↔ engine check
//! reads the real Operaton.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::Utc;
use ops::reconcile::checks;
use ops::reconcile::{self as reconcile, CheckName, Examined, RunOrigin, RunRequest, RunStatus, Scope};
use platform::engine::EngineClient;
use platform::machine::Named;
use platform::seed::{self, SeedParams};
use platform::testing::engine_url;
use sqlx::PgPool;
use uuid::Uuid;

fn params(anomaly_rate: f64) -> SeedParams {
    SeedParams { orders: 1_500, extra_tenants: 1, anomaly_rate, rng_seed: 11 }
}

fn engine() -> EngineClient {
    EngineClient::with_request_timeout(engine_url(), Duration::from_secs(10))
}

async fn examine(pool: &PgPool, check: CheckName) -> Examined {
    let mut db = pool.acquire().await.unwrap();
    let scope = Scope { as_of: Utc::now(), ..Scope::default() };
    checks::examine(check, &mut db, Some(&engine()), &scope).await.unwrap_or_else(|e| panic!("{check}: {e}"))
}

/// The entities the seed recorded for these anomaly types.
async fn injected(pool: &PgPool, types: &[&str]) -> BTreeSet<Uuid> {
    let types: Vec<String> = types.iter().map(|t| t.to_string()).collect();
    sqlx::query_scalar("select entity_id from platform.seed_anomaly where anomaly_type = any($1)")
        .bind(&types)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

/// The injected entities a check must find: all of the anomaly type's, except for order ↔ engine, which
/// sees (at once) only the stuck orders still CAPTURED — the seed gave up their orchestration start —, and
/// for the outbox backlog, which judges stale claims per relay and tenant: the seed's stale events name
/// the (tenant, relay) entities it must find.
async fn injected_for(pool: &PgPool, check: CheckName, anomaly: &str) -> BTreeSet<Uuid> {
    let all = injected(pool, &[anomaly]).await;
    if check == CheckName::OutboxBacklog {
        let events: Vec<Uuid> = all.into_iter().collect();
        return sqlx::query_scalar(
            "select distinct md5('claims/' || tenant_id::text || '/' || claimed_by)::uuid from messaging.outbox_event
             where outbox_event_id = any($1)",
        )
        .bind(&events)
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    }
    if check != CheckName::OrderEngine {
        return all;
    }
    let captured: BTreeSet<Uuid> = sqlx::query_scalar(
        "select o.order_id from oms.sales_order o join oms.orchestration_start s on s.order_id = o.order_id
         where o.status = 'CAPTURED' and s.status = 'GAVE_UP'",
    )
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    all.intersection(&captured).copied().collect()
}

/// What each check must find on the seed: (its kind, the seed's anomaly type).
fn expected(check: CheckName) -> &'static [(&'static str, &'static str)] {
    match check {
        CheckName::QuoteOrder => &[
            ("ACCEPTED_QUOTE_WITHOUT_ORDER", "ACCEPTED_QUOTE_WITHOUT_ORDER"),
            ("DUPLICATE_ORDER", "DUPLICATE_ORDER"),
        ],
        CheckName::DuplicateOrder => &[("DUPLICATE_ORDER", "DUPLICATE_ORDER")],
        CheckName::StuckOrder => &[("STUCK_ORDER", "STUCK_ORDER")],
        CheckName::KafkaProjection => &[("STALE_PROJECTION", "STALE_PROJECTION")],
        CheckName::StuckApproval => &[("OVERDUE_APPROVAL", "OVERDUE_APPROVAL")],
        CheckName::OutboxBacklog => &[("STALE_OUTBOX_CLAIMS", "STALE_OUTBOX_CLAIM")],
        CheckName::PriceSnapshot => &[("PRICE_SNAPSHOT_MISMATCH", "PRICE_SNAPSHOT_MISMATCH")],
        // The seed injects nothing these checks look for: any finding is a false alarm.
        // The stuck CAPTURED orders are those whose start the starter gave up (see `injected_for`).
        CheckName::OrderEngine => &[("ORCHESTRATION_START_GAVE_UP", "STUCK_ORDER")],
        CheckName::QuoteApproval
        | CheckName::OrderOutbox
        | CheckName::OrderFulfillment
        | CheckName::AuditTransition => &[],
    }
}

async fn assert_exactly_the_injected(pool: &PgPool, check: CheckName) {
    let examined = examine(pool, check).await;
    assert!(examined.checked > 0, "{check} examined nothing");
    let mut all_expected = BTreeSet::new();
    for (kind, anomaly) in expected(check) {
        let found: BTreeSet<Uuid> = examined.findings.iter().filter(|f| f.kind == *kind).map(|f| f.entity_id).collect();
        let recorded = injected_for(pool, check, anomaly).await;
        assert!(!recorded.is_empty(), "{check}: the seed injected no {anomaly}");
        let missed: Vec<_> = recorded.difference(&found).collect();
        let extra: Vec<_> = found.difference(&recorded).collect();
        assert!(missed.is_empty() && extra.is_empty(), "{check} {kind}: missed {missed:?}, not injected {extra:?}");
        all_expected.insert(*kind);
    }
    let other: Vec<_> = examined.findings.iter().filter(|f| !all_expected.contains(f.kind.as_str())).collect();
    assert!(other.is_empty(), "{check}: false alarms {other:#?}");
    // One finding per entity: a mismatch is one (check, entity).
    let entities: BTreeSet<Uuid> = examined.findings.iter().map(|f| f.entity_id).collect();
    assert_eq!(entities.len(), examined.findings.len(), "{check}: an entity reported twice");

    // A whole run (for an SQL check, examined and recorded in one statement) records exactly these, as
    // open mismatches of the check with their kinds.
    let oscar = ops::testing::demo_user("oscar.operator");
    let run = reconcile::run(pool, Some(&engine()), &oscar, &RunRequest::one(check, RunOrigin::Console)).await.unwrap().remove(0);
    assert_eq!(run.status, RunStatus::Completed, "{check}: {run:?}");
    assert_eq!((run.checked, run.mismatches, run.opened), (examined.checked, entities.len() as i64, entities.len() as i64), "{check}");
    let open: BTreeSet<(Uuid, String)> = sqlx::query_as(
        "select entity_id, mismatch_type from ops.reconciliation_mismatch where check_name = $1 and status = 'OPEN'",
    )
    .bind(check.name())
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let found: BTreeSet<(Uuid, String)> = examined.findings.iter().map(|f| (f.entity_id, f.kind.clone())).collect();
    assert_eq!(open, found, "{check}: the run recorded what the check found");
}

macro_rules! finds_exactly_the_injected {
    ($($test:ident => $check:expr;)*) => {$(
        #[sqlx::test(migrator = "platform::db::MIGRATOR")]
        async fn $test(pool: PgPool) {
            seed::run(&pool, &params(0.05)).await.expect("the seed runs");
            assert_exactly_the_injected(&pool, $check).await;
        }
    )*};
}

finds_exactly_the_injected! {
    quote_approval_finds_nothing_on_the_seed_since_every_pending_quote_has_its_request => CheckName::QuoteApproval;
    quote_order_finds_exactly_the_accepted_quotes_without_order_and_the_duplicated_ones => CheckName::QuoteOrder;
    order_engine_finds_exactly_the_orders_whose_start_was_given_up => CheckName::OrderEngine;
    order_outbox_finds_nothing_on_the_seed_since_every_transition_has_its_event => CheckName::OrderOutbox;
    kafka_projection_finds_exactly_the_injected_stale_projections => CheckName::KafkaProjection;
    order_fulfillment_finds_nothing_on_the_seed => CheckName::OrderFulfillment;
    price_snapshot_finds_exactly_the_injected_mismatched_totals => CheckName::PriceSnapshot;
    audit_transition_finds_nothing_on_the_seed_since_every_state_has_its_transition => CheckName::AuditTransition;
    duplicate_order_finds_exactly_the_injected_legacy_duplicates => CheckName::DuplicateOrder;
    stuck_order_finds_exactly_the_injected_stuck_orders => CheckName::StuckOrder;
    stuck_approval_finds_exactly_the_injected_overdue_approvals => CheckName::StuckApproval;
    outbox_backlog_finds_exactly_the_injected_stale_claims_and_not_the_fresh_backlog => CheckName::OutboxBacklog;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_clean_seed_gives_no_mismatch_on_any_check(pool: PgPool) {
    seed::run(&pool, &params(0.0)).await.expect("the seed runs");
    for &check in CheckName::ALL.iter() {
        let examined = examine(&pool, check).await;
        assert!(examined.findings.is_empty(), "{}: {:#?}", check.name(), examined.findings);
    }
}

/// A fingerprinted check's fourth column (`CheckInfo::fingerprint`) stands for its finding: present
/// exactly where there is one, and a finding's content (beyond the entity's id) and its fingerprint go
/// one-to-one on the seed.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_fingerprinted_check_gives_a_fingerprint_exactly_with_each_finding(pool: PgPool) {
    seed::run(&pool, &params(0.05)).await.expect("the seed runs");
    let fingerprinted: Vec<CheckName> = CheckName::ALL.iter().copied().filter(|&c| checks::info(c).fingerprint).collect();
    assert!(fingerprinted.contains(&CheckName::StuckApproval), "{fingerprinted:?}");
    for check in fingerprinted {
        let statement = checks::sql(check).expect("a fingerprinted check is an SQL check");
        let sql = format!(
            "select count(*) filter (where (finding is null) <> (fingerprint is null)), count(finding),
                    count(distinct finding::jsonb - 'entity_id'), count(distinct fingerprint),
                    count(distinct (finding::jsonb - 'entity_id', fingerprint)) filter (where finding is not null)
             from ({statement}) as x(examined, entity_id, finding, fingerprint)"
        );
        let (unpaired, findings, contents, prints, pairs): (i64, i64, i64, i64, i64) = sqlx::query_as(&sql)
            .bind(None::<Uuid>)
            .bind(None::<Vec<Uuid>>)
            .bind(None::<chrono::DateTime<Utc>>)
            .bind(Utc::now())
            .bind(checks::info(check).grace_secs as f64)
            .fetch_one(&pool)
            .await
            .unwrap_or_else(|e| panic!("{check}: {e}"));
        assert_eq!(unpaired, 0, "{check}: a fingerprint without a finding, or a finding without one");
        assert!(findings > 0, "{check}: the seed gave it something to find");
        assert_eq!((contents, pairs), (prints, prints), "{check}: findings and fingerprints go one-to-one");
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_check_scoped_to_entities_judges_only_those(pool: PgPool) {
    seed::run(&pool, &params(0.05)).await.expect("the seed runs");
    let stuck: Vec<Uuid> = injected(&pool, &["STUCK_ORDER"]).await.into_iter().take(2).collect();
    let mut db = pool.acquire().await.unwrap();
    let scope = Scope { as_of: Utc::now(), entities: Some(stuck.clone()), ..Scope::default() };
    let examined = checks::examine(CheckName::StuckOrder, &mut db, None, &scope).await.unwrap();
    assert_eq!(examined.checked, 2);
    let found: Vec<Uuid> = examined.findings.iter().map(|f| f.entity_id).collect();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|f| stuck.contains(f)));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn traffic_from_the_simulator_while_the_checks_run_raises_no_false_alarm(pool: PgPool) {
    use platform::simulator::{run_traffic, SimConfig};
    use platform::tenants::{ACME, GLOBEX};
    seed::run(&pool, &params(0.05)).await.expect("the seed runs");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let sim = SimConfig {
        tenants: vec![ACME, GLOBEX],
        rate_per_sec: 200.0,
        approval_share: 0.4,
        stop,
        seed: 3,
        max_quotes: Some(400),
        prices: platform::pricing::PriceBook::new(pool.clone(), None),
    };
    let traffic = tokio::spawn({
        let pool = pool.clone();
        async move { run_traffic(&pool, sim).await }
    });
    // Passes of every check while quotes are priced, approved, accepted and orders captured: at least two,
    // and on until the simulator has made all its quotes (however fast the checks are), within a bound.
    let deadline = std::time::Instant::now() + Duration::from_secs(180);
    let mut passes = 0;
    while passes < 2 || (!traffic.is_finished() && std::time::Instant::now() < deadline) {
        passes += 1;
        for &check in CheckName::ALL.iter() {
            let examined = examine(&pool, check).await;
            let kinds: Vec<&str> = expected(check).iter().map(|(kind, _)| *kind).collect();
            let anomalies: Vec<&str> = expected(check).iter().map(|(_, anomaly)| *anomaly).collect();
            let mut injected = BTreeSet::new();
            for anomaly in &anomalies {
                injected.extend(injected_for(&pool, check, anomaly).await);
            }
            let alarms: Vec<_> =
                examined.findings.iter().filter(|f| !kinds.contains(&f.kind.as_str()) || !injected.contains(&f.entity_id)).collect();
            assert!(alarms.is_empty(), "{}: false alarms under traffic {alarms:#?}", check.name());
        }
    }
    let _ = stop_tx.send(true);
    let counts = traffic.await.unwrap().unwrap();
    assert!(counts.quotes_created > 50 && counts.orders_captured > 0, "the simulator ran: {counts:?} ({passes} passes)");
}

/// The order ↔ engine check spares an order changed within its grace (its start may be in flight), but
/// not one whose start was given up: that is settled, and a person should hear of it at once.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_start_given_up_is_flagged_at_once_and_an_order_in_flight_is_not(pool: PgPool) {
    let in_flight = platform::testing::captured_order(&pool, platform::tenants::ACME, "Q-GR-1").await.order_id;
    let gave_up = platform::faults::order_without_process(&pool, platform::tenants::ACME, "test").await.unwrap();
    let found = examine(&pool, CheckName::OrderEngine).await.findings;
    let kind_of = |id: Uuid| found.iter().find(|f| f.entity_id == id).map(|f| f.kind.clone());
    assert_eq!(kind_of(gave_up.entity_id.unwrap()).as_deref(), Some("ORCHESTRATION_START_GAVE_UP"), "{found:?}");
    assert_eq!(kind_of(in_flight.as_uuid()), None, "captured a moment ago: its start may be in flight");
}

/// Past its snapshot size the check reads the engine in pages and confirms each missing instance by its
/// key: that path finds the same as the one-request snapshot (here forced with a first request of 0).
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn order_engine_finds_the_same_in_pages_as_in_one_snapshot(pool: PgPool) {
    platform::testing::captured_order(&pool, platform::tenants::ACME, "Q-PG-1").await;
    let gave_up = platform::faults::order_without_process(&pool, platform::tenants::ACME, "test").await.unwrap();
    let scope = Scope { as_of: Utc::now(), ..Scope::default() };
    let mut db = pool.acquire().await.unwrap();
    let engine = engine();
    let grace = checks::info(CheckName::OrderEngine).grace_secs;
    let snapshot = checks::order_engine::examine(&mut db, Some(&engine), &scope, grace).await.unwrap();
    let paged = checks::order_engine::examine_with_snapshot(&mut db, Some(&engine), &scope, grace, 0).await.unwrap();
    assert_eq!(paged, snapshot);
    assert!(snapshot.findings.iter().any(|f| Some(f.entity_id) == gave_up.entity_id && f.kind == "ORCHESTRATION_START_GAVE_UP"), "{snapshot:?}");
}

/// The checks whose anomalies the seed never injects — they are what SQL surgery outside the command path
/// leaves behind — each find exactly the surgery done here (in a test, on purpose), and nothing else.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn surgery_outside_the_command_path_is_found_by_the_checks_that_look_for_it(pool: PgPool) {
    seed::run(&pool, &params(0.0)).await.expect("the seed runs");
    let one = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_as::<_, (Uuid,)>(sql).fetch_one(&pool).await.unwrap().0 }
    };
    let exec = |sql: String| {
        let pool = pool.clone();
        async move { sqlx::query(&sql).execute(&pool).await.unwrap() }
    };
    let old = "now() - interval '10 minutes'";

    // An order moved by hand: a new status and version, no transition and no outbox event.
    let moved = one("select order_id from oms.sales_order where status = 'FULFILLED' order by order_id limit 1").await;
    exec(format!("update oms.sales_order set status = 'CANCELLED', version = version + 1, updated_at = {old} where order_id = '{moved}'")).await;
    // A transition written by hand (its version's event never written): the order's last transition now
    // names a version the order does not have either.
    let forged = one("select order_id from oms.sales_order where status = 'FULFILLED' order by order_id desc limit 1").await;
    exec(format!(
        "insert into oms.order_transition (transition_id, order_id, tenant_id, from_status, to_status, command, order_version, actor, occurred_at)
         select gen_random_uuid(), order_id, tenant_id, status, status, 'HAND_EDIT', version + 1, 'psql', {old}
         from oms.sales_order where order_id = '{forged}'"
    ))
    .await;
    // A pending quote whose request was cancelled by hand; a decided quote whose request stayed open.
    let unasked = one("select quote_id from cpq.quote where status = 'PENDING_APPROVAL' order by quote_id limit 1").await;
    exec(format!("update cpq.approval_request set status = 'CANCELLED' where quote_id = '{unasked}' and status in ('PENDING', 'ESCALATED')")).await;
    exec(format!("update cpq.quote set updated_at = {old} where quote_id = '{unasked}'")).await;
    let decided = one("select quote_id from cpq.quote where status = 'PENDING_APPROVAL' order by quote_id desc limit 1").await;
    exec(format!("update cpq.quote set status = 'APPROVED', updated_at = {old} where quote_id = '{decided}'")).await;

    let kinds = |examined: &Examined| -> BTreeSet<(Uuid, String)> {
        examined.findings.iter().map(|f| (f.entity_id, f.kind.clone())).collect()
    };
    let outbox = examine(&pool, CheckName::OrderOutbox).await;
    assert!(outbox.checked > 0);
    assert_eq!(kinds(&outbox), BTreeSet::from([(forged, "TRANSITION_WITHOUT_OUTBOX_EVENT".to_string())]));
    assert_eq!(outbox.findings[0].observed["transitions_without_event"][0]["command"], "HAND_EDIT");

    let audit = examine(&pool, CheckName::AuditTransition).await;
    assert_eq!(
        kinds(&audit),
        // The quote approved by hand has no transition to APPROVED either.
        BTreeSet::from([
            (moved, "STATE_WITHOUT_TRANSITION".to_string()),
            (forged, "STATE_WITHOUT_TRANSITION".to_string()),
            (decided, "STATE_WITHOUT_TRANSITION".to_string()),
        ])
    );
    let moved_finding = audit.findings.iter().find(|f| f.entity_id == moved).unwrap();
    assert_eq!(moved_finding.observed["status"], "CANCELLED");
    assert_eq!(moved_finding.expected["status"], "FULFILLED");

    let approval = examine(&pool, CheckName::QuoteApproval).await;
    assert_eq!(
        kinds(&approval),
        BTreeSet::from([
            (unasked, "QUOTE_PENDING_WITHOUT_APPROVAL".to_string()),
            (decided, "OPEN_APPROVAL_ON_DECIDED_QUOTE".to_string()),
        ])
    );
}

/// Every kind order ↔ engine reports from the engine's instances, in the real Operaton: an active order
/// whose instance was deleted, one with two instances, a cancelled one still driven. A whole run (the
/// instances bound into the comparison's statement) records exactly what the check finds, and the paged
/// path finds the same.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn order_engine_reports_a_missing_a_duplicate_and_a_lingering_process_in_a_whole_run(pool: PgPool) {
    use platform::engine::{BusinessKey, ORDER_ORCHESTRATION_KEY};
    use platform::orchestration::{ensure_deployed, Starter, StarterConfig};
    let engine = engine();
    ensure_deployed(&engine).await.unwrap();
    let tenant = platform::tenants::ACME;
    let mut orders = Vec::new();
    for n in 1..=3 {
        orders.push(platform::testing::captured_order(&pool, tenant, &format!("Q-OE-{n}-{}", Uuid::now_v7().simple())).await.order_id);
    }
    let starter = Starter::new(pool.clone(), engine.clone(), StarterConfig::new(StarterConfig::generate_instance_id())).unwrap();
    starter.start_due().await.unwrap();
    let key = |i: usize| BusinessKey::for_order(tenant, orders[i]);
    let live = async |i: usize| engine.instances_by_business_key(&key(i)).await.unwrap();
    for i in 0..3 {
        assert_eq!(live(i).await.len(), 1, "order {i} started once");
    }
    // 0: its instance deleted behind the order's back; 1: a second instance started by hand; 2: cancelled
    // (its instance left running). Their changes are older than the check's grace.
    engine.delete_instance(&live(0).await[0].id, "test: an instance lost").await.unwrap();
    engine.start(ORDER_ORCHESTRATION_KEY, &key(1), &[("tenantId", tenant.to_string()), ("orderId", orders[1].to_string())]).await.unwrap();
    platform::testing::advance_order(&pool, tenant, orders[2], &[platform::order::OrderCommand::Cancel]).await;
    let ids: Vec<Uuid> = orders.iter().map(|o| o.as_uuid()).collect();
    sqlx::query("update oms.sales_order set updated_at = now() - interval '1 hour' where order_id = any($1)")
        .bind(&ids)
        .execute(&pool)
        .await
        .unwrap();

    let expected = BTreeSet::from([
        (ids[0], "ORDER_WITHOUT_PROCESS".to_string()),
        (ids[1], "DUPLICATE_PROCESS".to_string()),
        (ids[2], "PROCESS_FOR_TERMINAL_ORDER".to_string()),
    ]);
    let examined = examine(&pool, CheckName::OrderEngine).await;
    let found: BTreeSet<(Uuid, String)> = examined.findings.iter().map(|f| (f.entity_id, f.kind.clone())).collect();
    assert_eq!(found, expected);
    let duplicate = examined.findings.iter().find(|f| f.entity_id == ids[1]).unwrap();
    assert_eq!(duplicate.observed["instance_ids"].as_array().map(Vec::len), Some(2), "{duplicate:?}");

    let oscar = ops::testing::demo_user("oscar.operator");
    let run = reconcile::run(&pool, Some(&engine), &oscar, &RunRequest::one(CheckName::OrderEngine, RunOrigin::Console)).await.unwrap().remove(0);
    let open: BTreeSet<(Uuid, String)> = sqlx::query_as(
        "select entity_id, mismatch_type from ops.reconciliation_mismatch where check_name = 'ORDER_ENGINE' and status = 'OPEN'",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .collect();
    let observed: serde_json::Value = sqlx::query_scalar("select observed_state from ops.reconciliation_mismatch where entity_id = $1")
        .bind(ids[1])
        .fetch_one(&pool)
        .await
        .unwrap();
    let mut db = pool.acquire().await.unwrap();
    let grace = checks::info(CheckName::OrderEngine).grace_secs;
    let scope = Scope { as_of: Utc::now(), ..Scope::default() };
    let paged = checks::order_engine::examine_with_snapshot(&mut db, Some(&engine), &scope, grace, 0).await;
    drop(db);
    for i in 0..3 {
        for instance in live(i).await {
            let _ = engine.delete_instance(&instance.id, "test cleanup").await;
        }
    }
    assert_eq!((run.status, run.opened), (RunStatus::Completed, 3), "{run:?}");
    assert_eq!(open, expected, "the run recorded what the check found");
    assert_eq!(observed, duplicate.observed, "as the check observed it");
    let paged: BTreeSet<(Uuid, String)> = paged.unwrap().findings.iter().map(|f| (f.entity_id, f.kind.clone())).collect();
    assert_eq!(paged, expected, "the paged path finds the same");
}
