//! Automatic repair, opt-in (issue 10 item 5): off unless an admin allowed it for one check and one
//! tenant, with a cap per run and a reason. Only kinds the check marks `auto_repair` with a catalogue
//! repair qualify, and only when that repair's dry-run is LOW risk; everything else waits for a person.

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use platform::machine::Named;
use serde::Serialize;
use serde_json::json;
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use super::checks;
use super::model::CheckName;
use crate::command::{run, Action, Envelope};
use crate::error::{Error, Result};
use crate::form::{parse, FieldErrors};
use crate::identity::Actor;

crate::form! {
    /// The admin's form.
    pub struct AutoRepairForm / AutoRepairFields {
        check: String,
        tenant: String,
        /// `on` or `off`.
        enabled: String,
        max_per_run: String,
        reason: String,
    }
}

/// An admin's decision for one check and tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoRepairForSet {
    pub check: CheckName,
    pub tenant: TenantId,
    pub enabled: bool,
    pub max_per_run: i32,
    pub reason: String,
}

impl AutoRepairForSet {
    pub const MAX_PER_RUN: i32 = 1000;

    pub fn parse(form: &AutoRepairForm) -> std::result::Result<Self, FieldErrors> {
        let f = AutoRepairForm::FIELDS;
        let mut e = FieldErrors::new();
        let check = CheckName::from_arg(&form.check);
        match check {
            None => e.add(f.check, "Choose a check"),
            Some(c) if !checks::info(c).auto_repair_possible() => {
                e.add(f.check, format!("The {} check has no kind a repair may fix without a person", c.slug()))
            }
            Some(_) => {}
        }
        let tenant = TenantId::parse(&form.tenant).ok();
        if tenant.is_none() {
            e.add(f.tenant, "Choose the tenant it applies to (one tenant at a time)");
        }
        let enabled = match form.enabled.trim() {
            "on" => Some(true),
            "off" => Some(false),
            _ => {
                e.add(f.enabled, "Choose on or off");
                None
            }
        };
        let max_per_run = match form.max_per_run.trim().parse::<i32>() {
            Ok(n) if (1..=Self::MAX_PER_RUN).contains(&n) => Some(n),
            _ => {
                e.add(f.max_per_run, format!("How many repairs one run may make: 1 to {}", Self::MAX_PER_RUN));
                None
            }
        };
        let reason = parse::required_text(&mut e, f.reason, &form.reason, parse::MAX_TEXT, "Say why");
        if reason.as_ref().is_some_and(|r| r.chars().count() < 10) {
            e.add(f.reason, "Say why in at least 10 characters");
        }
        e.finish(|| AutoRepairForSet {
            check: check.expect("checked"),
            tenant: tenant.expect("checked"),
            enabled: enabled.expect("checked"),
            max_per_run: max_per_run.expect("checked"),
            reason: reason.expect("checked"),
        })
    }
}

/// The standing decision of a check and tenant.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct AutoRepair {
    pub check_name: String,
    pub tenant_id: Uuid,
    pub enabled: bool,
    pub max_per_run: i32,
    pub reason: String,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
}

/// An admin allows (or stops) automatic repair for a check and tenant.
#[tracing::instrument(skip_all, fields(actor = %actor.subject, check = %input.check, tenant = %input.tenant))]
pub async fn set_auto_repair(pool: &PgPool, actor: &Actor, input: &AutoRepairForSet) -> Result<AutoRepair> {
    let envelope = Envelope::new(actor, Action::ReconcilePolicySet).tenant(input.tenant).reason(&input.reason);
    run(pool, envelope, async |cx| {
        let who = cx.actor_display();
        let saved: AutoRepair = sqlx::query_as(
            "insert into ops.reconciliation_auto_repair (check_name, tenant_id, enabled, max_per_run, reason, changed_by, changed_at)
             values ($1, $2, $3, $4, $5, $6, now())
             on conflict (check_name, tenant_id) do update
               set enabled = excluded.enabled, max_per_run = excluded.max_per_run, reason = excluded.reason,
                   changed_by = excluded.changed_by, changed_at = excluded.changed_at
             returning check_name, tenant_id, enabled, max_per_run, reason, changed_by, changed_at",
        )
        .bind(input.check.name())
        .bind(input.tenant)
        .bind(input.enabled)
        .bind(input.max_per_run)
        .bind(&input.reason)
        .bind(&who)
        .fetch_one(cx.db())
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => Error::invalid("tenant", "There is no such tenant"),
            other => other.into(),
        })?;
        cx.record(json!({ "check": input.check, "tenant": input.tenant, "enabled": input.enabled, "max_per_run": input.max_per_run }));
        Ok(saved)
    })
    .await
}

/// The standing decisions the actor may see (the reconciliation page).
pub async fn auto_repairs(pool: &PgPool, actor: &Actor) -> Result<Vec<AutoRepair>> {
    let scope: Option<Vec<Uuid>> = match &actor.tenants {
        crate::identity::TenantScope::All => None,
        crate::identity::TenantScope::Only(ids) => Some(ids.iter().map(|t| t.as_uuid()).collect()),
    };
    crate::command::read(pool, Envelope::new(actor, Action::ReconcileRead), async |cx| list(cx.db(), scope.as_deref()).await).await
}

async fn list(db: &mut PgConnection, scope: Option<&[Uuid]>) -> Result<Vec<AutoRepair>> {
    Ok(sqlx::query_as(
        "select check_name, tenant_id, enabled, max_per_run, reason, changed_by, changed_at
           from ops.reconciliation_auto_repair where ($1::uuid[] is null or tenant_id = any($1))
          order by check_name, tenant_id",
    )
    .bind(scope)
    .fetch_all(db)
    .await?)
}
