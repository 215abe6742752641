//! Order 360's panels around the order's own record: the verdict at the top (where the chain stopped, the
//! repairs that fit, the runbook), the engine's process instances, the quote and its approvals, and what
//! concerns the order (incidents, controls in force, repairs).

use leptos::prelude::*;
use ops::identity::Permission;
use ops::order360::{EngineView, Order360, Tone};
use ops::repair;
use platform::machine::Named;
use platform::query::StepRow;

use super::detail::StatusBadge;
use crate::format::instant;
use crate::runbooks::runbook_path;
use crate::viewer::use_viewer;

fn may(permission: Permission) -> bool {
    use_viewer().is_some_and(|v| v.actor.may(permission))
}

/// The one line an operator reads first, with what to do about it.
pub fn verdict_panel(seen: &Order360) -> AnyView {
    let v = &seen.verdict;
    let order = &seen.detail.order;
    let class = match v.tone {
        Tone::Good => "verdict notice notice-info",
        Tone::Warn => "verdict notice notice-warn",
        Tone::Bad => "verdict notice notice-bad",
    };
    let offer = may(Permission::RequestRepair);
    let entity_of = |entity_type: &str| match entity_type {
        "QUOTE" => order.source_quote_id.map(|q| q.to_string()).unwrap_or_default(),
        _ => order.order_id.to_string(),
    };
    let fits = v
        .fits
        .iter()
        .filter_map(|t| repair::info(*t))
        .map(|info| {
            let href = format!(
                "/repairs/new?type={}&tenant={}&entity={}",
                info.repair_type.name(),
                order.tenant_id,
                entity_of(info.entity_type)
            );
            if offer {
                view! { <a class="button" href=href>{info.title}" …"</a> }.into_any()
            } else {
                view! { <span class="badge">{info.title}</span> }.into_any()
            }
        })
        .collect_view();
    let runbook = v.runbook.map(|id| {
        let href = runbook_path(id, &[("tenant_id", order.tenant_id.to_string()), ("order_id", order.order_id.to_string())]);
        let title = ops::runbook::get(id).map(|r| r.front.title.clone()).unwrap_or_else(|| id.to_string());
        view! { <a href=href>{format!("Runbook: {title}")}</a> }
    });
    view! {
        <section class=class role="status" aria-label="Where the chain stopped">
            <p class="verdict-headline"><strong>{v.headline.clone()}</strong></p>
            <p class="verdict-actions">{fits} " " {runbook}</p>
            <p class="hint">{format!("As of {}; repairs show their dry-run first — nothing changes until one is requested, approved where needed and executed.",
                instant(&seen.observed_at))}</p>
        </section>
    }
    .into_any()
}

