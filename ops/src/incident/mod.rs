//! Incident management (issue 5; lesson §4, §20, §21): the register, triage, impact, lifecycle, timeline,
//! status updates for staff and customers, and post-incident reviews.
//!
//! Every change is a command `fn(pool, &Actor, id, expected_version, &TypedInput)` run by the console's
//! one command runner ([`crate::command::run`]): authorise (permission + tenant scope) → load the
//! incident locked, with its version → check invariants → write → append timeline event(s) → the audit
//! line → enqueue outbox events where something must be delivered. A refusal leaves only its REFUSED
//! audit line. Typed inputs come only from `XForY::parse(&XForm)`, which answers bad input field by field
//! ([`FieldErrors`]) before anything runs. Queries go through [`crate::command::read`] and see only what
//! the actor's tenant scope allows ([`list`]).
//!
//! This module knows nothing of HTTP or Leptos; it must never be bypassed by SQL written elsewhere.

mod affected;
mod command;
pub mod comms;
pub mod declare;
pub mod detail;
pub mod impact;
pub mod lifecycle;
pub mod list;
pub mod model;
pub mod review;
pub mod timeline;
pub mod triage;

pub use affected::TenantRef;
pub(crate) use command::{incident_tenants, require_active_incident};

/// Names entities on an incident (repairs and reconciliation attach what they act on), inside the
/// caller's transaction; an entity already named is left as it is.
pub async fn attach_entities(
    db: &mut sqlx::PgConnection,
    incident: IncidentId,
    entities: &[EntityRef],
) -> Result<()> {
    affected::insert_entities(db, incident, entities).await?;
    Ok(())
}
pub use comms::customer_text::{check_customer_text, find_internal_details, Finding, InternalDetails};
pub use comms::delivery::{
    deliver_pending, deliver_pending_with, deliveries_for_update, run_delivery_worker, Delivery, DeliveryPolicy,
    DeliveryReport, DeliveryStatus,
};
pub use comms::status_update::{
    draft_status_update, post_status_update, Audience, StatusUpdate, StatusUpdateForPost, StatusUpdateForm,
    StatusUpdatePosted, UpdateStatus,
};
pub use comms::webhook::{WebhookConfig, WebhookConfigError, WebhookUrl, Webhooks};
pub use declare::{declare_incident, DeclareForm, Declared, IncidentForDeclare};
pub use detail::{incident_detail, EntityView, IncidentDetail};
pub use crate::error::{Error, Result};
pub use crate::form::FieldErrors;
pub use crate::ids::{ActionItemId, DeliveryId, EventId, IncidentId, ReviewId, StatusUpdateId};
pub use impact::{propose_impact, save_impact, Impact, ImpactForSave, ImpactForm, ImpactProposal, ImpactSaved, Money};
pub use lifecycle::{
    action_of, change_severity, change_status, LifecycleChange, LifecycleForm, SeverityChange, SeverityChanged,
    SeverityForm, StatusChanged,
};
pub use list::{
    list_incidents, open_incidents, Age, Cursor, IncidentFilter, IncidentListForm, IncidentListQuery, IncidentSummary, Page,
};
pub use model::{
    severity_choices, BlastRadius, DetectedBy, EntityRef, EntityType, EventKind, IncidentCommand, IncidentStatus,
    Lifecycle, Recoverability, Severity, SeverityChoice,
};
pub use review::action_item::{
    add_action_item, overdue_action_items, set_action_item_status, update_action_item, ActionCategory, ActionItem,
    ActionItemForSave, ActionItemForm, ActionItemSaved, ActionItemStatus, ActionItemStatusForm, ActionItemType,
    OverdueActionItem,
};
pub use review::pir::{
    complete_review, save_review, Review, ReviewCompleteForm, ReviewForSave, ReviewForm, ReviewSaved, ReviewSections,
    ReviewStatus,
};
pub use timeline::{add_note, timeline, NoteForAdd, NoteForm, TimelineEvent, TimelineFilter};
pub use triage::{save_triage, Triage, TriageForSave, TriageForm, TriageSaved};
