//! Mitigation switches as commands: each switch is honoured by the code that reads it, every change is
//! appended to the history with actor and reason, and a change without a real reason is refused.

use platform::command::accept_quote;
use platform::control::{list_controls, set_control, Control, ControlChange};
use platform::quote::QuoteStatus;
use platform::tenants::{self, ACME, GLOBEX};
use platform::testing::{approved_quote, ctx};
use platform::Error;
use sqlx::PgPool;

fn change(control: Control, enabled: bool) -> ControlChange {
    ControlChange { control, enabled, reason: "incident INC-42 mitigation".into(), actor: "oscar.operator".into(), incident_id: None }
}

async fn set(pool: &PgPool, c: ControlChange) -> platform::control::ControlState {
    let mut tx = pool.begin().await.unwrap();
    let state = set_control(&mut tx, &c).await.unwrap();
    tx.commit().await.unwrap();
    state
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn acceptance_is_refused_while_disabled_for_the_tenant_and_allowed_after(pool: PgPool) {
    let quote = approved_quote(&pool, ACME, "Q-7001").await;
    let other = approved_quote(&pool, GLOBEX, "Q-7002").await;
    set(&pool, change(Control::DisableQuoteAcceptance { tenant: ACME }, true)).await;

    let mut tx = pool.begin().await.unwrap();
    let err = accept_quote(&mut tx, ACME, quote, "accept-7001", &ctx()).await.unwrap_err();
    assert!(matches!(&err, Error::Refused { reason } if reason.contains("acceptance is disabled")), "{err}");
    drop(tx);
    // Another tenant is not affected.
    let mut tx = pool.begin().await.unwrap();
    accept_quote(&mut tx, GLOBEX, other, "accept-7002", &ctx()).await.unwrap();
    tx.commit().await.unwrap();

    let state = set(&pool, change(Control::DisableQuoteAcceptance { tenant: ACME }, false)).await;
    assert_eq!(state.version, 2);
    let mut tx = pool.begin().await.unwrap();
    let accepted = accept_quote(&mut tx, ACME, quote, "accept-7001", &ctx()).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(accepted.quote.to, QuoteStatus::Accepted);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn relay_consumer_and_orchestration_switches_are_seen_by_their_readers(pool: PgPool) {
    tenants::ensure_well_known(&pool).await.unwrap();
    assert!(!platform::relay::relay_paused(&pool).await.unwrap());
    set(&pool, change(Control::PauseRelay, true)).await;
    assert!(platform::relay::relay_paused(&pool).await.unwrap());
    set(&pool, change(Control::PauseRelay, false)).await;
    assert!(!platform::relay::relay_paused(&pool).await.unwrap());

    set(&pool, change(Control::PauseConsumer { group: "order-projection".into() }, true)).await;
    assert!(platform::projection::consumer_paused(&pool, "order-projection").await.unwrap());
    assert!(!platform::projection::consumer_paused(&pool, "other-group").await.unwrap());

    set(&pool, change(Control::PauseOrchestrationStarts { tenant: Some(ACME) }, true)).await;
    assert!(platform::orchestration::orchestration_starts_paused(&pool, ACME).await.unwrap());
    assert!(!platform::orchestration::orchestration_starts_paused(&pool, GLOBEX).await.unwrap());
    set(&pool, change(Control::PauseOrchestrationStarts { tenant: None }, true)).await;
    assert!(platform::orchestration::orchestration_starts_paused(&pool, GLOBEX).await.unwrap());

    let listed = list_controls(&pool).await.unwrap();
    assert_eq!(listed.len(), 4);
    assert!(listed.iter().all(|c| c.changed_by == "oscar.operator"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_change_appends_history_with_actor_and_reason(pool: PgPool) {
    let incident = uuid::Uuid::now_v7();
    for enabled in [true, false, true] {
        let mut c = change(Control::PauseRelay, enabled);
        c.incident_id = Some(incident);
        set(&pool, c).await;
    }
    let rows: Vec<(bool, String, String, Option<uuid::Uuid>)> = sqlx::query_as(
        "select enabled, reason, changed_by, incident_id from ops.platform_control_change
         where control_key = 'PAUSE_RELAY' order by changed_at, change_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(rows.iter().map(|r| r.0).collect::<Vec<_>>(), vec![true, false, true]);
    assert!(rows.iter().all(|r| r.1 == "incident INC-42 mitigation" && r.2 == "oscar.operator" && r.3 == Some(incident)));
    let version: i64 = sqlx::query_scalar("select version from ops.platform_control where control_key = 'PAUSE_RELAY'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(version, 3);
    // The history is append-only in the database too.
    assert!(sqlx::query("delete from ops.platform_control_change").execute(&pool).await.is_err());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_change_with_a_short_reason_is_refused_and_writes_nothing(pool: PgPool) {
    let mut c = change(Control::PauseRelay, true);
    c.reason = "because".into();
    let mut tx = pool.begin().await.unwrap();
    let err = set_control(&mut tx, &c).await.unwrap_err();
    assert!(matches!(err, Error::Invalid { field: "reason", .. }), "{err}");
    tx.commit().await.unwrap();
    assert!(list_controls(&pool).await.unwrap().is_empty());
    assert!(!platform::relay::relay_paused(&pool).await.unwrap());
}
