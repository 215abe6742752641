//! A value that must never be logged or serialized: database URLs with passwords, client secrets.

use std::fmt;

use serde::Deserialize;

/// Prints as `***` in `Debug` and has no `Display` and no `Serialize`, so a config struct holding it can be
/// logged whole. Read it with [`Secret::expose`], only where it is used.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_in_debug_output() {
        let secret = Secret::new("postgres://opsdeck:hunter2@db/opsdeck".to_string());
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(***)");
        assert_eq!(secret.expose(), "postgres://opsdeck:hunter2@db/opsdeck");
    }
}
