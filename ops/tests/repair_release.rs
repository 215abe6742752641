//! The release-stale-claims repair against PostgreSQL: a dead relay's stale claims go back to PENDING with
//! their attempts kept; a live relay's claims, or claims inside their lease, are never released.

mod common;

use ops::repair::*;
use ops::testing::demo_user;
use ops::ErrorKind;
use platform::engine::EngineClient;
use platform::tenants::ACME;
use platform::testing::{captured_order, engine_url};
use sqlx::PgPool;
use uuid::Uuid;

/// Claims the order's events for `relay`, `minutes_ago`, after `attempts` attempts.
async fn claim(pool: &PgPool, number: &str, relay: &str, minutes_ago: i32, attempts: i32) -> Vec<Uuid> {
    let order = captured_order(pool, ACME, number).await.order_id;
    sqlx::query_scalar(
        "update messaging.outbox_event set status = 'PROCESSING', claimed_by = $2,
           claimed_at = now() - make_interval(mins => $3), attempts = $4
         where aggregate_id = $1 returning outbox_event_id",
    )
    .bind(order.as_uuid())
    .bind(relay)
    .bind(minutes_ago)
    .bind(attempts)
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn beat(pool: &PgPool, relay: &str) {
    sqlx::query("insert into platform.worker_heartbeat (instance_id, worker_kind) values ($1, 'outbox-relay')")
        .bind(relay)
        .execute(pool)
        .await
        .unwrap();
}

fn request(event: Uuid, incident: ops::ids::IncidentId, key: &str) -> RepairForRequest {
    RepairForRequest::parse(
        &RepairRequestForm {
            repair_type: "release-stale-claims".into(),
            tenant: ACME.to_string(),
            entity_id: event.to_string(),
            incident_id: incident.to_string(),
            reason: "the relay died holding claims after a node loss".into(),
            idempotency_key: key.into(),
            mismatch_id: String::new(),
            ..Default::default()
        },
        true,
    )
    .unwrap()
}

fn services() -> Services {
    Services::new(EngineClient::new(engine_url()))
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_dead_relays_stale_claims_go_back_to_pending_with_their_attempts(pool: PgPool) {
    let claimed = [claim(&pool, "C-1", "relay-dead", 45, 2).await, claim(&pool, "C-2", "relay-dead", 30, 1).await].concat();
    let oscar = demo_user("oscar.operator");
    let incident = common::declare(&pool, &oscar, "SEV2", &[ACME], &[]).await.incident_id;
    let repair = request_repair(&pool, &services(), &oscar, &request(claimed[0], incident, "release-C-1")).await.unwrap().repair;
    assert_eq!(repair.risk, Risk::Low);
    let listed: Vec<Uuid> = serde_json::from_value(repair.proposed_change["release"].clone()).unwrap();
    assert_eq!(listed.len(), claimed.len(), "every stale claim of the dead relay");

    let done = execute_repair(&pool, &services(), &oscar, repair.repair_id, Some(&repair.proposed_change_hash)).await.unwrap().repair;
    assert_eq!(done.status, RepairStatus::Executed);
    assert!(done.recheck.unwrap().coherent);
    let rows: Vec<(String, Option<String>, i32)> =
        sqlx::query_as("select status, claimed_by, attempts from messaging.outbox_event where outbox_event_id = any($1) order by attempts")
            .bind(&claimed)
            .fetch_all(&pool)
            .await
            .unwrap();
    assert!(rows.iter().all(|(s, c, _)| s == "PENDING" && c.is_none()), "{rows:?}");
    assert_eq!(rows.iter().map(|r| r.2).max(), Some(2), "attempts kept");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_live_relays_claims_and_fresh_claims_are_never_released(pool: PgPool) {
    let alive = claim(&pool, "C-3", "relay-alive", 45, 0).await;
    beat(&pool, "relay-alive").await;
    let fresh = claim(&pool, "C-4", "relay-dead-2", 1, 0).await;
    let oscar = demo_user("oscar.operator");
    let incident = common::declare(&pool, &oscar, "SEV2", &[ACME], &[]).await.incident_id;
    for (event, key, why) in [(alive[0], "release-C-3", "an active publisher owns the claim"), (fresh[0], "release-C-4", "the relay may still publish it")] {
        let err = request_repair(&pool, &services(), &oscar, &request(event, incident, key)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Rule);
        let ops::Error::Rule { missing, .. } = &err else { unreachable!() };
        assert!(missing.iter().any(|m| m.contains(why)), "{missing:?}");
    }
    let held: i64 = sqlx::query_scalar("select count(*) from messaging.outbox_event where status = 'PROCESSING'").fetch_one(&pool).await.unwrap();
    assert_eq!(held as usize, alive.len() + fresh.len());
}
