//! What a page shows when something failed, and the one place an error kind becomes an HTTP status.
//!
//! [`status`] maps each [`ErrorKind`] of the console's domain to its status, for pages, forms and the
//! internal API alike (the server's error type uses it too):
//!
//! | kind | status | e.g. |
//! |---|---|---|
//! | invalid input | 422 | a reason of five characters, a lookup id that is not one |
//! | not allowed (role, token scope, tenant scope) | 403 | a viewer declaring an incident |
//! | refused by a state rule | 409 | closing a SEV1 without its review |
//! | stale version | 412 | a form rendered before someone else saved |
//! | not found | 404 | an incident id that does not exist |
//! | a dependency unavailable | 503 | PostgreSQL not answering |
//! | internal | 500 | a bug: logged in full here, shown as a generic message |

use leptos::prelude::*;
use ops::form::FieldErrors;
use ops::ErrorKind;

/// The HTTP status of an error kind. The only such mapping in the console.
pub fn status(kind: ErrorKind) -> axum::http::StatusCode {
    use axum::http::StatusCode;
    match kind {
        ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
        ErrorKind::NotAllowed => StatusCode::FORBIDDEN,
        ErrorKind::Rule => StatusCode::CONFLICT,
        ErrorKind::Stale => StatusCode::PRECONDITION_FAILED,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An error as a page shows it: its kind, what the reader is told, and the messages that belong at form
/// fields. Cheap to clone; internal detail never gets in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PageError {
    pub kind: ErrorKind,
    pub message: String,
    pub fields: FieldErrors,
}

impl PageError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        PageError { kind, message: message.into(), fields: FieldErrors::new() }
    }

    /// Input refused at one field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        PageError::fields(FieldErrors::single(field, message))
    }

    /// Input refused field by field.
    pub fn fields(fields: FieldErrors) -> Self {
        PageError { kind: ErrorKind::Invalid, message: "Please correct the highlighted fields.".to_string(), fields }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        PageError::new(ErrorKind::NotFound, message)
    }

    /// "There is no repair 0192…." for an address naming nothing (what was asked, cut to 80 characters).
    pub fn no_such(what: &str, asked: &str) -> Self {
        PageError::not_found(format!("There is no {what} {}.", asked.chars().take(80).collect::<String>()))
    }

    /// Already logged where it happened; the reader is told only that something failed.
    pub fn internal() -> Self {
        PageError::new(
            ErrorKind::Internal,
            "Something went wrong on our side. The error has been logged; please try again.",
        )
    }

    pub fn status(&self) -> axum::http::StatusCode {
        status(self.kind)
    }

    /// The message for `field`, if the input of that field was refused.
    pub fn field_message(&self, field: &str) -> Option<String> {
        self.fields.get(field).map(str::to_string)
    }

    pub fn is_invalid(&self) -> bool {
        self.kind == ErrorKind::Invalid
    }
}

impl From<ops::Error> for PageError {
    fn from(error: ops::Error) -> Self {
        match error.kind() {
            ErrorKind::Internal => tracing::error!(error = %error, error.debug = ?error, "page failed"),
            ErrorKind::Unavailable => tracing::warn!(error = %error, "a dependency is unavailable"),
            _ => {}
        }
        let fields = error.field_errors().cloned().unwrap_or_default();
        PageError { kind: error.kind(), message: error.public_message(), fields }
    }
}

impl From<platform::Error> for PageError {
    fn from(error: platform::Error) -> Self {
        ops::Error::from(error).into()
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
    let (class, heading) = match error.kind {
        ErrorKind::Invalid => ("notice notice-warn", "Check your input"),
        ErrorKind::NotFound => ("notice notice-info", "Not found"),
        ErrorKind::NotAllowed => ("notice notice-bad", "Not allowed"),
        ErrorKind::Rule => ("notice notice-warn", "Not possible now"),
        ErrorKind::Stale => ("notice notice-warn", "Changed meanwhile"),
        ErrorKind::Unavailable => ("notice notice-bad", "Temporarily unavailable"),
        ErrorKind::Internal => ("notice notice-bad", "Something went wrong"),
    };
    let recorded = matches!(error.kind, ErrorKind::NotAllowed | ErrorKind::Rule)
        .then(|| view! { <p>"The refusal is recorded in the audit log under your name."</p> });
    view! {
        <section class=class role="alert">
            <h2>{heading}</h2>
            <p>{error.message.clone()}</p>
            {recorded}
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_status() {
        use axum::http::StatusCode;
        let kinds = [
            (ErrorKind::Invalid, StatusCode::UNPROCESSABLE_ENTITY),
            (ErrorKind::NotAllowed, StatusCode::FORBIDDEN),
            (ErrorKind::Rule, StatusCode::CONFLICT),
            (ErrorKind::Stale, StatusCode::PRECONDITION_FAILED),
            (ErrorKind::NotFound, StatusCode::NOT_FOUND),
            (ErrorKind::Unavailable, StatusCode::SERVICE_UNAVAILABLE),
            (ErrorKind::Internal, StatusCode::INTERNAL_SERVER_ERROR),
        ];
        for (kind, want) in kinds {
            assert_eq!(status(kind), want, "{kind:?}");
        }
    }

    #[test]
    fn an_internal_error_tells_the_reader_nothing_of_its_detail() {
        let page = PageError::from(ops::Error::Database(sqlx::Error::Protocol("relation oms.secret".into())));
        assert_eq!(page.kind, ErrorKind::Internal);
        assert!(!page.message.contains("oms.secret"));
        assert_eq!(page.status(), axum::http::StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn invalid_input_keeps_its_field_messages() {
        let page = PageError::from(ops::Error::invalid("reason", "Say why in at least 10 characters"));
        assert_eq!(page.field_message("reason").as_deref(), Some("Say why in at least 10 characters"));
        assert!(page.is_invalid());
    }
}

/// A page that could not be shown: its title and heading, the error, and the error's HTTP status.
pub fn error_page(title: &'static str, error: PageError) -> AnyView {
    set_status(error.status());
    view! { <leptos_meta::Title text=title/> <h1>{title}</h1> <ErrorNotice error=error/> }.into_any()
}

/// A page's loading boundary: `render` the loaded data, or [`error_page`] under `title`. The page is
/// complete before it is sent (there is no client to fill it in later).
pub fn loaded<T, R>(title: &'static str, data: AsyncDerived<Result<T, PageError>>, render: R) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
    R: Fn(T) -> AnyView + Clone + Send + Sync + 'static,
{
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let render = render.clone();
                Suspend::new(async move {
                    match data.await {
                        Ok(data) => render(data),
                        Err(error) => error_page(title, error),
                    }
                })
            }}
        </Suspense>
    }
}

/// A page's data, loaded for the signed-in viewer with the database pool: `load(viewer, pool)` runs on the
/// server while the page renders. No viewer or no pool is an internal error (the server provides both).
pub fn load_for_viewer<T, F, Fut>(load: F) -> AsyncDerived<Result<T, PageError>>
where
    T: Send + Sync + 'static,
    F: Fn(crate::viewer::Viewer, sqlx::PgPool) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, PageError>> + Send + 'static,
{
    let viewer = crate::viewer::require_viewer();
    AsyncDerived::new(move || {
        let ready = viewer.clone().and_then(|v| Ok((v, use_context::<sqlx::PgPool>().ok_or_else(PageError::internal)?)));
        let future = ready.map(|(viewer, pool)| load(viewer, pool));
        async move { future?.await }
    })
}
