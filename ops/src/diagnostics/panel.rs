//! What every diagnostics panel is made of: a status, what is wrong and what to do next (the runbook to
//! open), and — when the system behind it does not answer — an `Unavailable` value saying what cannot be
//! seen, instead of an error page.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// How an area is doing. Ordered from best to worst, so the worst panel sorts first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Ok,
    Warn,
    /// The dependency does not answer: the area cannot be judged.
    Unavailable,
    Err,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Unavailable => "UNAVAILABLE",
            Status::Err => "ERR",
        }
    }
}

/// A panel's reading: its status, what is wrong (or that nothing is), what to do next, and the runbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub status: Status,
    pub wrong: String,
    pub next: String,
    /// The runbook's file in `runbooks/`.
    pub runbook: &'static str,
}

impl Verdict {
    pub fn ok(wrong: impl Into<String>, runbook: &'static str) -> Verdict {
        Verdict { status: Status::Ok, wrong: wrong.into(), next: "Nothing to do.".into(), runbook }
    }

    pub fn new(status: Status, wrong: impl Into<String>, next: impl Into<String>, runbook: &'static str) -> Verdict {
        Verdict { status, wrong: wrong.into(), next: next.into(), runbook }
    }

    /// The worse of two readings (the first when equal).
    pub fn worst(self, other: Verdict) -> Verdict {
        if other.status > self.status {
            other
        } else {
            self
        }
    }
}

/// A dependency that does not answer, and what that hides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unavailable {
    /// `kafka`, `engine`, `redis`.
    pub dependency: &'static str,
    /// What cannot be seen or done while it is down.
    pub affected: &'static str,
    /// Why the last attempt failed.
    pub detail: String,
    /// When it was last tried.
    pub checked_at: Option<DateTime<Utc>>,
}

/// A panel's content, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", content = "value", rename_all = "lowercase")]
pub enum Panel<T> {
    Ready(T),
    Unavailable(Unavailable),
}

impl<T> Panel<T> {
    pub fn ready(&self) -> Option<&T> {
        match self {
            Panel::Ready(value) => Some(value),
            Panel::Unavailable(_) => None,
        }
    }

    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Panel<U> {
        match self {
            Panel::Ready(value) => Panel::Ready(f(value)),
            Panel::Unavailable(u) => Panel::Unavailable(u),
        }
    }

    /// The panel's verdict: `judge` of its content, or UNAVAILABLE with what to do.
    pub fn verdict(&self, judge: impl FnOnce(&T) -> Verdict, runbook: &'static str) -> Verdict {
        match self {
            Panel::Ready(value) => judge(value),
            Panel::Unavailable(u) => Verdict::new(
                Status::Unavailable,
                format!("{} does not answer ({}): {}", u.dependency, u.detail, u.affected),
                format!("Restore {}; the rest of the console works without it.", u.dependency),
                runbook,
            ),
        }
    }
}
