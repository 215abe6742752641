//! `/diagnostics`: what is wrong at the top with its runbook, then one section per system; a system that
//! does not answer makes its section say "unavailable" with what is affected, and the page is still 200.
//! The tenant filter is the viewer's scope, as on the other pages.

use platform::tenants::GLOBEX;
use server::secret::Secret;
use sqlx::PgPool;

use crate::helpers::{
    capture_order, env_or, idp_config, spawn_app_with, spawn_app_with_idp, waiting_outbox_events, TestApp,
};

/// The service stack's Redis, Kafka and Operaton (`scripts/stack.sh env`), with the stack's Keycloak.
fn stack_config() -> server::Config {
    let mut config = idp_config();
    config.redis_url = Secret::new(env_or("OPSDECK_REDIS_URL", "redis://127.0.0.1:56379"));
    config.kafka_brokers = platform::testing::kafka_brokers();
    config.engine_url = platform::testing::engine_url();
    config
}

async fn signed_in(app: TestApp, user: &str) -> TestApp {
    app.sign_in(user).await;
    app
}

/// The text of the section `id` (up to the next section).
fn section<'a>(body: &'a str, id: &str) -> &'a str {
    let start = body.find(&format!(r#"<section id="{id}""#)).unwrap_or_else(|| panic!("no {id} section: {body}"));
    let rest = &body[start..];
    let end = rest[1..].find("<section").map(|e| e + 1).unwrap_or(rest.len());
    &rest[..end]
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn with_kafka_redis_and_the_engine_unreachable_their_sections_say_unavailable_and_the_rest_renders(pool: PgPool) {
    // idp_config points Redis, Kafka and the engine at closed ports.
    let app = signed_in(spawn_app_with_idp(pool).await, "oscar.operator").await;
    let (status, body) = app.page("/diagnostics").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains(r#"href="/diagnostics""#), "the nav links the page");

    // At the top: what is wrong, what to do, and the runbook to open.
    let top = section(&body, "now");
    for (area, runbook) in [("Kafka consumer lag", "kafka-consumer-lag"), ("Redis", "redis-degradation"), ("Process engine", "engine-incident")] {
        assert!(top.contains(area), "{area} is named at the top: {top}");
        assert!(top.contains(&format!(r#"href="/runbooks/{runbook}""#)), "{runbook} is linked: {top}");
    }
    for (id, dependency, affected) in [
        ("kafka", "kafka", "consumer lag cannot be measured"),
        ("redis", "redis", ""),
        ("engine", "engine", "engine incidents and failed jobs cannot be listed"),
    ] {
        let text = section(&body, id);
        assert!(text.contains(&format!("{dependency} unavailable")), "{id}: {text}");
        assert!(text.contains("Affected: "), "{id} says what is affected: {text}");
        assert!(text.contains(affected), "{id}: {text}");
        assert!(text.contains("UNAVAILABLE"), "{id}: {text}");
    }
    // PostgreSQL and the outbox need nothing else: they render.
    assert!(section(&body, "postgres").contains("Console pool:"), "{body}");
    assert!(section(&body, "outbox").contains("Nothing waits to be published."), "{body}");
    assert!(!section(&body, "postgres").contains("unavailable"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn with_the_stack_up_every_section_renders_from_the_samplers_round(pool: PgPool) {
    let app = signed_in(spawn_app_with(pool, stack_config()).await, "oscar.operator").await;
    let (status, body) = app.page("/diagnostics").await;
    assert_eq!(status, 200, "{body}");
    for id in ["kafka", "engine", "outbox", "postgres", "redis"] {
        assert!(!section(&body, id).contains(" unavailable"), "{id}: {}", section(&body, id));
    }
    assert!(section(&body, "redis").contains("PING"), "{body}");
    assert!(section(&body, "redis").contains("Hit ratio"), "{body}");
    assert!(section(&body, "kafka").contains("Latest sample"), "{body}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_viewer_sees_their_tenants_only_and_is_refused_another(pool: PgPool) {
    capture_order(&pool, GLOBEX, "Q-DIAG-G", "Globex Customer").await;
    let app = signed_in(spawn_app_with_idp(pool).await, "vera.viewer").await;

    let (status, body) = app.page("/diagnostics").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("(acme)"), "acme is offered: {body}");
    assert!(!body.contains("(globex)"), "globex is not offered to vera: {body}");

    let (status, body) = app.page(&format!("/diagnostics?tenant={GLOBEX}")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("diagnostics.read refused"), "{body}");

    let (status, body) = app.page("/diagnostics?tenant=not-a-tenant").await;
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("Choose a tenant from the list."), "{body}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_page_needs_a_signed_in_person(pool: PgPool) {
    let app = spawn_app_with_idp(pool).await;
    let response = app.get("/diagnostics").await;
    assert_eq!(response.status().as_u16(), 303);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn metrics_carry_the_diagnostics_from_the_samplers_round_and_a_scrape_probes_nothing(pool: PgPool) {
    // Two outbox events waiting, the oldest ten minutes old, and Kafka, Redis and the engine unreachable.
    waiting_outbox_events(&pool, 2).await;
    let _turn = crate::health::SCRAPE.lock().await;
    let app = spawn_app_with_idp(pool).await;
    let (status, body) = app.page("/metrics").await;
    assert_eq!(status, 200);
    for line in [
        r#"opsdeck_diagnostics_status{area="kafka"} 2"#,
        r#"opsdeck_diagnostics_status{area="redis"} 2"#,
        r#"opsdeck_diagnostics_status{area="engine"} 2"#,
        r#"opsdeck_diagnostics_status{area="outbox"} 3"#,
        r#"opsdeck_diagnostics_status{area="postgres"} 0"#,
        r#"opsdeck_outbox_pending_events{aggregate="order",event_type="OrderCaptured"} 2"#,
        "opsdeck_outbox_pending 2",
        r#"opsdeck_dependency_up{component="kafka"} 0"#,
        "# TYPE opsdeck_pg_pool_max_connections gauge",
    ] {
        assert!(body.contains(line), "{line}: {body}");
    }
    // A scrape reads the sampler's latest round: with Kafka and the engine unreachable it still answers at
    // once (a probe would wait for their time-outs).
    for _ in 0..3 {
        let started = std::time::Instant::now();
        let (status, _) = app.page("/metrics").await;
        assert_eq!(status, 200);
        assert!(started.elapsed() < std::time::Duration::from_millis(500), "a scrape took {:?}", started.elapsed());
    }
}
