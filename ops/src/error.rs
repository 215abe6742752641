//! The ops crate's one error type. Variants carry data, never HTTP status codes: the server maps them to
//! HTTP once (`server::error`), the pages to their notices (`app::error`).

use crate::command::Refused;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The actor may not do this; already written to the audit log.
    #[error(transparent)]
    Refused(#[from] Refused),

    #[error(transparent)]
    Platform(#[from] platform::Error),

    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl Error {
    /// The refusal, when this is one.
    pub fn refused(&self) -> Option<&Refused> {
        match self {
            Error::Refused(refused) => Some(refused),
            _ => None,
        }
    }
}
