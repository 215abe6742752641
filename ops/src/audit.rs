//! The audit log: who did what, allowed or refused. Append-only and hash-chained in the database
//! (`ops.audit_log`, see the migration); this module only appends.

use platform::ids::TenantId;
use serde::Serialize;
use sqlx::PgExecutor;
use uuid::Uuid;

use crate::identity::Actor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    Allowed,
    Refused,
    Succeeded,
    Failed,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allowed => "ALLOWED",
            Outcome::Refused => "REFUSED",
            Outcome::Succeeded => "SUCCEEDED",
            Outcome::Failed => "FAILED",
        }
    }
}

/// One audit line.
#[derive(Debug, Clone)]
pub struct AuditEntry<'a> {
    pub actor: &'a Actor,
    pub action: &'a str,
    pub outcome: Outcome,
    pub tenant: Option<TenantId>,
    pub entity: Option<(&'a str, Uuid)>,
    pub reason: Option<&'a str>,
    pub detail: serde_json::Value,
}

pub async fn append<'e>(db: impl PgExecutor<'e>, entry: AuditEntry<'_>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "insert into ops.audit_log (actor_subject, actor_name, actor_kind, action, outcome, tenant_id, entity_type,
                                    entity_id, reason, detail)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning audit_id",
    )
    .bind(&entry.actor.subject)
    .bind(&entry.actor.name)
    .bind(entry.actor.kind.as_str())
    .bind(entry.action)
    .bind(entry.outcome.as_str())
    .bind(entry.tenant)
    .bind(entry.entity.map(|e| e.0))
    .bind(entry.entity.map(|e| e.1))
    .bind(entry.reason)
    .bind(entry.detail)
    .fetch_one(db)
    .await
}
