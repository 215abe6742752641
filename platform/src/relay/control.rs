//! The mitigation switch the relay honours: `ops.platform_control` row `PAUSE_RELAY`.

use sqlx::PgPool;

/// Control key (and control type) of the switch that stops every relay from claiming.
pub const PAUSE_RELAY: &str = "PAUSE_RELAY";

/// True while the PAUSE_RELAY switch is on. Read before every claim, so a change takes effect within
/// one poll interval (or one batch, if a batch is in flight).
pub async fn relay_paused(pool: &PgPool) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (
           select 1 from ops.platform_control
           where control_key = $1 and control_type = $1 and enabled
         )",
    )
    .bind(PAUSE_RELAY)
    .fetch_one(pool)
    .await
}
