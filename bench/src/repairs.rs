//! Repairs (issue 14 §3): `count` resume-orchestration repairs, each on an order of its own whose
//! orchestration start was given up (as `ops/tests/repair_resume.rs` makes them), through the governed
//! lifecycle as the console drives it: dry-run (the request page's preview, nothing stored), request
//! (the dry-run stored), execute (re-checked, a new process instance started at the step the order
//! reached). The floor is the engine's own round trip for the order's instances by business key. The
//! instances started are deleted at the end: the engine is shared.

use std::time::Instant;

use ops::incident::{declare_incident, DeclareForm, IncidentForDeclare};
use ops::repair::*;
use ops::testing::demo_user;
use platform::engine::{BusinessKey, EngineClient};
use platform::ids::OrderId;
use platform::orchestration::{ensure_deployed, give_up_start};
use platform::tenants::ACME;
use platform::testing::captured_order;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::stats::Samples;
use crate::Result;

pub async fn run(pool: &PgPool, engine: &EngineClient, count: usize) -> Result<Value> {
    ensure_deployed(engine).await?;
    let oscar = demo_user("oscar.operator");
    let services = Services::new(engine.clone());
    let batch = uuid::Uuid::now_v7().simple().to_string();
    let incident = declare_incident(
        pool,
        &oscar,
        &IncidentForDeclare::parse(&DeclareForm {
            severity: "SEV3".into(),
            detected_by: "ALERT".into(),
            summary: format!("Benchmark: {count} orders whose orchestration start was given up"),
            tenants: vec![ACME.to_string()],
            ..Default::default()
        })
        .map_err(|e| format!("{e:?}"))?,
    )
    .await?
    .incident_id;

    let started = Instant::now();
    let mut orders = Vec::with_capacity(count);
    for i in 0..count {
        orders.push(stuck_order(pool, &format!("BENCH-{}-{i}", &batch[..12])).await?);
    }
    let setup_s = started.elapsed().as_secs_f64();

    let (mut floor, mut dry_run, mut request, mut execute) = Default::default();
    let mut failed = 0;
    for (i, &order) in orders.iter().enumerate() {
        let key = BusinessKey::for_order(ACME, order);
        Samples::time(&mut floor, engine.instances_by_business_key(&key)).await?;
        let target = Target { tenant: ACME, entity_id: order.into() };
        let dry = Samples::time(&mut dry_run, preview(pool, &services, &oscar, RepairType::ResumeOrchestration, target)).await?;
        if dry.checks.iter().any(|c| c.verdict != Verdict::Pass) {
            failed += 1;
        }
        let form = RepairRequestForm {
            repair_type: "resume-orchestration".into(),
            tenant: ACME.to_string(),
            entity_id: order.to_string(),
            incident_id: incident.to_string(),
            reason: "benchmark: the start was given up while the engine was down".into(),
            idempotency_key: format!("bench-{batch}-{i}"),
            ..Default::default()
        };
        let input = RepairForRequest::parse(&form, true).map_err(|e| format!("{e:?}"))?;
        let repair = Samples::time(&mut request, request_repair(pool, &services, &oscar, &input)).await?.repair;
        let hash = repair.proposed_change_hash.clone();
        let done = Samples::time(&mut execute, execute_repair(pool, &services, &oscar, repair.repair_id, Some(&hash))).await?;
        if done.repair.status != RepairStatus::Executed {
            failed += 1;
        }
    }
    let deleted = cleanup(engine, &orders).await;
    let (floor, dry_run, request, execute): (Samples, Samples, Samples, Samples) = (floor, dry_run, request, execute);
    Ok(json!({
        "count": count, "setup_seconds": setup_s, "not_executed": failed, "instances_deleted": deleted,
        "engine_round_trip": floor.summary(), "dry_run": dry_run.summary(),
        "request": request.summary(), "execute": execute.summary(),
    }))
}

/// An order of acme whose orchestration start the starter gave up (the engine was unreachable).
async fn stuck_order(pool: &PgPool, number: &str) -> Result<OrderId> {
    let order = captured_order(pool, ACME, number).await.order_id;
    let mut conn = pool.acquire().await?;
    give_up_start(&mut conn, order, "gave up after 20 attempts: process engine unreachable", "bench").await?;
    Ok(order)
}

async fn cleanup(engine: &EngineClient, orders: &[OrderId]) -> usize {
    let mut deleted = 0;
    for &order in orders {
        let Ok(instances) = engine.instances_by_business_key(&BusinessKey::for_order(ACME, order)).await else { continue };
        for i in instances {
            deleted += usize::from(engine.delete_instance(&i.id, "benchmark finished").await.is_ok());
        }
    }
    deleted
}
