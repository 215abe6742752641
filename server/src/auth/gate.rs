//! The gate in front of every console page: no session, no page.
//!
//! A page request (GET/HEAD) without a signed-in session is sent to sign in, with the address it asked
//! for kept in `next`; any other request without one is answered 401. `/auth/*` (signing in and out)
//! passes. Health, readiness, metrics and static files are not behind the gate at all: they are served
//! by a router without sessions. A session past its absolute end is ended here (and audited).

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use tower_sessions::Session;

use super::session;
use crate::startup::AppState;

/// Paths under this prefix are reachable without a session.
pub const OPEN_PREFIX: &str = "/auth/";

pub async fn require_session(State(state): State<AppState>, session: Session, mut request: Request, next: Next) -> Response {
    if request.uri().path().starts_with(OPEN_PREFIX) {
        return next.run(request).await;
    }
    let now = Utc::now();
    match session::signed_in(&session).await {
        Ok(Some(signed_in)) if signed_in.has_ended(now) => {
            if let Err(error) = session.flush().await {
                tracing::warn!(%error, "cannot delete an ended session");
            }
            let reason = "the session reached its absolute lifetime";
            if let Err(error) = ops::access::signed_out(&state.pool, &signed_in.actor, reason).await {
                tracing::warn!(%error, "cannot audit the end of a session");
            }
            tracing::info!(actor = %signed_in.actor.subject, "session ended: absolute lifetime reached");
            not_signed_in(&request)
        }
        Ok(Some(signed_in)) => {
            let idle = state.auth.settings().idle_timeout;
            let renewed_at = match session::renew_idle(&session, idle, now).await {
                Ok(at) => at,
                Err(error) => {
                    tracing::warn!(%error, "cannot renew the session's idle expiry");
                    now
                }
            };
            let viewer = signed_in.viewer(idle, renewed_at);
            request.extensions_mut().insert(viewer);
            let mut response = next.run(request).await;
            // A page for one person: no shared cache may keep it, and the browser should not either.
            response.headers_mut().entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
            response
        }
        Ok(None) => not_signed_in(&request),
        Err(error) => {
            tracing::warn!(%error, "cannot read the session");
            let page = app::sign_in::render(&app::sign_in::SignInNotice::SessionsUnavailable);
            (StatusCode::SERVICE_UNAVAILABLE, Html(page)).into_response()
        }
    }
}

/// Pages: to sign-in, then back here. Anything else: 401.
fn not_signed_in(request: &Request) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        let wanted = request.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
        Redirect::to(&login_url(wanted)).into_response()
    } else {
        (StatusCode::UNAUTHORIZED, "Sign in first: this request needs a console session.").into_response()
    }
}

/// `/auth/login?next=<wanted, percent-encoded>`.
pub fn login_url(wanted: &str) -> String {
    let next: String = openidconnect::url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
    format!("/auth/login?next={next}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wanted_address_survives_the_trip_through_sign_in() {
        assert_eq!(login_url("/orders?tenant=a&q=SO 1"), "/auth/login?next=%2Forders%3Ftenant%3Da%26q%3DSO+1");
    }
}
