//! The form kit: how a posted HTML form becomes a typed command input, and how what is wrong with it
//! goes back to the page, field by field.
//!
//! 1. [`form!`](crate::form!) declares the form as sent — every value a `String` (or `Vec<String>` for
//!    repeated keys such as checkboxes), nothing trusted yet — together with its field names, so the page,
//!    the handler and the field errors share one spelling (`DeclareForm::FIELDS.summary`).
//! 2. `XForY::parse(&XForm)` turns it into the command's input with the helpers of [`parse`], reporting
//!    every field's problem at once in [`FieldErrors`].
//! 3. The command runs; a refusal, a stale version or invalid input comes back as [`crate::Error`], which
//!    the page shows above the form or at its fields, with the input kept.

pub mod parse;

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

pub use parse::Reason;

/// The version a form was rendered with (its hidden field), for the command to compare.
pub fn expected_version(field: &'static str, input: &str) -> crate::Result<i64> {
    let mut errors = FieldErrors::new();
    parse::version(&mut errors, field, input).ok_or(crate::Error::Invalid(errors))
}

/// An optional version (blank: rendered before there was anything to version).
pub fn optional_version(field: &'static str, input: &str) -> crate::Result<Option<i64>> {
    let mut errors = FieldErrors::new();
    parse::optional_version(&mut errors, field, input).ok_or(crate::Error::Invalid(errors))
}

/// Declares a form as the browser posts it, and the names of its fields.
///
/// ```
/// ops::form! {
///     /// The declare form.
///     pub struct ExampleForm / ExampleFields {
///         summary: String,
///         tenants: Vec<String>,
///     }
/// }
/// assert_eq!(ExampleForm::FIELDS.summary, "summary");
/// let form = ExampleForm { summary: "Orders stuck".into(), ..Default::default() };
/// assert!(form.tenants.is_empty());
/// ```
///
/// Every field defaults when absent (an unticked checkbox sends nothing). `ExampleFields` holds each
/// field's name as a `&'static str`; misspelling one is a compile error, not a message lost on the page.
#[macro_export]
macro_rules! form {
    ($(#[$meta:meta])* $vis:vis struct $name:ident / $fields:ident {
        $($(#[$fmeta:meta])* $field:ident : $ty:ty),* $(,)?
    }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(default)]
        $vis struct $name {
            $($(#[$fmeta])* pub $field: $ty),*
        }

        #[doc = concat!("The field names of [`", stringify!($name), "`], spelled once.")]
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis struct $fields {
            $(pub $field: &'static str),*
        }

        impl $name {
            /// The names of this form's fields, as the page writes them and field errors key them.
            pub const FIELDS: $fields = $fields { $($field: stringify!($field)),* };
        }
    };
}

/// What is wrong with a form, field by field (field name → message), so the page can show each message at
/// its field. The field names are those of the form structs [`form!`](crate::form!) declares
/// (`DeclareForm::FIELDS.summary` → `"summary"`), so a message lands at the field the page drew.
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

    crate::form! {
        struct Probe / ProbeFields { summary: String, tenants: Vec<String> }
    }

    #[test]
    fn a_declared_form_names_its_fields_and_defaults_what_was_not_sent() {
        assert_eq!(Probe::FIELDS, ProbeFields { summary: "summary", tenants: "tenants" });
        let form: Probe = serde_json::from_str(r#"{"summary":"x"}"#).unwrap();
        assert_eq!(form, Probe { summary: "x".into(), tenants: vec![] });
    }
}
