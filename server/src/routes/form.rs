//! The server side of the form kit: what every form handler does after its one command ran.
//!
//! A handler extracts its typed form ([`axum_extra::extract::Form`], which takes repeated keys such as
//! checkboxes), parses it into the command's input, runs the command, and hands the outcome here: 303 to
//! the next page on success; otherwise the form's page rendered again with the form as posted and the
//! error at its fields ([`app::form::Submitted`]), under the error's status.

use axum::response::{IntoResponse, Redirect, Response};
use app::form::Submitted;
use app::viewer::Viewer;

use crate::routes::pages;
use crate::startup::AppState;

/// Which form came back, when a page has several of one type (the action item's id, the lifecycle step).
pub type Key = Option<String>;

/// 303 to `next` when the command succeeded; otherwise `page` again with `form` and the error.
pub async fn answer<F: Send + Sync + 'static, T>(
    state: AppState,
    viewer: Viewer,
    page: &str,
    form: F,
    key: Key,
    result: Result<T, ops::Error>,
    next: impl FnOnce(&T) -> String,
) -> Response {
    match result {
        Ok(value) => Redirect::to(&next(&value)).into_response(),
        Err(error) => pages::rerender(state, viewer, page, Submitted::new(form, key, error.into())).await,
    }
}

/// A page the form may send the person back to (a hidden `next` field): only a path of this console,
/// and one a URI can hold (it becomes a `Location` header and the address of the page shown again).
pub fn local_path(next: &str) -> Option<&str> {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains(['\\', '\r', '\n']);
    let valid = next.parse::<axum::http::uri::PathAndQuery>().is_ok() && next.len() <= 2048;
    (local && valid).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_paths_of_the_console_are_followed() {
        assert_eq!(local_path("/incidents"), Some("/incidents"));
        assert_eq!(local_path("//evil.example.com/x"), None);
        assert_eq!(local_path("https://evil.example.com"), None);
        assert_eq!(local_path("/\\evil.example.com"), None);
        assert_eq!(local_path(""), None);
    }

    #[test]
    fn a_next_an_address_cannot_hold_is_not_followed() {
        assert_eq!(local_path("/incidents?q=a b"), None);
        assert_eq!(local_path("/incidents/<script>"), None);
        assert_eq!(local_path("/incidents\0"), None);
        assert_eq!(local_path(&format!("/incidents?q={}", "x".repeat(5000))), None);
        assert_eq!(local_path("/incidents?q=a%20b#item"), Some("/incidents?q=a%20b#item"));
    }
}
