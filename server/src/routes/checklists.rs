//! Recording a checklist: a plain HTML form post running `ops::checklist::record_checklist` as the
//! signed-in viewer; 303 to the incident (rollback, replay) or to `/checklists` (readiness), or that page
//! again with the unanswered questions marked.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use axum_extra::extract::Form;
use app::viewer::Viewer;
use ops::checklist::{self, Checklist, ChecklistForRecord, ChecklistForm};
use platform::machine::Named;

use crate::error::Error;
use crate::routes::form::answer;
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/checklists/{checklist}", post(record))
}

/// `POST /checklists/{checklist}`.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, checklist = %name))]
async fn record(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path(name): Path<String>,
    Form(form): Form<ChecklistForm>,
) -> Response {
    let Some(which) = Checklist::parse_name(&name) else {
        return Error::Ops(ops::Error::not_found("checklist", &name)).into_response();
    };
    let incident = form.get(ChecklistForm::INCIDENT).trim().to_string();
    // Back to the incident the checklist was recorded from — when the field names one (it is posted).
    let page = match incident.parse::<uuid::Uuid>() {
        Ok(id) => format!("/incidents/{id}"),
        Err(_) => "/checklists".to_string(),
    };
    let result = async {
        let input = ChecklistForRecord::parse(which, &form)?;
        checklist::record_checklist(&state.pool, &viewer.actor, &input).await
    }
    .await;
    let next = page.clone();
    answer(state.clone(), viewer, &page, form, Some(which.name().to_string()), result, move |_| next).await
}
