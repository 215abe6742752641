//! Console pages: the `app` crate's Leptos router, rendered whole on the server.
//!
//! Every page is behind the session gate (`auth::gate`), which puts the signed-in viewer in the request;
//! it is handed to the pages as context. Pages are rendered completely before the response starts (all data loaded), so the status a page sets
//! (400, 404, 503) is the status sent. Leptos' hydration data (`<script>` chunks for a client bundle) is
//! dropped: there is no client bundle, and the console promises pages that work without JavaScript.

use std::future::Future;
use std::pin::Pin;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures::{Stream, StreamExt};
use leptos::prelude::*;

use app::form::{Shown, Submitted};

use crate::startup::AppState;

type HtmlStream = Pin<Box<dyn Stream<Item = String> + Send>>;

/// Renders whatever page the `app` router matches for this request (its not-found page otherwise), for the
/// signed-in viewer the session gate put in the request.
#[tracing::instrument(name = "page", skip_all, fields(path = %request.uri().path(), actor = tracing::field::Empty))]
pub async fn render_page(State(state): State<AppState>, request: Request<Body>) -> Response {
    render_with(state, request, None, None).await
}

/// Renders the console page at `page` for `viewer` again, with a refused form handed back to it, and
/// answers with the error's status (422, 403, 409, 412, 404, 503). What a form handler does when its
/// command fails; the page is addressed by its path, as the browser asked for it before posting.
pub async fn rerender(state: AppState, viewer: app::viewer::Viewer, page: &str, submitted: Submitted) -> Response {
    let status = submitted.error.status();
    let mut request = page_request(page);
    request.extensions_mut().insert(viewer);
    let mut response = render_with(state, request, Some(submitted), None).await;
    // The page itself may have failed harder (the incident is gone): that status stands.
    if response.status().is_success() {
        *response.status_mut() = status;
    }
    response
}

/// Renders the console page at `page` for `viewer` with what a command answered (`app::form::shown`):
/// when the answer is shown rather than stored (a diagnostic's rows). Status 200.
pub async fn show(state: AppState, viewer: app::viewer::Viewer, page: &str, answer: Shown) -> Response {
    let mut request = page_request(page);
    request.extensions_mut().insert(viewer);
    render_with(state, request, None, Some(answer)).await
}

/// A GET of the console page at `page`. The address is built from what was posted (a runbook's
/// variables in its query, a `next` field), so it may not be a valid URI — too long, or with characters
/// an address cannot hold: then the same page without its query (the form as posted is handed to the
/// page anyway), and failing that the home page. Never a panic on input.
fn page_request(page: &str) -> Request<Body> {
    let path = page.split(['?', '#']).next().unwrap_or("/");
    for candidate in [page, path, "/"] {
        if let Ok(request) = Request::builder().uri(candidate).body(Body::empty()) {
            if candidate != page {
                tracing::warn!(page_len = page.len(), "the page address of a form answer is not a valid URI; shown without its query");
            }
            return request;
        }
    }
    Request::new(Body::empty())
}

/// Renders the page at the request's address, with a refused form submission or a shown answer.
async fn render_with(state: AppState, request: Request<Body>, submitted: Option<Submitted>, answer: Option<Shown>) -> Response {
    let pool = state.pool.clone();
    let repairs = state.repairs.clone();
    let diagnostics = state.diagnostics.clone();
    let figures = state.figures.clone();
    let options = state.leptos_options.clone();
    let viewer = request.extensions().get::<app::viewer::Viewer>().cloned();
    if let Some(viewer) = &viewer {
        tracing::Span::current().record("actor", viewer.actor.subject.as_str());
    }
    leptos_axum::handle_response_inner(
        move || {
            provide_context(pool.clone());
            provide_context(repairs.clone());
            provide_context(diagnostics.clone());
            provide_context(figures.clone());
            if let Some(viewer) = viewer.clone() {
                provide_context(viewer);
            }
            if let Some(submitted) = submitted.clone() {
                provide_context(submitted);
            }
            if let Some(answer) = answer.clone() {
                provide_context(answer);
            }
        },
        move || app::shell(options),
        request,
        render_complete_page,
    )
    .await
}

/// The whole document, after every `Suspense` has resolved, as one chunk; no hydration scripts.
fn render_complete_page<V: IntoView + 'static>(
    view: V,
    _hydration_data: Box<dyn FnOnce() -> HtmlStream + Send>,
    _supports_out_of_order: bool,
) -> Pin<Box<dyn Future<Output = HtmlStream> + Send>> {
    Box::pin(async move {
        let html = view.to_html_stream_in_order().collect::<String>().await;
        Box::pin(futures::stream::once(async move { html })) as HtmlStream
    })
}
