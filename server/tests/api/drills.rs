//! Drills through the console's forms, signed in through Keycloak: oscar starts a manual-repair drill and
//! lands on its page (what broke, what to do, the end form); ending it with a vague "the runbook was
//! wrong" is refused at the field; ending it properly shows the §22.2 evaluation and the score on the list.
//! A viewer sees the drills but no form, and her post is refused.

use sqlx::PgPool;

use crate::helpers::{idp_config, spawn_app_with};

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_operator_starts_a_drill_and_ends_it_with_its_evaluation(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("oscar.operator").await;
    let (status, page) = app.page("/drills").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("No drill has been run yet") && page.contains(r#"action="/drills""#), "{page}");

    let (status, page) = app.submit("/drills", &[("drill", "chaos-monkey")]).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains(r#"id="drill-drill-error""#), "said at the field: {page}");

    let (status, location) = app.submit("/drills", &[("drill", "manual-repair-dry-run")]).await;
    assert_eq!(status, 303, "{location}");
    assert!(location.starts_with("/drills/"), "{location}");
    let (status, page) = app.page(&location).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("BROKEN") && page.contains("What broke and what to do") && page.contains("End the drill"), "{page}");
    assert!(page.contains(r#"href="/runbooks/stuck-order""#), "{page}");
    let (_, list) = app.page("/drills").await;
    assert!(list.contains("A drill is running"), "{list}");

    let end = format!("{location}/end");
    let (status, page) = app.submit(&end, &[("runbook_accurate", "NO"), ("runbook_gap", "bad")]).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains(r#"id="drill-runbook_gap-error""#), "{page}");
    let (status, _) = app.submit(&end, &[("runbook_accurate", "YES"), ("notes", "nobody worked it: a test")]).await;
    assert_eq!(status, 303);
    let (_, page) = app.page(&location).await;
    assert!(page.contains("Evaluation (§22.2)") && page.contains("Was the alert triggered?"), "{page}");
    assert!(page.contains("FAILED"), "nothing recovered it: {page}");
    let (_, list) = app.page("/drills").await;
    assert!(list.contains("/7"), "the score is listed: {list}");

    let vera = app.fresh_browser();
    vera.sign_in("vera.viewer").await;
    let (status, page) = vera.page("/drills").await;
    assert_eq!(status, 200);
    assert!(!page.contains(r#"action="/drills""#), "no start form for a viewer");
    let (status, _) = vera.submit("/drills", &[("drill", "manual-repair-dry-run")]).await;
    assert_eq!(status, 403);
    let active: i64 = sqlx::query_scalar("select count(*) from ops.drill_run where status in ('RUNNING', 'BROKEN')").fetch_one(&pool).await.unwrap();
    assert_eq!(active, 0, "the refused post started nothing");
}
