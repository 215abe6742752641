//! The controls page's forms: turn a mitigation switch on or off, roll a tenant's release back or forward. A plain HTML form post running
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
use ops::release::{ReleaseForChange, ReleaseForm};

use crate::routes::form::answer;
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/controls", post(set)).route("/controls/releases", post(change_release))
}

/// `POST /controls/releases`: roll a tenant's release back or forward.
#[tracing::instrument(skip_all, fields(actor = %viewer.actor.subject, tenant = %form.tenant, choice = %form.choice))]
async fn change_release(State(state): State<AppState>, Extension(viewer): Extension<Viewer>, Form(form): Form<ReleaseForm>) -> Response {
    let result = async {
        let input = ReleaseForChange::parse(&form)?;
        ops::release::change_release(&state.pool, &viewer.actor, &input).await
    }
    .await;
    answer(state.clone(), viewer, "/controls", form, None, result, |_| "/controls#releases".to_string()).await
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
