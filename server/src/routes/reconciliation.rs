//! The reconciliation pages' forms: start a run; on a mismatch, a step (acknowledge, re-check now), link
//! an incident, call it a false positive. Each a plain HTML form post running one `ops::reconcile` command
//! as the signed-in viewer; 303 to the run's or the mismatch's page, or the page again with the input kept
//! and the error at its field.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use axum_extra::extract::Form;
use app::reconciliation::{mismatch_path, run_path};
use app::viewer::Viewer;
use ops::ids::IncidentId;
use ops::reconcile::mismatch::{LinkIncidentForm, MismatchStepForm};
use ops::reconcile::{self, AutoRepairForSet, AutoRepairForm, FalsePositiveForm, FalsePositiveReason, RunForm, RunOrigin, RunRequest};
use uuid::Uuid;

use crate::error::Error;
use crate::routes::form::answer;
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reconciliation/runs", post(start))
        .route("/reconciliation/auto-repair", post(auto_repair))
        .route("/reconciliation/mismatches/{id}/step", post(step))
        .route("/reconciliation/mismatches/{id}/incident", post(link))
        .route("/reconciliation/mismatches/{id}/false-positive", post(false_positive))
}

fn mismatch_id(id: &str) -> Result<Uuid, Response> {
    Uuid::parse_str(id).map_err(|_| Error::Ops(ops::Error::not_found("mismatch", id)).into_response())
}

/// `POST /reconciliation/runs`: runs the chosen check(s) now; 303 to the (last) run.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject))]
async fn start(State(state): State<AppState>, Extension(viewer): Extension<Viewer>, Form(form): Form<RunForm>) -> Response {
    let result = async {
        let request = RunRequest::parse(&form, RunOrigin::Console)?;
        // The run finishes (and records) even if the person's browser gives up waiting.
        let (pool, engine, actor) = (state.pool.clone(), state.repairs.engine.clone(), viewer.actor.clone());
        tokio::spawn(async move { reconcile::run(&pool, Some(&engine), &actor, &request).await })
            .await
            .map_err(|e| ops::Error::Internal(format!("the run's task ended abnormally: {e}")))?
    }
    .await;
    answer(state.clone(), viewer, "/reconciliation", form, None, result, |runs| match runs.as_slice() {
        [one] => run_path(one.run_id),
        _ => "/reconciliation".to_string(),
    })
    .await
}

/// `POST /reconciliation/mismatches/{id}/step`: acknowledge, or re-check now.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, mismatch = %id))]
async fn step(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(form): Form<MismatchStepForm>,
) -> Response {
    let id = match mismatch_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let result = match form.step.trim() {
        "acknowledge" => reconcile::acknowledge(&state.pool, &viewer.actor, id).await.map(drop),
        "recheck" => reconcile::recheck_entity(&state.pool, Some(&state.repairs.engine), &viewer.actor, id).await.map(drop),
        _ => Err(ops::Error::invalid("step", "Choose acknowledge or re-check")),
    };
    answer(state.clone(), viewer, &mismatch_path(id), form, None, result, |_| mismatch_path(id)).await
}

/// `POST /reconciliation/mismatches/{id}/incident`: links an open incident.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, mismatch = %id))]
async fn link(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(form): Form<LinkIncidentForm>,
) -> Response {
    let id = match mismatch_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let result = async {
        let incident = IncidentId::parse(&form.incident_id)
            .map_err(|_| ops::Error::invalid(LinkIncidentForm::FIELDS.incident_id, "Choose an open incident"))?;
        reconcile::link_incident(&state.pool, &viewer.actor, id, incident).await
    }
    .await;
    answer(state.clone(), viewer, &mismatch_path(id), form, None, result, |_| mismatch_path(id)).await
}

/// `POST /reconciliation/mismatches/{id}/false-positive`: closes it as a false positive, with why.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, mismatch = %id))]
async fn false_positive(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(form): Form<FalsePositiveForm>,
) -> Response {
    let id = match mismatch_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let result = async {
        let reason = FalsePositiveReason::parse(&form)?;
        reconcile::mark_false_positive(&state.pool, &viewer.actor, id, &reason).await
    }
    .await;
    answer(state.clone(), viewer, &mismatch_path(id), form, None, result, |_| mismatch_path(id)).await
}

/// `POST /reconciliation/auto-repair`: an admin allows or stops automatic repair for a check and tenant.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject))]
async fn auto_repair(State(state): State<AppState>, Extension(viewer): Extension<Viewer>, Form(form): Form<AutoRepairForm>) -> Response {
    let result = async {
        let input = AutoRepairForSet::parse(&form)?;
        reconcile::set_auto_repair(&state.pool, &viewer.actor, &input).await
    }
    .await;
    answer(state.clone(), viewer, "/reconciliation", form, None, result, |_| "/reconciliation".to_string()).await
}
