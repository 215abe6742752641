//! Signing in and out (`/auth/*`): OpenID Connect authorization code flow with PKCE (S256) and a nonce.
//!
//! 1. `GET /auth/login?next=/orders` — a fresh `state`, nonce and PKCE verifier are kept in the session
//!    (not yet signed in) and the browser is sent to the provider's login page.
//! 2. `GET /auth/callback?code&state` — the `state` must be one this session sent; the code is exchanged
//!    (with the verifier) for tokens; the ID token is verified (signature, issuer, audience, expiry,
//!    nonce); its claims become an actor; the session gets a new id and the actor; audit: SIGN_IN.
//! 3. `POST /auth/logout` — the session is deleted (audit: SIGN_OUT) and the browser sent to the
//!    provider's end-session endpoint, which ends the provider's session too and returns it to
//!    `/auth/signed-out`.
//!
//! Every failure is audited (SIGN_IN FAILED, with the reason) and explained on a page; none reveals a
//! token, code or secret.

use app::sign_in::{render, SignInNotice};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::Utc;
use openidconnect::core::{CoreAuthenticationFlow, CoreIdToken};
use openidconnect::{
    AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse as _, PkceCodeChallenge, PkceCodeVerifier, Scope,
    TokenResponse as _,
};
use ops::identity::{claims, Actor};
use serde::Deserialize;
use serde_json::{json, Value};
use tower_sessions::Session;

use crate::auth::idp::error_chain;
use crate::auth::session::{self, PendingSignIn, SignedIn};
use crate::startup::AppState;

/// Signing in and out (`/auth/*`).
pub fn router() -> axum::Router<AppState> {
    use axum::routing::{get, post};
    axum::Router::new()
        .route("/auth/login", get(login))
        .route("/auth/callback", get(callback))
        .route("/auth/logout", post(logout))
        .route("/auth/signed-out", get(signed_out))
}

/// Where people land when `next` is missing or unusable.
const HOME: &str = "/orders";

#[derive(Debug, Deserialize)]
pub struct LoginParams {
    next: Option<String>,
}

/// Starts a sign-in (or, already signed in, goes straight to `next`).
#[tracing::instrument(name = "auth.login", skip_all)]
pub async fn login(State(state): State<AppState>, session: Session, Query(params): Query<LoginParams>) -> Response {
    let next = safe_next(params.next.as_deref());
    match session::signed_in(&session).await {
        Ok(Some(signed_in)) if !signed_in.has_ended(Utc::now()) => return Redirect::to(&next).into_response(),
        Ok(_) => {}
        Err(error) => return sessions_unavailable(&error),
    }
    let idp = state.auth.idp();
    // A provider discovered earlier may be down now: ask before sending the browser there.
    let discovered = match idp.reachable().await {
        Ok(()) => idp.discovered().await,
        Err(unavailable) => Err(unavailable),
    };
    let discovered = match discovered {
        Ok(discovered) => discovered,
        Err(unavailable) => {
            let notice = SignInNotice::IdpUnavailable {
                issuer: unavailable.issuer.clone(),
                retry: crate::auth::gate::login_url(&next),
            };
            return (StatusCode::SERVICE_UNAVAILABLE, Html(render(&notice))).into_response();
        }
    };
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf_state, nonce) = discovered
        .client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .add_scope(Scope::new("profile".to_string()))
        .add_scope(Scope::new("email".to_string()))
        .set_pkce_challenge(challenge)
        .url();
    let pending = PendingSignIn {
        state: csrf_state.secret().clone(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
        next,
        started_at: Utc::now(),
    };
    if let Err(error) = session::push_pending(&session, pending, Utc::now()).await {
        return sessions_unavailable(&error);
    }
    Redirect::to(url.as_str()).into_response()
}

#[derive(Debug, Deserialize)]
pub struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

/// A sign-in that did not complete: what the person is told, the audit reason, the status.
struct Failure {
    status: StatusCode,
    message: String,
    reason: String,
    /// Who, when the provider vouched for them.
    actor: Option<Actor>,
    next: String,
}

/// The provider's answer to step 1.
#[tracing::instrument(name = "auth.callback", skip_all)]
pub async fn callback(State(state): State<AppState>, session: Session, Query(params): Query<CallbackParams>) -> Response {
    match complete_sign_in(&state, &session, params).await {
        Ok(next) => Redirect::to(&next).into_response(),
        Err(Outcome::Unavailable(response)) => response,
        Err(Outcome::Failed(failure)) => {
            tracing::info!(reason = %failure.reason, "sign-in failed");
            let detail = json!({});
            if let Err(error) =
                ops::access::sign_in_failed(&state.pool, failure.actor.as_ref(), &failure.reason, detail).await
            {
                tracing::warn!(%error, "cannot audit a failed sign-in");
            }
            let notice =
                SignInNotice::Failed { message: failure.message, retry: crate::auth::gate::login_url(&failure.next) };
            (failure.status, Html(render(&notice))).into_response()
        }
    }
}

