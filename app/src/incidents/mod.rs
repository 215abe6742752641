//! Incidents: the register (`/incidents`), the declare form (`/incidents/new`) and one incident
//! (`/incidents/<id>`), laid out for the person reading it during the incident.
//!
//! Every form is a plain HTML form posting to the server (`server::routes::incidents`), which runs one
//! `ops::incident` command and answers 303 to the page on success. When the command fails the server
//! renders the same page again with the refused form in the context ([`crate::form::Submitted`]): the
//! person's input is kept and each message shown at its field.

mod declare;
mod list;
mod page;

pub use declare::DeclareIncidentPage;
pub use list::IncidentsPage;
pub use page::IncidentPage;

use leptos::prelude::*;
use ops::incident::{self, IncidentId};
use platform::machine::Named;
use sqlx::PgPool;

use crate::error::PageError;

/// The address of one incident's page.
pub fn incident_path(id: IncidentId) -> String {
    format!("/incidents/{id}")
}

fn pool_or_internal() -> Result<PgPool, PageError> {
    use_context::<PgPool>().ok_or_else(|| {
        tracing::error!("no PgPool in the rendering context");
        PageError::internal()
    })
}

fn severity_badge(severity: incident::Severity) -> AnyView {
    let tone = match severity {
        incident::Severity::Sev1 | incident::Severity::Sev2 => "tone-bad",
        incident::Severity::Sev3 => "tone-active",
        _ => "tone-muted",
    };
    let class = format!("badge sev sev-{} {tone}", severity.name().to_ascii_lowercase());
    view! { <span class=class>{severity.label()}</span> }.into_any()
}

fn status_badge(status: incident::IncidentStatus) -> AnyView {
    let tone = match status {
        incident::IncidentStatus::Open => "tone-bad",
        incident::IncidentStatus::Mitigated => "tone-active",
        _ => "tone-muted",
    };
    view! { <span class=format!("badge {tone}")>{status.name()}</span> }.into_any()
}


/// `(value, label)` choices of a closed set, with an empty first choice when `blank` is given.
fn choices<T: Named>(label: impl Fn(T) -> String, blank: Option<&str>) -> Vec<(String, String)> {
    blank
        .map(|b| (String::new(), b.to_string()))
        .into_iter()
        .chain(T::ALL.iter().map(|&v| (v.name().to_string(), label(v))))
        .collect()
}

/// Percent-encodes a query parameter value.
pub(crate) fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
