//! Starting, working and ending a drill, as commands.

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::faults::{self, FaultRecord, DRILL_TENANT};
use platform::ids::TenantId;
use platform::machine::Named;
use platform::named_enum;
use platform::vendor::client::VendorClient;
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::catalogue::{Drill, DrillSpec};
use super::evaluate::{self, Answer, Evaluation};
use crate::command::{read, run, Action, Cx, Envelope};
use crate::error::{Error, Result};
use crate::form::{parse, FieldErrors};
use crate::identity::Actor;
use crate::incident::model::{DetectedBy, Severity};
use crate::incident::model::EventKind;
use crate::incident::timeline::{self, NewEvent};
use crate::incident::IncidentForDeclare;
use crate::ids::IncidentId;

/// What the drills reach beyond PostgreSQL to break things: the vendor, Kafka, Redis. A drill whose part
/// is not configured is refused with the reason.
#[derive(Debug, Clone, Default)]
pub struct FaultKit {
    pub vendor: Option<VendorClient>,
    pub kafka_brokers: Option<String>,
    pub topic_prefix: String,
    pub redis_url: Option<String>,
}

named_enum!(/// Where a drill stands.
DrillStatus {
    Running => "RUNNING",
    Broken => "BROKEN",
    Recovered => "RECOVERED",
    Failed => "FAILED",
    Aborted => "ABORTED",
});

/// A drill as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillRun {
    pub drill_id: Uuid,
    pub drill: Drill,
    pub status: DrillStatus,
    pub tenant_id: Option<TenantId>,
    pub entity_type: Option<String>,
    pub entity_id: Option<Uuid>,
    pub incident_id: Option<IncidentId>,
    pub fault: Option<FaultRecord>,
    pub summary: Option<String>,
    pub started_by: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub finished_by: Option<String>,
    pub score: Option<i32>,
    pub evaluation: Option<Evaluation>,
}

impl DrillRun {
    pub fn spec(&self) -> &'static DrillSpec {
        self.drill.spec()
    }

    pub fn is_active(&self) -> bool {
        matches!(self.status, DrillStatus::Running | DrillStatus::Broken)
    }

    /// Every entity the fault touched: its own, and the ids its detail names (claimed events, the orders
    /// of a double acceptance).
    pub fn entities(&self) -> Vec<Uuid> {
        let mut ids: BTreeSet<Uuid> = self.entity_id.into_iter().collect();
        if let Some(fault) = &self.fault {
            ids.extend(fault.entity_id);
            for key in ["outbox_event_ids"] {
                for v in fault.detail[key].as_array().into_iter().flatten() {
                    ids.extend(v.as_str().and_then(|s| Uuid::parse_str(s).ok()));
                }
            }
            for key in ["first_order_id", "duplicate_order_id", "quote_id"] {
                ids.extend(fault.detail[key].as_str().and_then(|s| Uuid::parse_str(s).ok()));
            }
        }
        ids.into_iter().collect()
    }
}

crate::form! {
    /// Starting a drill.
    pub struct DrillStartForm / DrillStartFields {
        drill: String,
    }
}

crate::form! {
    /// Ending a drill: the operator's answers.
    pub struct DrillEndForm / DrillEndFields {
        /// YES, NO or PARTLY.
        runbook_accurate: String,
        /// What the runbook got wrong (required unless it was accurate).
        runbook_gap: String,
        notes: String,
    }
}

/// An end that passed its checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DrillForEnd {
    pub runbook_accurate: bool,
    pub runbook_gap: Option<String>,
    pub notes: String,
}

impl DrillForEnd {
    pub fn parse(form: &DrillEndForm) -> std::result::Result<Self, FieldErrors> {
        let f = DrillEndForm::FIELDS;
        let mut e = FieldErrors::new();
        let accurate = match form.runbook_accurate.trim() {
            "YES" => Some(true),
            "NO" | "PARTLY" => Some(false),
            _ => {
                e.add(f.runbook_accurate, "Say whether the runbook was accurate");
                None
            }
        };
        let gap = form.runbook_gap.trim();
        if accurate == Some(false) && gap.chars().count() < 10 {
            e.add(f.runbook_gap, "Say what the runbook got wrong (at least 10 characters): it becomes an action item");
        }
        if gap.chars().count() > 2000 {
            e.add(f.runbook_gap, "At most 2000 characters");
        }
        if form.notes.chars().count() > 4000 {
            e.add(f.notes, "At most 4000 characters");
        }
        e.finish(|| DrillForEnd {
            runbook_accurate: accurate.unwrap_or(false),
            runbook_gap: (accurate == Some(false)).then(|| gap.to_string()),
            notes: form.notes.trim().to_string(),
        })
    }
}

