//! Cross-site request forgery: state-changing requests are served only from the console's own origin.

use sqlx::PgPool;

use crate::helpers::{audit_lines, location, signed_in_app, CONSOLE_URL};

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_cross_origin_form_post_is_refused_and_audited_under_the_victims_name(pool: PgPool) {
    let app = signed_in_app(pool.clone(), "oscar.operator").await;

    let response = app.post_form("/auth/logout", &[], Some("http://evil.example")).await;

    assert_eq!(response.status().as_u16(), 403);
    let body = response.text().await.unwrap();
    assert!(body.contains("the request came from http://evil.example"), "{body}");
    assert_eq!(app.page("/me").await.0, 200, "the forged sign-out did nothing");
    let lines = audit_lines(&pool).await;
    let refused = lines.iter().find(|l| l.action == "CROSS_ORIGIN_REQUEST").expect("an audit line");
    assert_eq!((refused.outcome.as_str(), refused.actor_name.as_str()), ("REFUSED", "oscar.operator"));
    assert_eq!(refused.detail["path"], "/auth/logout");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_post_with_neither_origin_nor_referer_is_refused(pool: PgPool) {
    let app = signed_in_app(pool, "oscar.operator").await;
    let response = app.post_form("/auth/logout", &[], None).await;
    assert_eq!(response.status().as_u16(), 403);
    assert!(response.text().await.unwrap().contains("neither where it came from"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_post_from_another_port_of_the_same_host_is_refused(pool: PgPool) {
    let app = signed_in_app(pool, "oscar.operator").await;
    let response = app.post_form("/auth/logout", &[], Some("http://127.0.0.1:3001")).await;
    assert_eq!(response.status().as_u16(), 403);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_same_origin_post_is_served(pool: PgPool) {
    let app = signed_in_app(pool, "oscar.operator").await;
    let response = app.post_form("/auth/logout", &[], Some(CONSOLE_URL)).await;
    assert_eq!(response.status().as_u16(), 303);
    assert_eq!(app.page("/me").await.0, 303, "signed out");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn without_origin_a_referer_from_the_console_is_enough(pool: PgPool) {
    let app = signed_in_app(pool, "oscar.operator").await;
    let response = app
        .client
        .post(format!("{}/auth/logout", app.address))
        .header("referer", format!("{CONSOLE_URL}/orders"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 303);
    assert!(!location(&response).is_empty());
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_cross_origin_post_without_a_session_is_refused_and_not_audited(pool: PgPool) {
    let app = crate::helpers::spawn_app(pool.clone()).await;
    let response = app.post_form("/auth/logout", &[], Some("http://evil.example")).await;
    assert_eq!(response.status().as_u16(), 403);
    assert!(audit_lines(&pool).await.is_empty(), "nobody to name");
}
