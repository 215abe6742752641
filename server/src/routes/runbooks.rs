//! Running a runbook's diagnostic from its page: a plain HTML form post that runs
//! `ops::runbook::run_diagnostic` as the signed-in viewer and answers with the runbook page showing the
//! rows (they are not stored; the run is recorded on the incident and in the audit log), or the page
//! again with the error at the block's form.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use axum_extra::extract::Form;
use app::form::Shown;
use app::viewer::Viewer;
use ops::runbook::{self, DiagnosticForRun, DiagnosticForm};

use crate::routes::pages;
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/runbooks/{id}/diagnostics/{index}", post(run))
}

/// `POST /runbooks/{id}/diagnostics/{index}`.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, runbook = %id, block = index))]
async fn run(
    State(state): State<AppState>,
    Extension(viewer): Extension<Viewer>,
    Path((id, index)): Path<(String, usize)>,
    Form(form): Form<DiagnosticForm>,
) -> Response {
    // Back to the runbook with the incident it serves and the variables as posted, for its other blocks too.
    let mut context = vec![("incident", form.incident_id.clone())];
    if let Some(block) = runbook::get(&id).and_then(|b| b.diagnostics.get(index)) {
        context.extend(block.params.iter().map(|p| (p.name.as_str(), form.value(&p.name).trim().to_string())));
    }
    let page = app::runbooks::runbook_path(&id, &context);
    let result = async {
        let input = DiagnosticForRun::parse(&id, index, &form)?;
        runbook::run_diagnostic(&state.pool, &viewer.actor, &input).await
    }
    .await;
    match result {
        Ok(answer) => pages::show(state, viewer, &page, Shown::new(answer)).await,
        Err(error) => {
            let submitted = app::form::Submitted::new(form, Some(index.to_string()), error.into());
            pages::rerender(state, viewer, &page, submitted).await
        }
    }
}
