//! The drills pages' forms: start a drill, end its cause, end it with the operator's answers. Plain HTML
//! form posts, each running one `ops::drill` command as the signed-in viewer; 303 to the drill's page, or
//! the page again with the error at the form.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use axum_extra::extract::Form;
use app::drills::drill_path;
use app::viewer::Viewer;
use ops::drill::{self, DrillEndForm, DrillForEnd, DrillStartForm};
use uuid::Uuid;

use crate::routes::form::answer;
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/drills", post(start))
        .route("/drills/{id}/fault-end", post(stop_fault))
        .route("/drills/{id}/end", post(end))
}

/// `POST /drills`: start one.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, drill = %form.drill))]
async fn start(State(state): State<AppState>, Extension(viewer): Extension<Viewer>, Form(form): Form<DrillStartForm>) -> Response {
    let result = drill::start_drill(&state.pool, &state.faults, &viewer.actor, &form).await;
    answer(state.clone(), viewer, "/drills", form, None, result, |d| drill_path(d.drill_id)).await
}

/// `POST /drills/<id>/fault-end`: end the drill's cause from the console.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, %id))]
async fn stop_fault(State(state): State<AppState>, Extension(viewer): Extension<Viewer>, Path(id): Path<Uuid>) -> Response {
    let result = drill::stop_fault(&state.pool, &state.faults, &viewer.actor, id).await;
    answer(state.clone(), viewer, &drill_path(id), (), None, result, |d| drill_path(d.drill_id)).await
}

/// `POST /drills/<id>/end`: end and score it.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, %id))]
async fn end(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(id): Path<Uuid>,
    Form(form): Form<DrillEndForm>,
) -> Response {
    let result = async {
        let input = DrillForEnd::parse(&form)?;
        drill::end_drill(&state.pool, &state.faults, &viewer.actor, id, &input).await
    }
    .await;
    answer(state.clone(), viewer, &drill_path(id), form, None, result, |d| drill_path(d.drill_id)).await
}
