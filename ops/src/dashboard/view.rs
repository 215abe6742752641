//! A dashboard as a page reads it: each figure's latest value (for the platform or the chosen tenant),
//! its breakdown by tenant or facet, its history over the window, and whether it is bad news.

use chrono::{DateTime, Duration, Utc};
use platform::ids::TenantId;
use serde::Serialize;
use sqlx::PgConnection;

use super::cache::{self, CacheOutcome, CachedFigure, FigureCache};
use super::figures::{Alarm, Board, Figure, Total, FIGURES};
use crate::command::{read, Action, Envelope};
use crate::error::Result;
use crate::identity::{Actor, TenantScope};

/// The most points a chart draws (older samples are averaged into buckets).
const MAX_POINTS: i64 = 120;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Panel {
    pub figure: &'static Figure,
    pub latest: Option<f64>,
    /// The latest value per tenant (per-tenant figures, the tenants the viewer may see).
    pub by_tenant: Vec<(TenantId, f64)>,
    /// The latest value per facet (a severity, a session state), when the figure has facets.
    pub by_facet: Vec<(String, f64)>,
    /// (time, value), oldest first.
    pub series: Vec<(DateTime<Utc>, f64)>,
    pub alarming: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoardView {
    pub board: Board,
    /// The tenant the figures are about; `None`: the platform.
    pub tenant: Option<TenantId>,
    pub hours: i64,
    pub sampled_at: Option<DateTime<Utc>>,
    pub panels: Vec<Panel>,
    /// How the figures were read (Redis, or PostgreSQL and why).
    pub cache: CacheOutcome,
}

impl BoardView {
    /// The panels in alarm first: what the page says at the top.
    pub fn alarms(&self) -> Vec<&Panel> {
        self.panels.iter().filter(|p| p.alarming).collect()
    }
}

/// The board for `tenant` (or the platform) over the last `hours`. A person scoped to some tenants sees
/// their tenants' figures and the platform-wide technical ones, never another tenant's or a total that
/// includes them: without a tenant chosen, their first tenant is shown.
pub async fn board(
    pool: &sqlx::PgPool,
    cache: &FigureCache,
    actor: &Actor,
    board: Board,
    tenant: Option<TenantId>,
    hours: i64,
) -> Result<BoardView> {
    let tenant = match (&actor.tenants, tenant) {
        (TenantScope::Only(mine), None) => mine.iter().next().copied(),
        (_, t) => t,
    };
    let mut envelope = Envelope::new(actor, Action::DashboardRead);
    if let Some(t) = tenant {
        envelope = envelope.tenant(t);
    }
    let hours = hours.clamp(1, 48);
    read(pool, envelope, async |cx| {
        let db = cx.db();
        let sampled_at: Option<DateTime<Utc>> =
            sqlx::query_scalar("select max(sampled_at) from ops.figure_sample").fetch_one(&mut *db).await?;
        let figures: Vec<&'static Figure> = FIGURES.iter().filter(|f| f.board == board).collect();
        // The round's figures: from Redis when it has them, else from the samples (then kept there).
        let key = sampled_at.map(|at| FigureCache::key(platform::machine::Named::name(board), tenant, hours, at));
        let (cached, mut outcome) = match &key {
            Some(key) => cache.get(key).await,
            None => (None, CacheOutcome::Miss),
        };
        let read = match cached.filter(|c| c.len() == figures.len()) {
            Some(read) => read,
            None => {
                if outcome == CacheOutcome::Hit {
                    outcome = CacheOutcome::Miss;
                }
                let mut read = Vec::with_capacity(figures.len());
                for figure in &figures {
                    let about = if figure.total == Total::Own { None } else { tenant };
                    let latest_rows: Vec<(Option<TenantId>, String, f64)> = match sampled_at {
                        Some(at) => sqlx::query_as(
                            "select tenant_id, facet, value from ops.figure_sample where figure = $1 and sampled_at = $2",
                        )
                        .bind(figure.name)
                        .bind(at)
                        .fetch_all(&mut *db)
                        .await?,
                        None => Vec::new(),
                    };
                    let series = series(db, figure.name, about, hours).await?;
                    read.push(CachedFigure { name: figure.name.to_string(), latest_rows, series });
                }
                if let (Some(key), CacheOutcome::Miss) = (&key, outcome) {
                    cache.put(key, &read).await;
                }
                read
            }
        };
        cache::count(outcome);
        let mut panels = Vec::new();
        for (figure, got) in figures.into_iter().zip(read) {
            // A per-tenant figure is shown for the chosen tenant; a platform-wide one as it is.
            let about = if figure.total == Total::Own { None } else { tenant };
            let latest_rows = got.latest_rows;
            let by_tenant: Vec<(TenantId, f64)> = latest_rows
                .iter()
                .filter_map(|(t, facet, v)| t.filter(|t| facet.is_empty() && actor.can_see_tenant(*t)).map(|t| (t, *v)))
                .collect();
            let by_facet: Vec<(String, f64)> =
                latest_rows.iter().filter(|(t, f, _)| *t == about && !f.is_empty()).map(|(_, f, v)| (f.clone(), *v)).collect();
            let latest = match sampled_at {
                None => None,
                Some(_) => {
                    let here: Vec<f64> = latest_rows.iter().filter(|(t, _, _)| *t == about).map(|(_, _, v)| *v).collect();
                    // A tenant with nothing to count has no row: zero.
                    Some(here.iter().sum::<f64>())
                }
            };
            let series = got.series;
            let alarming = matches!((figure.alarm, latest), (Alarm::Above(limit), Some(v)) if v >= limit);
            panels.push(Panel { figure, latest, by_tenant, by_facet, series, alarming });
        }
        Ok(BoardView { board, tenant, hours, sampled_at, panels, cache: outcome })
    })
    .await
}

/// The figure's history for `tenant` (or the platform), facets added up, averaged into at most
/// [`MAX_POINTS`] buckets.
async fn series(db: &mut PgConnection, figure: &str, tenant: Option<TenantId>, hours: i64) -> Result<Vec<(DateTime<Utc>, f64)>> {
    let since = Utc::now() - Duration::hours(hours);
    let bucket_seconds = (hours * 3600 / MAX_POINTS).max(1);
    let sql = format!(
        "select to_timestamp(floor(extract(epoch from sampled_at) / $3) * $3) as at, avg(total)::float8
         from (select sampled_at, sum(value) as total from ops.figure_sample
               where figure = $1 and sampled_at > $2 and {} group by sampled_at) s
         group by 1 order by 1",
        if tenant.is_some() { "tenant_id = $4" } else { "tenant_id is null and $4::uuid is null" }
    );
    Ok(sqlx::query_as(&sql).bind(figure).bind(since).bind(bucket_seconds as f64).bind(tenant).fetch_all(db).await?)
}
