//! The governed lifecycle of every repair (lesson §6.2, §8.6, §18.2; DESIGN §4):
//!
//! 1. [`request_repair`] — always a dry-run first: the repair's safety checks run; the entity as it is
//!    (`before_state`), the `proposed_change` and its hash, the entity's version and the risk (the type's,
//!    raised by side effects already executed, or by a tenant's stricter policy) are stored REQUESTED,
//!    linked to an open or mitigated incident, under an idempotency key: the same key answers the first
//!    outcome, also when two requests race. A failed safety check refuses the request.
//! 2. [`decide_repair`] — a HIGH-risk repair is APPROVED or REJECTED (with why) by a different person
//!    holding the approver role, of the very dry-run stored (entity version + hash); the database refuses
//!    a self-approval too. An approval expires.
//! 3. [`execute_repair`] — a LOW-risk repair by its requester after confirming the dry-run; a HIGH-risk
//!    one once approved. The dry-run is computed again under lock: a different version or hash voids the
//!    approval (FAILED: request it again). The change goes through the platform's commands and
//!    transitions only; if it fails (the engine is down), nothing of it stays and the repair is FAILED
//!    with the error. The engine calls the change owes are recorded with it and made after the commit
//!    ([`super::follow_up`]: one that fails stays pending and is retried). Executing again answers the
//!    first outcome. Then [`recheck_repair`] verifies the invariants the repair was meant to restore.
//!
//! Every step is a command of the runner (audit line, metrics) and a line on the incident's timeline.

use chrono::{TimeDelta, Utc};
use platform::command::CommandContext;
use platform::machine::Named;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{Connection, PgPool};

use super::catalogue::{self, Outcome, Services, Target};
use super::follow_up;
use super::input::{Decision, Parameters, RepairDecision, RepairForRequest};
use super::model::{proposed_change_hash, DryRun, Recheck, RepairStatus, Risk, Verdict};
use super::policy;
use super::record::{self, trigger_refusal, Repair};
use crate::command::{run, Action, Cx, Envelope};
use crate::error::{Error, Result};
use crate::ids::{ApprovalId, IncidentId, RepairId};
use crate::incident::{EntityRef, EntityType, EventKind};
use crate::incident::timeline::{self, event_type, NewEvent};

/// How audit lines name a repair.
pub const AUDIT_ENTITY: &str = "REPAIR";

/// What a request did: the repair (new, or the first one under the key).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Requested {
    pub repair: Repair,
    /// The key had been used: this is the first request's repair, nothing new was done.
    pub replayed: bool,
}

