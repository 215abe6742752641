//! Mitigation switches as commands: `ops.platform_control` (current state, versioned) and
//! `ops.platform_control_change` (append-only history, one row per change with actor and reason).
//!
//! The switches are read where they are honoured — [`crate::relay::relay_paused`],
//! [`crate::projection::consumer_paused`], [`crate::orchestration::orchestration_starts_paused`] and [`accept_quote`](crate::command::accept_quote)
//! — so the keys written here must match those readers exactly. This module never reads a switch on
//! behalf of a worker; it only changes them, and lists them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ids::TenantId;
use crate::orchestration::PAUSE_ORCHESTRATION_STARTS;
use crate::projection::{pause_key, PAUSE_CONSUMER};
use crate::relay::PAUSE_RELAY;
use crate::{Error, Result};

/// Control type of the per-tenant acceptance switch; key `DISABLE_QUOTE_ACCEPTANCE:<tenant>`.
pub const DISABLE_QUOTE_ACCEPTANCE: &str = "DISABLE_QUOTE_ACCEPTANCE";

/// A reason must say something: "x" is not a reason an incident review can read.
pub const MIN_REASON_CHARS: usize = 10;

/// One mitigation switch, with its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Control {
    /// `accept_quote` refuses for this tenant while on.
    DisableQuoteAcceptance { tenant: TenantId },
    /// Every relay stops claiming while on.
    PauseRelay,
    /// The projection consumer of `group` stops consuming while on.
    PauseConsumer { group: String },
    /// Orchestration starts wait, for one tenant or (None) for every tenant.
    PauseOrchestrationStarts { tenant: Option<TenantId> },
}

impl Control {
    /// `ops.platform_control.control_type`.
    pub fn control_type(&self) -> &'static str {
        match self {
            Control::DisableQuoteAcceptance { .. } => DISABLE_QUOTE_ACCEPTANCE,
            Control::PauseRelay => PAUSE_RELAY,
            Control::PauseConsumer { .. } => PAUSE_CONSUMER,
            Control::PauseOrchestrationStarts { .. } => PAUSE_ORCHESTRATION_STARTS,
        }
    }

    /// `ops.platform_control.control_key`, as the readers look it up.
    pub fn key(&self) -> String {
        match self {
            Control::DisableQuoteAcceptance { tenant } => acceptance_key(*tenant),
            Control::PauseRelay => PAUSE_RELAY.to_string(),
            Control::PauseConsumer { group } => pause_key(group),
            Control::PauseOrchestrationStarts { tenant: None } => PAUSE_ORCHESTRATION_STARTS.to_string(),
            Control::PauseOrchestrationStarts { tenant: Some(t) } => format!("{PAUSE_ORCHESTRATION_STARTS}:{t}"),
        }
    }

    /// `ops.platform_control.tenant_id`.
    pub fn tenant(&self) -> Option<TenantId> {
        match self {
            Control::DisableQuoteAcceptance { tenant } => Some(*tenant),
            Control::PauseOrchestrationStarts { tenant } => *tenant,
            _ => None,
        }
    }

    /// `ops.platform_control.target`.
    pub fn target(&self) -> Option<String> {
        match self {
            Control::PauseConsumer { group } => Some(group.clone()),
            _ => None,
        }
    }
}

/// The control key of `tenant`'s acceptance switch.
pub fn acceptance_key(tenant: TenantId) -> String {
    format!("{DISABLE_QUOTE_ACCEPTANCE}:{tenant}")
}

/// A change to one switch: who, why, and (optionally) which incident it mitigates.
#[derive(Debug, Clone)]
pub struct ControlChange {
    pub control: Control,
    pub enabled: bool,
    pub reason: String,
    pub actor: String,
    pub incident_id: Option<Uuid>,
}

