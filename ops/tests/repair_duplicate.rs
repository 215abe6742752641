//! The resolve-duplicate-order repair against PostgreSQL and Operaton: a quote captured twice (the
//! platform's order and a legacy import's copy). The canonical order is chosen from the evidence or named
//! against it; the other is cancelled through the order machine, its process ended, the resolution kept.
//! Two orders with external effects, or an override that would cancel the one the vendor has, are refused.

mod common;

use std::time::Duration;

use chrono::TimeDelta;
use common::repairs::{answer, incident, refused, request, request_approve_execute, services};
use ops::repair::*;
use ops::testing::demo_user;
use platform::command::apply_order_line_command;
use platform::engine::{BusinessKey, EngineClient};
use platform::ids::{OrderId, OrderLineId};
use platform::order::OrderLineCommand;
use platform::orchestration::{ensure_deployed, Starter, StarterConfig};
use platform::tenants::ACME;
use platform::testing::{captured_order, ctx, engine_url, legacy_duplicate};
use sqlx::PgPool;

async fn status(pool: &PgPool, order: OrderId) -> String {
    sqlx::query_scalar("select status from oms.sales_order where order_id = $1").bind(order).fetch_one(pool).await.unwrap()
}

async fn line_statuses(pool: &PgPool, order: OrderId) -> Vec<String> {
    sqlx::query_scalar("select status from oms.sales_order_line where order_id = $1 order by line_no")
        .bind(order)
        .fetch_all(pool)
        .await
        .unwrap()
}

async fn instances(order: OrderId) -> usize {
    EngineClient::new(engine_url()).instances_by_business_key(&BusinessKey::for_order(ACME, order)).await.unwrap().len()
}