/// Requests a repair: its dry-run, stored REQUESTED (see the module doc).
#[tracing::instrument(skip_all, fields(actor = %actor.subject, repair = %input.repair_type, entity = %input.target.entity_id))]
pub async fn request_repair(
    pool: &PgPool,
    services: &Services,
    actor: &crate::identity::Actor,
    input: &RepairForRequest,
) -> Result<Requested> {
    let info = catalogue::info(input.repair_type)
        .ok_or_else(|| Error::rule(format!("the {} repair is not in this console's catalogue yet", input.repair_type)))?;
    let envelope = Envelope::new(actor, Action::RepairRequest)
        .tenant(input.target.tenant)
        .entity(info.entity_type, input.target.entity_id)
        .incident(input.incident)
        .reason(input.reason.as_str())
        .idempotency_key(input.idempotency_key.as_str())
        .dry_run(true);
    let requested = run(pool, envelope, async |cx| {
        if let Some(first) = record::by_key(cx.db(), input.idempotency_key.as_str()).await? {
            return replay(cx, first, input);
        }
        check_incident(cx, input.incident, &input.target).await?;
        let dry = catalogue::assess(input.repair_type, cx.db(), services, &input.target, &input.parameters).await?;
        let failed: Vec<String> = dry.failed().iter().map(|c| format!("{} — {}", c.question, c.detail)).collect();
        if !failed.is_empty() {
            return Err(Error::Rule { reason: "the dry-run refuses this repair".into(), missing: failed });
        }
        let mut risk_reasons = dry.raised_because.clone();
        let mut risk = dry.risk();
        if let Some(strict) = policy::stricter(cx.db(), input.target.tenant, input.repair_type).await? {
            if strict.min_risk == Risk::High && risk == Risk::Low {
                risk = Risk::High;
                risk_reasons.push(format!("tenant policy: {} (by {})", strict.reason, strict.changed_by));
            }
        }
        let repair_id = RepairId::new();
        let who = cx.actor_display();
        let subject = cx.actor.subject.clone();
        let inserted: Option<RepairId> = sqlx::query_scalar(
            "insert into ops.repair_command_log
               (repair_id, incident_id, tenant_id, entity_type, entity_id, command_type, dry_run, risk, idempotency_key,
                requested_by, requested_by_subject, reason, entity_version, before_state, proposed_change,
                proposed_change_hash, status, safety_checks, risk_reasons, mismatch_id)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 'REQUESTED', $17, $18, $19)
             on conflict (idempotency_key) do nothing
             returning repair_id",
        )
        .bind(repair_id)
        .bind(input.incident)
        .bind(input.target.tenant)
        .bind(info.entity_type)
        .bind(input.target.entity_id)
        .bind(input.repair_type.name())
        .bind(input.dry_run)
        .bind(risk.name())
        .bind(input.idempotency_key.as_str())
        .bind(&who)
        .bind(&subject)
        .bind(input.reason.as_str())
        .bind(dry.entity_version)
        .bind(&dry.before)
        .bind(&dry.proposed)
        .bind(dry.hash())
        .bind(serde_json::to_value(&dry.checks).expect("checks serialize"))
        .bind(json!(risk_reasons))
        .bind(input.mismatch)
        .fetch_optional(cx.db())
        .await?;
        let Some(repair_id) = inserted else {
            // Another request with the key committed while this one ran: its outcome is the answer.
            let first = record::by_key(cx.db(), input.idempotency_key.as_str())
                .await?
                .ok_or_else(|| Error::Internal("an idempotency key conflicted with no row".into()))?;
            return replay(cx, first, input);
        };
        attach_entity(cx, input.incident, info.entity_type, &input.target).await?;
        if let Some(mismatch) = input.mismatch {
            // The mismatch it comes from is now being repaired (its re-check follows the execution).
            let who = cx.actor_display();
            crate::reconcile::mismatch::start_repair(
                cx.db(),
                mismatch,
                repair_id.into(),
                input.target.entity_id,
                input.target.tenant,
                input.incident,
                &who,
            )
            .await?;
        }
        tell(
            cx,
            input.incident,
            event_type::REPAIR_REQUESTED,
            format!("Repair requested: {} of {} {} ({risk} risk): {}", info.title, info.entity_type, input.target.entity_id, input.reason.as_str()),
            json!({ "repair_id": repair_id, "repair_type": input.repair_type, "risk": risk, "entity_id": input.target.entity_id }),
            &input.target,
            info.entity_type,
        )
        .await?;
        cx.about(AUDIT_ENTITY, repair_id);
        cx.record(json!({ "repair_id": repair_id, "repair_type": input.repair_type, "risk": risk, "hash": dry.hash() }));
        let repair = record::load(cx.db(), repair_id, false).await?.ok_or_else(|| Error::not_found("repair", repair_id))?;
        Ok(Requested { repair, replayed: false })
    })
    .await?;
    Ok(requested)
}

/// The first request under a key: the same request again answers it; a different one is refused.
fn replay(cx: &mut Cx<'_>, first: Repair, input: &RepairForRequest) -> Result<Requested> {
    let same = first.repair_type == input.repair_type
        && first.tenant_id == input.target.tenant
        && first.entity_id == input.target.entity_id
        && first.requested_by_subject == cx.actor.subject
        && Parameters::stored(&first.proposed_change) == input.parameters;
    if !same {
        return Err(Error::rule(format!(
            "the idempotency key {} was already used for another request (repair {})",
            input.idempotency_key.as_str(),
            first.repair_id
        )));
    }
    cx.about(AUDIT_ENTITY, first.repair_id);
    cx.record(json!({ "repair_id": first.repair_id, "replayed": true, "status": first.status }));
    Ok(Requested { repair: first, replayed: true })
}

/// The incident a repair is linked to must be open or mitigated, visible to the actor, and concern the
/// repair's tenant (or every tenant).
async fn check_incident(cx: &mut Cx<'_>, incident: IncidentId, target: &Target) -> Result<()> {
    crate::incident::require_active_incident(cx, incident, "incident_id", Some(target.tenant)).await?;
    // The audit line is filed under the repair's tenant.
    cx.require_tenants(&[target.tenant])?;
    Ok(())
}

