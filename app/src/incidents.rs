//! Incidents (issue 5): the register (`/incidents`), the declare form (`/incidents/new`) and one incident
//! (`/incidents/<id>`) with its lifecycle, triage, status updates and timeline.
//!
//! Every form is a plain HTML form posting to the server (`server::routes::incidents`), which runs the
//! `ops::incident` command and answers 303 to the incident on success. When the command fails the server
//! renders the same page again with a [`Submitted`] in the context: the user's input is kept, each field
//! message is shown at its field, and the status is the error's (422 invalid, 403 refused, 409 stale).

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use ops::identity::Permission;
use ops::incident::{
    self, IncidentDetail, IncidentId, IncidentListForm, IncidentListQuery, IncidentSummary, Page, TimelineFilter,
};
use platform::machine::Named;
use platform::tenants::Tenant;
use sqlx::PgPool;

use crate::error::{set_status, ErrorNotice, PageError};
use crate::format::instant;
use crate::viewer::{require_viewer, Viewer};

/// A form that was posted and refused, handed back to the page that shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// Which form: "declare", "triage", "update", "note", "lifecycle".
    pub form: &'static str,
    /// The fields as sent, in order (repeated names for checkboxes).
    pub values: Vec<(String, String)>,
    pub status: axum::http::StatusCode,
    /// What is said above the form (refusals, conflicts; "check the fields" for invalid input).
    pub message: String,
    /// Field name → message.
    pub fields: Vec<(String, String)>,
}

impl Submitted {
    /// The submission of a command that failed with `error`.
    pub fn from_error(form: &'static str, values: Vec<(String, String)>, error: incident::Error) -> Submitted {
        use axum::http::StatusCode;
        let (status, message, fields) = match &error {
            incident::Error::Invalid(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "Please correct the highlighted fields; nothing was saved.".to_string(),
                errors.iter().map(|(f, m)| (f.to_string(), m.to_string())).collect(),
            ),
            incident::Error::Conflict { .. } => (StatusCode::CONFLICT, error.to_string(), Vec::new()),
            incident::Error::NotFound { .. } => (StatusCode::NOT_FOUND, error.to_string(), Vec::new()),
            e if e.is_refusal() => (StatusCode::FORBIDDEN, error.to_string(), Vec::new()),
            _ => {
                let page = page_error(error);
                (page.status(), page.message(), Vec::new())
            }
        };
        Submitted { form, values, status, message, fields }
    }

    pub fn value(&self, field: &str) -> String {
        self.values.iter().find(|(k, _)| k == field).map(|(_, v)| v.clone()).unwrap_or_default()
    }

    pub fn all(&self, field: &str) -> Vec<String> {
        self.values.iter().filter(|(k, _)| k == field).map(|(_, v)| v.clone()).collect()
    }

    pub fn error(&self, field: &str) -> Option<String> {
        self.fields.iter().find(|(k, _)| k == field).map(|(_, m)| m.clone())
    }
}

/// The refused submission for `form`, if that is what this render is about; sets the status once.
fn submitted(form: &str) -> Option<Submitted> {
    use_context::<Submitted>().filter(|s| s.form == form)
}

/// A field's value: as sent when the form comes back refused, otherwise `default`.
fn value_of(sub: &Option<Submitted>, field: &str, default: String) -> String {
    match sub {
        Some(sub) => sub.value(field),
        None => default,
    }
}

fn field_message(sub: &Option<Submitted>, field: &str) -> Option<AnyView> {
    let message = sub.as_ref()?.error(field)?;
    Some(view! { <p class="field-error" role="alert">{message}</p> }.into_any())
}

fn form_notice(sub: &Option<Submitted>) -> Option<AnyView> {
    let sub = sub.as_ref()?;
    let class = if sub.status.as_u16() == 422 { "notice notice-warn" } else { "notice notice-bad" };
    Some(
        view! {
            <section class=class role="alert">
                <p>{sub.message.clone()}</p>
            </section>
        }
        .into_any(),
    )
}

/// An incident error while loading a page.
pub fn page_error(error: incident::Error) -> PageError {
    match error {
        incident::Error::Invalid(errors) => PageError::Invalid(
            errors.iter().map(|(field, message)| crate::error::FieldError { field, message: message.to_string() }).collect(),
        ),
        incident::Error::NotFound { .. } => PageError::NotFound { message: error.to_string() },
        incident::Error::Database(e) => platform::Error::Database(e).into(),
        incident::Error::Platform(e) => e.into(),
        e if e.is_refusal() => PageError::Forbidden { message: e.to_string() },
        e => PageError::Forbidden { message: e.to_string() },
    }
}

fn pool_or_internal() -> Result<PgPool, PageError> {
    use_context::<PgPool>().ok_or_else(|| {
        tracing::error!("no PgPool in the rendering context");
        PageError::Internal
    })
}

fn severity_badge(severity: incident::Severity) -> AnyView {
    let tone = match severity {
        incident::Severity::Sev1 | incident::Severity::Sev2 => "tone-bad",
        incident::Severity::Sev3 => "tone-active",
        _ => "tone-muted",
    };
    let class = format!("badge sev sev-{} {tone}", severity.name().to_ascii_lowercase());
    view! { <span class=class>{severity.label()}</span> }.into_any()
}

