//! `/repairs/new?type=&tenant=&entity=&incident=&mismatch=`: requesting a repair. The page says what the
//! repair does and checks, shows its dry-run as it would be computed now (nothing is stored by looking),
//! and takes the request: a reason of at least 20 characters, the incident it belongs to, an idempotency
//! key made by the page (a resubmitted form is the same request), and the parameters the repair type
//! lists (who approved, the new approver, …), which the dry-run shown uses as far as they are valid.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use ops::identity::Permission;
use ops::incident::IncidentSummary;
use ops::repair::{self, DryRun, ParamKind, ParamSpec, Parameters, RepairInfo, RepairRequestForm, RepairType, Services, Target};
use platform::ids::TenantId;
use platform::machine::Named;
use platform::tenants::Tenant;
use sqlx::PgPool;
use uuid::Uuid;

use super::parts::{checklist, json_view, repair_choices, risk_badge, tenant_choices};
use crate::error::{set_status, ErrorNotice, PageError};
use crate::fields::{SelectField, TextArea, TextField};
use crate::form::{form_or, notice, rejected};
use crate::viewer::require_viewer;

#[derive(Debug, Clone)]
struct RequestData {
    tenants: Vec<Tenant>,
    incidents: Vec<IncidentSummary>,
    info: Option<&'static RepairInfo>,
    preview: Option<Result<DryRun, PageError>>,
}

/// `/repairs/new`.
#[component]
pub fn RequestRepairPage() -> impl IntoView {
    let q = use_query_map().get_untracked();
    let mut asked = RepairRequestForm {
        repair_type: q.get("type").unwrap_or_default(),
        tenant: q.get("tenant").unwrap_or_default(),
        entity_id: q.get("entity").unwrap_or_default(),
        incident_id: q.get("incident").unwrap_or_default(),
        reason: String::new(),
        idempotency_key: Uuid::now_v7().to_string(),
        mismatch_id: q.get("mismatch").unwrap_or_default(),
        ..Default::default()
    };
    for spec in parameters_of(&asked) {
        if let (Some(field), Some(value)) = (asked.parameter_mut(spec.name), q.get(spec.name)) {
            *field = value;
        }
    }
    let refused = rejected::<RepairRequestForm>(None);
    let form = form_or(&refused, || asked.clone());
    let viewer = require_viewer();
    let for_data = form.clone();
    let data = AsyncDerived::new(move || {
        let viewer = viewer.clone();
        let form = for_data.clone();
        async move {
            let viewer = viewer?;
            if !viewer.actor.may(Permission::RequestRepair) {
                return Err(PageError::new(ops::ErrorKind::NotAllowed, "Your roles do not allow requesting repairs."));
            }
            let pool = use_context::<PgPool>().ok_or_else(PageError::internal)?;
            let services = use_context::<Services>().ok_or_else(PageError::internal)?;
            let tenants = ops::tenants::visible(&pool, &viewer.actor).await?;
            let repair_type = RepairType::parse_name(form.repair_type.trim());
            let tenant = TenantId::parse(&form.tenant).ok();
            let entity = Uuid::parse_str(form.entity_id.trim()).ok();
            let incidents = match tenant {
                Some(t) => ops::incident::open_incidents(&pool, &viewer.actor, Some(t)).await.unwrap_or_default(),
                None => Vec::new(),
            };
            let preview = match (repair_type, tenant, entity) {
                (Some(kind), Some(tenant), Some(entity_id)) => Some(
                    repair::preview_with(&pool, &services, &viewer.actor, kind, Target { tenant, entity_id }, &{
                        Parameters::valid_of(&form, parameters_of(&form))
                    })
                    .await
                    .map_err(PageError::from),
                ),
                _ => None,
            };
            Ok::<_, PageError>(RequestData { tenants, incidents, info: repair_type.and_then(repair::info), preview })
        }
    });
    view! {
        <Title text="Request a repair"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let form = form.clone();
                let refused = refused.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(data) => render(data, form, refused),
                        Err(error) => {
                            set_status(error.status());
                            view! { <h1>"Request a repair"</h1> <ErrorNotice error=error/> }.into_any()
                        }
                    }
                })
            }}
        </Suspense>
    }
}

/// The parameters the form's repair type lists (none for an unknown type).
fn parameters_of(form: &RepairRequestForm) -> &'static [ParamSpec] {
    RepairType::parse_name(form.repair_type.trim()).and_then(repair::info).map(|i| i.parameters).unwrap_or_default()
}

/// An input for each parameter of the repair type, `prefix` keeping the ids unique on the page.
fn parameter_fields(form: &RepairRequestForm, prefix: &str, error: impl Fn(&str) -> Option<String>) -> AnyView {
    parameters_of(form)
        .iter()
        .map(|spec| {
            let kind = match spec.kind {
                ParamKind::Time => "datetime-local",
                ParamKind::Text | ParamKind::Id => "text",
            };
            view! {
                <TextField id=format!("{prefix}-{}", spec.name) name=spec.name label=spec.label kind=kind
                    value=form.parameter(spec.name).unwrap_or_default().to_string() error=error(spec.name) />
            }
        })
        .collect_view()
        .into_any()
}

