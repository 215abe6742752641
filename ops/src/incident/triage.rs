//! The triage template (lesson §4.3), every field of it: detection (how and when), severity, affected
//! tenants, affected quote/order ids, first known bad and last known good time, business capability,
//! customer-visible symptom, suspected technical boundary, data integrity risk, side effects already
//! executed, immediate mitigation, recovery owner and communication owner — plus the current hypothesis
//! (lesson §6.1), which status updates repeat.
//!
//! Editable until the incident is CLOSED. Every save that changes something is a new triage version
//! (`operational_incident.triage_version`) and a TRIAGE_SAVED timeline event holding the full snapshot and
//! what changed; a severity change is also its own SEVERITY_CHANGED event. A save that changes nothing
//! writes nothing.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use platform::ids::{OrderId, QuoteId, TenantId};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::affected;
use super::command::{bump_version, check_version, lock_incident, refuse_if_closed, AUDIT_ENTITY};
use super::lifecycle::severity_change_event;
use super::model::{stored, DetectedBy, EntityRef, EntityType, EventKind, Severity};
use super::timeline::{self, event_type, NewEvent};
use crate::command::{run, Action, Cx, Envelope};
use crate::error::Result;
use crate::form::parse::{self as form, MAX_LINE, MAX_TEXT};
use crate::form::FieldErrors;
use crate::identity::Actor;
use crate::ids::IncidentId;

crate::form! {
    /// The triage form as sent. Field names are the template's.
    pub struct TriageForm / TriageFields {
        version: String,
        detected_by: String,
        detected_at: String,
        severity: String,
        tenants: Vec<String>,
        order_ids: String,
        quote_ids: String,
        first_known_bad_at: String,
        last_known_good_at: String,
        business_capability: String,
        customer_symptom: String,
        technical_boundary: String,
        data_integrity_risk: String,
        side_effects_executed: String,
        immediate_mitigation: String,
        current_hypothesis: String,
        recovery_owner: String,
        communication_owner: String,
    }
}

/// A triage that passed every field check; orders and quotes are checked against the tenants when saved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriageForSave {
    pub detected_by: DetectedBy,
    pub detected_at: DateTime<Utc>,
    pub severity: Severity,
    pub tenants: BTreeSet<TenantId>,
    pub orders: Vec<OrderId>,
    pub quotes: Vec<QuoteId>,
    pub first_known_bad_at: Option<DateTime<Utc>>,
    pub last_known_good_at: Option<DateTime<Utc>>,
    pub texts: TriageTexts,
}

/// The template's free-text fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TriageTexts {
    pub business_capability: Option<String>,
    pub customer_symptom: Option<String>,
    pub technical_boundary: Option<String>,
    pub data_integrity_risk: Option<String>,
    pub side_effects_executed: Option<String>,
    pub immediate_mitigation: Option<String>,
    pub current_hypothesis: Option<String>,
    pub recovery_owner: Option<String>,
    pub communication_owner: Option<String>,
}