fn error_page(title: &'static str, error: PageError) -> AnyView {
    set_status(error.status());
    view! { <Title text=title/> <h1>{title}</h1> <ErrorNotice error=error/> }.into_any()
}

// ---- the register ---------------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct ListData {
    viewer: Viewer,
    tenants: Vec<Tenant>,
    form: IncidentListForm,
    result: Result<Page<IncidentSummary>, PageError>,
    /// Open post-incident action items past their due date, across the incidents the viewer may see.
    overdue: Vec<incident::OverdueActionItem>,
}

/// `/incidents?status=&severity=&tenant=&age=&after=`.
#[component]
pub fn IncidentsPage() -> impl IntoView {
    let q = use_query_map().get_untracked();
    let form = IncidentListForm {
        status: q.get("status").unwrap_or_default(),
        severity: q.get("severity").unwrap_or_default(),
        tenant: q.get("tenant").unwrap_or_default(),
        age: q.get("age").unwrap_or_default(),
        after: q.get("after").unwrap_or_default(),
        limit: q.get("limit").unwrap_or_default(),
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
                Ok(query) => incident::list_incidents(&pool, &viewer.actor, &query).await.map_err(page_error),
                Err(errors) => Err(page_error(incident::Error::Invalid(errors))),
            };
            let overdue = incident::overdue_action_items(&pool, &viewer.actor, 50).await.map_err(page_error)?;
            Ok::<_, PageError>(ListData { viewer, tenants, form, result, overdue })
        }
    });
    view! {
        <Title text="Incidents"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(data) => render_list(data),
                    Err(error) => error_page("Incidents", error),
                }
            })}
        </Suspense>
    }
}

fn select_options(options: Vec<(String, String)>, selected: &str) -> AnyView {
    options
        .into_iter()
        .map(|(value, label)| {
            let is = value == selected;
            view! { <option value=value selected=is>{label}</option> }
        })
        .collect_view()
        .into_any()
}

fn render_list(data: ListData) -> AnyView {
    let ListData { viewer, tenants, form, result, overdue } = data;
    let overdue_panel = (!overdue.is_empty()).then(|| {
        let rows = overdue
            .into_iter()
            .map(|o| {
                let href = format!("/incidents/{}", o.item.incident_id);
                view! {
                    <tr>
                        <td><a href=href>{format!("INC-{}", o.incident_number)}</a> " " {severity_badge(o.severity)}</td>
                        <td>{o.item.action.clone()}</td>
                        <td>{o.item.owner.clone().unwrap_or_else(|| "—".into())}</td>
                        <td>{o.item.due_date.map(|d| d.to_string()).unwrap_or_default()}</td>
                        <td>{format!("{} days", o.days_overdue)}</td>
                        <td>{o.item.item_type.name()} " · " {o.item.category.name()}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section class="panel" aria-labelledby="overdue-actions-heading">
                <h2 id="overdue-actions-heading">"Overdue action items"</h2>
                <table class="grid">
                    <thead><tr><th>"Incident"</th><th>"Action"</th><th>"Owner"</th><th>"Due"</th><th>"Overdue by"</th><th>"Kind"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </section>
        }
    });
    let declare = viewer.actor.may(Permission::DeclareIncident).then(|| {
        view! { <p><a class="button" href="/incidents/new">"Declare incident"</a></p> }
    });
    let err = result.as_ref().err().cloned();
    if let Some(e) = &err {
        set_status(e.status());
    }
    let field_err = |field: &'static str| err.as_ref().and_then(|e| e.field_message(field)).map(|m| view! { <p class="field-error">{m}</p> });
    let mut statuses = vec![(String::new(), "Any status".to_string())];
    statuses.extend(<incident::IncidentStatus as Named>::ALL.iter().map(|s| (s.name().to_string(), s.name().to_string())));
    let mut severities = vec![(String::new(), "Any severity".to_string())];
    severities.extend(<incident::Severity as Named>::ALL.iter().map(|s| (s.name().to_string(), s.label().to_string())));
    let mut tenant_opts = vec![(String::new(), "Any tenant".to_string())];
    tenant_opts.extend(tenants.iter().map(|t| (t.tenant_id.to_string(), format!("{} ({})", t.name, t.slug))));
    let mut ages = vec![(String::new(), "Any age".to_string())];
    ages.extend(incident::Age::ALL.iter().map(|a| (a.param().to_string(), a.label().to_string())));
    let filters = view! {
        <form method="get" action="/incidents" class="filters">
            <label>"Status " <select name="status">{select_options(statuses, &form.status)}</select></label>
            {field_err("status")}
            <label>"Severity " <select name="severity">{select_options(severities, &form.severity)}</select></label>
            {field_err("severity")}
            <label>"Tenant " <select name="tenant">{select_options(tenant_opts, &form.tenant)}</select></label>
            {field_err("tenant")}
            <label>"Age " <select name="age">{select_options(ages, &form.age)}</select></label>
            {field_err("age")}
            {field_err("after")}
            <button type="submit">"Filter"</button>
        </form>
    };
    let body = match result {
        Err(PageError::Invalid(_)) => None,
        Err(error) => Some(view! { <ErrorNotice error=error/> }.into_any()),
        Ok(page) if page.items.is_empty() => Some(view! { <p class="hint">"No incidents match."</p> }.into_any()),
        Ok(page) => {
            let older = page.next.map(|cursor| {
                let mut params = Vec::new();
                for (k, v) in [("status", &form.status), ("severity", &form.severity), ("tenant", &form.tenant), ("age", &form.age)] {
                    if !v.is_empty() {
                        params.push(format!("{k}={}", encode(v)));
                    }
                }
                params.push(format!("after={}", encode(&cursor.to_token())));
                let href = format!("/incidents?{}", params.join("&"));
                view! { <p><a rel="next" href=href>"Older incidents →"</a></p> }
            });
            let rows = page
                .items
                .into_iter()
                .map(|i| {
                    let href = format!("/incidents/{}", i.incident_id);
                    let tenants = i.tenants.iter().map(|t| t.slug.clone()).collect::<Vec<_>>().join(", ");
                    let tenants = if tenants.is_empty() { "platform-wide".to_string() } else { tenants };
                    let overdue = i.update_overdue.then(|| view! { <span class="badge tone-bad">"update overdue"</span> });
                    view! {
                        <tr>
                            <td><a href=href>{format!("INC-{}", i.incident_number)}</a></td>
                            <td>{severity_badge(i.severity)}</td>
                            <td>{i.status.name()} " " {overdue}</td>
                            <td>{i.summary.clone()}</td>
                            <td>{tenants}</td>
                            <td>{instant(&i.detected_at)}</td>
                            <td>{i.detected_by.label()}</td>
                        </tr>
                    }
                })
                .collect_view();
            Some(
                view! {
                    <table class="grid">
                        <thead><tr><th>"Incident"</th><th>"Severity"</th><th>"Status"</th><th>"Summary"</th><th>"Tenants"</th><th>"Detected"</th><th>"By"</th></tr></thead>
                        <tbody>{rows}</tbody>
                    </table>
                    {older}
                }
                .into_any(),
            )
        }
    };
    view! {
        <div class="page-head"><h1>"Incidents"</h1></div>
        {declare}
        {filters}
        {body}
        {overdue_panel}
    }
    .into_any()
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- declaring ------------------------------------------------------------------------------------------

/// `/incidents/new`.
#[component]
pub fn DeclareIncidentPage() -> impl IntoView {
    let viewer = require_viewer();
    let data = AsyncDerived::new(move || {
        let viewer = viewer.clone();
        async move {
            let viewer = viewer?;
            if !viewer.actor.may(Permission::DeclareIncident) {
                return Err(PageError::Forbidden { message: "Your roles do not allow declaring incidents.".to_string() });
            }
            let pool = pool_or_internal()?;
            Ok::<_, PageError>(ops::tenants::visible(&pool, &viewer.actor).await?)
        }
    });
    view! {
        <Title text="Declare incident"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(tenants) => render_declare(tenants),
                    Err(error) => error_page("Declare incident", error),
                }
            })}
        </Suspense>
    }
}

