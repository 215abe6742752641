//! Declaring an incident (lesson §4): severity, how it was detected, a one-line summary, the affected
//! tenants and the orders/quotes known so far. The first status update falls due on the severity's
//! cadence from the moment of declaration.

use std::collections::BTreeSet;

use chrono::{DateTime, SubsecRound, Utc};
use platform::ids::{OrderId, QuoteId, TenantId};
use serde::Serialize;
use serde_json::json;
use sqlx::PgPool;

use super::affected;
use super::command::AUDIT_ENTITY;
use super::model::{next_update_due, DetectedBy, EventKind, Severity};
use super::timeline::{self, event_type, NewEvent};
use crate::command::{run, Action, Cx, Envelope};
use crate::error::Result;
use crate::form::{parse, FieldErrors};
use crate::identity::Actor;
use crate::ids::IncidentId;

/// The longest summary (`operational_incident.summary` checks 1..=500).
pub const MAX_SUMMARY: usize = 500;

crate::form! {
    /// The declare form as sent: every value a string, nothing trusted yet.
    pub struct DeclareForm / DeclareFields {
        severity: String,
        detected_by: String,
        /// Blank: now.
        detected_at: String,
        summary: String,
        /// Tenant ids (checkboxes). None: a platform-wide incident (only All-scope actors may declare one).
        tenants: Vec<String>,
        /// Order ids, separated by spaces, commas or lines.
        order_ids: String,
        quote_ids: String,
    }
}

/// A declaration that passed every field check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentForDeclare {
    pub severity: Severity,
    pub detected_by: DetectedBy,
    pub detected_at: Option<DateTime<Utc>>,
    pub summary: String,
    pub tenants: BTreeSet<TenantId>,
    pub orders: Vec<OrderId>,
    pub quotes: Vec<QuoteId>,
}

impl IncidentForDeclare {
    pub fn parse(form: &DeclareForm) -> std::result::Result<Self, FieldErrors> {
        let f = DeclareForm::FIELDS;
        let mut errors = FieldErrors::new();
        let now = Utc::now();
        let severity = parse::choice::<Severity>(&mut errors, f.severity, &form.severity, "a severity");
        let detected_by =
            parse::choice::<DetectedBy>(&mut errors, f.detected_by, &form.detected_by, "how it was detected");
        let detected_at = parse::optional_past_time(&mut errors, f.detected_at, &form.detected_at, now);
        let summary =
            parse::required_text(&mut errors, f.summary, &form.summary, MAX_SUMMARY, "Say in one line what is broken");
        let tenants = parse::tenant_ids(&mut errors, f.tenants, &form.tenants);
        let orders = parse::id_list(&mut errors, f.order_ids, &form.order_ids, "order ids", |t| OrderId::parse(t).ok());
        let quotes = parse::id_list(&mut errors, f.quote_ids, &form.quote_ids, "quote ids", |t| QuoteId::parse(t).ok());
        errors.finish(|| IncidentForDeclare {
            severity: severity.expect("checked"),
            detected_by: detected_by.expect("checked"),
            detected_at,
            summary: summary.expect("checked"),
            tenants,
            orders,
            quotes,
        })
    }
}

/// What declaring did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Declared {
    pub incident_id: IncidentId,
    pub incident_number: i64,
    pub version: i64,
    pub next_update_due_at: DateTime<Utc>,
}

/// Declares an incident: one transaction writes the incident, its tenants and entities, the DECLARED
/// timeline event and the audit line.
#[tracing::instrument(skip(pool, actor, input), fields(actor = %actor.subject, severity = %input.severity), err(Display))]
pub async fn declare_incident(pool: &PgPool, actor: &Actor, input: &IncidentForDeclare) -> Result<Declared> {
    let envelope = Envelope::new(actor, Action::IncidentDeclare).tenants(input.tenants.iter().copied());
    run(pool, envelope, async |cx| declare_in(cx, input).await).await
}

pub(crate) async fn declare_in(cx: &mut Cx<'_>, input: &IncidentForDeclare) -> Result<Declared> {
    let who = cx.actor_display();
    let tx = cx.db();
    let entities = affected::resolve(tx, &input.tenants, &input.orders, &input.quotes).await?;

    let incident_id = IncidentId::new();
    let now = Utc::now();
    // Whole seconds: the triage form shows seconds, so a save round-trips the time exactly.
    let detected_at = input.detected_at.unwrap_or(now.trunc_subsecs(0));
    let due = next_update_due(input.severity, now);
    let incident_number: i64 = sqlx::query_scalar(
        "insert into ops.operational_incident
           (incident_id, severity, status, detected_at, detected_by, summary, next_update_due_at, created_by,
            created_at, updated_at)
         values ($1, $2, 'OPEN', $3, $4, $5, $6, $7, $8, $8)
         returning incident_number",
    )
    .bind(incident_id)
    .bind(input.severity.as_str())
    .bind(detected_at)
    .bind(input.detected_by.as_str())
    .bind(&input.summary)
    .bind(due)
    .bind(&who)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    let tenants: Vec<TenantId> = input.tenants.iter().copied().collect();
    affected::insert_tenants(tx, incident_id, &tenants).await?;
    affected::insert_entities(tx, incident_id, &entities).await?;
    affected::mirror_single_values(tx, incident_id, &input.tenants, &entities).await?;

    timeline::append(
        tx,
        NewEvent {
            incident_id,
            kind: EventKind::System,
            event_type: event_type::DECLARED,
            actor: &who,
            headline: format!(
                "Declared {} by {}: {}",
                input.severity.label(),
                input.detected_by.label(),
                input.summary
            ),
            body: json!({
                "severity": input.severity,
                "detected_by": input.detected_by,
                "detected_at": detected_at,
                "summary": input.summary,
                "tenants": tenants,
                "next_update_due_at": due,
            }),
            entities: &entities,
        },
    )
    .await?;
    cx.about(AUDIT_ENTITY, incident_id);
    cx.record(json!({ "incident_number": incident_number, "severity": input.severity, "entities": entities.len() }));
    tracing::info!(%incident_id, incident_number, severity = %input.severity, "incident declared");
    Ok(Declared { incident_id, incident_number, version: 1, next_update_due_at: due })
}
