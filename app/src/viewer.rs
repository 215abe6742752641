//! Who is looking at the page: the signed-in person the server puts in the rendering context.
//!
//! The server's session middleware refuses every page request without a session before rendering, so a
//! page that finds no [`Viewer`] has been wired wrongly: it fails closed ([`PageError::internal()`]).

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use ops::identity::Actor;

use crate::error::PageError;

/// A signed-in person and their session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    /// Subject, login name, roles and tenant scope, as every command receives them.
    pub actor: Actor,
    /// The name to greet them by.
    pub display_name: String,
    pub email: Option<String>,
    pub signed_in_at: DateTime<Utc>,
    /// When the session ends whatever is done (its absolute lifetime).
    pub session_ends_at: DateTime<Utc>,
    /// When it ends if nothing more is done (the idle timeout), as of this request.
    pub idle_ends_at: DateTime<Utc>,
}

/// The viewer of the page being rendered, if the server provided one.
pub fn use_viewer() -> Option<Viewer> {
    use_context::<Viewer>()
}

/// The viewer, or the error a page shows when there is none.
pub fn require_viewer() -> Result<Viewer, PageError> {
    use_viewer().ok_or_else(|| {
        tracing::error!("a page was rendered without a signed-in viewer in its context");
        PageError::internal()
    })
}
