//! `/reconciliation`: start a run, the recent runs, and the mismatches by filter (a GET form), a page at a
//! time by key.

use chrono::Utc;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use ops::identity::Permission;
use ops::reconcile::{self, AutoRepair, AutoRepairForm, Mismatch, MismatchFilter, MismatchFilterForm, MismatchStatus, RunForm, RunRow};
use platform::machine::Named;
use platform::tenants::Tenant;

use super::{check_choices, check_title, mismatch_rows, run_path};
use crate::error::{load_for_viewer, loaded, PageError};
use crate::fields::{SelectField, TextField};
use crate::form::{form_or, notice, rejected};
use crate::format::instant;
use crate::incidents::encode;
use crate::repairs::tenant_choices;
use crate::viewer::Viewer;

/// Mismatches per page.
const PAGE: i64 = 50;

#[derive(Debug, Clone)]
struct ListData {
    viewer: Viewer,
    tenants: Vec<Tenant>,
    runs: Vec<RunRow>,
    filter_form: MismatchFilterForm,
    mismatches: Result<Vec<Mismatch>, PageError>,
    auto: Vec<AutoRepair>,
}

/// `/reconciliation`.
#[component]
pub fn ReconciliationPage() -> impl IntoView {
    let q = use_query_map().get_untracked();
    let param = |name: &str| q.get(name).unwrap_or_default();
    let filter_form = MismatchFilterForm {
        check: param("check"),
        tenant: param("tenant"),
        status: param("status"),
        older_than_hours: param("older_than_hours"),
        after: param("after"),
    };
    let data = load_for_viewer(move |viewer, pool| {
        let filter_form = filter_form.clone();
        async move {
            let tenants = ops::tenants::visible(&pool, &viewer.actor).await?;
            let runs = reconcile::runs(&pool, &viewer.actor, None, 20, false).await?;
            let mismatches = match MismatchFilter::parse(&filter_form) {
                Ok(filter) => reconcile::mismatches(&pool, &viewer.actor, &filter, PAGE).await.map_err(PageError::from),
                Err(fields) => Err(PageError::fields(fields)),
            };
            let auto = reconcile::auto_repairs(&pool, &viewer.actor).await?;
            Ok::<_, PageError>(ListData { viewer, tenants, runs, filter_form, mismatches, auto })
        }
    });
    view! {
        <Title text="Reconciliation"/>
        {loaded("Reconciliation", data, render)}
    }
}

fn render(data: ListData) -> AnyView {
    let ListData { viewer, tenants, runs, filter_form, mismatches, auto } = data;
    let start = viewer.actor.may(Permission::RunReconciliation).then(|| start_form(&tenants));
    let automatic = auto_panel(&tenants, &auto, viewer.actor.may(Permission::Administer));
    view! {
        <div class="page-head"><h1>"Reconciliation"</h1></div>
        <p class="hint">
            "Each check compares the system of record with what should follow from it, and records what disagrees as a \
             mismatch, kept open across runs until a run no longer finds it. See the "
            <a href="/runbooks/reconciliation-mismatch">"reconciliation-mismatch runbook"</a> "."
        </p>
        {start}
        {mismatch_panel(&tenants, &filter_form, mismatches)}
        <section class="panel"><h2>"Recent runs"</h2>{run_rows(&runs)}</section>
        {automatic}
    }
    .into_any()
}