/// Line 1 of `order` handed to the vendor (RESERVE, REQUEST_FULFILLMENT): an external effect.
async fn requested_line(pool: &PgPool, order: OrderId) {
    let line: uuid::Uuid = sqlx::query_scalar("select order_line_id from oms.sales_order_line where order_id = $1 and line_no = 1")
        .bind(order)
        .fetch_one(pool)
        .await
        .unwrap();
    let mut tx = pool.begin().await.unwrap();
    for command in [OrderLineCommand::Reserve, OrderLineCommand::RequestFulfillment] {
        apply_order_line_command(&mut tx, ACME, order, OrderLineId::from_uuid(line), command, &ctx()).await.unwrap();
    }
    tx.commit().await.unwrap();
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_legacy_copy_is_cancelled_in_favour_of_the_platforms_capture_even_when_it_came_first(pool: PgPool) {
    let platform_order = captured_order(&pool, ACME, "Q-D1").await.order_id;
    let copy = legacy_duplicate(&pool, ACME, platform_order, -TimeDelta::minutes(5)).await;
    let incident = incident(&pool).await;

    let done = request_approve_execute(&pool, &services(), &request("resolve-duplicate-order", copy, incident, "dup-Q-D1", &[])).await;
    assert_eq!(done.status, RepairStatus::Executed, "{:?}", done.failure_reason);
    assert_eq!(done.proposed_change["canonical"], platform_order.to_string());
    assert!(answer(&done.safety_checks, "Which order is canonical").detail.contains("captured by the platform's acceptance"));
    assert_eq!(answer(&done.safety_checks, "Were invoices or customer messages").verdict, Verdict::Warn);
    assert!(done.recheck.as_ref().unwrap().coherent, "{:?}", done.recheck);

    assert_eq!(status(&pool, copy).await, "CANCELLED");
    assert_eq!(line_statuses(&pool, copy).await, ["CANCELLED", "CANCELLED"]);
    assert_eq!(status(&pool, platform_order).await, "CAPTURED", "the canonical order is untouched");
    let (reason, repair_id): (String, Option<uuid::Uuid>) = sqlx::query_as(
        "select reason, repair_id from oms.order_transition where order_id = $1 and command = 'CANCEL' and order_line_id is null",
    )
    .bind(copy)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(reason.starts_with(&format!("duplicate of order {platform_order}")), "{reason}");
    assert_eq!(repair_id, Some(done.repair_id.as_uuid()));
    let evidence: serde_json::Value =
        sqlx::query_scalar("select evidence from oms.duplicate_order_resolution where duplicate_order_id = $1")
            .bind(copy)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(evidence["orders"].as_array().unwrap().len(), 2, "the evidence of both orders is kept");
    let rows: i64 = sqlx::query_scalar("select count(*) from oms.sales_order where source_quote_id = (select source_quote_id from oms.sales_order where order_id = $1)")
        .bind(copy)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, 2, "no order is deleted");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_operator_may_keep_another_order_against_the_evidence_and_the_cancelled_ones_process_ends(pool: PgPool) {
    let engine = EngineClient::with_request_timeout(engine_url(), Duration::from_secs(10));
    ensure_deployed(&engine).await.unwrap();
    let running = captured_order(&pool, ACME, "Q-D2").await.order_id;
    let starter = Starter::new(pool.clone(), engine.clone(), StarterConfig::new(StarterConfig::generate_instance_id())).unwrap();
    assert_eq!(starter.start_due().await.unwrap().started, 1);
    let copy = legacy_duplicate(&pool, ACME, running, TimeDelta::minutes(5)).await;
    let incident = incident(&pool).await;
    let keep = copy.to_string();
    let input = request("resolve-duplicate-order", running, incident, "dup-Q-D2", &[("canonical_order_id", &keep)]);

    let done = request_approve_execute(&pool, &services(), &input).await;
    assert_eq!(done.status, RepairStatus::Executed, "{:?}", done.failure_reason);
    let chosen = answer(&done.safety_checks, "Which order is canonical");
    assert_eq!(chosen.verdict, Verdict::Warn);
    assert!(chosen.detail.contains("the operator keeps LEG-SO-D2 where the evidence keeps SO-D2"), "{}", chosen.detail);
    assert_eq!(done.proposed_change["cancel"][0]["process_instances"].as_array().unwrap().len(), 1);
    assert!(done.recheck.as_ref().unwrap().coherent, "{:?}", done.recheck);
    assert_eq!((status(&pool, running).await.as_str(), status(&pool, copy).await.as_str()), ("CANCELLED", "CAPTURED"));
    assert_eq!(instances(running).await, 0, "the cancelled order's process is ended");
}

/// The engine calls come after the commit: a console that dies between the commit and the call leaves
/// the cancellation committed and the call owed; while the engine is away the call fails, stays pending
/// and is told on the incident; when it is back the next round makes it and the re-check is clean.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn ending_the_duplicates_process_is_owed_after_the_commit_and_made_when_the_engine_answers(pool: PgPool) {
    let engine = EngineClient::with_request_timeout(engine_url(), Duration::from_secs(10));
    ensure_deployed(&engine).await.unwrap();
    let running = captured_order(&pool, ACME, "Q-D4").await.order_id;
    let starter = Starter::new(pool.clone(), engine.clone(), StarterConfig::new(StarterConfig::generate_instance_id())).unwrap();
    assert_eq!(starter.start_due().await.unwrap().started, 1);
    let copy = legacy_duplicate(&pool, ACME, running, TimeDelta::minutes(5)).await;
    let incident = incident(&pool).await;
    let keep = copy.to_string();
    let input = request("resolve-duplicate-order", running, incident, "dup-Q-D4", &[("canonical_order_id", &keep)]);
    let crashed = Services { follow_ups_inline: false, recheck_wait: Duration::ZERO, ..services() };

    let done = request_approve_execute(&pool, &crashed, &input).await;
    assert_eq!(done.status, RepairStatus::Executed, "{:?}", done.failure_reason);
    assert_eq!(status(&pool, running).await, "CANCELLED", "the change is committed");
    assert_eq!(instances(running).await, 1, "the engine call is not made before the commit");
    let [owed] = done.follow_ups.as_slice() else { panic!("one call owed: {:?}", done.follow_ups) };
    assert!(owed.pending() && owed.attempts == 0, "{owed:?}");
    assert!(owed.description.starts_with("end process instance"), "{}", owed.description);
    assert!(done.recheck.is_none(), "the re-check waits for the owed call: {:?}", done.recheck);

    // The engine away: the attempt fails, is recorded, and the incident hears of it.
    let down = EngineClient::with_request_timeout("http://127.0.0.1:9/engine-rest", Duration::from_secs(2));
    let who = "system:repair-follow-up";
    let round = follow_up::carry_out(&pool, &down, who, follow_up::Which::Due).await.unwrap();
    assert_eq!((round.done, round.failed), (0, 1));
    assert_eq!(instances(running).await, 1);
    let oscar = ops::testing::demo_user("oscar.operator");
    let seen = repair_detail(&pool, &oscar, done.repair_id).await.unwrap();
    let owed = &seen.follow_ups[0];
    assert!(owed.pending() && owed.attempts == 1 && owed.last_error.as_deref().is_some_and(|e| e.contains("unreachable")), "{owed:?}");
    let story: Vec<String> = common::detail(&pool, incident).await.timeline.into_iter().map(|e| e.headline).collect();
    assert!(story.iter().any(|h| h.starts_with("Engine call pending after the commit")), "{story:?}");
    // Within its backoff a background round leaves it alone.
    assert_eq!(follow_up::carry_out(&pool, &engine, who, follow_up::Which::Due).await.unwrap(), follow_up::Carried::default());

    // The engine back: the owed call is made, once; the re-check is clean.
    let round = follow_up::carry_out(&pool, &engine, who, follow_up::Which::Repair(done.repair_id)).await.unwrap();
    assert_eq!((round.done, round.failed), (1, 0));
    assert_eq!(instances(running).await, 0, "the cancelled order's process is ended");
    assert_eq!(follow_up::carry_out(&pool, &engine, who, follow_up::Which::Repair(done.repair_id)).await.unwrap(), follow_up::Carried::default());
    assert_eq!(follow_up::settled_since_recheck(&pool).await.unwrap(), [done.repair_id], "its re-check is due again");
    let rechecked = recheck_repair(&pool, &services(), &oscar, done.repair_id).await.unwrap();
    assert!(rechecked.recheck.as_ref().unwrap().coherent, "{:?}", rechecked.recheck);
    assert!(!rechecked.follow_ups[0].pending() && rechecked.follow_ups[0].attempts == 2);
    assert!(follow_up::settled_since_recheck(&pool).await.unwrap().is_empty());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn orders_with_external_effects_are_escalated_not_cancelled(pool: PgPool) {
    let oscar = demo_user("oscar.operator");
    let services = services();
    let single = captured_order(&pool, ACME, "Q-D3").await.order_id;
    let incident = incident(&pool).await;
    let missing = refused(&pool, &services, &oscar, &request("resolve-duplicate-order", single, incident, "dup-Q-D3", &[])).await;
    assert!(missing.iter().any(|m| m.contains("there is no duplicate")), "{missing:?}");

    // The vendor has the copy's line 1: the copy must stay, the platform's order may not be kept over it.
    let first = captured_order(&pool, ACME, "Q-D4").await.order_id;
    let copy = legacy_duplicate(&pool, ACME, first, TimeDelta::minutes(5)).await;
    requested_line(&pool, copy).await;
    let keep_first = first.to_string();
    let missing = refused(
        &pool,
        &services,
        &oscar,
        &request("resolve-duplicate-order", copy, incident, "dup-Q-D4-keep-first", &[("canonical_order_id", &keep_first)]),
    )
    .await;
    assert!(missing.iter().any(|m| m.contains("LEG-SO-D4 has external effects") && m.contains("cannot be the order cancelled")), "{missing:?}");
    let stranger = uuid::Uuid::now_v7().to_string();
    let missing = refused(
        &pool,
        &services,
        &oscar,
        &request("resolve-duplicate-order", copy, incident, "dup-Q-D4-stranger", &[("canonical_order_id", &stranger)]),
    )
    .await;
    assert!(missing.iter().any(|m| m.contains("was not captured from this quote")), "{missing:?}");

    // Both have external effects: a compensation, a business decision.
    requested_line(&pool, first).await;
    let missing = refused(&pool, &services, &oscar, &request("resolve-duplicate-order", copy, incident, "dup-Q-D4", &[])).await;
    assert!(missing.iter().any(|m| m.contains("2 orders have external effects") && m.contains("escalate")), "{missing:?}");
    assert_eq!((status(&pool, first).await.as_str(), status(&pool, copy).await.as_str()), ("CAPTURED", "CAPTURED"));
    let written: i64 = sqlx::query_scalar("select count(*) from ops.repair_command_log").fetch_one(&pool).await.unwrap();
    assert_eq!(written, 0);
}
