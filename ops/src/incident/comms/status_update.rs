//! Status updates (lesson §20), posted by the comms role only.
//!
//! * INTERNAL: the internal update template with all its fields — status (Investigating / Mitigating /
//!   Recovering / Resolved), severity (the incident's, at posting), started, affected capability, affected
//!   tenants/customers, customer impact, current hypothesis, mitigation applied, next update, owner — plus
//!   optional notes. The stored body is the template filled in.
//! * CUSTOMER (lesson §20.2: "say the capability affected and what customer action is needed"): the
//!   affected capability in the customer's words, what the customer must do ("Nothing" is a valid answer),
//!   a message, a status and the next update time. Each text passes the guard in [`super::customer_text`]
//!   or the update is refused with the offending words at its field; nothing of the internal template goes
//!   with it, so a customer channel only ever sees guarded text. The stored body is exactly what customers
//!   read. It goes only to the customer webhooks configured for one of the incident's tenants.
//!
//! Posting sets the incident's `next_update_due_at` (the next update time given, which may not lie beyond
//! the severity's cadence, or the cadence from now). It does not move the incident's version: an update
//! changes no content, so it does not make an operator's open triage form stale — but it does take the
//! version its form was rendered with, so comms never post over a change they have not seen.
//!
//! Delivery goes through the transactional outbox: in the posting transaction, a `StatusUpdatePosted`
//! event (aggregate `incident`) is enqueued for the relay, and one `notification_delivery` row per webhook
//! that receives the audience is written PENDING for the delivery worker ([`super::delivery`]).

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use platform::named_enum;
use platform::outbox::{self, NewEvent as OutboxEvent};
use serde::Serialize;
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::customer_text::check_customer_text;
use super::delivery::Delivery;
use super::webhook::Webhooks;
use crate::command::{read, run, Action, Cx, Envelope};
use crate::error::{Error, Result};
use crate::form::parse::{self as form, MAX_LINE, MAX_TEXT};
use crate::form::FieldErrors;
use crate::identity::Actor;
use crate::ids::{DeliveryId, IncidentId, StatusUpdateId};
use crate::incident::command::{check_version, lock_incident, refuse_if_closed, visible_incident, AUDIT_ENTITY};
use crate::incident::model::{next_update_due, stored, EventKind, IncidentStatus, Severity};
use crate::incident::timeline::{self, event_type, first_line, NewEvent};

/// The outbox aggregate type of incident events (Kafka topic `opsdeck.incident`).
pub const AGGREGATE_INCIDENT: &str = "incident";
/// The outbox event type of a posted status update.
pub const STATUS_UPDATE_POSTED: &str = "StatusUpdatePosted";
/// The outbox row's tenant when an incident concerns several tenants or none (the column is required):
/// the nil UUID, "platform-wide". The payload lists the tenants.
pub const PLATFORM_WIDE_TENANT: TenantId = TenantId::from_uuid(Uuid::nil());
/// The longest customer message.
pub const MAX_CUSTOMER_MESSAGE: usize = 2000;

named_enum!(/// Who an update is for.
Audience {
    Internal => "INTERNAL",
    Customer => "CUSTOMER",
});

impl PartialOrd for Audience {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Audience {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

named_enum!(/// The update template's status line (lesson §20.1).
UpdateStatus {
    Investigating => "INVESTIGATING",
    Mitigating => "MITIGATING",
    Recovering => "RECOVERING",
    Resolved => "RESOLVED",
});

impl UpdateStatus {
    pub fn label(self) -> &'static str {
        match self {
            UpdateStatus::Investigating => "Investigating",
            UpdateStatus::Mitigating => "Mitigating",
            UpdateStatus::Recovering => "Recovering",
            UpdateStatus::Resolved => "Resolved",
        }
    }

