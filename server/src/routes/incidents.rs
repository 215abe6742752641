//! The incident pages' forms: plain HTML form POSTs, each running one `ops::incident` command as the
//! signed-in viewer. Success answers 303 to the incident's page; a failure renders the form's page again
//! with the input kept and the error at its field ([`crate::routes::form::answer`]).

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use axum_extra::extract::Form;
use app::incidents::incident_path;
use app::viewer::Viewer;
use ops::form::{expected_version, optional_version};
use ops::incident::{
    self, ActionItemForSave, ActionItemForm, ActionItemId, ActionItemStatus, ActionItemStatusForm, DeclareForm,
    Impact, ImpactForm, IncidentForDeclare, IncidentId, LifecycleChange, LifecycleForm, NoteForAdd, NoteForm,
    ReviewCompleteForm, ReviewForSave, ReviewForm, SeverityChange, SeverityForm, StatusUpdateForPost, StatusUpdateForm,
    TriageForSave, TriageForm,
};
use platform::machine::Named;

use crate::error::Error;
use crate::routes::form::{answer, local_path};
use crate::startup::AppState;

/// The incident area's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/incidents/new", post(declare))
        .route("/incidents/{id}/triage", post(triage))
        .route("/incidents/{id}/lifecycle", post(lifecycle))
        .route("/incidents/{id}/severity", post(severity))
        .route("/incidents/{id}/notes", post(note))
        .route("/incidents/{id}/updates", post(status_update))
        .route("/incidents/{id}/impact", post(impact))
        .route("/incidents/{id}/review", post(review))
        .route("/incidents/{id}/review/complete", post(review_complete))
        .route("/incidents/{id}/action-items", post(action_item_add))
        .route("/incidents/{id}/action-items/{item}", post(action_item_update))
        .route("/incidents/{id}/action-items/{item}/status", post(action_item_status))
}

/// The incident of an address (`/incidents/{id}/…`); a mangled id is simply not found.
struct Incident(IncidentId);

impl<S: Send + Sync> FromRequestParts<S> for Incident {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) =
            Path::<Vec<(String, String)>>::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let id = params.iter().find(|(k, _)| k == "id").map(|(_, v)| v.as_str()).unwrap_or_default();
        IncidentId::parse(id)
            .map(Incident)
            .map_err(|_| Error::Ops(ops::Error::not_found("incident", id)).into_response())
    }
}

/// The action item of an address (`/incidents/{id}/action-items/{item}`), as written: parsed by the
/// command's caller so a mangled one is "not found" at the form.
struct Item(String);

impl<S: Send + Sync> FromRequestParts<S> for Item {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(params) =
            Path::<Vec<(String, String)>>::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        Ok(Item(params.into_iter().find(|(k, _)| k == "item").map(|(_, v)| v).unwrap_or_default()))
    }
}

fn item(id: &str) -> Result<ActionItemId, ops::Error> {
    ActionItemId::parse(id).map_err(|_| ops::Error::not_found("action item", id))
}

/// `POST /incidents/new`.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject))]
async fn declare(State(state): State<AppState>, Extension(viewer): Extension<Viewer>, Form(form): Form<DeclareForm>) -> Response {
    let result = async {
        let input = IncidentForDeclare::parse(&form)?;
        incident::declare_incident(&state.pool, &viewer.actor, &input).await
    }
    .await;
    answer(state.clone(), viewer, "/incidents/new", form, None, result, |d| incident_path(d.incident_id)).await
}

/// `POST /incidents/{id}/triage`.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, incident = %id))]
async fn triage(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Incident(id): Incident,
    Form(form): Form<TriageForm>,
) -> Response {
    let result = async {
        let version = expected_version(TriageForm::FIELDS.version, &form.version)?;
        let input = TriageForSave::parse(&form)?;
        incident::save_triage(&state.pool, &viewer.actor, id, version, &input).await
    }
    .await;
    answer(state.clone(), viewer, &incident_path(id), form, None, result, |_| incident_path(id)).await
}

/// `POST /incidents/{id}/lifecycle`.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, incident = %id))]
async fn lifecycle(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Incident(id): Incident,
    Form(form): Form<LifecycleForm>,
) -> Response {
    let result = async {
        let version = expected_version(LifecycleForm::FIELDS.version, &form.version)?;
        let change = LifecycleChange::parse(&form)?;
        incident::change_status(&state.pool, &viewer.actor, id, version, &change).await
    }
    .await;
    let key = Some(form.command.trim().to_ascii_uppercase());
    answer(state.clone(), viewer, &incident_path(id), form, key, result, |_| incident_path(id)).await
}

/// `POST /incidents/{id}/severity`.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, incident = %id))]
async fn severity(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Incident(id): Incident,
    Form(form): Form<SeverityForm>,
) -> Response {
    let result = async {
        let version = expected_version(SeverityForm::FIELDS.version, &form.version)?;
        let change = SeverityChange::parse(&form)?;
        incident::change_severity(&state.pool, &viewer.actor, id, version, &change).await
    }
    .await;
    answer(state.clone(), viewer, &incident_path(id), form, None, result, |_| incident_path(id)).await
}

