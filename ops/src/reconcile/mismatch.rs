//! A mismatch's lifecycle (issue 10 item 3): OPEN → ACKNOWLEDGED → REPAIRING → RESOLVED, or FALSE_POSITIVE
//! with a reason — every step through [`MismatchMachine`], a command of the runner, and a line of its
//! append-only history (`ops.reconciliation_mismatch_event`). Runs open, see and resolve mismatches
//! ([`super::run`]); people acknowledge them, link an incident, call them false positives; a repair
//! requested from one marks it REPAIRING, and its execution re-checks it ([`super::recheck`]).

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use platform::machine::{transition, Named};
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use super::model::{CheckName, MismatchMachine, MismatchStatus, MismatchStep};
use crate::command::{run, Action, Cx, Envelope};
use crate::error::{Error, Result};
use crate::form::{parse, FieldErrors};
use crate::identity::Actor;
use crate::ids::IncidentId;
use crate::incident::timeline::{self, NewEvent};
use crate::incident::{EntityRef, EntityType, EventKind};

/// How audit lines name a mismatch.
pub const AUDIT_ENTITY: &str = "RECONCILIATION_MISMATCH";

/// The timeline's event types for mismatches.
pub mod event_type {
    pub const MISMATCH_LINKED: &str = "MISMATCH_LINKED";
    pub const MISMATCH_RECHECKED: &str = "MISMATCH_RECHECKED";
}

/// One mismatch, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, FromRow)]
pub struct Mismatch {
    pub mismatch_id: Uuid,
    pub check_name: String,
    pub mismatch_type: String,
    pub tenant_id: Option<Uuid>,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub expected_state: Value,
    pub observed_state: Value,
    pub likely_cause: Option<String>,
    pub suggested_action: Option<String>,
    pub suggested_repair: Option<String>,
    pub safety_level: Option<String>,
    pub auto_repair_allowed: bool,
    pub status: String,
    pub first_seen_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub times_seen: i32,
    pub run_id: Uuid,
    pub last_run_id: Option<Uuid>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub false_positive_reason: Option<String>,
    pub incident_id: Option<Uuid>,
    pub repair_id: Option<Uuid>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_run_id: Option<Uuid>,
    pub resolution: Option<Value>,
}

impl Mismatch {
    pub fn status(&self) -> MismatchStatus {
        MismatchStatus::parse_name(&self.status).unwrap_or(MismatchStatus::Open)
    }

    pub fn check(&self) -> Option<CheckName> {
        CheckName::parse_name(&self.check_name)
    }

    pub fn tenant(&self) -> Option<TenantId> {
        self.tenant_id.map(TenantId::from_uuid)
    }

    fn tenants(&self) -> Vec<TenantId> {
        self.tenant().into_iter().collect()
    }

    /// The entity its suggested repair acts on (see [`repair_entity`]).
    pub fn repair_entity(&self) -> Option<Uuid> {
        repair_entity(&self.entity_type, self.entity_id, self.suggested_repair.as_deref(), &self.observed_state)
    }
}

/// The entity a mismatch's suggested repair acts on: the mismatch's own, or one its observation names —
/// a duplicated quote's newest order (the repair acts on the non-canonical order), a relay's oldest stale
/// claim (the repair is named by one event and releases every stale claim of that relay in the tenant).
/// `None` when there is no repair, or the observation names no entity.
pub(crate) fn repair_entity(entity_type: &str, entity_id: Uuid, repair: Option<&str>, observed: &Value) -> Option<Uuid> {
    let named = |v: &Value| v.as_str()?.parse().ok();
    match (entity_type, repair?) {
        ("QUOTE", "resolve-duplicate-order") => named(observed["order_ids"].as_array()?.last()?),
        (crate::reconcile::checks::outbox_backlog::CLAIMS_ENTITY, _) => named(&observed["oldest_event_id"]),
        _ => Some(entity_id),
    }
}