    /// The status a draft proposes for an incident in `status`.
    pub fn suggested_for(status: IncidentStatus) -> UpdateStatus {
        match status {
            IncidentStatus::Open => UpdateStatus::Investigating,
            IncidentStatus::Mitigated => UpdateStatus::Recovering,
            IncidentStatus::Resolved | IncidentStatus::Closed => UpdateStatus::Resolved,
        }
    }
}

crate::form! {
    /// The status update form as sent. For CUSTOMER updates only `status`, `message` and `next_update_at`
    /// are read.
    pub struct StatusUpdateForm / StatusUpdateFields {
        version: String,
        audience: String,
        status: String,
        started_at: String,
        affected_capability: String,
        affected_tenants: String,
        customer_impact: String,
        current_hypothesis: String,
        mitigation_applied: String,
        /// Blank: the severity's cadence from now.
        next_update_at: String,
        owner: String,
        /// INTERNAL: optional notes under the template. CUSTOMER: the message customers read (guarded).
        message: String,
        /// CUSTOMER: what customers need to do ("Nothing" is a valid answer).
        customer_action: String,
    }
}

/// The internal template, filled in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InternalUpdate {
    pub started_at: DateTime<Utc>,
    pub affected_capability: String,
    pub affected_tenants: String,
    pub customer_impact: String,
    pub current_hypothesis: String,
    pub mitigation_applied: String,
    pub owner: String,
    pub notes: Option<String>,
}

/// A message that passed the customer-facing guard; there is no other way to make one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct CustomerMessage(String);

