//! The tenants an actor may see: what a tenant picker offers and what "who am I" lists.

use platform::tenants::Tenant;
use sqlx::PgPool;

use crate::command::guard;
use crate::error::Result;
use crate::identity::{Actor, Permission};

/// The audit name of listing tenants (refused only to an actor without any role that reads).
pub const VIEW_TENANTS: &str = "VIEW_TENANTS";

/// The tenants in the actor's scope, by slug. Nothing of the others is returned, not even their names.
#[tracing::instrument(skip(pool, actor), fields(actor = %actor.subject))]
pub async fn visible(pool: &PgPool, actor: &Actor) -> Result<Vec<Tenant>> {
    guard(pool, actor, Permission::Read, None, VIEW_TENANTS, None).await?;
    let tenants = platform::tenants::list(pool).await?;
    Ok(tenants.into_iter().filter(|t| actor.can_see_tenant(t.tenant_id)).collect())
}