fn render(data: RequestData, form: RepairRequestForm, refused: Option<crate::form::Rejected<RepairRequestForm>>) -> AnyView {
    let f = RepairRequestForm::FIELDS;
    let at = |field: &str| refused.as_ref().and_then(|r| r.at(field));
    let types = repair_choices();
    let tenants = tenant_choices(&data.tenants);
    let incidents: Vec<(String, String)> = std::iter::once((String::new(), "Choose the incident it belongs to…".to_string()))
        .chain(data.incidents.iter().map(|i| {
            (i.incident_id.to_string(), format!("INC-{} · {} · {} · {}", i.incident_number, i.severity.label(), i.status.name(), i.summary))
        }))
        .collect();
    let no_incident = (data.incidents.is_empty() && !form.tenant.is_empty()).then(|| {
        view! {
            <p class="notice notice-warn">
                "No open or mitigated incident concerns this tenant. A repair belongs to an incident: "
                <a href="/incidents/new">"declare one"</a> " first."
            </p>
        }
    });
    let about = data.info.map(|info| {
        view! {
            <section class="panel">
                <h2>{info.title}</h2>
                <dl class="facts">
                    <div><dt>"It checks"</dt><dd>{info.checks}</dd></div>
                    <div><dt>"It changes"</dt><dd>{info.changes}</dd></div>
                    <div><dt>"Base risk"</dt><dd>{info.base_risk.name()}</dd></div>
                    <div><dt>"Approved by"</dt><dd>{info.approvers}</dd></div>
                    <div><dt>"Runbook"</dt><dd><a href=format!("/runbooks/{}", info.runbook)>{ops::runbook::get(info.runbook).map(|r| r.front.title.clone()).unwrap_or_else(|| info.runbook.to_string())}</a> " (lesson " {info.lesson} ")"</dd></div>
                </dl>
            </section>
        }
    });
    let preview = data.preview.map(|p| match p {
        Ok(dry) => {
            let failed = !dry.failed().is_empty();
            let verdict = if failed {
                view! { <p class="notice notice-bad">"The dry-run refuses this repair now: see the failed checks."</p> }.into_any()
            } else {
                view! { <p class="notice notice-info">"The dry-run passes. Requesting stores it; nothing changes until it is executed."</p> }.into_any()
            };
            view! {
                <section class="panel">
                    <h2>"Dry-run, as of now"</h2>
                    {verdict}
                    <p>"Risk: " {risk_badge(dry.risk(), &dry.raised_because)}</p>
                    {checklist(&dry.checks)}
                    <div class="diff">
                        <div><h3>"Before"</h3>{json_view(&dry.before)}</div>
                        <div><h3>"Proposed change"</h3>{json_view(&dry.proposed)}</div>
                    </div>
                </section>
            }
            .into_any()
        }
        Err(error) => view! { <ErrorNotice error=error/> }.into_any(),
    });
    view! {
        <div class="page-head"><h1>"Request a repair"</h1></div>
        {about}
        {preview}
        <section class="panel">
            <h2>"Request"</h2>
            {notice(&refused)}
            {no_incident}
            <form method="get" action="/repairs/new" class="inline-form">
                <input type="hidden" name="type" value=form.repair_type.clone()/>
                <input type="hidden" name="incident" value=form.incident_id.clone()/>
                <input type="hidden" name="mismatch" value=form.mismatch_id.clone()/>
                <SelectField id="preview-tenant" name="tenant" label="Tenant" choices=tenants selected=form.tenant.clone() />
                <TextField id="preview-entity" name="entity" label="Entity id" value=form.entity_id.clone() />
                {parameter_fields(&form, "preview", |_| None)}
                <button type="submit">"Show the dry-run"</button>
            </form>
            <form method="post" action="/repairs" class="form">
                <input type="hidden" name=f.idempotency_key value=form.idempotency_key.clone()/>
                <input type="hidden" name=f.mismatch_id value=form.mismatch_id.clone()/>
                <input type="hidden" name=f.tenant value=form.tenant.clone()/>
                <SelectField id="repair-type" name=f.repair_type label="Repair" choices=types
                    selected=form.repair_type.clone() error=at(f.repair_type) />
                <TextField id="repair-entity" name=f.entity_id label="Entity id" value=form.entity_id.clone()
                    error=at(f.entity_id) />
                {at(f.tenant).map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                <SelectField id="repair-incident" name=f.incident_id label="Incident" choices=incidents
                    selected=form.incident_id.clone() error=at(f.incident_id) />
                <TextArea id="repair-reason" name=f.reason label="Why (at least 20 characters)" value=form.reason.clone()
                    error=at(f.reason) />
                {parameter_fields(&form, "repair", |name| at(name))}
                {at(f.idempotency_key).map(|m| view! { <p class="field-error" role="alert">{m}</p> })}
                <button type="submit">"Request the repair (stores its dry-run)"</button>
            </form>
        </section>
    }
    .into_any()
}
