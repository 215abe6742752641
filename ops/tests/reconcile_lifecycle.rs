//! Reconciliation runs and the mismatch lifecycle against the real services: runs record counts and
//! status; one open mismatch per (check, entity) across runs; a later run that no longer finds it
//! resolves it with evidence; people acknowledge and call false positives (with a reason); the loop —
//! a mismatch taken to its suggested repair (resume-orchestration, in the real engine) resolves itself on
//! the re-check that follows the execution, on the mismatch, the repair and the incident's timeline.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use ops::identity::{Role, TenantScope};
use ops::reconcile::{self, CheckName, FalsePositiveForm, FalsePositiveReason, MismatchStatus, RunOrigin, RunRequest, RunStatus};
use ops::repair::*;
use ops::testing::demo_user;
use ops::ErrorKind;
use platform::engine::{BusinessKey, EngineClient};
use platform::ids::{OrderId, TenantId};
use platform::order::OrderCommand;
use platform::orchestration::ensure_deployed;
use platform::seed::{self, SeedParams};
use platform::testing::{advance_order, engine_url};
use sqlx::PgPool;
use uuid::Uuid;

use common::declare;

fn engine() -> EngineClient {
    EngineClient::with_request_timeout(engine_url(), Duration::from_secs(10))
}

async fn seeded(pool: &PgPool) {
    seeded_with(pool, 5).await;
}

/// The seed is deterministic (ids included): tests that start engine instances for its orders use a seed
/// of their own, since the engine is shared.
async fn seeded_with(pool: &PgPool, rng_seed: u64) {
    seed::run(pool, &SeedParams { orders: 1_000, extra_tenants: 0, anomaly_rate: 0.02, rng_seed }).await.expect("the seed runs");
}

async fn run(pool: &PgPool, check: CheckName) -> reconcile::RunSummary {
    let oscar = demo_user("oscar.operator");
    let mut done = reconcile::run(pool, Some(&engine()), &oscar, &RunRequest::one(check, RunOrigin::Console)).await.unwrap();
    let run = done.remove(0);
    assert_eq!(run.status, RunStatus::Completed, "{run:?}");
    run
}

async fn open_mismatches(pool: &PgPool, check: CheckName) -> Vec<(Uuid, Uuid, i32)> {
    sqlx::query_as(
        "select mismatch_id, entity_id, times_seen from ops.reconciliation_mismatch_seen
         where check_name = $1 and status in ('OPEN', 'ACKNOWLEDGED', 'REPAIRING') order by entity_id",
    )
    .bind(check.as_str())
    .fetch_all(pool)
    .await
    .unwrap()
}

async fn history(pool: &PgPool, mismatch: Uuid) -> Vec<String> {
    sqlx::query_scalar("select event from ops.reconciliation_mismatch_event where mismatch_id = $1 order by occurred_at, event_id")
        .bind(mismatch)
        .fetch_all(pool)
        .await
        .unwrap()
}

