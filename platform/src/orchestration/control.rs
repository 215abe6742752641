//! The mitigation switch orchestration starts honour: `ops.platform_control` type PAUSE_ORCHESTRATION_STARTS.

use sqlx::PgPool;

use crate::ids::TenantId;

pub const PAUSE_ORCHESTRATION_STARTS: &str = "PAUSE_ORCHESTRATION_STARTS";

/// True while a PAUSE_ORCHESTRATION_STARTS switch is on for every tenant (no tenant) or for `tenant`.
/// Read on every start, so a change takes effect with the next one.
pub async fn orchestration_starts_paused(pool: &PgPool, tenant: TenantId) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (
           select 1 from ops.platform_control
           where control_type = $1 and enabled and (tenant_id is null or tenant_id = $2)
         )",
    )
    .bind(PAUSE_ORCHESTRATION_STARTS)
    .bind(tenant)
    .fetch_one(pool)
    .await
}
