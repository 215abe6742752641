//! The incident's timeline: the story of the incident, append-only (`ops.incident_event`, guarded by a
//! trigger). Every command that touches an incident appends a SYSTEM event here, in its own transaction;
//! people add HUMAN notes. Other areas (repairs, reconciliation) append through [`append`] too.
//!
//! Each event body carries a `headline` (one line for the page), the command's data, and the `entities`
//! it mentions, which the page links to their own pages.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sqlx::{PgConnection, PgPool};

use super::command::{lock_incident, refuse_if_closed, visible_incident, AUDIT_ENTITY};
use super::model::{stored, EntityRef, EventKind};
use crate::command::{read, run, Action, Cx, Envelope};
use crate::error::{Error, Result};
use crate::form::parse::{self as form, MAX_TEXT};
use crate::form::FieldErrors;
use crate::identity::Actor;
use crate::ids::{EventId, IncidentId};

/// Event types written by this crate's commands.
pub mod event_type {
    pub const DECLARED: &str = "DECLARED";
    pub const TRIAGE_SAVED: &str = "TRIAGE_SAVED";
    pub const SEVERITY_CHANGED: &str = "SEVERITY_CHANGED";
    pub const IMPACT_ASSESSED: &str = "IMPACT_ASSESSED";
    pub const STATUS_CHANGED: &str = "STATUS_CHANGED";
    pub const STATUS_UPDATE_POSTED: &str = "STATUS_UPDATE_POSTED";
    pub const NOTIFICATION_FAILED: &str = "NOTIFICATION_FAILED";
    pub const REVIEW_SAVED: &str = "REVIEW_SAVED";
    pub const REVIEW_COMPLETED: &str = "REVIEW_COMPLETED";
    pub const REVIEW_REOPENED: &str = "REVIEW_REOPENED";
    pub const ACTION_ITEM_ADDED: &str = "ACTION_ITEM_ADDED";
    pub const ACTION_ITEM_CHANGED: &str = "ACTION_ITEM_CHANGED";
    pub const NOTE: &str = "NOTE";
    pub const REPAIR_REQUESTED: &str = "REPAIR_REQUESTED";
    pub const REPAIR_APPROVED: &str = "REPAIR_APPROVED";
    pub const REPAIR_REJECTED: &str = "REPAIR_REJECTED";
    pub const REPAIR_EXECUTED: &str = "REPAIR_EXECUTED";
    pub const REPAIR_FAILED: &str = "REPAIR_FAILED";
    pub const REPAIR_RECHECKED: &str = "REPAIR_RECHECKED";
    pub const REPAIR_FOLLOW_UP: &str = "REPAIR_FOLLOW_UP";
    pub const CONTROL_CHANGED: &str = "CONTROL_CHANGED";
    pub const DIAGNOSTIC_RUN: &str = "DIAGNOSTIC_RUN";
    pub const CHECKLIST_RECORDED: &str = "CHECKLIST_RECORDED";
    pub const DRILL_STARTED: &str = "DRILL_STARTED";
    pub const DRILL_FAULT: &str = "DRILL_FAULT";
    pub const DRILL_ENDED: &str = "DRILL_ENDED";
}

/// An event to append.
#[derive(Debug, Clone)]
pub struct NewEvent<'a> {
    pub incident_id: IncidentId,
    pub kind: EventKind,
    pub event_type: &'a str,
    /// Who: written as `Actor::display()` (name and subject).
    pub actor: &'a str,
    /// One line for the page.
    pub headline: String,
    /// The command's data (a JSON object); `headline` and `entities` are added to it.
    pub body: Value,
    pub entities: &'a [EntityRef],
}

/// Appends an event inside the caller's transaction.
pub async fn append(tx: &mut PgConnection, event: NewEvent<'_>) -> Result<EventId> {
    let event_id = EventId::new();
    let mut body = match event.body {
        Value::Object(map) => map,
        Value::Null => serde_json::Map::new(),
        other => {
            let mut map = serde_json::Map::new();
            map.insert("value".into(), other);
            map
        }
    };
    body.insert("headline".into(), Value::String(event.headline));
    body.insert("entities".into(), json!(event.entities));
    sqlx::query(
        "insert into ops.incident_event (event_id, incident_id, kind, event_type, actor, body, occurred_at)
         values ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(event_id)
    .bind(event.incident_id)
    .bind(event.kind.as_str())
    .bind(event.event_type)
    .bind(event.actor)
    .bind(Value::Object(body))
    // The clock, not the transaction's start: several events of one command keep their order.
    .bind(Utc::now())
    .execute(&mut *tx)
    .await?;
    Ok(event_id)
}

/// One event as the page shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEvent {
    pub event_id: EventId,
    pub kind: EventKind,
    pub event_type: String,
    pub actor: String,
    pub occurred_at: DateTime<Utc>,
    pub headline: String,
    /// Entities the event mentions (link them).
    pub entities: Vec<EntityRef>,
    /// The whole body, for a "details" disclosure.
    pub body: Value,
}

/// Which events to show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineFilter {
    /// `None`: both kinds.
    pub kind: Option<EventKind>,
}

impl TimelineFilter {
    pub const ALL: TimelineFilter = TimelineFilter { kind: None };

