//! Reconciliation: `/reconciliation` (start a run; the runs with their counts and duration; the
//! mismatches filtered by check, tenant, status and age, paginated by key), `/reconciliation/runs/<id>`
//! (one run and what it found), `/reconciliation/mismatches/<id>` (one mismatch: its entity, the §17.3
//! output, its history across runs, and its buttons — acknowledge, re-check, false positive, link an
//! incident, request the suggested repair with the form filled). Forms post to
//! `server::routes::reconciliation`, which runs one `ops::reconcile` command.

mod list;
mod mismatch;
mod run;

pub use list::ReconciliationPage;
pub use mismatch::MismatchPage;
pub use run::RunPage;

use leptos::prelude::*;
use ops::reconcile::{checks, CheckName, Mismatch};
use uuid::Uuid;

use crate::format::age;

pub fn run_path(id: Uuid) -> String {
    format!("/reconciliation/runs/{id}")
}

pub fn mismatch_path(id: Uuid) -> String {
    format!("/reconciliation/mismatches/{id}")
}

/// A check's title, from its stored name.
fn check_title(name: &str) -> String {
    <CheckName as platform::machine::Named>::parse_name(name).map(|c| checks::info(c).title.to_string()).unwrap_or_else(|| name.to_string())
}

/// The checks as `(value, label)` choices, with a first choice of `first`.
fn check_choices(first: (&str, &str)) -> Vec<(String, String)> {
    std::iter::once((first.0.to_string(), first.1.to_string()))
        .chain(checks::all().into_iter().map(|c| (c.name.slug(), c.title.to_string())))
        .collect()
}

fn safety_badge(safety: Option<&str>) -> AnyView {
    let (class, text) = match safety {
        Some("SAFE") => ("badge tone-good", "SAFE"),
        Some("CAUTION") => ("badge tone-active", "CAUTION"),
        Some("DANGEROUS") => ("badge tone-bad", "DANGEROUS"),
        _ => ("badge", "—"),
    };
    view! { <span class=class>{text}</span> }.into_any()
}

/// Mismatches as rows: what, entity, status, safety, first/last seen, times.
fn mismatch_rows(found: &[Mismatch]) -> AnyView {
    if found.is_empty() {
        return view! { <p class="hint">"No mismatches."</p> }.into_any();
    }
    let now = chrono::Utc::now();
    let rows = found
        .iter()
        .map(|m| {
            view! {
                <tr>
                    <td><a href=mismatch_path(m.mismatch_id)>{m.mismatch_type.replace('_', " ").to_lowercase()}</a></td>
                    <td>{check_title(&m.check_name)}</td>
                    <td>{match mismatch::grouped_entity(m) {
                        Some(name) => view! { <span>{name}</span> }.into_any(),
                        None => view! { <span>{m.entity_type.clone()} " " <span class="mono">{m.entity_id.to_string()}</span></span> }.into_any(),
                    }}</td>
                    <td>{m.status.clone()}</td>
                    <td>{safety_badge(m.safety_level.as_deref())}</td>
                    <td>{age(&m.first_seen_at, &now)}</td>
                    <td>{age(&m.last_seen_at, &now)}</td>
                    <td>{m.times_seen}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid">
            <thead><tr><th>"Mismatch"</th><th>"Check"</th><th>"Entity"</th><th>"Status"</th><th>"Safety"</th><th>"First seen"</th><th>"Last seen"</th><th>"Runs"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
