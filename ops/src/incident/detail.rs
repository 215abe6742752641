//! One incident, whole: what the detail page shows. Read in one read-only REPEATABLE READ transaction,
//! so every part describes the same moment (the timeline and the status shown beside it agree).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};

use super::affected::{self, TenantRef};
use super::command::{visible_incident, AUDIT_ENTITY};
use super::comms::status_update::{draft_for, updates_of, Audience, StatusUpdate, StatusUpdateForm};
use crate::command::{read, Action, Cx, Envelope};
use crate::error::{Error, Result};
use crate::ids::IncidentId;
use super::impact::{load_impact, proposal_for, Impact, ImpactProposal, Money};
use super::lifecycle::close_blockers;
use super::model::{
    stored, DetectedBy, EntityRef, EntityType, IncidentCommand, IncidentStatus, Lifecycle, Severity, SeverityChoice,
};
use super::review::action_item::{items_of, ActionItem};
use super::review::pir::{review_form, review_of, Course, Review, ReviewForm};
use super::timeline::{events, TimelineEvent, TimelineFilter};
use super::triage::{load_triage, Triage};
use crate::identity::Actor;

/// An entity on the incident with what the page shows beside its link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntityView {
    #[serde(flatten)]
    pub entity: EntityRef,
    /// The order or quote number; `None` for other kinds or when it no longer exists.
    pub number: Option<String>,
    pub status: Option<String>,
    pub total: Option<Money>,
}

/// Everything about one incident.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IncidentDetail {
    pub incident_id: IncidentId,
    pub incident_number: i64,
    /// Render forms with it: every command on the incident takes it back.
    pub version: i64,
    pub severity: Severity,
    /// The severity's meaning, example and response (lesson §4.1).
    pub severity_info: SeverityChoice,
    pub status: IncidentStatus,
    pub summary: String,
    pub detected_at: DateTime<Utc>,
    pub detected_by: DetectedBy,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub next_update_due_at: Option<DateTime<Utc>>,
    pub update_overdue: bool,
    pub tenants: Vec<TenantRef>,
    pub entities: Vec<EntityView>,
    pub triage: Triage,
    pub impact: Impact,
    pub impact_proposal: ImpactProposal,
    /// Newest first, each with its deliveries.
    pub updates: Vec<StatusUpdate>,
    /// Oldest first, filtered as asked.
    pub timeline: Vec<TimelineEvent>,
    pub review: Option<Review>,
    pub action_items: Vec<ActionItem>,
    /// The lifecycle steps the table allows now.
    pub next_commands: Vec<IncidentCommand>,
    /// For a SEV1/SEV2: what still stands between it and CLOSED (empty when nothing does).
    pub close_blockers: Vec<String>,
    /// The internal update form pre-filled from triage, and the customer one with status and cadence.
    pub internal_draft: StatusUpdateForm,
    pub customer_draft: StatusUpdateForm,
    /// The review form to show: the stored review, or a proposal (timeline and duration from the record).
    pub review_form: ReviewForm,
}

#[derive(sqlx::FromRow)]
struct HeadRow {
    incident_number: i64,
    version: i64,
    severity: String,
    status: String,
    summary: String,
    detected_at: DateTime<Utc>,
    detected_by: String,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    mitigated_at: Option<DateTime<Utc>>,
    resolved_at: Option<DateTime<Utc>>,
    closed_at: Option<DateTime<Utc>>,
    next_update_due_at: Option<DateTime<Utc>>,
    update_overdue: bool,
}

/// The incident, if the actor can see it (one of its tenants in scope; refused and audited otherwise).
#[tracing::instrument(skip(pool, actor), fields(actor = %actor.subject), err(Display))]
pub async fn incident_detail(
    pool: &PgPool,
    actor: &Actor,
    incident_id: IncidentId,
    timeline: TimelineFilter,
) -> Result<IncidentDetail> {
    let envelope = Envelope::new(actor, Action::IncidentRead).entity(AUDIT_ENTITY, incident_id);
    read(pool, envelope, async |cx| detail_in(cx, incident_id, timeline).await).await
}

