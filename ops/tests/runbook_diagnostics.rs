//! Every diagnostic query that ships in `runbooks/` runs from the console against a seeded database:
//! read-only, parameters bound, each statement answering (no SQL error), at most the row cap shown. A run
//! for an incident lands on its timeline; a block that changes state is refused; bad input is said at its
//! field; a tenant-scoped operator may run only blocks bound to a tenant of hers.

mod common;

use common::*;
use ops::identity::{Role, TenantScope};
use ops::incident::{timeline, TimelineFilter};
use ops::runbook::{self, run_diagnostic, DiagnosticForRun, DiagnosticForm, ROW_CAP};
use ops::ErrorKind;
use platform::seed::SeedParams;
use platform::tenants::{ACME, GLOBEX};
use sqlx::PgPool;

async fn seeded(pool: &PgPool) {
    platform::seed::run(pool, &SeedParams { orders: 400, anomaly_rate: 0.05, ..SeedParams::default() }).await.unwrap();
}

async fn one(pool: &PgPool, sql: &str) -> String {
    sqlx::query_scalar::<_, uuid::Uuid>(sql).fetch_one(pool).await.unwrap().to_string()
}

/// Values for every variable the runbooks use, taken from the seeded data.
async fn form(pool: &PgPool) -> DiagnosticForm {
    DiagnosticForm {
        param_tenant_id: ACME.to_string(),
        param_order_id: one(pool, "select entity_id from platform.seed_anomaly where anomaly_type = 'STUCK_ORDER' limit 1").await,
        param_quote_id: one(pool, "select entity_id from platform.seed_anomaly where anomaly_type = 'DUPLICATE_ORDER' limit 1").await,
        param_approval_request_id: one(pool, "select approval_request_id from cpq.approval_request limit 1").await,
        param_message_id: uuid::Uuid::now_v7().to_string(),
        param_consumer_group: "order-projection".into(),
        ..Default::default()
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn every_shipped_query_runs_against_the_seeded_database(pool: PgPool) {
    seeded(&pool).await;
    let form = form(&pool).await;
    let mut ran = 0;
    for book in runbook::all() {
        for block in book.diagnostics.iter().filter(|d| d.runnable()) {
            let input = DiagnosticForRun::parse(&book.front.id, block.index, &form).unwrap();
            let result = run_diagnostic(&pool, &operator(), &input).await.unwrap();
            for statement in &result.statements {
                assert_eq!(statement.error, None, "{} #{}: {}", book.front.id, block.index, statement.sql);
                assert!(statement.rows.len() <= ROW_CAP);
                assert!(statement.rows.iter().all(|r| r.len() == statement.columns.len()));
            }
            ran += 1;
        }
    }
    assert!(ran >= 25, "the runbooks ship {ran} runnable blocks");
    // The stuck-order scope query finds the seeded stuck orders.
    let stuck = runbook::get("stuck-order").unwrap();
    let result = run_diagnostic(&pool, &operator(), &DiagnosticForRun::parse("stuck-order", 0, &form).unwrap()).await.unwrap();
    assert!(!result.statements[0].rows.is_empty(), "{}", stuck.diagnostics[0].title);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_run_for_an_incident_is_on_its_timeline_and_bad_input_is_said_at_its_field(pool: PgPool) {
    let world = world(&pool, ACME, "rb").await;
    let incident = declare(&pool, &operator(), "SEV2", &[ACME], &[world.order]).await.incident_id;
    let block = runbook::get("stuck-order").unwrap().diagnostics.iter().find(|d| d.params.iter().any(|p| p.name == "order_id")).unwrap();

    let bad = DiagnosticForm { param_order_id: "42; drop table oms.sales_order".into(), ..Default::default() };
    let err = DiagnosticForRun::parse("stuck-order", block.index, &bad).unwrap_err();
    assert!(err.field_errors().unwrap().contains("param_order_id"), "{err}");

    let good = DiagnosticForm { param_order_id: world.order.to_string(), incident_id: incident.to_string(), ..Default::default() };
    let input = DiagnosticForRun::parse("stuck-order", block.index, &good).unwrap();
    let result = run_diagnostic(&pool, &operator(), &input).await.unwrap();
    assert!(result.statements.iter().all(|s| s.error.is_none()), "{result:?}");
    let events = timeline(&pool, &operator(), incident, TimelineFilter::ALL).await.unwrap();
    assert!(events.iter().any(|e| e.event_type == "DIAGNOSTIC_RUN" && e.headline.contains(&block.title)), "{events:?}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_block_that_writes_never_runs_and_scope_is_checked(pool: PgPool) {
    let writes = runbook::all()
        .iter()
        .flat_map(|b| b.diagnostics.iter().map(move |d| (b, d)))
        .find(|(_, d)| !d.runnable())
        .expect("the runbooks show at least one forbidden statement");
    let refused = DiagnosticForRun::parse(&writes.0.front.id, writes.1.index, &DiagnosticForm::default()).unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Rule);
    assert_eq!(DiagnosticForRun::parse("no-such-runbook", 0, &DiagnosticForm::default()).unwrap_err().kind(), ErrorKind::NotFound);

    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let gwen = actor("gwen.globex", &[Role::Operator], only(&[GLOBEX]));
    // A cross-tenant block needs every tenant.
    let across = DiagnosticForRun::parse("stuck-order", 0, &DiagnosticForm::default()).unwrap();
    assert_eq!(run_diagnostic(&pool, &gwen, &across).await.unwrap_err().kind(), ErrorKind::NotAllowed);
    // A viewer may read the runbook, not run it.
    assert_eq!(run_diagnostic(&pool, &viewer(), &across).await.unwrap_err().kind(), ErrorKind::NotAllowed);
    let everyone = actor("oscar.operator", &[Role::Operator], TenantScope::All);
    assert!(run_diagnostic(&pool, &everyone, &across).await.is_ok());
}
