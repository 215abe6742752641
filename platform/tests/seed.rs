//! The seed against the runbooks' detectors: each of the lesson's detection queries finds exactly the
//! anomalies the seed recorded, and everything else is coherent with the state machines.
//!
//! Needs PostgreSQL: `DATABASE_URL=postgres://opsdeck:opsdeck@127.0.0.1:55432/opsdeck cargo test -p platform`.

use std::collections::BTreeSet;

use platform::machine::{transition, Named};
use platform::order::{Order, OrderCommand, OrderLine, OrderLineCommand, OrderLineStatus, OrderStatus};
use platform::quote::{Quote, QuoteCommand, QuoteStatus};
use platform::seed::{self, AnomalyType, SeedParams, SeedReport};
use platform::testing::count;
use sqlx::PgPool;
use uuid::Uuid;

fn params() -> SeedParams {
    SeedParams { orders: 2_000, extra_tenants: 2, anomaly_rate: 0.05, rng_seed: 7 }
}

async fn seeded(pool: &PgPool) -> SeedReport {
    seed::run(pool, &params()).await.expect("the seed runs")
}

async fn recorded(pool: &PgPool, kind: AnomalyType) -> BTreeSet<Uuid> {
    sqlx::query_scalar("select entity_id from platform.seed_anomaly where anomaly_type = $1")
        .bind(kind.name())
        .fetch_all(pool)
        .await
        .unwrap()
        .into_iter()
        .collect()
}

async fn ids(pool: &PgPool, sql: &str) -> BTreeSet<Uuid> {
    sqlx::query_scalar(sql).fetch_all(pool).await.unwrap().into_iter().collect()
}