fn render_declare(tenants: Vec<Tenant>) -> AnyView {
    let sub = submitted("declare");
    if let Some(s) = &sub {
        set_status(s.status);
    }
    let chosen_severity = value_of(&sub, "severity", String::new());
    let severities = incident::severity_choices()
        .into_iter()
        .map(|c| {
            let value = c.severity.name();
            let checked = chosen_severity == value;
            let id = format!("severity-{}", value.to_ascii_lowercase());
            view! {
                <div class="choice">
                    <input type="radio" name="severity" id=id.clone() value=value checked=checked/>
                    <label for=id>
                        <strong>{c.label}</strong> " — " {c.meaning}
                        <br/><small>"Example: " {c.example} ". Response: " {c.response}
                        ". Status update every " {c.update_every_minutes} " min."</small>
                    </label>
                </div>
            }
        })
        .collect_view();
    let detected_by = value_of(&sub, "detected_by", String::new());
    let mut by_opts = vec![(String::new(), "Choose…".to_string())];
    by_opts.extend(<incident::DetectedBy as Named>::ALL.iter().map(|d| (d.name().to_string(), d.label().to_string())));
    let chosen_tenants = sub.as_ref().map(|s| s.all("tenants")).unwrap_or_default();
    let tenant_boxes = tenants
        .into_iter()
        .map(|t| {
            let id = t.tenant_id.to_string();
            let checked = chosen_tenants.contains(&id);
            view! {
                <label class="check">
                    <input type="checkbox" name="tenants" value=id checked=checked/>
                    {format!(" {} ({})", t.name, t.slug)}
                </label>
            }
        })
        .collect_view();
    view! {
        <div class="page-head"><h1>"Declare incident"</h1></div>
        {form_notice(&sub)}
        <form method="post" action="/incidents/new" class="form">
            <fieldset>
                <legend>"Severity"</legend>
                {severities}
                {field_message(&sub, "severity")}
            </fieldset>
            <label for="detected_by">"Detected by"</label>
            <select name="detected_by" id="detected_by">{select_options(by_opts, &detected_by)}</select>
            {field_message(&sub, "detected_by")}
            <label for="detected_at">"Detected at (UTC, blank: now)"</label>
            <input type="text" name="detected_at" id="detected_at" value=value_of(&sub, "detected_at", String::new())/>
            {field_message(&sub, "detected_at")}
            <label for="summary">"Summary"</label>
            <input type="text" name="summary" id="summary" maxlength="500" value=value_of(&sub, "summary", String::new())/>
            {field_message(&sub, "summary")}
            <fieldset>
                <legend>"Affected tenants (none: platform-wide)"</legend>
                {tenant_boxes}
                {field_message(&sub, "tenants")}
            </fieldset>
            <label for="order_ids">"Affected order ids"</label>
            <textarea name="order_ids" id="order_ids">{value_of(&sub, "order_ids", String::new())}</textarea>
            {field_message(&sub, "order_ids")}
            <label for="quote_ids">"Affected quote ids"</label>
            <textarea name="quote_ids" id="quote_ids">{value_of(&sub, "quote_ids", String::new())}</textarea>
            {field_message(&sub, "quote_ids")}
            <button type="submit">"Declare"</button>
        </form>
    }
    .into_any()
}