enum Outcome {
    Failed(Failure),
    /// Answered already (sessions or the provider unavailable): nothing to audit against.
    Unavailable(Response),
}

fn failed(status: StatusCode, message: &str, reason: impl Into<String>, next: &str) -> Outcome {
    Outcome::Failed(Failure { status, message: message.to_string(), reason: reason.into(), actor: None, next: next.to_string() })
}

async fn complete_sign_in(state: &AppState, session: &Session, params: CallbackParams) -> Result<String, Outcome> {
    let now = Utc::now();
    let pending = match params.state.as_deref() {
        Some(sent) => session::take_pending(session, sent, now).await.map_err(|e| Outcome::Unavailable(sessions_unavailable(&e)))?,
        None => None,
    };
    let Some(pending) = pending else {
        return Err(failed(
            StatusCode::BAD_REQUEST,
            "This sign-in is not one this browser started, or it took too long. Please start again.",
            "the callback's state matches no sign-in this session started (expired, replayed or forged)",
            HOME,
        ));
    };
    let next = pending.next.clone();
    if let Some(error) = params.error.as_deref() {
        let description = params.error_description.as_deref().unwrap_or("");
        return Err(failed(
            StatusCode::UNAUTHORIZED,
            "The identity provider did not sign you in.",
            format!("the identity provider answered {}: {}", ops::access::echo(error), ops::access::echo(description)),
            &next,
        ));
    }
    let Some(code) = params.code else {
        return Err(failed(StatusCode::BAD_REQUEST, "The identity provider sent no code.", "the callback carries no code", &next));
    };
    let idp = state.auth.idp();
    let discovered = idp.discovered().await.map_err(|unavailable| {
        let notice = SignInNotice::IdpUnavailable { issuer: unavailable.issuer, retry: crate::auth::gate::login_url(&next) };
        Outcome::Unavailable((StatusCode::SERVICE_UNAVAILABLE, Html(render(&notice))).into_response())
    })?;

    // The code, with the PKCE verifier only this session knows, for tokens.
    let request = discovered.client.exchange_code(AuthorizationCode::new(code)).map_err(|e| {
        failed(StatusCode::BAD_GATEWAY, "The identity provider has no token endpoint.", e.to_string(), &next)
    })?;
    let tokens = request
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier))
        .request_async(idp.http())
        .await
        .map_err(|e| {
            failed(
                StatusCode::UNAUTHORIZED,
                "Your sign-in could not be completed with the identity provider. Please start again.",
                format!("code exchange failed: {}", error_chain(&e)),
                &next,
            )
        })?;
    let id_token: &CoreIdToken = tokens.id_token().ok_or_else(|| {
        failed(StatusCode::UNAUTHORIZED, "The identity provider sent no ID token.", "no ID token in the token response", &next)
    })?;

    let mut claims = state.auth.verify_id_token(id_token, &Nonce::new(pending.nonce)).await.map_err(|reason| {
        failed(
            StatusCode::UNAUTHORIZED,
            "The identity provider's answer could not be verified, so you were not signed in.",
            format!("ID token refused: {reason}"),
            &next,
        )
    })?;
    let paths = &state.auth.settings().claim_paths;
    if claims::lookup(&claims, &paths.roles).is_none() || claims::lookup(&claims, &paths.tenants).is_none() {
        // Some providers put roles or groups in userinfo only.
        if let Some(userinfo) = userinfo(state, &discovered, tokens.access_token().secret()).await {
            merge_missing(&mut claims, userinfo);
        }
    }
    let person = claims::person(&claims, paths).map_err(|error| {
        let actor = claims.get("sub").and_then(Value::as_str).map(|sub| {
            let login = claims.get("preferred_username").and_then(Value::as_str).unwrap_or(sub);
            Actor::user(sub, login, Vec::new(), ops::identity::TenantScope::Only(Default::default()))
        });
        Outcome::Failed(Failure {
            status: StatusCode::FORBIDDEN,
            message: format!(
                "The identity provider signed you in, but you have no role in opsdeck ({error}). \
                 Ask an administrator to give you one."
            ),
            reason: error.to_string(),
            actor,
            next: next.clone(),
        })
    })?;
    if !person.ignored_tenants.is_empty() {
        tracing::warn!(ignored = ?person.ignored_tenants, "tenant claim values that are not tenant ids were ignored");
    }

    let absolute = chrono::Duration::from_std(state.auth.settings().absolute_timeout).unwrap_or(chrono::Duration::hours(10));
    let signed_in = SignedIn {
        actor: person.actor,
        display_name: person.display_name,
        email: person.email,
        signed_in_at: now,
        ends_at: now + absolute,
        id_token: id_token.to_string(),
    };
    session::sign_in(session, &signed_in).await.map_err(|e| Outcome::Unavailable(sessions_unavailable(&e)))?;
    let tenants = match &signed_in.actor.tenants {
        ops::identity::TenantScope::All => json!("*"),
        ops::identity::TenantScope::Only(ids) => json!(ids),
    };
    let detail = json!({
        "roles": signed_in.actor.roles,
        "tenants": tenants,
        "session_ends_at": signed_in.ends_at,
        "ignored_roles": person.ignored_roles,
    });
    if let Err(error) = ops::access::signed_in(&state.pool, &signed_in.actor, detail).await {
        // Signed in but not on record: refuse rather than let someone act without an audit trail.
        tracing::error!(%error, "cannot audit a sign-in; ending the session");
        let _ = session.flush().await;
        let page = Html(render(&SignInNotice::SessionsUnavailable));
        return Err(Outcome::Unavailable((StatusCode::SERVICE_UNAVAILABLE, page).into_response()));
    }
    tracing::info!(actor = %signed_in.actor.subject, name = %signed_in.actor.name, "signed in");
    Ok(next)
}

