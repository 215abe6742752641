//! The controls page's forms: turn a mitigation switch on or off. A plain HTML form post running
//! `ops::control::set_control` as the signed-in viewer; 303 back to `/controls`, or the page again with
//! the error at the form that was used.

use axum::extract::State;
use axum::response::Response;
use axum::routing::post;
use axum::{Extension, Router};
use axum_extra::extract::Form;
use app::controls::form_key;
use app::viewer::Viewer;
use ops::control::{self, ControlForSet, ControlForm};

use crate::routes::form::answer;
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/controls", post(set))
}

/// `POST /controls`: one switch on or off.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, switch = %form.switch, state = %form.state))]
async fn set(State(state): State<AppState>, Extension(viewer): Extension<Viewer>, Form(form): Form<ControlForm>) -> Response {
    let result = async {
        let input = ControlForSet::parse(&form)?;
        control::set_control(&state.pool, &viewer.actor, &input).await
    }
    .await;
    let key = Some(form_key(&form));
    answer(state.clone(), viewer, "/controls", form, key, result, |_| "/controls".to_string()).await
}