/// `POST /incidents/{id}/notes`.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, incident = %id))]
async fn note(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Incident(id): Incident,
    Form(form): Form<NoteForm>,
) -> Response {
    let result = async {
        let input = NoteForAdd::parse(&form)?;
        incident::add_note(&state.pool, &viewer.actor, id, &input).await
    }
    .await;
    answer(state.clone(), viewer, &incident_path(id), form, None, result, |_| incident_path(id)).await
}

/// `POST /incidents/{id}/updates`.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, incident = %id))]
async fn status_update(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Incident(id): Incident,
    Form(form): Form<StatusUpdateForm>,
) -> Response {
    let result = async {
        let version = expected_version(StatusUpdateForm::FIELDS.version, &form.version)?;
        let input = StatusUpdateForPost::parse(&form)?;
        incident::post_status_update(&state.pool, &viewer.actor, id, version, &input, &state.webhooks).await
    }
    .await;
    // The internal and the customer form are both on the page; the refused one keeps its input.
    let key = Some(form.audience.trim().to_ascii_uppercase());
    answer(state.clone(), viewer, &incident_path(id), form, key, result, |_| incident_path(id)).await
}

/// `POST /incidents/{id}/impact`.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, incident = %id))]
async fn impact(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Incident(id): Incident,
    Form(form): Form<ImpactForm>,
) -> Response {
    let result = async {
        let version = expected_version(ImpactForm::FIELDS.version, &form.version)?;
        let input = Impact::parse(&form)?;
        incident::save_impact(&state.pool, &viewer.actor, id, version, &input).await
    }
    .await;
    answer(state.clone(), viewer, &incident_path(id), form, None, result, |_| incident_path(id)).await
}

/// `POST /incidents/{id}/review`.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, incident = %id))]
async fn review(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Incident(id): Incident,
    Form(form): Form<ReviewForm>,
) -> Response {
    let result = async {
        let version = optional_version(ReviewForm::FIELDS.review_version, &form.review_version)?;
        let input = ReviewForSave::parse(&form)?;
        incident::save_review(&state.pool, &viewer.actor, id, version, &input).await
    }
    .await;
    answer(state.clone(), viewer, &incident_path(id), form, None, result, |_| incident_path(id)).await
}

/// `POST /incidents/{id}/review/complete`.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, incident = %id))]
async fn review_complete(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Incident(id): Incident,
    Form(form): Form<ReviewCompleteForm>,
) -> Response {
    let result = async {
        let version = expected_version(ReviewCompleteForm::FIELDS.review_version, &form.review_version)?;
        incident::complete_review(&state.pool, &viewer.actor, id, version).await
    }
    .await;
    answer(state.clone(), viewer, &incident_path(id), form, None, result, |_| incident_path(id)).await
}

/// `POST /incidents/{id}/action-items`.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, incident = %id))]
async fn action_item_add(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Incident(id): Incident,
    Form(form): Form<ActionItemForm>,
) -> Response {
    let result = async {
        let input = ActionItemForSave::parse(&form)?;
        incident::add_action_item(&state.pool, &viewer.actor, id, &input).await
    }
    .await;
    let key = Some("new".to_string());
    answer(state.clone(), viewer, &incident_path(id), form, key, result, |_| incident_path(id)).await
}

/// `POST /incidents/{id}/action-items/{item}`: owner, due date (and the rest) edited in place.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, incident = %id, item = %item_id))]
async fn action_item_update(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Incident(id): Incident,
    Item(item_id): Item,
    Form(form): Form<ActionItemForm>,
) -> Response {
    let result = async {
        let item = item(&item_id)?;
        let version = expected_version(ActionItemForm::FIELDS.version, &form.version)?;
        let input = ActionItemForSave::parse(&form)?;
        incident::update_action_item(&state.pool, &viewer.actor, item, version, &input).await
    }
    .await;
    answer(state.clone(), viewer, &incident_path(id), form, Some(item_id), result, |_| incident_path(id)).await
}

/// `POST /incidents/{id}/action-items/{item}/status`: done, or open again — from the incident's page or
/// the register's overdue list (`next`).
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, incident = %id, item = %item_id))]
async fn action_item_status(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Incident(id): Incident,
    Item(item_id): Item,
    Form(form): Form<ActionItemStatusForm>,
) -> Response {
    let result = async {
        let item = item(&item_id)?;
        let f = ActionItemStatusForm::FIELDS;
        let version = expected_version(f.version, &form.version)?;
        let status = <ActionItemStatus as Named>::parse_name(form.status.trim())
            .ok_or_else(|| ops::Error::invalid(f.status, "Choose OPEN or DONE"))?;
        incident::set_action_item_status(&state.pool, &viewer.actor, item, version, status).await
    }
    .await;
    let page = local_path(&form.next).map(str::to_string).unwrap_or_else(|| incident_path(id));
    let next = page.clone();
    answer(state.clone(), viewer, &page, form, Some(item_id), result, move |_| next).await
}
