//! Orders stuck in a non-terminal status (lesson §8, alert `orders_stuck`): what an engine incident, a
//! stuck outbox or a stopped consumer ends up costing customers.

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use serde::Serialize;
use sqlx::PgConnection;

use super::panel::{Status, Verdict};

pub const RUNBOOK: &str = "stuck-order.md";

/// One tenant's orders stuck in one status.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct StuckOrders {
    pub tenant_id: TenantId,
    pub slug: String,
    pub status: String,
    pub orders: i64,
    pub oldest_updated_at: DateTime<Utc>,
    pub oldest_age_seconds: f64,
}

/// Non-terminal orders not updated for `after`, per tenant (of `tenants`, all when `None`) and status.
pub async fn stuck_orders(
    db: &mut PgConnection,
    tenants: Option<&[TenantId]>,
    after: Duration,
) -> sqlx::Result<Vec<StuckOrders>> {
    // ix_sales_order_active_updated: the non-terminal orders by last update.
    sqlx::query_as(
        "select o.tenant_id, t.slug, o.status, count(*) as orders, min(o.updated_at) as oldest_updated_at,
                extract(epoch from now() - min(o.updated_at))::float8 as oldest_age_seconds
         from oms.sales_order o join platform.tenant t on t.tenant_id = o.tenant_id
         where o.status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED')
           and o.updated_at < now() - make_interval(secs => $2)
           and ($1::uuid[] is null or o.tenant_id = any($1))
         group by o.tenant_id, t.slug, o.status
         order by min(o.updated_at)",
    )
    .bind(tenants.map(|t| t.iter().map(|t| t.as_uuid()).collect::<Vec<_>>()))
    .bind(after.as_secs_f64())
    .fetch_all(db)
    .await
}

/// `orders_stuck`: any stuck order is an error.
pub fn verdict(stuck: &[StuckOrders], after: Duration) -> Verdict {
    let total: i64 = stuck.iter().map(|s| s.orders).sum();
    match stuck.first() {
        None => Verdict::ok("No order stuck.", RUNBOOK),
        Some(oldest) => Verdict::new(
            Status::Err,
            format!(
                "{total} order(s) not updated for over {} min; the oldest in {} ({}) for {:.0} min",
                after.as_secs() / 60,
                oldest.status,
                oldest.slug,
                oldest.oldest_age_seconds / 60.0
            ),
            "Find each order's stuck boundary (orchestration start, engine incident, outbox, projection) before any \
             repair; resume orchestration only through the governed repair.",
            RUNBOOK,
        ),
    }
}
