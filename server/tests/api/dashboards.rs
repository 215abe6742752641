//! The three dashboards through the console, signed in through Keycloak, on a seeded database: what needs
//! attention at the top, every panel with its figure and chart, the tenant filter, and the refusals
//! (another tenant's board, a board that does not exist, a tenant that is not an id).

use platform::seed::{AnomalyType, SeedParams};
use platform::tenants::{ACME, GLOBEX};
use sqlx::PgPool;

use crate::helpers::{idp_config, spawn_app_with};

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_boards_say_what_needs_attention_and_respect_the_viewers_tenants(pool: PgPool) {
    let report =
        platform::seed::run(&pool, &SeedParams { orders: 300, anomaly_rate: 0.05, ..SeedParams::default() }).await.unwrap();
    ops::dashboard::sample_round(&pool, std::time::Duration::from_secs(3600)).await.unwrap();
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("oscar.operator").await;

    let (status, page) = app.page("/dashboards").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Executive dashboard") && page.contains("Needs attention"), "{page}");
    let stuck = report.anomalies_of(AnomalyType::StuckOrder);
    assert!(page.contains(&format!("Stuck orders (active, untouched 30 min)</strong>: {stuck} — ")), "{page}");
    assert!(page.contains(r#"data-figure="orders_stuck""#) && page.contains(r#"class="sparkline""#), "{page}");
    assert!(page.contains(r#"href="/runbooks/stuck-order""#), "the runbook is a click away");
    assert!(page.contains(r#"href="/reconciliation?check=stuck-order""#), "and the list behind the figure");

    for board in ["service-owner", "incident"] {
        let (status, page) = app.page(&format!("/dashboards/{board}")).await;
        assert_eq!(status, 200, "{board}: {page}");
        assert!(page.contains("data-figure="), "{board} has panels");
    }
    let (status, page) = app.page(&format!("/dashboards/executive?tenant={GLOBEX}&hours=24")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("about Globex"), "the board says whose figures these are: {page}");
    assert!(
        page.contains(&format!(r#"href="/reconciliation?check=stuck-order&amp;tenant={GLOBEX}""#)),
        "the list behind a figure is narrowed to the board's tenant: {page}"
    );

    let (status, _) = app.page("/dashboards/finance").await;
    assert_eq!(status, 404);
    let (status, page) = app.page("/dashboards/executive?tenant=acme%3Cscript%3E").await;
    assert!(status == 400 || status == 422, "{status}");
    assert!(!page.contains("acme<script>"), "input is never echoed unescaped");

    // gwen operates globex only: acme's board is refused.
    let gwen = app.fresh_browser();
    gwen.sign_in("gwen.globex").await;
    let (status, _) = gwen.page(&format!("/dashboards/executive?tenant={ACME}")).await;
    assert_eq!(status, 403);
    let (status, page) = gwen.page("/dashboards/executive").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("about Globex"), "{page}");
}
