//! Parsing form fields: the helpers every `XForY::parse` uses, so each field's message reads the same
//! everywhere. Each helper records what is wrong in [`FieldErrors`] under the field's name and returns
//! what it could make of the input; the caller builds its typed value only when no field is wrong.
//!
//! Times: an RFC 3339 timestamp, or what an HTML `datetime-local` input sends (`2026-11-25T14:30`, seconds
//! optional, a space instead of `T` accepted), read as UTC — the console shows every time in UTC.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use platform::ids::TenantId;
use platform::machine::Named;
use serde::Serialize;

use super::FieldErrors;

/// The longest free text a form field takes (a triage field, a review section).
pub const MAX_TEXT: usize = 4000;
/// The longest one-line text (an owner's name, a capability).
pub const MAX_LINE: usize = 200;

/// A reason given for a lifecycle step or a severity change: at least [`Reason::MIN_CHARS`] characters,
/// so "fixed" is not enough and the timeline says why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Reason(String);

impl Reason {
    pub const MIN_CHARS: usize = 10;

    pub fn parse(errors: &mut FieldErrors, field: &'static str, input: &str) -> Option<Reason> {
        let text = required_text(errors, field, input, MAX_TEXT, "Say why")?;
        if text.chars().count() < Self::MIN_CHARS {
            errors.add(field, format!("Say why in at least {} characters", Self::MIN_CHARS));
            return None;
        }
        Some(Reason(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Control characters other than line breaks and tabs belong in no form field (and PostgreSQL refuses NUL).
fn has_bad_control(text: &str) -> bool {
    text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

/// Trimmed text that must be there; `missing` is the message when it is not (e.g. "Say what is broken").
pub fn required_text(
    errors: &mut FieldErrors,
    field: &'static str,
    input: &str,
    max: usize,
    missing: &str,
) -> Option<String> {
    match optional_text(errors, field, input, max) {
        Some(text) => Some(text),
        None if errors.contains(field) => None,
        None => {
            errors.add(field, missing);
            None
        }
    }
}

/// Trimmed text, `None` when blank.
pub fn optional_text(errors: &mut FieldErrors, field: &'static str, input: &str, max: usize) -> Option<String> {
    let text = input.trim();
    if text.is_empty() {
        return None;
    }
    if has_bad_control(text) {
        errors.add(field, "Remove the control characters");
        return None;
    }
    let len = text.chars().count();
    if len > max {
        errors.add(field, format!("At most {max} characters (this is {len})"));
        return None;
    }
    Some(text.to_string())
}

/// One of a closed set of names (as spelled, or in capitals: `sev2` is SEV2); `what` names the choice in
/// the message ("a severity").
pub fn choice<T: Named>(errors: &mut FieldErrors, field: &'static str, input: &str, what: &str) -> Option<T> {
    let name = input.trim();
    if name.is_empty() {
        errors.add(field, format!("Choose {what}"));
        return None;
    }
    match T::parse_name(name).or_else(|| T::parse_name(&name.to_ascii_uppercase())) {
        Some(value) => Some(value),
        None => {
            let allowed: Vec<&str> = T::ALL.iter().map(|v| v.name()).collect();
            errors.add(field, format!("Choose {what}: one of {}", allowed.join(", ")));
            None
        }
    }
}

/// An optional choice: blank is `None`.
pub fn optional_choice<T: Named>(errors: &mut FieldErrors, field: &'static str, input: &str, what: &str) -> Option<T> {
    if input.trim().is_empty() {
        None
    } else {
        choice(errors, field, input, what)
    }
}

/// Parses a time as the console accepts it (see the module doc). Pure: no field errors.
pub fn parse_time(input: &str) -> Option<DateTime<Utc>> {
    let text = input.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    let text = text.trim_end_matches('Z').replace(' ', "T");
    ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"]
        .iter()
        .find_map(|fmt| NaiveDateTime::parse_from_str(&text, fmt).ok())
        .map(|t| t.and_utc())
}

/// An optional time that may not lie in the future (when something was detected, last seen good, ...).
pub fn optional_past_time(
    errors: &mut FieldErrors,
    field: &'static str,
    input: &str,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let time = optional_time(errors, field, input)?;
    // A minute's grace for clocks and for a form filled in "now".
    if time > now + chrono::TimeDelta::minutes(1) {
        errors.add(field, "This time is in the future");
        return None;
    }
    Some(time)
}

/// An optional time (UTC).
pub fn optional_time(errors: &mut FieldErrors, field: &'static str, input: &str) -> Option<DateTime<Utc>> {
    if input.trim().is_empty() {
        return None;
    }
    let time = parse_time(input);
    if time.is_none() {
        errors.add(field, "Enter a date and time such as 2026-11-25T14:30 (UTC)");
    }
    time
}

/// An optional calendar date (`YYYY-MM-DD`, what an HTML `date` input sends).
pub fn optional_date(errors: &mut FieldErrors, field: &'static str, input: &str) -> Option<NaiveDate> {
    let text = input.trim();
    if text.is_empty() {
        return None;
    }
    match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        Ok(date) => Some(date),
        Err(_) => {
            errors.add(field, "Enter a date such as 2026-12-31");
            None
        }
    }
}

/// The version a form was rendered with (a hidden field): what the command compares with the stored one.
pub fn version(errors: &mut FieldErrors, field: &'static str, input: &str) -> Option<i64> {
    match input.trim().parse::<i64>() {
        Ok(v) if v >= 0 => Some(v),
        _ => {
            errors.add(field, "The form lost its version; reload the page and apply your change again");
            None
        }
    }
}

/// An optional version (blank: the form was rendered before there was anything to version).
pub fn optional_version(errors: &mut FieldErrors, field: &'static str, input: &str) -> Option<Option<i64>> {
    if input.trim().is_empty() {
        return Some(None);
    }
    version(errors, field, input).map(Some)
}

/// A checkbox: HTML sends its value ("on") when ticked and nothing when not.
pub fn checkbox(input: Option<&str>) -> bool {
    matches!(input.map(|v| v.trim().to_ascii_lowercase()).as_deref(), Some("on" | "true" | "1" | "yes"))
}

/// Tenant ids, one per input value (checkboxes or a multi-select), blanks ignored.
pub fn tenant_ids(errors: &mut FieldErrors, field: &'static str, inputs: &[String]) -> BTreeSet<TenantId> {
    let mut ids = BTreeSet::new();
    for input in inputs.iter().flat_map(|v| split_list(v)) {
        match TenantId::parse(input) {
            Ok(id) => {
                ids.insert(id);
            }
            Err(_) => errors.add(field, format!("{:?} is not a tenant id", shorten(input))),
        }
    }
    ids
}

/// Ids typed into a text area: separated by spaces, commas, semicolons or line breaks; duplicates dropped,
/// first-seen order kept.
pub fn id_list<T: Copy + PartialEq>(
    errors: &mut FieldErrors,
    field: &'static str,
    input: &str,
    what: &str,
    parse: impl Fn(&str) -> Option<T>,
) -> Vec<T> {
    let mut ids = Vec::new();
    let mut bad = Vec::new();
    for token in split_list(input) {
        match parse(token) {
            Some(id) if !ids.contains(&id) => ids.push(id),
            Some(_) => {}
            None => bad.push(format!("{:?}", shorten(token))),
        }
    }
    if !bad.is_empty() {
        errors.add(field, format!("Not {what}: {}", bad.join(", ")));
    }
    ids
}

fn split_list(input: &str) -> impl Iterator<Item = &str> {
    input.split(|c: char| c.is_whitespace() || c == ',' || c == ';').filter(|t| !t.is_empty())
}

fn shorten(input: &str) -> String {
    input.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::model::Severity;

    #[test]
    fn times_are_read_as_utc_from_what_browsers_send() {
        let want = "2026-11-25T14:30:00Z".parse::<DateTime<Utc>>().unwrap();
        for input in [
            "2026-11-25T14:30",
            "2026-11-25 14:30",
            "2026-11-25T14:30:00",
            "2026-11-25T14:30:00Z",
            "2026-11-25T15:30:00+01:00",
        ] {
            assert_eq!(parse_time(input), Some(want), "{input}");
        }
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn a_choice_names_what_is_allowed() {
        let mut errors = FieldErrors::new();
        assert_eq!(choice::<Severity>(&mut errors, "severity", " sev2 ", "a severity"), Some(Severity::Sev2));
        assert_eq!(choice::<Severity>(&mut errors, "severity", "SEV9", "a severity"), None);
        assert_eq!(errors.get("severity"), Some("Choose a severity: one of SEV1, SEV2, SEV3, SEV4"));
    }

    #[test]
    fn text_is_trimmed_bounded_and_free_of_control_characters() {
        let mut errors = FieldErrors::new();
        assert_eq!(optional_text(&mut errors, "a", "  hi  ", 10), Some("hi".into()));
        assert_eq!(optional_text(&mut errors, "b", "   ", 10), None);
        assert_eq!(optional_text(&mut errors, "c", "0123456789x", 10), None);
        assert_eq!(optional_text(&mut errors, "d", "nul\0byte", 10), None);
        assert_eq!(required_text(&mut errors, "e", "", 10, "Say what"), None);
        assert_eq!(errors.get("c"), Some("At most 10 characters (this is 11)"));
        assert_eq!(errors.get("d"), Some("Remove the control characters"));
        assert_eq!(errors.get("e"), Some("Say what"));
        assert!(!errors.contains("b"));
    }

    #[test]
    fn id_lists_split_on_separators_and_report_every_bad_token() {
        let mut errors = FieldErrors::new();
        let a = "10000000-0000-4000-8000-000000000001";
        let ids = id_list(&mut errors, "order_ids", &format!("{a}, {a}\nSO-1 ;nope"), "order ids", |t| {
            uuid::Uuid::parse_str(t).ok()
        });
        assert_eq!(ids.len(), 1);
        assert_eq!(errors.get("order_ids"), Some("Not order ids: \"SO-1\", \"nope\""));
    }

    #[test]
    fn a_reason_needs_ten_characters() {
        let mut errors = FieldErrors::new();
        assert!(Reason::parse(&mut errors, "reason", "fixed").is_none());
        assert_eq!(errors.get("reason"), Some("Say why in at least 10 characters"));
        assert!(Reason::parse(&mut FieldErrors::new(), "reason", "relay restarted, backlog drained").is_some());
    }
}

/// An optional incident reference: blank is none; anything else must be an incident id (`invalid` says
/// what is wrong at the field).
pub fn optional_incident(
    errors: &mut FieldErrors,
    field: &'static str,
    input: &str,
    invalid: &str,
) -> Option<crate::ids::IncidentId> {
    match input.trim() {
        "" => None,
        text => match crate::ids::IncidentId::parse(text) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.add(field, invalid);
                None
            }
        },
    }
}