impl CustomerMessage {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A customer update: every part guarded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerUpdate {
    /// The capability affected, in the customer's words ("Order confirmations").
    pub capability: CustomerMessage,
    pub message: CustomerMessage,
    /// What the customer must do; "Nothing" is a valid answer.
    pub action: CustomerMessage,
}

impl CustomerUpdate {
    /// The text customers read, as stored and sent.
    pub fn body(&self) -> String {
        format!(
            "Affected: {}\n{}\nWhat you need to do: {}",
            self.capability.as_str(),
            self.message.as_str(),
            self.action.as_str()
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateContent {
    Internal(InternalUpdate),
    Customer(CustomerUpdate),
}

/// An update that passed every field check (and, for customers, the guard).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusUpdateForPost {
    pub status: UpdateStatus,
    pub next_update_at: Option<DateTime<Utc>>,
    pub content: UpdateContent,
}

impl StatusUpdateForPost {
    pub fn audience(&self) -> Audience {
        match self.content {
            UpdateContent::Internal(_) => Audience::Internal,
            UpdateContent::Customer(_) => Audience::Customer,
        }
    }

    pub fn parse(form: &StatusUpdateForm) -> std::result::Result<Self, FieldErrors> {
        let f = StatusUpdateForm::FIELDS;
        let mut e = FieldErrors::new();
        let audience = form::choice::<Audience>(&mut e, f.audience, &form.audience, "who the update is for");
        let status = form::choice::<UpdateStatus>(&mut e, f.status, &form.status, "a status");
        let next_update_at = form::optional_time(&mut e, f.next_update_at, &form.next_update_at);
        let content = match audience {
            Some(Audience::Internal) => {
                let mut line =
                    |field, input: &str, missing| form::required_text(&mut e, field, input, MAX_LINE, missing);
                let affected_capability =
                    line(f.affected_capability, &form.affected_capability, "Name the affected capability");
                let owner = line(f.owner, &form.owner, "Name the owner of this incident's communication");
                let mut text =
                    |field, input: &str, missing| form::required_text(&mut e, field, input, MAX_TEXT, missing);
                let affected_tenants =
                    text(f.affected_tenants, &form.affected_tenants, "Name the affected tenants or customers");
                let customer_impact = text(f.customer_impact, &form.customer_impact, "Say what customers experience");
                let current_hypothesis = text(
                    "current_hypothesis",
                    &form.current_hypothesis,
                    "Give the current hypothesis (or say there is none yet)",
                );
                let mitigation_applied = text(
                    "mitigation_applied",
                    &form.mitigation_applied,
                    "Say what mitigation is applied (or that none is yet)",
                );
                let started_at = form::optional_time(&mut e, f.started_at, &form.started_at);
                if form.started_at.trim().is_empty() {
                    e.add(f.started_at, "Say when it started");
                }
                let notes = form::optional_text(&mut e, f.message, &form.message, MAX_TEXT);
                match (
                    started_at,
                    affected_capability,
                    affected_tenants,
                    customer_impact,
                    current_hypothesis,
                    mitigation_applied,
                    owner,
                ) {
                    (
                        Some(started_at),
                        Some(cap),
                        Some(tenants),
                        Some(impact),
                        Some(hypothesis),
                        Some(mitigation),
                        Some(owner),
                    ) => Some(UpdateContent::Internal(InternalUpdate {
                        started_at,
                        affected_capability: cap,
                        affected_tenants: tenants,
                        customer_impact: impact,
                        current_hypothesis: hypothesis,
                        mitigation_applied: mitigation,
                        owner,
                        notes,
                    })),
                    _ => None,
                }
            }
            Some(Audience::Customer) => {
                let mut guarded = |field: &'static str, input: &str, max: usize, missing: &str| {
                    let text = form::required_text(&mut e, field, input, max, missing)?;
                    match check_customer_text(&text) {
                        Ok(()) => Some(CustomerMessage(text)),
                        Err(details) => {
                            e.add(field, details.to_string());
                            None
                        }
                    }
                };
                let capability = guarded(
                    f.affected_capability,
                    &form.affected_capability,
                    MAX_LINE,
                    "Name the affected capability in your customers' words (for example \"Order confirmations\")",
                );
                let message = guarded(
                    f.message,
                    &form.message,
                    MAX_CUSTOMER_MESSAGE,
                    "Write what customers should know about the capability affected",
                );
                let action = guarded(
                    f.customer_action,
                    &form.customer_action,
                    MAX_LINE,
                    "Say what customers need to do (\"Nothing\" is a valid answer)",
                );
                match (capability, message, action) {
                    (Some(capability), Some(message), Some(action)) => {
                        Some(UpdateContent::Customer(CustomerUpdate { capability, message, action }))
                    }
                    _ => None,
                }
            }
            None => None,
        };
        e.finish(|| StatusUpdateForPost {
            status: status.expect("checked"),
            next_update_at,
            content: content.expect("checked"),
        })
    }
}

/// What posting did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusUpdatePosted {
    pub update_id: StatusUpdateId,
    pub posted_at: DateTime<Utc>,
    pub next_update_due_at: DateTime<Utc>,
    /// The webhooks it will be delivered to.
    pub webhooks: Vec<String>,
}

/// The text a webhook receives (Slack-compatible `{"text": ...}`). A customer update carries the guarded
/// message and public facts only (status, next update time) — not the incident number or summary.
pub fn webhook_text(
    incident_number: i64,
    severity: Severity,
    audience: Audience,
    status: UpdateStatus,
    body: &str,
    next_update_at: Option<DateTime<Utc>>,
) -> String {
    match audience {
        Audience::Internal => {
            format!("*INC-{incident_number} · {} · {}* (internal update)\n{body}", severity.label(), status.label())
        }
        Audience::Customer => {
            let mut text = format!("Service update: {}\n{body}", status.label());
            if let Some(next) = next_update_at {
                text.push_str(&format!("\nNext update by {} UTC.", next.format("%Y-%m-%d %H:%M")));
            }
            text
        }
    }
}

/// The internal template filled in (lesson §20.1), as stored in `status_update.body`.
pub fn render_internal(
    update: &InternalUpdate,
    status: UpdateStatus,
    severity: Severity,
    next_update_at: DateTime<Utc>,
) -> String {
    let time = |t: DateTime<Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    let mut body = format!(
        "Status: {}\nSeverity: {}\nStarted: {}\nAffected capability: {}\nAffected tenants/customers: {}\n\
         Customer impact: {}\nCurrent hypothesis: {}\nMitigation applied: {}\nNext update: {}\nOwner: {}",
        status.label(),
        severity.label(),
        time(update.started_at),
        update.affected_capability,
        update.affected_tenants,
        update.customer_impact,
        update.current_hypothesis,
        update.mitigation_applied,
        time(next_update_at),
        update.owner,
    );
    if let Some(notes) = &update.notes {
        body.push_str("\n\n");
        body.push_str(notes);
    }
    body
}

/// Posts a status update and queues its deliveries, in one transaction.
#[tracing::instrument(skip(pool, actor, input, webhooks), fields(actor = %actor.subject, audience = %input.audience()), err(Display))]
pub async fn post_status_update(
    pool: &PgPool,
    actor: &Actor,
    incident_id: IncidentId,
    expected_version: i64,
    input: &StatusUpdateForPost,
    webhooks: &Webhooks,
) -> Result<StatusUpdatePosted> {
    let envelope =
        Envelope::new(actor, Action::StatusUpdatePost).entity(AUDIT_ENTITY, incident_id).incident(incident_id);
    run(pool, envelope, async |cx| post_in(cx, incident_id, expected_version, input, webhooks).await).await
}

async fn post_in(
    cx: &mut Cx<'_>,
    incident_id: IncidentId,
    expected_version: i64,
    input: &StatusUpdateForPost,
    webhooks: &Webhooks,
) -> Result<StatusUpdatePosted> {
    let locked = lock_incident(cx, incident_id).await?;
    check_version("incident", incident_id, expected_version, locked.version)?;
    refuse_if_closed(&locked, "posting a status update")?;
    let who = cx.actor_display();
    let tx = cx.db();
    let f = StatusUpdateForm::FIELDS;

    let now = Utc::now();
    let latest = next_update_due(locked.severity, now);
    let due = match input.next_update_at {
        None => latest,
        Some(at) if at <= now => {
            return Err(Error::invalid(f.next_update_at, "The next update must be in the future"))
        }
        Some(at) if at > latest => {
            return Err(Error::invalid(
                f.next_update_at,
                format!(
                    "{} updates are due at least every {} minutes: choose {} UTC or earlier",
                    locked.severity.label(),
                    locked.severity.update_interval().num_minutes(),
                    latest.format("%Y-%m-%d %H:%M")
                ),
            ))
        }
        Some(at) => at,
    };
    let audience = input.audience();
    let update_id = StatusUpdateId::new();
    let (body, internal, customer) = match &input.content {
        UpdateContent::Internal(update) => {
            (render_internal(update, input.status, locked.severity, due), Some(update), None)
        }
        UpdateContent::Customer(update) => (update.body(), None, Some(update)),
    };
    sqlx::query(
        "insert into ops.status_update
           (update_id, incident_id, audience, update_status, severity, started_at, affected_capability, affected_tenants,
            customer_impact, current_hypothesis, mitigation_applied, next_update_at, owner, body, posted_by, posted_at,
            customer_action)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    )
    .bind(update_id)
    .bind(incident_id)
    .bind(audience.as_str())
    .bind(input.status.as_str())
    .bind(locked.severity.as_str())
    .bind(internal.map(|u| u.started_at))
    .bind(internal.map(|u| u.affected_capability.as_str()).or(customer.map(|c| c.capability.as_str())))
    .bind(internal.map(|u| u.affected_tenants.as_str()))
    .bind(internal.map(|u| u.customer_impact.as_str()))
    .bind(internal.map(|u| u.current_hypothesis.as_str()))
    .bind(internal.map(|u| u.mitigation_applied.as_str()))
    .bind(due)
    .bind(internal.map(|u| u.owner.as_str()))
    .bind(&body)
    .bind(&who)
    .bind(now)
    .bind(customer.map(|c| c.action.as_str()))
    .execute(&mut *tx)
    .await?;
    // Bookkeeping, not content: the version stays (see the module doc).
    sqlx::query("update ops.operational_incident set next_update_due_at = $2, updated_at = $3 where incident_id = $1")
        .bind(incident_id)
        .bind(due)
        .bind(now)
        .execute(&mut *tx)
        .await?;

    let tenant_refs = crate::incident::affected::tenant_refs(tx, &locked.tenants).await?;
    let targets: Vec<String> = webhooks.for_update(audience, &tenant_refs).map(|w| w.name.clone()).collect();
    let ids: Vec<DeliveryId> = targets.iter().map(|_| DeliveryId::new()).collect();
    sqlx::query(
        "insert into ops.notification_delivery (delivery_id, update_id, webhook_name, status, next_attempt_at, created_at)
         select id, $1, name, 'PENDING', $4, $4 from unnest($2::uuid[], $3::text[]) as d(id, name)",
    )
    .bind(update_id)
    .bind(&ids)
    .bind(&targets)
    .bind(now)
    .execute(&mut *tx)
    .await?;

    let text = webhook_text(locked.incident_number, locked.severity, audience, input.status, &body, Some(due));
    outbox::enqueue(
        tx,
        OutboxEvent {
            tenant_id: match locked.tenants.as_slice() {
                [one] => *one,
                _ => PLATFORM_WIDE_TENANT,
            },
            aggregate_type: AGGREGATE_INCIDENT,
            aggregate_id: incident_id.as_uuid(),
            aggregate_version: locked.version,
            event_type: STATUS_UPDATE_POSTED,
            payload: &json!({
                "incident_id": incident_id,
                "incident_number": locked.incident_number,
                "update_id": update_id,
                "audience": audience,
                "status": input.status,
                "severity": locked.severity,
                "tenants": locked.tenants,
                "text": text,
                "next_update_due_at": due,
                "posted_at": now,
                "webhooks": targets,
            }),
            correlation_id: Some(update_id.as_uuid()),
        },
    )
    .await?;

    let headline = match audience {
        Audience::Internal => format!("Internal update posted ({})", input.status.label()),
        Audience::Customer => format!("Customer update posted ({}): {}", input.status.label(), first_line(&body, 100)),
    };
    timeline::append(
        tx,
        NewEvent {
            incident_id,
            kind: EventKind::System,
            event_type: event_type::STATUS_UPDATE_POSTED,
            actor: &who,
            headline,
            body: json!({
                "update_id": update_id,
                "audience": audience,
                "status": input.status,
                "severity": locked.severity,
                "body": body,
                "next_update_due_at": due,
                "webhooks": targets,
            }),
            entities: &[],
        },
    )
    .await?;
    cx.record(json!({ "update_id": update_id, "audience": audience, "status": input.status, "webhooks": targets }));
    Ok(StatusUpdatePosted { update_id, posted_at: now, next_update_due_at: due, webhooks: targets })
}

/// A status form pre-filled from the incident (triage, tenants, cadence) for `audience`.
pub async fn draft_status_update(
    pool: &PgPool,
    actor: &Actor,
    incident_id: IncidentId,
    audience: Audience,
) -> Result<StatusUpdateForm> {
    let envelope = Envelope::new(actor, Action::IncidentRead).entity(AUDIT_ENTITY, incident_id);
    read(pool, envelope, async |cx| draft_in(cx, incident_id, audience).await).await
}

async fn draft_in(cx: &mut Cx<'_>, incident_id: IncidentId, audience: Audience) -> Result<StatusUpdateForm> {
    let tenants = visible_incident(cx, incident_id).await?;
    let owner = cx.actor.name.clone();
    draft_for(cx.db(), incident_id, &tenants, audience, owner).await
}

/// The draft of an update for `audience`, from the incident's triage and tenants: the internal template
/// filled in from what triage knows (the communication owner, or `owner`), the status the incident's
/// state suggests, the next update on the severity's cadence, and the version to post against.
pub(crate) async fn draft_for(
    conn: &mut PgConnection,
    incident_id: IncidentId,
    tenants: &[TenantId],
    audience: Audience,
    owner: String,
) -> Result<StatusUpdateForm> {
    let row = sqlx::query_as::<_, DraftRow>(
        "select status, severity, version, detected_at, first_known_bad_at, business_capability, customer_symptom,
                impact_customer, current_hypothesis, mitigation, communication_owner
         from ops.operational_incident where incident_id = $1",
    )
    .bind(incident_id)
    .fetch_one(&mut *conn)
    .await?;
    let status: IncidentStatus = stored(&row.status)?;
    let severity: Severity = stored(&row.severity)?;
    let names = crate::incident::affected::tenant_refs(conn, tenants).await?;
    let time = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M").to_string();
    let form = StatusUpdateForm {
        version: row.version.to_string(),
        audience: audience.as_str().into(),
        status: UpdateStatus::suggested_for(status).as_str().into(),
        next_update_at: time(next_update_due(severity, Utc::now())),
        ..Default::default()
    };
    Ok(match audience {
        Audience::Customer => form,
        Audience::Internal => StatusUpdateForm {
            started_at: time(row.first_known_bad_at.unwrap_or(row.detected_at)),
            affected_capability: row.business_capability.unwrap_or_default(),
            affected_tenants: if names.is_empty() {
                "all tenants (platform-wide)".into()
            } else {
                names.iter().map(|t| t.name.as_str()).collect::<Vec<_>>().join(", ")
            },
            customer_impact: row.customer_symptom.or(row.impact_customer).unwrap_or_default(),
            current_hypothesis: row.current_hypothesis.unwrap_or_default(),
            mitigation_applied: row.mitigation.unwrap_or_default(),
            owner: row.communication_owner.unwrap_or(owner),
            ..form
        },
    })
}

#[derive(sqlx::FromRow)]
struct DraftRow {
    status: String,
    severity: String,
    version: i64,
    detected_at: DateTime<Utc>,
    first_known_bad_at: Option<DateTime<Utc>>,
    business_capability: Option<String>,
    customer_symptom: Option<String>,
    impact_customer: Option<String>,
    current_hypothesis: Option<String>,
    mitigation: Option<String>,
    communication_owner: Option<String>,
}

/// A posted update, with its deliveries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusUpdate {
    pub update_id: StatusUpdateId,
    pub audience: Audience,
    pub status: UpdateStatus,
    pub severity: Severity,
    pub started_at: Option<DateTime<Utc>>,
    pub affected_capability: Option<String>,
    pub affected_tenants: Option<String>,
    pub customer_impact: Option<String>,
    pub current_hypothesis: Option<String>,
    pub mitigation_applied: Option<String>,
    pub next_update_at: Option<DateTime<Utc>>,
    pub owner: Option<String>,
    /// CUSTOMER: what customers were asked to do.
    pub customer_action: Option<String>,
    pub body: String,
    pub posted_by: String,
    pub posted_at: DateTime<Utc>,
    pub deliveries: Vec<Delivery>,
}

