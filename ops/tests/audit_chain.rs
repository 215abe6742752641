//! The audit log's hash chain holds end to end, even under concurrent writers, and the verifier finds the
//! first line that was changed, removed or inserted behind the application's back.

mod common;

use common::*;
use ops::audit::{verify_chain, BreakKind};
use ops::identity::Role;
use platform::tenants::ACME;
use sqlx::PgPool;

fn admin() -> ops::identity::Actor {
    ops::testing::demo_user("adam.admin")
}

/// Some evidence: a few incidents declared and noted, from several tasks at once.
async fn evidence(pool: &PgPool) {
    let world = world(pool, ACME, "chain").await;
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..8 {
        let pool = pool.clone();
        let order = world.order;
        let severity = if n % 2 == 0 { "SEV2" } else { "SEV3" };
        tasks.spawn(async move { declare(&pool, &operator(), severity, &[ACME], &[order]).await });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// Rewrites the log as only the table's owner can: with the append-only trigger switched off.
async fn behind_the_back(pool: &PgPool, statement: &str) {
    let mut tx = pool.begin().await.unwrap();
    sqlx::query("alter table ops.audit_log disable trigger append_only_rows").execute(&mut *tx).await.unwrap();
    sqlx::query(statement).execute(&mut *tx).await.unwrap();
    sqlx::query("alter table ops.audit_log enable trigger append_only_rows").execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn middle_line(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select audit_id from ops.audit_log order by chain_seq offset 3 limit 1").fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_chain_written_by_concurrent_commands_holds(pool: PgPool) {
    evidence(&pool).await;
    let lines: i64 = sqlx::query_scalar("select count(*) from ops.audit_log").fetch_one(&pool).await.unwrap();
    assert!(lines >= 8, "{lines}");
    let report = verify_chain(&pool, &admin()).await.unwrap();
    assert!(report.holds(), "{report:?}");
    assert_eq!(report.lines_checked, lines);
    // The check is itself on the record, and the chain still holds with it.
    let checks: i64 = sqlx::query_scalar("select count(*) from ops.audit_log where action = 'audit.verify' and outcome = 'SUCCEEDED'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(checks, 1);
    assert!(verify_chain(&pool, &admin()).await.unwrap().holds());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_changed_line_is_found(pool: PgPool) {
    evidence(&pool).await;
    let changed = middle_line(&pool).await;
    behind_the_back(&pool, &format!("update ops.audit_log set reason = 'nothing to see' where audit_id = {changed}")).await;
    let report = verify_chain(&pool, &admin()).await.unwrap();
    let broken = report.broken.expect("the change is found");
    assert_eq!((broken.audit_id, broken.problem), (changed, BreakKind::Content));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_removed_line_breaks_the_link_of_the_next(pool: PgPool) {
    evidence(&pool).await;
    let removed = middle_line(&pool).await;
    let next: i64 = sqlx::query_scalar(
        "select audit_id from ops.audit_log where chain_seq > (select chain_seq from ops.audit_log where audit_id = $1)
         order by chain_seq limit 1",
    )
    .bind(removed)
    .fetch_one(&pool)
    .await
    .unwrap();
    behind_the_back(&pool, &format!("delete from ops.audit_log where audit_id = {removed}")).await;
    let broken = verify_chain(&pool, &admin()).await.unwrap().broken.expect("the removal is found");
    assert_eq!((broken.audit_id, broken.problem), (next, BreakKind::Link));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn only_an_administrator_may_verify(pool: PgPool) {
    let error = verify_chain(&pool, &actor("oscar.operator", &[Role::Operator], ops::identity::TenantScope::All)).await.unwrap_err();
    assert_eq!(error.kind(), ops::ErrorKind::NotAllowed);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_last_verification_says_what_it_found(pool: PgPool) {
    assert_eq!(ops::audit::last_verification(&pool, &admin()).await.unwrap(), None);
    evidence(&pool).await;
    let changed = middle_line(&pool).await;
    behind_the_back(&pool, &format!("update ops.audit_log set actor_name = 'someone else' where audit_id = {changed}")).await;
    verify_chain(&pool, &admin()).await.unwrap();
    let last = ops::audit::last_verification(&pool, &admin()).await.unwrap().expect("a verification");
    assert_eq!(last.by, "adam.admin");
    assert!(!last.holds);
    assert_eq!((last.broken_at, last.problem), (Some(changed), Some(BreakKind::Content)));
}
