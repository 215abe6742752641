//! The tenants an actor may see: what a tenant picker offers and what "who am I" lists.

use platform::tenants::Tenant;
use sqlx::PgPool;

use crate::command::{read, Action, Envelope};
use crate::error::Result;
use crate::identity::Actor;

/// The tenants in the actor's scope, by slug. Nothing of the others is returned, not even their names.
#[tracing::instrument(skip(pool, actor), fields(actor = %actor.subject))]
pub async fn visible(pool: &PgPool, actor: &Actor) -> Result<Vec<Tenant>> {
    read(pool, Envelope::new(actor, Action::TenantList), async |cx| {
        let tenants = platform::tenants::list(cx.db()).await?;
        Ok(tenants.into_iter().filter(|t| actor.can_see_tenant(t.tenant_id)).collect())
    })
    .await
}