impl TriageForSave {
    pub fn parse(form: &TriageForm) -> std::result::Result<Self, FieldErrors> {
        let f = TriageForm::FIELDS;
        let mut e = FieldErrors::new();
        let now = Utc::now();
        let detected_by = form::choice::<DetectedBy>(&mut e, f.detected_by, &form.detected_by, "how it was detected");
        let detected_at = form::optional_past_time(&mut e, f.detected_at, &form.detected_at, now);
        if form.detected_at.trim().is_empty() {
            e.add(f.detected_at, "Say when it was detected");
        }
        let severity = form::choice::<Severity>(&mut e, f.severity, &form.severity, "a severity");
        let tenants = form::tenant_ids(&mut e, f.tenants, &form.tenants);
        let orders = form::id_list(&mut e, f.order_ids, &form.order_ids, "order ids", |t| OrderId::parse(t).ok());
        let quotes = form::id_list(&mut e, f.quote_ids, &form.quote_ids, "quote ids", |t| QuoteId::parse(t).ok());
        let first_bad = form::optional_past_time(&mut e, f.first_known_bad_at, &form.first_known_bad_at, now);
        let last_good = form::optional_past_time(&mut e, f.last_known_good_at, &form.last_known_good_at, now);
        if let (Some(good), Some(bad)) = (last_good, first_bad) {
            if good > bad {
                e.add(f.last_known_good_at, "The last known good time must not be after the first known bad time");
            }
        }
        if let (Some(bad), Some(detected)) = (first_bad, detected_at) {
            if bad > detected {
                e.add(f.first_known_bad_at, "The first known bad time must not be after the detection time");
            }
        }
        let texts = TriageTexts {
            business_capability: form::optional_text(
                &mut e,
                f.business_capability,
                &form.business_capability,
                MAX_LINE,
            ),
            customer_symptom: form::optional_text(&mut e, f.customer_symptom, &form.customer_symptom, MAX_TEXT),
            technical_boundary: form::optional_text(&mut e, f.technical_boundary, &form.technical_boundary, MAX_TEXT),
            data_integrity_risk: form::optional_text(
                &mut e,
                f.data_integrity_risk,
                &form.data_integrity_risk,
                MAX_TEXT,
            ),
            side_effects_executed: form::optional_text(
                &mut e,
                f.side_effects_executed,
                &form.side_effects_executed,
                MAX_TEXT,
            ),
            immediate_mitigation: form::optional_text(
                &mut e,
                f.immediate_mitigation,
                &form.immediate_mitigation,
                MAX_TEXT,
            ),
            current_hypothesis: form::optional_text(&mut e, f.current_hypothesis, &form.current_hypothesis, MAX_TEXT),
            recovery_owner: form::optional_text(&mut e, f.recovery_owner, &form.recovery_owner, MAX_LINE),
            communication_owner: form::optional_text(
                &mut e,
                f.communication_owner,
                &form.communication_owner,
                MAX_LINE,
            ),
        };
        e.finish(|| TriageForSave {
            detected_by: detected_by.expect("checked"),
            detected_at: detected_at.expect("checked"),
            severity: severity.expect("checked"),
            tenants,
            orders,
            quotes,
            first_known_bad_at: first_bad,
            last_known_good_at: last_good,
            texts,
        })
    }
}

/// The triage as stored: what the page shows and what each TRIAGE_SAVED event holds in full.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Triage {
    pub triage_version: i32,
    pub detected_by: DetectedBy,
    pub detected_at: DateTime<Utc>,
    pub severity: Severity,
    pub tenants: BTreeSet<TenantId>,
    /// The ORDER and QUOTE entities, sorted.
    pub entities: Vec<EntityRef>,
    pub first_known_bad_at: Option<DateTime<Utc>>,
    pub last_known_good_at: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub texts: TriageTexts,
}

impl Triage {
    /// The form pre-filled with this triage, for editing.
    pub fn to_form(&self) -> TriageForm {
        let ids = |t: EntityType| {
            self.entities
                .iter()
                .filter(|e| e.entity_type == t)
                .map(|e| e.entity_id.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        };
        // Seconds shown (an HTML datetime-local input with step="1" keeps them), so a save round-trips.
        let time = |t: Option<DateTime<Utc>>| t.map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string()).unwrap_or_default();
        let text = |t: &Option<String>| t.clone().unwrap_or_default();
        TriageForm {
            version: String::new(),
            detected_by: self.detected_by.as_str().into(),
            detected_at: time(Some(self.detected_at)),
            severity: self.severity.as_str().into(),
            tenants: self.tenants.iter().map(|t| t.to_string()).collect(),
            order_ids: ids(EntityType::Order),
            quote_ids: ids(EntityType::Quote),
            first_known_bad_at: time(self.first_known_bad_at),
            last_known_good_at: time(self.last_known_good_at),
            business_capability: text(&self.texts.business_capability),
            customer_symptom: text(&self.texts.customer_symptom),
            technical_boundary: text(&self.texts.technical_boundary),
            data_integrity_risk: text(&self.texts.data_integrity_risk),
            side_effects_executed: text(&self.texts.side_effects_executed),
            immediate_mitigation: text(&self.texts.immediate_mitigation),
            current_hypothesis: text(&self.texts.current_hypothesis),
            recovery_owner: text(&self.texts.recovery_owner),
            communication_owner: text(&self.texts.communication_owner),
        }
    }