/// The repaired entity is named on the incident (it links to it; the incident shows its repairs).
async fn attach_entity(cx: &mut Cx<'_>, incident: IncidentId, entity_type: &str, target: &Target) -> Result<()> {
    if let Some(entity_type) = EntityType::parse_name(entity_type) {
        let entity = EntityRef { entity_type, entity_id: target.entity_id, tenant_id: target.tenant };
        crate::incident::attach_entities(cx.db(), incident, &[entity]).await?;
    }
    Ok(())
}

async fn tell(
    cx: &mut Cx<'_>,
    incident: IncidentId,
    kind: &str,
    headline: String,
    body: Value,
    target: &Target,
    entity_type: &str,
) -> Result<()> {
    let who = cx.actor_display();
    let entities: Vec<EntityRef> = EntityType::parse_name(entity_type)
        .map(|t| EntityRef { entity_type: t, entity_id: target.entity_id, tenant_id: target.tenant })
        .into_iter()
        .collect();
    timeline::append(
        cx.db(),
        NewEvent { incident_id: incident, kind: EventKind::System, event_type: kind, actor: &who, headline, body, entities: &entities },
    )
    .await?;
    Ok(())
}

fn target_of(repair: &Repair) -> Target {
    Target { tenant: repair.tenant_id, entity_id: repair.entity_id }
}

/// An approver approves or rejects a HIGH-risk repair (see the module doc).
#[tracing::instrument(skip_all, fields(actor = %actor.subject, %repair_id))]
pub async fn decide_repair(
    pool: &PgPool,
    services: &Services,
    actor: &crate::identity::Actor,
    repair_id: RepairId,
    decision: &RepairDecision,
) -> Result<Repair> {
    let action = match decision.decision {
        Decision::Approve => Action::RepairApprove,
        Decision::Reject => Action::RepairReject,
    };
    let mut envelope = Envelope::new(actor, action).entity(AUDIT_ENTITY, repair_id);
    if let Some(comment) = decision.comment.as_deref() {
        envelope = envelope.reason(comment);
    }
    run(pool, envelope, async |cx| {
        let repair = record::load(cx.db(), repair_id, true).await?.ok_or_else(|| Error::not_found("repair", repair_id))?;
        cx.require_tenants(&[repair.tenant_id])?;
        if repair.status != RepairStatus::Requested {
            return Err(Error::rule(format!("the repair is {}: there is nothing to decide", repair.status)));
        }
        if repair.risk != Risk::High {
            return Err(Error::rule("a LOW-risk repair needs no approval: its requester executes it after confirming the dry-run"));
        }
        if repair.requested_by_subject == cx.actor.subject {
            return Err(Error::rule("nobody approves their own request, whatever roles they hold: another approver decides"));
        }
        if decision.seen_hash != repair.proposed_change_hash {
            return Err(Error::Stale { entity: "repair dry-run", id: repair_id.to_string(), expected: 0, found: None });
        }
        let now = Utc::now();
        let expires = (decision.decision == Decision::Approve)
            .then(|| now + TimeDelta::from_std(services.approval_ttl).unwrap_or(TimeDelta::hours(4)));
        let approval = ApprovalId::new();
        let who = cx.actor_display();
        let subject = cx.actor.subject.clone();
        let (label, status) = match decision.decision {
            Decision::Approve => ("APPROVED", RepairStatus::Approved),
            Decision::Reject => ("REJECTED", RepairStatus::Rejected),
        };
        sqlx::query(
            "insert into ops.repair_approval
               (approval_id, repair_id, approver, approver_subject, decision, entity_version, proposed_change_hash, comment,
                decided_at, expires_at)
             values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(approval)
        .bind(repair_id)
        .bind(&who)
        .bind(&subject)
        .bind(label)
        .bind(repair.entity_version)
        .bind(&repair.proposed_change_hash)
        .bind(&decision.comment)
        .bind(now)
        .bind(expires)
        .execute(cx.db())
        .await
        .map_err(trigger_refusal)?;
        sqlx::query("update ops.repair_command_log set status = $2, approved_by = $3, updated_at = now() where repair_id = $1")
            .bind(repair_id)
            .bind(status.name())
            .bind(&who)
            .execute(cx.db())
            .await
            .map_err(trigger_refusal)?;
        let kind = if status == RepairStatus::Approved { event_type::REPAIR_APPROVED } else { event_type::REPAIR_REJECTED };
        let info = catalogue::info(repair.repair_type).map(|i| i.title).unwrap_or("Repair");
        tell(
            cx,
            repair.incident_id,
            kind,
            format!("{info} {}: {}", label.to_lowercase(), decision.comment.clone().unwrap_or_default()),
            json!({ "repair_id": repair_id, "decision": label, "hash": repair.proposed_change_hash, "expires_at": expires }),
            &target_of(&repair),
            &repair.entity_type,
        )
        .await?;
        cx.record(json!({ "repair_id": repair_id, "decision": label, "expires_at": expires }));
        record::load(cx.db(), repair_id, false).await?.ok_or_else(|| Error::not_found("repair", repair_id))
    })
    .await
}

/// What executing did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Executed {
    pub repair: Repair,
    /// The repair had already been executed (or had failed): its first outcome, nothing done again.
    pub replayed: bool,
}

