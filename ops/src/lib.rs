//! The console's domain: incidents, triage, comms, repairs, approvals, reconciliation, drills, audit and
//! diagnostics. It knows nothing of HTTP or Leptos; the server wires it to the outside world.
//!
//! Every change and every scoped read goes through [`command::run`] / [`command::read`]: one place
//! authorises, runs the body in one transaction and writes the audit line.

pub mod access;
pub mod audit;
pub mod checklist;
pub mod command;
pub mod dashboard;
pub mod drill;
pub mod control;
pub mod diagnostics;
pub mod error;
pub mod form;
pub mod health;
pub mod identity;
pub mod ids;
pub mod incident;
pub mod order360;
pub mod orders;
pub mod reconcile;
pub mod release;
pub mod repair;
pub mod runbook;
pub mod tenants;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use error::{Error, ErrorKind, Result};