const DRILL_ENTITY: &str = "drill";
const COLUMNS: &str = "d.drill_id, d.drill_type, d.status, d.tenant_id, d.entity_type, d.entity_id, d.incident_id, d.fault_id,
    d.summary, d.started_by, d.started_at, d.finished_at, d.finished_by, d.score, d.evaluation";

#[derive(sqlx::FromRow)]
struct Row {
    drill_id: Uuid,
    drill_type: String,
    status: String,
    tenant_id: Option<TenantId>,
    entity_type: Option<String>,
    entity_id: Option<Uuid>,
    incident_id: Option<IncidentId>,
    fault_id: Option<Uuid>,
    summary: Option<String>,
    started_by: String,
    started_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    finished_by: Option<String>,
    score: Option<i32>,
    evaluation: serde_json::Value,
}

async fn load(db: &mut PgConnection, drill_id: Uuid, lock: bool) -> Result<DrillRun> {
    let row: Row = sqlx::query_as(&format!(
        "select {COLUMNS} from ops.drill_run d where d.drill_id = $1 {}",
        if lock { "for update" } else { "" }
    ))
    .bind(drill_id)
    .fetch_optional(&mut *db)
    .await?
    .ok_or_else(|| Error::not_found("drill", drill_id))?;
    into_run(db, row).await
}

async fn into_run(db: &mut PgConnection, row: Row) -> Result<DrillRun> {
    let fault = match row.fault_id {
        Some(id) => sqlx::query_as::<_, FaultRecord>(
            "select fault_id, fault_type, tenant_id, entity_type, entity_id, detail, injected_by, started_at, ended_at
             from platform.fault_injection where fault_id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *db)
        .await?,
        None => None,
    };
    Ok(DrillRun {
        drill_id: row.drill_id,
        drill: Drill::parse_name(&row.drill_type).ok_or_else(|| Error::Internal(format!("unknown drill {}", row.drill_type)))?,
        status: row.status.parse().map_err(|_| Error::Internal(format!("unknown drill status {}", row.status)))?,
        tenant_id: row.tenant_id,
        entity_type: row.entity_type,
        entity_id: row.entity_id,
        incident_id: row.incident_id,
        fault,
        summary: row.summary,
        started_by: row.started_by,
        started_at: row.started_at,
        finished_at: row.finished_at,
        finished_by: row.finished_by,
        score: row.score,
        evaluation: serde_json::from_value(row.evaluation).ok(),
    })
}

fn envelope<'a>(actor: &'a Actor, action: Action, spec: &DrillSpec) -> Envelope<'a> {
    // A drill that reaches beyond the drill tenant needs every tenant in scope.
    let envelope = Envelope::new(actor, action);
    if spec.platform_wide { envelope.tenants([]) } else { envelope.tenant(DRILL_TENANT) }
}

async fn note(cx: &mut Cx<'_>, incident: Option<IncidentId>, event_type: &'static str, headline: String, body: serde_json::Value) -> Result<()> {
    let Some(incident_id) = incident else { return Ok(()) };
    let who = cx.actor_display();
    timeline::append(cx.db(), NewEvent { incident_id, kind: EventKind::System, event_type, actor: &who, headline, body, entities: &[] })
        .await?;
    Ok(())
}

