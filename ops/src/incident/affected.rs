//! What an incident affects: its tenants (`ops.incident_tenant`) and entities (`ops.incident_entity`).
//!
//! Forms name tenants by id and orders/quotes by id; [`resolve`] checks that the tenants exist and that
//! every order and quote exists *in one of those tenants*, and answers per field when not. Entities are
//! what the impact proposal is computed from and what the timeline links to.

use std::collections::{BTreeMap, BTreeSet};

use platform::ids::{OrderId, QuoteId, TenantId};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::Result;
use crate::form::FieldErrors;
use crate::ids::IncidentId;
use super::model::{stored, EntityRef, EntityType};

/// A tenant as the page names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct TenantRef {
    pub tenant_id: TenantId,
    pub slug: String,
    pub name: String,
}

pub(crate) async fn tenant_refs(db: &mut PgConnection, ids: &[TenantId]) -> Result<Vec<TenantRef>> {
    Ok(sqlx::query_as::<_, TenantRef>(
        "select tenant_id, slug, name from platform.tenant where tenant_id = any($1) order by slug",
    )
    .bind(ids)
    .fetch_all(db)
    .await?)
}

/// Checks tenants, orders and quotes; returns the entities with their tenants, orders first, in input order.
/// Field names are the forms': `tenants`, `order_ids`, `quote_ids`.
pub(crate) async fn resolve(
    db: &mut PgConnection,
    tenants: &BTreeSet<TenantId>,
    orders: &[OrderId],
    quotes: &[QuoteId],
) -> Result<Vec<EntityRef>> {
    let mut errors = FieldErrors::new();
    let wanted: Vec<TenantId> = tenants.iter().copied().collect();
    let known = tenant_refs(db, &wanted).await?;
    let slugs: BTreeMap<TenantId, String> = known.iter().map(|t| (t.tenant_id, t.slug.clone())).collect();
    let unknown: Vec<String> = wanted.iter().filter(|t| !slugs.contains_key(t)).map(|t| t.to_string()).collect();
    if !unknown.is_empty() {
        errors.add("tenants", format!("No such tenant: {}", unknown.join(", ")));
    }

    let mut entities = Vec::new();
    let order_ids: Vec<Uuid> = orders.iter().map(|o| o.as_uuid()).collect();
    let found: BTreeMap<Uuid, TenantId> = sqlx::query_as::<_, (Uuid, TenantId)>(
        "select order_id, tenant_id from oms.sales_order where order_id = any($1)",
    )
    .bind(&order_ids)
    .fetch_all(&mut *db)
    .await?
    .into_iter()
    .collect();
    check_found(
        &mut errors,
        "order_ids",
        "order",
        &order_ids,
        &found,
        tenants,
        &slugs,
        EntityType::Order,
        &mut entities,
        db,
    )
    .await?;

    let quote_ids: Vec<Uuid> = quotes.iter().map(|q| q.as_uuid()).collect();
    let found: BTreeMap<Uuid, TenantId> =
        sqlx::query_as::<_, (Uuid, TenantId)>("select quote_id, tenant_id from cpq.quote where quote_id = any($1)")
            .bind(&quote_ids)
            .fetch_all(&mut *db)
            .await?
            .into_iter()
            .collect();
    check_found(
        &mut errors,
        "quote_ids",
        "quote",
        &quote_ids,
        &found,
        tenants,
        &slugs,
        EntityType::Quote,
        &mut entities,
        db,
    )
    .await?;

    if !errors.is_empty() {
        return Err(errors.into());
    }
    Ok(entities)
}

#[allow(clippy::too_many_arguments)]
async fn check_found(
    errors: &mut FieldErrors,
    field: &'static str,
    what: &str,
    ids: &[Uuid],
    found: &BTreeMap<Uuid, TenantId>,
    tenants: &BTreeSet<TenantId>,
    slugs: &BTreeMap<TenantId, String>,
    entity_type: EntityType,
    entities: &mut Vec<EntityRef>,
    db: &mut PgConnection,
) -> Result<()> {
    let mut missing = Vec::new();
    let mut elsewhere = Vec::new();
    for id in ids {
        match found.get(id) {
            None => missing.push(id.to_string()),
            Some(tenant) if !tenants.contains(tenant) => {
                let slug = match slugs.get(tenant) {
                    Some(slug) => slug.clone(),
                    None => {
                        tenant_refs(db, &[*tenant]).await?.pop().map(|t| t.slug).unwrap_or_else(|| tenant.to_string())
                    }
                };
                elsewhere.push(format!("{id} (tenant {slug})"));
            }
            Some(tenant) => entities.push(EntityRef { entity_type, entity_id: *id, tenant_id: *tenant }),
        }
    }
    if !missing.is_empty() {
        errors.add(field, format!("No {what} with id {}", missing.join(", ")));
    } else if !elsewhere.is_empty() {
        errors.add(
            field,
            format!("Not in the affected tenants: {}; add the tenant or remove the {what}", elsewhere.join(", ")),
        );
    }
    Ok(())
}

