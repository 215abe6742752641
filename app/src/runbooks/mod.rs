//! Runbooks: `/runbooks` (the index and the rules every runbook assumes) and `/runbooks/<id>` (one runbook:
//! the repairs it calls for as buttons prefilled with the incident and entity in view, then its text with
//! each SQL block as a diagnostic that runs from the page). The page takes the context it serves in its
//! query: `incident`, and the variables of its diagnostics (`tenant_id`, `order_id`, `quote_id`, …).

mod diagnostic;
pub mod markdown;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use ops::identity::Permission;
use ops::repair::{self, RepairType};
use ops::runbook::{self, DiagnosticForm, DiagnosticRun, Runbook};
use platform::machine::Named;

use crate::error::{load_for_viewer, loaded, PageError};

/// `/runbooks/<id>`, with the context it serves.
pub fn runbook_path(id: &str, query: &[(&str, String)]) -> String {
    let query: Vec<String> =
        query.iter().filter(|(_, v)| !v.is_empty()).map(|(k, v)| format!("{k}={}", crate::incidents::encode(v))).collect();
    if query.is_empty() {
        format!("/runbooks/{id}")
    } else {
        format!("/runbooks/{id}?{}", query.join("&"))
    }
}

/// `/runbooks`.
#[component]
pub fn RunbooksPage() -> impl IntoView {
    let rows = runbook::all()
        .iter()
        .map(|r| {
            let alerts = r.front.alerts.join(", ");
            view! {
                <tr>
                    <td><a href=runbook_path(&r.front.id, &[])>{r.front.title.clone()}</a></td>
                    <td>{r.front.severity_hint.clone()}</td>
                    <td class="mono">{alerts}</td>
                    <td>{r.diagnostics.iter().filter(|d| d.runnable()).count()}</td>
                </tr>
            }
        })
        .collect_view();
    let rules = markdown::to_html(runbook::INDEX);
    view! {
        <Title text="Runbooks"/>
        <div class="page-head"><h1>"Runbooks"</h1></div>
        <section class="panel">
            <p>"Pick the runbook of the failure in front of you. Each says how to scope it, what to check before "
               "touching anything, how to mitigate, diagnose and recover — recovery is a repair command, never SQL."</p>
            <table class="grid">
                <thead><tr><th>"Runbook"</th><th>"Severity hint"</th><th>"Alerts"</th><th>"Diagnostics"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <p><a href="/checklists">"Production readiness checklist (§24)"</a>
               " — what the console can check itself is filled in."</p>
        </section>
        <details class="panel">
            <summary><h2>"Rules every runbook assumes"</h2></summary>
            <div class="markdown" inner_html=rules></div>
        </details>
    }
}

/// What the page serves: the incident and the diagnostics' variables from the query.
#[derive(Debug, Clone, Default)]
struct Context {
    incident: String,
    form: DiagnosticForm,
}

impl Context {
    fn from_query(get: impl Fn(&str) -> Option<String>) -> Context {
        let v = |k: &str| get(k).unwrap_or_default();
        Context {
            incident: v("incident"),
            form: DiagnosticForm {
                incident_id: v("incident"),
                param_tenant_id: v("tenant_id"),
                param_order_id: v("order_id"),
                param_quote_id: v("quote_id"),
                param_approval_request_id: v("approval_request_id"),
                param_message_id: v("message_id"),
                param_outbox_event_id: v("outbox_event_id"),
                param_order_line_id: v("order_line_id"),
                param_repair_id: v("repair_id"),
                param_incident_id: v("incident_id"),
                param_window_start: v("window_start"),
                param_window_end: v("window_end"),
                param_released_at: v("released_at"),
                param_consumer_group: v("consumer_group"),
            },
        }
    }
}

