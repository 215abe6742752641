//! `/reconciliation/mismatches/<id>`: one mismatch, understood without SQL — what the check compares, the
//! entity (linked), expected against observed, the likely cause, the suggested action and repair, its
//! safety — its history across runs and its buttons: acknowledge, re-check now, link an incident, request
//! the suggested repair (the repair form filled, with this mismatch), call it a false positive.

use chrono::Utc;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use ops::identity::Permission;
use ops::incident::IncidentSummary;
use ops::reconcile::mismatch::{LinkIncidentForm, MismatchStepForm};
use ops::reconcile::{self, checks, FalsePositiveForm, Mismatch, MismatchDetail};
use platform::machine::Named;
use uuid::Uuid;

use super::{check_title, mismatch_path, run_path, safety_badge};
use crate::error::{load_for_viewer, loaded, PageError};
use crate::fields::{SelectField, TextArea};
use crate::form::{form_or, notice, rejected};
use crate::format::{age, instant};
use crate::repairs::json_view;
use crate::viewer::Viewer;

#[derive(Debug, Clone)]
struct Data {
    viewer: Viewer,
    detail: MismatchDetail,
    incidents: Vec<IncidentSummary>,
}

/// `/reconciliation/mismatches/<id>`.
#[component]
pub fn MismatchPage() -> impl IntoView {
    let id = use_params_map().get_untracked().get("id").unwrap_or_default();
    let data = load_for_viewer(move |viewer, pool| {
        let id = id.clone();
        async move {
            let mismatch_id = Uuid::parse_str(&id).map_err(|_| PageError::no_such("mismatch", &id))?;
            let detail = reconcile::mismatch_detail(&pool, &viewer.actor, mismatch_id).await?;
            let incidents = ops::incident::open_incidents(&pool, &viewer.actor, detail.mismatch.tenant()).await.unwrap_or_default();
            Ok::<_, PageError>(Data { viewer, detail, incidents })
        }
    });
    view! {
        <Title text="Reconciliation mismatch"/>
        {loaded("Reconciliation mismatch", data, render)}
    }
}

/// What a mismatch is about when its entity is a grouping with a made-up id (an MD5 of what groups it),
/// in words: an outbox stream by its aggregate and event type, a relay's claims by the relay and how many.
pub(super) fn grouped_entity(m: &Mismatch) -> Option<String> {
    let text = |k: &str| m.observed_state[k].as_str().unwrap_or("?").to_string();
    match m.entity_type.as_str() {
        "OUTBOX_STREAM" => Some(format!("outbox stream {} / {}", text("aggregate_type"), text("event_type"))),
        checks::outbox_backlog::CLAIMS_ENTITY => Some(format!("{} stale claims of relay {}", m.observed_state["stale"], text("relay"))),
        _ => None,
    }
}

/// Where the mismatch's entity is shown.
fn entity_link(m: &Mismatch) -> AnyView {
    let id = m.entity_id.to_string();
    match (m.entity_type.as_str(), m.tenant_id, grouped_entity(m)) {
        ("ORDER", Some(tenant), _) => view! { <a href=format!("/orders/{tenant}/{id}")>"order " <span class="mono">{id.clone()}</span></a> }.into_any(),
        ("QUOTE", Some(tenant), _) => view! { <a href=format!("/orders?tenant={tenant}&q={id}")>"quote " <span class="mono">{id.clone()}</span></a> }.into_any(),
        // An outbox stream's backlog, a relay's claims: both on the diagnostics page's outbox panel.
        (_, Some(tenant), Some(name)) => view! { <a href=format!("/diagnostics?tenant={tenant}#outbox")>{name}</a> }.into_any(),
        (kind, _, _) => view! { <span>{kind.to_lowercase().replace('_', " ")} " " <span class="mono">{id.clone()}</span></span> }.into_any(),
    }
}