pub(crate) const COLUMNS: &str = "mismatch_id, check_name, mismatch_type, tenant_id, entity_type, entity_id, expected_state,
    observed_state, likely_cause, suggested_action, suggested_repair, safety_level, auto_repair_allowed, status,
    first_seen_at, last_seen_at, times_seen, run_id, last_run_id, acknowledged_by, acknowledged_at,
    false_positive_reason, incident_id, repair_id, resolved_at, resolved_by, resolved_run_id, resolution";

/// Where mismatches are read from: the table with the sightings no run had to write (see the migration
/// `mismatch_sightings`: last seen, times seen and last run count the runs that found it unchanged).
pub(crate) const SEEN: &str = "ops.reconciliation_mismatch_seen";

pub(crate) async fn load(db: &mut PgConnection, id: Uuid, lock: bool) -> Result<Option<Mismatch>> {
    if lock {
        sqlx::query("select 1 from ops.reconciliation_mismatch where mismatch_id = $1 for update").bind(id).execute(&mut *db).await?;
    }
    let sql = format!("select {COLUMNS} from {SEEN} where mismatch_id = $1");
    Ok(sqlx::query_as(&sql).bind(id).fetch_optional(db).await?)
}

/// Loads and locks a mismatch, and checks the actor may act on its tenant.
async fn lock(cx: &mut Cx<'_>, id: Uuid) -> Result<Mismatch> {
    let mismatch = load(cx.db(), id, true).await?.ok_or_else(|| Error::not_found("mismatch", id))?;
    cx.require_tenants(&mismatch.tenants())?;
    Ok(mismatch)
}

/// The next status, or the machine's refusal as a rule.
fn step(mismatch: &Mismatch, step: MismatchStep) -> Result<MismatchStatus> {
    transition::<MismatchMachine>(mismatch.status(), step).map_err(|r| Error::rule(r.to_string()))
}