    /// The template fields that differ between two triages, in template order.
    pub fn changed_fields(&self, other: &Triage) -> Vec<&'static str> {
        let f = TriageForm::FIELDS;
        let (a, b) = (&self.texts, &other.texts);
        [
            (f.detected_by, self.detected_by != other.detected_by),
            (f.detected_at, self.detected_at != other.detected_at),
            (f.severity, self.severity != other.severity),
            (f.tenants, self.tenants != other.tenants),
            (f.order_ids, ids_of(self, EntityType::Order) != ids_of(other, EntityType::Order)),
            (f.quote_ids, ids_of(self, EntityType::Quote) != ids_of(other, EntityType::Quote)),
            (f.first_known_bad_at, self.first_known_bad_at != other.first_known_bad_at),
            (f.last_known_good_at, self.last_known_good_at != other.last_known_good_at),
            (f.business_capability, a.business_capability != b.business_capability),
            (f.customer_symptom, a.customer_symptom != b.customer_symptom),
            (f.technical_boundary, a.technical_boundary != b.technical_boundary),
            (f.data_integrity_risk, a.data_integrity_risk != b.data_integrity_risk),
            (f.side_effects_executed, a.side_effects_executed != b.side_effects_executed),
            (f.immediate_mitigation, a.immediate_mitigation != b.immediate_mitigation),
            (f.current_hypothesis, a.current_hypothesis != b.current_hypothesis),
            (f.recovery_owner, a.recovery_owner != b.recovery_owner),
            (f.communication_owner, a.communication_owner != b.communication_owner),
        ]
        .into_iter()
        .filter(|(_, changed)| *changed)
        .map(|(field, _)| field)
        .collect()
    }
}

fn ids_of(triage: &Triage, t: EntityType) -> BTreeSet<uuid::Uuid> {
    triage.entities.iter().filter(|e| e.entity_type == t).map(|e| e.entity_id).collect()
}

#[derive(sqlx::FromRow)]
struct TriageRow {
    triage_version: i32,
    detected_by: String,
    detected_at: DateTime<Utc>,
    severity: String,
    first_known_bad_at: Option<DateTime<Utc>>,
    last_known_good_at: Option<DateTime<Utc>>,
    business_capability: Option<String>,
    customer_symptom: Option<String>,
    technical_boundary: Option<String>,
    data_integrity_risk: Option<String>,
    side_effects_executed: Option<String>,
    mitigation: Option<String>,
    current_hypothesis: Option<String>,
    recovery_owner: Option<String>,
    communication_owner: Option<String>,
}

pub(crate) async fn load_triage(db: &mut PgConnection, incident_id: IncidentId) -> Result<Triage> {
    let row = sqlx::query_as::<_, TriageRow>(
        "select triage_version, detected_by, detected_at, severity, first_known_bad_at, last_known_good_at,
                business_capability, customer_symptom, technical_boundary, data_integrity_risk,
                side_effects_executed, mitigation, current_hypothesis, recovery_owner, communication_owner
         from ops.operational_incident where incident_id = $1",
    )
    .bind(incident_id)
    .fetch_one(&mut *db)
    .await?;
    let tenants = super::command::incident_tenants(&mut *db, incident_id).await?.into_iter().collect();
    let mut entities: Vec<EntityRef> = affected::entities_of(&mut *db, incident_id)
        .await?
        .into_iter()
        .filter(|e| matches!(e.entity_type, EntityType::Order | EntityType::Quote))
        .collect();
    entities.sort();
    Ok(Triage {
        triage_version: row.triage_version,
        detected_by: stored(&row.detected_by)?,
        detected_at: row.detected_at,
        severity: stored(&row.severity)?,
        tenants,
        entities,
        first_known_bad_at: row.first_known_bad_at,
        last_known_good_at: row.last_known_good_at,
        texts: TriageTexts {
            business_capability: row.business_capability,
            customer_symptom: row.customer_symptom,
            technical_boundary: row.technical_boundary,
            data_integrity_risk: row.data_integrity_risk,
            side_effects_executed: row.side_effects_executed,
            immediate_mitigation: row.mitigation,
            current_hypothesis: row.current_hypothesis,
            recovery_owner: row.recovery_owner,
            communication_owner: row.communication_owner,
        },
    })
}

/// What a triage save did. `changed` empty: nothing differed, nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TriageSaved {
    pub version: i64,
    pub triage_version: i32,
    pub changed: Vec<&'static str>,
}

