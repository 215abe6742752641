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

    #[error(transparent)]
    Platform(#[from] platform::Error),

    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: std::net::SocketAddr, source: std::io::Error },

    #[error("server stopped: {0}")]
    Serve(#[source] std::io::Error),

    #[error("cannot write the report: {0}")]
    Report(#[from] serde_json::Error),
}

impl Error {
    pub fn status_code(&self) -> StatusCode {
        match self {
            Error::Platform(platform::Error::NotFound { .. }) => StatusCode::NOT_FOUND,
            Error::Platform(platform::Error::Invalid { .. }) => StatusCode::BAD_REQUEST,
            Error::Platform(platform::Error::Refused { .. }) => StatusCode::UNPROCESSABLE_ENTITY,
            Error::Platform(platform::Error::Conflict { .. } | platform::Error::AlreadyExists { .. }) => {
                StatusCode::CONFLICT
            }
            Error::Platform(platform::Error::Database(sqlx::Error::PoolTimedOut)) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the client is told. Domain errors explain themselves; everything else stays on the server.
    fn client_message(&self) -> String {
        match self.status_code() {
            StatusCode::SERVICE_UNAVAILABLE => "the database is unavailable; try again shortly".to_string(),
            status if status.is_server_error() => "internal error".to_string(),
            _ => self.to_string(),
        }
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let mut response = (self.status_code(), self.client_message()).into_response();
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
        let error = Error::Platform(platform::Error::Database(sqlx::Error::Protocol("relation oms.secret".into())));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"internal error");
    }

    #[tokio::test]
    async fn domain_errors_explain_themselves() {
        let error = Error::Platform(platform::Error::refused("order in FULFILLED cannot CANCEL (it is terminal)"));
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(&body[..], b"refused: order in FULFILLED cannot CANCEL (it is terminal)");
    }
}
