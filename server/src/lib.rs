//! The opsdeck server: configuration, telemetry, identity at the edge (sign-in, sessions, service tokens,
//! CSRF), the HTTP router (console pages, internal API, health, metrics) and the command-line subcommands
//! (`serve`, `migrate`, `seed`).
//!
//! [`Application`] is constructible from a pool and a [`Config`], so black-box tests spawn the same app the
//! binary runs, on port 0 with a database of their own.

pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod platform_cmd;
pub mod routes;
pub mod secret;
pub mod startup;
pub mod telemetry;

pub use config::Config;
pub use error::{Error, Result};
pub use startup::{AppState, Application};
