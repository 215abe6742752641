//! `Authorization: Bearer <token>` on the internal API: the calling service, verified, as an [`Actor`].
//!
//! A token that fails is answered 401 (403 when it is genuine but not a service's) and audited with why —
//! expired, bad signature, wrong issuer, wrong audience, unknown key — and what it claimed to be, marked
//! unverified. The token itself is never logged or stored.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use ops::identity::Actor;
use serde_json::json;

use super::rate_limit::Verdict;
use super::ServiceTokenError;
use crate::error::Error;
use crate::startup::AppState;

/// The service calling the internal API.
#[derive(Debug, Clone)]
pub struct Service(pub Actor);

impl FromRequestParts<AppState> for Service {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(token) = bearer_token(parts) else {
            return Err(Error::Unauthenticated("a bearer token (client credentials) is required".to_string()));
        };
        match state.auth.verify_service_token(token).await {
            Ok(actor) => match state.rate_limit.check(&actor.subject).await {
                Verdict::Allowed => Ok(Service(actor)),
                Verdict::Limited { retry_after } => {
                    metrics::counter!("opsdeck_internal_api_limited_total", "client" => actor.name.clone()).increment(1);
                    tracing::info!(client = %actor.name, retry_after, "internal API client over its budget");
                    Err(Error::RateLimited(retry_after))
                }
            },
            Err(ServiceTokenError::Unavailable(unavailable)) => Err(Error::IdentityUnavailable(unavailable.to_string())),
            Err(ServiceTokenError::Refused { refusal, claimed_client }) => {
                let detail = json!({ "why": refusal.code(), "claimed_client_unverified": claimed_client, "path": path(parts) });
                audit_refusal(state, &refusal.to_string(), detail).await;
                Err(Error::TokenRefused(refusal.to_string()))
            }
            Err(ServiceTokenError::NotAService(error)) => {
                audit_refusal(state, &error.to_string(), json!({ "why": "NOT_A_SERVICE", "path": path(parts) })).await;
                Err(Error::NotAService(error.to_string()))
            }
        }
    }
}

fn path(parts: &Parts) -> String {
    ops::access::echo(parts.uri.path())
}

async fn audit_refusal(state: &AppState, reason: &str, detail: serde_json::Value) {
    tracing::info!(%reason, "service token refused");
    if let Err(error) = ops::access::token_refused(&state.pool, reason, detail).await {
        tracing::warn!(%error, "cannot audit a refused service token");
    }
}

/// The token of an `Authorization: Bearer …` header (scheme case-insensitive).
fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()).then(|| token.trim())
}
