//! Service outage suite (issue 13 item 1): with a person signed in, Redis, Kafka, Operaton and Keycloak
//! are stopped in turn (`scripts/stack.sh down <svc>` of the suite's own stack) and started again:
//! - every page the person can reach keeps answering, none with a 5xx;
//! - a command that does not need the missing service works; one that does says so (503 naming it)
//!   and writes nothing — the database's footprint (row counts outside the audit log, sessions and
//!   heartbeats) is what it was;
//! - when the service is back, what waited catches up (events written during the Kafka outage are
//!   published and projected, a new sign-in works, the repair runs).
//! Then a repair executing while Operaton dies (SIGKILL) ends FAILED with no half change, and a retry
//! after the engine is back succeeds; then PostgreSQL restarts and the console and the workers recover
//! by themselves — the seconds it took are the figure.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use platform::engine::{BusinessKey, EngineClient};
use platform::orchestration::ensure_deployed;
use platform::tenants::ACME;
use platform::testing::{captured_order, engine_url};
use serde_json::json;
use sqlx::PgPool;

use crate::crash::{database_url, spawn_part};
use crate::helpers::{idp_config, incident_of, resume_form, spawn_app_with, stuck_order, TestApp};
use crate::report::{record, require_own_stack};

fn stack(command: &str, service: &str) {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let status = Command::new("bash")
        .arg(format!("{root}/scripts/stack.sh"))
        .args([command, service])
        .status()
        .expect("stack.sh runs");
    assert!(status.success(), "stack.sh {command} {service}");
}

/// SIGKILL a service of the suite's stack (the process of its pid file): it dies, nothing graceful.
fn kill_service(service: &str) {
    let pid_file = format!("{}/run/{service}.pid", std::env::var("OPSDECK_HOME").unwrap());
    let pid = std::fs::read_to_string(&pid_file).expect("a pid file").trim().to_string();
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{pid}")]).status();
    let _ = Command::new("kill").args(["-KILL", &pid]).status();
    std::thread::sleep(Duration::from_millis(500));
    let _ = std::fs::remove_file(pid_file);
}

/// Row counts of every table that a command could write, the evidence of refusals (audit log) and the
/// moving parts (sessions, heartbeats, samples, the projection fed by a running consumer) left out.
async fn footprint(pool: &PgPool) -> Vec<(String, i64)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select table_schema || '.' || table_name from information_schema.tables
         where table_type = 'BASE TABLE' and table_schema in ('cpq', 'oms', 'messaging', 'ops', 'platform')
           and (table_schema || '.' || table_name) not in
               ('ops.audit_log', 'platform.worker_heartbeat', 'ops.figure_sample', 'messaging.inbox_message',
                'oms.order_projection', 'ops.reconciliation_run')
         order by 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut counts = Vec::new();
    for table in tables {
        let n: i64 = sqlx::query_scalar(&format!("select count(*) from {table}")).fetch_one(pool).await.unwrap();
        counts.push((table, n));
    }
    counts
}

#[derive(Default)]
struct Tally {
    page_reads: u32,
    five_xx: Vec<String>,
    commands: u32,
    partial_writes: Vec<String>,
}

impl Tally {
    async fn read_all(&mut self, app: &TestApp, pages: &BTreeSet<String>, during: &str) {
        for page in pages {
            let status = app.client.get(format!("{}{page}", app.address)).send().await.map_or(599, |r| r.status().as_u16());
            self.page_reads += 1;
            if status >= 500 {
                self.five_xx.push(format!("{page} {status} ({during})"));
            }
        }
    }
}

/// Links of the console's pages on these pages: the navigation and what the pages link to.
async fn reachable_pages(app: &TestApp, start: &[String]) -> BTreeSet<String> {
    let mut pages: BTreeSet<String> = start.iter().cloned().collect();
    for page in start {
        let (_, html) = app.page(page).await;
        for href in html.split(r#"href=""#).skip(1).filter_map(|s| s.split('"').next()) {
            let href = href.replace("&amp;", "&");
            let own = href.starts_with('/') && !href.starts_with("//");
            let skip = ["/auth/", "/public/", "/style/", "/metrics", "/readyz", "/healthz"].iter().any(|p| href.starts_with(p));
            if own && !skip && pages.len() < 60 {
                pages.insert(href);
            }
        }
    }
    pages
}

async fn repair_status(pool: &PgPool, path: &str) -> String {
    let id: uuid::Uuid = path.trim_start_matches("/repairs/").parse().unwrap();
    sqlx::query_scalar("select status from ops.repair_command_log where repair_id = $1").bind(id).fetch_one(pool).await.unwrap()
}

async fn order_state(pool: &PgPool, order: platform::ids::OrderId) -> (String, i64) {
    sqlx::query_as("select status, version from oms.sales_order where order_id = $1").bind(order).fetch_one(pool).await.unwrap()
}

async fn wait_for<F: AsyncFnMut() -> bool>(limit: Duration, mut check: F) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check().await {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    None
}