async fn detail_in(cx: &mut Cx<'_>, incident_id: IncidentId, filter: TimelineFilter) -> Result<IncidentDetail> {
    let tenant_ids = visible_incident(cx, incident_id).await?;
    let owner = cx.actor.name.clone();
    let db = cx.db();
    let head = sqlx::query_as::<_, HeadRow>(
        "select incident_number, version, severity, status, summary, detected_at, detected_by, created_by, created_at,
                updated_at, mitigated_at, resolved_at, closed_at, next_update_due_at,
                (status in ('OPEN', 'MITIGATED') and next_update_due_at < now()) as update_overdue
         from ops.operational_incident where incident_id = $1",
    )
    .bind(incident_id)
    .fetch_optional(&mut *db)
    .await?
    .ok_or_else(|| Error::not_found("incident", incident_id))?;
    let severity: Severity = stored(&head.severity)?;
    let status: IncidentStatus = stored(&head.status)?;
    let entities = entity_views(db, incident_id).await?;
    let close_blockers = if severity.needs_review_to_close() && !status.is_closed() {
        close_blockers(db, incident_id).await?
    } else {
        Vec::new()
    };
    let triage = load_triage(db, incident_id).await?;
    let review = review_of(db, incident_id, false).await?;
    // The proposal reads the whole story, whatever the page's timeline filter.
    let story = events(db, incident_id, TimelineFilter::ALL).await?;
    let course = Course {
        detected_at: head.detected_at,
        detected_by: stored(&head.detected_by)?,
        first_known_bad_at: triage.first_known_bad_at,
        mitigated_at: head.mitigated_at,
        resolved_at: head.resolved_at,
        events: &story,
    };
    let review_form = review_form(review.as_ref(), &head.summary, &course, chrono::Utc::now());
    let timeline = if filter == TimelineFilter::ALL {
        story
    } else {
        events(db, incident_id, filter).await?
    };
    Ok(IncidentDetail {
        incident_id,
        incident_number: head.incident_number,
        version: head.version,
        severity,
        severity_info: super::model::severity_choices()
            .into_iter()
            .find(|c| c.severity == severity)
            .expect("every severity has a choice"),
        status,
        summary: head.summary,
        detected_at: head.detected_at,
        detected_by: stored(&head.detected_by)?,
        created_by: head.created_by,
        created_at: head.created_at,
        updated_at: head.updated_at,
        mitigated_at: head.mitigated_at,
        resolved_at: head.resolved_at,
        closed_at: head.closed_at,
        next_update_due_at: head.next_update_due_at,
        update_overdue: head.update_overdue,
        tenants: affected::tenant_refs(db, &tenant_ids).await?,
        entities,
        internal_draft: draft_for(db, incident_id, &tenant_ids, Audience::Internal, owner.clone()).await?,
        customer_draft: draft_for(db, incident_id, &tenant_ids, Audience::Customer, owner).await?,
        review_form,
        triage,
        impact: load_impact(db, incident_id).await?,
        impact_proposal: proposal_for(db, incident_id, tenant_ids.len()).await?,
        updates: updates_of(db, incident_id).await?,
        timeline,
        review,
        action_items: items_of(db, incident_id).await?,
        next_commands: Lifecycle::next_commands(status),
        close_blockers,
    })
}

#[derive(sqlx::FromRow)]
struct EntityRow {
    entity_type: String,
    entity_id: uuid::Uuid,
    tenant_id: platform::ids::TenantId,
    number: Option<String>,
    status: Option<String>,
    currency: Option<String>,
    total_minor: Option<i64>,
}

async fn entity_views(db: &mut PgConnection, incident_id: IncidentId) -> Result<Vec<EntityView>> {
    let rows = sqlx::query_as::<_, EntityRow>(
        "select e.entity_type, e.entity_id, e.tenant_id,
                coalesce(o.order_number, q.quote_number) as number,
                coalesce(o.status, q.status) as status,
                coalesce(o.currency, q.currency)::text as currency,
                coalesce(o.total_minor, q.total_minor) as total_minor
         from ops.incident_entity e
           left join oms.sales_order o on e.entity_type = 'ORDER' and o.order_id = e.entity_id
           left join cpq.quote q on e.entity_type = 'QUOTE' and q.quote_id = e.entity_id
         where e.incident_id = $1
         order by e.entity_type desc, e.added_at, e.entity_id",
    )
    .bind(incident_id)
    .fetch_all(db)
    .await?;
    rows.into_iter()
        .map(|r| {
            let entity_type: EntityType = stored(&r.entity_type)?;
            Ok(EntityView {
                entity: EntityRef { entity_type, entity_id: r.entity_id, tenant_id: r.tenant_id },
                number: r.number,
                status: r.status,
                total: r.currency.zip(r.total_minor).map(|(currency, minor)| Money { currency, minor }),
            })
        })
        .collect()
}