/// Starts a drill: declares its incident (detected by: failure drill) and records the drill, then breaks
/// the platform through the drill's fault. A fault that cannot be injected leaves the drill FAILED with
/// the reason; nothing else is left half done.
pub async fn start_drill(pool: &PgPool, kit: &FaultKit, actor: &Actor, form: &DrillStartForm) -> Result<DrillRun> {
    let mut errors = FieldErrors::new();
    let drill = parse::choice::<Drill>(&mut errors, DrillStartForm::FIELDS.drill, &form.drill, "a drill");
    let drill = errors.finish(|| drill).map_err(Error::Invalid)?.ok_or_else(|| Error::invalid("drill", "Choose a drill"))?;
    let spec = drill.spec();
    faults::ensure_drill_tenant(pool).await?;

    let drill_id = Uuid::now_v7();
    let started = run(pool, envelope(actor, Action::DrillStart, spec).entity(DRILL_ENTITY, drill_id), async |cx| {
        let active: Option<Uuid> = sqlx::query_scalar("select drill_id from ops.drill_run where drill_type = $1 and status in ('RUNNING', 'BROKEN')")
            .bind(drill.name())
            .fetch_optional(cx.db())
            .await?;
        if let Some(other) = active {
            return Err(Error::rule(format!("a {} drill is already running ({other}): end it first", spec.title)));
        }
        let declare = IncidentForDeclare {
            severity: Severity::Sev3,
            detected_by: DetectedBy::Drill,
            detected_at: None,
            summary: format!("[Drill] {}", spec.title),
            tenants: [DRILL_TENANT].into_iter().collect(),
            orders: vec![],
            quotes: vec![],
        };
        let declared = crate::incident::declare::declare_in(cx, &declare).await?;
        let who = cx.actor_display();
        sqlx::query(
            "insert into ops.drill_run (drill_id, drill_type, status, tenant_id, incident_id, started_by, summary)
             values ($1, $2, 'RUNNING', $3, $4, $5, $6)",
        )
        .bind(drill_id)
        .bind(drill.name())
        .bind(DRILL_TENANT)
        .bind(declared.incident_id)
        .bind(&who)
        .bind(spec.breaks)
        .execute(cx.db())
        .await?;
        note(cx, Some(declared.incident_id), timeline::event_type::DRILL_STARTED, format!("Drill started: {} — {}", spec.title, spec.breaks), json!({ "drill_id": drill_id, "drill": drill.name() })).await?;
        cx.about(DRILL_ENTITY, drill_id);
        cx.record(json!({ "drill_id": drill_id, "drill": drill.name(), "incident_id": declared.incident_id }));
        Ok(declared.incident_id)
    })
    .await?;

    let injector = format!("drill:{}", actor.name);
    let injected = inject(pool, kit, drill, &injector).await;
    run(pool, envelope(actor, Action::DrillStart, spec).entity(DRILL_ENTITY, drill_id).incident(started), async |cx| {
        match &injected {
            Ok((fault, entity)) => {
                sqlx::query(
                    "update ops.drill_run set status = 'BROKEN', fault_id = $2, entity_type = $3, entity_id = $4 where drill_id = $1",
                )
                .bind(drill_id)
                .bind(fault.fault_id)
                .bind(entity.map(|(t, _)| t))
                .bind(entity.map(|(_, id)| id))
                .execute(cx.db())
                .await?;
                note(cx, Some(started), timeline::event_type::DRILL_FAULT, format!("Fault in place: {}", fault.fault_type), json!({ "fault_id": fault.fault_id })).await?;
                cx.record(json!({ "drill_id": drill_id, "phase": "fault injected", "fault_id": fault.fault_id }));
            }
            Err(error) => {
                sqlx::query("update ops.drill_run set status = 'FAILED', finished_at = now(), evaluation = $2 where drill_id = $1")
                    .bind(drill_id)
                    .bind(json!({ "error": error.to_string() }))
                    .execute(cx.db())
                    .await?;
                note(cx, Some(started), timeline::event_type::DRILL_FAULT, format!("The fault could not be injected: {error}"), json!({})).await?;
                cx.record(json!({ "drill_id": drill_id, "phase": "fault refused", "error": error.to_string() }));
            }
        }
        load(cx.db(), drill_id, false).await
    })
    .await
}