/// Starts every service again when the test ends, passed or not: the next suite needs the stack.
struct RestartOnExit;

impl Drop for RestartOnExit {
    fn drop(&mut self) {
        for service in ["postgres", "redis", "kafka", "engine", "keycloak"] {
            let _ = Command::new("bash")
                .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/stack.sh"))
                .args(["up", service])
                .status();
        }
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
#[ignore = "outage suite: stops services; run by scripts/reliability.sh on its own stack"]
async fn services_stopped_in_turn_degrade_the_console_without_5xx_or_partial_writes_and_everything_catches_up(pool: PgPool) {
    require_own_stack();
    let _restart = RestartOnExit;
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    ensure_deployed(&EngineClient::new(engine_url())).await.unwrap();
    let incident = incident_of(&pool, ACME).await;
    let acme = ACME.to_string();
    let db = database_url(&pool);
    let prefix = format!("outage{}.", &uuid::Uuid::now_v7().simple().to_string()[22..]);
    // A group of its own each run: a group a dead member of an earlier run still holds waits out its
    // session timeout before it assigns partitions.
    let group = format!("outage-{}", prefix.trim_end_matches('.'));
    let relay = spawn_part("relay", &db, &prefix, &group);
    let consumer = spawn_part("project", &db, &prefix, &group);

    let mut config = idp_config();
    config.engine_url = engine_url();
    config.redis_url = server::secret::Secret::new(std::env::var("OPSDECK_REDIS_URL").expect("OPSDECK_REDIS_URL"));
    config.kafka_brokers = std::env::var("OPSDECK_KAFKA_BROKERS").expect("OPSDECK_KAFKA_BROKERS");
    // The console's own pool (5 s acquire timeout), not the test harness's.
    let console_pool = platform::db::connect_lazy(&db, 10).unwrap();
    let app = spawn_app_with(console_pool, config).await;
    app.sign_in("oscar.operator").await;
    let shown = captured_order(&pool, ACME, "OUT-0").await.order_id;
    let pages = reachable_pages(&app, &["/".into(), "/me".into(), format!("/orders/{ACME}/{shown}"), format!("/incidents/{incident}")]).await;
    let mut tally = Tally::default();
    tally.read_all(&app, &pages, "all services up").await;
    let mut per_service = serde_json::Map::new();

    for service in ["redis", "kafka", "engine", "keycloak"] {
        stack("down", service);
        let reads_before = tally.five_xx.len();
        tally.read_all(&app, &pages, &format!("{service} down")).await;

        // A command that does not need the service: a note on the incident.
        let (status, _) = app.submit(&format!("/incidents/{incident}/notes"), &[("text", &format!("{service} is down; working on it")), ("entity_ids", "")]).await;
        tally.commands += 1;
        let note_ok = status == 303;

        // A command that needs it says so and writes nothing; what waits for it catches up after.
        let mut needs: serde_json::Value = json!(null);
        let before = footprint(&pool).await;
        match service {
            "engine" => {
                let order = stuck_order(&pool, ACME, "OUT-ENG").await;
                let before = footprint(&pool).await;
                let (order_s, key) = (order.to_string(), format!("outage-{order}"));
                let (status, body) = app.submit("/repairs", &resume_form(&acme, &order_s, &incident, &key)).await;
                tally.commands += 1;
                if footprint(&pool).await != before {
                    tally.partial_writes.push(format!("resume requested with the engine down: {status}"));
                }
                needs = json!({ "command": "request resume-orchestration", "status": status, "says_engine": body.to_lowercase().contains("engine") });
            }
            "keycloak" => {
                let other = app.fresh_browser();
                let response = other.get("/auth/login?next=%2Forders").await;
                let status = response.status().as_u16();
                let body = response.text().await.unwrap();
                tally.commands += 1;
                needs = json!({ "command": "sign in", "status": status, "says_unavailable": body.contains("Sign-in is unavailable") });
            }
            "kafka" => {
                // An order captured now has its event waiting in the outbox, not lost.
                let order = captured_order(&pool, ACME, "OUT-KAFKA").await.order_id;
                needs = json!({ "command": "capture an order (event waits for Kafka)", "order": order.to_string() });
            }
            _ => {}
        }
        if service != "kafka" && service != "engine" && footprint(&pool).await != before {
            tally.partial_writes.push(format!("{service} down: a refused command wrote"));
        }

        let restarted = Instant::now();
        stack("up", service);
        let back = restarted.elapsed().as_secs_f64();
        let caught_up = match service {
            "kafka" => {
                let order: uuid::Uuid = needs["order"].as_str().unwrap().parse().unwrap();
                wait_for(Duration::from_secs(180), async || {
                    sqlx::query_scalar::<_, bool>(
                        "select exists (select 1 from oms.order_projection p join oms.sales_order o using (order_id)
                          where order_id = $1 and p.aggregate_version = o.version)",
                    )
                    .bind(order)
                    .fetch_one(&pool)
                    .await
                    .unwrap_or(false)
                })
                .await
            }
            "keycloak" => {
                let other = app.fresh_browser();
                wait_for(Duration::from_secs(60), async || other.sign_in_to("ada.approver", "/me").await.status().as_u16() == 303).await
            }
            "engine" => {
                let (status, _) = app.submit("/repairs", &resume_form(&acme, &shown.to_string(), &incident, "outage-engine-back")).await;
                (status == 303 || status == 409 || status == 422).then_some(Duration::ZERO)
            }
            _ => wait_for(Duration::from_secs(30), async || app.get("/readyz").await.status().as_u16() == 200).await,
        };
        per_service.insert(
            service.into(),
            json!({
                "pages_5xx": tally.five_xx.len() - reads_before, "note_while_down": note_ok, "needing_it": needs,
                "restart_seconds": back, "caught_up_seconds": caught_up.map(|d| d.as_secs_f64()),
            }),
        );
    }

    // A repair executing while Operaton dies.
    let order = stuck_order(&pool, ACME, "OUT-DIE").await;
    let order_s = order.to_string();
    let (status, repair) = app.submit("/repairs", &resume_form(&acme, &order_s, &incident, "outage-die-1")).await;
    assert_eq!(status, 303, "{repair}");
    let hash: String = sqlx::query_scalar("select proposed_change_hash from ops.repair_command_log where repair_id = $1")
        .bind(repair.trim_start_matches("/repairs/").parse::<uuid::Uuid>().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    let state_before = order_state(&pool, order).await;
    kill_service("engine");
    let (execute_status, _) = app.submit(&format!("{repair}/execute"), &[("confirm_hash", &hash)]).await;
    let died_status = repair_status(&pool, &repair).await;
    let half_change = order_state(&pool, order).await != state_before;
    stack("up", "engine");
    let (status, retry) = app.submit("/repairs", &resume_form(&acme, &order_s, &incident, "outage-die-2")).await;
    assert_eq!(status, 303, "{retry}");
    let hash: String = sqlx::query_scalar("select proposed_change_hash from ops.repair_command_log where repair_id = $1")
        .bind(retry.trim_start_matches("/repairs/").parse::<uuid::Uuid>().unwrap())
        .fetch_one(&pool)
        .await
        .unwrap();
    app.submit(&format!("{retry}/execute"), &[("confirm_hash", &hash)]).await;
    let retry_status = repair_status(&pool, &retry).await;
    let instances = EngineClient::new(engine_url()).instances_by_business_key(&BusinessKey::for_order(ACME, order)).await.unwrap();
    for instance in &instances {
        let _ = reqwest::Client::new().delete(format!("{}/process-instance/{}", engine_url(), instance.id)).send().await;
    }

    // PostgreSQL restarts under the console and the workers.
    let down_at = Instant::now();
    stack("down", "postgres");
    let asked = Instant::now();
    let status_while_down = app.client.get(format!("{}/orders", app.address)).send().await.map_or(599, |r| r.status().as_u16());
    let answered_while_down_in = asked.elapsed().as_secs_f64();
    stack("up", "postgres");
    let pg_back = down_at.elapsed().as_secs_f64();
    let console_back = wait_for(Duration::from_secs(60), async || {
        app.client.get(format!("{}/orders", app.address)).send().await.is_ok_and(|r| r.status().as_u16() == 200)
    })
    .await;
    let after = captured_order(&pool, ACME, "OUT-PG").await.order_id;
    let workers_back = wait_for(Duration::from_secs(120), async || {
        sqlx::query_scalar::<_, bool>("select exists (select 1 from oms.order_projection where order_id = $1)")
            .bind(after)
            .fetch_one(&pool)
            .await
            .unwrap_or(false)
    })
    .await;
    relay.stop();
    consumer.stop();
    tally.read_all(&app, &pages, "after every restart").await;

    record(
        "outages",
        json!({
            "pages": pages.len(), "page_reads": tally.page_reads, "five_xx": tally.five_xx, "commands": tally.commands,
            "partial_writes": tally.partial_writes, "services": per_service,
            "repair_engine_died": { "execute_status": execute_status, "repair": died_status, "half_change": half_change,
                                    "retry": retry_status, "instances_after_retry": instances.len() },
            "postgres_restart": { "status_while_down": status_while_down, "answered_while_down_in_seconds": answered_while_down_in,
                                  "down_and_up_seconds": pg_back,
                                  "console_back_seconds": console_back.map(|d| d.as_secs_f64()),
                                  "workers_back_seconds": workers_back.map(|d| d.as_secs_f64()) },
        }),
    );
    assert!(tally.five_xx.is_empty(), "pages answered 5xx: {:?}", tally.five_xx);
    assert!(tally.partial_writes.is_empty(), "{:?}", tally.partial_writes);
    assert_eq!((died_status.as_str(), half_change), ("FAILED", false));
    assert_eq!(retry_status, "EXECUTED");
    assert!(console_back.is_some() && workers_back.is_some(), "the console and the workers recover after PostgreSQL restarts");
}
