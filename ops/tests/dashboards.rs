//! The dashboards' figures on a seeded database: a sampling round finds what the seed generator injected
//! (stuck orders, duplicates, overdue approvals, price mismatches), per tenant and in total; a board shows
//! a person only the tenants in their scope; one replica samples a round while another holds the lock;
//! samples older than the retention are pruned.

mod common;

use std::time::Duration;

use common::*;
use ops::dashboard::{self, Board};
use ops::identity::Role;
use platform::seed::{AnomalyType, SeedParams, SeedReport};
use platform::tenants::{ACME, GLOBEX};
use sqlx::PgPool;

async fn seeded(pool: &PgPool) -> SeedReport {
    platform::seed::run(pool, &SeedParams { orders: 400, anomaly_rate: 0.05, ..SeedParams::default() }).await.unwrap()
}

/// The platform-wide value of `figure` in the latest round.
async fn total(pool: &PgPool, figure: &str) -> f64 {
    let rows = dashboard::latest(pool).await.unwrap();
    rows.iter().filter(|(f, t, _, _)| f == figure && t.is_none()).map(|(_, _, _, v)| *v).sum()
}

async fn per_tenant_sum(pool: &PgPool, figure: &str) -> f64 {
    let rows = dashboard::latest(pool).await.unwrap();
    rows.iter().filter(|(f, t, _, _)| f == figure && t.is_some()).map(|(_, _, _, v)| *v).sum()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_round_counts_exactly_what_the_seed_injected(pool: PgPool) {
    let report = seeded(&pool).await;
    let stored = dashboard::sample_round(&pool, Duration::from_secs(3600)).await.unwrap().expect("no other replica samples");
    assert!(stored >= dashboard::FIGURES.len(), "every figure has at least its platform row: {stored}");

    for (figure, kind) in [
        ("orders_stuck", AnomalyType::StuckOrder),
        ("duplicate_orders", AnomalyType::DuplicateOrder),
        ("approvals_overdue", AnomalyType::OverdueApproval),
    ] {
        let injected = report.anomalies_of(kind) as f64;
        assert!(injected > 0.0, "{figure}: the seed injected some");
        assert_eq!(total(&pool, figure).await, injected, "{figure} counts the injected {kind:?}");
        assert_eq!(per_tenant_sum(&pool, figure).await, injected, "{figure}: the tenants add up to the total");
    }
    // Every figure exists in the round, even those with nothing to count (zero, not missing).
    for figure in dashboard::FIGURES {
        let rows = dashboard::latest(&pool).await.unwrap();
        assert!(rows.iter().any(|(f, t, _, _)| f == figure.name && t.is_none()), "{} has a platform value", figure.name);
    }
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_board_says_what_is_alarming_and_keeps_other_tenants_out_of_a_scoped_view(pool: PgPool) {
    let report = seeded(&pool).await;
    dashboard::sample_round(&pool, Duration::from_secs(3600)).await.unwrap();

    let everyone = dashboard::board(&pool, &dashboard::FigureCache::off(), &operator(), Board::Executive, None, 6).await.unwrap();
    let stuck = everyone.panels.iter().find(|p| p.figure.name == "orders_stuck").unwrap();
    assert_eq!(stuck.latest, Some(report.anomalies_of(AnomalyType::StuckOrder) as f64));
    assert!(stuck.alarming, "stuck orders are bad news");
    assert!(everyone.alarms().iter().any(|p| p.figure.name == "orders_stuck"));
    assert_eq!(stuck.series.len(), 1, "one round, one point");
    assert!(stuck.by_tenant.len() >= 2, "the stuck orders are spread over tenants: {:?}", stuck.by_tenant);
    assert!(everyone.panels.iter().all(|p| p.figure.board == Board::Executive));

    // An acme-only viewer sees acme's figures: no other tenant's breakdown, and acme's own count.
    let acme_viewer = actor("vera", &[Role::Viewer], only(&[ACME]));
    let acme = dashboard::board(&pool, &dashboard::FigureCache::off(), &acme_viewer, Board::Executive, None, 6).await.unwrap();
    assert_eq!(acme.tenant, Some(ACME), "a scoped viewer's board is about their tenant");
    let stuck_acme = acme.panels.iter().find(|p| p.figure.name == "orders_stuck").unwrap();
    assert!(stuck_acme.by_tenant.iter().all(|(t, _)| *t == ACME), "{:?}", stuck_acme.by_tenant);
    let acme_stuck: i64 = sqlx::query_scalar(
        "select count(*) from platform.seed_anomaly a join oms.sales_order o on o.order_id = a.entity_id
         where a.anomaly_type = 'STUCK_ORDER' and o.tenant_id = $1",
    )
    .bind(ACME.as_uuid())
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(stuck_acme.latest, Some(acme_stuck as f64));

    // Asking for another tenant's board is refused, and audited like every refusal.
    let refused = dashboard::board(&pool, &dashboard::FigureCache::off(), &acme_viewer, Board::Executive, Some(GLOBEX), 6).await.unwrap_err();
    assert_eq!(refused.kind(), ops::ErrorKind::NotAllowed, "{refused}");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn one_replica_samples_a_round_and_old_samples_are_pruned(pool: PgPool) {
    // Another replica holds the round's lock: this one skips the round.
    let mut other = pool.begin().await.unwrap();
    let held: bool =
        sqlx::query_scalar("select pg_try_advisory_xact_lock($1)").bind(0x6f70_7364_6b01_i64).fetch_one(&mut *other).await.unwrap();
    assert!(held);
    assert_eq!(dashboard::sample_round(&pool, Duration::from_secs(3600)).await.unwrap(), None);
    other.rollback().await.unwrap();

    assert!(dashboard::sample_round(&pool, Duration::from_secs(3600)).await.unwrap().is_some());
    sqlx::query("update ops.figure_sample set sampled_at = sampled_at - interval '2 hours'").execute(&pool).await.unwrap();
    dashboard::sample_round(&pool, Duration::from_secs(3600)).await.unwrap();
    let old: i64 = sqlx::query_scalar("select count(*) from ops.figure_sample where sampled_at < now() - interval '1 hour'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(old, 0, "samples past the retention are gone");
    let rounds: i64 = sqlx::query_scalar("select count(distinct sampled_at) from ops.figure_sample").fetch_one(&pool).await.unwrap();
    assert_eq!(rounds, 1);
}

/// The figure cache (lesson §15): the first page of a round reads PostgreSQL and keeps the figures in
/// Redis, the next reads them from Redis — the same board; with Redis away the page reads PostgreSQL and
/// says so, and nothing differs.
#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_round_is_read_from_redis_once_cached_and_from_postgresql_when_redis_is_away(pool: PgPool) {
    use dashboard::{CacheOutcome, FigureCache};
    use platform::redis_link::RedisLink;
    seeded(&pool).await;
    dashboard::sample_round(&pool, Duration::from_secs(3600)).await.unwrap();
    let redis = std::env::var("OPSDECK_REDIS_URL").expect("the stack's Redis (scripts/stack.sh env)");
    let cache = FigureCache::new(RedisLink::new(Some(redis)));

    let first = dashboard::board(&pool, &cache, &operator(), Board::Executive, Some(ACME), 6).await.unwrap();
    assert_eq!(first.cache, CacheOutcome::Miss);
    let second = dashboard::board(&pool, &cache, &operator(), Board::Executive, Some(ACME), 6).await.unwrap();
    assert_eq!(second.cache, CacheOutcome::Hit);
    assert_eq!(second.panels, first.panels, "the cached round is the same board");

    let away = FigureCache::new(RedisLink::new(Some("redis://127.0.0.1:1".into())));
    let fallback = dashboard::board(&pool, &away, &operator(), Board::Executive, Some(ACME), 6).await.unwrap();
    assert_eq!(fallback.cache, CacheOutcome::Unavailable);
    assert_eq!(fallback.panels, first.panels, "PostgreSQL answers the same");
    let off = dashboard::board(&pool, &FigureCache::off(), &operator(), Board::Executive, Some(ACME), 6).await.unwrap();
    assert_eq!(off.cache, CacheOutcome::Off);
}
