//! The engine panel: incidents and failed jobs with the order and tenant their business key names, and
//! the orders stuck meanwhile.

use leptos::prelude::*;
use ops::diagnostics::engine::{EngineProblems, Mapping, MappedProblem, ProblemKind};
use ops::diagnostics::Overview;

use super::{ready_or, seconds};
use crate::format::instant;

pub(super) fn body(overview: &Overview) -> AnyView {
    let problems = ready_or(&overview.engine.problems, problems);
    let stuck = if overview.engine.stuck.is_empty() {
        view! { <p>"No order stuck."</p> }.into_any()
    } else {
        let rows = overview
            .engine
            .stuck
            .iter()
            .map(|s| {
                view! {
                    <tr><td>{s.slug.clone()}</td><td>{s.status.clone()}</td><td>{s.orders}</td>
                        <td>{seconds(Some(s.oldest_age_seconds))}</td></tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid">
                <caption>"Orders stuck (not updated for 30 min in a non-terminal status)"</caption>
                <thead><tr><th>"Tenant"</th><th>"Status"</th><th>"Orders"</th><th>"Oldest for"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! { {problems} {stuck} }.into_any()
}

fn problems(engine: &EngineProblems) -> AnyView {
    let total = engine.open_incidents_total.map(|n| format!("{n} incident(s) open in the whole engine. "));
    let by_tenant = engine
        .by_tenant
        .iter()
        .map(|t| format!("{}: {} incident(s), {} failed job(s)", t.slug, t.incidents, t.failed_jobs))
        .collect::<Vec<_>>()
        .join("; ");
    if engine.problems.is_empty() {
        return view! { <p>{total} "No incident or failed job in your tenants."</p> }.into_any();
    }
    let rows = engine.problems.iter().map(problem).collect_view();
    view! {
        <p class="hint">{total} {by_tenant} " — read " {instant(&engine.observed_at)} "."</p>
        <table class="grid">
            <thead><tr><th>"Kind"</th><th>"Order"</th><th>"Activity"</th><th>"Since"</th><th>"Message"</th>
                <th>"Likely class"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

fn problem(p: &MappedProblem) -> AnyView {
    let kind = match p.problem.kind {
        ProblemKind::Incident => format!("incident ({})", p.problem.incident_type.as_deref().unwrap_or("?")),
        ProblemKind::FailedJob => format!("failed job, {} retries left", p.problem.retries.unwrap_or(0)),
    };
    let order = match &p.mapping {
        Mapping::Order { tenant_id, slug, order_id, order_number, status } => view! {
            <a href=format!("/orders/{tenant_id}/{order_id}")>{order_number.clone()}</a>
            " (" {slug.clone()} ", " {status.clone()} ")"
        }
        .into_any(),
        Mapping::MissingOrder { tenant_id, order_id } => {
            view! { {format!("{tenant_id}:{order_id} — no such order in the system of record")} }.into_any()
        }
        Mapping::NoBusinessKey => view! { "no tenantId:orderId business key" }.into_any(),
    };
    view! {
        <tr>
            <td>{kind}</td>
            <td>{order}</td>
            <td>{p.problem.activity_id.clone().unwrap_or_default()}</td>
            <td>{p.problem.since.map(|at| instant(&at)).unwrap_or_default()}</td>
            <td>{p.problem.message.clone().unwrap_or_default()}</td>
            <td>{p.class.label()} ": " {p.class.advice()}</td>
        </tr>
    }
    .into_any()
}
