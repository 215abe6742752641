//! The console's domain: incidents, triage, comms, repairs, approvals, reconciliation, drills, audit and
//! diagnostics. It knows nothing of HTTP or Leptos; the server wires it to the outside world.

pub mod audit;
pub mod health;
pub mod identity;
