//! Engine problems on the diagnostics page, from a real outage: the fulfillment vendor answers 503, the
//! platform's worker spends its retries against the real Operaton, the engine raises an incident — and
//! the diagnostics sampler's round lists it mapped by business key to the right order and tenant, cut to
//! the viewer's tenants.

use std::time::Duration;

use ops::diagnostics::engine::{IncidentClass, Mapping, ProblemKind};
use ops::diagnostics::{overview, Area, Diagnostics, DiagnosticsConfig, Panel, Status};
use ops::testing::{demo_user, probe_targets};
use platform::engine::{BusinessKey, EngineClient};
use platform::ids::OrderId;
use platform::orchestration::{ensure_deployed, Starter, StarterConfig, Worker, WorkerConfig};
use platform::tenants::ACME;
use platform::testing::{captured_order, engine_url, spawn_vendor};
use platform::vendor::VendorMode;
use sqlx::PgPool;
use tokio::time::{sleep, Instant};

fn engine() -> EngineClient {
    EngineClient::with_request_timeout(engine_url(), Duration::from_secs(10))
}

/// Starts the order's orchestration through the platform's starter; the process instance's id.
async fn started(pool: &PgPool, order: OrderId) -> String {
    ensure_deployed(&engine()).await.unwrap();
    let config = StarterConfig {
        poll_interval: Duration::from_millis(50),
        lease: Duration::from_secs(20),
        ..StarterConfig::new(StarterConfig::generate_instance_id())
    };
    let round = Starter::new(pool.clone(), engine(), config).unwrap().start_due().await.unwrap();
    assert_eq!(round.started, 1, "{round:?}");
    let instances = engine().instances_by_business_key(&BusinessKey::for_order(ACME, order)).await.unwrap();
    instances.into_iter().next().expect("the order's process instance").id
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_engine_incident_from_a_vendor_outage_is_shown_against_its_order_and_tenant(pool: PgPool) {
    let (_vendor_state, vendor) = spawn_vendor(Duration::from_millis(1_000)).await;
    vendor.set_mode(VendorMode::Unavailable).await.unwrap();
    let accepted = captured_order(&pool, ACME, "Q-DIAG-ENGINE").await;
    let order = accepted.order_id;
    let instance = started(&pool, order).await;

    // The worker (only this order's tasks) spends its retries on the 503s; then the engine has an incident.
    let mut config = WorkerConfig::new(format!("diag-test-{}", uuid::Uuid::now_v7()));
    config.lock_duration = Duration::from_secs(5);
    config.retry_timeout = Duration::from_millis(500);
    config.poll_interval = Duration::from_millis(100);
    config.max_retries = 2;
    config.business_keys = vec![BusinessKey::for_order(ACME, order)];
    let worker = Worker::new(pool.clone(), engine(), vendor.clone(), config);
    let deadline = Instant::now() + Duration::from_secs(45);
    while engine().incidents(&instance).await.unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no engine incident raised");
        if worker.poll_once().await.unwrap().fetched == 0 {
            sleep(Duration::from_millis(100)).await;
        }
    }

    let diagnostics = Diagnostics::new(pool.clone(), &probe_targets(), DiagnosticsConfig::default());
    diagnostics.round().await;

    let oscar = overview(&pool, &diagnostics, &demo_user("oscar.operator"), None).await.unwrap();
    let Panel::Ready(engine_panel) = &oscar.engine.problems else { panic!("engine unavailable: {:?}", oscar.engine.problems) };
    let ours: Vec<_> = engine_panel
        .problems
        .iter()
        .filter(|p| p.problem.process_instance_id.as_deref() == Some(instance.as_str()))
        .collect();
    let incident = ours.iter().find(|p| p.problem.kind == ProblemKind::Incident).expect("the incident is listed");
    match &incident.mapping {
        Mapping::Order { tenant_id, slug, order_id, status, .. } => {
            assert_eq!((*tenant_id, slug.as_str(), *order_id), (ACME, "acme", order));
            assert_eq!(status, "IN_PROGRESS", "the order as the system of record has it");
        }
        other => panic!("mapped to {other:?}"),
    }
    assert_eq!(incident.problem.business_key.as_deref(), Some(BusinessKey::for_order(ACME, order).as_str()));
    assert_eq!(incident.problem.activity_id.as_deref(), Some("request-fulfillment"));
    assert!(incident.problem.message.as_deref().unwrap_or_default().contains("503"), "{:?}", incident.problem.message);
    assert_eq!(incident.class, IncidentClass::TransientDownstream);
    let acme = engine_panel.by_tenant.iter().find(|t| t.slug == "acme").expect("acme's count");
    assert!(acme.incidents >= 1);

    // The panel is an error pointing at the engine-incident runbook.
    let verdict = oscar.verdict(Area::Engine).unwrap();
    assert_eq!((verdict.status, verdict.runbook), (Status::Err, "engine-incident.md"));
    assert!(verdict.wrong.contains("engine incident(s) open"), "{}", verdict.wrong);

    // gwen sees globex only: acme's incident is not hers to see.
    let gwen = overview(&pool, &diagnostics, &demo_user("gwen.globex"), None).await.unwrap();
    let Panel::Ready(hers) = &gwen.engine.problems else { panic!("engine unavailable for gwen") };
    assert!(hers.problems.iter().all(|p| p.mapping.tenant() != Some(ACME)), "{:?}", hers.problems);

    let _ = reqwest::Client::new().delete(format!("{}/process-instance/{instance}", engine_url())).send().await;
}
