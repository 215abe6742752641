//! The business detectors behind the runbooks' alerts that no panel shows: counted per tenant from the
//! system of record, within the viewer's tenants.

use ops::diagnostics::{detectors, overview, Diagnostics, DiagnosticsConfig};
use ops::testing::{demo_user, probe_targets};
use platform::tenants::{ACME, GLOBEX};
use platform::testing::{approved_quote, captured_order};
use sqlx::PgPool;

fn counts(seen: &[detectors::TenantDetectors], slug: &str) -> (i64, i64, i64) {
    let d = seen.iter().find(|d| d.slug == slug).unwrap_or_else(|| panic!("{slug} is listed: {seen:?}"));
    (d.accepted_quotes_without_one_order, d.approvals_unassigned, d.reconciliation_runs_failed)
}

/// An acme quote accepted `ago` (an interval) whose order never came, as a crash between the two would
/// leave it.
async fn accepted_without_order(pool: &PgPool, number: &str, ago: &str) {
    let quote = approved_quote(pool, ACME, number).await;
    sqlx::query("update cpq.quote set status = 'ACCEPTED', accepted_at = now() - $2::interval where quote_id = $1")
        .bind(quote)
        .bind(ago)
        .execute(pool)
        .await
        .unwrap();
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_accepted_quote_without_an_order_and_a_failed_reconciliation_run_are_counted_for_their_tenant(pool: PgPool) {
    // A healthy acceptance: one order. Not counted.
    captured_order(&pool, ACME, "Q-DET-1").await;
    // An acceptance whose order never came, 10 minutes ago.
    accepted_without_order(&pool, "Q-DET-2", "10 minutes").await;
    // One just accepted the same way is still within its grace.
    accepted_without_order(&pool, "Q-DET-3", "0 minutes").await;
    // One accepted two days ago without its order is past the window: the quote ↔ order check's, not
    // this live count's.
    accepted_without_order(&pool, "Q-DET-4", "2 days").await;
    sqlx::query(
        "insert into ops.reconciliation_run (run_id, reconciliation_type, tenant_id, window_start, window_end, started_at,
                                             finished_at, status, error, created_by)
         values (gen_random_uuid(), 'QUOTE_ORDER', $1, now() - interval '1 hour', now(), now() - interval '5 minutes',
                 now() - interval '4 minutes', 'FAILED', 'statement timeout', 'test')",
    )
    .bind(GLOBEX)
    .execute(&pool)
    .await
    .unwrap();

    let diagnostics = Diagnostics::new(pool.clone(), &probe_targets(), DiagnosticsConfig::default());
    let all = overview(&pool, &diagnostics, &demo_user("oscar.operator"), None).await.unwrap();
    assert_eq!(counts(&all.detectors, "acme"), (1, 0, 0));
    assert_eq!(counts(&all.detectors, "globex"), (0, 0, 1));

    // vera sees acme only.
    let vera = overview(&pool, &diagnostics, &demo_user("vera.viewer"), None).await.unwrap();
    assert_eq!(vera.detectors.iter().map(|d| d.slug.as_str()).collect::<Vec<_>>(), ["acme"]);
}
