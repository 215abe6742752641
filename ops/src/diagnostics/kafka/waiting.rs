//! Lag in business terms: orders whose latest event the relay has published but the projection
//! (`oms.order_projection`) has not applied yet — what a customer looking at an order list would miss.

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use serde::Serialize;
use sqlx::PgConnection;

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
    // The outer scan compares every order with its projection row; the lateral probes
    // ix_outbox_aggregate for the first published event the projection has not applied.
    sqlx::query_as(
        "select o.tenant_id, t.slug, count(*) as orders, min(e.published_at) as oldest_published_at,
                extract(epoch from now() - min(e.published_at))::float8 as oldest_age_seconds
         from oms.sales_order o
         join platform.tenant t on t.tenant_id = o.tenant_id
         left join oms.order_projection p on p.order_id = o.order_id
         cross join lateral (
           select e.published_at from messaging.outbox_event e
           where e.aggregate_id = o.order_id and e.aggregate_type = 'order' and e.status = 'PUBLISHED'
             and e.aggregate_version > coalesce(p.aggregate_version, 0)
           order by e.aggregate_version
           limit 1
         ) e
         where coalesce(p.aggregate_version, 0) < o.version
           and ($1::uuid[] is null or o.tenant_id = any($1))
         group by o.tenant_id, t.slug
         order by min(e.published_at), t.slug",
    )
    .bind(tenants.map(|t| t.iter().map(|t| t.as_uuid()).collect::<Vec<_>>()))
    .fetch_all(db)
    .await
}
