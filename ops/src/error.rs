//! The ops crate's one error type. Variants carry data, never HTTP status codes: each has an
//! [`ErrorKind`], and the console maps a kind to a status in one place (`app::error::status`), for pages,
//! forms and the internal API alike.
//!
//! What each kind leaves behind (the command runner, [`crate::command`], sees to it):
//!
//! | kind | example | evidence |
//! |---|---|---|
//! | [`ErrorKind::Invalid`] | a reason of five characters | nothing: the person corrects the field |
//! | [`ErrorKind::NotAllowed`] | a viewer declaring, an operator of acme acting on globex | a REFUSED audit line |
//! | [`ErrorKind::Rule`] | closing a SEV1 without its review; cancelling a FULFILLED order | a REFUSED audit line |
//! | [`ErrorKind::Stale`] | a form rendered before someone else saved | nothing: reload and apply again |
//! | [`ErrorKind::NotFound`] | an incident id that does not exist | nothing |
//! | [`ErrorKind::Unavailable`] | PostgreSQL or the process engine not answering | a FAILED audit line when PostgreSQL is up |
//! | [`ErrorKind::Internal`] | a bug | a FAILED audit line; logged in full, shown as "internal error" |

use crate::command::Refused;
use crate::form::FieldErrors;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input, field by field. Nothing was written.
    #[error("invalid input: {0}")]
    Invalid(FieldErrors),

    /// The actor's role, token scope or tenant scope does not allow the command; already audited.
    #[error(transparent)]
    Refused(#[from] Refused),

    /// A rule of the domain refused the command: a state machine (an order in FULFILLED cannot CANCEL), a
    /// closed incident, a review not complete. `missing` lists what still stands in the way, when the rule
    /// can say. Audited as REFUSED.
    #[error("refused: {reason}{}", if missing.is_empty() { String::new() } else { format!(": {}", missing.join("; ")) })]
    Rule { reason: String, missing: Vec<String> },

    /// The form or request was made from an older version: someone else saved meanwhile. Nothing was
    /// written. `found` is `None` when the entity moved on between reading and writing.
    #[error("someone else saved this {entity} meanwhile (your form shows version {expected}{}); reload it and apply your change again", found.map(|f| format!(", it is now at version {f}")).unwrap_or_default())]
    Stale { entity: &'static str, id: String, expected: i64, found: Option<i64> },

    /// Not there (or, for a query, not visible: its existence does not leak).
    #[error("{entity} {id} not found")]
    NotFound { entity: &'static str, id: String },

    /// A dependency the command needs does not answer (the process engine, Kafka). Nothing was changed.
    #[error("{dependency} is unavailable: {detail}")]
    Unavailable { dependency: &'static str, detail: String },

    #[error(transparent)]
    Database(#[from] sqlx::Error),

    /// Something that should not happen; logged in full, shown as "internal error".
    #[error("{0}")]
    Internal(String),
}

/// What kind of failure an [`Error`] is: what decides the HTTP status and what the runner records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    Invalid,
    NotAllowed,
    Rule,
    Stale,
    NotFound,
    Unavailable,
    Internal,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Invalid => "INVALID",
            ErrorKind::NotAllowed => "NOT_ALLOWED",
            ErrorKind::Rule => "RULE",
            ErrorKind::Stale => "STALE",
            ErrorKind::NotFound => "NOT_FOUND",
            ErrorKind::Unavailable => "UNAVAILABLE",
            ErrorKind::Internal => "INTERNAL",
        }
    }
}

impl Error {
    pub fn rule(reason: impl Into<String>) -> Self {
        Error::Rule { reason: reason.into(), missing: Vec::new() }
    }

    pub fn not_found(entity: &'static str, id: impl ToString) -> Self {
        Error::NotFound { entity, id: id.to_string() }
    }

    /// One field's message.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid(FieldErrors::single(field, message))
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Invalid(_) => ErrorKind::Invalid,
            Error::Refused(_) => ErrorKind::NotAllowed,
            Error::Rule { .. } => ErrorKind::Rule,
            Error::Stale { .. } => ErrorKind::Stale,
            Error::NotFound { .. } => ErrorKind::NotFound,
            Error::Unavailable { .. } => ErrorKind::Unavailable,
            Error::Database(e) if is_connection_failure(e) => ErrorKind::Unavailable,
            Error::Database(_) | Error::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The refusal, when this is one.
    pub fn refused(&self) -> Option<&Refused> {
        match self {
            Error::Refused(refused) => Some(refused),
            _ => None,
        }
    }

    /// The per-field messages, when the error is about input.
    pub fn field_errors(&self) -> Option<&FieldErrors> {
        match self {
            Error::Invalid(errors) => Some(errors),
            _ => None,
        }
    }

    /// What a person may be told: domain errors explain themselves; internal detail (SQL, I/O) never
    /// leaves the server.
    pub fn public_message(&self) -> String {
        match self.kind() {
            ErrorKind::Internal => {
                "Something went wrong on our side. The error has been logged; please try again.".to_string()
            }
            ErrorKind::Unavailable if matches!(self, Error::Database(_)) => {
                "PostgreSQL is not answering, so the console cannot reach the system of record right now. Try \
                 again shortly; /readyz shows the state of each dependency."
                    .to_string()
            }
            ErrorKind::Invalid => "Please correct the highlighted fields; nothing was saved.".to_string(),
            _ => self.to_string(),
        }
    }
}

impl From<FieldErrors> for Error {
    fn from(errors: FieldErrors) -> Self {
        Error::Invalid(errors)
    }
}

/// The platform's errors, as the console tells them: a state machine's refusal is a rule, a lost optimistic
/// lock is a stale version, a unique constraint is a rule ("already exists").
impl From<platform::Error> for Error {
    fn from(error: platform::Error) -> Self {
        match error {
            platform::Error::NotFound { entity, id } => Error::NotFound { entity: entity.as_str(), id },
            platform::Error::Refused { reason } => Error::rule(reason),
            platform::Error::Conflict { entity, id, expected, found } => {
                Error::Stale { entity: entity.as_str(), id, expected, found: (found >= 0).then_some(found) }
            }
            platform::Error::AlreadyExists { constraint } => Error::rule(format!("already exists ({constraint})")),
            platform::Error::Invalid { field, message } => Error::invalid(field, message),
            platform::Error::Database(e) => Error::Database(e),
            platform::Error::Migrate(e) => Error::Internal(e.to_string()),
        }
    }
}

/// Connection-level failures (no pool connection, I/O, server shutting down) as opposed to a bad query.
pub fn is_connection_failure(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        // SQLSTATE class 08: connection exception; 57P0x: admin shutdown, crash shutdown, cannot connect now.
        sqlx::Error::Database(e) => e.code().is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stale_form_says_someone_else_saved_meanwhile() {
        let err = Error::Stale { entity: "incident", id: "x".into(), expected: 3, found: Some(4) };
        assert_eq!(
            err.to_string(),
            "someone else saved this incident meanwhile (your form shows version 3, it is now at version 4); reload \
             it and apply your change again"
        );
        assert_eq!(err.kind(), ErrorKind::Stale);
    }

    #[test]
    fn platform_errors_keep_their_kind() {
        let refused: Error = platform::Error::refused("order in FULFILLED cannot CANCEL (it is terminal)").into();
        assert_eq!(refused.kind(), ErrorKind::Rule);
        assert_eq!(refused.to_string(), "refused: order in FULFILLED cannot CANCEL (it is terminal)");
        let invalid: Error = platform::Error::Invalid { field: "lines", message: "empty".into() }.into();
        assert_eq!(invalid.field_errors().and_then(|f| f.get("lines")), Some("empty"));
        assert_eq!(Error::Database(sqlx::Error::PoolTimedOut).kind(), ErrorKind::Unavailable);
        assert_eq!(Error::Database(sqlx::Error::RowNotFound).kind(), ErrorKind::Internal);
    }

    #[test]
    fn a_rule_lists_what_is_missing() {
        let err = Error::Rule { reason: "the incident cannot close yet".into(), missing: vec!["a".into(), "b".into()] };
        assert_eq!(err.to_string(), "refused: the incident cannot close yet: a; b");
    }

    #[test]
    fn internal_detail_is_not_for_people() {
        let err = Error::Database(sqlx::Error::Protocol("relation oms.secret".into()));
        assert!(!err.public_message().contains("oms.secret"));
    }
}