fn steps(rows: &[StepRow]) -> AnyView {
    if rows.is_empty() {
        return view! { <p class="hint">"No transitions."</p> }.into_any();
    }
    let body = rows
        .iter()
        .map(|r| {
            view! {
                <tr>
                    <td>{instant(&r.occurred_at)}</td>
                    <td>{r.from_status.clone().unwrap_or_else(|| "—".into())} " → " {r.to_status.clone()}</td>
                    <td class="mono">{r.command.clone()}</td>
                    <td>{r.actor.clone()}</td>
                    <td>{r.reason.clone().unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid">
            <thead><tr><th>"When"</th><th>"Status"</th><th>"Command"</th><th>"Actor"</th><th>"Reason"</th></tr></thead>
            <tbody>{body}</tbody>
        </table>
    }
    .into_any()
}

/// The engine's side: each process instance under the business key, its activities, incidents and tasks.
pub fn engine_panel(seen: &Order360) -> AnyView {
    let key = seen.detail.order.business_key();
    // Views of one order within a second share the engine's answer: say when it was read.
    let read_at = format!("· read from the engine at {}", instant(&seen.engine_read_at));
    let body = match &seen.engine {
        EngineView::Unavailable(why) => view! {
            <p class="notice notice-warn">"The process engine is unavailable (" {why.clone()} "): the rest of the page is current; "
                "this part is unknown until it answers."</p>
        }
        .into_any(),
        EngineView::Instances(instances) if instances.is_empty() => view! {
            <p class="hint">"No process instance under this business key."</p>
        }
        .into_any(),
        EngineView::Instances(instances) => instances
            .iter()
            .map(|i| {
                let incidents = i
                    .incidents
                    .iter()
                    .map(|x| view! { <li class="tone-bad">{format!("{} at {}: {}", x.incident_type, x.activity_id.clone().unwrap_or_default(), x.message.clone().unwrap_or_default())}</li> })
                    .collect_view();
                let tasks = i
                    .tasks
                    .iter()
                    .map(|t| {
                        view! { <li>{format!("{} ({}) — worker {}, retries {}{}", t.topic.clone().unwrap_or_default(), t.activity_id.clone().unwrap_or_default(),
                            t.worker_id.clone().unwrap_or_else(|| "none".into()), t.retries.map(|r| r.to_string()).unwrap_or_else(|| "untouched".into()),
                            t.error_message.clone().map(|e| format!(": {e}")).unwrap_or_default())}</li> }
                    })
                    .collect_view();
                view! {
                    <div class="instance">
                        <dl class="facts">
                            <div><dt>"Instance"</dt><dd class="mono">{i.id.clone()}</dd></div>
                            <div><dt>"Definition"</dt><dd class="mono">{i.definition_id.clone()}</dd></div>
                            <div><dt>"State"</dt><dd>{if i.ended { "ended" } else if i.suspended { "suspended" } else { "active" }}</dd></div>
                            <div><dt>"At"</dt><dd>{i.activities.join(", ")}</dd></div>
                        </dl>
                        {incidents}
                        <ul class="plain">{tasks}</ul>
                    </div>
                }
            })
            .collect_view()
            .into_any(),
    };
    view! {
        <section class="panel" aria-labelledby="engine-heading">
            <h2 id="engine-heading">"Process engine"</h2>
            <p class="hint">"Business key " <span class="mono">{key}</span> {read_at}</p>
            {body}
        </section>
    }
    .into_any()
}

/// The quote behind the order: its history, its approvals with theirs, and every order made from it.
pub fn quote_panel(seen: &Order360) -> AnyView {
    let Some(q) = &seen.quote else {
        return view! { <section class="panel"><h2>"Quote"</h2><p class="hint">"The order has no source quote (a legacy import)."</p></section> }
            .into_any();
    };
    let approvals = q
        .approvals
        .iter()
        .map(|a| {
            view! {
                <div class="approval">
                    <p>"Approval " <span class="mono">{a.approval_request_id.to_string()}</span> " " <StatusBadge status=a.status.clone()/>
                        {format!(" for quote version {}, assignee {}, escalation level {}, due {}{}", a.quote_version,
                            a.assignee.clone().unwrap_or_else(|| "nobody".into()), a.escalation_level, instant(&a.due_at),
                            a.decided_by.clone().map(|d| format!(", decided by {d}")).unwrap_or_default())}</p>
                    {steps(&a.transitions)}
                </div>
            }
        })
        .collect_view();
    let orders = q
        .orders
        .iter()
        .map(|o| {
            view! {
                <li><a href=format!("/orders/{}/{}", seen.detail.order.tenant_id, o.order_id)>{o.order_number.clone()}</a>
                    " " <StatusBadge status=o.status.clone()/> {format!(" {} · {}", o.origin, instant(&o.created_at))}</li>
            }
        })
        .collect_view();
    view! {
        <details class="panel" open={q.orders.len() > 1}>
            <summary><h2>"Quote " <span class="mono">{q.quote.quote_number.clone()}</span></h2>
                " " <StatusBadge status=q.quote.status.clone()/>
                <span class="fold-summary">{format!("{} transition(s), {} approval(s), {} order(s)", q.transitions.len(), q.approvals.len(), q.orders.len())}</span>
            </summary>
            {steps(&q.transitions)}
            {approvals}
            <h3>"Orders made from it"</h3>
            <ul class="plain">{orders}</ul>
        </details>
    }
    .into_any()
}

/// Incidents that name the order, its open reconciliation mismatches, the controls in force that reach
/// it, its repairs.
pub fn concerns_panel(seen: &Order360) -> AnyView {
    let incidents = if seen.incidents.is_empty() {
        view! { <p class="hint">"No incident names this order or its quote."</p> }.into_any()
    } else {
        let items = seen
            .incidents
            .iter()
            .map(|i| {
                view! { <li><a href=format!("/incidents/{}", i.incident_id)>{format!("INC-{}", i.incident_number)}</a>
                    {format!(" {} {} — {}", i.severity, i.status, i.summary)}</li> }
            })
            .collect_view();
        view! { <ul class="plain">{items}</ul> }.into_any()
    };
    let controls = seen
        .controls
        .iter()
        .map(|s| view! { <li><strong>{s.switch.title()}</strong> {format!(" — {} (since {}, {})", s.switch.effect(), instant(&s.changed_at), s.reason)}</li> })
        .collect_view();
    let mismatches = (!seen.mismatches.is_empty()).then(|| {
        let items = seen
            .mismatches
            .iter()
            .map(|m| {
                view! { <li><a href=format!("/reconciliation/mismatches/{}", m.mismatch_id)>{m.mismatch_type.replace('_', " ").to_lowercase()}</a>
                    {format!(" — {} since {} (seen {}×){}", m.status, instant(&m.first_seen_at), m.times_seen,
                        m.suggested_repair.as_ref().map(|r| format!("; suggested repair: {r}")).unwrap_or_default())}</li> }
            })
            .collect_view();
        view! { <h3 id="order-mismatches-heading">"Reconciliation mismatches open"</h3> <ul class="plain">{items}</ul> }
    });
    view! {
        <section class="panel" aria-labelledby="concerns-heading">
            <h2 id="concerns-heading">"Incidents, controls and repairs"</h2>
            {incidents}
            {mismatches}
            {(!seen.controls.is_empty()).then(|| view! { <h3>"Controls in force"</h3> <ul class="plain">{controls}</ul> })}
            <h3 id="order-repairs-heading">"Repairs"</h3>
            {crate::repairs::repair_rows(&seen.repairs)}
        </section>
    }
    .into_any()
}
