//! `/reconciliation/runs/<id>`: one run — check, scope, window, counts, duration, progress while it works,
//! why it failed — and the mismatches it found or resolved.

use chrono::Utc;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use ops::reconcile::{self, checks, CheckName, Mismatch, RunRow};
use platform::machine::Named;
use uuid::Uuid;

use super::{check_title, mismatch_rows};
use crate::error::{load_for_viewer, loaded, PageError};
use crate::format::instant;

/// `/reconciliation/runs/<id>`.
#[component]
pub fn RunPage() -> impl IntoView {
    let id = use_params_map().get_untracked().get("id").unwrap_or_default();
    let data = load_for_viewer(move |viewer, pool| {
        let id = id.clone();
        async move {
            let run_id = Uuid::parse_str(&id).map_err(|_| PageError::no_such("run", &id))?;
            Ok::<_, PageError>(reconcile::run_detail(&pool, &viewer.actor, run_id, 500).await?)
        }
    });
    view! {
        <Title text="Reconciliation run"/>
        {loaded("Reconciliation run", data, render)}
    }
}

fn render((run, found): (RunRow, Vec<Mismatch>)) -> AnyView {
    let now = Utc::now();
    let info = CheckName::parse_name(&run.reconciliation_type).map(checks::info);
    let window = if run.incremental {
        format!("changes since {}", instant(&run.window_start))
    } else {
        "everything".to_string()
    };
    let scope = match (run.tenant_id, run.entity_id) {
        (_, Some(entity)) => format!("re-check of {entity}"),
        (Some(tenant), None) => format!("tenant {tenant}"),
        (None, None) => "every tenant".to_string(),
    };
    view! {
        <div class="page-head"><h1>{check_title(&run.reconciliation_type)} " — " {run.status.clone()}</h1>
            <a href="/reconciliation">"All runs"</a></div>
        <section class="panel">
            <dl class="facts">
                <div><dt>"Compares"</dt><dd>{info.map(|i| i.compares)}</dd></div>
                <div><dt>"Scope"</dt><dd>{scope}</dd></div>
                <div><dt>"Window"</dt><dd>{window} " up to " {instant(&run.window_end)}</dd></div>
                <div><dt>"Started"</dt><dd>{instant(&run.started_at)} " by " {run.created_by.clone()} " (" {run.origin.clone()} ")"</dd></div>
                <div><dt>"Duration"</dt><dd>{format!("{:.1} s", run.duration(now).num_milliseconds() as f64 / 1000.0)}</dd></div>
                <div><dt>"Progress"</dt><dd>{run.progress.clone()} {run.worker.clone().map(|w| format!(" on {w}"))}</dd></div>
                <div><dt>"Checked"</dt><dd>{run.checked_count}</dd></div>
                <div><dt>"Mismatches"</dt><dd>{run.mismatch_count} " (" {run.opened_count} " new, " {run.resolved_count} " resolved)"</dd></div>
                <div><dt>"Repaired automatically"</dt><dd>{run.auto_repairs}</dd></div>
                {run.error.clone().map(|e| view! { <div><dt>"Failed because"</dt><dd class="field-error">{e}</dd></div> })}
            </dl>
        </section>
        <section class="panel"><h2>"Found or resolved by this run"</h2>{mismatch_rows(&found)}</section>
    }
    .into_any()
}
