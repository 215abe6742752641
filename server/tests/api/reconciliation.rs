//! The reconciliation pages through the console's forms, signed in through Keycloak, on a seeded
//! database: oscar runs the stuck-order check from the page and lands on the run; the list shows the
//! mismatches it found; a mismatch page explains it and offers its suggested repair with the form filled;
//! he acknowledges it; a false positive without a reason is refused at its field with nothing written; a
//! viewer reads the pages without their forms and her post is refused.

use platform::seed::{self, SeedParams};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{idp_config, spawn_app_with};

async fn seeded(pool: &PgPool) {
    seed::run(pool, &SeedParams { orders: 1_000, extra_tenants: 0, anomaly_rate: 0.02, rng_seed: 3 }).await.unwrap();
}

async fn mismatch_status(pool: &PgPool, id: &str) -> String {
    sqlx::query_scalar("select status from ops.reconciliation_mismatch where mismatch_id = $1::uuid")
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_operator_runs_a_check_from_the_page_and_takes_a_mismatch_to_its_suggested_repair(pool: PgPool) {
    seeded(&pool).await;
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("oscar.operator").await;

    let (status, page) = app.page("/reconciliation").await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(r#"href="/reconciliation""#) && page.contains(">Reconciliation</a>"), "the navigation lists it");
    assert!(page.contains("No run yet.") && page.contains("No mismatches."), "{page}");

    // A check that does not exist is refused at its field; nothing runs.
    let (status, page) = app.submit("/reconciliation/runs", &[("check", "everything"), ("tenant", "")]).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains(r#"id="run-check-error""#), "{page}");
    let runs: i64 = sqlx::query_scalar("select count(*) from ops.reconciliation_run").fetch_one(&pool).await.unwrap();
    assert_eq!(runs, 0);

    let (status, location) = app.submit("/reconciliation/runs", &[("check", "stuck-order"), ("tenant", "")]).await;
    assert_eq!(status, 303, "{location}");
    assert!(location.starts_with("/reconciliation/runs/"), "{location}");
    let (status, run) = app.page(&location).await;
    assert_eq!(status, 200, "{run}");
    assert!(run.contains("Stuck orders") && run.contains("COMPLETED") && run.contains("every tenant"), "{run}");

    let (_, list) = app.page("/reconciliation?check=stuck-order").await;
    assert!(list.contains("stuck order") && list.contains("CAUTION"), "{list}");
    let (mismatch, order, tenant): (Uuid, Uuid, Uuid) = sqlx::query_as(
        "select m.mismatch_id, m.entity_id, m.tenant_id from ops.reconciliation_mismatch m
         join oms.sales_order o on o.order_id = m.entity_id where o.status = 'CAPTURED' order by m.mismatch_id limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert!(list.contains(&format!("/reconciliation/mismatches/{mismatch}")), "{list}");

    let path = format!("/reconciliation/mismatches/{mismatch}");
    let (status, page) = app.page(&path).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Likely cause") && page.contains("orchestration never started or gave up"), "{page}");
    assert!(page.contains(&format!("/orders/{tenant}/{order}")), "the entity is linked: {page}");
    let repair = format!("/repairs/new?type=resume-orchestration&amp;tenant={tenant}&amp;entity={order}&amp;incident=&amp;mismatch={mismatch}");
    assert!(page.contains(&repair), "the suggested repair, prefilled: {page}");
    assert!(page.contains("OPENED"), "its history: {page}");

    // The repair form it links to carries the mismatch.
    let (status, form) = app.page(&repair.replace("&amp;", "&")).await;
    assert_eq!(status, 200, "{form}");
    assert!(form.contains(&format!(r#"name="mismatch_id" value="{mismatch}""#)), "{form}");

    assert_eq!(app.submit(&format!("{path}/step"), &[("step", "acknowledge")]).await, (303, path.clone()));
    assert_eq!(mismatch_status(&pool, &mismatch.to_string()).await, "ACKNOWLEDGED");

    let (status, page) = app.submit(&format!("{path}/false-positive"), &[("reason", "no")]).await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains(r#"id="fp-reason-error""#), "{page}");
    assert_eq!(mismatch_status(&pool, &mismatch.to_string()).await, "ACKNOWLEDGED");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_viewer_reads_reconciliation_without_its_forms_and_her_post_is_refused(pool: PgPool) {
    seeded(&pool).await;
    let oscar = ops::testing::demo_user("oscar.operator");
    let request = ops::reconcile::RunRequest::one(ops::reconcile::CheckName::PriceSnapshot, ops::reconcile::RunOrigin::Console);
    ops::reconcile::run(&pool, None, &oscar, &request).await.unwrap();
    let (mismatch,): (Uuid,) = sqlx::query_as(
        "select mismatch_id from ops.reconciliation_mismatch where tenant_id = $1 order by mismatch_id limit 1",
    )
    .bind(platform::tenants::ACME)
    .fetch_one(&pool)
    .await
    .expect("acme has a price snapshot mismatch");
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("vera.viewer").await;

    let (status, list) = app.page("/reconciliation").await;
    assert_eq!(status, 200, "{list}");
    assert!(!list.contains(r#"action="/reconciliation/runs""#), "no run form for a viewer");
    let path = format!("/reconciliation/mismatches/{mismatch}");
    let (status, page) = app.page(&path).await;
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("Acknowledge") && !page.contains("Request the suggested repair"), "{page}");

    let (status, _) = app.submit(&format!("{path}/step"), &[("step", "acknowledge")]).await;
    assert_eq!(status, 403);
    assert_eq!(mismatch_status(&pool, &mismatch.to_string()).await, "OPEN");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_admin_allows_automatic_repair_for_a_check_and_tenant_from_the_page(pool: PgPool) {
    platform::tenants::ensure_well_known(&pool).await.unwrap();
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("adam.admin").await;
    let (_, page) = app.page("/reconciliation").await;
    assert!(page.contains("Off everywhere") && page.contains(r#"action="/reconciliation/auto-repair""#), "{page}");
    let acme = platform::tenants::ACME.to_string();
    let (status, page) = app
        .submit("/reconciliation/auto-repair", &[("check", "outbox-backlog"), ("tenant", &acme), ("enabled", "on"), ("max_per_run", "0"), ("reason", "ok")])
        .await;
    assert_eq!(status, 422, "{page}");
    assert!(page.contains(r#"id="auto-max-error""#) && page.contains(r#"id="auto-reason-error""#), "{page}");
    let fields = [("check", "outbox-backlog"), ("tenant", acme.as_str()), ("enabled", "on"), ("max_per_run", "5"), ("reason", "dead relays' claims are safe")];
    assert_eq!(app.submit("/reconciliation/auto-repair", &fields).await, (303, "/reconciliation".to_string()));
    let (_, page) = app.page("/reconciliation").await;
    assert!(page.contains("on, at most 5 per run"), "{page}");

    // An operator sees the setting but not the form, and cannot post it.
    let oscar = app.fresh_browser();
    oscar.sign_in("oscar.operator").await;
    let (_, page) = oscar.page("/reconciliation").await;
    assert!(page.contains("on, at most 5 per run") && !page.contains(r#"action="/reconciliation/auto-repair""#), "{page}");
    assert_eq!(oscar.submit("/reconciliation/auto-repair", &fields).await.0, 403);
}

/// A dead relay's stale claims in a tenant are one mismatch: its page names the relay (linked to the
/// outbox panel), how many claims it holds past the lease, and offers the release with the form filled
/// with the oldest claimed event.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_dead_relays_stale_claims_are_one_mismatch_whose_repair_form_names_its_oldest_event(pool: PgPool) {
    seeded(&pool).await;
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    app.sign_in("oscar.operator").await;
    let (status, _) = app.submit("/reconciliation/runs", &[("check", "outbox-backlog"), ("tenant", "")]).await;
    assert_eq!(status, 303);
    let (mismatch, tenant, relay, stale, oldest): (Uuid, Uuid, String, i64, Uuid) = sqlx::query_as(
        "select m.mismatch_id, m.tenant_id, m.observed_state->>'relay', (m.observed_state->>'stale')::bigint,
                (m.observed_state->>'oldest_event_id')::uuid
           from ops.reconciliation_mismatch m where m.mismatch_type = 'STALE_OUTBOX_CLAIMS' order by m.mismatch_id limit 1",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    let held: i64 = sqlx::query_scalar(
        "select count(*) from messaging.outbox_event where tenant_id = $1 and claimed_by = $2 and status = 'PROCESSING'
            and claimed_at < now() - interval '10 minutes'",
    )
    .bind(tenant)
    .bind(&relay)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stale, held, "how many the relay holds past the lease in the tenant");

    let named = format!("{stale} stale claims of relay {relay}");
    let (_, list) = app.page("/reconciliation?check=outbox-backlog").await;
    assert!(list.contains(&named), "the list says whose claims, not a made-up id: {list}");
    let (status, page) = app.page(&format!("/reconciliation/mismatches/{mismatch}")).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(&format!(r#"<a href="/diagnostics?tenant={tenant}#outbox">{named}</a>"#)), "the relay, linked: {page}");
    let repair = format!("/repairs/new?type=release-stale-claims&amp;tenant={tenant}&amp;entity={oldest}&amp;incident=&amp;mismatch={mismatch}");
    assert!(page.contains(&repair), "the release, prefilled with the oldest claimed event: {page}");
}
