//! Cross-site request forgery: a state-changing request (anything but GET, HEAD, OPTIONS) is served only
//! when it says it comes from the console's own origin — its `Origin` header, or when a browser sent
//! none, the origin of its `Referer`. A request with neither is refused too: every browser this console
//! supports sends `Origin` with a POST, so one that does not is not a form of ours. The session cookie
//! being `SameSite=Lax` is the second wall; this check does not rely on it.
//!
//! A refusal is answered 403 and, when it carried a signed-in session, audited under that person's name
//! (their browser was used against them, or they were tricked into it).
//!
//! The internal API (bearer tokens, no cookies) is not behind this check: a browser never attaches a
//! bearer token on its own, so a forged request has no credential to ride on.

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tower_sessions::Session;

use super::session;
use crate::startup::AppState;

/// Why a request is taken to come from elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CrossOrigin {
    #[error("the request came from {0}")]
    Origin(String),
    #[error("the request was sent by a page of {0}")]
    Referer(String),
    #[error("the request says neither where it came from (Origin) nor which page sent it (Referer)")]
    Unknown,
}

pub fn is_state_changing(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request's Origin (or, absent it, Referer) is `expected`, an origin such as
/// `http://127.0.0.1:3000`.
pub fn check(headers: &HeaderMap, expected: &str) -> Result<(), CrossOrigin> {
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("(not text)");
        return if origin == expected { Ok(()) } else { Err(CrossOrigin::Origin(ops::access::echo(origin))) };
    }
    if let Some(referer) = headers.get(header::REFERER) {
        let origin = referer
            .to_str()
            .ok()
            .and_then(|text| reqwest::Url::parse(text).ok())
            .map(|url| url.origin().ascii_serialization())
            .unwrap_or_else(|| "(an unreadable address)".to_string());
        return if origin == expected { Ok(()) } else { Err(CrossOrigin::Referer(ops::access::echo(&origin))) };
    }
    Err(CrossOrigin::Unknown)
}

pub async fn same_origin_only(State(state): State<AppState>, session: Session, request: Request, next: Next) -> Response {
    if !is_state_changing(request.method()) {
        return next.run(request).await;
    }
    let expected = &state.auth.settings().public_origin;
    let Err(why) = check(request.headers(), expected) else {
        return next.run(request).await;
    };
    let (method, path) = (request.method().to_string(), ops::access::echo(request.uri().path()));
    tracing::warn!(%method, %path, reason = %why, "cross-origin request refused");
    if let Ok(Some(signed_in)) = session::signed_in(&session).await {
        let detail = json!({ "method": method, "path": path });
        if let Err(error) = ops::access::cross_origin_refused(&state.pool, &signed_in.actor, &why.to_string(), detail).await {
            tracing::warn!(%error, "cannot audit a refused cross-origin request");
        }
    }
    let message = format!("Refused: {why}. Changes are accepted only from the console's own pages ({expected}).");
    (StatusCode::FORBIDDEN, message).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    const CONSOLE: &str = "http://127.0.0.1:3000";

    fn headers(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        pairs.iter().map(|(name, value)| (name.clone(), HeaderValue::from_str(value).unwrap())).collect()
    }

    #[test]
    fn the_consoles_own_origin_passes() {
        assert_eq!(check(&headers(&[(header::ORIGIN, CONSOLE)]), CONSOLE), Ok(()));
    }

    #[test]
    fn another_origin_is_refused_even_with_a_matching_referer() {
        let h = headers(&[(header::ORIGIN, "http://evil.example"), (header::REFERER, "http://127.0.0.1:3000/orders")]);
        assert_eq!(check(&h, CONSOLE), Err(CrossOrigin::Origin("http://evil.example".into())));
        // Same host, another port: another origin.
        assert!(check(&headers(&[(header::ORIGIN, "http://127.0.0.1:3001")]), CONSOLE).is_err());
        // Sandboxed frames and some redirects send "null".
        assert!(check(&headers(&[(header::ORIGIN, "null")]), CONSOLE).is_err());
    }

    #[test]
    fn without_origin_the_referer_decides() {
        assert_eq!(check(&headers(&[(header::REFERER, "http://127.0.0.1:3000/orders?q=1")]), CONSOLE), Ok(()));
        assert_eq!(
            check(&headers(&[(header::REFERER, "https://evil.example/page")]), CONSOLE),
            Err(CrossOrigin::Referer("https://evil.example".into()))
        );
        assert!(check(&headers(&[(header::REFERER, "not a url")]), CONSOLE).is_err());
    }

    #[test]
    fn a_request_with_neither_is_refused() {
        assert_eq!(check(&HeaderMap::new(), CONSOLE), Err(CrossOrigin::Unknown));
    }

    #[test]
    fn reads_are_not_state_changing() {
        assert!(!is_state_changing(&Method::GET) && !is_state_changing(&Method::HEAD));
        for method in [Method::POST, Method::PUT, Method::PATCH, Method::DELETE] {
            assert!(is_state_changing(&method), "{method}");
        }
    }
}
