//! The sampler: every interval, one console replica (the one that takes the advisory lock) computes every
//! figure and stores the round; every replica then exports the latest round as Prometheus gauges, so a
//! scrape of any replica reads the same and never runs the figures' queries itself.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use sqlx::PgPool;

use super::figures::{Figure, Total, FIGURES};
use crate::error::Result;

/// The advisory lock of a sampling round (any fixed number, distinct from the other jobs').
const SAMPLER_LOCK: i64 = 0x6f70_7364_6b01;

/// One figure's value for one tenant (or the platform) and facet.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub figure: &'static str,
    pub tenant_id: Option<TenantId>,
    pub facet: String,
    pub value: f64,
}

/// Computes every figure: the rows its query returns, and the platform total its [`Total`] makes of them.
pub async fn compute(pool: &PgPool) -> Result<Vec<Sample>> {
    let mut out = Vec::new();
    for figure in FIGURES {
        out.extend(compute_one(pool, figure).await?);
    }
    Ok(out)
}

async fn compute_one(pool: &PgPool, figure: &'static Figure) -> Result<Vec<Sample>> {
    let rows: Vec<(Option<TenantId>, String, f64)> = sqlx::query_as(figure.sql).fetch_all(pool).await?;
    let mut out: Vec<Sample> = rows
        .iter()
        .map(|(tenant_id, facet, value)| Sample { figure: figure.name, tenant_id: *tenant_id, facet: facet.clone(), value: *value })
        .collect();
    let mut totals: BTreeMap<String, f64> = BTreeMap::new();
    match figure.total {
        Total::Own => {}
        Total::Sum | Total::Max => {
            for (_, facet, value) in &rows {
                let total = totals.entry(facet.clone()).or_insert(0.0);
                *total = if figure.total == Total::Sum { *total + value } else { total.max(*value) };
            }
            if rows.is_empty() {
                totals.insert(String::new(), 0.0);
            }
            out.extend(totals.into_iter().map(|(facet, value)| Sample { figure: figure.name, tenant_id: None, facet, value }));
        }
    }
    if figure.total == Total::Own && out.is_empty() {
        out.push(Sample { figure: figure.name, tenant_id: None, facet: String::new(), value: 0.0 });
    }
    Ok(out)
}

/// One round: under the advisory lock (another replica sampling meanwhile: `Ok(None)`), compute, store,
/// prune samples older than `retention`. Returns how many samples were stored.
pub async fn sample_round(pool: &PgPool, retention: Duration) -> Result<Option<usize>> {
    let started = Instant::now();
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock($1)").bind(SAMPLER_LOCK).fetch_one(&mut *tx).await?;
    if !locked {
        return Ok(None);
    }
    let samples = compute(pool).await?;
    let now: DateTime<Utc> = Utc::now();
    let figures: Vec<&str> = samples.iter().map(|s| s.figure).collect();
    let tenants: Vec<Option<TenantId>> = samples.iter().map(|s| s.tenant_id).collect();
    let facets: Vec<&str> = samples.iter().map(|s| s.facet.as_str()).collect();
    let values: Vec<f64> = samples.iter().map(|s| s.value).collect();
    sqlx::query(
        "insert into ops.figure_sample (figure, tenant_id, facet, value, sampled_at)
         select f, t, c, v, $5 from unnest($1::text[], $2::uuid[], $3::text[], $4::float8[]) as s(f, t, c, v)",
    )
    .bind(&figures)
    .bind(&tenants)
    .bind(&facets)
    .bind(&values)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    let cutoff = now - chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::hours(48));
    sqlx::query("delete from ops.figure_sample where sampled_at < $1").bind(cutoff).execute(&mut *tx).await?;
    tx.commit().await?;
    metrics::histogram!("opsdeck_dashboard_sample_seconds").record(started.elapsed().as_secs_f64());
    Ok(Some(samples.len()))
}

/// The latest round, as stored.
pub async fn latest(pool: &PgPool) -> Result<Vec<(String, Option<TenantId>, String, f64)>> {
    Ok(sqlx::query_as(
        "select figure, tenant_id, facet, value from ops.figure_sample
         where sampled_at = (select max(sampled_at) from ops.figure_sample)",
    )
    .fetch_all(pool)
    .await?)
}

/// Sets `opsdeck_<figure>{tenant, facet}` from the latest round; tenants are named by their slugs.
pub async fn export_latest(pool: &PgPool) -> Result<()> {
    let slugs: BTreeMap<TenantId, String> =
        platform::tenants::list(pool).await?.into_iter().map(|t| (t.tenant_id, t.slug)).collect();
    for (figure, tenant, facet, value) in latest(pool).await? {
        let Some(known) = super::figures::figure(&figure) else { continue };
        let tenant = tenant.map(|t| slugs.get(&t).cloned().unwrap_or_else(|| t.to_string())).unwrap_or_else(|| "all".into());
        metrics::gauge!(format!("opsdeck_{}", known.name), "tenant" => tenant, "facet" => facet).set(value);
    }
    Ok(())
}

/// Runs rounds every `every` until the process ends; failures are logged and the next round tries again.
pub async fn run_sampler(pool: PgPool, every: Duration, retention: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match sample_round(&pool, retention).await {
            Ok(Some(n)) => tracing::debug!(samples = n, "dashboard figures sampled"),
            Ok(None) => tracing::debug!("another replica sampled this round"),
            Err(error) => tracing::warn!(%error, "dashboard figures could not be sampled"),
        }
        if let Err(error) = export_latest(&pool).await {
            tracing::warn!(%error, "dashboard figures could not be exported");
        }
    }
}
