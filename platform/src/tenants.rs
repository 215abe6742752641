//! The platform's tenants. The first four have fixed ids: the identity provider's demo realm scopes its
//! users to them (`end2end/keycloak/opsdeck-realm.json`), and the seed always creates them.

use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::ids::TenantId;

pub const ACME: TenantId = TenantId::from_uuid(Uuid::from_u128(0x10000000_0000_4000_8000_000000000001));
pub const GLOBEX: TenantId = TenantId::from_uuid(Uuid::from_u128(0x10000000_0000_4000_8000_000000000002));
pub const INITECH: TenantId = TenantId::from_uuid(Uuid::from_u128(0x10000000_0000_4000_8000_000000000003));
pub const UMBRELLA: TenantId = TenantId::from_uuid(Uuid::from_u128(0x10000000_0000_4000_8000_000000000004));

/// (id, slug, name, tier) of the well-known tenants.
pub const WELL_KNOWN: [(TenantId, &str, &str, &str); 4] = [
    (ACME, "acme", "Acme Corporation", "ENTERPRISE"),
    (GLOBEX, "globex", "Globex", "ENTERPRISE"),
    (INITECH, "initech", "Initech", "STANDARD"),
    (UMBRELLA, "umbrella", "Umbrella Retail", "TRIAL"),
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Tenant {
    pub tenant_id: TenantId,
    pub slug: String,
    pub name: String,
    pub tier: String,
}

pub async fn list<'e>(db: impl PgExecutor<'e>) -> crate::Result<Vec<Tenant>> {
    Ok(sqlx::query_as::<_, Tenant>("select tenant_id, slug, name, tier from platform.tenant order by slug")
        .fetch_all(db)
        .await?)
}

/// Creates the well-known tenants if they are missing (idempotent).
pub async fn ensure_well_known<'e>(db: impl PgExecutor<'e> + Copy) -> crate::Result<()> {
    for (id, slug, name, tier) in WELL_KNOWN {
        sqlx::query(
            "insert into platform.tenant (tenant_id, slug, name, tier) values ($1, $2, $3, $4)
             on conflict (tenant_id) do nothing",
        )
        .bind(id)
        .bind(slug)
        .bind(name)
        .bind(tier)
        .execute(db)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_ids_match_the_identity_realm() {
        assert_eq!(ACME.to_string(), "10000000-0000-4000-8000-000000000001");
        assert_eq!(UMBRELLA.to_string(), "10000000-0000-4000-8000-000000000004");
    }
}
