//! The register: `/incidents?status=&severity=&tenant=&age=&after=`, newest first, paginated by key, and
//! the overdue post-incident action items of the incidents the viewer may see (each can be marked done
//! from here: that is when follow-ups are worked, often long after the incident closed).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use ops::identity::Permission;
use ops::incident::{
    self, ActionItemStatusForm, IncidentListForm, IncidentListQuery, IncidentSummary, OverdueActionItem, Page,
};
use platform::machine::Named;
use platform::tenants::Tenant;

use crate::error::loaded;
use super::{choices, encode, incident_path, pool_or_internal, severity_badge, status_badge};
use crate::error::{set_status, ErrorNotice, PageError};
use crate::fields::SelectField;
use crate::form::{notice, rejected};
use crate::format::instant;
use crate::viewer::{require_viewer, Viewer};

/// Where the overdue list's forms come back to.
pub const REGISTER: &str = "/incidents";

#[derive(Debug, Clone)]
struct ListData {
    viewer: Viewer,
    tenants: Vec<Tenant>,
    form: IncidentListForm,
    result: Result<Page<IncidentSummary>, PageError>,
    overdue: Vec<OverdueActionItem>,
}

/// `/incidents?status=&severity=&tenant=&age=&after=`.
#[component]
pub fn IncidentsPage() -> impl IntoView {
    let q = use_query_map().get_untracked();
    let f = IncidentListForm::FIELDS;
    let param = |name: &str| q.get(name).unwrap_or_default();
    let form = IncidentListForm {
        status: param(f.status),
        severity: param(f.severity),
        tenant: param(f.tenant),
        age: param(f.age),
        after: param(f.after),
        limit: param(f.limit),
    };
    let viewer = require_viewer();
    let data = AsyncDerived::new(move || {
        let viewer = viewer.clone();
        let form = form.clone();
        async move {
            let viewer = viewer?;
            let pool = pool_or_internal()?;
            let tenants = ops::tenants::visible(&pool, &viewer.actor).await?;
            let result = match IncidentListQuery::parse(&form) {
                Ok(query) => incident::list_incidents(&pool, &viewer.actor, &query).await.map_err(PageError::from),
                Err(errors) => Err(PageError::fields(errors)),
            };
            let overdue = incident::overdue_action_items(&pool, &viewer.actor, 50).await?;
            Ok::<_, PageError>(ListData { viewer, tenants, form, result, overdue })
        }
    });
    view! {
        <Title text="Incidents"/>
        {loaded("Incidents", data, render)}
    }
}

fn render(data: ListData) -> AnyView {
    let ListData { viewer, tenants, form, result, overdue } = data;
    let declare = viewer.actor.may(Permission::DeclareIncident).then(|| {
        view! { <a class="button" href="/incidents/new">"Declare incident"</a> }
    });
    let err = result.as_ref().err().cloned();
    if let Some(e) = &err {
        set_status(e.status());
    }
    let body = match result {
        Err(error) if error.is_invalid() => None,
        Err(error) => Some(view! { <ErrorNotice error=error/> }.into_any()),
        Ok(page) if page.items.is_empty() => Some(view! { <p class="hint">"No incidents match."</p> }.into_any()),
        Ok(page) => Some(table(&form, page)),
    };
    let may_track = viewer.actor.may(Permission::ManageReview);
    view! {
        <div class="page-head">
            <h1>"Incidents"</h1>
            {declare}
        </div>
        <Filters form=form tenants=tenants error=err/>
        {body}
        <Overdue items=overdue may_track=may_track/>
    }
    .into_any()
}