#[derive(sqlx::FromRow)]
struct UpdateRow {
    update_id: StatusUpdateId,
    audience: String,
    update_status: String,
    severity: String,
    started_at: Option<DateTime<Utc>>,
    affected_capability: Option<String>,
    affected_tenants: Option<String>,
    customer_impact: Option<String>,
    current_hypothesis: Option<String>,
    mitigation_applied: Option<String>,
    next_update_at: Option<DateTime<Utc>>,
    owner: Option<String>,
    customer_action: Option<String>,
    body: String,
    posted_by: String,
    posted_at: DateTime<Utc>,
}

/// The incident's updates, newest first, each with its deliveries. Relies on `ix_status_update_incident`.
pub(crate) async fn updates_of(db: &mut PgConnection, incident_id: IncidentId) -> Result<Vec<StatusUpdate>> {
    let rows = sqlx::query_as::<_, UpdateRow>(
        "select update_id, audience, update_status, severity, started_at, affected_capability, affected_tenants,
                customer_impact, current_hypothesis, mitigation_applied, next_update_at, owner, customer_action, body,
                posted_by, posted_at
         from ops.status_update where incident_id = $1 order by posted_at desc, update_id desc",
    )
    .bind(incident_id)
    .fetch_all(&mut *db)
    .await?;
    let ids: Vec<StatusUpdateId> = rows.iter().map(|r| r.update_id).collect();
    let mut deliveries = super::delivery::deliveries_of(db, &ids).await?;
    rows.into_iter()
        .map(|r| {
            Ok(StatusUpdate {
                update_id: r.update_id,
                audience: stored(&r.audience)?,
                status: stored(&r.update_status)?,
                severity: stored(&r.severity)?,
                started_at: r.started_at,
                affected_capability: r.affected_capability,
                affected_tenants: r.affected_tenants,
                customer_impact: r.customer_impact,
                current_hypothesis: r.current_hypothesis,
                mitigation_applied: r.mitigation_applied,
                next_update_at: r.next_update_at,
                owner: r.owner,
                customer_action: r.customer_action,
                body: r.body,
                posted_by: r.posted_by,
                posted_at: r.posted_at,
                deliveries: deliveries.remove(&r.update_id).unwrap_or_default(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn internal_form() -> StatusUpdateForm {
        StatusUpdateForm {
            audience: "INTERNAL".into(),
            status: "INVESTIGATING".into(),
            started_at: "2026-11-25T09:40".into(),
            affected_capability: "Order capture".into(),
            affected_tenants: "Acme Corporation".into(),
            customer_impact: "Submitted orders stay pending".into(),
            current_hypothesis: "Kafka consumer lag on the order projection".into(),
            mitigation_applied: "Paused retries".into(),
            owner: "Cora Comms".into(),
            ..Default::default()
        }
    }

    #[test]
    fn an_internal_update_needs_every_template_field_and_may_name_internals() {
        let update = StatusUpdateForPost::parse(&internal_form()).unwrap();
        assert_eq!(update.audience(), Audience::Internal);
        let errors =
            StatusUpdateForPost::parse(&StatusUpdateForm { audience: "INTERNAL".into(), ..Default::default() })
                .unwrap_err();
        for field in [
            "status",
            "started_at",
            "affected_capability",
            "affected_tenants",
            "customer_impact",
            "current_hypothesis",
            "mitigation_applied",
            "owner",
        ] {
            assert!(errors.contains(field), "{field} missing from {errors}");
        }
    }

    #[test]
    fn a_customer_update_naming_internals_is_refused_at_the_message_with_the_words() {
        let form = StatusUpdateForm {
            audience: "CUSTOMER".into(),
            status: "INVESTIGATING".into(),
            message: "Camunda job executor failed because Kafka consumer lag caused order worker retries.".into(),
            ..Default::default()
        };
        let errors = StatusUpdateForPost::parse(&form).unwrap_err();
        let message = errors.get("message").unwrap();
        for word in ["Camunda", "job executor", "Kafka", "consumer lag"] {
            assert!(message.contains(&format!("\"{word}\"")), "{word} not in {message}");
        }
    }

    #[test]
    fn a_customer_update_names_the_capability_and_what_customers_must_do() {
        let form = StatusUpdateForm {
            audience: "CUSTOMER".into(),
            status: "INVESTIGATING".into(),
            message: "Some submitted orders are delayed.".into(),
            ..Default::default()
        };
        let errors = StatusUpdateForPost::parse(&form).unwrap_err();
        assert!(errors.get("affected_capability").unwrap().starts_with("Name the affected capability"));
        assert_eq!(errors.get("customer_action"), Some("Say what customers need to do (\"Nothing\" is a valid answer)"));
        let leaky = StatusUpdateForm {
            affected_capability: "Kafka order events".into(),
            customer_action: "Restart the consumer group".into(),
            ..form
        };
        let errors = StatusUpdateForPost::parse(&leaky).unwrap_err();
        assert!(errors.get("affected_capability").unwrap().contains("\"Kafka\""), "each text is guarded");
        assert!(errors.get("customer_action").unwrap().contains("\"consumer group\""));
    }

    #[test]
    fn a_customer_update_carries_only_its_guarded_texts_and_public_facts() {
        let form = StatusUpdateForm {
            audience: "CUSTOMER".into(),
            status: "MITIGATING".into(),
            affected_capability: "Order processing".into(),
            message: "Some submitted orders are delayed.".into(),
            customer_action: "Nothing: delayed orders complete by themselves.".into(),
            current_hypothesis: "Redis is down".into(),
            ..Default::default()
        };
        let update = StatusUpdateForPost::parse(&form).unwrap();
        let UpdateContent::Customer(customer) = &update.content else { panic!("customer update expected") };
        let next = "2026-11-25T10:30:00Z".parse().unwrap();
        let text = webhook_text(42, Severity::Sev2, Audience::Customer, update.status, &customer.body(), Some(next));
        assert_eq!(
            text,
            "Service update: Mitigating\nAffected: Order processing\nSome submitted orders are delayed.\n\
             What you need to do: Nothing: delayed orders complete by themselves.\nNext update by 2026-11-25 10:30 UTC."
        );
        assert!(!text.contains("INC-42") && !text.contains("Redis"));
    }

    #[test]
    fn the_internal_template_is_rendered_field_by_field() {
        let StatusUpdateForPost { content: UpdateContent::Internal(update), .. } =
            StatusUpdateForPost::parse(&internal_form()).unwrap()
        else {
            panic!("internal update expected")
        };
        let body = render_internal(
            &update,
            UpdateStatus::Investigating,
            Severity::Sev2,
            "2026-11-25T10:40:00Z".parse().unwrap(),
        );
        assert_eq!(
            body,
            "Status: Investigating\nSeverity: SEV-2\nStarted: 2026-11-25 09:40 UTC\nAffected capability: Order capture\n\
             Affected tenants/customers: Acme Corporation\nCustomer impact: Submitted orders stay pending\n\
             Current hypothesis: Kafka consumer lag on the order projection\nMitigation applied: Paused retries\n\
             Next update: 2026-11-25 10:40 UTC\nOwner: Cora Comms"
        );
    }
}