/// The run that last wrote a mismatch's row.
async fn last_run(pool: &PgPool, mismatch: Uuid) -> Uuid {
    sqlx::query_scalar("select last_run_id from ops.reconciliation_mismatch where mismatch_id = $1")
        .bind(mismatch)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// The mismatch's suggested repair requested by oscar, its form filled from the mismatch as its page fills
/// it (type, tenant, the entity the repair acts on, the mismatch), under `incident`.
async fn request_suggested_repair(
    pool: &PgPool,
    services: &Services,
    mismatch: &reconcile::Mismatch,
    incident: ops::ids::IncidentId,
    reason: &str,
) -> Repair {
    let form = RepairRequestForm {
        repair_type: mismatch.suggested_repair.clone().expect("the mismatch suggests a repair"),
        tenant: mismatch.tenant_id.expect("the mismatch is a tenant's").to_string(),
        entity_id: mismatch.repair_entity().expect("the repair's entity").to_string(),
        incident_id: incident.to_string(),
        reason: reason.into(),
        idempotency_key: format!("recon-{}", mismatch.mismatch_id),
        mismatch_id: mismatch.mismatch_id.to_string(),
        ..Default::default()
    };
    let oscar = demo_user("oscar.operator");
    request_repair(pool, services, &oscar, &RepairForRequest::parse(&form, true).unwrap()).await.unwrap().repair
}

async fn status(pool: &PgPool, mismatch: Uuid) -> String {
    sqlx::query_scalar("select status from ops.reconciliation_mismatch where mismatch_id = $1").bind(mismatch).fetch_one(pool).await.unwrap()
}

async fn stuck_captured(pool: &PgPool) -> (OrderId, TenantId) {
    let (order, tenant): (Uuid, Uuid) = sqlx::query_as(
        "select o.order_id, o.tenant_id from oms.sales_order o
         join platform.seed_anomaly a on a.entity_id = o.order_id and a.anomaly_type = 'STUCK_ORDER'
         where o.status = 'CAPTURED' order by o.order_id limit 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    (OrderId::from_uuid(order), TenantId::from_uuid(tenant))
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_run_records_its_counts_and_a_second_run_sees_the_same_mismatches_again(pool: PgPool) {
    seeded(&pool).await;
    let first = run(&pool, CheckName::StuckOrder).await;
    assert_eq!(first.status, RunStatus::Completed);
    assert!(first.checked > 0);
    assert!(first.mismatches > 0);
    assert_eq!((first.opened, first.resolved), (first.mismatches, 0));
    let (status, checked, count, finished): (String, i64, i64, bool) = sqlx::query_as(
        "select status, checked_count, mismatch_count, finished_at is not null from ops.reconciliation_run where run_id = $1",
    )
    .bind(first.run_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((status.as_str(), checked, count, finished), ("COMPLETED", first.checked, first.mismatches, true));
    let opened = open_mismatches(&pool, CheckName::StuckOrder).await;
    assert_eq!(opened.len() as i64, first.mismatches);

    let second = run(&pool, CheckName::StuckOrder).await;
    assert_eq!((second.mismatches, second.opened, second.resolved), (first.mismatches, 0, 0));
    let seen = open_mismatches(&pool, CheckName::StuckOrder).await;
    assert_eq!(seen.iter().map(|m| m.0).collect::<Vec<_>>(), opened.iter().map(|m| m.0).collect::<Vec<_>>(), "the same mismatches");
    assert!(seen.iter().all(|m| m.2 == 2), "seen twice");
    // Found again unchanged: the counters move, the history stays as it was.
    assert_eq!(history(&pool, seen[0].0).await, ["OPENED"]);
    // ... and nothing was written: the sighting is counted on read, and the second run is its last run.
    let (stored_run, seen_run): (Uuid, Uuid) = sqlx::query_as(
        "select m.last_run_id, s.last_run_id from ops.reconciliation_mismatch m
         join ops.reconciliation_mismatch_seen s using (mismatch_id) where m.mismatch_id = $1",
    )
    .bind(seen[0].0)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!((stored_run, seen_run), (first.run_id, second.run_id));
    // The second run's page lists what it found, though it wrote none of it.
    let (_, listed) = reconcile::view::run_detail(&pool, &demo_user("oscar.operator"), second.run_id, 1000).await.unwrap();
    assert_eq!(listed.len() as i64, second.mismatches);

    // Past the checkpoint (an hour since its last write), a run writes it again, counters absorbed. (Two
    // hours pass: the runs so far and the mismatches' times move back together.)
    for sql in [
        "update ops.reconciliation_run set window_end = window_end - interval '2 hours' where reconciliation_type = 'STUCK_ORDER'",
        "update ops.reconciliation_mismatch set last_seen_at = last_seen_at - interval '2 hours' where check_name = 'STUCK_ORDER'",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let third = run(&pool, CheckName::StuckOrder).await;
    let (stored_run, times): (Uuid, i32) =
        sqlx::query_as("select last_run_id, times_seen from ops.reconciliation_mismatch where mismatch_id = $1")
            .bind(seen[0].0)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((stored_run, times), (third.run_id, 3));
    assert!(open_mismatches(&pool, CheckName::StuckOrder).await.iter().all(|m| m.2 == 3), "seen three times");
    assert_eq!(history(&pool, seen[0].0).await, ["OPENED"]);

}

/// The hourly write of what a whole run finds again unchanged is spread: each mismatch is written again
/// between one and two hours after its last write, where in that hour fixed per mismatch — so the
/// mismatches a detector opened together are not all rewritten by one run. 90 minutes on, some are.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn mismatches_found_again_unchanged_are_written_again_spread_over_the_second_hour(pool: PgPool) {
    seeded(&pool).await;
    let first = run(&pool, CheckName::StuckOrder).await;
    assert!(first.mismatches >= 20, "{first:?}");
    for sql in [
        "update ops.reconciliation_run set window_end = window_end - interval '90 minutes' where reconciliation_type = 'STUCK_ORDER'",
        "update ops.reconciliation_mismatch set last_seen_at = last_seen_at - interval '90 minutes' where check_name = 'STUCK_ORDER'",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    let second = run(&pool, CheckName::StuckOrder).await;
    assert_eq!((second.mismatches, second.opened), (first.mismatches, 0));
    let written: i64 = sqlx::query_scalar("select count(*) from ops.reconciliation_mismatch where last_run_id = $1")
        .bind(second.run_id)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(written > 0 && written < first.mismatches, "{written} of {} written again", first.mismatches);
    assert!(open_mismatches(&pool, CheckName::StuckOrder).await.iter().all(|m| m.2 == 2), "each seen twice, written or not");
}

/// Found again with something observed changed, a mismatch gets a SEEN line with the new observation;
/// the others found again unchanged get none.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_mismatch_found_again_changed_gets_a_history_line_and_an_unchanged_one_none(pool: PgPool) {
    seeded(&pool).await;
    let first = run(&pool, CheckName::OutboxBacklog).await;
    assert!(first.mismatches > 1, "{first:?}");
    let opened = open_mismatches(&pool, CheckName::OutboxBacklog).await;
    // A relay tried one of its stale claims again and failed (as the relay records it), still holding it.
    let changed = opened[0].0;
    sqlx::query(
        "update messaging.outbox_event set attempts = 99, last_error = 'broker unavailable'
          where outbox_event_id = (select (observed_state->>'oldest_event_id')::uuid from ops.reconciliation_mismatch
                                    where mismatch_id = $1)",
    )
    .bind(changed)
        .execute(&pool)
        .await
        .unwrap();
    let second = run(&pool, CheckName::OutboxBacklog).await;
    assert_eq!((second.mismatches, second.opened, second.resolved), (first.mismatches, 0, 0));
    assert_eq!(history(&pool, changed).await, ["OPENED", "SEEN"]);
    let (observed,): (serde_json::Value,) =
        sqlx::query_as("select detail->'observed' from ops.reconciliation_mismatch_event where mismatch_id = $1 and event = 'SEEN'")
            .bind(changed)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(observed["max_attempts"], 99);
    assert_eq!(history(&pool, opened[1].0).await, ["OPENED"]);
    assert!(open_mismatches(&pool, CheckName::OutboxBacklog).await.iter().all(|m| m.2 == 2), "each seen twice");
    // Only the changed one was written again (its finding's digest differed); the unchanged one's row is
    // still the first run's, its second sighting counted on read.
    assert_eq!(
        [last_run(&pool, changed).await, last_run(&pool, opened[1].0).await],
        [second.run_id, first.run_id]
    );
}

/// A fingerprinted detector (`CheckInfo::fingerprint`: its whole runs build JSON only for what is new or
/// changed) still sees a change: an overdue request reassigned is written again with a SEEN line saying
/// so; the others found again are left as they were, counted on read.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_fingerprinted_detector_writes_what_changed_and_leaves_what_did_not(pool: PgPool) {
    seeded(&pool).await;
    assert!(reconcile::checks::info(CheckName::StuckApproval).fingerprint);
    let first = run(&pool, CheckName::StuckApproval).await;
    assert!(first.mismatches > 1, "{first:?}");
    let opened = open_mismatches(&pool, CheckName::StuckApproval).await;
    let (changed, unchanged) = (opened[0].0, opened[1].0);
    sqlx::query(
        "update cpq.approval_request set assignee = 'deputy.approver', version = version + 1, updated_at = now()
          where approval_request_id = (select entity_id from ops.reconciliation_mismatch where mismatch_id = $1)",
    )
    .bind(changed)
    .execute(&pool)
    .await
    .unwrap();
    let second = run(&pool, CheckName::StuckApproval).await;
    assert_eq!((second.mismatches, second.opened, second.resolved), (first.mismatches, 0, 0));
    assert_eq!(history(&pool, changed).await, ["OPENED", "SEEN"]);
    assert_eq!(history(&pool, unchanged).await, ["OPENED"]);
    let assignee: String =
        sqlx::query_scalar("select observed_state->>'assignee' from ops.reconciliation_mismatch where mismatch_id = $1")
            .bind(changed)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((assignee.as_str(), last_run(&pool, changed).await), ("deputy.approver", second.run_id));
    assert_eq!(last_run(&pool, unchanged).await, first.run_id, "found again unchanged: not written");
    assert!(open_mismatches(&pool, CheckName::StuckApproval).await.iter().all(|m| m.2 == 2), "each seen twice");
    // A third run finds the reassigned one unchanged since: nothing more is written.
    let third = run(&pool, CheckName::StuckApproval).await;
    assert_eq!((third.mismatches, third.opened), (first.mismatches, 0));
    assert_eq!(history(&pool, changed).await, ["OPENED", "SEEN"]);
    assert_eq!(last_run(&pool, changed).await, second.run_id);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_later_run_that_no_longer_finds_a_mismatch_resolves_it_with_evidence(pool: PgPool) {
    seeded(&pool).await;
    run(&pool, CheckName::StuckOrder).await;
    let (order, tenant) = stuck_captured(&pool).await;
    let (mismatch,): (Uuid,) = sqlx::query_as("select mismatch_id from ops.reconciliation_mismatch where entity_id = $1")
        .bind(order)
        .fetch_one(&pool)
        .await
        .unwrap();
    // The order moves on through the platform's own command.
    advance_order(&pool, tenant, order, &[OrderCommand::Cancel]).await;
    let later = run(&pool, CheckName::StuckOrder).await;
    assert_eq!(later.resolved, 1);
    assert_eq!(status(&pool, mismatch).await, "RESOLVED");
    let (resolved_run, why): (Option<Uuid>, serde_json::Value) =
        sqlx::query_as("select resolved_run_id, resolution from ops.reconciliation_mismatch where mismatch_id = $1")
            .bind(mismatch)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(resolved_run, Some(later.run_id));
    assert_eq!(why["why"], "the check no longer finds it");
    assert_eq!(history(&pool, mismatch).await, ["OPENED", "RESOLVED"]);
    // History is evidence: it cannot be changed.
    let err = sqlx::query("delete from ops.reconciliation_mismatch_event where mismatch_id = $1").bind(mismatch).execute(&pool).await;
    assert!(err.is_err());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn people_acknowledge_and_call_false_positives_with_a_reason_and_closed_mismatches_stay_closed(pool: PgPool) {
    seeded(&pool).await;
    run(&pool, CheckName::PriceSnapshot).await;
    let open = open_mismatches(&pool, CheckName::PriceSnapshot).await;
    assert!(open.len() >= 2);
    let oscar = demo_user("oscar.operator");

    let acked = reconcile::acknowledge(&pool, &oscar, open[0].0).await.unwrap();
    assert_eq!(acked.status(), MismatchStatus::Acknowledged);
    assert!(acked.acknowledged_by.unwrap().contains("oscar"));
    let again = reconcile::acknowledge(&pool, &oscar, open[0].0).await.unwrap_err();
    assert_eq!(again.kind(), ErrorKind::Rule, "{again}");

    let short = FalsePositiveReason::parse(&FalsePositiveForm { reason: "no".into() }).unwrap_err();
    assert!(short.contains("reason"));
    let reason = FalsePositiveReason::parse(&FalsePositiveForm { reason: "the quote was repriced by finance on purpose".into() }).unwrap();
    let fp = reconcile::mark_false_positive(&pool, &oscar, open[0].0, &reason).await.unwrap();
    assert_eq!(fp.status(), MismatchStatus::FalsePositive);
    assert!(fp.resolved_at.is_some());
    assert_eq!(history(&pool, open[0].0).await, ["OPENED", "ACKNOWLEDGED", "FALSE_POSITIVE"]);
    let closed = reconcile::acknowledge(&pool, &oscar, open[0].0).await.unwrap_err();
    assert_eq!(closed.kind(), ErrorKind::Rule);

    // A viewer may look but not act; the refusal is audited and changes nothing.
    let vera = common::viewer();
    let refused = reconcile::acknowledge(&pool, &vera, open[1].0).await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::NotAllowed);
    assert_eq!(status(&pool, open[1].0).await, "OPEN");

    // A false positive is closed: the next run finds the entity again as a new mismatch (the check has
    // not changed its mind), and the closed one keeps its reason.
    let next = run(&pool, CheckName::PriceSnapshot).await;
    assert_eq!(next.opened, 1);
    assert_eq!(status(&pool, open[0].0).await, "FALSE_POSITIVE");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_person_scoped_to_one_tenant_cannot_run_a_check_over_every_tenant(pool: PgPool) {
    seeded(&pool).await;
    let scoped = common::actor("tina.operator", &[Role::Operator], TenantScope::Only([platform::tenants::ACME].into()));
    let err = reconcile::run(&pool, None, &scoped, &RunRequest::one(CheckName::StuckOrder, RunOrigin::Console)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotAllowed);
    let mine = RunRequest { tenant: Some(platform::tenants::ACME), ..RunRequest::one(CheckName::StuckOrder, RunOrigin::Console) };
    let done = reconcile::run(&pool, None, &scoped, &mine).await.unwrap();
    assert_eq!(done[0].status, RunStatus::Completed);
    let runs: i64 = sqlx::query_scalar("select count(*) from ops.reconciliation_run").fetch_one(&pool).await.unwrap();
    assert_eq!(runs, 1, "the refused run wrote nothing");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_run_whose_worker_died_is_marked_failed_never_left_running(pool: PgPool) {
    seeded(&pool).await;
    let done = run(&pool, CheckName::DuplicateOrder).await;
    // A worker that died mid-run leaves RUNNING with an old heartbeat (written the way a crash leaves it).
    sqlx::query(
        "insert into ops.reconciliation_run (run_id, reconciliation_type, window_start, window_end, started_at, status,
           created_by, origin, worker, heartbeat_at, progress)
         values ($1, 'DUPLICATE_ORDER', now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour',
                 'RUNNING', 'test', 'SCHEDULE', 'gone:1', now() - interval '1 hour', 'examining')",
    )
    .bind(Uuid::now_v7())
    .execute(&pool)
    .await
    .unwrap();
    assert_eq!(reconcile::fail_stale_runs(&pool).await.unwrap(), 1);
    let (failed, error): (i64, Option<String>) = sqlx::query_as(
        "select count(*), max(error) from ops.reconciliation_run where status = 'FAILED'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(failed, 1);
    assert!(error.unwrap().contains("gone:1"));
    assert_eq!(done.status, RunStatus::Completed);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_incremental_run_looks_only_at_what_changed_since_the_last_clean_run(pool: PgPool) {
    seeded(&pool).await;
    let full = run(&pool, CheckName::KafkaProjection).await;
    assert!(!full.incremental);
    let oscar = demo_user("oscar.operator");
    let request = RunRequest { incremental: true, ..RunRequest::one(CheckName::KafkaProjection, RunOrigin::Schedule) };
    let inc = reconcile::run(&pool, None, &oscar, &request).await.unwrap().remove(0);
    assert!(inc.incremental);
    assert!(inc.checked < full.checked / 10, "incremental examined {} of {}", inc.checked, full.checked);
    assert_eq!(inc.resolved, 0, "an incremental run resolves nothing it did not look at");
    assert_eq!(open_mismatches(&pool, CheckName::KafkaProjection).await.len() as i64, full.mismatches);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_stuck_order_taken_to_its_suggested_repair_resolves_itself_on_the_recheck_after_execution(pool: PgPool) {
    the_loop_resolves(&pool, CheckName::StuckOrder, 51).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_order_whose_start_was_given_up_taken_to_its_repair_resolves_on_the_engines_recheck(pool: PgPool) {
    the_loop_resolves(&pool, CheckName::OrderEngine, 52).await;
}

/// A stuck CAPTURED order found by `check`, acknowledged, taken to resume-orchestration in the real
/// engine with the mismatch attached, executed: the re-check resolves it, on every record.
async fn the_loop_resolves(pool: &PgPool, check: CheckName, rng_seed: u64) {
    let pool = pool.clone();
    ensure_deployed(&engine()).await.unwrap();
    seeded_with(&pool, rng_seed).await;
    run(&pool, check).await;
    let (order, tenant) = stuck_captured(&pool).await;
    let mismatch: reconcile::Mismatch = {
        let (id,): (Uuid,) = sqlx::query_as("select mismatch_id from ops.reconciliation_mismatch where entity_id = $1 and check_name = $2")
            .bind(order)
            .bind(check.as_str())
            .fetch_one(&pool)
            .await
            .unwrap();
        let oscar = demo_user("oscar.operator");
        reconcile::acknowledge(&pool, &oscar, id).await.unwrap()
    };
    assert_eq!(mismatch.suggested_repair.as_deref(), Some("resume-orchestration"));
    let oscar = demo_user("oscar.operator");
    let incident = declare(&pool, &oscar, "SEV3", &[tenant], &[order]).await.incident_id;
    let services = Services::new(engine());
    let reason = "reconciliation found the order stuck: its start was given up";
    let requested = request_suggested_repair(&pool, &services, &mismatch, incident, reason).await;
    assert_eq!(requested.entity_id, order.as_uuid(), "the mismatch's own entity");
    assert_eq!(requested.mismatch_id, Some(mismatch.mismatch_id));
    assert_eq!(status(&pool, mismatch.mismatch_id).await, "REPAIRING");

    let executed = execute_repair(&pool, &services, &oscar, requested.repair_id, Some(&requested.proposed_change_hash)).await;
    let cleanup = async {
        for i in engine().instances_by_business_key(&BusinessKey::for_order(tenant, order)).await.unwrap() {
            let _ = engine().delete_instance(&i.id, "test cleanup").await;
        }
    };
    let executed = executed.unwrap();
    cleanup.await;
    let repair = executed.repair;
    assert_eq!(repair.status, RepairStatus::Executed);

    // On the mismatch: resolved by the re-check run, with its history.
    assert_eq!(status(&pool, mismatch.mismatch_id).await, "RESOLVED");
    assert_eq!(history(&pool, mismatch.mismatch_id).await, ["OPENED", "ACKNOWLEDGED", "REPAIR_REQUESTED", "RESOLVED", "RECHECKED"]);
    let origin: String = sqlx::query_scalar(
        "select r.origin from ops.reconciliation_mismatch m join ops.reconciliation_run r on r.run_id = m.resolved_run_id
         where m.mismatch_id = $1",
    )
    .bind(mismatch.mismatch_id)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(origin, "RECHECK");
    // On the repair.
    let outcome = repair.mismatch_recheck.expect("the repair records its mismatch's re-check");
    assert_eq!(outcome["coherent"], true);
    assert_eq!(outcome["status"], "RESOLVED");
    // On the incident's timeline.
    let story: Vec<String> = common::detail(&pool, incident).await.timeline.into_iter().map(|e| e.event_type).collect();
    for kind in ["REPAIR_REQUESTED", "REPAIR_EXECUTED", "MISMATCH_RECHECKED"] {
        assert!(story.contains(&kind.to_string()), "{kind} in {story:?}");
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn two_replicas_ticking_at_once_run_each_due_check_once_and_a_second_tick_runs_nothing(pool: PgPool) {
    seeded(&pool).await;
    let schedule = reconcile::Schedule {
        checks: vec![(CheckName::DuplicateOrder, Duration::from_secs(600)), (CheckName::StuckApproval, Duration::from_secs(600))],
        full_every: Duration::from_secs(3600),
        tick: Duration::from_secs(30),
    };
    let (a, b) = tokio::join!(reconcile::tick(&pool, None, &schedule), reconcile::tick(&pool, None, &schedule));
    assert_eq!(a.unwrap().len() + b.unwrap().len(), 2, "each check ran once between the two");
    let runs: Vec<(String, String, String)> =
        sqlx::query_as("select reconciliation_type, status, origin from ops.reconciliation_run order by 1").fetch_all(&pool).await.unwrap();
    assert_eq!(
        runs,
        [("DUPLICATE_ORDER".into(), "COMPLETED".into(), "SCHEDULE".into()), ("STUCK_APPROVAL".into(), "COMPLETED".into(), "SCHEDULE".into())]
    );
    assert!(reconcile::tick(&pool, None, &schedule).await.unwrap().is_empty(), "nothing is due yet");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn automatic_repair_is_off_by_default_and_once_an_admin_allows_it_repairs_low_risk_up_to_the_cap(pool: PgPool) {
    seeded(&pool).await;
    let oscar = demo_user("oscar.operator");
    let request = RunRequest::one(CheckName::OutboxBacklog, RunOrigin::Schedule);
    let first = reconcile::run(&pool, Some(&engine()), &oscar, &request).await.unwrap().remove(0);
    assert!(first.mismatches >= 2, "{first:?}");
    assert_eq!(first.auto_repairs, 0, "off by default");
    // The tenant whose claims most dead relays hold: one mismatch per relay.
    let (tenant, claims): (Uuid, i64) = sqlx::query_as(
        "select tenant_id, count(*) from ops.reconciliation_mismatch
          where check_name = 'OUTBOX_BACKLOG' and mismatch_type = 'STALE_OUTBOX_CLAIMS' and status = 'OPEN'
         group by tenant_id order by count(*) desc, tenant_id limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(claims >= 2, "the seed's dead relays hold claims of the tenant: {claims}");

    let admin = demo_user("adam.admin");
    let form = reconcile::AutoRepairForm {
        check: "outbox-backlog".into(),
        tenant: tenant.to_string(),
        enabled: "on".into(),
        max_per_run: "1".into(),
        reason: "stale claims of dead relays are safe to release".into(),
    };
    reconcile::set_auto_repair(&pool, &admin, &reconcile::AutoRepairForSet::parse(&form).unwrap()).await.unwrap();
    let bad = reconcile::AutoRepairForm { check: "duplicate-order".into(), ..form.clone() };
    assert!(reconcile::AutoRepairForSet::parse(&bad).unwrap_err().contains("check"), "a check nothing may fix alone is refused");

    let second = reconcile::run(&pool, Some(&engine()), &oscar, &request).await.unwrap().remove(0);
    assert_eq!(second.auto_repairs, 1, "the cap per run");
    // The relay's claims in the tenant were released by the system actor through the governed repair (LOW
    // risk); its re-check finds the relay holding none there, so the mismatch resolved itself. (The events
    // now wait to be published — no relay runs here — which is their streams' backlog, not these claims.)
    let repaired: Vec<(String, String, String, String, String)> = sqlx::query_as(
        "select r.requested_by_subject, r.risk, r.status, m.status, m.mismatch_type from ops.repair_command_log r
         join ops.reconciliation_mismatch m on m.mismatch_id = r.mismatch_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(
        repaired,
        [(
            "system:auto-repair".to_string(),
            "LOW".to_string(),
            "EXECUTED".to_string(),
            "RESOLVED".to_string(),
            "STALE_OUTBOX_CLAIMS".to_string()
        )]
    );
    let open_in_tenant: i64 = sqlx::query_scalar(
        "select count(*) from ops.reconciliation_mismatch
          where check_name = 'OUTBOX_BACKLOG' and mismatch_type = 'STALE_OUTBOX_CLAIMS' and status = 'OPEN' and tenant_id = $1",
    )
    .bind(tenant)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(open_in_tenant, claims - 1, "the others wait for the next run's cap");
    let incident: String = sqlx::query_scalar("select detected_by from ops.operational_incident").fetch_one(&pool).await.unwrap();
    assert_eq!(incident, "RECONCILIATION", "the repair is filed under an incident the run declared");
}

/// A check whose statement runs without JIT (its `CheckInfo::jit`), or with gathered rows priced cheap
/// (`CheckInfo::gather`), sets that for its statement only: the pooled connections keep the server's
/// settings for whatever uses them next.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_check_run_with_its_own_planner_settings_leaves_its_connections_as_they_were(pool: PgPool) {
    seeded(&pool).await;
    let info = reconcile::checks::info;
    assert!(!info(CheckName::QuoteApproval).jit, "a check this test runs compiles nothing");
    assert!(info(CheckName::KafkaProjection).gather, "a check this test runs gathers its rows cheap");
    let few = few_connections(&pool).await;
    for check in [CheckName::QuoteApproval, CheckName::KafkaProjection] {
        let done = run(&few, check).await;
        assert!(done.checked > 0, "{done:?}");
    }
    for jit in on_each_connection::<String>(&few, "show jit").await {
        assert_eq!(jit, "on", "the server's default, as before the runs");
    }
    for cost in on_each_connection::<String>(&few, "show parallel_tuple_cost").await {
        assert_eq!(cost, "0.1", "the server's default, as before the runs");
    }
}

/// A check's statement is planned for its values on every run: sqlx keeps it prepared on the connection,
/// and PostgreSQL would otherwise switch it to a generic plan after five executions (`statement_tx`).
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_checks_statement_is_planned_for_its_values_on_every_run(pool: PgPool) {
    seeded(&pool).await;
    let few = few_connections(&pool).await;
    // Enough that some connection runs it more than five times.
    let runs = 6 * i64::from(FEW);
    for _ in 0..runs {
        run(&few, CheckName::StuckApproval).await;
    }
    // The comparison's statement, on whichever connections ran it: (generic, custom) plans.
    let plans = on_each_connection::<Vec<i64>>(
        &few,
        "select array[coalesce(sum(generic_plans), 0), coalesce(sum(custom_plans), 0)]::bigint[] from pg_prepared_statements
          where statement like '%full join (select mismatch_id%' and statement not like '%pg_prepared_statements%'",
    )
    .await;
    let (generic, custom) = plans.iter().fold((0, 0), |(g, c), p| (g + p[0], c + p[1]));
    assert_eq!(custom, runs, "every run's comparison was planned with its values");
    assert_eq!(generic, 0, "none with a generic plan");
}

/// A stalled outbox is judged per stream (tenant, aggregate type, event type), the lesson's grain: one
/// mismatch per stream saying how many events wait, since when, and which is the oldest; re-checked by the
/// stream's id; resolved once the stream is published.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_stalled_outbox_is_one_mismatch_per_stream_with_its_count_and_oldest_event(pool: PgPool) {
    seeded(&pool).await;
    // The seed's backlog is fresh (within the grace); the relay stalled an hour ago.
    sqlx::query("update messaging.outbox_event set created_at = created_at - interval '1 hour' where status in ('PENDING', 'FAILED')")
        .execute(&pool)
        .await
        .unwrap();
    let streams: Vec<(Uuid, String, String, i64, Uuid)> = sqlx::query_as(
        "select tenant_id, aggregate_type, event_type, count(*),
                (array_agg(outbox_event_id order by created_at, outbox_event_id))[1]
         from messaging.outbox_event where status in ('PENDING', 'FAILED') group by 1, 2, 3 order by 1, 2, 3",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert!(streams.len() > 1 && streams.iter().any(|s| s.3 > 1), "the seed leaves several streams waiting: {streams:?}");

    let first = run(&pool, CheckName::OutboxBacklog).await;
    let backlog: Vec<(Uuid, Uuid, Uuid, serde_json::Value)> = sqlx::query_as(
        "select mismatch_id, entity_id, tenant_id, observed_state from ops.reconciliation_mismatch
         where check_name = 'OUTBOX_BACKLOG' and mismatch_type = 'OUTBOX_STREAM_BACKLOG' and status = 'OPEN'
         order by tenant_id, observed_state->>'aggregate_type', observed_state->>'event_type'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let seen: Vec<(Uuid, String, String, i64, Uuid)> = backlog
        .iter()
        .map(|(_, _, tenant, o)| {
            let text = |k: &str| o[k].as_str().unwrap().to_string();
            (*tenant, text("aggregate_type"), text("event_type"), o["waiting"].as_i64().unwrap(), text("oldest_event_id").parse().unwrap())
        })
        .collect();
    assert_eq!(seen, streams, "one mismatch per stream, with its count and oldest event");
    let claims: i64 = sqlx::query_scalar(
        "select count(*) from ops.reconciliation_mismatch where check_name = 'OUTBOX_BACKLOG' and mismatch_type = 'STALE_OUTBOX_CLAIMS'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(first.mismatches, streams.len() as i64 + claims, "{first:?}");

    // A re-check names the stream by its id.
    let (mismatch, stream, tenant, observed) = backlog[0].clone();
    let scope = reconcile::Scope { entities: Some(vec![stream]), as_of: chrono::Utc::now(), ..reconcile::Scope::default() };
    let mut db = pool.acquire().await.unwrap();
    let rechecked = reconcile::checks::examine(CheckName::OutboxBacklog, &mut db, None, &scope).await.unwrap();
    drop(db);
    assert_eq!((rechecked.checked, rechecked.findings.len()), (1, 1), "{rechecked:?}");
    assert_eq!(rechecked.findings[0].entity_id, stream);

    // The relay publishes the stream: the next run resolves its mismatch, and only its.
    sqlx::query(
        "update messaging.outbox_event set status = 'PUBLISHED', published_at = now(), claimed_by = null, claimed_at = null
         where tenant_id = $1 and aggregate_type = $2 and event_type = $3 and status in ('PENDING', 'FAILED')",
    )
    .bind(tenant)
    .bind(observed["aggregate_type"].as_str().unwrap())
    .bind(observed["event_type"].as_str().unwrap())
    .execute(&pool)
    .await
    .unwrap();
    let second = run(&pool, CheckName::OutboxBacklog).await;
    assert_eq!((second.resolved, second.mismatches), (1, first.mismatches - 1), "{second:?}");
    let status: String = sqlx::query_scalar("select status from ops.reconciliation_mismatch where mismatch_id = $1")
        .bind(mismatch)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(status, "RESOLVED");
}

/// Stale claims are judged per relay and tenant, the grain of their repair: one mismatch says how many the
/// relay holds past the lease there, since when, and names the oldest. Taken to its suggested repair, the
/// form filled from the mismatch (the oldest event), the repair releases that relay's claims in that
/// tenant only — another tenant's are another repair's — and the re-check resolves the mismatch.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn stale_claims_are_one_mismatch_per_relay_and_tenant_and_their_repair_releases_that_tenants_only(pool: PgPool) {
    seeded(&pool).await;
    let stale_sql = "select tenant_id, claimed_by, count(*), min(claimed_at),
                            (array_agg(outbox_event_id order by claimed_at, outbox_event_id))[1]
                       from messaging.outbox_event where status = 'PROCESSING' and claimed_at < now() - interval '10 minutes'
                      group by 1, 2 order by 1, 2";
    let stale: Vec<(Uuid, String, i64, chrono::DateTime<chrono::Utc>, Uuid)> =
        sqlx::query_as(stale_sql).fetch_all(&pool).await.unwrap();
    let run = run(&pool, CheckName::OutboxBacklog).await;
    let ids: Vec<Uuid> = sqlx::query_scalar(
        "select mismatch_id from ops.reconciliation_mismatch where mismatch_type = 'STALE_OUTBOX_CLAIMS' and status = 'OPEN'
          order by tenant_id, observed_state->>'relay'",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let mut found = Vec::new();
    for id in ids {
        found.push(reconcile::mismatch_detail(&pool, &demo_user("oscar.operator"), id).await.unwrap().mismatch);
    }
    let seen: Vec<(Uuid, String, i64, chrono::DateTime<chrono::Utc>, Uuid)> = found
        .iter()
        .map(|m| {
            let o = &m.observed_state;
            let at = serde_json::from_value(o["oldest_claimed_at"].clone()).unwrap();
            (m.tenant_id.unwrap(), o["relay"].as_str().unwrap().into(), o["stale"].as_i64().unwrap(), at, o["oldest_event_id"].as_str().unwrap().parse().unwrap())
        })
        .collect();
    assert_eq!(seen, stale, "one mismatch per relay and tenant, with its count, oldest claim and event");
    assert!(run.checked < stale.iter().map(|s| s.2).sum::<i64>(), "relays and streams examined, not events: {run:?}");

    // A relay whose claims span tenants: repaired in one of them.
    let (tenant, relay) = stale
        .iter()
        .find(|s| stale.iter().any(|o| o.1 == s.1 && o.0 != s.0))
        .map(|s| (s.0, s.1.clone()))
        .expect("a dead relay of the seed claimed events of several tenants");
    let mismatch = found.iter().find(|m| m.tenant_id == Some(tenant) && m.observed_state["relay"] == relay.as_str()).unwrap();
    assert_eq!(mismatch.suggested_repair.as_deref(), Some("release-stale-claims"));
    let oscar = demo_user("oscar.operator");
    let incident = declare(&pool, &oscar, "SEV3", &[TenantId::from_uuid(tenant)], &[]).await.incident_id;
    let services = Services::new(engine());
    let requested = request_suggested_repair(&pool, &services, mismatch, incident, "reconciliation found a dead relay's claims").await;
    let oldest: Uuid = mismatch.observed_state["oldest_event_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(requested.entity_id, oldest, "the repair is named by the oldest event");
    let executed = execute_repair(&pool, &services, &oscar, requested.repair_id, Some(&requested.proposed_change_hash)).await.unwrap();
    assert_eq!(executed.repair.status, RepairStatus::Executed);

    let held: Vec<(Uuid, i64)> = sqlx::query_as(
        "select tenant_id, count(*) from messaging.outbox_event where status = 'PROCESSING' and claimed_by = $1 group by 1 order by 1",
    )
    .bind(&relay)
    .fetch_all(&pool)
    .await
    .unwrap();
    let before: Vec<(Uuid, i64)> = stale.iter().filter(|s| s.1 == relay && s.0 != tenant).map(|s| (s.0, s.2)).collect();
    assert_eq!(held, before, "released in the repair's tenant, kept in the others");
    assert_eq!(status(&pool, mismatch.mismatch_id).await, "RESOLVED", "the re-check found no claim of the relay left there");
    let others_open = found.iter().filter(|m| m.mismatch_id != mismatch.mismatch_id);
    for other in others_open {
        assert_eq!(status(&pool, other.mismatch_id).await, "OPEN", "{other:?}");
    }
}

/// A whole run holds its check's advisory lock on a pooled connection and gives it back released and
/// open: no lock is left behind, and the pool's connections (warm, with their caches) are the same ones
/// after a run as before it.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_run_gives_its_lock_connection_back_to_the_pool_released_and_open(pool: PgPool) {
    seeded(&pool).await;
    let few = few_connections(&pool).await;
    let backends = async || on_each_connection::<i32>(&few, "select pg_backend_pid()").await.into_iter().collect::<BTreeSet<_>>();
    let before = backends().await;
    run(&few, CheckName::QuoteApproval).await;
    run(&few, CheckName::StuckOrder).await;
    assert_eq!(backends().await, before, "the same connections, none closed and reopened");
    let locks: i64 = sqlx::query_scalar("select count(*) from pg_locks where locktype = 'advisory' and database = (select oid from pg_database where datname = current_database())")
        .fetch_one(&few)
        .await
        .unwrap();
    assert_eq!(locks, 0, "no check's lock is left held");
}

const FEW: u32 = 3;

/// A pool of [`FEW`] connections to the test's database, all open from the start.
async fn few_connections(pool: &PgPool) -> PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(FEW)
        .min_connections(FEW)
        .connect_with((*pool.connect_options()).clone())
        .await
        .unwrap()
}

/// `sql`'s one value on each of the pool's connections (held at once, so every one is asked).
async fn on_each_connection<T>(few: &PgPool, sql: &'static str) -> Vec<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
{
    let mut held = Vec::new();
    for _ in 0..FEW {
        held.push(few.acquire().await.unwrap());
    }
    let mut values = Vec::new();
    for connection in &mut held {
        values.push(sqlx::query_scalar::<_, T>(sql).fetch_one(&mut **connection).await.unwrap());
    }
    values
}