/// A switch as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ControlState {
    pub control_key: String,
    pub control_type: String,
    pub tenant_id: Option<TenantId>,
    pub target: Option<String>,
    pub enabled: bool,
    pub reason: String,
    pub changed_by: String,
    pub changed_at: DateTime<Utc>,
    pub version: i64,
}

/// Turns a switch on or off: upserts the current state (version + 1) and appends the change to the
/// history, in the caller's transaction. The readers take effect on their next poll.
#[tracing::instrument(skip(tx, change), fields(key = %change.control.key(), enabled = change.enabled, actor = %change.actor), err(Display))]
pub async fn set_control(tx: &mut PgConnection, change: &ControlChange) -> Result<ControlState> {
    let reason = change.reason.trim();
    if reason.chars().count() < MIN_REASON_CHARS {
        return Err(Error::Invalid {
            field: "reason",
            message: format!("a control change needs a reason of at least {MIN_REASON_CHARS} characters"),
        });
    }
    if change.actor.trim().is_empty() {
        return Err(Error::Invalid { field: "actor", message: "a control change needs an actor".into() });
    }
    if let Control::PauseConsumer { group } = &change.control {
        if group.trim().is_empty() {
            return Err(Error::Invalid { field: "group", message: "a consumer group is required".into() });
        }
    }
    let key = change.control.key();
    let state = sqlx::query_as::<_, ControlState>(
        "insert into ops.platform_control (control_key, control_type, tenant_id, target, enabled, reason, changed_by, changed_at, version)
         values ($1, $2, $3, $4, $5, $6, $7, now(), 1)
         on conflict (control_key) do update
           set enabled = excluded.enabled, reason = excluded.reason, changed_by = excluded.changed_by,
               changed_at = excluded.changed_at, version = ops.platform_control.version + 1
         returning control_key, control_type, tenant_id, target, enabled, reason, changed_by, changed_at, version",
    )
    .bind(&key)
    .bind(change.control.control_type())
    .bind(change.control.tenant())
    .bind(change.control.target())
    .bind(change.enabled)
    .bind(reason)
    .bind(&change.actor)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "insert into ops.platform_control_change (change_id, control_key, enabled, reason, changed_by, incident_id, changed_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(&key)
    .bind(change.enabled)
    .bind(reason)
    .bind(&change.actor)
    .bind(change.incident_id)
    .bind(state.changed_at)
    .execute(&mut *tx)
    .await?;
    Ok(state)
}

/// Every switch, on or off, by key.
pub async fn list_controls(pool: &PgPool) -> Result<Vec<ControlState>> {
    Ok(sqlx::query_as::<_, ControlState>(
        "select control_key, control_type, tenant_id, target, enabled, reason, changed_by, changed_at, version
         from ops.platform_control order by control_key",
    )
    .fetch_all(pool)
    .await?)
}

/// True while quote acceptance is disabled for `tenant`. Read by `accept_quote` inside its transaction.
pub async fn quote_acceptance_disabled(conn: &mut PgConnection, tenant: TenantId) -> sqlx::Result<bool> {
    sqlx::query_scalar(
        "select exists (
           select 1 from ops.platform_control
           where control_key = $1 and control_type = $2 and enabled
         )",
    )
    .bind(acceptance_key(tenant))
    .bind(DISABLE_QUOTE_ACCEPTANCE)
    .fetch_one(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenants::ACME;

    #[test]
    fn keys_match_what_the_readers_look_up() {
        assert_eq!(Control::PauseRelay.key(), "PAUSE_RELAY");
        assert_eq!(Control::PauseConsumer { group: "order-projection".into() }.key(), "PAUSE_CONSUMER:order-projection");
        assert_eq!(Control::PauseOrchestrationStarts { tenant: None }.key(), "PAUSE_ORCHESTRATION_STARTS");
        assert_eq!(Control::DisableQuoteAcceptance { tenant: ACME }.key(), format!("DISABLE_QUOTE_ACCEPTANCE:{ACME}"));
    }
}
