//! The admin page's forms: verify the audit chain, set a repair policy. Each a plain HTML form post running
//! one `ops` command as the signed-in viewer; 303 back to `/admin`, or the page again with the error.

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use axum_extra::extract::Form;
use app::viewer::Viewer;
use ops::repair::{self, PolicyForSet, PolicyForm};

use crate::routes::form::answer;
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/audit/verify", post(verify)).route("/admin/repair-policies", post(set_policy))
}

/// `POST /admin/audit/verify`: recomputes the audit log's hash chain; the page shows the verdict.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject))]
async fn verify(State(state): State<AppState>, Extension(viewer): Extension<Viewer>) -> Response {
    let result = ops::audit::verify_chain(&state.pool, &viewer.actor).await;
    answer(state.clone(), viewer, "/admin", (), None, result, |_| "/admin".to_string()).await
}

/// `POST /admin/repair-policies`: makes a repair stricter for a tenant, or lifts that.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject))]
async fn set_policy(State(state): State<AppState>, Extension(viewer): Extension<Viewer>, Form(form): Form<PolicyForm>) -> Response {
    let result = async {
        let input = PolicyForSet::parse(&form)?;
        repair::set_policy(&state.pool, &viewer.actor, &input).await
    }
    .await;
    answer(state.clone(), viewer, "/admin", form, None, result, |_| "/admin".to_string()).await
}