/// Breaks the platform for `drill`; the fault and the entity the operator must find.
async fn inject(pool: &PgPool, kit: &FaultKit, drill: Drill, actor: &str) -> Result<(FaultRecord, Option<(&'static str, Uuid)>)> {
    let need = |what: &'static str| Error::Unavailable { dependency: what, detail: "this drill needs it, and the console is not configured with it".into() };
    let order = |f: &FaultRecord| f.entity_id.map(|id| ("order", id));
    Ok(match drill {
        Drill::EngineIncidentRetry => {
            let vendor = kit.vendor.as_ref().ok_or_else(|| need("the vendor"))?;
            let fault = faults::vendor_outage(pool, vendor, actor).await?;
            let accepted = faults::drill_order(pool, DRILL_TENANT, actor).await?;
            (fault, Some(("order", accepted.order_id.as_uuid())))
        }
        Drill::KafkaPoisonEvent => {
            let brokers = kit.kafka_brokers.as_deref().ok_or_else(|| need("Kafka"))?;
            (faults::poison_event(pool, brokers, &kit.topic_prefix, actor).await?, None)
        }
        Drill::OutboxStuck => {
            faults::drill_order(pool, DRILL_TENANT, actor).await?;
            let fault = faults::crash_relay_mid_claim(pool, 5, Duration::from_secs(600), actor).await?;
            let entity = fault.entity_id.map(|id| ("outbox_event", id));
            (fault, entity)
        }
        Drill::DuplicateOrder => {
            let fault = faults::duplicate_acceptance(pool, DRILL_TENANT, actor).await?;
            let entity = fault.entity_id.map(|id| ("quote", id));
            (fault, entity)
        }
        Drill::RedisOutage => {
            let url = kit.redis_url.as_deref().ok_or_else(|| need("Redis"))?;
            (faults::redis_outage(pool, url, Duration::from_secs(300), actor).await?, None)
        }
        Drill::PostgresLockContention => {
            let fault = faults::lock_contention(pool, DRILL_TENANT, Duration::from_secs(600), actor).await?;
            let entity = order(&fault);
            (fault, entity)
        }
        Drill::ApprovalSlaBreach => {
            let fault = faults::approval_sla_breach(pool, DRILL_TENANT, Duration::from_secs(7200), actor).await?;
            let entity = fault.entity_id.map(|id| ("approval_request", id));
            (fault, entity)
        }
        Drill::BadDeployment => {
            let fault = faults::bad_deployment(pool, DRILL_TENANT, actor).await?;
            let entity = order(&fault);
            (fault, entity)
        }
        Drill::ReconciliationMismatch | Drill::ManualRepairDryRun => {
            let fault = faults::order_without_process(pool, DRILL_TENANT, actor).await?;
            let entity = order(&fault);
            (fault, entity)
        }
    })
}

/// Ends the drill's cause from the console (the vendor answers again, the blocking session is ended,
/// Redis unpaused, switches off) — recorded on the drill's incident. The recovery of drills without a
/// repair.
pub async fn stop_fault(pool: &PgPool, kit: &FaultKit, actor: &Actor, drill_id: Uuid) -> Result<DrillRun> {
    let spec = {
        let mut conn = pool.acquire().await?;
        load(&mut conn, drill_id, false).await?.spec()
    };
    run(pool, envelope(actor, Action::DrillFaultEnd, spec).entity(DRILL_ENTITY, drill_id), async |cx| {
        let drill = load(cx.db(), drill_id, true).await?;
        let fault = drill.fault.clone().filter(|f| f.ended_at.is_none()).ok_or_else(|| Error::rule("the drill's fault is not in place"))?;
        let who = cx.actor_display();
        // The fault's own door, outside this transaction; the record below says it happened.
        faults::end_any(pool, fault.fault_id, kit.vendor.as_ref(), kit.redis_url.as_deref(), &format!("drill:{who}")).await?;
        note(cx, drill.incident_id, timeline::event_type::DRILL_FAULT, format!("Cause ended from the console: {}", fault.fault_type), json!({ "fault_id": fault.fault_id })).await?;
        cx.record(json!({ "drill_id": drill_id, "fault_id": fault.fault_id }));
        load(cx.db(), drill_id, false).await
    })
    .await
}

/// Ends a drill: computes the §22.2 evaluation from the evidence and the operator's answers, keeps it
/// with the drill (RECOVERED when the evidence shows a recovery, FAILED otherwise), turns a wrong runbook
/// into an action item on the drill's incident, and ends a fault still in place.
pub async fn end_drill(pool: &PgPool, kit: &FaultKit, actor: &Actor, drill_id: Uuid, input: &DrillForEnd) -> Result<DrillRun> {
    let spec = {
        let mut conn = pool.acquire().await?;
        load(&mut conn, drill_id, false).await?.spec()
    };
    let ended = run(pool, envelope(actor, Action::DrillEnd, spec).entity(DRILL_ENTITY, drill_id), async |cx| {
        let drill = load(cx.db(), drill_id, true).await?;
        if !drill.is_active() {
            return Err(Error::rule(format!("the drill has already ended ({})", drill.status.name())));
        }
        let incident = drill.incident_id.ok_or_else(|| Error::Internal("a drill without its incident".into()))?;
        let entities = drill.entities();
        let tenant = drill.tenant_id.unwrap_or(DRILL_TENANT);
        let fault_ended = drill.fault.as_ref().and_then(|f| f.ended_at);
        let evidence = evaluate::evidence(cx.db(), spec, tenant.as_uuid(), drill.started_at, incident.as_uuid(), &entities, fault_ended).await?;
        let runbook = if input.runbook_accurate { Answer::Yes } else { Answer::No };
        let evaluation = evaluate::evaluate(spec, drill.started_at, &evidence, runbook, &input.notes);
        let status = if evidence.recovered_at.is_some() { DrillStatus::Recovered } else { DrillStatus::Failed };
        let who = cx.actor_display();
        sqlx::query(
            "update ops.drill_run set status = $2, finished_at = now(), finished_by = $3, score = $4, evaluation = $5 where drill_id = $1",
        )
        .bind(drill_id)
        .bind(status.name())
        .bind(&who)
        .bind(evaluation.score)
        .bind(serde_json::to_value(&evaluation).map_err(|e| Error::Internal(e.to_string()))?)
        .execute(cx.db())
        .await?;
        if let Some(gap) = &input.runbook_gap {
            let item = crate::incident::review::action_item::ActionItemForSave {
                action: format!("Fix runbook {}: {gap}", spec.runbook),
                owner: Some(who.clone()),
                due_date: None,
                item_type: crate::incident::review::action_item::ActionItemType::Runbook,
                category: crate::incident::review::action_item::ActionCategory::Recover,
            };
            crate::incident::review::action_item::add_in(cx, incident, &item).await?;
        }
        note(
            cx,
            Some(incident),
            timeline::event_type::DRILL_ENDED,
            format!("Drill ended: {} — score {}/7", status.name(), evaluation.score),
            json!({ "drill_id": drill_id, "score": evaluation.score, "status": status.name() }),
        )
        .await?;
        cx.about(DRILL_ENTITY, drill_id);
        cx.record(json!({ "drill_id": drill_id, "status": status.name(), "score": evaluation.score }));
        load(cx.db(), drill_id, false).await
    })
    .await?;
    // Never leave the platform broken after a drill.
    if let Some(fault) = ended.fault.as_ref().filter(|f| f.ended_at.is_none()) {
        if let Err(error) = faults::end_any(pool, fault.fault_id, kit.vendor.as_ref(), kit.redis_url.as_deref(), &format!("drill:{}", actor.name)).await {
            tracing::warn!(%error, fault_id = %fault.fault_id, "the drill's fault could not be ended");
        }
        let mut conn = pool.acquire().await?;
        return load(&mut conn, drill_id, false).await;
    }
    Ok(ended)
}

/// Drills, newest first.
pub async fn list_drills(pool: &PgPool, actor: &Actor, limit: i64) -> Result<Vec<DrillRun>> {
    read(pool, Envelope::new(actor, Action::DrillRead), async |cx| {
        let rows: Vec<Row> = sqlx::query_as(&format!("select {COLUMNS} from ops.drill_run d order by d.started_at desc limit $1"))
            .bind(limit.clamp(1, 200))
            .fetch_all(cx.db())
            .await?;
        let mut runs = Vec::with_capacity(rows.len());
        for row in rows {
            runs.push(into_run(cx.db(), row).await?);
        }
        Ok(runs)
    })
    .await
}

/// One drill.
pub async fn drill_detail(pool: &PgPool, actor: &Actor, drill_id: Uuid) -> Result<DrillRun> {
    read(pool, Envelope::new(actor, Action::DrillRead).entity(DRILL_ENTITY, drill_id), async |cx| load(cx.db(), drill_id, false).await).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inaccurate_runbook_must_say_what_was_wrong() {
        let form = DrillEndForm { runbook_accurate: "NO".into(), runbook_gap: "short".into(), notes: String::new() };
        let errors = DrillForEnd::parse(&form).unwrap_err();
        assert!(errors.get("runbook_gap").is_some(), "{errors:?}");
        let form = DrillEndForm { runbook_accurate: "PARTLY".into(), runbook_gap: "step 3 names the wrong consumer group".into(), notes: String::new() };
        let end = DrillForEnd::parse(&form).unwrap();
        assert!(!end.runbook_accurate);
        assert_eq!(end.runbook_gap.as_deref(), Some("step 3 names the wrong consumer group"));
        let form = DrillEndForm { runbook_accurate: "YES".into(), ..Default::default() };
        assert_eq!(DrillForEnd::parse(&form).unwrap().runbook_gap, None);
        assert!(DrillForEnd::parse(&DrillEndForm::default()).unwrap_err().get("runbook_accurate").is_some());
    }
}