#[component]
fn Filters(form: IncidentListForm, tenants: Vec<Tenant>, error: Option<PageError>) -> impl IntoView {
    let f = IncidentListForm::FIELDS;
    let at = |field: &str| error.as_ref().and_then(|e| e.field_message(field));
    let mut tenant_choices = vec![(String::new(), "Any tenant".to_string())];
    tenant_choices.extend(tenants.iter().map(|t| (t.tenant_id.to_string(), format!("{} ({})", t.name, t.slug))));
    let ages = std::iter::once((String::new(), "Any age".to_string()))
        .chain(incident::Age::ALL.iter().map(|a| (a.param().to_string(), a.label().to_string())))
        .collect();
    view! {
        <form method="get" action=REGISTER class="filters">
            <SelectField id="filter-status" name=f.status label="Status"
                choices={choices::<incident::IncidentStatus>(|s| s.name().to_string(), Some("Any status"))}
                selected=form.status.clone() error=at(f.status) />
            <SelectField id="filter-severity" name=f.severity label="Severity"
                choices={choices::<incident::Severity>(|s| s.label().to_string(), Some("Any severity"))}
                selected=form.severity.clone() error=at(f.severity) />
            <SelectField id="filter-tenant" name=f.tenant label="Tenant" choices=tenant_choices
                selected=form.tenant.clone() error=at(f.tenant) />
            <SelectField id="filter-age" name=f.age label="Age" choices=ages
                selected=form.age.clone() error=at(f.age) />
            {at(f.after).map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
            <div class="field field-action"><button type="submit">"Filter"</button></div>
        </form>
    }
}

fn table(form: &IncidentListForm, page: Page<IncidentSummary>) -> AnyView {
    let f = IncidentListForm::FIELDS;
    let older = page.next.map(|cursor| {
        let mut params = Vec::new();
        for (k, v) in [(f.status, &form.status), (f.severity, &form.severity), (f.tenant, &form.tenant), (f.age, &form.age)]
        {
            if !v.is_empty() {
                params.push(format!("{k}={}", encode(v)));
            }
        }
        params.push(format!("{}={}", f.after, encode(&cursor.to_token())));
        let href = format!("{REGISTER}?{}", params.join("&"));
        view! { <p><a rel="next" href=href>"Older incidents →"</a></p> }
    });
    let rows = page
        .items
        .into_iter()
        .map(|i| {
            let tenants = i.tenants.iter().map(|t| t.slug.clone()).collect::<Vec<_>>().join(", ");
            let tenants = if tenants.is_empty() { "platform-wide".to_string() } else { tenants };
            let overdue = i.update_overdue.then(|| view! { <span class="badge tone-bad">"update overdue"</span> });
            view! {
                <tr>
                    <td><a href=incident_path(i.incident_id)>{format!("INC-{}", i.incident_number)}</a></td>
                    <td>{severity_badge(i.severity)}</td>
                    <td>{status_badge(i.status)} " " {overdue}</td>
                    <td>{i.summary.clone()}</td>
                    <td>{tenants}</td>
                    <td>{instant(&i.detected_at)}</td>
                    <td>{i.detected_by.label()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid">
            <thead><tr><th>"Incident"</th><th>"Severity"</th><th>"Status"</th><th>"Summary"</th><th>"Tenants"</th><th>"Detected"</th><th>"By"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        {older}
    }
    .into_any()
}

/// Open action items past their due date, with a "Mark done" button each for those who track them.
#[component]
fn Overdue(items: Vec<OverdueActionItem>, may_track: bool) -> impl IntoView {
    (!items.is_empty()).then(|| {
        let f = ActionItemStatusForm::FIELDS;
        let rows = items
            .into_iter()
            .map(|o| {
                let item_id = o.item.action_item_id.to_string();
                let refused = rejected::<ActionItemStatusForm>(Some(&item_id));
                let done = may_track.then(|| {
                    let action = format!("{}/action-items/{}/status", incident_path(o.item.incident_id), item_id);
                    view! {
                        <form method="post" action=action class="inline-form">
                            <input type="hidden" name=f.version value=o.item.version.to_string()/>
                            <input type="hidden" name=f.status value="DONE"/>
                            <input type="hidden" name=f.next value=REGISTER/>
                            <button type="submit">"Mark done"</button>
                        </form>
                        {notice(&refused)}
                    }
                });
                view! {
                    <tr>
                        <td>
                            <a href=incident_path(o.item.incident_id)>{format!("INC-{}", o.incident_number)}</a>
                            " " {severity_badge(o.severity)}
                        </td>
                        <td>{o.item.action.clone()}</td>
                        <td>{o.item.owner.clone().unwrap_or_else(|| "—".into())}</td>
                        <td>{o.item.due_date.map(|d| d.to_string()).unwrap_or_default()}</td>
                        <td>{format!("{} days", o.days_overdue)}</td>
                        <td>{o.item.item_type.name()} " · " {o.item.category.name()}</td>
                        <td>{done}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section class="panel" aria-labelledby="overdue-actions-heading">
                <h2 id="overdue-actions-heading">"Overdue action items"</h2>
                <table class="grid">
                    <thead><tr><th>"Incident"</th><th>"Action"</th><th>"Owner"</th><th>"Due"</th><th>"Overdue by"</th><th>"Kind"</th><th></th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </section>
        }
    })
}
