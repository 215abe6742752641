//! Test fixtures: what the platform's integration tests — and the `ops` and `server` tests — would
//! otherwise copy from file to file. A command context ([`ctx`]); quotes, orders, policies and switches
//! made through the platform's own commands ([`approved_quote`], [`captured_order`], [`advance_order`],
//! [`order_journeys`], [`approval_policy`], [`switch`]); the real services' addresses and helpers for
//! them ([`kafka_brokers`], [`engine_url`], [`kafka_reader`], [`delete_topics`], [`spawn_vendor`]);
//! [`wait_until`] and [`count`]; and the state-machine check [`assert_matrix`].
//!
//! Compiled only for this crate's unit tests and with the `testing` feature, never into a release
//! build. Other crates enable it from their dev-dependencies:
//!
//! ```toml
//! [dev-dependencies]
//! platform = { workspace = true, features = ["testing"] }
//! ```
//!
//! This crate's own integration tests (`platform/tests/*.rs`) get it the same way: `platform/Cargo.toml`
//! lists the crate as its own dev-dependency with the feature on, which Cargo allows for
//! dev-dependencies. So `cargo test -p platform` and `cargo test --workspace` both build it, with no flag
//! to remember.
//!
//! Everything here talks to the real PostgreSQL, Kafka, Operaton and vendor, and panics with a message
//! when a step fails: a fixture that cannot set up its world fails the test, it does not hide.

mod business;
mod services;

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use uuid::Uuid;

pub use business::{
    advance_order, approval_policy, approved_quote, captured_order, legacy_duplicate, order_journeys, priced_quote,
    quote_lines, switch, FULFILMENT, QUOTE_TOTAL_MINOR, TENANTS,
};
pub use services::{
    delete_topics, engine_url, kafka_brokers, kafka_reader, kafka_reader_with, quick_projection_config, spawn_vendor, Isolation,
    ServiceOutage,
};

pub use crate::machine::assert_matrix;
use crate::command::CommandContext;

/// The actor fixtures act as.
pub const ACTOR: &str = "test:platform";

/// A command context for tests: [`ACTOR`] with a reason, a fresh correlation id.
pub fn ctx() -> CommandContext {
    CommandContext::new(ACTOR).with_reason("integration test")
}

/// Polls `check` every 25 ms until it holds; panics after `timeout`, saying what it waited for.
pub async fn wait_until<F, Fut>(what: &str, timeout: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + timeout;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out after {timeout:?} waiting until {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// The one `bigint` a query returns (a `count(*)`, usually).
pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// [`count`] with `$1` bound to `id`.
pub async fn count_of(pool: &PgPool, sql: &str, id: impl Into<Uuid>) -> i64 {
    sqlx::query_scalar(sql).bind(id.into()).fetch_one(pool).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}
