//! The mitigation switch the projection consumer honours: `ops.platform_control` row
//! `PAUSE_CONSUMER:<group>` (control type PAUSE_CONSUMER, target = the group).

use sqlx::PgPool;

/// Control type of consumer pause switches.
pub const PAUSE_CONSUMER: &str = "PAUSE_CONSUMER";

/// The control key of `group`'s pause switch: `PAUSE_CONSUMER:<group>`.
pub fn pause_key(group: &str) -> String {
    format!("{PAUSE_CONSUMER}:{group}")
}

/// True while `group`'s pause switch is on.
pub async fn consumer_paused(pool: &PgPool, group: &str) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (
           select 1 from ops.platform_control
           where control_key = $1 and control_type = $2 and target = $3 and enabled
         )",
    )
    .bind(pause_key(group))
    .bind(PAUSE_CONSUMER)
    .bind(group)
    .fetch_one(pool)
    .await
}
