//! The incident pages' forms (issue 5): plain HTML form POSTs, each running one `ops::incident` command as
//! the signed-in viewer. Success answers 303 to the incident's page; a failure renders the form's page
//! again with the input kept and the error at its field (422), the refusal (403), the stale-form notice
//! (409) or "not found" (404) — see `app::incidents::Submitted`.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::Method;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use app::incidents::Submitted;
use app::viewer::Viewer;
use ops::incident::{
    self, ActionItemForSave, ActionItemForm, ActionItemId, ActionItemStatus, ReviewForSave, ReviewForm, DeclareForm, Impact, ImpactForm, FieldErrors, IncidentForDeclare, IncidentId, LifecycleChange, LifecycleForm, NoteForAdd,
    NoteForm, StatusUpdateForPost, StatusUpdateForm, TriageForSave, TriageForm,
};

use platform::machine::Named;

use crate::routes::pages;
use crate::startup::AppState;

type Fields = Vec<(String, String)>;

fn one(values: &Fields, name: &str) -> String {
    values.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
}

fn all(values: &Fields, name: &str) -> Vec<String> {
    values.iter().filter(|(k, _)| k == name).map(|(_, v)| v.clone()).collect()
}

/// The version the form was rendered with (a hidden field).
fn version(values: &Fields) -> Result<i64, incident::Error> {
    one(values, "version")
        .trim()
        .parse::<i64>()
        .map_err(|_| incident::Error::Invalid(FieldErrors::single("version", "The form lost its version; reload the page")))
}

fn incident_path(id: IncidentId) -> String {
    format!("/incidents/{id}")
}

/// Renders `page` (a GET address of the console) again for `viewer`, with the refused submission.
async fn rerender(state: AppState, viewer: Viewer, page: &str, submitted: Submitted) -> Response {
    let mut request = Request::builder().method(Method::GET).uri(page).body(Body::empty()).expect("a valid page address");
    request.extensions_mut().insert(viewer);
    pages::render_with(state, request, Some(submitted)).await
}

/// `POST /incidents/new`.
pub async fn declare(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Form(values): Form<Fields>,
) -> Response {
    let form = DeclareForm {
        severity: one(&values, "severity"),
        detected_by: one(&values, "detected_by"),
        detected_at: one(&values, "detected_at"),
        summary: one(&values, "summary"),
        tenants: all(&values, "tenants"),
        order_ids: one(&values, "order_ids"),
        quote_ids: one(&values, "quote_ids"),
    };
    let result = match IncidentForDeclare::parse(&form) {
        Ok(input) => incident::declare_incident(&state.pool, &viewer.actor, &input).await,
        Err(errors) => Err(errors.into()),
    };
    match result {
        Ok(declared) => Redirect::to(&incident_path(declared.incident_id)).into_response(),
        Err(error) => {
            let submitted = Submitted::from_error("declare", values, error);
            rerender(state, viewer, "/incidents/new", submitted).await
        }
    }
}

fn parse_id(id: &str) -> Result<IncidentId, Response> {
    IncidentId::parse(id).map_err(|_| (axum::http::StatusCode::NOT_FOUND, "no such incident").into_response())
}

/// After a command on incident `id`: 303 to it, or its page again with the refused form.
async fn answer<T>(
    state: AppState,
    viewer: Viewer,
    id: IncidentId,
    form: &'static str,
    values: Fields,
    result: Result<T, incident::Error>,
) -> Response {
    match result {
        Ok(_) => Redirect::to(&incident_path(id)).into_response(),
        Err(error) => {
            let submitted = Submitted::from_error(form, values, error);
            rerender(state, viewer, &incident_path(id), submitted).await
        }
    }
}