/// Executes a repair (see the module doc), then re-checks it.
#[tracing::instrument(skip_all, fields(actor = %actor.subject, %repair_id))]
pub async fn execute_repair(
    pool: &PgPool,
    services: &Services,
    actor: &crate::identity::Actor,
    repair_id: RepairId,
    confirm_hash: Option<&str>,
) -> Result<Executed> {
    let envelope = Envelope::new(actor, Action::RepairExecute).entity(AUDIT_ENTITY, repair_id);
    let executed = run(pool, envelope, async |cx| {
        let repair = record::load(cx.db(), repair_id, true).await?.ok_or_else(|| Error::not_found("repair", repair_id))?;
        cx.require_tenants(&[repair.tenant_id])?;
        if matches!(repair.status, RepairStatus::Executed | RepairStatus::Failed) {
            cx.record(json!({ "repair_id": repair_id, "replayed": true, "status": repair.status }));
            return Ok(Executed { repair, replayed: true });
        }
        if repair.status == RepairStatus::Rejected {
            return Err(Error::rule("the repair was rejected: request a new one if it is still needed"));
        }
        if let Some(hash) = confirm_hash {
            if hash != repair.proposed_change_hash {
                return Err(Error::Stale { entity: "repair dry-run", id: repair_id.to_string(), expected: 0, found: None });
            }
        }
        let now = Utc::now();
        match repair.risk {
            Risk::Low if repair.requested_by_subject != cx.actor.subject => {
                return Err(Error::rule("a LOW-risk repair is executed by its requester, who confirms the dry-run they saw"));
            }
            Risk::High if repair.status != RepairStatus::Approved => {
                return Err(Error::rule("a HIGH-risk repair executes only after another person approved it"));
            }
            Risk::High if repair.standing_approval(now).is_none() => {
                return fail(cx, &repair, "the approval expired before execution: request the repair again").await;
            }
            _ => {}
        }

        // The dry-run again, under lock: the approval (or the confirmation) holds only for the same one.
        let target = target_of(&repair);
        let parameters = Parameters::stored(&repair.proposed_change);
        lock_entity(cx, &repair).await?;
        let dry = match catalogue::assess(repair.repair_type, cx.db(), services, &target, &parameters).await {
            Ok(dry) => dry,
            // A dependency the dry-run needs is down: nothing was changed; the repair fails with why.
            Err(error) if error.kind() == crate::ErrorKind::Unavailable => {
                return fail(cx, &repair, &error.public_message()).await;
            }
            Err(error) => return Err(error),
        };
        if let Some(void) = divergence(&repair, &dry) {
            return fail(cx, &repair, &void).await;
        }

        // The change, in a savepoint: if it fails, nothing of it stays, and the failure is what is recorded.
        let ctx = CommandContext::new(cx.actor_display()).with_reason(&repair.reason).with_repair(repair_id.as_uuid());
        let mut change = cx.db().begin().await?;
        match catalogue::apply(repair.repair_type, &mut change, services, &target, &dry, &ctx).await {
            Ok(applied) => {
                // The engine calls it owes are recorded with the change and made after the commit.
                follow_up::record(&mut change, repair_id, repair.tenant_id, &applied.follow_ups).await?;
                let mut after = applied.after;
                if !applied.follow_ups.is_empty() {
                    after["engine_follow_ups"] = json!(applied.follow_ups.iter().map(|s| s.describe()).collect::<Vec<_>>());
                }
                change.commit().await?;
                let who = cx.actor_display();
                record::settle(cx.db(), repair_id, RepairStatus::Executed, Some(&after), None, Some(&who)).await?;
                let info = catalogue::info(repair.repair_type).map(|i| i.title).unwrap_or("Repair");
                tell(
                    cx,
                    repair.incident_id,
                    event_type::REPAIR_EXECUTED,
                    format!("{info} executed"),
                    json!({ "repair_id": repair_id, "after_state": after }),
                    &target,
                    &repair.entity_type,
                )
                .await?;
                cx.record(json!({ "repair_id": repair_id, "status": "EXECUTED", "after_state": after }));
            }
            Err(error) => {
                change.rollback().await?;
                let why = error.public_message();
                return fail(cx, &repair, &why).await;
            }
        }
        let repair = record::load(cx.db(), repair_id, false).await?.ok_or_else(|| Error::not_found("repair", repair_id))?;
        Ok(Executed { repair, replayed: false })
    })
    .await?;
    if executed.replayed || executed.repair.status != RepairStatus::Executed {
        return Ok(executed);
    }
    // Committed: now the engine calls. One that fails stays pending, shown, and retried in the background.
    if services.follow_ups_inline {
        if let Err(error) = follow_up::carry_out(pool, &services.engine, &actor.display(), follow_up::Which::Repair(repair_id)).await {
            tracing::warn!(%repair_id, error = %error, "the repair executed; its engine calls are pending");
        }
    }
    // The re-check judges the state once every owed call is made: while one is pending it waits for the
    // background round that makes it ([`follow_up::run_follow_ups`]).
    let mut conn = pool.acquire().await?;
    let reloaded = record::load(&mut conn, repair_id, false).await?.ok_or_else(|| Error::not_found("repair", repair_id))?;
    drop(conn);
    if reloaded.follow_ups.iter().any(|f| f.pending()) {
        return Ok(Executed { repair: reloaded, replayed: false });
    }
    // The re-check runs after the commit, against the state others see now.
    let repair = match recheck_repair(pool, services, actor, repair_id).await {
        Ok(repair) => repair,
        Err(error) => {
            tracing::warn!(%repair_id, error = %error, "the repair executed; its re-check could not run");
            executed.repair
        }
    };
    // A repair that came from a reconciliation mismatch closes the loop: the mismatch's check runs again
    // for its entity and resolves it if it is coherent now (issue 10 item 4).
    let repair = match repair.mismatch_id {
        Some(mismatch) => match crate::reconcile::recheck_entity(pool, Some(&services.engine), actor, mismatch).await {
            Ok(_) => record::load(&mut *pool.acquire().await?, repair_id, false).await?.unwrap_or(repair),
            Err(error) => {
                tracing::warn!(%repair_id, %mismatch, error = %error, "the repair executed; its mismatch's re-check could not run");
                repair
            }
        },
        None => repair,
    };
    Ok(Executed { repair, replayed: false })
}

