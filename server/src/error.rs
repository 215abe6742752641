//! The server's one error type, and the one place it becomes an HTTP response.
//!
//! [`IntoResponse`] picks the status and the message a client may see, and nothing else: internal detail
//! (SQL, I/O, configuration) is never sent. The error travels in the response's extensions to the
//! [`log_errors`] middleware, the one place request errors are logged.

use std::sync::Arc;

use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::config::ConfigError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("configuration: {0}")]
    Config(#[from] ConfigError),

    /// The reference platform's workers and fault commands.
    #[error(transparent)]
    PlatformRun(#[from] crate::platform_cmd::Error),

    /// The console's domain: a refused command (403, with why), or what the platform said.
    #[error(transparent)]
    Ops(#[from] ops::Error),

    /// No credential where one is required (the internal API without a bearer token).
    #[error("{0}")]
    Unauthenticated(String),

    /// A bearer token that did not verify: expired, forged, for another issuer or audience.
    #[error("token refused: {0}")]
    TokenRefused(String),

    /// A genuine token, but not a service's.
    #[error("{0}")]
    NotAService(String),

    /// The identity provider cannot be reached to verify anything.
    #[error("{0}")]
    IdentityUnavailable(String),

    /// Input that does not parse (a path segment that is not an id): invalid input, as the domain's.
    #[error("{0}")]
    Invalid(String),

    #[error("{0}")]
    NotFound(String),

    /// A client of the internal API over its budget: retry after this many seconds.
    #[error("too many requests: retry after {0} s")]
    RateLimited(u64),

    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },

    #[error("server stopped: {0}")]
    Serve(#[source] std::io::Error),

    #[error("cannot write the report: {0}")]
    Report(#[from] serde_json::Error),

    /// A handler panicked: a bug. The client gets a 500 (not a dropped connection); the log gets what the
    /// panic said.
    #[error("a handler panicked: {0}")]
    Panicked(String),
}

impl Error {
    /// From a caught panic's payload (tower-http's `CatchPanicLayer`), as a response like any other error.
    pub fn from_panic(payload: Box<dyn std::any::Any + Send + 'static>) -> Response {
        let said = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "(no message)".to_string());
        Error::Panicked(said).into_response()
    }
}

impl Error {
    /// The status of each error. The console's domain errors take theirs from the one mapping of error
    /// kinds ([`app::error::status`]); the rest are about the transport (tokens, addresses, start-up).
    pub fn status_code(&self) -> StatusCode {
        match self {
            Error::Ops(error) => app::error::status(error.kind()),
            Error::NotAService(_) => StatusCode::FORBIDDEN,
            Error::Unauthenticated(_) | Error::TokenRefused(_) => StatusCode::UNAUTHORIZED,
            Error::IdentityUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Error::Invalid(_) => app::error::status(ops::ErrorKind::Invalid),
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told. Domain errors explain themselves; everything else stays on the server.
    fn client_message(&self) -> String {
        match self {
            // A program calling the API needs the field messages themselves, not "see the fields".
            Error::Ops(ops::Error::Invalid(fields)) => format!("invalid input: {fields}"),
            Error::Ops(error) => error.public_message(),
            Error::IdentityUnavailable(_) => {
                "the identity provider is unavailable, so tokens cannot be verified; try again shortly".to_string()
            }
            _ if self.status_code() == StatusCode::SERVICE_UNAVAILABLE => {
                "the database is unavailable; try again shortly".to_string()
            }
            _ if self.status_code().is_server_error() => "internal error".to_string(),
            _ => self.to_string(),
        }
    }
}

/// The platform's errors are told as the console's domain tells them (a state machine's refusal is a rule,
/// a lost optimistic lock a stale version), so they map to a status in the same one place.
impl From<platform::Error> for Error {
    fn from(error: platform::Error) -> Self {
        Error::Ops(error.into())
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = (self.status_code(), self.client_message()).into_response();
        if matches!(self, Error::Unauthenticated(_) | Error::TokenRefused(_)) {
            // RFC 6750: say how to authenticate, and (for a refused token) that the token was the problem.
            let challenge = if matches!(self, Error::TokenRefused(_)) {
                r#"Bearer realm="opsdeck", error="invalid_token""#
            } else {
                r#"Bearer realm="opsdeck""#
            };
            response.headers_mut().insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static(challenge));
        }
        if let Error::RateLimited(seconds) = self {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(Arc::new(self));
        response
    }
}

/// Logs the [`Error`] a handler answered with: server errors in full at `error`, client errors at `info`.
pub async fn log_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if let Some(error) = response.extensions().get::<Arc<Error>>() {
        if response.status().is_server_error() {
            tracing::error!(error = %error, error.debug = ?error, status = response.status().as_u16(), "request failed");
        } else {
            tracing::info!(error = %error, status = response.status().as_u16(), "request refused");
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn internal_errors_are_hidden_from_the_client() {
        let error = Error::from(platform::Error::Database(sqlx::Error::Protocol("relation oms.secret".into())));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(!body.contains("oms.secret"), "{body}");
        assert!(body.starts_with("Something went wrong on our side"), "{body}");
    }

    #[tokio::test]
    async fn a_panic_is_a_500_that_keeps_what_it_said_on_the_server() {
        let response = Error::from_panic(Box::new(format!("index out of bounds in {}", "oms.order")));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let logged = response.extensions().get::<Arc<Error>>().expect("the error travels to log_errors").to_string();
        assert!(logged.contains("index out of bounds in oms.order"), "{logged}");
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert!(!String::from_utf8_lossy(&body).contains("oms.order"));
    }

    #[tokio::test]
    async fn a_refused_command_is_403_with_its_reason() {
        let refused = ops::command::Refused {
            action: ops::command::Action::OrderRead,
            permission: ops::identity::Permission::Read,
            tenant: Some(platform::tenants::GLOBEX),
            refusal: ops::identity::Refusal::TenantOutOfScope { tenant: platform::tenants::GLOBEX },
        };
        let response = Error::Ops(ops::Error::Refused(refused)).into_response();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(
            &body[..],
            b"order.read refused: tenant 10000000-0000-4000-8000-000000000002 is outside your tenant scope."
        );
    }

    #[tokio::test]
    async fn a_refused_token_is_401_with_a_bearer_challenge() {
        let response = Error::TokenRefused("expired at 1 (unix time)".into()).into_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="opsdeck", error="invalid_token""#);
    }

    #[tokio::test]
    async fn a_state_rules_refusal_is_409_and_explains_itself() {
        let error = Error::from(platform::Error::refused("order in FULFILLED cannot CANCEL (it is terminal)"));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"refused: order in FULFILLED cannot CANCEL (it is terminal)");
    }
}
