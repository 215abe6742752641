//! The admin page, signed in through Keycloak: an administrator verifies the audit chain and sees the
//! verdict, sets a repair policy (bad input at its field, nothing written), and nobody else may do either.

use sqlx::PgPool;

use crate::helpers::{idp_config, spawn_app_with, TestApp};

async fn post(app: &TestApp, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
    app.submit(path, fields).await
}

async fn policies(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from ops.repair_policy").fetch_one(pool).await.unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_administrator_verifies_the_chain_and_sets_a_policy(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("adam.admin").await;
    let (status, page) = app.page("/admin").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("has not been verified yet"), "{page}");
    assert!(page.contains(r#"href="/admin""#), "the admin sees the Admin area in the navigation");

    assert_eq!(post(&app, "/admin/audit/verify", &[]).await, (303, "/admin".to_string()));
    let (_, page) = app.page("/admin").await;
    assert!(page.contains("The chain held") && page.contains("checked by adam.admin"), "{page}");

    // A reason too short: said at its field, nothing stored.
    let tenant = platform::tenants::ACME.to_string();
    let short = [("tenant", tenant.as_str()), ("repair_type", "release-stale-claims"), ("min_risk", "HIGH"), ("reason", "because")];
    let (status, page) = post(&app, "/admin/repair-policies", &short).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains(r#"id="policy-reason-error""#), "{page}");
    assert_eq!(policies(&pool).await, 0);

    let good = [
        ("tenant", tenant.as_str()),
        ("repair_type", "release-stale-claims"),
        ("min_risk", "HIGH"),
        ("reason", "acme wants two people on every outbox repair"),
    ];
    assert_eq!(post(&app, "/admin/repair-policies", &good).await, (303, "/admin".to_string()));
    assert_eq!(policies(&pool).await, 1);
    let (_, page) = app.page("/admin").await;
    assert!(page.contains("acme wants two people on every outbox repair"), "{page}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn nobody_else_may_use_the_admin_page(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("oscar.operator").await;
    let (status, page) = app.page("/admin").await;
    assert_eq!(status, 403, "{page}");
    assert!(!page.contains(r#"href="/admin""#), "no Admin area for an operator");
    let (status, _) = post(&app, "/admin/audit/verify", &[]).await;
    assert_eq!(status, 403);
    let verified: i64 = sqlx::query_scalar("select count(*) from ops.audit_log where action = 'audit.verify' and outcome = 'REFUSED'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(verified, 1, "the refusal is on the record");
}
