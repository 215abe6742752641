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

/// What [`verify_chain`] found: how many lines it checked and the first link that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    pub lines_checked: i64,
    pub first_line: Option<i64>,
    pub last_line: Option<i64>,
    pub last_hash: Option<String>,
    pub broken: Option<BrokenLink>,
}

impl ChainReport {
    pub fn holds(&self) -> bool {
        self.broken.is_none()
    }
}

/// A line whose hash is not what its content and its predecessor give: it was changed, deleted around or
/// inserted out of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BrokenLink {
    pub audit_id: i64,
    pub chain_seq: i64,
    pub occurred_at: chrono::DateTime<chrono::Utc>,
    pub action: String,
    /// `content` (the row's hash is not the hash of its own content) or `link` (its `prev_hash` is not the
    /// previous line's hash: a line was removed or inserted before it).
    pub problem: BreakKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakKind {
    Content,
    Link,
}

impl BreakKind {
    pub fn describe(self) -> &'static str {
        match self {
            BreakKind::Content => "the line's content no longer matches its hash: it was changed after it was written",
            BreakKind::Link => "the line does not follow the line before it: a line was removed or inserted",
        }
    }
}

/// Walks the whole chain in the database, recomputing every hash with the same function the insert
/// trigger uses (`ops.audit_hash`). Administrators only; the check itself is audited.
pub async fn verify_chain(pool: &sqlx::PgPool, actor: &Actor) -> crate::Result<ChainReport> {
    use crate::command::{Action, Envelope, run};
    run(pool, Envelope::new(actor, Action::AuditVerify), async |cx| {
        // One statement, one snapshot: lines appended while it runs are simply not part of this check.
        let (lines_checked, first_line, last_line, last_hash): (i64, Option<i64>, Option<i64>, Option<String>) =
            sqlx::query_as(
                "select count(*), min(audit_id), max(audit_id),
                        (select hash from ops.audit_log order by chain_seq desc limit 1)
                 from ops.audit_log",
            )
            .fetch_one(cx.db())
            .await?;
        let broken: Option<(i64, i64, chrono::DateTime<chrono::Utc>, String, bool)> = sqlx::query_as(
            "with chain as (
                 select l as entry, lag(l.hash) over (order by l.chain_seq) as expected_prev from ops.audit_log l)
             select (entry).audit_id, (entry).chain_seq, (entry).occurred_at, (entry).action,
                    (entry).hash is distinct from ops.audit_hash((entry).prev_hash, entry)
             from chain
             where (entry).hash is distinct from ops.audit_hash((entry).prev_hash, entry)
                or (entry).prev_hash is distinct from expected_prev
             order by (entry).chain_seq limit 1",
        )
        .fetch_optional(cx.db())
        .await?;
        let broken = broken.map(|(audit_id, chain_seq, occurred_at, action, content)| BrokenLink {
            audit_id,
            chain_seq,
            occurred_at,
            action,
            problem: if content { BreakKind::Content } else { BreakKind::Link },
        });
        let report = ChainReport { lines_checked, first_line, last_line, last_hash, broken };
        cx.record(serde_json::json!({
            "lines_checked": report.lines_checked,
            "holds": report.holds(),
            "broken_at": report.broken.as_ref().map(|b| b.audit_id),
            "problem": report.broken.as_ref().map(|b| b.problem),
        }));
        metrics::gauge!("opsdeck_audit_chain_holds").set(if report.holds() { 1.0 } else { 0.0 });
        metrics::gauge!("opsdeck_audit_chain_lines").set(report.lines_checked as f64);
        if let Some(broken) = &report.broken {
            tracing::error!(audit_id = broken.audit_id, problem = ?broken.problem, "the audit log's hash chain is broken");
        }
        Ok(report)
    })
    .await
}

/// The last verification of the chain: who ran it, when, and what it found (from its own audit line).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verification {
    pub by: String,
    pub at: chrono::DateTime<chrono::Utc>,
    pub lines_checked: i64,
    pub holds: bool,
    pub broken_at: Option<i64>,
    pub problem: Option<BreakKind>,
}

/// The latest [`verify_chain`] run, if there was one. Administrators only.
pub async fn last_verification(pool: &sqlx::PgPool, actor: &Actor) -> crate::Result<Option<Verification>> {
    use crate::command::{Action, Envelope, read};
    read(pool, Envelope::new(actor, Action::AuditVerify), async |cx| {
        let row: Option<(String, chrono::DateTime<chrono::Utc>, serde_json::Value)> = sqlx::query_as(
            "select actor_name, occurred_at, detail from ops.audit_log
             where action = 'audit.verify' and outcome = 'SUCCEEDED' order by chain_seq desc limit 1",
        )
        .fetch_optional(cx.db())
        .await?;
        Ok(row.map(|(by, at, detail)| (by, at, detail["result"].clone())).map(|(by, at, detail)| Verification {
            by,
            at,
            lines_checked: detail["lines_checked"].as_i64().unwrap_or(0),
            holds: detail["holds"].as_bool().unwrap_or(false),
            broken_at: detail["broken_at"].as_i64(),
            problem: match detail["problem"].as_str() {
                Some("content") => Some(BreakKind::Content),
                Some("link") => Some(BreakKind::Link),
                _ => None,
            },
        }))
    })
    .await
}
