//! Database access: the pool and the one ordered set of migrations for every schema.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;

/// Every schema's migrations (`migrations/` at the workspace root), embedded at build time.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// Connects lazily-checked: fails fast (5 s) when PostgreSQL is unreachable rather than hanging.
pub async fn connect(url: &str, max_connections: u32) -> crate::Result<PgPool> {
    let options: PgConnectOptions = url.parse()?;
    let pool = PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options.application_name("opsdeck"))
        .await?;
    Ok(pool)
}

/// A pool that connects on first use. A long-running server starts (and reports PostgreSQL as down on
/// its readiness endpoint) rather than exiting when the database is briefly unreachable at start-up.
pub fn connect_lazy(url: &str, max_connections: u32) -> crate::Result<PgPool> {
    let options: PgConnectOptions = url.parse()?;
    Ok(PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_lazy_with(options.application_name("opsdeck")))
}

pub async fn migrate(pool: &PgPool) -> crate::Result<()> {
    MIGRATOR.run(pool).await?;
    Ok(())
}
