//! Black-box tests of the console: each spawns the real application on port 0, over a database of its own
//! (`#[sqlx::test]` creates and migrates one per test), and talks to it over HTTP. People sign in through
//! the service stack's Keycloak, by its real login form; there is no other way in.

mod access;
mod alerts;
mod admin;
mod checklists;
mod controls;
mod csrf;
mod dashboards;
mod diagnostics;
mod drills;
mod escape;
mod health;
mod helpers;
mod hostile;
mod incidents;
mod local_idp;
mod orders;
mod reconciliation;
mod repair_api;
mod repairs;
mod runbooks;
mod service_tokens;
mod sign_in;
