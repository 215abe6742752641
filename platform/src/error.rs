//! One error type for the platform crate. Variants carry data, never HTTP status codes.

use crate::ids::EntityKind;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{entity} {id} not found")]
    NotFound { entity: EntityKind, id: String },

    /// A state machine or invariant refused the command.
    #[error("refused: {reason}")]
    Refused { reason: String },

    /// Optimistic locking: someone else changed the entity since it was read.
    #[error("{entity} {id} changed meanwhile (expected version {expected}, found {found})")]
    Conflict { entity: EntityKind, id: String, expected: i64, found: i64 },

    /// A unique constraint said the thing already exists (e.g. a second order for one quote).
    #[error("already exists: {constraint}")]
    AlreadyExists { constraint: String },

    #[error("invalid {field}: {message}")]
    Invalid { field: &'static str, message: String },

    #[error(transparent)]
    Database(#[from] sqlx::Error),

    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl Error {
    pub fn refused(reason: impl Into<String>) -> Self {
        Error::Refused { reason: reason.into() }
    }

    /// Turns a unique violation into [`Error::AlreadyExists`] naming the constraint; other errors pass.
    pub fn from_db(err: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &err {
            if db.is_unique_violation() {
                return Error::AlreadyExists { constraint: db.constraint().unwrap_or("unique").to_string() };
            }
        }
        Error::Database(err)
    }
}
