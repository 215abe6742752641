//! The incident area's one error type. Variants carry data, never HTTP status codes: the server maps them
//! onto responses once.
//!
//! Which errors leave evidence: a *refusal* (role, tenant scope, a rule of the incident's lifecycle) is
//! written to the audit log as REFUSED, in its own statement after the command's transaction was rolled
//! back. Invalid input ([`FieldErrors`]), a stale form ([`Error::Conflict`]) and "not found" write nothing:
//! they are answered to the person at the form and nothing happened.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;
use uuid::Uuid;

use crate::identity::Refusal;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What is wrong with a form, field by field (field name → message), so the page can show each message at
/// its field. The field names are those of the raw form structs (`DeclareForm::summary` → `"summary"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<&'static str, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// One message for one field.
    pub fn single(field: &'static str, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Records a message for `field`; the first message for a field wins (it is usually the most basic).
    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        self.0.entry(field).or_insert_with(|| message.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn contains(&self, field: &str) -> bool {
        self.0.contains_key(field)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn fields(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.0.keys().copied()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0.iter().map(|(k, v)| (*k, v.as_str()))
    }

    /// `Ok(value())` when no field is wrong; the value is only built then, so it may unwrap what parsing
    /// left in `Option`s.
    pub fn finish<T>(self, value: impl FnOnce() -> T) -> std::result::Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (field, message) in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{field}: {message}")?;
        }
        Ok(())
    }
}

impl std::error::Error for FieldErrors {}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The actor's roles or tenant scope do not allow the command. Audited as REFUSED.
    #[error(transparent)]
    Forbidden(#[from] Refusal),

    /// The incident (or the one being declared) concerns no tenant: it is platform-wide, and only actors
    /// scoped to every tenant may see or act on it. Audited as REFUSED.
    #[error(
        "this incident concerns no particular tenant (platform-wide): only people scoped to every tenant may act on it"
    )]
    NeedsEveryTenant,

    /// A rule of the incident domain refused the command (a lifecycle step from the wrong status, a closed
    /// incident, an incomplete review). Audited as REFUSED.
    #[error("refused: {reason}")]
    Refused { reason: String },

    /// A SEV1/SEV2 cannot close yet; `missing` lists everything still to do. Audited as REFUSED.
    #[error("the incident cannot close yet: {}", missing.join("; "))]
    CloseBlocked { missing: Vec<String> },

    /// The form was rendered from an older version: someone else saved meanwhile. Nothing was written.
    #[error("someone else saved this {entity} meanwhile (your form shows version {expected}, it is now at version {found}); reload it and apply your change again")]
    Conflict { entity: &'static str, id: Uuid, expected: i64, found: i64 },

    /// Not there, or not visible to the actor (an incident outside their tenant scope is "not found" to a
    /// query, so its existence does not leak).
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },

    /// Bad input, field by field. Nothing was written.
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),

    #[error(transparent)]
    Database(#[from] sqlx::Error),

    /// The platform refused or failed (enqueueing an outbox event).
    #[error(transparent)]
    Platform(#[from] platform::Error),
}

impl Error {
    pub fn refused(reason: impl Into<String>) -> Self {
        Error::Refused { reason: reason.into() }
    }

    /// Refusals are audited; everything else is not.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            Error::Forbidden(_) | Error::NeedsEveryTenant | Error::Refused { .. } | Error::CloseBlocked { .. }
        )
    }

    /// The per-field messages, when the error is about input.
    pub fn field_errors(&self) -> Option<&FieldErrors> {
        match self {
            Error::Invalid(errors) => Some(errors),
            _ => None,
        }
    }
}

impl From<FieldErrors> for Error {
    fn from(errors: FieldErrors) -> Self {
        Error::Invalid(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_message_for_a_field_wins_and_display_lists_fields_in_order() {
        let mut errors = FieldErrors::new();
        errors.add("summary", "say what is broken");
        errors.add("summary", "second message");
        errors.add("detected_by", "choose how it was detected");
        assert_eq!(errors.get("summary"), Some("say what is broken"));
        assert_eq!(errors.to_string(), "detected_by: choose how it was detected; summary: say what is broken");
        assert!(errors.finish(|| ()).is_err());
        assert_eq!(FieldErrors::new().finish(|| 7), Ok(7));
    }

    #[test]
    fn a_conflict_says_someone_else_saved_meanwhile() {
        let err = Error::Conflict { entity: "incident", id: Uuid::nil(), expected: 3, found: 4 };
        assert!(err.to_string().starts_with("someone else saved this incident meanwhile"));
        assert!(!err.is_refusal());
    }
}
