//! The page side of the form kit (`ops::form` is the domain side): a refused submission comes back to the
//! page that drew the form, with the input kept and each message at its field.
//!
//! A form handler that gets an error renders the form's page again with a [`Submitted`] in the rendering
//! context: the typed form exactly as posted (`DeclareForm`, `TriageForm`, …) and the [`PageError`]. A
//! page asks for it by type with [`rejected`] and draws the form from it instead of from the stored
//! entity, so nothing the person typed is lost; [`message_at`] and [`notice`] put the messages where they
//! belong. The response's status is the error's (the server sets it; see [`crate::error::status`]).

use std::any::Any;
use std::sync::Arc;

use leptos::prelude::*;

use crate::error::PageError;

/// A form that was posted and refused, handed back to the page that shows it.
#[derive(Clone)]
pub struct Submitted {
    form: Arc<dyn Any + Send + Sync>,
    /// Which of several forms of one type on a page (the action item's id, the lifecycle step).
    key: Option<String>,
    pub error: PageError,
}

impl std::fmt::Debug for Submitted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Submitted").field("key", &self.key).field("error", &self.error).finish_non_exhaustive()
    }
}

impl Submitted {
    pub fn new<F: Any + Send + Sync>(form: F, key: Option<String>, error: PageError) -> Self {
        Submitted { form: Arc::new(form), key, error }
    }

    /// Which of several forms of one type came back.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
}

/// The refused submission of one form, typed.
#[derive(Debug, Clone)]
pub struct Rejected<F> {
    pub form: F,
    pub error: PageError,
}

impl<F> Rejected<F> {
    /// The message for one field, if that field was refused.
    pub fn at(&self, field: &str) -> Option<String> {
        self.error.field_message(field)
    }
}

/// The refused submission of a form of type `F` in this render (and, when given, with this `key`).
pub fn rejected<F: Clone + 'static>(key: Option<&str>) -> Option<Rejected<F>> {
    let submitted = use_context::<Submitted>()?;
    if key.is_some() && submitted.key.as_deref() != key {
        return None;
    }
    let form = submitted.form.downcast_ref::<F>()?.clone();
    Some(Rejected { form, error: submitted.error })
}

/// The form to draw: as posted when it came back refused, otherwise as the page would fill it.
pub fn form_or<F: Clone>(rejected: &Option<Rejected<F>>, fresh: impl FnOnce() -> F) -> F {
    match rejected {
        Some(r) => r.form.clone(),
        None => fresh(),
    }
}

/// The message at a field, when the submission refused it.
pub fn message_at<F>(rejected: &Option<Rejected<F>>, field: &str) -> Option<AnyView> {
    let message = rejected.as_ref()?.at(field)?;
    Some(view! { <p class="field-error" role="alert">{message}</p> }.into_any())
}

/// What is said above a refused form: the refusal, the conflict, or "check the fields".
pub fn notice<F>(rejected: &Option<Rejected<F>>) -> Option<AnyView> {
    let error = &rejected.as_ref()?.error;
    let class = if error.is_invalid() { "notice notice-warn" } else { "notice notice-bad" };
    let recorded = matches!(error.kind, ops::ErrorKind::NotAllowed | ops::ErrorKind::Rule)
        .then(|| view! { <p>"The refusal is recorded in the audit log under your name."</p> });
    Some(
        view! {
            <section class=class role="alert">
                <p>{error.message.clone()}</p>
                {recorded}
            </section>
        }
        .into_any(),
    )
}

/// What a command answered that the page shows in place (a diagnostic's rows): the page is the answer,
/// not a redirect, because what it shows is not stored.
#[derive(Clone)]
pub struct Shown(Arc<dyn Any + Send + Sync>);

impl std::fmt::Debug for Shown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shown(..)")
    }
}

impl Shown {
    pub fn new<T: Any + Send + Sync>(value: T) -> Self {
        Shown(Arc::new(value))
    }
}

/// The outcome of type `T` handed to this render, if any.
pub fn shown<T: Clone + 'static>() -> Option<T> {
    use_context::<Shown>()?.0.downcast_ref::<T>().cloned()
}