/// The userinfo document, when the provider has one and answers with JSON (not a signed JWT).
async fn userinfo(state: &AppState, discovered: &crate::auth::idp::Discovered, access_token: &str) -> Option<Value> {
    let url = discovered.userinfo_endpoint.as_ref()?;
    let response = state.auth.idp().http().get(url.url().as_str()).bearer_auth(access_token).send().await.ok()?;
    let is_json = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !response.status().is_success() || !is_json {
        return None;
    }
    response.json().await.ok()
}

/// Adds userinfo's claims that the ID token lacks (the ID token's own win; `sub` must agree).
fn merge_missing(claims: &mut Value, userinfo: Value) {
    let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), userinfo) else { return };
    if extra.get("sub") != claims.get("sub") {
        tracing::warn!("userinfo is about another subject; ignored");
        return;
    }
    for (key, value) in extra {
        claims.entry(key).or_insert(value);
    }
}

/// Ends the console session and the provider's. A POST (the CSRF check guards it); with no session it
/// simply lands on the signed-out page.
#[tracing::instrument(name = "auth.logout", skip_all)]
pub async fn logout(State(state): State<AppState>, session: Session) -> Response {
    let signed_in = match session::signed_in(&session).await {
        Ok(signed_in) => signed_in,
        Err(error) => return sessions_unavailable(&error),
    };
    if let Err(error) = session.flush().await {
        return sessions_unavailable(&error);
    }
    let Some(signed_in) = signed_in else {
        return Redirect::to("/auth/signed-out").into_response();
    };
    if let Err(error) = ops::access::signed_out(&state.pool, &signed_in.actor, "signed out").await {
        tracing::warn!(%error, "cannot audit a sign-out");
    }
    tracing::info!(actor = %signed_in.actor.subject, "signed out");
    let signed_out = format!("{}/auth/signed-out", state.auth.settings().public_origin);
    match state.auth.idp().discovered().await.ok().and_then(|d| d.end_session_endpoint.clone()) {
        Some(endpoint) => {
            let mut url = endpoint.url().clone();
            url.query_pairs_mut()
                .append_pair("id_token_hint", &signed_in.id_token)
                .append_pair("post_logout_redirect_uri", &signed_out)
                .append_pair("client_id", &state.auth.idp().registration().client_id);
            Redirect::to(url.as_str()).into_response()
        }
        // The provider is down: the console session is over all the same.
        None => Redirect::to("/auth/signed-out").into_response(),
    }
}

#[tracing::instrument(name = "auth.signed_out", skip_all)]
pub async fn signed_out() -> Response {
    Html(render(&SignInNotice::SignedOut)).into_response()
}

fn sessions_unavailable(error: &tower_sessions::session::Error) -> Response {
    tracing::warn!(%error, "cannot read or write the session");
    (StatusCode::SERVICE_UNAVAILABLE, Html(render(&SignInNotice::SessionsUnavailable))).into_response()
}

/// `next` if it is a path of this console (not `//host`, not a URL, not a sign-in page); [`HOME`] otherwise.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(next)
            if next.starts_with('/')
                && !next.starts_with("//")
                && !next.starts_with("/\\")
                && !next.starts_with(crate::auth::gate::OPEN_PREFIX)
                && next.len() <= 2000
                && !next.chars().any(|c| c.is_control() || c == '\\') =>
        {
            next.to_string()
        }
        _ => HOME.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_the_console_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/orders?tenant=x&q=SO-1")), "/orders?tenant=x&q=SO-1");
        assert_eq!(safe_next(Some("/me")), "/me");
        for hostile in ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "/auth/logout", "/a\r\nb"] {
            assert_eq!(safe_next(Some(hostile)), HOME, "{hostile}");
        }
        assert_eq!(safe_next(None), HOME);
    }

    #[test]
    fn userinfo_fills_in_what_the_id_token_lacks_for_the_same_subject_only() {
        let mut claims = json!({ "sub": "a", "name": "From ID token" });
        merge_missing(&mut claims, json!({ "sub": "a", "name": "From userinfo", "groups": ["operator"] }));
        assert_eq!(claims, json!({ "sub": "a", "name": "From ID token", "groups": ["operator"] }));
        merge_missing(&mut claims, json!({ "sub": "b", "tenants": ["*"] }));
        assert!(claims.get("tenants").is_none());
    }
}
