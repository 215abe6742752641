//! The console's domain: incidents, triage, comms, repairs, approvals, reconciliation, drills, audit and
//! diagnostics. It knows nothing of HTTP or Leptos; the server wires it to the outside world.

pub mod access;
pub mod audit;
pub mod command;
pub mod error;
pub mod health;
pub mod identity;
pub mod incident;
pub mod orders;
pub mod tenants;

pub use error::{Error, Result};
