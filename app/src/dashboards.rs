//! `/dashboards/<board>`: the three dashboards of lesson §19 — executive, service owner, incident. At the
//! top, the figures that are bad news now with what to open next; then every panel: its figure, a small
//! server-rendered SVG chart of the last hours, the breakdown by tenant or facet, and the list and runbook
//! behind it. A GET form filters by tenant and window; figures come from the sampler's rounds
//! (`ops::dashboard`), never from the live tables while the page renders.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use ops::dashboard::{self, Board, BoardView, Panel};
use platform::ids::TenantId;
use platform::machine::Named;
use platform::tenants::Tenant;

use crate::error::{load_for_viewer, loaded, PageError};
use crate::format::{age, instant};

/// The windows a board can show, in hours.
const WINDOWS: [i64; 4] = [1, 6, 24, 48];

/// Chart size in SVG user units (scaled by CSS).
const CHART_W: f64 = 240.0;
const CHART_H: f64 = 48.0;

#[derive(Debug, Clone)]
struct BoardData {
    view: BoardView,
    tenants: Vec<Tenant>,
}

/// `/dashboards` (the executive board) and `/dashboards/<board>?tenant=…&hours=…`.
#[component]
pub fn DashboardPage() -> impl IntoView {
    let name = use_params_map().get_untracked().get("board").unwrap_or_else(|| Board::Executive.name().to_string());
    let query = use_query_map().get_untracked();
    let tenant = query.get("tenant").unwrap_or_default();
    let hours = query.get("hours").and_then(|h| h.parse::<i64>().ok()).unwrap_or(6);
    let cache = use_context::<dashboard::FigureCache>().unwrap_or_default();
    let data = load_for_viewer(move |viewer, pool| {
        let name = name.clone();
        let tenant = tenant.clone();
        let cache = cache.clone();
        async move {
            let board = Board::parse_name(&name).ok_or_else(|| PageError::no_such("dashboard", &name))?;
            let tenant = match tenant.trim() {
                "" => None,
                t => Some(TenantId::parse(t).map_err(|_| PageError::from(ops::Error::invalid("tenant", "Not a tenant id")))?),
            };
            let view = dashboard::board(&pool, &cache, &viewer.actor, board, tenant, hours).await?;
            let tenants = ops::tenants::visible(&pool, &viewer.actor).await?;
            Ok::<_, PageError>(BoardData { view, tenants })
        }
    });
    view! {
        <Title text="Dashboards"/>
        {loaded("Dashboards", data, render)}
    }
}

fn render(data: BoardData) -> AnyView {
    let BoardData { view: board, tenants } = data;
    let now = Utc::now();
    let tenant_name = |t: TenantId| tenants.iter().find(|x| x.tenant_id == t).map(|x| x.name.clone()).unwrap_or_else(|| t.to_string());
    let about = board.tenant.map(tenant_name).unwrap_or_else(|| "every tenant".to_string());
    let tabs = [Board::Executive, Board::ServiceOwner, Board::Incident]
        .into_iter()
        .map(|b| {
            let href = board_href(b, board.tenant, board.hours);
            let current = (b == board.board).then_some("page");
            view! { <li><a href=href aria-current=current>{b.title()}</a></li> }
        })
        .collect_view();
    let freshness = match board.sampled_at {
        Some(at) => format!("Figures as of {} ({}), about {about}.", instant(&at), age(&at, &now)),
        None => "No figures sampled yet: the console samples them every few seconds once it runs.".to_string(),
    };
    let stale = board.sampled_at.is_some_and(|at| (now - at).num_minutes() >= 5);
    view! {
        <div class="page-head">
            <h1>{format!("{} dashboard", board.board.title())}</h1>
            <p class="lede">{board.board.question()}</p>
        </div>
        <nav aria-label="Dashboards"><ul class="tabs">{tabs}</ul></nav>
        {attention(&board)}
        <p class="muted" class:tone-bad=stale>
            {freshness}
            {stale.then_some(" The sampler has not written a round for minutes: these figures are old.")}
            {(board.cache == dashboard::CacheOutcome::Unavailable)
                .then_some(" Redis is not answering: the figures were read from PostgreSQL (slower, nothing is lost).")}
        </p>
        {filter(&board, &tenants)}
        <div class="panels">{board.panels.iter().map(|p| panel(p, &board, &tenants)).collect_view()}</div>
    }
    .into_any()
}

