//! Live diagnostics (`/diagnostics?tenant=`): one panel per system — Kafka, the process engine, the
//! outbox, PostgreSQL, Redis — worst first, each saying at the top what is wrong, what to do next and
//! which runbook to open, with the figures a click away. Read from the sampler's latest round through
//! `ops::diagnostics::overview`; a dependency that is down makes its panel say "unavailable", and the
//! rest of the page renders. No form here changes anything: the tenant filter is a GET.

mod engine;
mod kafka;
mod outbox;
mod postgres;
mod redis;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use ops::diagnostics::{Area, Diagnostics, Overview, Panel, Status, Unavailable, Verdict};
use platform::ids::TenantId;
use platform::tenants::Tenant;

use crate::error::{set_status, ErrorNotice, PageError};
use crate::fields::SelectField;
use crate::format::{instant, instant_attr};
use crate::viewer::require_viewer;

/// The page's address and its one query parameter.
pub const DIAGNOSTICS: &str = "/diagnostics";
pub const TENANT: &str = "tenant";

#[derive(Debug, Clone)]
struct PageData {
    tenants: Vec<Tenant>,
    tenant: String,
    result: Result<Overview, PageError>,
}

/// `/diagnostics?tenant=`.
#[component]
pub fn DiagnosticsPage() -> impl IntoView {
    let tenant = use_query_map().get_untracked().get(TENANT).unwrap_or_default();
    let viewer = require_viewer();
    let data = AsyncDerived::new(move || {
        let viewer = viewer.clone();
        let tenant = tenant.clone();
        async move {
            let viewer = viewer?;
            let pool = use_context::<sqlx::PgPool>().ok_or_else(PageError::internal)?;
            let diagnostics = use_context::<Diagnostics>().ok_or_else(|| {
                tracing::error!("no Diagnostics in the rendering context");
                PageError::internal()
            })?;
            diagnostics.first_round(ops::diagnostics::FIRST_ROUND_WAIT).await;
            let tenants = ops::tenants::visible(&pool, &viewer.actor).await?;
            let result = match parse_tenant(&tenant) {
                Ok(filter) => ops::diagnostics::overview(&pool, &diagnostics, &viewer.actor, filter)
                    .await
                    .map_err(PageError::from),
                Err(error) => Err(error),
            };
            Ok::<_, PageError>(PageData { tenants, tenant, result })
        }
    });
    view! {
        <Title text="Diagnostics"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => render(data),
                    Err(error) => {
                        set_status(error.status());
                        view! { <h1>"Diagnostics"</h1> <ErrorNotice error=error/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

fn parse_tenant(text: &str) -> Result<Option<TenantId>, PageError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    TenantId::parse(text).map(Some).map_err(|_| PageError::invalid(TENANT, "Choose a tenant from the list."))
}

fn render(data: PageData) -> AnyView {
    let PageData { tenants, tenant, result } = data;
    let err = result.as_ref().err().cloned();
    if let Some(e) = &err {
        set_status(e.status());
    }
    let body = match result {
        Err(error) if error.is_invalid() => None,
        Err(error) => Some(view! { <ErrorNotice error=error/> }.into_any()),
        Ok(overview) => Some(panels(overview)),
    };
    view! {
        <div class="page-head">
            <h1>"Live diagnostics"</h1>
        </div>
        <Filter tenants=tenants tenant=tenant error=err/>
        {body}
    }
    .into_any()
}

#[component]
fn Filter(tenants: Vec<Tenant>, tenant: String, error: Option<PageError>) -> impl IntoView {
    let mut choices = vec![(String::new(), "Every tenant in my scope".to_string())];
    choices.extend(tenants.iter().map(|t| (t.tenant_id.to_string(), format!("{} ({})", t.name, t.slug))));
    view! {
        <form method="get" action=DIAGNOSTICS class="filters">
            <SelectField id="diagnostics-tenant" name=TENANT label="Tenant" choices=choices selected=tenant
                error={error.as_ref().and_then(|e| e.field_message(TENANT))} />
            <div class="field field-action"><button type="submit">"Show"</button></div>
        </form>
        <p class="hint">
            "Tenant filter applies to engine problems, waiting and stuck orders and the outbox; Kafka offsets and "
            "PostgreSQL sessions name no tenant and are shown for the whole platform."
        </p>
    }
}

/// What is wrong now and what to do (worst first, each with its runbook), then one panel per area in
/// the same order.
fn panels(overview: Overview) -> AnyView {
    let at = overview.at;
    let wrong: Vec<&(Area, Verdict)> = overview.verdicts.iter().filter(|(_, v)| v.status != Status::Ok).collect();
    let healthy: Vec<&str> =
        overview.verdicts.iter().filter(|(_, v)| v.status == Status::Ok).map(|(area, _)| area.title()).collect();
    let now = if wrong.is_empty() {
        view! {
            <p class="notice notice-info" id="now">"Nothing is wrong: every system below answers and is within its thresholds."</p>
        }
        .into_any()
    } else {
        let items = wrong
            .iter()
            .map(|(area, verdict)| {
                view! {
                    <li>
                        {badge(verdict.status)} " "
                        <a href=format!("#{}", area.as_str())><strong>{area.title()}</strong></a> ": "
                        {verdict.wrong.clone()}
                        <br/>
                        <strong>"Do: "</strong>{verdict.next.clone()} " " {runbook_link(verdict.runbook)}
                    </li>
                }
            })
            .collect_view();
        view! {
            <section class="notice notice-bad diagnostics-now" id="now" aria-labelledby="now-heading">
                <h2 id="now-heading">"What is wrong now"</h2>
                <ol>{items}</ol>
            </section>
        }
        .into_any()
    };
    let healthy = (!healthy.is_empty()).then(|| view! { <p class="hint">"Healthy: " {healthy.join(", ")} "."</p> });
    let sections = overview
        .verdicts
        .iter()
        .map(|(area, verdict)| {
            let body = match area {
                Area::Kafka => kafka::body(&overview),
                Area::Engine => engine::body(&overview),
                Area::Outbox => outbox::body(&overview),
                Area::Postgres => postgres::body(&overview),
                Area::Redis => redis::body(&overview),
            };
            panel(*area, verdict, body)
        })
        .collect_view();
    view! {
        <p class="hint">"As of " <time datetime=instant_attr(&at)>{instant(&at)}</time> "; worst first."</p>
        {now}
        {healthy}
        {sections}
    }
    .into_any()
}

/// The runbook a finding matches, on its page (`runbooks/<id>.md` is `/runbooks/<id>`).
fn runbook_link(file: &'static str) -> AnyView {
    let id = file.trim_end_matches(".md");
    view! { <a class="runbook-link" href=format!("/runbooks/{id}")>"Runbook: " {id}</a> }.into_any()
}

/// One area: what is wrong, what to do next and the runbook at the top; the figures below.
fn panel(area: Area, verdict: &Verdict, body: AnyView) -> AnyView {
    let notice = match verdict.status {
        Status::Err | Status::Unavailable => "notice notice-bad",
        Status::Warn => "notice notice-warn",
        Status::Ok => "notice notice-info",
    };
    view! {
        <section class="panel" id=area.as_str() aria-labelledby=format!("{}-heading", area.as_str())>
            <h2 id=format!("{}-heading", area.as_str())>{area.title()} " " {badge(verdict.status)}</h2>
            <div class=notice>
                <p><strong>"What is wrong: "</strong>{verdict.wrong.clone()}</p>
                <p><strong>"What to do next: "</strong>{verdict.next.clone()}</p>
                <p>{runbook_link(verdict.runbook)}</p>
            </div>
            {body}
        </section>
    }
    .into_any()
}

fn badge(status: Status) -> AnyView {
    let tone = match status {
        Status::Ok => "tone-ok",
        Status::Warn => "tone-active",
        Status::Unavailable => "tone-muted",
        Status::Err => "tone-bad",
    };
    view! { <span class=format!("badge {tone}")>{status.as_str()}</span> }.into_any()
}

/// What a panel shows when its dependency does not answer.
fn unavailable(u: &Unavailable) -> AnyView {
    let checked = u.checked_at.map(|at| format!(" (checked {})", instant(&at)));
    view! {
        <p class="unavailable">
            <strong>{format!("{} unavailable", u.dependency)}</strong>{checked}": " {u.detail.clone()}
        </p>
        <p>"Affected: " {u.affected}</p>
    }
    .into_any()
}

/// A panel's content, or what its absence means.
fn ready_or<T>(panel: &Panel<T>, ready: impl FnOnce(&T) -> AnyView) -> AnyView {
    match panel {
        Panel::Ready(value) => ready(value),
        Panel::Unavailable(u) => unavailable(u),
    }
}

/// `12.3 s`, or `—`.
fn seconds(value: Option<f64>) -> String {
    value.map(|s| if s < 120.0 { format!("{s:.1} s") } else { format!("{:.0} min", s / 60.0) }).unwrap_or_else(|| "—".into())
}