/// The row of the repaired entity, locked for the rest of the execution: the dry-run computed again and
/// the change both see it as it is, and nobody changes it between them.
async fn lock_entity(cx: &mut Cx<'_>, repair: &Repair) -> Result<()> {
    let sql = match repair.entity_type.as_str() {
        "ORDER" => "select 1 from oms.sales_order where order_id = $1 and tenant_id = $2 for update",
        "QUOTE" => "select 1 from cpq.quote where quote_id = $1 and tenant_id = $2 for update",
        "APPROVAL" => "select 1 from cpq.approval_request where approval_request_id = $1 and tenant_id = $2 for update",
        "OUTBOX_EVENT" => "select 1 from messaging.outbox_event where outbox_event_id = $1 and tenant_id = $2 for update",
        _ => return Ok(()),
    };
    sqlx::query(sql).bind(repair.entity_id).bind(repair.tenant_id).execute(cx.db()).await?;
    Ok(())
}

/// Why the dry-run now differs from the one stored (and approved), if it does.
fn divergence(repair: &Repair, dry: &DryRun) -> Option<String> {
    let failed: Vec<String> = dry.failed().iter().map(|c| format!("{}: {}", c.question, c.detail)).collect();
    if dry.entity_version != repair.entity_version {
        Some(format!(
            "the {} moved on since the dry-run (version {} → {}): the approval is void; request the repair again",
            repair.entity_type.to_lowercase(),
            repair.entity_version.map(|v| v.to_string()).unwrap_or_else(|| "—".into()),
            dry.entity_version.map(|v| v.to_string()).unwrap_or_else(|| "—".into()),
        ))
    } else if proposed_change_hash(&dry.proposed) != repair.proposed_change_hash {
        Some("the proposed change is no longer the one in the dry-run: the approval is void; request the repair again".into())
    } else if !failed.is_empty() {
        Some(format!("a safety check fails now: {}", failed.join("; ")))
    } else {
        None
    }
}