/// Appends a line to the mismatch's history.
pub(crate) async fn history(
    db: &mut PgConnection,
    mismatch: Uuid,
    run_id: Option<Uuid>,
    event: &str,
    status: MismatchStatus,
    actor: &str,
    detail: Value,
) -> Result<()> {
    sqlx::query(
        "insert into ops.reconciliation_mismatch_event (event_id, mismatch_id, run_id, event, status, actor, detail)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(Uuid::now_v7())
    .bind(mismatch)
    .bind(run_id)
    .bind(event)
    .bind(status.name())
    .bind(actor)
    .bind(detail)
    .execute(db)
    .await?;
    Ok(())
}

/// Someone owns it now: OPEN → ACKNOWLEDGED.
#[tracing::instrument(skip_all, fields(actor = %actor.subject, %mismatch_id))]
pub async fn acknowledge(pool: &PgPool, actor: &Actor, mismatch_id: Uuid) -> Result<Mismatch> {
    let envelope = Envelope::new(actor, Action::MismatchAcknowledge).entity(AUDIT_ENTITY, mismatch_id);
    run(pool, envelope, async |cx| {
        let mismatch = lock(cx, mismatch_id).await?;
        let to = step(&mismatch, MismatchStep::Acknowledge)?;
        let who = cx.actor_display();
        sqlx::query(
            "update ops.reconciliation_mismatch set status = $2, acknowledged_by = $3, acknowledged_at = now(), updated_at = now()
             where mismatch_id = $1",
        )
        .bind(mismatch_id)
        .bind(to.name())
        .bind(&who)
        .execute(cx.db())
        .await?;
        history(cx.db(), mismatch_id, None, "ACKNOWLEDGED", to, &who, json!({})).await?;
        cx.record(json!({ "mismatch_id": mismatch_id, "status": to }));
        load(cx.db(), mismatch_id, false).await?.ok_or_else(|| Error::not_found("mismatch", mismatch_id))
    })
    .await
}

crate::form! {
    /// "Not a real mismatch", with why.
    pub struct FalsePositiveForm / FalsePositiveFields {
        reason: String,
    }
}

/// Why a mismatch is a false positive: at least [`FalsePositiveReason::MIN_CHARS`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FalsePositiveReason(String);

impl FalsePositiveReason {
    pub const MIN_CHARS: usize = 10;

    pub fn parse(form: &FalsePositiveForm) -> std::result::Result<Self, FieldErrors> {
        let f = FalsePositiveForm::FIELDS;
        let mut e = FieldErrors::new();
        let text = parse::required_text(&mut e, f.reason, &form.reason, parse::MAX_TEXT, "Say why the check is wrong about it");
        if let Some(text) = &text {
            let n = text.chars().count();
            if n < Self::MIN_CHARS {
                e.add(f.reason, format!("Say why in at least {} characters (this is {n})", Self::MIN_CHARS));
            }
        }
        e.finish(|| FalsePositiveReason(text.expect("checked")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The check was wrong about it: → FALSE_POSITIVE, with the reason (kept; the mismatch is closed).
#[tracing::instrument(skip_all, fields(actor = %actor.subject, %mismatch_id))]
pub async fn mark_false_positive(pool: &PgPool, actor: &Actor, mismatch_id: Uuid, reason: &FalsePositiveReason) -> Result<Mismatch> {
    let envelope =
        Envelope::new(actor, Action::MismatchFalsePositive).entity(AUDIT_ENTITY, mismatch_id).reason(reason.as_str());
    run(pool, envelope, async |cx| {
        let mismatch = lock(cx, mismatch_id).await?;
        let to = step(&mismatch, MismatchStep::MarkFalsePositive)?;
        let who = cx.actor_display();
        sqlx::query(
            "update ops.reconciliation_mismatch
                set status = $2, false_positive_reason = $3, resolved_at = now(), resolved_by = $4, updated_at = now(),
                    resolution = jsonb_build_object('false_positive', $3::text)
              where mismatch_id = $1",
        )
        .bind(mismatch_id)
        .bind(to.name())
        .bind(reason.as_str())
        .bind(&who)
        .execute(cx.db())
        .await?;
        history(cx.db(), mismatch_id, None, "FALSE_POSITIVE", to, &who, json!({ "reason": reason.as_str() })).await?;
        cx.record(json!({ "mismatch_id": mismatch_id, "status": to }));
        load(cx.db(), mismatch_id, false).await?.ok_or_else(|| Error::not_found("mismatch", mismatch_id))
    })
    .await
}

/// Links an open or mitigated incident: the mismatch's entity is named on it and its timeline says so.
#[tracing::instrument(skip_all, fields(actor = %actor.subject, %mismatch_id, %incident))]
pub async fn link_incident(pool: &PgPool, actor: &Actor, mismatch_id: Uuid, incident: IncidentId) -> Result<Mismatch> {
    let envelope = Envelope::new(actor, Action::MismatchLinkIncident).entity(AUDIT_ENTITY, mismatch_id).incident(incident);
    run(pool, envelope, async |cx| {
        let mismatch = lock(cx, mismatch_id).await?;
        if !mismatch.status().is_open() {
            return Err(Error::rule(format!("the mismatch is {}: nothing is left to follow on an incident", mismatch.status)));
        }
        crate::incident::require_active_incident(cx, incident, "incident_id", mismatch.tenant()).await?;
        cx.require_tenants(&mismatch.tenants())?;
        let who = cx.actor_display();
        sqlx::query("update ops.reconciliation_mismatch set incident_id = $2, updated_at = now() where mismatch_id = $1")
            .bind(mismatch_id)
            .bind(incident)
            .execute(cx.db())
            .await?;
        let entities = entity_ref(&mismatch).into_iter().collect::<Vec<_>>();
        crate::incident::attach_entities(cx.db(), incident, &entities).await?;
        timeline::append(
            cx.db(),
            NewEvent {
                incident_id: incident,
                kind: EventKind::System,
                event_type: event_type::MISMATCH_LINKED,
                actor: &who,
                headline: format!(
                    "Reconciliation mismatch linked: {} of {} {} ({})",
                    mismatch.mismatch_type,
                    mismatch.entity_type.to_lowercase(),
                    mismatch.entity_id,
                    mismatch.check_name
                ),
                body: json!({ "mismatch_id": mismatch_id, "check": mismatch.check_name, "kind": mismatch.mismatch_type }),
                entities: &entities,
            },
        )
        .await?;
        history(cx.db(), mismatch_id, None, "INCIDENT_LINKED", mismatch.status(), &who, json!({ "incident_id": incident }))
            .await?;
        cx.record(json!({ "mismatch_id": mismatch_id, "incident_id": incident }));
        load(cx.db(), mismatch_id, false).await?.ok_or_else(|| Error::not_found("mismatch", mismatch_id))
    })
    .await
}

/// The mismatch's entity as an incident names it, when it is one an incident can name.
pub(crate) fn entity_ref(mismatch: &Mismatch) -> Option<EntityRef> {
    let entity_type = EntityType::parse_name(&mismatch.entity_type)?;
    Some(EntityRef { entity_type, entity_id: mismatch.entity_id, tenant_id: mismatch.tenant()? })
}

/// A repair was requested from the mismatch (inside the request's transaction): → REPAIRING, with the
/// repair and its incident. The mismatch must be open and about the repair's entity and tenant.
pub(crate) async fn start_repair(
    db: &mut PgConnection,
    mismatch_id: Uuid,
    repair_id: Uuid,
    repair_entity: Uuid,
    tenant: TenantId,
    incident: IncidentId,
    who: &str,
) -> Result<()> {
    let mismatch = load(db, mismatch_id, true).await?.ok_or_else(|| Error::invalid("mismatch_id", "There is no such mismatch"))?;
    if mismatch.tenant_id != Some(tenant.into()) {
        return Err(Error::invalid("mismatch_id", "The mismatch is about another tenant"));
    }
    let about_entity = mismatch.entity_id == repair_entity
        || mismatch.observed_state.to_string().contains(&repair_entity.to_string());
    if !about_entity {
        return Err(Error::invalid("mismatch_id", "The mismatch is about another entity"));
    }
    let to = step(&mismatch, MismatchStep::StartRepair)?;
    sqlx::query(
        "update ops.reconciliation_mismatch set status = $2, repair_id = $3, incident_id = coalesce(incident_id, $4), updated_at = now()
         where mismatch_id = $1",
    )
    .bind(mismatch_id)
    .bind(to.name())
    .bind(repair_id)
    .bind(incident)
    .execute(&mut *db)
    .await?;
    history(db, mismatch_id, None, "REPAIR_REQUESTED", to, who, json!({ "repair_id": repair_id, "incident_id": incident })).await
}

/// The mismatches still open of any of `entities` (for the Order 360 page: the order's and its quote's).
pub async fn open_for_entities(db: &mut PgConnection, entities: &[Uuid]) -> Result<Vec<Mismatch>> {
    let sql = format!(
        "select {COLUMNS} from {SEEN}
          where entity_id = any($1) and status in ('OPEN', 'ACKNOWLEDGED', 'REPAIRING') order by first_seen_at"
    );
    Ok(sqlx::query_as(&sql).bind(entities).fetch_all(db).await?)
}

crate::form! {
    /// A step without input on a mismatch: `acknowledge` or `recheck`.
    pub struct MismatchStepForm / MismatchStepFields {
        step: String,
    }
}

crate::form! {
    /// Linking an incident.
    pub struct LinkIncidentForm / LinkIncidentFields {
        incident_id: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repair_acts_on_the_mismatch_entity_unless_its_observation_names_the_one_to_act_on() {
        let id = Uuid::now_v7();
        let (older, newer, oldest_event) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        assert_eq!(repair_entity("ORDER", id, Some("resume-orchestration"), &json!({})), Some(id));
        assert_eq!(repair_entity("ORDER", id, None, &json!({})), None, "no repair, nothing to act on");
        let duplicated = json!({ "order_ids": [older.to_string(), newer.to_string()] });
        assert_eq!(repair_entity("QUOTE", id, Some("resolve-duplicate-order"), &duplicated), Some(newer), "the non-canonical order");
        let claims = json!({ "relay": "relay-1", "oldest_event_id": oldest_event.to_string() });
        assert_eq!(repair_entity("OUTBOX_CLAIMS", id, Some("release-stale-claims"), &claims), Some(oldest_event));
        assert_eq!(repair_entity("OUTBOX_CLAIMS", id, Some("release-stale-claims"), &json!({})), None, "no event named");
    }
}
