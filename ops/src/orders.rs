//! Reading orders, as the console's commands do: authorised first (role and tenant scope), then the
//! platform's query. Every way to an order — the Orders page, its permalink, the internal API — comes
//! through here, so editing a tenant id in a URL meets the same check as choosing it in a form.

use platform::ids::TenantId;
use platform::query::{OrderDetail, OrderLookup};
use sqlx::PgPool;

use crate::command::guard;
use crate::error::Result;
use crate::identity::{Actor, Permission};

/// The audit name of an order read.
pub const READ_ORDER: &str = "READ_ORDER";

/// One order of one tenant with all its parts, if the actor may read that tenant's orders (refused and
/// audited otherwise); `None` when the tenant has no such order.
#[tracing::instrument(skip(pool, actor), fields(actor = %actor.subject, %tenant_id, lookup = %lookup))]
pub async fn order_detail(
    pool: &PgPool,
    actor: &Actor,
    tenant_id: TenantId,
    lookup: &OrderLookup,
) -> Result<Option<OrderDetail>> {
    let entity = match lookup {
        OrderLookup::Id(id) => Some(("ORDER", id.as_uuid())),
        OrderLookup::Number(_) => None,
    };
    guard(pool, actor, Permission::Read, Some(tenant_id), READ_ORDER, entity).await?;
    Ok(platform::query::order_detail(pool, tenant_id, lookup).await?)
}
