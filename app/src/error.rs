//! The one error type of the pages, and the one place it becomes an HTTP status.
//!
//! A page answers bad input at the field it came from (400), a lookup that finds nothing with what was
//! looked for and where (404), a database that does not answer as "unavailable" (503). Anything else is
//! logged where it is converted and shown to the reader only as a generic message (500): internal detail
//! never reaches a page.

use leptos::prelude::*;

/// A message that belongs to one field of a form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The form field's `name`.
    pub field: &'static str,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    /// The input cannot be used; each message names its field.
    #[error("invalid input: {0:?}")]
    Invalid(Vec<FieldError>),
    #[error("{message}")]
    NotFound { message: String },
    /// The viewer may not see or do this (role or tenant scope); the refusal is already audited.
    #[error("{message}")]
    Forbidden { message: String },
    /// A dependency the page needs does not answer.
    #[error("{message}")]
    Unavailable { message: String },
    /// Already logged; the reader is told only that something failed.
    #[error("internal error")]
    Internal,
}

impl PageError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        PageError::Invalid(vec![FieldError { field, message: message.into() }])
    }

    pub fn status(&self) -> axum::http::StatusCode {
        use axum::http::StatusCode;
        match self {
            PageError::Invalid(_) => StatusCode::BAD_REQUEST,
            PageError::NotFound { .. } => StatusCode::NOT_FOUND,
            PageError::Forbidden { .. } => StatusCode::FORBIDDEN,
            PageError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            PageError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The message for `field`, if the input of that field was refused.
    pub fn field_message(&self, field: &str) -> Option<String> {
        match self {
            PageError::Invalid(errors) => errors.iter().find(|e| e.field == field).map(|e| e.message.clone()),
            _ => None,
        }
    }

    /// What the reader is told, for errors not shown at a field.
    pub fn message(&self) -> String {
        match self {
            PageError::Invalid(_) => "Please correct the highlighted fields.".to_string(),
            PageError::NotFound { message } | PageError::Forbidden { message } | PageError::Unavailable { message } => {
                message.clone()
            }
            PageError::Internal => {
                "Something went wrong on our side. The error has been logged; please try again.".to_string()
            }
        }
    }
}

impl From<ops::Error> for PageError {
    fn from(error: ops::Error) -> Self {
        match error {
            ops::Error::Refused(refused) => PageError::Forbidden { message: refused.to_string() },
            ops::Error::Platform(error) => error.into(),
            ops::Error::Database(error) => platform::Error::Database(error).into(),
        }
    }
}

impl From<platform::Error> for PageError {
    fn from(error: platform::Error) -> Self {
        if is_database_unavailable(&error) {
            tracing::warn!(error = %error, "database unavailable");
            PageError::Unavailable {
                message: "PostgreSQL is not answering, so the console cannot read the system of record right now. \
                          Try again shortly; /readyz shows the state of each dependency."
                    .to_string(),
            }
        } else {
            tracing::error!(error = %error, error.debug = ?error, "page failed");
            PageError::Internal
        }
    }
}

/// Connection-level failures (no pool connection, I/O, server shutting down) as opposed to a bad query.
fn is_database_unavailable(error: &platform::Error) -> bool {
    let platform::Error::Database(db) = error else { return false };
    match db {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        // SQLSTATE class 08: connection exception; 57P0x: admin shutdown, crash shutdown, cannot connect now.
        sqlx::Error::Database(e) => e.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// Sets the HTTP status of the page being rendered. Every page sets its status through here.
pub fn set_status(status: axum::http::StatusCode) {
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(status);
    }
}

/// The panel shown in place of a page's content when it failed (field errors are shown at the fields).
#[component]
pub fn ErrorNotice(error: PageError) -> impl IntoView {
    let (class, heading) = match &error {
        PageError::Invalid(_) => ("notice notice-warn", "Check your input"),
        PageError::NotFound { .. } => ("notice notice-info", "Not found"),
        PageError::Forbidden { .. } => ("notice notice-bad", "Not allowed"),
        PageError::Unavailable { .. } => ("notice notice-bad", "Temporarily unavailable"),
        PageError::Internal => ("notice notice-bad", "Something went wrong"),
    };
    let recorded = matches!(error, PageError::Forbidden { .. })
        .then(|| view! { <p>"The refusal is recorded in the audit log under your name."</p> });
    view! {
        <section class=class role="alert">
            <h2>{heading}</h2>
            <p>{error.message()}</p>
            {recorded}
        </section>
    }
}