/// The repair form's address, filled from the mismatch: type, tenant, entity, incident, mismatch.
pub fn repair_request_path(m: &Mismatch) -> Option<String> {
    let repair = m.suggested_repair.as_deref()?;
    let tenant = m.tenant_id?;
    // A duplicate order is found on its quote, a relay's stale claims together: the entity acted on.
    let entity = m.repair_entity()?;
    let incident = m.incident_id.map(|i| i.to_string()).unwrap_or_default();
    Some(format!("/repairs/new?type={repair}&tenant={tenant}&entity={entity}&incident={incident}&mismatch={}", m.mismatch_id))
}

fn render(data: Data) -> AnyView {
    let Data { viewer, detail, incidents } = data;
    let MismatchDetail { mismatch: m, history, earlier } = detail;
    let now = Utc::now();
    let info = m.check().map(checks::info);
    let may_act = viewer.actor.may(Permission::RunReconciliation) && m.status().is_open();
    let may_repair = viewer.actor.may(Permission::RequestRepair) && m.status().is_open();
    let path = mismatch_path(m.mismatch_id);
    let history_rows = history
        .iter()
        .map(|h| {
            view! {
                <tr>
                    <td>{instant(&h.occurred_at)}</td>
                    <td>{h.event.clone()}</td>
                    <td>{h.status.clone()}</td>
                    <td>{h.actor.clone()}</td>
                    <td>{h.run_id.map(|r| view! { <a href=run_path(r)>"run"</a> })}</td>
                    <td>{(h.detail != serde_json::json!({})).then(|| json_view(&h.detail))}</td>
                </tr>
            }
        })
        .collect_view();
    let earlier_rows = (!earlier.is_empty()).then(|| {
        let items = earlier
            .iter()
            .map(|e| view! { <li><a href=mismatch_path(e.mismatch_id)>{e.status.clone()} ", first seen " {instant(&e.first_seen_at)}</a></li> })
            .collect_view();
        view! { <section class="panel"><h2>"Earlier mismatches of this entity and check"</h2><ul class="plain">{items}</ul></section> }
    });
    let repair_button = may_repair.then(|| repair_request_path(&m)).flatten().map(|href| {
        view! { <a class="button" href=href>"Request the suggested repair"</a> }
    });
    let actions = may_act.then(|| actions(&m, &path, &incidents));
    view! {
        <div class="page-head">
            <h1>{m.mismatch_type.replace('_', " ").to_lowercase()} " — " {m.status.clone()}</h1>
            {repair_button}
        </div>
        <section class="panel">
            <dl class="facts">
                <div><dt>"Check"</dt><dd>{check_title(&m.check_name)} {info.map(|i| format!(": {} (lesson {})", i.compares, i.lesson))}</dd></div>
                <div><dt>"Entity"</dt><dd>{entity_link(&m)} {m.tenant_id.map(|t| format!(" of tenant {t}"))}</dd></div>
                <div><dt>"Expected"</dt><dd>{json_view(&m.expected_state)}</dd></div>
                <div><dt>"Observed"</dt><dd>{json_view(&m.observed_state)}</dd></div>
                <div><dt>"Likely cause"</dt><dd>{m.likely_cause.clone()}</dd></div>
                <div><dt>"Suggested action"</dt><dd>{m.suggested_action.clone()}
                    {m.suggested_repair.clone().map(|r| view! { " — repair " <span class="mono">{r}</span> })}</dd></div>
                <div><dt>"Safety"</dt><dd>{safety_badge(m.safety_level.as_deref())}
                    {if m.auto_repair_allowed { " automatic repair may be allowed by an admin" } else { " a person decides" }}</dd></div>
                <div><dt>"Seen"</dt><dd>"first " {age(&m.first_seen_at, &now)} ", last " {age(&m.last_seen_at, &now)} ", by " {m.times_seen} " runs"</dd></div>
                {m.incident_id.map(|i| view! { <div><dt>"Incident"</dt><dd><a href=format!("/incidents/{i}")>{i.to_string()}</a></dd></div> })}
                {m.repair_id.map(|r| view! { <div><dt>"Repair"</dt><dd><a href=format!("/repairs/{r}")>{r.to_string()}</a></dd></div> })}
                {m.acknowledged_by.clone().map(|a| view! { <div><dt>"Acknowledged by"</dt><dd>{a}</dd></div> })}
                {m.false_positive_reason.clone().map(|r| view! { <div><dt>"False positive because"</dt><dd>{r}</dd></div> })}
                {m.resolution.clone().map(|r| view! { <div><dt>"Resolution"</dt><dd>{json_view(&r)}</dd></div> })}
            </dl>
        </section>
        {actions}
        <section class="panel">
            <h2>"History"</h2>
            <table class="grid">
                <thead><tr><th>"When"</th><th>"What"</th><th>"Status"</th><th>"Who"</th><th>"Run"</th><th>"Detail"</th></tr></thead>
                <tbody>{history_rows}</tbody>
            </table>
        </section>
        {earlier_rows}
    }
    .into_any()
}