/// The entities on an incident, by type then id.
pub(crate) async fn entities_of(db: &mut PgConnection, incident_id: IncidentId) -> Result<Vec<EntityRef>> {
    let rows = sqlx::query_as::<_, (String, Uuid, TenantId)>(
        "select entity_type, entity_id, tenant_id from ops.incident_entity where incident_id = $1
         order by entity_type, added_at, entity_id",
    )
    .bind(incident_id)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|(t, entity_id, tenant_id)| Ok(EntityRef { entity_type: stored(&t)?, entity_id, tenant_id }))
        .collect()
}

/// Makes the incident's tenants and its ORDER/QUOTE entities exactly these (entities of other kinds,
/// attached by other areas, are kept). Returns whether anything changed.
pub(crate) async fn replace(
    tx: &mut PgConnection,
    incident_id: IncidentId,
    tenants: &BTreeSet<TenantId>,
    entities: &[EntityRef],
) -> Result<bool> {
    let tenant_list: Vec<TenantId> = tenants.iter().copied().collect();
    let removed_tenants =
        sqlx::query("delete from ops.incident_tenant where incident_id = $1 and not (tenant_id = any($2))")
            .bind(incident_id)
            .bind(&tenant_list)
            .execute(&mut *tx)
            .await?
            .rows_affected();
    let added_tenants = insert_tenants(tx, incident_id, &tenant_list).await?;

    let ids: Vec<Uuid> = entities.iter().map(|e| e.entity_id).collect();
    let types: Vec<&str> = entities.iter().map(|e| e.entity_type.as_str()).collect();
    let removed_entities = sqlx::query(
        "delete from ops.incident_entity e where e.incident_id = $1 and e.entity_type in ('ORDER', 'QUOTE')
           and not exists (select 1 from unnest($2::text[], $3::uuid[]) as k(t, id) where k.t = e.entity_type and k.id = e.entity_id)",
    )
    .bind(incident_id)
    .bind(&types)
    .bind(&ids)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    let added_entities = insert_entities(tx, incident_id, entities).await?;
    Ok(removed_tenants + added_tenants + removed_entities + added_entities > 0)
}

pub(crate) async fn insert_tenants(
    tx: &mut PgConnection,
    incident_id: IncidentId,
    tenants: &[TenantId],
) -> Result<u64> {
    Ok(sqlx::query(
        "insert into ops.incident_tenant (incident_id, tenant_id) select $1, t from unnest($2::uuid[]) as t
         on conflict do nothing",
    )
    .bind(incident_id)
    .bind(tenants)
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

pub(crate) async fn insert_entities(
    tx: &mut PgConnection,
    incident_id: IncidentId,
    entities: &[EntityRef],
) -> Result<u64> {
    let types: Vec<&str> = entities.iter().map(|e| e.entity_type.as_str()).collect();
    let ids: Vec<Uuid> = entities.iter().map(|e| e.entity_id).collect();
    let tenants: Vec<TenantId> = entities.iter().map(|e| e.tenant_id).collect();
    Ok(sqlx::query(
        "insert into ops.incident_entity (incident_id, entity_type, entity_id, tenant_id)
         select $1, t, id, tenant from unnest($2::text[], $3::uuid[], $4::uuid[]) as k(t, id, tenant)
         on conflict do nothing",
    )
    .bind(incident_id)
    .bind(&types)
    .bind(&ids)
    .bind(&tenants)
    .execute(&mut *tx)
    .await?
    .rows_affected())
}

/// The lesson's single-valued columns (`affected_tenant_id`, `affected_entity_*`, §6.1) mirror the sets
/// when they hold exactly one value; the sets are the truth.
pub(crate) async fn mirror_single_values(
    tx: &mut PgConnection,
    incident_id: IncidentId,
    tenants: &BTreeSet<TenantId>,
    entities: &[EntityRef],
) -> Result<()> {
    let tenant = if tenants.len() == 1 { tenants.iter().next().copied() } else { None };
    let entity = if entities.len() == 1 { entities.first() } else { None };
    sqlx::query(
        "update ops.operational_incident set affected_tenant_id = $2, affected_entity_type = $3, affected_entity_id = $4
         where incident_id = $1",
    )
    .bind(incident_id)
    .bind(tenant)
    .bind(entity.map(|e| e.entity_type.as_str()))
    .bind(entity.map(|e| e.entity_id))
    .execute(&mut *tx)
    .await?;
    Ok(())
}
