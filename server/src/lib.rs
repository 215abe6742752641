//! The opsdeck server: configuration, telemetry, the HTTP router (console pages, health, metrics) and the
//! command-line subcommands (`serve`, `migrate`, `seed`).
//!
//! [`Application`] is constructible from a pool and a [`Config`], so black-box tests spawn the same app the
//! binary runs, on port 0 with a database of their own.

pub mod cli;
pub mod config;
pub mod error;
pub mod routes;
pub mod secret;
pub mod startup;
pub mod telemetry;

pub use config::Config;
pub use error::{Error, Result};
pub use startup::{AppState, Application};
