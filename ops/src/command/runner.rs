//! [`run`] and [`read`]: authorise → one transaction → the audit line → the metrics, for every command.

use std::time::Instant;

use tracing::Instrument;

use platform::ids::TenantId;
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool, Postgres, Transaction};
use uuid::Uuid;

use super::{Action, Envelope, Refused};
use crate::audit::{self, AuditEntry, Outcome};
use crate::error::{Error, ErrorKind, Result};
use crate::identity::{authorize, authorize_tenants, authorize_visible, Actor, ActorKind, Refusal};

/// What a command's body works with: its transaction, the actor, and what the audit line will say.
pub struct Cx<'a> {
    pub actor: &'a Actor,
    pub action: Action,
    tx: Transaction<'static, Postgres>,
    tenants: Vec<TenantId>,
    entity: Option<(&'static str, Uuid)>,
    detail: Value,
    /// Set when the command commits the record of a failure (a repair that failed): audited as FAILED.
    failed: Option<String>,
}

impl<'a> Cx<'a> {
    /// The command's transaction.
    pub fn db(&mut self) -> &mut PgConnection {
        &mut self.tx
    }

    /// The tenants of what the body loaded, to act on it: every one must be in the actor's scope (none:
    /// platform-wide, which needs every tenant). Refused → audited by the runner.
    pub fn require_tenants(&mut self, tenants: &[TenantId]) -> Result<()> {
        self.tenants = tenants.to_vec();
        authorize_tenants(self.actor, tenants).map_err(|refusal| self.refused(refusal))
    }

    /// The tenants of what the body loaded, to show it: one of them in scope is enough.
    pub fn require_visible(&mut self, tenants: &[TenantId]) -> Result<()> {
        self.tenants = tenants.to_vec();
        authorize_visible(self.actor, tenants).map_err(|refusal| self.refused(refusal))
    }

    /// What the command turned out to be about (a new incident's id, say), for the audit line.
    pub fn about(&mut self, entity_type: &'static str, id: impl Into<Uuid>) {
        self.entity = Some((entity_type, id.into()));
    }

    /// What the command did, for the audit line's `detail.result`.
    pub fn record(&mut self, detail: Value) {
        self.detail = detail;
    }

    /// The command commits, but what it records is a failure (a repair whose execution failed is recorded
    /// FAILED with its error): the audit line says FAILED with `why`.
    pub fn fail(&mut self, why: impl Into<String>) {
        self.failed = Some(why.into());
    }

    /// How the actor is written in histories (`name (subject)`).
    pub fn actor_display(&self) -> String {
        self.actor.display()
    }

    fn refused(&self, refusal: Refusal) -> Error {
        Error::Refused(Refused {
            action: self.action,
            permission: self.action.permission(),
            tenant: refusal.tenant(),
            refusal,
        })
    }
}