/// Saves the triage as a new version, if it changes anything.
#[tracing::instrument(skip(pool, actor, input), fields(actor = %actor.subject), err(Display))]
pub async fn save_triage(
    pool: &PgPool,
    actor: &Actor,
    incident_id: IncidentId,
    expected_version: i64,
    input: &TriageForSave,
) -> Result<TriageSaved> {
    let envelope = Envelope::new(actor, Action::IncidentTriage).entity(AUDIT_ENTITY, incident_id).incident(incident_id);
    run(pool, envelope, async |cx| save_triage_in(cx, incident_id, expected_version, input).await).await
}

async fn save_triage_in(
    cx: &mut Cx<'_>,
    incident_id: IncidentId,
    expected_version: i64,
    input: &TriageForSave,
) -> Result<TriageSaved> {
    let locked = lock_incident(cx, incident_id).await?;
    // The actor must be allowed on the tenants it has and on the ones it will have.
    let after_tenants: Vec<TenantId> = input.tenants.iter().copied().collect();
    cx.require_tenants(&after_tenants)?;
    check_version("incident", incident_id, expected_version, locked.version)?;
    refuse_if_closed(&locked, "editing the triage")?;
    let who = cx.actor_display();
    let tx = cx.db();

    let mut entities = affected::resolve(tx, &input.tenants, &input.orders, &input.quotes).await?;
    entities.sort();
    let before = load_triage(tx, incident_id).await?;
    let after = Triage {
        triage_version: before.triage_version + 1,
        detected_by: input.detected_by,
        detected_at: input.detected_at,
        severity: input.severity,
        tenants: input.tenants.clone(),
        entities,
        first_known_bad_at: input.first_known_bad_at,
        last_known_good_at: input.last_known_good_at,
        texts: input.texts.clone(),
    };
    let changed = before.changed_fields(&after);
    if changed.is_empty() {
        return Ok(TriageSaved { version: locked.version, triage_version: before.triage_version, changed });
    }

    let now = Utc::now();
    let version = bump_version(tx, &locked, now).await?;
    let due = super::lifecycle::rescheduled_due(&locked, after.severity, now);
    let t = &after.texts;
    sqlx::query(
        "update ops.operational_incident set
           detected_by = $2, detected_at = $3, severity = $4, first_known_bad_at = $5, last_known_good_at = $6,
           business_capability = $7, customer_symptom = $8, technical_boundary = $9, data_integrity_risk = $10,
           side_effects_executed = $11, mitigation = $12, current_hypothesis = $13, recovery_owner = $14,
           communication_owner = $15, triage_version = $16, next_update_due_at = $17
         where incident_id = $1",
    )
    .bind(incident_id)
    .bind(after.detected_by.as_str())
    .bind(after.detected_at)
    .bind(after.severity.as_str())
    .bind(after.first_known_bad_at)
    .bind(after.last_known_good_at)
    .bind(&t.business_capability)
    .bind(&t.customer_symptom)
    .bind(&t.technical_boundary)
    .bind(&t.data_integrity_risk)
    .bind(&t.side_effects_executed)
    .bind(&t.immediate_mitigation)
    .bind(&t.current_hypothesis)
    .bind(&t.recovery_owner)
    .bind(&t.communication_owner)
    .bind(after.triage_version)
    .bind(due)
    .execute(&mut *tx)
    .await?;
    affected::replace(tx, incident_id, &after.tenants, &after.entities).await?;
    affected::mirror_single_values(tx, incident_id, &after.tenants, &after.entities).await?;

    timeline::append(
        tx,
        NewEvent {
            incident_id,
            kind: EventKind::System,
            event_type: event_type::TRIAGE_SAVED,
            actor: &who,
            headline: format!("Triage v{} saved: {} changed", after.triage_version, changed.join(", ")),
            body: json!({
                "triage_version": after.triage_version,
                "version": version,
                "changed": changed,
                "before": before,
                "triage": after,
            }),
            entities: &after.entities,
        },
    )
    .await?;
    if before.severity != after.severity {
        let reason = format!("changed in triage v{}", after.triage_version);
        timeline::append(tx, severity_change_event(incident_id, &who, before.severity, after.severity, &reason, due))
            .await?;
    }
    cx.record(json!({ "triage_version": after.triage_version, "version": version, "changed": changed }));
    Ok(TriageSaved { version, triage_version: after.triage_version, changed })
}
