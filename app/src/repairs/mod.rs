//! Repairs: `/repairs` (what waits for the viewer — approvals, executions — and recent repairs),
//! `/repairs/new` (request one, with its dry-run), `/repairs/<id>` (one repair, whole). Every form posts
//! to `server::routes::repairs`, which runs one `ops::repair` command.

mod detail;
mod parts;
mod request;

pub use detail::{repair_path, RepairPage};
pub use parts::{json_view, repair_choices, tenant_choices};
pub use request::RequestRepairPage;

use chrono::Utc;
use leptos::prelude::*;
use leptos_meta::Title;
use ops::identity::Permission;
use ops::repair::{self, Repair, RepairStatus, Risk, Waiting};
use platform::machine::Named;

use crate::error::{load_for_viewer, loaded};
use crate::error::PageError;
use crate::format::instant;
use crate::viewer::Viewer;

/// A list of repairs as rows: what, status, risk, entity, who, when.
pub fn repair_rows(repairs: &[Repair]) -> AnyView {
    if repairs.is_empty() {
        return view! { <p class="hint">"No repairs."</p> }.into_any();
    }
    let rows = repairs
        .iter()
        .map(|r| {
            let title = repair::info(r.repair_type).map(|i| i.title).unwrap_or(r.repair_type.name());
            view! {
                <tr>
                    <td><a href=repair_path(r.repair_id)>{title}</a></td>
                    <td>{r.status.name()}</td>
                    <td>{r.risk.name()}</td>
                    <td>{r.entity_type.clone()} " " <span class="mono">{r.entity_id.to_string()[..8].to_string()}</span></td>
                    <td>{r.requested_by.clone()}</td>
                    <td>{instant(&r.created_at)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid">
            <thead><tr><th>"Repair"</th><th>"Status"</th><th>"Risk"</th><th>"Entity"</th><th>"Requested by"</th><th>"When"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

#[derive(Debug, Clone)]
struct ListData {
    viewer: Viewer,
    waiting: Vec<Waiting>,
    recent: Vec<Repair>,
}

/// `/repairs`.
#[component]
pub fn RepairsPage() -> impl IntoView {
    let data = load_for_viewer(|viewer, pool| async move {
            let waiting = if viewer.actor.may(Permission::ApproveRepair) {
                repair::waiting_for(&pool, &viewer.actor, 50).await?
            } else {
                Vec::new()
            };
            let recent = repair::recent_repairs(&pool, &viewer.actor, 50).await?;
            Ok::<_, PageError>(ListData { viewer, waiting, recent })
    });
    view! {
        <Title text="Repairs"/>
        {loaded("Repairs", data, render)}
    }
}

fn render(data: ListData) -> AnyView {
    let ListData { viewer, waiting, recent } = data;
    let me = &viewer.actor;
    let now = Utc::now();
    let approver = me.may(Permission::ApproveRepair);
    let waiting_panel = approver.then(|| {
        let rows = waiting
            .iter()
            .map(|w| {
                let r = &w.repair;
                let title = repair::info(r.repair_type).map(|i| i.title).unwrap_or(r.repair_type.name());
                view! {
                    <tr>
                        <td><a href=repair_path(r.repair_id)>{title}</a></td>
                        <td>{r.entity_type.clone()} " " <span class="mono">{r.entity_id.to_string()}</span></td>
                        <td>{r.requested_by.clone()}</td>
                        <td>{r.reason.clone()}</td>
                        <td class={if w.waiting_minutes > 30 { "due-late" } else { "" }}>{format!("{} min", w.waiting_minutes)}</td>
                    </tr>
                }
            })
            .collect_view();
        let body = if waiting.is_empty() {
            view! { <p class="hint">"Nothing waits for your decision."</p> }.into_any()
        } else {
            view! {
                <table class="grid">
                    <thead><tr><th>"Repair"</th><th>"Entity"</th><th>"Requested by"</th><th>"Why"</th><th>"Waiting"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            }
            .into_any()
        };
        view! { <section class="panel"><h2>{format!("Waiting for my decision ({})", waiting.len())}</h2>{body}</section> }
    });
    // What waits for the viewer as requester: their LOW-risk requests to confirm, and approved repairs.
    let to_execute: Vec<Repair> = recent
        .iter()
        .filter(|r| {
            me.may(Permission::RequestRepair)
                && match (r.status, r.risk) {
                    (RepairStatus::Requested, Risk::Low) => r.requested_by_subject == me.subject,
                    (RepairStatus::Approved, _) => r.standing_approval(now).is_some(),
                    _ => false,
                }
        })
        .cloned()
        .collect();
    let execute_panel = (!to_execute.is_empty()).then(|| {
        view! { <section class="panel"><h2>{format!("Ready to execute ({})", to_execute.len())}</h2>{repair_rows(&to_execute)}</section> }
    });
    let request = me.may(Permission::RequestRepair).then(|| view! { <a class="button" href="/repairs/new">"Request a repair"</a> });
    view! {
        <div class="page-head"><h1>"Repairs"</h1>{request}</div>
        {waiting_panel}
        {execute_panel}
        <section class="panel"><h2>"Recent repairs"</h2>{repair_rows(&recent)}</section>
    }
    .into_any()
}