/// Runs a command that changes something: authorise, then `body` in one transaction, committed with its
/// SUCCEEDED audit line; a refusal rolls back and leaves only its REFUSED line.
pub async fn run<T>(
    pool: &PgPool,
    envelope: Envelope<'_>,
    body: impl AsyncFnOnce(&mut Cx<'_>) -> Result<T>,
) -> Result<T> {
    execute(pool, envelope, false, body).await
}

/// Runs a query: authorise, then `body` in a read-only repeatable-read transaction, so every part of
/// what it returns describes the same moment. Refusals are audited; a service's allowed reads are too.
pub async fn read<T>(
    pool: &PgPool,
    envelope: Envelope<'_>,
    body: impl AsyncFnOnce(&mut Cx<'_>) -> Result<T>,
) -> Result<T> {
    execute(pool, envelope, true, body).await
}

async fn execute<T>(
    pool: &PgPool,
    envelope: Envelope<'_>,
    read_only: bool,
    body: impl AsyncFnOnce(&mut Cx<'_>) -> Result<T>,
) -> Result<T> {
    let started = Instant::now();
    let action = envelope.action;
    let span = tracing::info_span!("command", action = action.as_str(), actor = %envelope.actor.subject,
        entity = ?envelope.entity.map(|e| e.1), outcome = tracing::field::Empty);

    let mut recorded_failure = false;
    let result = async {
        // 1. Authorise before anything is read.
        let permission = envelope.action.permission();
        let upfront = authorize(envelope.actor, permission, None)
            .and_then(|()| match &envelope.tenants {
                Some(tenants) => authorize_tenants(envelope.actor, tenants),
                None => Ok(()),
            })
            .map_err(|refusal| Refused { action, permission, tenant: refusal.tenant(), refusal });
        if let Err(refused) = upfront {
            let tenants = envelope.tenants.clone().unwrap_or_default();
            let error = Error::Refused(refused);
            append_outside(pool, &envelope, Outcome::Refused, &tenants, envelope.entity, &Value::Null, Some(&error))
                .await?;
            return Err(error);
        }

        // 2. The body, in one transaction.
        // A read sees one snapshot and can write nothing; begun so in one round trip.
        let tx = if read_only {
            pool.begin_with("begin isolation level repeatable read, read only").await?
        } else {
            pool.begin().await?
        };
        let mut cx = Cx {
            actor: envelope.actor,
            action,
            tx,
            tenants: envelope.tenants.clone().unwrap_or_default(),
            entity: envelope.entity,
            detail: Value::Null,
            failed: None,
        };
        let outcome = body(&mut cx).await;
        let Cx { mut tx, tenants, entity, detail, failed, .. } = cx;

        // 3. The audit line.
        match outcome {
            Ok(value) if read_only => {
                tx.rollback().await?;
                if envelope.actor.kind == ActorKind::Service {
                    append_outside(pool, &envelope, Outcome::Allowed, &tenants, entity, &detail, None).await?;
                }
                Ok(value)
            }
            Ok(value) => {
                recorded_failure = failed.is_some();
                let (outcome, reason) = match &failed {
                    Some(why) => (Outcome::Failed, Some(why.as_str())),
                    None => (Outcome::Succeeded, envelope.reason),
                };
                let mut detail = detail_of(&envelope, &tenants, &detail, None);
                if let Some(why) = &failed {
                    detail["error"] = Value::String(why.clone());
                }
                audit::append(&mut *tx, entry(&envelope, outcome, &tenants, entity, reason, detail)).await?;
                tx.commit().await?;
                Ok(value)
            }
            Err(error) => {
                // Rolling back may fail when the connection is gone; the error that matters is the body's.
                let _ = tx.rollback().await;
                let outcome = match error.kind() {
                    ErrorKind::NotAllowed | ErrorKind::Rule => Some(Outcome::Refused),
                    ErrorKind::Internal | ErrorKind::Unavailable => Some(Outcome::Failed),
                    ErrorKind::Invalid | ErrorKind::Stale | ErrorKind::NotFound => None,
                };
                if let Some(outcome) = outcome {
                    let written = append_outside(pool, &envelope, outcome, &tenants, entity, &detail, Some(&error)).await;
                    if let Err(audit_error) = written {
                        // The database that failed the command may fail its audit line too: say so, keep the
                        // command's error.
                        tracing::warn!(error = %audit_error, "the command's audit line could not be written");
                    }
                }
                Err(error)
            }
        }
    }
    .instrument(span.clone())
    .await;
    if !read_only {
        // What a command changed may be the engine's state too: Order 360 asks the engine afresh.
        crate::order360::engine_cache::forget_all();
        // A switch may have changed: every page's banner reads the switches afresh.
        crate::control::banner::forget_all();
    }

    let outcome = match &result {
        Ok(_) if recorded_failure => "FAILED",
        Ok(_) if read_only && envelope.actor.kind != ActorKind::Service => "READ",
        Ok(_) => "SUCCEEDED",
        Err(e) => e.kind().as_str(),
    };
    span.record("outcome", outcome);
    metrics::counter!("opsdeck_commands_total", "action" => action.as_str(), "outcome" => outcome).increment(1);
    metrics::histogram!("opsdeck_command_seconds", "action" => action.as_str()).record(started.elapsed().as_secs_f64());
    match &result {
        Err(e) if matches!(e.kind(), ErrorKind::Internal) => {
            tracing::error!(parent: &span, error = %e, error.debug = ?e, "command failed")
        }
        Err(e) if matches!(e.kind(), ErrorKind::NotAllowed | ErrorKind::Rule) => {
            tracing::info!(parent: &span, refusal = %e, "command refused")
        }
        _ => {}
    }
    result
}

/// The audit line of an outcome that did not commit with the command: on the pool, in its own statement.
async fn append_outside(
    pool: &PgPool,
    envelope: &Envelope<'_>,
    outcome: Outcome,
    tenants: &[TenantId],
    entity: Option<(&'static str, Uuid)>,
    detail: &Value,
    error: Option<&Error>,
) -> Result<()> {
    // A refusal or failure is filed with what went wrong as its reason (the reason the actor gave is in
    // the detail); what succeeded, with the actor's reason.
    let reason = match error {
        Some(Error::Refused(refused)) => Some(refused.refusal.to_string()),
        Some(e) if e.kind() == ErrorKind::Internal => Some("internal error".to_string()),
        Some(e) => Some(e.to_string()),
        None => envelope.reason.map(str::to_string),
    };
    let detail = detail_of(envelope, tenants, detail, error);
    let mut line = entry(envelope, outcome, tenants, entity, reason.as_deref(), detail);
    // A tenant refusal is filed under the tenant that was refused.
    if let Some(tenant) = error.and_then(Error::refused).and_then(|r| r.tenant) {
        line.tenant = Some(tenant);
    }
    audit::append(pool, line).await?;
    Ok(())
}

fn entry<'a>(
    envelope: &'a Envelope<'_>,
    outcome: Outcome,
    tenants: &[TenantId],
    entity: Option<(&'a str, Uuid)>,
    reason: Option<&'a str>,
    detail: Value,
) -> AuditEntry<'a> {
    AuditEntry {
        actor: envelope.actor,
        action: envelope.action.as_str(),
        outcome,
        // The tenant the line is filed under: the only one, when there is exactly one (the detail lists all).
        tenant: match tenants {
            [one] => Some(*one),
            _ => None,
        },
        entity,
        reason,
        detail,
    }
}

/// The one shape of every audit line's detail.
fn detail_of(envelope: &Envelope<'_>, tenants: &[TenantId], result: &Value, error: Option<&Error>) -> Value {
    let refusal = error.and_then(|e| match e {
        Error::Refused(refused) => Some(refused.refusal.kind()),
        Error::Rule { .. } => Some("RULE"),
        _ => None,
    });
    json!({
        "permission": envelope.action.permission().as_str(),
        "roles": envelope.actor.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
        "tenants": tenants,
        "reason_given": envelope.reason,
        "incident_id": envelope.incident,
        "idempotency_key": envelope.idempotency_key,
        "dry_run": envelope.dry_run,
        "refusal": refusal,
        "error": error.map(|e| match e.kind() {
            // Internal detail stays in the server's log; the audit line says what kind of failure it was.
            ErrorKind::Internal => "internal error".to_string(),
            _ => e.to_string(),
        }),
        "result": result,
    })
}