    /// From the page's `?events=system|human|all` parameter; anything else is "all".
    pub fn from_param(param: Option<&str>) -> Self {
        let kind = match param.map(|p| p.trim().to_ascii_uppercase()).as_deref() {
            Some("SYSTEM") => Some(EventKind::System),
            Some("HUMAN") => Some(EventKind::Human),
            _ => None,
        };
        TimelineFilter { kind }
    }
}

#[derive(sqlx::FromRow)]
struct EventRow {
    event_id: EventId,
    kind: String,
    event_type: String,
    actor: String,
    occurred_at: DateTime<Utc>,
    body: Value,
}

/// The incident's events, oldest first. Visibility is the caller's business (see `detail`). Relies on
/// `ix_incident_event_incident (incident_id, occurred_at)`.
pub(crate) async fn events(
    db: &mut PgConnection,
    incident_id: IncidentId,
    filter: TimelineFilter,
) -> Result<Vec<TimelineEvent>> {
    let rows = sqlx::query_as::<_, EventRow>(
        "select event_id, kind, event_type, actor, occurred_at, body from ops.incident_event
         where incident_id = $1 and ($2::text is null or kind = $2)
         order by occurred_at, event_id",
    )
    .bind(incident_id)
    .bind(filter.kind.map(|k| k.as_str()))
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|row| {
            let headline = row.body.get("headline").and_then(Value::as_str).unwrap_or(&row.event_type).to_string();
            let entities = row
                .body
                .get("entities")
                .cloned()
                .and_then(|v| serde_json::from_value::<Vec<EntityRef>>(v).ok())
                .unwrap_or_default();
            Ok(TimelineEvent {
                event_id: row.event_id,
                kind: stored(&row.kind)?,
                event_type: row.event_type,
                actor: row.actor,
                occurred_at: row.occurred_at,
                headline,
                entities,
                body: row.body,
            })
        })
        .collect()
}

/// The timeline of an incident the actor can see.
pub async fn timeline(
    pool: &PgPool,
    actor: &Actor,
    incident_id: IncidentId,
    filter: TimelineFilter,
) -> Result<Vec<TimelineEvent>> {
    let envelope = Envelope::new(actor, Action::IncidentRead).entity(AUDIT_ENTITY, incident_id);
    read(pool, envelope, async |cx| {
        visible_incident(cx, incident_id).await?;
        events(cx.db(), incident_id, filter).await
    })
    .await
}

crate::form! {
    /// The note form as sent.
    pub struct NoteForm / NoteFields {
        text: String,
        /// Ids of entities on the incident the note is about (optional), separated by spaces, commas or lines.
        entity_ids: String,
    }
}

/// A note to add: text, and the entities on the incident it refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteForAdd {
    pub text: String,
    pub entity_ids: Vec<uuid::Uuid>,
}

impl NoteForAdd {
    pub fn parse(form: &NoteForm) -> std::result::Result<Self, FieldErrors> {
        let f = NoteForm::FIELDS;
        let mut errors = FieldErrors::new();
        let text = form::required_text(&mut errors, f.text, &form.text, MAX_TEXT, "Write the note");
        let entity_ids =
            form::id_list(&mut errors, f.entity_ids, &form.entity_ids, "entity ids", |t| uuid::Uuid::parse_str(t).ok());
        errors.finish(|| NoteForAdd { text: text.unwrap_or_default(), entity_ids })
    }
}

/// Adds a person's note to the timeline (HUMAN). Notes do not change the incident, so they take no
/// version: two people can write at once.
#[tracing::instrument(skip(pool, actor, input), fields(actor = %actor.subject), err(Display))]
pub async fn add_note(pool: &PgPool, actor: &Actor, incident_id: IncidentId, input: &NoteForAdd) -> Result<EventId> {
    let envelope = Envelope::new(actor, Action::IncidentNote).entity(AUDIT_ENTITY, incident_id).incident(incident_id);
    run(pool, envelope, async |cx| add_note_in(cx, incident_id, input).await).await
}

async fn add_note_in(cx: &mut Cx<'_>, incident_id: IncidentId, input: &NoteForAdd) -> Result<EventId> {
    let locked = lock_incident(cx, incident_id).await?;
    refuse_if_closed(&locked, "adding a note")?;
    let who = cx.actor_display();
    let tx = cx.db();

    let on_incident = super::affected::entities_of(tx, incident_id).await?;
    let mut entities = Vec::new();
    let mut unknown = Vec::new();
    for id in &input.entity_ids {
        match on_incident.iter().find(|e| e.entity_id == *id) {
            Some(entity) => entities.push(*entity),
            None => unknown.push(id.to_string()),
        }
    }
    if !unknown.is_empty() {
        return Err(Error::invalid(NoteForm::FIELDS.entity_ids, format!("Not on this incident: {}", unknown.join(", "))));
    }

    let event_id = append(
        tx,
        NewEvent {
            incident_id,
            kind: EventKind::Human,
            event_type: event_type::NOTE,
            actor: &who,
            headline: first_line(&input.text, 120),
            body: json!({ "text": input.text }),
            entities: &entities,
        },
    )
    .await?;
    cx.record(json!({ "event_id": event_id }));
    Ok(event_id)
}

/// The first line of a text, shortened to `max` characters with an ellipsis.
pub(crate) fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    if line.chars().count() > max {
        let mut short: String = line.chars().take(max - 1).collect();
        short.push('…');
        short
    } else {
        line.to_string()
    }
}
