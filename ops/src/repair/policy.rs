//! Per-tenant repair policies: an admin makes a repair type stricter for a tenant (HIGH risk, so it needs a
//! second person) — never laxer than the type's own risk. Every change is kept; the newest is in force.

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use platform::machine::Named;
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::model::{RepairType, Risk};
use crate::command::{read, run, Action, Envelope};
use crate::error::{Error, Result};
use crate::form::{parse, FieldErrors};
use crate::identity::Actor;

/// The policy in force for a tenant and a repair type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub tenant_id: TenantId,
    pub repair_type: RepairType,
    pub min_risk: Risk,
    pub reason: String,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct Row {
    tenant_id: TenantId,
    repair_type: String,
    min_risk: String,
    reason: String,
    changed_by: String,
    changed_at: DateTime<Utc>,
}

impl Row {
    fn into_policy(self) -> Result<Policy> {
        Ok(Policy {
            tenant_id: self.tenant_id,
            repair_type: RepairType::parse_name(&self.repair_type)
                .ok_or_else(|| Error::Internal(format!("stored repair type {:?}", self.repair_type)))?,
            min_risk: Risk::parse_name(&self.min_risk).ok_or_else(|| Error::Internal(format!("stored risk {:?}", self.min_risk)))?,
            reason: self.reason,
            changed_by: self.changed_by,
            changed_at: self.changed_at,
        })
    }
}

/// The policy in force for `tenant` and `repair`, if any. Uses `ix_repair_policy_current`.
pub async fn stricter(db: &mut PgConnection, tenant: TenantId, repair: RepairType) -> Result<Option<Policy>> {
    let row = sqlx::query_as::<_, Row>(
        "select tenant_id, repair_type, min_risk, reason, changed_by, changed_at from ops.repair_policy
         where tenant_id = $1 and repair_type = $2 order by changed_at desc limit 1",
    )
    .bind(tenant)
    .bind(repair.name())
    .fetch_optional(db)
    .await?;
    row.map(Row::into_policy).transpose()
}

/// Every policy in force, for the tenants the actor may see.
pub async fn policies(pool: &PgPool, actor: &Actor) -> Result<Vec<Policy>> {
    read(pool, Envelope::new(actor, Action::RepairRead), async |cx| {
        let rows = sqlx::query_as::<_, Row>(
            "select distinct on (tenant_id, repair_type) tenant_id, repair_type, min_risk, reason, changed_by, changed_at
             from ops.repair_policy order by tenant_id, repair_type, changed_at desc",
        )
        .fetch_all(cx.db())
        .await?;
        let all = rows.into_iter().map(Row::into_policy).collect::<Result<Vec<_>>>()?;
        Ok(all.into_iter().filter(|p| actor.can_see_tenant(p.tenant_id)).collect())
    })
    .await
}

crate::form! {
    /// An admin's policy change.
    pub struct PolicyForm / PolicyFields {
        tenant: String,
        repair_type: String,
        min_risk: String,
        reason: String,
    }
}

/// A policy change that passed every field check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyForSet {
    pub tenant: TenantId,
    pub repair_type: RepairType,
    pub min_risk: Risk,
    pub reason: String,
}

impl PolicyForSet {
    pub fn parse(form: &PolicyForm) -> std::result::Result<Self, FieldErrors> {
        let f = PolicyForm::FIELDS;
        let mut e = FieldErrors::new();
        let tenant = TenantId::parse(&form.tenant).ok();
        if tenant.is_none() {
            e.add(f.tenant, "Choose a tenant");
        }
        let repair_type = RepairType::parse_name(form.repair_type.trim());
        if repair_type.is_none() {
            e.add(f.repair_type, "Choose a repair");
        }
        let min_risk = parse::choice::<Risk>(&mut e, f.min_risk, &form.min_risk, "a risk");
        let reason = parse::Reason::parse(&mut e, f.reason, &form.reason);
        e.finish(|| PolicyForSet {
            tenant: tenant.expect("checked"),
            repair_type: repair_type.expect("checked"),
            min_risk: min_risk.expect("checked"),
            reason: reason.expect("checked").as_str().to_string(),
        })
    }
}

/// Sets the policy for a tenant and a repair type (admin). LOW means "the type's own risk".
pub async fn set_policy(pool: &PgPool, actor: &Actor, input: &PolicyForSet) -> Result<Policy> {
    let envelope = Envelope::new(actor, Action::RepairPolicySet).tenant(input.tenant).reason(&input.reason);
    run(pool, envelope, async |cx| {
        let known: bool = sqlx::query_scalar("select exists (select 1 from platform.tenant where tenant_id = $1)")
            .bind(input.tenant)
            .fetch_one(cx.db())
            .await?;
        if !known {
            return Err(Error::invalid(PolicyForm::FIELDS.tenant, format!("There is no tenant {}", input.tenant)));
        }
        let who = cx.actor_display();
        let row = sqlx::query_as::<_, Row>(
            "insert into ops.repair_policy (policy_id, tenant_id, repair_type, min_risk, reason, changed_by)
             values ($1, $2, $3, $4, $5, $6)
             returning tenant_id, repair_type, min_risk, reason, changed_by, changed_at",
        )
        .bind(Uuid::now_v7())
        .bind(input.tenant)
        .bind(input.repair_type.name())
        .bind(input.min_risk.name())
        .bind(&input.reason)
        .bind(&who)
        .fetch_one(cx.db())
        .await?;
        cx.record(json!({ "repair_type": input.repair_type, "min_risk": input.min_risk }));
        row.into_policy()
    })
    .await
}
