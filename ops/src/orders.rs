//! Reading orders, as the console's commands do: authorised first (role and tenant scope), then the
//! platform's query. Every way to an order — the Orders page, its permalink, the internal API — comes
//! through here, so editing a tenant id in a URL meets the same check as choosing it in a form.

use platform::ids::TenantId;
use platform::query::{OrderDetail, OrderLookup};
use sqlx::PgPool;

use crate::command::{read, Action, Envelope};
use crate::error::Result;
use crate::identity::Actor;

/// One order of one tenant with all its parts, if the actor may read that tenant's orders (refused and
/// audited otherwise); `None` when the tenant has no such order.
#[tracing::instrument(skip(pool, actor), fields(actor = %actor.subject, %tenant_id, lookup = %lookup))]
pub async fn order_detail(
    pool: &PgPool,
    actor: &Actor,
    tenant_id: TenantId,
    lookup: &OrderLookup,
) -> Result<Option<OrderDetail>> {
    let mut envelope = Envelope::new(actor, Action::OrderRead).tenant(tenant_id);
    if let OrderLookup::Id(id) = lookup {
        envelope = envelope.entity("ORDER", *id);
    }
    read(pool, envelope, async |cx| Ok(platform::query::order_detail(cx.db(), tenant_id, lookup).await?)).await
}