/// `POST /incidents/{id}/triage`.
pub async fn triage(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(values): Form<Fields>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let form = TriageForm {
        detected_by: one(&values, "detected_by"),
        detected_at: one(&values, "detected_at"),
        severity: one(&values, "severity"),
        tenants: all(&values, "tenants"),
        order_ids: one(&values, "order_ids"),
        quote_ids: one(&values, "quote_ids"),
        first_known_bad_at: one(&values, "first_known_bad_at"),
        last_known_good_at: one(&values, "last_known_good_at"),
        business_capability: one(&values, "business_capability"),
        customer_symptom: one(&values, "customer_symptom"),
        technical_boundary: one(&values, "technical_boundary"),
        data_integrity_risk: one(&values, "data_integrity_risk"),
        side_effects_executed: one(&values, "side_effects_executed"),
        immediate_mitigation: one(&values, "immediate_mitigation"),
        current_hypothesis: one(&values, "current_hypothesis"),
        recovery_owner: one(&values, "recovery_owner"),
        communication_owner: one(&values, "communication_owner"),
    };
    let result = async {
        let expected = version(&values)?;
        let input = TriageForSave::parse(&form)?;
        incident::save_triage(&state.pool, &viewer.actor, id, expected, &input).await
    }
    .await;
    answer(state.clone(), viewer, id, "triage", values, result).await
}

/// `POST /incidents/{id}/lifecycle`.
pub async fn lifecycle(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(values): Form<Fields>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let form = LifecycleForm { command: one(&values, "command"), reason: one(&values, "reason") };
    let result = async {
        let expected = version(&values)?;
        let change = LifecycleChange::parse(&form)?;
        incident::change_status(&state.pool, &viewer.actor, id, expected, &change).await
    }
    .await;
    answer(state.clone(), viewer, id, "lifecycle", values, result).await
}

/// `POST /incidents/{id}/notes`.
pub async fn note(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(values): Form<Fields>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let form = NoteForm { text: one(&values, "text"), entity_ids: one(&values, "entity_ids") };
    let result = async {
        let input = NoteForAdd::parse(&form)?;
        incident::add_note(&state.pool, &viewer.actor, id, &input).await
    }
    .await;
    answer(state.clone(), viewer, id, "note", values, result).await
}

/// `POST /incidents/{id}/updates`.
pub async fn status_update(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(values): Form<Fields>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let form = StatusUpdateForm {
        audience: one(&values, "audience"),
        status: one(&values, "status"),
        started_at: one(&values, "started_at"),
        affected_capability: one(&values, "affected_capability"),
        affected_tenants: one(&values, "affected_tenants"),
        customer_impact: one(&values, "customer_impact"),
        current_hypothesis: one(&values, "current_hypothesis"),
        mitigation_applied: one(&values, "mitigation_applied"),
        next_update_at: one(&values, "next_update_at"),
        owner: one(&values, "owner"),
        message: one(&values, "message"),
    };
    let result = async {
        let expected = version(&values)?;
        let input = StatusUpdateForPost::parse(&form)?;
        incident::post_status_update(&state.pool, &viewer.actor, id, expected, &input, &state.webhooks).await
    }
    .await;
    answer(state.clone(), viewer, id, "update", values, result).await
}

/// `POST /incidents/{id}/review`.
pub async fn review(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(values): Form<Fields>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let checked = |name: &str| Some(one(&values, name)).filter(|v| !v.is_empty());
    let form = ReviewForm {
        summary: one(&values, "summary"),
        business_impact: one(&values, "business_impact"),
        duration: one(&values, "duration"),
        timeline: one(&values, "timeline"),
        technical_root_cause: one(&values, "technical_root_cause"),
        process_root_cause: one(&values, "process_root_cause"),
        detection_gap: one(&values, "detection_gap"),
        prevention_gap: one(&values, "prevention_gap"),
        what_worked: one(&values, "what_worked"),
        what_did_not_work: one(&values, "what_did_not_work"),
        test_added: checked("test_added"),
        alert_added: checked("alert_added"),
        runbook_updated: checked("runbook_updated"),
        dashboard_updated: checked("dashboard_updated"),
        control_added: checked("control_added"),
    };
    let result = async {
        let expected = optional_version(&values, "review_version")?;
        let input = ReviewForSave::parse(&form)?;
        incident::save_review(&state.pool, &viewer.actor, id, expected, &input).await
    }
    .await;
    answer(state.clone(), viewer, id, "review", values, result).await
}

