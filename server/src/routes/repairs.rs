//! The repair pages' forms: request (a stored dry-run), decide (approve or reject), execute. Each a plain
//! HTML form post running one `ops::repair` command as the signed-in viewer; 303 to the repair's page, or
//! the form's page again with the input kept and the error at its field.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use axum_extra::extract::Form;
use app::repairs::repair_path;
use app::viewer::Viewer;
use ops::ids::RepairId;
use ops::repair::{self, DecisionForm, ExecuteForm, RepairDecision, RepairForRequest, RepairRequestForm};

use crate::error::Error;
use crate::routes::form::answer;
use crate::startup::AppState;

/// The repair area's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/repairs", post(request))
        .route("/repairs/{id}/decision", post(decide))
        .route("/repairs/{id}/execute", post(execute))
}

fn repair_id(id: &str) -> Result<RepairId, Response> {
    RepairId::parse(id).map_err(|_| Error::Ops(ops::Error::not_found("repair", id)).into_response())
}

/// `POST /repairs`: requests a repair; its dry-run is stored REQUESTED.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject))]
async fn request(State(state): State<AppState>, Extension(viewer): Extension<Viewer>, Form(form): Form<RepairRequestForm>) -> Response {
    let result = async {
        let input = RepairForRequest::parse(&form, true)?;
        repair::request_repair(&state.pool, &state.repairs, &viewer.actor, &input).await
    }
    .await;
    answer(state.clone(), viewer, "/repairs/new", form, None, result, |r| repair_path(r.repair.repair_id)).await
}

/// `POST /repairs/{id}/decision`: an approver approves or rejects.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, repair = %id))]
async fn decide(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(form): Form<DecisionForm>,
) -> Response {
    let id = match repair_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let result = async {
        let decision = RepairDecision::parse(&form)?;
        repair::decide_repair(&state.pool, &state.repairs, &viewer.actor, id, &decision).await
    }
    .await;
    answer(state.clone(), viewer, &repair_path(id), form, None, result, |_| repair_path(id)).await
}

/// `POST /repairs/{id}/execute`: the requester (LOW) or an operator (approved HIGH) executes.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, repair = %id))]
async fn execute(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<String>,
    Form(form): Form<ExecuteForm>,
) -> Response {
    let id = match repair_id(&id) {
        Ok(id) => id,
        Err(response) => return response,
    };
    let confirm = Some(form.confirm_hash.trim().to_string()).filter(|h| !h.is_empty());
    let result = repair::execute_repair(&state.pool, &state.repairs, &viewer.actor, id, confirm.as_deref()).await;
    answer(state.clone(), viewer, &repair_path(id), form, None, result, |_| repair_path(id)).await
}