/// What is wrong now, at the top: each alarming figure with its value and where to go.
fn attention(board: &BoardView) -> AnyView {
    let alarms = board.alarms();
    if board.sampled_at.is_none() {
        return ().into_any();
    }
    if alarms.is_empty() {
        return view! {
            <section class="callout tone-ok" aria-labelledby="attention-heading">
                <h2 id="attention-heading">"Nothing on this board needs attention"</h2>
                <p>"Every figure is within its limit."</p>
            </section>
        }
        .into_any();
    }
    let items = alarms
        .into_iter()
        .map(|p| {
            let value = p.latest.map(|v| value_text(v, p.figure.unit)).unwrap_or_default();
            let next = match (p.figure.runbook, p.figure.link) {
                (Some(r), _) => view! { <a href=format!("/runbooks/{r}")>"Open the runbook"</a> }.into_any(),
                (None, Some(link)) => view! { <a href=list_href(link, board.tenant)>"Open the list"</a> }.into_any(),
                (None, None) => ().into_any(),
            };
            view! { <li><strong>{p.figure.title}</strong>{format!(": {value} — ")}{next}</li> }
        })
        .collect_view();
    view! {
        <section class="callout tone-bad" aria-labelledby="attention-heading">
            <h2 id="attention-heading">"Needs attention"</h2>
            <ul>{items}</ul>
        </section>
    }
    .into_any()
}

/// The GET form: tenant and window.
fn filter(board: &BoardView, tenants: &[Tenant]) -> AnyView {
    let chosen = board.tenant.map(|t| t.to_string()).unwrap_or_default();
    let options = std::iter::once((String::new(), "Every tenant".to_string()))
        .chain(tenants.iter().map(|t| (t.tenant_id.to_string(), format!("{} ({})", t.name, t.slug))))
        .map(|(value, label)| {
            let selected = value == chosen;
            view! { <option value=value selected=selected>{label}</option> }
        })
        .collect_view();
    let windows = WINDOWS
        .iter()
        .map(|h| {
            let selected = *h == board.hours;
            view! { <option value=h.to_string() selected=selected>{format!("last {h} h")}</option> }
        })
        .collect_view();
    view! {
        <form class="inline-form" method="get" action=format!("/dashboards/{}", board.board.name())>
            <label>"Tenant " <select name="tenant">{options}</select></label>
            <label>"Window " <select name="hours">{windows}</select></label>
            <button type="submit">"Show"</button>
        </form>
    }
    .into_any()
}

fn panel(p: &Panel, board: &BoardView, tenants: &[Tenant]) -> AnyView {
    let id = format!("panel-{}", p.figure.name);
    let value = p.latest.map(|v| value_text(v, p.figure.unit)).unwrap_or_else(|| "—".to_string());
    let chart = sparkline(&p.series, board.hours);
    let slug = |t: TenantId| tenants.iter().find(|x| x.tenant_id == t).map(|x| x.slug.clone()).unwrap_or_else(|| t.to_string());
    let mut by_tenant = p.by_tenant.clone();
    by_tenant.sort_by(|a, b| b.1.total_cmp(&a.1));
    let breakdown = if board.tenant.is_none() && by_tenant.iter().any(|(_, v)| *v > 0.0) {
        let rows = by_tenant
            .iter()
            .filter(|(_, v)| *v > 0.0)
            .take(5)
            .map(|(t, v)| {
                let href = board_href(board.board, Some(*t), board.hours);
                view! { <li><a href=href>{slug(*t)}</a> " " {value_text(*v, p.figure.unit)}</li> }
            })
            .collect_view();
        view! { <ul class="plain breakdown" aria-label="By tenant">{rows}</ul> }.into_any()
    } else {
        ().into_any()
    };
    let facets = (!p.by_facet.is_empty()).then(|| {
        let rows = p.by_facet.iter().map(|(f, v)| view! { <li>{f.clone()} " " {value_text(*v, p.figure.unit)}</li> }).collect_view();
        view! { <ul class="plain breakdown" aria-label="Breakdown">{rows}</ul> }
    });
    let links = view! {
        <p class="panel-links">
            {p.figure.link.filter(|l| Some(*l) != p.figure.runbook.map(|r| format!("/runbooks/{r}")).as_deref())
                .map(|l| view! { <a href=list_href(l, board.tenant)>"The list behind it"</a> })}
            {p.figure.runbook.map(|r| view! { " " <a href=format!("/runbooks/{r}")>"Runbook"</a> })}
        </p>
    };
    view! {
        <section class="panel" class:panel-bad=p.alarming aria-labelledby=id.clone() data-figure=p.figure.name>
            <h2 id=id.clone()>{p.figure.title}</h2>
            <p class="figure-value">{value}</p>
            {chart}
            {breakdown}
            {facets}
            {links}
        </section>
    }
    .into_any()
}