/// `POST /incidents/{id}/review/complete`.
pub async fn review_complete(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(values): Form<Fields>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let result = async {
        let expected = optional_version(&values, "review_version")?.unwrap_or(0);
        incident::complete_review(&state.pool, &viewer.actor, id, expected).await
    }
    .await;
    answer(state.clone(), viewer, id, "review", values, result).await
}

/// `POST /incidents/{id}/action-items`.
pub async fn action_item_add(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(values): Form<Fields>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let form = action_item_form(&values);
    let result = async {
        let input = ActionItemForSave::parse(&form)?;
        incident::add_action_item(&state.pool, &viewer.actor, id, &input).await
    }
    .await;
    answer(state.clone(), viewer, id, "action_item", values, result).await
}

/// `POST /incidents/{id}/action-items/{item}`: edit an item (typically to give it an owner and a due date,
/// which a SEV1/SEV2 needs before it may close).
pub async fn action_item_update(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, item)): Path<(String, String)>,
    Form(values): Form<Fields>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let form = action_item_form(&values);
    let result = async {
        let item = ActionItemId::parse(&item).map_err(|_| incident::Error::NotFound {
            entity: "action item",
            id: item.clone(),
        })?;
        let expected = version(&values)?;
        let input = ActionItemForSave::parse(&form)?;
        incident::update_action_item(&state.pool, &viewer.actor, item, expected, &input).await
    }
    .await;
    answer(state.clone(), viewer, id, "action_item", values, result).await
}

/// `POST /incidents/{id}/action-items/{item}/status`.
pub async fn action_item_status(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, item)): Path<(String, String)>,
    Form(values): Form<Fields>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let result = async {
        let item = ActionItemId::parse(&item).map_err(|_| incident::Error::NotFound {
            entity: "action item",
            id: item.clone(),
        })?;
        let expected = version(&values)?;
        let status = <ActionItemStatus as Named>::parse_name(one(&values, "status").trim())
            .ok_or_else(|| incident::Error::Invalid(FieldErrors::single("status", "Choose OPEN or DONE")))?;
        incident::set_action_item_status(&state.pool, &viewer.actor, item, expected, status).await
    }
    .await;
    answer(state.clone(), viewer, id, "action_item", values, result).await
}

/// The action item fields of a posted form (add and edit post the same ones).
fn action_item_form(values: &Fields) -> ActionItemForm {
    ActionItemForm {
        action: one(values, "action"),
        owner: one(values, "owner"),
        due_date: one(values, "due_date"),
        item_type: one(values, "item_type"),
        category: one(values, "category"),
    }
}

/// An optional version (blank: nothing saved yet).
fn optional_version(values: &Fields, name: &'static str) -> Result<Option<i64>, incident::Error> {
    match one(values, name).trim() {
        "" => Ok(None),
        v => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| incident::Error::Invalid(FieldErrors::single(name, "The form lost its version; reload the page"))),
    }
}

/// `POST /incidents/{id}/impact`.
pub async fn impact(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(values): Form<Fields>,
) -> Response {
    let id = match parse_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let form = ImpactForm {
        revenue: one(&values, "revenue"),
        customer: one(&values, "customer"),
        data_integrity: one(&values, "data_integrity"),
        legal: one(&values, "legal"),
        operational: one(&values, "operational"),
        blast_radius: one(&values, "blast_radius"),
        recoverability: one(&values, "recoverability"),
    };
    let result = async {
        let expected = version(&values)?;
        let input = Impact::parse(&form)?;
        incident::save_impact(&state.pool, &viewer.actor, id, expected, &input).await
    }
    .await;
    answer(state.clone(), viewer, id, "impact", values, result).await
}