fn actions(m: &Mismatch, path: &str, incidents: &[IncidentSummary]) -> AnyView {
    let step = MismatchStepForm::FIELDS;
    let fp = FalsePositiveForm::FIELDS;
    let link = LinkIncidentForm::FIELDS;
    let refused_fp = rejected::<FalsePositiveForm>(None);
    let refused_link = rejected::<LinkIncidentForm>(None);
    let refused_step = rejected::<MismatchStepForm>(None);
    let fp_form = form_or(&refused_fp, FalsePositiveForm::default);
    let choices: Vec<(String, String)> = std::iter::once((String::new(), "Choose an open incident…".to_string()))
        .chain(incidents.iter().map(|i| (i.incident_id.to_string(), format!("#{} {} — {}", i.incident_number, i.severity.name(), i.summary))))
        .collect();
    let acknowledge = (m.status == "OPEN").then(|| {
        view! {
            <form method="post" action=format!("{path}/step") class="inline-form">
                <input type="hidden" name=step.step value="acknowledge"/>
                <button type="submit">"Acknowledge"</button>
            </form>
        }
    });
    view! {
        <section class="panel">
            <h2>"Act on it"</h2>
            {notice(&refused_step)}
            {acknowledge}
            <form method="post" action=format!("{path}/step") class="inline-form">
                <input type="hidden" name=step.step value="recheck"/>
                <button type="submit">"Re-check now"</button>
            </form>
            <form method="post" action=format!("{path}/incident") class="stacked-form">
                {notice(&refused_link)}
                <SelectField id="link-incident" name=link.incident_id label="Link an incident" choices=choices selected=String::new()
                    error=refused_link.as_ref().and_then(|r| r.at(link.incident_id))/>
                <button type="submit">"Link"</button>
                <p class="hint"><a href=declare_href(m)>"Declare an incident for it"</a> " (prefilled from this mismatch) if none fits."</p>
            </form>
            <form method="post" action=format!("{path}/false-positive") class="stacked-form">
                {notice(&refused_fp)}
                <TextArea id="fp-reason" name=fp.reason label="Not a real mismatch? Say why" value=fp_form.reason.clone()
                    error=refused_fp.as_ref().and_then(|r| r.at(fp.reason))/>
                <button type="submit">"Mark as false positive"</button>
            </form>
        </section>
    }
    .into_any()
}

/// `/incidents/new` prefilled from the mismatch: what broke, detected by reconciliation, its tenant and
/// entity.
fn declare_href(m: &ops::reconcile::Mismatch) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair(
        "summary",
        &format!("Reconciliation: {} — {} {}", m.mismatch_type.replace('_', " ").to_lowercase(), m.entity_type.to_lowercase(), m.entity_id),
    );
    query.append_pair("detected_by", "RECONCILIATION");
    if let Some(tenant) = m.tenant_id {
        query.append_pair("tenant", &tenant.to_string());
    }
    match m.entity_type.as_str() {
        "ORDER" => {
            query.append_pair("order", &m.entity_id.to_string());
        }
        "QUOTE" => {
            query.append_pair("quote", &m.entity_id.to_string());
        }
        _ => {}
    }
    format!("/incidents/new?{}", query.finish())
}