// ---- one incident ---------------------------------------------------------------------------------------

/// `/incidents/<id>?timeline=human|system`.
#[component]
pub fn IncidentPage() -> impl IntoView {
    let id = use_params_map().get_untracked().get("id").unwrap_or_default();
    let filter_param = use_query_map().get_untracked().get("timeline");
    let viewer = require_viewer();
    let filter = TimelineFilter::from_param(filter_param.as_deref());
    let data = AsyncDerived::new(move || {
        let viewer = viewer.clone();
        let id = id.clone();
        async move {
            let viewer = viewer?;
            let incident_id = IncidentId::parse(&id)
                .map_err(|_| PageError::NotFound { message: format!("There is no incident {id}.") })?;
            let pool = pool_or_internal()?;
            let detail =
                incident::incident_detail(&pool, &viewer.actor, incident_id, filter).await.map_err(page_error)?;
            let tenants = ops::tenants::visible(&pool, &viewer.actor).await?;
            Ok::<_, PageError>((viewer, detail, tenants))
        }
    });
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let filter_param = filter_param.clone();
                Suspend::new(async move {
                match data.await {
                    Ok((viewer, detail, tenants)) => render_incident(viewer, detail, tenants, filter_param),
                    Err(error) => error_page("Incident", error),
                }
            })}}
        </Suspense>
    }
}

fn opt_time(at: Option<chrono::DateTime<chrono::Utc>>) -> String {
    at.map(|t| instant(&t)).unwrap_or_else(|| "—".to_string())
}