/// Asserts the detector found the recorded set, and that the set is what the rate promises.
fn assert_exactly(found: &BTreeSet<Uuid>, recorded: &BTreeSet<Uuid>, what: &str) {
    let missed: Vec<_> = recorded.difference(found).collect();
    let extra: Vec<_> = found.difference(recorded).collect();
    assert!(missed.is_empty() && extra.is_empty(), "{what}: missed {missed:?}, not injected {extra:?}");
    assert!(!recorded.is_empty(), "{what}: nothing was injected");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn runbook_8_2_finds_exactly_the_injected_stuck_orders_in_every_active_status(pool: PgPool) {
    seeded(&pool).await;
    // Lesson 8.2, without its `limit 100` (the seed injects 100 here).
    let found = ids(
        &pool,
        "select o.order_id
         from oms.sales_order o
         join oms.sales_order_line ol on ol.order_id = o.order_id
         where o.status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED')
           and o.updated_at < now() - interval '30 minutes'
         group by o.order_id",
    )
    .await;
    let stuck = recorded(&pool, AnomalyType::StuckOrder).await;
    assert_exactly(&found, &stuck, "stuck orders");
    assert_eq!(stuck.len(), 100);
    let statuses: Vec<String> = sqlx::query_scalar(
        "select distinct o.status from oms.sales_order o
         join platform.seed_anomaly a on a.entity_id = o.order_id and a.anomaly_type = 'STUCK_ORDER' order by 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(statuses, ["CAPTURED", "IN_PROGRESS", "ORCHESTRATING", "PARTIALLY_FULFILLED"]);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn runbook_9_2_finds_exactly_the_injected_duplicate_orders_from_the_legacy_import(pool: PgPool) {
    seeded(&pool).await;
    // Lesson 9.2.
    let rows: Vec<(Uuid, Uuid, i64, Vec<Uuid>)> = sqlx::query_as(
        "select tenant_id, source_quote_id, count(*) as order_count, array_agg(order_id order by created_at) as order_ids
         from oms.sales_order
         where source_quote_id is not null
         group by tenant_id, source_quote_id
         having count(*) > 1
         order by max(created_at) desc",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let found: BTreeSet<Uuid> = rows.iter().map(|r| r.1).collect();
    assert_exactly(&found, &recorded(&pool, AnomalyType::DuplicateOrder).await, "duplicate orders");
    for (_, quote_id, n, order_ids) in &rows {
        assert_eq!(*n, 2);
        let detail: serde_json::Value = sqlx::query_scalar(
            "select detail from platform.seed_anomaly where anomaly_type = 'DUPLICATE_ORDER' and entity_id = $1",
        )
        .bind(quote_id)
        .fetch_one(&pool)
        .await
        .unwrap();
        let recorded_ids: Vec<Uuid> =
            detail["order_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().parse().unwrap()).collect();
        assert_eq!(&recorded_ids, order_ids);
        let origins: Vec<String> =
            sqlx::query_scalar("select origin from oms.sales_order where source_quote_id = $1 order by created_at")
                .bind(quote_id)
                .fetch_all(&pool)
                .await
                .unwrap();
        assert_eq!(origins, ["PLATFORM", "LEGACY_IMPORT"]);
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn runbook_10_2_finds_exactly_the_injected_overdue_approvals(pool: PgPool) {
    seeded(&pool).await;
    // Lesson 10.2.
    let found = ids(
        &pool,
        "select ar.approval_request_id
         from cpq.quote q
         join cpq.approval_request ar on ar.quote_id = q.quote_id
         where q.status = 'PENDING_APPROVAL'
           and ar.status in ('PENDING', 'ESCALATED')
           and ar.due_at < now()
         order by ar.due_at asc",
    )
    .await;
    assert_exactly(&found, &recorded(&pool, AnomalyType::OverdueApproval).await, "overdue approvals");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_quote_pending_approval_has_exactly_one_open_request_and_no_other_quote_has_one(pool: PgPool) {
    seeded(&pool).await;
    let bad = count(
        &pool,
        "select count(*) from cpq.quote q
         where (q.status = 'PENDING_APPROVAL') <>
               (1 = (select count(*) from cpq.approval_request ar
                     where ar.quote_id = q.quote_id and ar.status in ('PENDING', 'ESCALATED')))",
    )
    .await;
    assert_eq!(bad, 0);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn runbook_12_3_finds_exactly_the_injected_stale_claims_and_12_1_only_the_newest_events(pool: PgPool) {
    seeded(&pool).await;
    // Lesson 12.3's selection (without the release).
    let found = ids(
        &pool,
        "select outbox_event_id from messaging.outbox_event
         where status = 'PROCESSING' and claimed_at < now() - interval '10 minutes'",
    )
    .await;
    let claims = recorded(&pool, AnomalyType::StaleOutboxClaim).await;
    assert_exactly(&found, &claims, "stale outbox claims");
    assert_eq!(
        count(&pool, "select count(*) from messaging.outbox_event where status = 'PROCESSING'").await,
        claims.len() as i64
    );
    let dead_owners = count(
        &pool,
        "select count(*) from messaging.outbox_event e
         where e.status = 'PROCESSING'
           and e.claimed_by like 'relay-crashed-%'
           and exists (select 1 from platform.worker_heartbeat h
                       where h.instance_id = e.claimed_by and h.last_beat_at < now() - interval '10 minutes')",
    )
    .await;
    assert_eq!(dead_owners, claims.len() as i64, "every claim's owner is a dead relay instance");

    // Lesson 12.1: the backlog is only the newest few quote events.
    let backlog: Vec<(String, String, i64, chrono::DateTime<chrono::Utc>)> = sqlx::query_as(
        "select aggregate_type, event_type, count(*) as pending_count, min(created_at) as oldest_pending
         from messaging.outbox_event
         where published_at is null and status in ('PENDING', 'FAILED')
         group by aggregate_type, event_type
         order by oldest_pending",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(backlog.len(), 1, "{backlog:?}");
    let (aggregate, event_type, pending, oldest) = &backlog[0];
    assert_eq!((aggregate.as_str(), event_type.as_str()), ("quote", "QuoteStatusChanged"));
    assert_eq!(*pending, seed::FRESH_PENDING as i64);
    assert!(*oldest > chrono::Utc::now() - chrono::Duration::minutes(5), "oldest pending event is {oldest}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn reconciliation_17_2_finds_the_accepted_quotes_without_an_order_and_the_duplicated_ones(pool: PgPool) {
    seeded(&pool).await;
    // Lesson 17.2.
    let rows: Vec<(Uuid, i64)> = sqlx::query_as(
        "select q.quote_id, count(o.order_id) as order_count
         from cpq.quote q
         left join oms.sales_order o on o.tenant_id = q.tenant_id and o.source_quote_id = q.quote_id
         where q.status = 'ACCEPTED'
           and q.accepted_at < now() - interval '5 minutes'
         group by q.tenant_id, q.quote_id, q.status, q.accepted_at
         having count(o.order_id) <> 1",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let without: BTreeSet<Uuid> = rows.iter().filter(|r| r.1 == 0).map(|r| r.0).collect();
    let duplicated: BTreeSet<Uuid> = rows.iter().filter(|r| r.1 > 1).map(|r| r.0).collect();
    assert_eq!(rows.len(), without.len() + duplicated.len());
    assert_exactly(
        &without,
        &recorded(&pool, AnomalyType::AcceptedQuoteWithoutOrder).await,
        "accepted quotes without order",
    );
    assert_exactly(&duplicated, &recorded(&pool, AnomalyType::DuplicateOrder).await, "duplicated quotes");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn stale_projections_are_exactly_the_injected_ones(pool: PgPool) {
    seeded(&pool).await;
    let found = ids(
        &pool,
        "select o.order_id from oms.sales_order o
         join oms.order_projection p on p.order_id = o.order_id
         where p.aggregate_version < o.version",
    )
    .await;
    assert_exactly(&found, &recorded(&pool, AnomalyType::StaleProjection).await, "stale projections");
    let missing = count(
        &pool,
        "select count(*) from oms.sales_order o where not exists (select 1 from oms.order_projection p where p.order_id = o.order_id)",
    )
    .await;
    assert_eq!(missing, 0, "every order has a projection");
    let ahead = count(
        &pool,
        "select count(*) from oms.sales_order o join oms.order_projection p using (order_id) where p.aggregate_version > o.version",
    )
    .await;
    assert_eq!(ahead, 0);
    // A projection shows the status its version had, and names the event of that version.
    let inconsistent = count(
        &pool,
        "select count(*) from oms.order_projection p
         join messaging.outbox_event e on e.outbox_event_id = p.last_event_id
         where e.aggregate_id <> p.order_id or e.aggregate_version <> p.aggregate_version or e.status <> 'PUBLISHED'",
    )
    .await;
    assert_eq!(inconsistent, 0);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn price_snapshot_mismatches_are_exactly_the_injected_ones(pool: PgPool) {
    seeded(&pool).await;
    let found = ids(
        &pool,
        "select q.quote_id from cpq.quote q
         join cpq.quote_line l on l.quote_id = q.quote_id
         group by q.quote_id
         having q.total_minor <> sum(l.net_minor)",
    )
    .await;
    assert_exactly(&found, &recorded(&pool, AnomalyType::PriceSnapshotMismatch).await, "price snapshot mismatches");
    let lineless = count(
        &pool,
        "select count(*) from cpq.quote q where not exists (select 1 from cpq.quote_line l where l.quote_id = q.quote_id)",
    )
    .await;
    assert_eq!(lineless, 0);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn quotes_exist_in_every_quote_status_and_orders_in_every_order_status(pool: PgPool) {
    seeded(&pool).await;
    let quote_statuses: BTreeSet<String> = sqlx::query_scalar("select distinct status from cpq.quote")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    for status in QuoteStatus::ALL {
        assert!(quote_statuses.contains(status.name()), "no quote is {status}");
    }
    let order_statuses: BTreeSet<String> = sqlx::query_scalar("select distinct status from oms.sales_order")
        .fetch_all(&pool)
        .await
        .unwrap()
        .into_iter()
        .collect();
    for status in OrderStatus::ALL {
        assert!(order_statuses.contains(status.name()), "no order is {status}");
    }
    // Only the recent tail is active apart from the injected stuck orders.
    let settled_or_recent = count(
        &pool,
        "select count(*) from oms.sales_order o
         where o.status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED')
           and o.updated_at >= now() - interval '30 minutes'",
    )
    .await;
    assert!(settled_or_recent >= 4, "the recent tail holds active orders");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn captured_orders_carry_their_start_given_up_when_stuck_and_pending_when_young(pool: PgPool) {
    let report = seeded(&pool).await;
    let stuck_captured = ids(
        &pool,
        "select a.entity_id from platform.seed_anomaly a join oms.sales_order o on o.order_id = a.entity_id
         where a.anomaly_type = 'STUCK_ORDER' and o.status = 'CAPTURED'",
    )
    .await;
    let given_up = ids(&pool, "select order_id from oms.orchestration_start where status = 'GAVE_UP'").await;
    assert_exactly(&given_up, &stuck_captured, "given-up starts");
    let young_captured = ids(
        &pool,
        "select order_id from oms.sales_order where status = 'CAPTURED' and updated_at >= now() - interval '30 minutes'",
    )
    .await;
    let pending = ids(&pool, "select order_id from oms.orchestration_start where status = 'PENDING'").await;
    assert_exactly(&pending, &young_captured, "pending starts");
    assert_eq!(report.rows_in("oms.orchestration_start"), (given_up.len() + pending.len()) as u64);
    let reasons = count(&pool, "select count(*) from oms.orchestration_start where status = 'GAVE_UP' and reason like 'gave up after 20 attempts%unreachable%'").await;
    assert_eq!(reasons, given_up.len() as i64, "each says why");
    assert_eq!(count(&pool, "select count(*) from oms.orchestration_start s join oms.sales_order o using (order_id) where o.status <> 'CAPTURED'").await, 0);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_order_has_transitions_and_every_transition_is_allowed_by_the_order_machines(pool: PgPool) {
    seeded(&pool).await;
    let without = count(
        &pool,
        "select count(*) from oms.sales_order o where not exists (select 1 from oms.order_transition t where t.order_id = o.order_id)",
    )
    .await;
    assert_eq!(without, 0);

    // Each order begins with exactly one capture at version 1.
    let bad_captures = count(
        &pool,
        "select count(*) from oms.sales_order o
         where 1 <> (select count(*) from oms.order_transition t
                     where t.order_id = o.order_id and t.from_status is null and t.to_status = 'CAPTURED'
                       and t.command = 'CAPTURE' and t.order_version = 1 and t.order_line_id is null)",
    )
    .await;
    assert_eq!(bad_captures, 0);

    let order_steps: Vec<(String, String, String)> = sqlx::query_as(
        "select distinct from_status, command, to_status from oms.order_transition
         where order_line_id is null and from_status is not null",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(order_steps.len() > 5);
    for (from, command, to) in &order_steps {
        let from: OrderStatus = from.parse().unwrap();
        let command: OrderCommand = command.parse().unwrap();
        assert_eq!(transition::<Order>(from, command).map(|s| s.name()), Ok(to.as_str()), "{from} --{command}-> {to}");
    }
    let line_steps: Vec<(String, String, String)> = sqlx::query_as(
        "select distinct from_status, command, to_status from oms.order_transition where order_line_id is not null",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(line_steps.len() > 5);
    for (from, command, to) in &line_steps {
        let from: OrderLineStatus = from.parse().unwrap();
        let command: OrderLineCommand = command.parse().unwrap();
        assert_eq!(
            transition::<OrderLine>(from, command).map(|s| s.name()),
            Ok(to.as_str()),
            "line {from} --{command}-> {to}"
        );
    }

    // Histories chain: each step starts where the previous one of the same order (or line) ended, and the
    // last one is the stored status.
    let broken_chains = count(
        &pool,
        "select count(*) from (
           select from_status, lag(to_status) over (partition by order_id order by order_version) as previous
           from oms.order_transition where order_line_id is null) x
         where x.from_status is distinct from x.previous",
    )
    .await;
    assert_eq!(broken_chains, 0);
    let broken_line_chains = count(
        &pool,
        "select count(*) from (
           select from_status, lag(to_status, 1, 'PENDING') over (partition by order_line_id order by order_version) as previous
           from oms.order_transition where order_line_id is not null) x
         where x.from_status <> x.previous",
    )
    .await;
    assert_eq!(broken_line_chains, 0);
    let wrong_final = count(
        &pool,
        "select count(*) from oms.sales_order o
         where o.status <> (select t.to_status from oms.order_transition t
                            where t.order_id = o.order_id and t.order_line_id is null
                            order by t.order_version desc limit 1)
            or o.version <> (select max(t.order_version) from oms.order_transition t where t.order_id = o.order_id)
            or o.version <> (select count(*) from oms.order_transition t where t.order_id = o.order_id)
            or o.updated_at <> (select max(t.occurred_at) from oms.order_transition t where t.order_id = o.order_id)",
    )
    .await;
    assert_eq!(wrong_final, 0);
    let wrong_line_final = count(
        &pool,
        "select count(*) from oms.sales_order_line l
         where l.status <> coalesce((select t.to_status from oms.order_transition t
                                     where t.order_line_id = l.order_line_id order by t.order_version desc limit 1), 'PENDING')",
    )
    .await;
    assert_eq!(wrong_line_final, 0);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_quote_transition_is_allowed_by_the_quote_machine_and_chains_to_the_stored_status(pool: PgPool) {
    seeded(&pool).await;
    let steps: Vec<(Option<String>, String, String)> =
        sqlx::query_as("select distinct from_status, command, to_status from cpq.quote_transition")
            .fetch_all(&pool)
            .await
            .unwrap();
    for (from, command, to) in &steps {
        // The creating PRICE is recorded without a from status, as create_quote records it.
        let from: QuoteStatus = from.as_deref().map_or(QuoteStatus::Draft, |s| s.parse().unwrap());
        let command: QuoteCommand = command.parse().unwrap();
        assert_eq!(transition::<Quote>(from, command).map(|s| s.name()), Ok(to.as_str()), "{from} --{command}-> {to}");
    }
    let broken = count(
        &pool,
        "select count(*) from (
           select from_status, lag(to_status) over (partition by quote_id order by row_version) as previous
           from cpq.quote_transition) x
         where x.from_status is distinct from x.previous",
    )
    .await;
    assert_eq!(broken, 0);
    let wrong_final = count(
        &pool,
        "select count(*) from cpq.quote q
         where q.status <> (select t.to_status from cpq.quote_transition t where t.quote_id = q.quote_id
                            order by t.row_version desc limit 1)
            or q.version <> (select count(*) from cpq.quote_transition t where t.quote_id = q.quote_id)",
    )
    .await;
    assert_eq!(wrong_final, 0);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_transition_has_its_outbox_event_and_orders_carry_their_quotes_lines(pool: PgPool) {
    seeded(&pool).await;
    let orphans = count(
        &pool,
        "select count(*) from oms.order_transition t
         where not exists (select 1 from messaging.outbox_event e
                           where e.aggregate_id = t.order_id and e.aggregate_version = t.order_version)",
    )
    .await;
    assert_eq!(orphans, 0, "order vs outbox");
    let quote_orphans = count(
        &pool,
        "select count(*) from cpq.quote_transition t
         where not exists (select 1 from messaging.outbox_event e
                           where e.aggregate_id = t.quote_id and e.aggregate_version = t.row_version)",
    )
    .await;
    assert_eq!(quote_orphans, 0, "quote vs outbox");
    let unpublished_without_topic = count(
        &pool,
        "select count(*) from messaging.outbox_event
         where (status = 'PUBLISHED') <> (kafka_topic is not null and kafka_offset is not null)",
    )
    .await;
    assert_eq!(unpublished_without_topic, 0);
    let off_total = count(
        &pool,
        "select count(*) from oms.sales_order o join cpq.quote q on q.quote_id = o.source_quote_id
         where o.total_minor <> q.total_minor
            or o.total_minor <> (select sum(l.net_minor) from oms.sales_order_line l where l.order_id = o.order_id)
            or (select count(*) from oms.sales_order_line l where l.order_id = o.order_id)
               <> (select count(*) from cpq.quote_line ql where ql.quote_id = q.quote_id)
            or o.origin = 'PLATFORM' and o.acceptance_key is distinct from q.acceptance_ref",
    )
    .await;
    assert_eq!(off_total, 0);
    let requested_without_evidence = count(
        &pool,
        "select count(*) from oms.sales_order_line l
         where l.status in ('FULFILLMENT_REQUESTED', 'FULFILLED')
           and not exists (select 1 from oms.fulfillment_request f where f.order_line_id = l.order_line_id)",
    )
    .await;
    assert_eq!(requested_without_evidence, 0, "order vs fulfillment");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_second_platform_order_for_a_quote_is_refused_by_uq_order_source_quote(pool: PgPool) {
    seeded(&pool).await;
    let (tenant_id, quote_id): (Uuid, Uuid) = sqlx::query_as(
        "select tenant_id, source_quote_id from oms.sales_order where origin = 'PLATFORM' and source_quote_id is not null limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let err = sqlx::query(
        "insert into oms.sales_order (order_id, tenant_id, order_number, source_quote_id, customer_name, status, origin)
         values ($1, $2, 'SO-SECOND', $3, 'Someone', 'CAPTURED', 'PLATFORM')",
    )
    .bind(Uuid::now_v7())
    .bind(tenant_id)
    .bind(quote_id)
    .execute(&pool)
    .await
    .unwrap_err();
    let db = err.as_database_error().expect("a database error");
    assert!(db.is_unique_violation());
    assert_eq!(db.constraint(), Some("uq_order_source_quote"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_report_counts_what_the_tables_hold(pool: PgPool) {
    let report = seeded(&pool).await;
    assert_eq!(report.run_no, 1);
    assert_eq!(report.tenants, 6);
    for table in [
        "cpq.quote",
        "cpq.quote_line",
        "cpq.quote_transition",
        "cpq.approval_request",
        "cpq.approval_transition",
        "oms.sales_order",
        "oms.sales_order_line",
        "oms.order_transition",
        "oms.fulfillment_request",
        "oms.order_projection",
        "messaging.outbox_event",
        "platform.seed_anomaly",
        "oms.orchestration_start",
    ] {
        let n = count(&pool, &format!("select count(*) from {table}")).await;
        assert_eq!(report.rows_in(table) as i64, n, "{table}");
    }
    let platform_orders = count(&pool, "select count(*) from oms.sales_order where origin = 'PLATFORM'").await;
    assert_eq!(platform_orders, 2_000);
    for kind in AnomalyType::ALL {
        assert_eq!(report.anomalies_of(*kind), 100, "{kind}");
        assert_eq!(recorded(&pool, *kind).await.len(), 100, "{kind}");
    }
    let (finished, counts): (Option<chrono::DateTime<chrono::Utc>>, serde_json::Value) =
        sqlx::query_as("select finished_at, counts from platform.seed_run where seed_run_id = $1")
            .bind(report.seed_run_id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert!(finished.is_some());
    assert_eq!(counts["rows"]["oms.sales_order"], report.rows_in("oms.sales_order"));
    let policies = count(&pool, "select count(distinct tenant_id) from cpq.approval_policy").await;
    assert_eq!(policies, 6);
    let versioned = count(
        &pool,
        "select count(*) from (select policy_id from cpq.approval_policy group by policy_id having count(*) = 2) x",
    )
    .await;
    assert!(versioned >= 1, "some tenant has two policy versions");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn seeding_twice_adds_a_second_run_with_the_same_business_and_detectors_still_match(pool: PgPool) {
    let small = SeedParams { orders: 400, extra_tenants: 1, anomaly_rate: 0.02, rng_seed: 11 };
    let first = seed::run(&pool, &small).await.unwrap();
    let policies = count(&pool, "select count(*) from cpq.approval_policy").await;
    let second = seed::run(&pool, &small).await.unwrap();
    assert_eq!(count(&pool, "select count(*) from cpq.approval_policy").await, policies, "policies are reused");
    assert_eq!(count(&pool, "select count(*) from platform.tenant").await, 5, "tenants are reused");
    assert_eq!((first.run_no, second.run_no), (1, 2));
    assert_eq!(first.rows, second.rows, "the same rng seed generates the same business");
    assert_eq!(first.anomalies, second.anomalies);

    let histogram = |prefix: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (String, i64, i64)>(
                "select status, count(*), sum(total_minor)::bigint from cpq.quote where quote_number like $1 group by status order by status",
            )
            .bind(prefix)
            .fetch_all(&pool)
            .await
            .unwrap()
        }
    };
    assert_eq!(histogram("Q-1-%").await, histogram("Q-2-%").await);

    let duplicate_offsets = count(
        &pool,
        "select count(*) from (select 1 from messaging.outbox_event where kafka_offset is not null
                               group by kafka_topic, kafka_partition, kafka_offset having count(*) > 1) x",
    )
    .await;
    assert_eq!(duplicate_offsets, 0, "the second run continues the Kafka offsets");

    let found = ids(
        &pool,
        "select o.order_id from oms.sales_order o
         where o.status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED')
           and o.updated_at < now() - interval '30 minutes'",
    )
    .await;
    assert_exactly(&found, &recorded(&pool, AnomalyType::StuckOrder).await, "stuck orders of both runs");
}