/// Where automatic repair is allowed, and (for admins) the form to allow or stop it.
fn auto_panel(tenants: &[Tenant], auto: &[AutoRepair], admin: bool) -> AnyView {
    let f = AutoRepairForm::FIELDS;
    let refused = rejected::<AutoRepairForm>(None);
    let form = form_or(&refused, || AutoRepairForm { enabled: "on".into(), max_per_run: "10".into(), ..Default::default() });
    let name = |t: uuid::Uuid| tenants.iter().find(|x| x.tenant_id.as_uuid() == t).map(|x| x.slug.clone()).unwrap_or_else(|| t.to_string());
    let rows = auto
        .iter()
        .map(|a| {
            view! {
                <tr>
                    <td>{check_title(&a.check_name)}</td>
                    <td>{name(a.tenant_id)}</td>
                    <td>{if a.enabled { format!("on, at most {} per run", a.max_per_run) } else { "off".to_string() }}</td>
                    <td>{a.reason.clone()}</td>
                    <td>{a.changed_by.clone()} ", " {instant(&a.changed_at)}</td>
                </tr>
            }
        })
        .collect_view();
    let table = if auto.is_empty() {
        view! { <p class="hint">"Off everywhere: every mismatch waits for a person."</p> }.into_any()
    } else {
        view! {
            <table class="grid">
                <thead><tr><th>"Check"</th><th>"Tenant"</th><th>"Automatic repair"</th><th>"Why"</th><th>"Changed"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    let choices: Vec<(String, String)> = std::iter::once((String::new(), "Choose a check…".to_string()))
        .chain(ops::reconcile::checks::all().into_iter().filter(|c| c.auto_repair_possible()).map(|c| (c.name.slug(), c.title.to_string())))
        .collect();
    let states = vec![("on".to_string(), "on".to_string()), ("off".to_string(), "off".to_string())];
    let admin_form = admin.then(|| {
        view! {
            <form method="post" action="/reconciliation/auto-repair" class="stacked-form">
                {notice(&refused)}
                <SelectField id="auto-check" name=f.check label="Check" choices=choices selected=form.check.clone()
                    error=refused.as_ref().and_then(|r| r.at(f.check))/>
                <SelectField id="auto-tenant" name=f.tenant label="Tenant" choices=tenant_choices(tenants) selected=form.tenant.clone()
                    error=refused.as_ref().and_then(|r| r.at(f.tenant))/>
                <SelectField id="auto-enabled" name=f.enabled label="Automatic repair" choices=states selected=form.enabled.clone()
                    error=refused.as_ref().and_then(|r| r.at(f.enabled))/>
                <TextField id="auto-max" name=f.max_per_run label="At most, per run" value=form.max_per_run.clone()
                    error=refused.as_ref().and_then(|r| r.at(f.max_per_run))/>
                <TextField id="auto-reason" name=f.reason label="Why" value=form.reason.clone()
                    error=refused.as_ref().and_then(|r| r.at(f.reason))/>
                <button type="submit">"Save"</button>
            </form>
        }
    });
    view! {
        <section class="panel">
            <h2>"Automatic repair"</h2>
            <p class="hint">"Only LOW-risk catalogue repairs of kinds a check marks safe, by the system actor, with the same evidence as a person's."</p>
            {table}
            {admin_form}
        </section>
    }
    .into_any()
}

fn start_form(tenants: &[Tenant]) -> AnyView {
    let f = RunForm::FIELDS;
    let refused = rejected::<RunForm>(None);
    let form = form_or(&refused, || RunForm { check: "all".into(), ..Default::default() });
    let mut tenant_options = tenant_choices(tenants);
    tenant_options[0].1 = "Every tenant".into();
    view! {
        <section class="panel">
            <h2>"Run now"</h2>
            {notice(&refused)}
            <form method="post" action="/reconciliation/runs" class="inline-form">
                <SelectField id="run-check" name=f.check label="Check" choices=check_choices(("all", "Every check")) selected=form.check.clone()
                    error=refused.as_ref().and_then(|r| r.at(f.check))/>
                <SelectField id="run-tenant" name=f.tenant label="Tenant" choices=tenant_options selected=form.tenant.clone()
                    error=refused.as_ref().and_then(|r| r.at(f.tenant))/>
                <label class="check"><input type="checkbox" name=f.incremental value="on" checked=!form.incremental.is_empty()/>
                    " Only what changed since the last clean run"</label>
                <button type="submit">"Run"</button>
            </form>
        </section>
    }
    .into_any()
}

fn mismatch_panel(tenants: &[Tenant], form: &MismatchFilterForm, found: Result<Vec<Mismatch>, PageError>) -> AnyView {
    let f = MismatchFilterForm::FIELDS;
    let mut tenant_options = tenant_choices(tenants);
    tenant_options[0].1 = "Every tenant".into();
    let statuses: Vec<(String, String)> = std::iter::once((String::new(), "Open (open, acknowledged, repairing)".to_string()))
        .chain(MismatchStatus::ALL.iter().map(|s| (s.name().to_string(), s.name().to_string())))
        .collect();
    let error = found.as_ref().err().cloned();
    let field_error = |name: &str| error.as_ref().and_then(|e| e.field_message(name));
    let (table, next) = match &found {
        Ok(rows) => {
            let next = (rows.len() as i64 == PAGE).then(|| {
                let key = ops::reconcile::view::page_key(rows.last().expect("a full page"));
                let query: Vec<String> = [
                    (f.check, form.check.as_str()),
                    (f.tenant, form.tenant.as_str()),
                    (f.status, form.status.as_str()),
                    (f.older_than_hours, form.older_than_hours.as_str()),
                    (f.after, key.as_str()),
                ]
                .iter()
                .map(|(k, v)| format!("{k}={}", encode(v)))
                .collect();
                view! { <p><a href=format!("/reconciliation?{}", query.join("&"))>"Next page →"</a></p> }
            });
            (mismatch_rows(rows), next)
        }
        Err(e) if e.is_invalid() => (view! { <p class="hint">"Correct the filter above."</p> }.into_any(), None),
        Err(e) => (view! { <crate::error::ErrorNotice error=e.clone()/> }.into_any(), None),
    };
    view! {
        <section class="panel">
            <h2>"Mismatches"</h2>
            <form method="get" action="/reconciliation" class="inline-form">
                <SelectField id="filter-check" name=f.check label="Check" choices=check_choices(("", "Every check")) selected=form.check.clone()
                    error=field_error(f.check)/>
                <SelectField id="filter-tenant" name=f.tenant label="Tenant" choices=tenant_options selected=form.tenant.clone()
                    error=field_error(f.tenant)/>
                <SelectField id="filter-status" name=f.status label="Status" choices=statuses selected=form.status.clone()
                    error=field_error(f.status)/>
                <TextField id="filter-age" name=f.older_than_hours label="First seen at least (hours) ago" value=form.older_than_hours.clone()
                    error=field_error(f.older_than_hours)/>
                <button type="submit">"Filter"</button>
            </form>
            {table}
            {next}
        </section>
    }
    .into_any()
}

fn run_rows(runs: &[RunRow]) -> AnyView {
    if runs.is_empty() {
        return view! { <p class="hint">"No run yet."</p> }.into_any();
    }
    let now = Utc::now();
    let rows = runs
        .iter()
        .map(|r| {
            let duration = r.duration(now);
            view! {
                <tr>
                    <td><a href=run_path(r.run_id)>{check_title(&r.reconciliation_type)}</a></td>
                    <td>{r.status.clone()} {r.progress.clone().filter(|_| r.status == "RUNNING").map(|p| format!(" ({p})"))}</td>
                    <td>{r.origin.clone()} {r.incremental.then_some(", incremental")}</td>
                    <td>{r.checked_count}</td>
                    <td>{r.mismatch_count}</td>
                    <td>{format!("+{} / −{}", r.opened_count, r.resolved_count)}</td>
                    <td>{instant(&r.started_at)}</td>
                    <td>{format!("{:.1} s", duration.num_milliseconds() as f64 / 1000.0)}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid">
            <thead><tr><th>"Check"</th><th>"Status"</th><th>"Started by"</th><th>"Checked"</th><th>"Mismatches"</th><th>"Opened / resolved"</th><th>"Started"</th><th>"Duration"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