/// The repairs the runbook names, as buttons prefilled with the incident and the entity in view.
fn repair_buttons(book: &Runbook, ctx: &Context, may_request: bool) -> AnyView {
    if book.front.repairs.is_empty() {
        return view! { <p class="hint">"This runbook calls for no repair command: recovery is a mitigation and a fix."</p> }.into_any();
    }
    let items = book
        .front
        .repairs
        .iter()
        .map(|name| {
            let info = RepairType::parse_name(name).and_then(repair::info);
            match info {
                Some(info) if may_request => {
                    let entity = match info.entity_type {
                        "ORDER" => ctx.form.param_order_id.clone(),
                        "QUOTE" => ctx.form.param_quote_id.clone(),
                        "APPROVAL" => ctx.form.param_approval_request_id.clone(),
                        "OUTBOX_EVENT" => ctx.form.param_outbox_event_id.clone(),
                        _ => String::new(),
                    };
                    let href = format!(
                        "/repairs/new?type={}&tenant={}&entity={}&incident={}",
                        name,
                        crate::incidents::encode(&ctx.form.param_tenant_id),
                        crate::incidents::encode(&entity),
                        crate::incidents::encode(&ctx.incident)
                    );
                    view! { <li><a class="button" href=href>{info.title}</a> " " <span class="hint">{info.changes}</span></li> }.into_any()
                }
                Some(info) => view! { <li><strong>{info.title}</strong> " " <span class="hint">{info.changes}</span></li> }.into_any(),
                None => view! { <li><span class="mono">{name.clone()}</span> " " <span class="hint">"not in this console's catalogue yet"</span></li> }.into_any(),
            }
        })
        .collect_view();
    view! { <ul class="plain repair-buttons">{items}</ul> }.into_any()
}

#[derive(Debug, Clone)]
struct PageData {
    book: &'static Runbook,
    may_run: bool,
    may_request: bool,
}

/// `/runbooks/<id>`.
#[component]
pub fn RunbookPage() -> impl IntoView {
    let id = use_params_map().get_untracked().get("id").unwrap_or_default();
    let q = use_query_map().get_untracked();
    let ctx = Context::from_query(|k| q.get(k));
    let data = load_for_viewer(move |viewer, _| {
        let found = runbook::get(&id).ok_or_else(|| PageError::no_such("runbook", &id));
        async move {
            Ok::<_, PageError>(PageData {
                book: found?,
                may_run: viewer.actor.may(Permission::ManageIncident),
                may_request: viewer.actor.may(Permission::RequestRepair),
            })
        }
    });
    view! { {loaded("Runbook", data, move |d| render(d, ctx.clone()))} }
}

fn render(data: PageData, ctx: Context) -> AnyView {
    let book = data.book;
    let answered = crate::form::shown::<DiagnosticRun>().filter(|r| r.runbook_id == book.front.id);
    let refused = crate::form::rejected::<DiagnosticForm>(None);
    let mut html = markdown::to_html(&book.body);
    for d in &book.diagnostics {
        let result = answered.as_ref().filter(|r| r.index == d.index);
        let posted = refused.as_ref().filter(|_| refused_index() == Some(d.index));
        let block = diagnostic::block(book, d, &ctx.form, data.may_run, result, posted);
        markdown::fill(&mut html, d.index, &block);
    }
    let incident = (!ctx.incident.is_empty()).then(|| {
        view! {
            <p class="notice notice-info">"Working "
                <a href=format!("/incidents/{}", ctx.incident)>"the incident"</a>
                ": the diagnostics you run here are recorded on its timeline."</p>
        }
    });
    let alerts = book.front.alerts.join(", ");
    let sections = book
        .sections
        .iter()
        .map(|s| view! { <li><a href=format!("#rb-{}", markdown::slug(s))>{s.clone()}</a></li> })
        .collect_view();
    view! {
        <Title text=book.front.title.clone()/>
        <div class="page-head">
            <h1>{book.front.title.clone()}</h1>
            <p class="lede">{format!("Severity hint {} · alerts {alerts}", book.front.severity_hint)}</p>
        </div>
        {incident}
        <section class="panel" aria-labelledby="runbook-repairs-heading">
            <h2 id="runbook-repairs-heading">"Recovery commands"</h2>
            {repair_buttons(book, &ctx, data.may_request)}
        </section>
        <nav class="panel toc" aria-label="Sections"><ul class="plain inline">{sections}</ul></nav>
        <article class="markdown" inner_html=html></article>
    }
    .into_any()
}

/// Which block a refused run came from (the handler keys the refusal with its number).
fn refused_index() -> Option<usize> {
    use_context::<crate::form::Submitted>().and_then(|s| s.key().and_then(|k| k.parse().ok()))
}
