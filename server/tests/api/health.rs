use serde_json::Value;
use sqlx::PgPool;

use crate::helpers::{spawn_app, spawn_app_with, test_config, unreachable_pool, waiting_outbox_events};

/// The metrics recorder is process-wide: tests that scrape a real database's figures take turns, so one
/// test's scrape cannot overwrite another's gauges between export and render.
pub static SCRAPE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn healthz_answers_ok_without_touching_any_dependency() {
    let app = spawn_app_with(unreachable_pool(), test_config()).await;
    let (status, body) = app.page("/healthz").await;
    assert_eq!(status, 200);
    assert_eq!(body, "ok");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn readiness_is_degraded_and_names_what_is_affected_when_optional_services_are_down(pool: PgPool) {
    let app = spawn_app(pool).await;
    let started = std::time::Instant::now();
    let response = app.get("/readyz").await;
    assert!(started.elapsed() < std::time::Duration::from_secs(4), "readiness took {:?}", started.elapsed());
    assert_eq!(response.status().as_u16(), 200);
    let readiness: Value = response.json().await.unwrap();
    assert_eq!(readiness["status"], "degraded");

    let component = |name: &str| {
        readiness["components"].as_array().unwrap().iter().find(|c| c["component"] == name).cloned().unwrap()
    };
    let postgres = component("postgres");
    assert_eq!(postgres["status"], "up");
    assert!(postgres.get("affected").is_none());

    for name in ["redis", "kafka", "engine", "identity"] {
        let down = component(name);
        assert_eq!(down["status"], "down", "{name}");
        assert!(!down["error"].as_str().unwrap().is_empty(), "{name} says why it is down");
        assert!(down["latency_ms"].is_u64(), "{name} has a latency");
    }
    assert_eq!(component("redis")["affected"], "dashboard cache, rate limits (console runs from PostgreSQL)");
    assert!(component("kafka")["affected"].as_str().unwrap().contains("outbox"));
    assert!(component("engine")["affected"].as_str().unwrap().contains("orchestration"));
    assert!(component("identity")["affected"].as_str().unwrap().contains("sign-in"));
}

#[tokio::test]
async fn readiness_is_503_when_postgres_is_down() {
    let app = spawn_app_with(unreachable_pool(), test_config()).await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status().as_u16(), 503);
    let readiness: Value = response.json().await.unwrap();
    assert_eq!(readiness["status"], "unavailable");
    let postgres = &readiness["components"][0];
    assert_eq!(postgres["component"], "postgres");
    assert_eq!(postgres["status"], "down");
    assert_eq!(postgres["required"], true);
}

#[tokio::test]
async fn a_page_without_its_database_answers_503_and_says_why() {
    let app = spawn_app_with(unreachable_pool(), test_config()).await;
    // Sessions live in PostgreSQL too: a browser bringing its session cookie cannot be served.
    let response = app
        .client
        .get(format!("{}/orders", app.address))
        .header("cookie", "opsdeck_session=AQAAAAAAAAAAAAAAAAAAAA")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let body = response.text().await.unwrap();
    assert!(body.contains("PostgreSQL is not answering"), "{body}");
}

#[tokio::test]
async fn health_readiness_and_metrics_need_no_session_and_set_no_cookie() {
    let app = spawn_app_with(unreachable_pool(), test_config()).await;
    for path in ["/healthz", "/readyz", "/metrics"] {
        let response = app.get(path).await;
        assert_ne!(response.status().as_u16(), 303, "{path} is not behind sign-in");
        assert!(response.headers().get("set-cookie").is_none(), "{path} sets no cookie");
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn metrics_export_readiness_per_component(pool: PgPool) {
    let _turn = SCRAPE.lock().await;
    let app = spawn_app(pool).await;
    let (status, body) = app.page("/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("# TYPE opsdeck_dependency_up gauge"), "{body}");
    assert!(body.contains(r#"opsdeck_dependency_up{component="postgres"} 1"#), "{body}");
    for name in ["redis", "kafka", "engine", "identity"] {
        assert!(body.contains(&format!(r#"opsdeck_dependency_up{{component="{name}"}}"#)), "{name}: {body}");
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn metrics_export_the_outbox_backlog_the_dashboard_shows(pool: PgPool) {
    // Two events waiting, the oldest ten minutes old: whichever process relays, the console exports them.
    waiting_outbox_events(&pool, 2).await;
    let _turn = SCRAPE.lock().await;
    let app = spawn_app(pool).await;
    let (status, body) = app.page("/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("opsdeck_outbox_pending 2"), "{body}");
    let age: f64 = body
        .lines()
        .find_map(|l| l.strip_prefix("opsdeck_outbox_oldest_pending_age_seconds "))
        .expect("oldest pending age exported")
        .parse()
        .unwrap();
    assert!((600.0..700.0).contains(&age), "oldest pending age {age}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_stylesheet_is_served(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app.get("/style/opsdeck.css").await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/css"));
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    assert!(response.headers().contains_key("last-modified"), "a browser can revalidate");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_favicon_is_served_from_public_with_caching_headers(pool: PgPool) {
    let app = spawn_app(pool).await;
    let response = app.get("/public/favicon.svg").await;
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("image/svg+xml"));
    assert_eq!(response.headers()["cache-control"], "public, max-age=3600");
    // An escaped separator (a plain `..` is resolved by the client before it is sent).
    let response = app.get("/public/..%2f..%2fCargo.toml").await;
    assert_eq!(response.status().as_u16(), 404, "nothing outside public/ is served");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn metrics_export_the_reconciliation_counts(pool: PgPool) {
    platform::seed::run(&pool, &platform::seed::SeedParams { orders: 1_000, extra_tenants: 0, anomaly_rate: 0.02, rng_seed: 3 })
        .await
        .unwrap();
    let oscar = ops::testing::demo_user("oscar.operator");
    let request = ops::reconcile::RunRequest::one(ops::reconcile::CheckName::StuckOrder, ops::reconcile::RunOrigin::Console);
    let run = ops::reconcile::run(&pool, None, &oscar, &request).await.unwrap().remove(0);
    let _turn = SCRAPE.lock().await;
    let app = spawn_app(pool).await;
    let (status, body) = app.page("/metrics").await;
    assert_eq!(status, 200);
    let open = format!(r#"opsdeck_reconciliation_mismatches_open_by_check{{check="STUCK_ORDER",status="OPEN"}} {}"#, run.mismatches);
    assert!(body.contains(&open), "{open} in {body}");
    assert!(body.contains(r#"opsdeck_reconciliation_mismatches_open_by_check{check="QUOTE_ORDER",status="OPEN"} 0"#), "{body}");
    assert!(body.contains(r#"opsdeck_reconciliation_runs{check="STUCK_ORDER",status="COMPLETED"} 1"#), "{body}");
    assert!(body.contains("opsdeck_reconciliation_runs_running 0"), "{body}");
    assert!(body.contains(&format!(r#"opsdeck_reconciliation_mismatches_open_by_safety{{safety="CAUTION"}} {}"#, run.mismatches)), "{body}");
}
