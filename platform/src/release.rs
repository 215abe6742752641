//! Releases of the reference platform, per tenant ring (lesson §16: bad deployments).
//!
//! `platform.release` says which version serves a tenant (the newest row; none: the baseline), what it
//! replaced, and the defect it carries: a release may break one orchestration step, which the engine
//! worker then fails for that tenant's orders with the release's message — the way a bad build fails in
//! production, retried until the engine raises an incident. Recovery is a choice (§16.1): [`rollback`] to
//! the version it replaced, or [`roll_forward`] to a fixed version; either is a new row with a reason,
//! never an edit, so the history shows what served when. The orders the defect stalled still need their
//! failed steps retried (the retry-engine-job repair): changing the release only stops new damage.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::ids::TenantId;
use crate::{Error, Result};

/// The version a tenant without any release row runs.
pub const BASELINE: &str = "2026.11.0";

/// One release row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Release {
    pub release_id: Uuid,
    pub tenant_id: TenantId,
    pub version: String,
    /// DEPLOY, ROLLBACK or ROLL_FORWARD.
    pub kind: String,
    pub defect_topic: Option<String>,
    pub defect_message: Option<String>,
    pub replaces: Option<String>,
    pub reason: String,
    pub deployed_by: String,
    pub incident_id: Option<Uuid>,
    pub deployed_at: DateTime<Utc>,
}

impl Release {
    pub fn is_defective(&self) -> bool {
        self.defect_topic.is_some()
    }
}

const COLUMNS: &str = "release_id, tenant_id, version, kind, defect_topic, defect_message, replaces, reason, deployed_by,
    incident_id, deployed_at";

/// The release serving `tenant` now (`None`: the baseline).
pub async fn current(db: &mut PgConnection, tenant: TenantId) -> Result<Option<Release>> {
    Ok(sqlx::query_as::<_, Release>(&format!(
        "select {COLUMNS} from platform.release where tenant_id = $1 order by deployed_at desc, release_id desc limit 1"
    ))
    .bind(tenant)
    .fetch_optional(db)
    .await?)
}

/// Every tenant's release history, newest first (at most `limit` rows).
pub async fn history(pool: &PgPool, limit: i64) -> Result<Vec<Release>> {
    Ok(sqlx::query_as::<_, Release>(&format!(
        "select {COLUMNS} from platform.release order by deployed_at desc, release_id desc limit $1"
    ))
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// How the current release of `tenant` fails `topic`, if it carries that defect: what the worker reports.
pub async fn defect_for(pool: &PgPool, tenant: TenantId, topic: &str) -> Result<Option<String>> {
    let mut conn = pool.acquire().await?;
    Ok(current(&mut conn, tenant).await?.filter(|r| r.defect_topic.as_deref() == Some(topic)).map(|r| {
        format!("release {}: {}", r.version, r.defect_message.as_deref().unwrap_or("the step fails"))
    }))
}

/// A release to write.
#[derive(Debug, Clone)]
pub struct NewRelease<'a> {
    pub tenant: TenantId,
    pub version: &'a str,
    pub kind: &'a str,
    pub defect: Option<(&'a str, &'a str)>,
    pub reason: &'a str,
    pub actor: &'a str,
    pub incident_id: Option<Uuid>,
}

async fn write(tx: &mut PgConnection, new: NewRelease<'_>, replaces: &str) -> Result<Release> {
    if new.reason.trim().chars().count() < 10 {
        return Err(Error::Invalid { field: "reason", message: "a release change needs a reason of at least 10 characters".into() });
    }
    Ok(sqlx::query_as::<_, Release>(&format!(
        "insert into platform.release
           (release_id, tenant_id, version, kind, defect_topic, defect_message, replaces, reason, deployed_by, incident_id)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         returning {COLUMNS}"
    ))
    .bind(Uuid::now_v7())
    .bind(new.tenant)
    .bind(new.version)
    .bind(new.kind)
    .bind(new.defect.map(|d| d.0))
    .bind(new.defect.map(|d| d.1))
    .bind(replaces)
    .bind(new.reason.trim())
    .bind(new.actor)
    .bind(new.incident_id)
    .fetch_one(&mut *tx)
    .await?)
}

/// Locks the tenant's release history for one change at a time and answers the current release.
async fn locked_current(tx: &mut PgConnection, tenant: TenantId) -> Result<Option<Release>> {
    sqlx::query("select pg_advisory_xact_lock(hashtextextended('platform.release:' || $1::text, 0))")
        .bind(tenant)
        .execute(&mut *tx)
        .await?;
    current(tx, tenant).await
}

/// Deploys `new.version` (with its defect, if any) to the tenant, replacing what serves it now.
pub async fn deploy(tx: &mut PgConnection, new: NewRelease<'_>) -> Result<Release> {
    let serving = locked_current(tx, new.tenant).await?.map(|r| r.version).unwrap_or_else(|| BASELINE.to_string());
    if serving == new.version {
        return Err(Error::refused(format!("{} already serves this tenant", new.version)));
    }
    write(tx, NewRelease { kind: "DEPLOY", ..new }, &serving).await
}

/// Rolls the tenant back to the version the current release replaced (refused when the baseline serves
/// it, or the current release is itself a rollback: roll forward instead).
pub async fn rollback(tx: &mut PgConnection, tenant: TenantId, reason: &str, actor: &str, incident_id: Option<Uuid>) -> Result<Release> {
    let current = locked_current(tx, tenant)
        .await?
        .ok_or_else(|| Error::refused(format!("the baseline {BASELINE} serves this tenant: there is nothing to roll back")))?;
    if current.kind == "ROLLBACK" {
        return Err(Error::refused(format!("{} is already a rollback: roll forward to a fixed version instead", current.version)));
    }
    let to = current.replaces.clone().unwrap_or_else(|| BASELINE.to_string());
    let new = NewRelease { tenant, version: &to, kind: "ROLLBACK", defect: None, reason, actor, incident_id };
    write(tx, new, &current.version).await
}

/// Rolls the tenant forward to `version`, a fixed build (no defect).
pub async fn roll_forward(
    tx: &mut PgConnection,
    tenant: TenantId,
    version: &str,
    reason: &str,
    actor: &str,
    incident_id: Option<Uuid>,
) -> Result<Release> {
    let version = version.trim();
    let legal = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '+');
    if version.is_empty() || version.len() > 64 || !version.chars().all(legal) {
        return Err(Error::Invalid { field: "version", message: "a version is letters, digits, '.', '-', '_' or '+'".into() });
    }
    let serving = locked_current(tx, tenant).await?.map(|r| r.version).unwrap_or_else(|| BASELINE.to_string());
    if serving == version {
        return Err(Error::refused(format!("{version} already serves this tenant: roll forward to a new version")));
    }
    let new = NewRelease { tenant, version, kind: "ROLL_FORWARD", defect: None, reason, actor, incident_id };
    write(tx, new, &serving).await
}
