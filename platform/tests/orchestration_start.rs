//! Durable orchestration starts against the real services: the capture records the start, the starter
//! carries it out once per order — adopting an instance an unfinished attempt left behind, also when the
//! starter process is killed between the engine's answer and its commit — honours the pause switch,
//! skips orders that no longer need a start, and gives up visibly. Each test has its own database, so
//! a starter only sees that test's orders; the instances it starts are deleted at the end.

mod fixtures;

use std::time::Duration;

use fixtures::{
    captured_order, database_url, delete_instance, engine, engine_url, instances, order_status, start_row,
    start_transitions, starter, starter_config, WAIT,
};
use platform::command::apply_order_command;
use platform::control::{set_control, Control, ControlChange};
use platform::engine::{BusinessKey, ORDER_ORCHESTRATION_KEY};
use platform::ids::OrderId;
use platform::order::OrderCommand;
use platform::orchestration::{ensure_deployed, start_backlog, Starter, StarterConfig, STARTER_KIND};
use platform::query::{order_detail, OrderLookup};
use platform::tenants::ACME;
use sqlx::PgPool;
use tokio::time::{sleep, Instant};

/// A child process that is killed when the test ends, whichever way it ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs rounds of `starter` until no start is pending, or fails after [`WAIT`].
async fn drain(pool: &PgPool, starter: &Starter) {
    let deadline = Instant::now() + WAIT;
    loop {
        starter.start_due().await.unwrap();
        if start_backlog(pool).await.unwrap().pending == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "starts still pending: {:?}", start_backlog(pool).await.unwrap());
        sleep(Duration::from_millis(100)).await;
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_capture_records_the_start_and_the_starter_carries_it_out_once(pool: PgPool) {
    ensure_deployed(&engine()).await.unwrap();
    let order = captured_order(&pool, "Q-7101").await;
    let pending = start_row(&pool, order).await;
    assert_eq!((pending.status.as_str(), pending.attempts), ("PENDING", 0), "written with the order");

    let starter = starter(&pool, starter_config());
    let round = starter.start_due().await.unwrap();
    assert_eq!((round.claimed, round.started), (1, 1), "{round:?}");
    assert_eq!(order_status(&pool, order).await, "ORCHESTRATING");
    let start = start_row(&pool, order).await;
    let running = instances(ACME, order).await;
    assert_eq!(running.len(), 1);
    assert_eq!(start.status, "STARTED");
    assert_eq!(start.process_instance_id.as_deref(), Some(running[0].id.as_str()));
    assert_eq!(start.attempts, 1);
    assert_eq!(start.settled_by.as_deref(), Some(starter.config().instance_id.as_str()));
    assert_eq!(start.claimed_by, None, "a settled start holds no claim");

    // Nothing is due any more: a second round claims nothing and starts nothing.
    let again = starter.start_due().await.unwrap();
    assert_eq!(again.claimed, 0, "{again:?}");
    assert_eq!(instances(ACME, order).await.len(), 1);
    let transitions = start_transitions(&pool, order).await;
    assert_eq!(transitions.len(), 1);
    assert_eq!(transitions[0].0, format!("{STARTER_KIND}:{}", starter.config().instance_id));

    let detail = order_detail(&mut pool.acquire().await.unwrap(), ACME, &OrderLookup::Id(order)).await.unwrap().unwrap();
    let shown = detail.orchestration_start.expect("the order detail shows the start");
    assert_eq!((shown.status.as_str(), shown.process_instance_id), ("STARTED", Some(running[0].id.clone())));
    delete_instance(&running[0].id).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_instance_left_by_an_attempt_that_never_committed_is_adopted_not_duplicated(pool: PgPool) {
    ensure_deployed(&engine()).await.unwrap();
    let order = captured_order(&pool, "Q-7102").await;
    // What an attempt that died after the engine's answer leaves: an instance, and a CAPTURED order.
    let key = BusinessKey::for_order(ACME, order);
    let orphan = engine().start(ORDER_ORCHESTRATION_KEY, &key, &[("tenantId", ACME.to_string())]).await.unwrap();

    let round = starter(&pool, starter_config()).start_due().await.unwrap();
    assert_eq!((round.adopted, round.started), (1, 0), "{round:?}");
    let running = instances(ACME, order).await;
    assert_eq!(running.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [orphan.id.as_str()]);
    assert_eq!(order_status(&pool, order).await, "ORCHESTRATING");
    assert_eq!(start_row(&pool, order).await.process_instance_id, Some(orphan.id.clone()));
    let transitions = start_transitions(&pool, order).await;
    assert_eq!(transitions.len(), 1);
    assert!(transitions[0].1.as_deref().unwrap_or_default().contains(&format!("adopt process instance {}", orphan.id)));
    delete_instance(&orphan.id).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn two_starters_side_by_side_start_every_order_exactly_once(pool: PgPool) {
    ensure_deployed(&engine()).await.unwrap();
    let mut orders: Vec<OrderId> = Vec::new();
    for n in 0..6 {
        orders.push(captured_order(&pool, &format!("Q-72{n:02}")).await);
    }
    let config = |name: &str| StarterConfig { concurrency: 2, ..StarterConfig { instance_id: name.into(), ..starter_config() } };
    let (a, b) = (starter(&pool, config("starter-a")), starter(&pool, config("starter-b")));
    tokio::join!(drain(&pool, &a), drain(&pool, &b));

    let (ca, cb) = (a.stats().snapshot().totals, b.stats().snapshot().totals);
    assert_eq!(ca.started + cb.started, 6, "{ca:?} {cb:?}");
    assert_eq!(ca.claimed + cb.claimed, 6, "skip locked: no start was claimed twice ({ca:?} {cb:?})");
    for order in orders {
        let running = instances(ACME, order).await;
        assert_eq!(running.len(), 1, "order {order}");
        assert_eq!(start_transitions(&pool, order).await.len(), 1);
        assert_eq!(order_status(&pool, order).await, "ORCHESTRATING");
        delete_instance(&running[0].id).await;
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn paused_starts_wait_without_spending_attempts_and_go_once_the_switch_is_off(pool: PgPool) {
    ensure_deployed(&engine()).await.unwrap();
    let order = captured_order(&pool, "Q-7103").await;
    let switch = |enabled| ControlChange {
        control: Control::PauseOrchestrationStarts { tenant: Some(ACME) },
        enabled,
        reason: "engine maintenance window".into(),
        actor: "test:operator".into(),
        incident_id: None,
    };
    let mut tx = pool.begin().await.unwrap();
    set_control(&mut tx, &switch(true)).await.unwrap();
    tx.commit().await.unwrap();

    let starter = starter(&pool, starter_config());
    for _ in 0..3 {
        assert_eq!(starter.start_due().await.unwrap().claimed, 0);
    }
    assert_eq!(order_status(&pool, order).await, "CAPTURED");
    let waiting = start_row(&pool, order).await;
    assert_eq!((waiting.status.as_str(), waiting.attempts), ("PENDING", 0));
    assert!(instances(ACME, order).await.is_empty());

    let mut tx = pool.begin().await.unwrap();
    set_control(&mut tx, &switch(false)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(starter.start_due().await.unwrap().started, 1);
    let running = instances(ACME, order).await;
    assert_eq!(running.len(), 1);
    delete_instance(&running[0].id).await;
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_start_whose_order_was_cancelled_meanwhile_is_skipped_with_the_reason(pool: PgPool) {
    let order = captured_order(&pool, "Q-7104").await;
    let mut tx = pool.begin().await.unwrap();
    apply_order_command(&mut tx, ACME, order, None, OrderCommand::Cancel, &platform::testing::ctx()).await.unwrap();
    tx.commit().await.unwrap();

    let round = starter(&pool, starter_config()).start_due().await.unwrap();
    assert_eq!((round.skipped, round.started), (1, 0), "{round:?}");
    let start = start_row(&pool, order).await;
    assert_eq!(start.status, "SKIPPED");
    assert!(start.reason.unwrap_or_default().contains("order is CANCELLED"));
    assert!(instances(ACME, order).await.is_empty());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_start_whose_attempts_all_ended_without_an_outcome_is_given_up_naming_the_last_claimer(pool: PgPool) {
    let order = captured_order(&pool, "Q-7105").await;
    // Three claims, each by a starter that died before settling; the last one's lease is over.
    sqlx::query(
        "update oms.orchestration_start
         set attempts = 3, last_attempt_at = now() - interval '1 minute', claimed_by = 'orchestration-starter-dead',
             claimed_at = now() - interval '1 minute', next_attempt_at = now() - interval '1 second'
         where order_id = $1",
    )
    .bind(order)
    .execute(&pool)
    .await
    .unwrap();
    let starter = starter(&pool, StarterConfig { max_attempts: 3, ..starter_config() });
    let round = starter.start_due().await.unwrap();
    assert_eq!((round.gave_up, round.claimed), (1, 0), "{round:?}");
    let start = start_row(&pool, order).await;
    assert_eq!(start.status, "GAVE_UP");
    let reason = start.reason.unwrap();
    assert!(reason.contains("after 3 attempts") && reason.contains("orchestration-starter-dead"), "{reason}");
    assert_eq!(order_status(&pool, order).await, "CAPTURED");
    assert_eq!(start_backlog(&pool).await.unwrap().given_up_waiting, 1);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_starter_killed_between_the_engines_answer_and_its_commit_leaves_one_instance_per_order(pool: PgPool) {
    ensure_deployed(&engine()).await.unwrap();
    let mut orders: Vec<OrderId> = Vec::new();
    for n in 0..3 {
        orders.push(captured_order(&pool, &format!("Q-73{n:02}")).await);
    }
    // Hold the outbox: an attempt gets its instance from the engine, then waits in the order command's
    // outbox insert — after the engine's answer, before its commit.
    let mut gate = pool.begin().await.unwrap();
    sqlx::query("lock table messaging.outbox_event in share mode").execute(&mut *gate).await.unwrap();

    let doomed = format!("{STARTER_KIND}-doomed-{}", uuid::Uuid::now_v7());
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_orchestration_starter"))
        .env("DATABASE_URL", database_url(&pool).await)
        .env("OPSDECK_ENGINE_URL", engine_url())
        .env("OPSDECK_ENGINE_TIMEOUT_SECS", fixtures::ENGINE_TIMEOUT.as_secs_f64().to_string())
        .env("OPSDECK_START_LEASE_SECS", (fixtures::ENGINE_TIMEOUT * 2).as_secs_f64().to_string())
        .env("OPSDECK_START_CONCURRENCY", "3")
        .env("OPSDECK_START_INSTANCE_ID", &doomed)
        .spawn()
        .expect("the orchestration-starter binary runs");
    let mut child = KillOnDrop(child);
    let deadline = Instant::now() + WAIT;
    let mut orphans = Vec::new();
    for &order in &orders {
        let instance = loop {
            if let Some(instance) = instances(ACME, order).await.into_iter().next() {
                break instance;
            }
            assert!(child.0.try_wait().unwrap().is_none(), "the starter exited by itself");
            assert!(Instant::now() < deadline, "the engine never got a start for {order}");
            sleep(Duration::from_millis(100)).await;
        };
        orphans.push(instance.id);
    }
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    gate.rollback().await.unwrap();

    // The killed attempts committed nothing: the orders are CAPTURED, their starts claimed by the dead.
    for &order in &orders {
        assert_eq!(order_status(&pool, order).await, "CAPTURED");
        let start = start_row(&pool, order).await;
        assert_eq!((start.status.as_str(), start.attempts, start.claimed_by.as_deref()), ("PENDING", 1, Some(doomed.as_str())));
    }
    // Once the dead claims' lease ends, the next starter adopts what they started.
    let heir = starter(&pool, starter_config());
    drain(&pool, &heir).await;
    assert_eq!(heir.stats().snapshot().totals.adopted, 3, "{:?}", heir.stats().snapshot());
    for (order, orphan) in orders.iter().zip(&orphans) {
        let running = instances(ACME, *order).await;
        assert_eq!(running.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), [orphan.as_str()], "order {order}");
        assert_eq!(order_status(&pool, *order).await, "ORCHESTRATING");
        let start = start_row(&pool, *order).await;
        assert_eq!((start.status.as_str(), start.attempts), ("STARTED", 2));
        assert_eq!(start.process_instance_id.as_deref(), Some(orphan.as_str()));
        assert_eq!(start_transitions(&pool, *order).await.len(), 1);
        delete_instance(orphan).await;
    }
}