/// Records the repair FAILED with why (committed: the failure is evidence), audited FAILED.
async fn fail(cx: &mut Cx<'_>, repair: &Repair, why: &str) -> Result<Executed> {
    let who = cx.actor_display();
    record::settle(cx.db(), repair.repair_id, RepairStatus::Failed, None, Some(why), Some(&who)).await?;
    let info = catalogue::info(repair.repair_type).map(|i| i.title).unwrap_or("Repair");
    tell(
        cx,
        repair.incident_id,
        event_type::REPAIR_FAILED,
        format!("{info} failed: {why}"),
        json!({ "repair_id": repair.repair_id, "failure_reason": why }),
        &target_of(repair),
        &repair.entity_type,
    )
    .await?;
    cx.fail(why.to_string());
    cx.record(json!({ "repair_id": repair.repair_id, "status": "FAILED" }));
    let repair = record::load(cx.db(), repair.repair_id, false).await?.ok_or_else(|| Error::not_found("repair", repair.repair_id))?;
    Ok(Executed { repair, replayed: false })
}

/// Verifies, after execution, the invariants the repair was meant to restore; stores the result on the
/// repair (once) and tells the incident.
#[tracing::instrument(skip_all, fields(%repair_id))]
pub async fn recheck_repair(
    pool: &PgPool,
    services: &Services,
    actor: &crate::identity::Actor,
    repair_id: RepairId,
) -> Result<Repair> {
    let envelope = Envelope::new(actor, Action::RepairRecheck).entity(AUDIT_ENTITY, repair_id);
    run(pool, envelope, async |cx| {
        let repair = record::load(cx.db(), repair_id, true).await?.ok_or_else(|| Error::not_found("repair", repair_id))?;
        cx.require_tenants(&[repair.tenant_id])?;
        if repair.status != RepairStatus::Executed {
            return Err(Error::rule("only an executed repair is re-checked"));
        }
        if repair.recheck.is_some() {
            return Ok(repair);
        }
        let target = target_of(&repair);
        let outcome = Outcome { proposed: &repair.proposed_change, after: repair.after_state.as_ref() };
        let recheck: Recheck = catalogue::recheck(repair.repair_type, cx.db(), services, &target, outcome).await?;
        sqlx::query("update ops.repair_command_log set recheck = $2, rechecked_at = now() where repair_id = $1")
            .bind(repair_id)
            .bind(serde_json::to_value(&recheck).expect("a re-check serializes"))
            .execute(cx.db())
            .await
            .map_err(trigger_refusal)?;
        let verdict = if recheck.coherent { "coherent" } else { "NOT coherent" };
        let failing: Vec<String> =
            recheck.checks.iter().filter(|c| c.verdict == Verdict::Fail).map(|c| format!("{}: {}", c.question, c.detail)).collect();
        tell(
            cx,
            repair.incident_id,
            event_type::REPAIR_RECHECKED,
            if failing.is_empty() { format!("Re-check after the repair: {verdict}") } else { format!("Re-check after the repair: {verdict} — {}", failing.join("; ")) },
            json!({ "repair_id": repair_id, "recheck": recheck }),
            &target,
            &repair.entity_type,
        )
        .await?;
        cx.record(json!({ "repair_id": repair_id, "coherent": recheck.coherent }));
        record::load(cx.db(), repair_id, false).await?.ok_or_else(|| Error::not_found("repair", repair_id))
    })
    .await
}