fn board_href(board: Board, tenant: Option<TenantId>, hours: i64) -> String {
    match tenant {
        Some(t) => format!("/dashboards/{}?tenant={t}&hours={hours}", board.name()),
        None => format!("/dashboards/{}?hours={hours}", board.name()),
    }
}

/// `12`, `0.4 /min`, `95 s`, `1.2 ms`: whole numbers without decimals, small ones with one.
fn value_text(v: f64, unit: &str) -> String {
    let n = if (v - v.round()).abs() < 1e-9 || v.abs() >= 100.0 { format!("{v:.0}") } else { format!("{v:.1}") };
    if unit.is_empty() { n } else { format!("{n} {unit}") }
}

/// The chart: a polyline over the window, scaled to the series' own range (from zero), with a text
/// alternative saying the range.
fn sparkline(series: &[(DateTime<Utc>, f64)], hours: i64) -> AnyView {
    let Some(points) = chart_points(series, hours, Utc::now()) else {
        return view! { <p class="muted chart-empty">"No history in this window yet."</p> }.into_any();
    };
    let max = series.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let label = format!("Chart of the last {hours} h; highest {}", value_text(max, ""));
    view! {
        <svg class="sparkline" viewBox=format!("0 0 {CHART_W} {CHART_H}") role="img" aria-label=label preserveAspectRatio="none">
            <polyline points=points fill="none" stroke="currentColor" stroke-width="1.5"/>
        </svg>
    }
    .into_any()
}

/// The `points` attribute of the chart: time across the window left to right, value from zero at the
/// bottom to the series' highest at the top. `None` without samples.
fn chart_points(series: &[(DateTime<Utc>, f64)], hours: i64, now: DateTime<Utc>) -> Option<String> {
    if series.is_empty() {
        return None;
    }
    let window = (hours.max(1) * 3600) as f64;
    let max = series.iter().map(|(_, v)| *v).fold(0.0_f64, f64::max);
    let scale = if max > 0.0 { (CHART_H - 2.0) / max } else { 0.0 };
    let start = now - chrono::Duration::hours(hours.max(1));
    let points: Vec<String> = series
        .iter()
        .map(|(at, v)| {
            let x = ((*at - start).num_milliseconds() as f64 / 1000.0 / window * CHART_W).clamp(0.0, CHART_W);
            let y = CHART_H - 1.0 - v * scale;
            format!("{x:.1},{y:.1}")
        })
        .collect();
    // One sample draws a flat line across, not an invisible dot.
    if points.len() == 1 {
        let y = points[0].split(',').nth(1).unwrap_or("0").to_string();
        return Some(format!("0,{y} {CHART_W:.1},{y}"));
    }
    Some(points.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_as_people_write_them() {
        assert_eq!(value_text(12.0, ""), "12");
        assert_eq!(value_text(0.4, "/min"), "0.4 /min");
        assert_eq!(value_text(1234.56, "s"), "1235 s");
    }

    #[test]
    fn the_chart_runs_from_the_window_start_to_now_with_the_highest_value_on_top() {
        let now = Utc::now();
        let series = vec![(now - chrono::Duration::minutes(60), 0.0), (now - chrono::Duration::minutes(30), 10.0), (now, 5.0)];
        let points = chart_points(&series, 1, now).unwrap();
        let xy: Vec<(f64, f64)> = points
            .split(' ')
            .map(|p| {
                let (x, y) = p.split_once(',').unwrap();
                (x.parse().unwrap(), y.parse().unwrap())
            })
            .collect();
        assert_eq!(xy[0], (0.0, CHART_H - 1.0), "zero at the bottom-left");
        assert!((xy[1].0 - CHART_W / 2.0).abs() < 0.2 && (xy[1].1 - 1.0).abs() < 0.01, "the highest at the top: {xy:?}");
        assert!((xy[2].0 - CHART_W).abs() < 0.2, "now at the right edge");
        assert!(chart_points(&[], 1, now).is_none());
        let one = chart_points(&[(now, 3.0)], 1, now).unwrap();
        assert!(one.starts_with("0,") && one.contains(&format!("{CHART_W:.1},")), "{one}");
    }
}

/// The list behind a figure, narrowed to the board's tenant where the list filters by tenant (the
/// reconciliation mismatches).
fn list_href(link: &str, tenant: Option<TenantId>) -> String {
    match tenant {
        Some(t) if link.starts_with("/reconciliation") => {
            format!("{link}{}tenant={t}", if link.contains('?') { '&' } else { '?' })
        }
        _ => link.to_string(),
    }
}