fn render_incident(viewer: Viewer, d: IncidentDetail, visible_tenants: Vec<Tenant>, filter_param: Option<String>) -> AnyView {
    if let Some(s) = use_context::<Submitted>() {
        set_status(s.status);
    }
    let title = format!("INC-{}", d.incident_number);
    let base = format!("/incidents/{}", d.incident_id);
    let version = d.version.to_string();
    let tenants = if d.tenants.is_empty() {
        "platform-wide".to_string()
    } else {
        d.tenants.iter().map(|t| format!("{} ({})", t.name, t.slug)).collect::<Vec<_>>().join(", ")
    };
    let entities = d
        .entities
        .iter()
        .map(|e| {
            let label = e.number.clone().unwrap_or_else(|| e.entity.entity_id.to_string());
            let kind = e.entity.entity_type.name();
            let link = if e.entity.entity_type == incident::EntityType::Order {
                let href = format!("/orders/{}/{}", e.entity.tenant_id, e.entity.entity_id);
                view! { <a href=href>{label}</a> }.into_any()
            } else {
                view! { <span>{label}</span> }.into_any()
            };
            view! { <li>{kind} " " {link} " " {e.status.clone().unwrap_or_default()}</li> }
        })
        .collect_view();
    let overdue = d.update_overdue.then(|| view! { <span class="badge tone-bad">"status update overdue"</span> });

    // Lifecycle.
    let may_manage = viewer.actor.may(Permission::ManageIncident);
    let lifecycle_sub = submitted("lifecycle");
    let lifecycle = may_manage.then(|| {
        let buttons = d
            .next_commands
            .iter()
            .map(|c| {
                let name = c.name();
                let label = match c {
                    incident::IncidentCommand::Mitigate => "Mark mitigated",
                    incident::IncidentCommand::Resolve => "Mark resolved",
                    incident::IncidentCommand::Close => "Close",
                    _ => "Reopen",
                };
                // The refused step keeps its reason and shows the message beside it.
                let this = lifecycle_sub.as_ref().filter(|s| s.value("command") == name).cloned();
                let reason = this.as_ref().map(|s| s.value("reason")).unwrap_or_default();
                let error = field_message(&this, "reason");
                view! {
                    <form method="post" action=format!("{base}/lifecycle") class=format!("inline-form lifecycle-{}", name.to_ascii_lowercase())>
                        <input type="hidden" name="version" value=version.clone()/>
                        <input type="hidden" name="command" value=name/>
                        <label>"Reason " <input type="text" name="reason" value=reason/></label>
                        <button type="submit">{label}</button>
                        {error}
                    </form>
                }
            })
            .collect_view();
        let blockers = (!d.close_blockers.is_empty()).then(|| {
            let items = d.close_blockers.iter().map(|b| view! { <li>{b.clone()}</li> }).collect_view();
            view! { <p>"Before it can close:"</p> <ul>{items}</ul> }
        });
        view! {
            <section class="panel">
                <h2>"Lifecycle"</h2>
                {form_notice(&lifecycle_sub)}
                {buttons}
                {blockers}
            </section>
        }
    });

    // Triage.
    let triage_sub = submitted("triage");
    let tf = d.triage.to_form();
    let editable = may_manage && !d.status.is_closed();
    let text_field = |name: &'static str, label: &'static str, current: String| {
        let value = value_of(&triage_sub, name, current);
        view! {
            <label for=format!("triage-{name}")>{label}</label>
            <input type="text" id=format!("triage-{name}") name=name value=value disabled=!editable/>
            {field_message(&triage_sub, name)}
        }
    };
    let area_field = |name: &'static str, label: &'static str, current: String| {
        let value = value_of(&triage_sub, name, current);
        view! {
            <label for=format!("triage-{name}")>{label}</label>
            <textarea id=format!("triage-{name}") name=name disabled=!editable>{value}</textarea>
            {field_message(&triage_sub, name)}
        }
    };
    let severity_now = value_of(&triage_sub, "severity", tf.severity.clone());
    let sev_opts: Vec<(String, String)> = incident::severity_choices()
        .into_iter()
        .map(|c| (c.severity.name().to_string(), format!("{} — {} ({})", c.label, c.meaning, c.response)))
        .collect();
    let by_now = value_of(&triage_sub, "detected_by", tf.detected_by.clone());
    let by_opts: Vec<(String, String)> =
        <incident::DetectedBy as Named>::ALL.iter().map(|b| (b.name().to_string(), b.label().to_string())).collect();
    let triage_tenants = match &triage_sub {
        Some(s) => s.all("tenants"),
        None => tf.tenants.clone(),
    };
    // Affected tenants (triage template): a box per tenant the viewer may act on; tenants outside the
    // viewer's scope cannot be on an incident they may edit, so there is nothing else to carry.
    let tenant_boxes = visible_tenants
        .into_iter()
        .map(|t| {
            let id = t.tenant_id.to_string();
            let checked = triage_tenants.contains(&id);
            view! {
                <label class="check">
                    <input type="checkbox" name="tenants" value=id checked=checked disabled=!editable/>
                    {format!(" {} ({})", t.name, t.slug)}
                </label>
            }
        })
        .collect_view();
    let triage_button = editable.then(|| view! { <button type="submit">"Save triage"</button> });
    let triage = view! {
        <section class="panel">
            <h2>"Triage"</h2>
            {form_notice(&triage_sub)}
            <form method="post" action=format!("{base}/triage") class="form">
                <input type="hidden" name="version" value=version.clone()/>
                <fieldset>
                    <legend>"Affected tenants"</legend>
                    {tenant_boxes}
                </fieldset>
                {field_message(&triage_sub, "tenants")}
                <label for="triage-severity">"Severity"</label>
                <select id="triage-severity" name="severity" disabled=!editable>{select_options(sev_opts, &severity_now)}</select>
                {field_message(&triage_sub, "severity")}
                <label for="triage-detected_by">"Detected by"</label>
                <select id="triage-detected_by" name="detected_by" disabled=!editable>{select_options(by_opts, &by_now)}</select>
                {field_message(&triage_sub, "detected_by")}
                {text_field("detected_at", "Detected at (UTC)", tf.detected_at.clone())}
                {area_field("order_ids", "Affected order ids", tf.order_ids.clone())}
                {area_field("quote_ids", "Affected quote ids", tf.quote_ids.clone())}
                {text_field("first_known_bad_at", "First known bad (UTC)", tf.first_known_bad_at.clone())}
                {text_field("last_known_good_at", "Last known good (UTC)", tf.last_known_good_at.clone())}
                {text_field("business_capability", "Business capability", tf.business_capability.clone())}
                {area_field("customer_symptom", "Customer-visible symptom", tf.customer_symptom.clone())}
                {text_field("technical_boundary", "Suspected technical boundary", tf.technical_boundary.clone())}
                {area_field("data_integrity_risk", "Data integrity risk", tf.data_integrity_risk.clone())}
                {area_field("side_effects_executed", "Side effects already executed", tf.side_effects_executed.clone())}
                {area_field("immediate_mitigation", "Immediate mitigation", tf.immediate_mitigation.clone())}
                {area_field("current_hypothesis", "Current hypothesis", tf.current_hypothesis.clone())}
                {text_field("recovery_owner", "Recovery owner", tf.recovery_owner.clone())}
                {text_field("communication_owner", "Communication owner", tf.communication_owner.clone())}
                {field_message(&triage_sub, "tenants")}
                {triage_button}
            </form>
        </section>
    };

    // Impact dimensions, with the figures the console proposes.
    let impact_sub = submitted("impact");
    let p = &d.impact_proposal;
    let imf = d.impact.to_form();
    let with_default = |current: String, proposed: &str| if current.is_empty() { proposed.to_string() } else { current };
    let impact_field = |name: &'static str, label: &'static str, current: String| {
        let value = value_of(&impact_sub, name, current);
        view! {
            <label for=format!("impact-{name}")>{label}</label>
            <textarea id=format!("impact-{name}") name=name disabled=!editable>{value}</textarea>
            {field_message(&impact_sub, name)}
        }
    };
    let mut blast_opts = vec![(String::new(), "Not assessed".to_string())];
    blast_opts.extend(<incident::BlastRadius as Named>::ALL.iter().map(|b| (b.name().to_string(), b.label().to_string())));
    let mut recover_opts = vec![(String::new(), "Not assessed".to_string())];
    recover_opts
        .extend(<incident::Recoverability as Named>::ALL.iter().map(|r| (r.name().to_string(), r.label().to_string())));
    let blast_now = value_of(
        &impact_sub,
        "blast_radius",
        with_default(imf.blast_radius.clone(), p.blast_radius.map(|b| b.name()).unwrap_or("")),
    );
    let recover_now = value_of(&impact_sub, "recoverability", imf.recoverability.clone());
    let impact_button = editable.then(|| view! { <button type="submit">"Save impact"</button> });
    let impact = view! {
        <section class="panel">
            <h2>"Impact"</h2>
            <p class="hint">
                "Proposed from the incident's entities and tenants: orders " {p.orders.to_string()}
                "; quotes " {p.quotes.to_string()} "; tenants " {p.tenants} "."
            </p>
            {form_notice(&impact_sub)}
            <form method="post" action=format!("{base}/impact") class="form">
                <input type="hidden" name="version" value=version.clone()/>
                {impact_field("revenue", "Revenue", with_default(imf.revenue.clone(), &p.revenue_text))}
                {impact_field("customer", "Customer", with_default(imf.customer.clone(), &p.customer_text))}
                {impact_field("data_integrity", "Data integrity", imf.data_integrity.clone())}
                {impact_field("legal", "Legal / compliance", imf.legal.clone())}
                {impact_field("operational", "Operational", imf.operational.clone())}
                <label for="impact-blast_radius">"Blast radius"</label>
                <select id="impact-blast_radius" name="blast_radius" disabled=!editable>{select_options(blast_opts, &blast_now)}</select>
                {field_message(&impact_sub, "blast_radius")}
                <label for="impact-recoverability">"Recoverability"</label>
                <select id="impact-recoverability" name="recoverability" disabled=!editable>{select_options(recover_opts, &recover_now)}</select>
                {field_message(&impact_sub, "recoverability")}
                {impact_button}
            </form>
        </section>
    };

    // Status updates.
    let updates = d
        .updates
        .iter()
        .map(|u| {
            let deliveries = u
                .deliveries
                .iter()
                .map(|x| format!("{}: {:?} ({} attempts)", x.webhook_name, x.status, x.attempts))
                .collect::<Vec<_>>()
                .join("; ");
            let deliveries = if deliveries.is_empty() { "no webhooks".to_string() } else { deliveries };
            view! {
                <tr>
                    <td>{instant(&u.posted_at)}</td>
                    <td>{format!("{:?}", u.audience)}</td>
                    <td>{format!("{:?}", u.status)}</td>
                    <td>{u.body.clone()}</td>
                    <td>{u.posted_by.clone()}</td>
                    <td>{deliveries}</td>
                </tr>
            }
        })
        .collect_view();
    let update_sub = submitted("update");
    let post_update = viewer.actor.may(Permission::PostStatusUpdate).then(|| {
        let audience = value_of(&update_sub, "audience", "INTERNAL".to_string());
        let status = value_of(&update_sub, "status", String::new());
        let status_opts: Vec<(String, String)> =
            <incident::UpdateStatus as Named>::ALL.iter().map(|s| (s.name().to_string(), s.name().to_string())).collect();
        let audience_opts =
            vec![("INTERNAL".to_string(), "Internal".to_string()), ("CUSTOMER".to_string(), "Customer".to_string())];
        let field = |name: &'static str, label: &'static str| {
            view! {
                <label for=format!("update-{name}")>{label}</label>
                <input type="text" id=format!("update-{name}") name=name value=value_of(&update_sub, name, String::new())/>
                {field_message(&update_sub, name)}
            }
        };
        view! {
            <h3>"Post a status update"</h3>
            {form_notice(&update_sub)}
            <form method="post" action=format!("{base}/updates") class="form">
                <input type="hidden" name="version" value=version.clone()/>
                <label for="update-audience">"Audience"</label>
                <select id="update-audience" name="audience">{select_options(audience_opts, &audience)}</select>
                {field_message(&update_sub, "audience")}
                <label for="update-status">"Status"</label>
                <select id="update-status" name="status">{select_options(status_opts, &status)}</select>
                {field_message(&update_sub, "status")}
                {field("started_at", "Started at (UTC)")}
                {field("affected_capability", "Affected capability")}
                {field("affected_tenants", "Affected tenants")}
                {field("customer_impact", "Customer impact")}
                {field("current_hypothesis", "Current hypothesis")}
                {field("mitigation_applied", "Mitigation applied")}
                {field("next_update_at", "Next update at (UTC, blank: the severity's cadence)")}
                {field("owner", "Owner")}
                <label for="update-message">"Message (customer: what customers read; no internal details)"</label>
                <textarea id="update-message" name="message">{value_of(&update_sub, "message", String::new())}</textarea>
                <p class="hint">
                    "A customer update may not name engine, broker, cache or database products, SQL, stack traces "
                    "or internal host names; a refused one lists the words to take out."
                </p>
                {field_message(&update_sub, "message")}
                <button type="submit">"Post update"</button>
            </form>
        }
    });

    // Post-incident review and action items.
    let may_review = viewer.actor.may(Permission::ManageReview);
    let review_sub = submitted("review");
    let review_form = d.review.as_ref().map(|r| r.sections.to_form()).unwrap_or_default();
    let review_version = d.review.as_ref().map(|r| r.version.to_string()).unwrap_or_default();
    let review_status = d
        .review
        .as_ref()
        .map(|r| format!("{} (version {})", r.status.name(), r.version))
        .unwrap_or_else(|| "not started".to_string());
    let review_editable = may_review && !d.status.is_closed();
    let section = |name: &'static str, label: &'static str, current: String| {
        let value = value_of(&review_sub, name, current);
        view! {
            <label for=format!("review-{name}")>{label}</label>
            <textarea id=format!("review-{name}") name=name disabled=!review_editable>{value}</textarea>
            {field_message(&review_sub, name)}
        }
    };
    let check = |name: &'static str, label: &'static str, current: bool| {
        let checked = match &review_sub {
            Some(s) => !s.value(name).is_empty(),
            None => current,
        };
        view! {
            <label class="check">
                <input type="checkbox" name=name value="on" checked=checked disabled=!review_editable/>
                " " {label}
            </label>
        }
    };
    let rf = review_form;
    let review_button = review_editable.then(|| view! { <button type="submit">"Save review"</button> });
    let complete_button = (review_editable && d.review.is_some()).then(|| {
        view! {
            <form method="post" action=format!("{base}/review/complete") class="inline-form">
                <input type="hidden" name="review_version" value=review_version.clone()/>
                <button type="submit">"Complete review"</button>
            </form>
        }
    });
    let review = view! {
        <section class="panel">
            <h2>"Post-incident review"</h2>
            <p>"Review: " {review_status}</p>
            {form_notice(&review_sub)}
            <form method="post" action=format!("{base}/review") class="form">
                <input type="hidden" name="review_version" value=review_version.clone()/>
                {section("summary", "Summary", rf.summary.clone())}
                {section("business_impact", "Business impact", rf.business_impact.clone())}
                {section("duration", "Duration", rf.duration.clone())}
                {section("timeline", "Timeline", rf.timeline.clone())}
                {section("technical_root_cause", "Technical root cause", rf.technical_root_cause.clone())}
                {section("process_root_cause", "Process root cause", rf.process_root_cause.clone())}
                {section("detection_gap", "Detection gap", rf.detection_gap.clone())}
                {section("prevention_gap", "Prevention gap", rf.prevention_gap.clone())}
                {section("what_worked", "What worked", rf.what_worked.clone())}
                {section("what_did_not_work", "What did not work", rf.what_did_not_work.clone())}
                <fieldset>
                    <legend>"Follow-up verification"</legend>
                    {check("test_added", "Test added", rf.test_added.is_some())}
                    {check("alert_added", "Alert added", rf.alert_added.is_some())}
                    {check("runbook_updated", "Runbook updated", rf.runbook_updated.is_some())}
                    {check("dashboard_updated", "Dashboard updated", rf.dashboard_updated.is_some())}
                    {check("control_added", "Control added", rf.control_added.is_some())}
                </fieldset>
                {review_button}
            </form>
            {complete_button}
        </section>
    };

    let item_sub = submitted("action_item");
    let items = d
        .action_items
        .iter()
        .map(|item| {
            let done_form = (review_editable && item.status == incident::ActionItemStatus::Open).then(|| {
                view! {
                    <form method="post" action=format!("{base}/action-items/{}/status", item.action_item_id) class="inline-form">
                        <input type="hidden" name="version" value=item.version.to_string()/>
                        <input type="hidden" name="status" value="DONE"/>
                        <button type="submit">"Mark done"</button>
                    </form>
                }
            });
            let overdue = item.overdue.then(|| view! { <span class="badge tone-bad">"overdue"</span> });
            // Owner and due date are edited in place (a SEV1/SEV2 closes only when every item has both).
            let edit_form = (review_editable && item.status == incident::ActionItemStatus::Open).then(|| {
                view! {
                    <form method="post" action=format!("{base}/action-items/{}", item.action_item_id) class="inline-form">
                        <input type="hidden" name="version" value=item.version.to_string()/>
                        <input type="hidden" name="action" value=item.action.clone()/>
                        <input type="hidden" name="item_type" value=item.item_type.name()/>
                        <input type="hidden" name="category" value=item.category.name()/>
                        <input type="text" name="owner" aria-label="Owner" placeholder="owner" value=item.owner.clone().unwrap_or_default()/>
                        <input type="text" name="due_date" aria-label="Due date (YYYY-MM-DD)" placeholder="YYYY-MM-DD"
                            value=item.due_date.map(|d| d.to_string()).unwrap_or_default()/>
                        <button type="submit">"Save owner and due date"</button>
                    </form>
                }
            });
            view! {
                <tr>
                    <td>{item.action.clone()} {edit_form}</td>
                    <td>{item.owner.clone().unwrap_or_else(|| "—".to_string())}</td>
                    <td>{item.due_date.map(|d| d.to_string()).unwrap_or_else(|| "—".to_string())} " " {overdue}</td>
                    <td>{item.item_type.name()}</td>
                    <td>{item.category.name()}</td>
                    <td>{item.status.name()}</td>
                    <td>{done_form}</td>
                </tr>
            }
        })
        .collect_view();
    let add_item = review_editable.then(|| {
        let type_opts: Vec<(String, String)> = <incident::ActionItemType as Named>::ALL
            .iter()
            .map(|t| (t.name().to_string(), t.name().to_string()))
            .collect();
        let cat_opts: Vec<(String, String)> = <incident::ActionCategory as Named>::ALL
            .iter()
            .map(|t| (t.name().to_string(), t.name().to_string()))
            .collect();
        let item_type = value_of(&item_sub, "item_type", String::new());
        let category = value_of(&item_sub, "category", String::new());
        view! {
            <h3>"Add an action item"</h3>
            {form_notice(&item_sub)}
            <form method="post" action=format!("{base}/action-items") class="form">
                <label for="item-action">"Action"</label>
                <input type="text" id="item-action" name="action" value=value_of(&item_sub, "action", String::new())/>
                {field_message(&item_sub, "action")}
                <label for="item-owner">"Owner"</label>
                <input type="text" id="item-owner" name="owner" value=value_of(&item_sub, "owner", String::new())/>
                {field_message(&item_sub, "owner")}
                <label for="item-due_date">"Due date (YYYY-MM-DD)"</label>
                <input type="date" id="item-due_date" name="due_date" value=value_of(&item_sub, "due_date", String::new())/>
                {field_message(&item_sub, "due_date")}
                <label for="item-item_type">"Type"</label>
                <select id="item-item_type" name="item_type">{select_options(type_opts, &item_type)}</select>
                {field_message(&item_sub, "item_type")}
                <label for="item-category">"Prevent / detect / recover"</label>
                <select id="item-category" name="category">{select_options(cat_opts, &category)}</select>
                {field_message(&item_sub, "category")}
                <button type="submit">"Add action item"</button>
            </form>
        }
    });
    let action_items = view! {
        <section class="panel">
            <h2>"Action items"</h2>
            <table class="grid">
                <thead><tr><th>"Action"</th><th>"Owner"</th><th>"Due"</th><th>"Type"</th><th>"Category"</th><th>"Status"</th><th></th></tr></thead>
                <tbody>{items}</tbody>
            </table>
            {add_item}
        </section>
    };

    // Timeline.
    let timeline = d
        .timeline
        .iter()
        .map(|e| {
            view! {
                <li>
                    <time>{instant(&e.occurred_at)}</time> " "
                    <span class="badge">{format!("{:?}", e.kind)}</span> " "
                    <strong>{e.actor.clone()}</strong> " " {e.headline.clone()}
                </li>
            }
        })
        .collect_view();
    let current_filter = filter_param.unwrap_or_default();
    let note_sub = submitted("note");
    let note_form = may_manage.then(|| {
        view! {
            {form_notice(&note_sub)}
            <form method="post" action=format!("{base}/notes") class="form">
                <label for="note-text">"Add a note"</label>
                <textarea id="note-text" name="text">{value_of(&note_sub, "text", String::new())}</textarea>
                {field_message(&note_sub, "text")}
                <input type="hidden" name="entity_ids" value=""/>
                <button type="submit">"Add note"</button>
            </form>
        }
    });
    let filter_opts = vec![
        (String::new(), "All events".to_string()),
        ("human".to_string(), "People".to_string()),
        ("system".to_string(), "System".to_string()),
    ];

    let facts = [
        ("Severity", format!("{} — {} ({})", d.severity_info.label, d.severity_info.meaning, d.severity_info.response)),
        ("Detected", format!("{} by {}", instant(&d.detected_at), d.detected_by.label())),
        ("Declared by", d.created_by.clone()),
        ("Declared", instant(&d.created_at)),
        ("Mitigated", opt_time(d.mitigated_at)),
        ("Resolved", opt_time(d.resolved_at)),
        ("Closed", opt_time(d.closed_at)),
        ("Next update due", opt_time(d.next_update_due_at)),
        ("Version", d.version.to_string()),
        ("Tenants", tenants),
    ]
    .into_iter()
    .map(|(term, value)| view! { <div><dt>{term}</dt><dd>{value}</dd></div> })
    .collect_view();
    view! {
        <Title text=title.clone()/>
        <div class="page-head">
            <h1>{title} " " {severity_badge(d.severity)} " " <span class="badge">{d.status.name()}</span> " " {overdue}</h1>
            <p class="lede">{d.summary.clone()}</p>
        </div>
        <dl class="facts">{facts}</dl>
        <section class="panel">
            <h2>"Affected entities"</h2>
            <ul>{entities}</ul>
        </section>
        {lifecycle}
        {triage}
        {impact}
        <section class="panel">
            <h2>"Status updates"</h2>
            <table class="grid">
                <thead><tr><th>"Posted"</th><th>"Audience"</th><th>"Status"</th><th>"Message"</th><th>"By"</th><th>"Delivery"</th></tr></thead>
                <tbody>{updates}</tbody>
            </table>
            {post_update}
        </section>
        <section class="panel">
            <h2>"Timeline"</h2>
            <form method="get" action=base.clone()>
                <label>"Show " <select name="timeline">{select_options(filter_opts, &current_filter)}</select></label>
                <button type="submit">"Filter"</button>
            </form>
            <ol class="timeline">{timeline}</ol>
            {note_form}
        </section>
        {review}
        {action_items}
    }
    .into_any()
}
