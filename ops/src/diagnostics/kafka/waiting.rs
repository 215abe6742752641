//! Lag in business terms: orders whose latest event the relay has published but the projection
//! (`oms.order_projection`) has not applied yet — what a customer looking at an order list would miss.
//!
//! Only the orders changed in the last day ([`WINDOW`]) are compared: this is asked every diagnostics round,
//! and its cost must follow what is changing, not the number of orders (comparing every order with its
//! projection took 1.2 s at 1M orders). An order left unprojected for longer is the kafka-projection
//! reconciliation check's mismatch, and a consumer stopped that long is already STOP in the lag
//! evaluation.

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use serde::Serialize;
use sqlx::PgConnection;

/// How far back orders are compared with their projection.
pub const WINDOW: std::time::Duration = std::time::Duration::from_secs(24 * 60 * 60);

/// One tenant's orders waiting for the projection.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow)]
pub struct WaitingOrders {
    pub tenant_id: TenantId,
    pub slug: String,
    pub orders: i64,
    /// When the oldest of their unprojected events was published.
    pub oldest_published_at: DateTime<Utc>,
    pub oldest_age_seconds: f64,
}

/// Per tenant (of `tenants`, or all when `None`), largest wait first.
pub async fn waiting_orders(db: &mut PgConnection, tenants: Option<&[TenantId]>) -> sqlx::Result<Vec<WaitingOrders>> {
    // The orders changed within the window (ix_sales_order_updated), each probing its projection row
    // (order_projection_pkey: a probe per order, not a hash of every projection) and then
    // ix_outbox_aggregate for the first published event the projection has not applied (`offset 0` keeps
    // the subquery whole, so the projection is probed once per order, not once per use of its version).
    sqlx::query_as(
        "select o.tenant_id, t.slug, count(*) as orders, min(e.published_at) as oldest_published_at,
                extract(epoch from now() - min(e.published_at))::float8 as oldest_age_seconds
         from (select o.order_id, o.tenant_id, o.version,
                      coalesce((select p.aggregate_version from oms.order_projection p where p.order_id = o.order_id), 0) as projected
               from oms.sales_order o
               where o.updated_at > now() - make_interval(secs => $2)
                 and ($1::uuid[] is null or o.tenant_id = any($1))
               offset 0) o
         join platform.tenant t on t.tenant_id = o.tenant_id
         cross join lateral (
           select e.published_at from messaging.outbox_event e
           where e.aggregate_id = o.order_id and e.aggregate_type = 'order' and e.status = 'PUBLISHED'
             and e.aggregate_version > o.projected
           order by e.aggregate_version
           limit 1
         ) e
         where o.projected < o.version
         group by o.tenant_id, t.slug
         order by min(e.published_at), t.slug",
    )
    .bind(tenants.map(|t| t.iter().map(|t| t.as_uuid()).collect::<Vec<_>>()))
    .bind(WINDOW.as_secs_f64())
    .fetch_all(db)
    .await
}
