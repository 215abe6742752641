//! Order 360 (issue 11, lesson §8.3): one order seen whole — its quote and approvals with their history,
//! the order with its lines, transitions, outbox events (and where Kafka put them), projection,
//! orchestration start, the engine's process instances by business key (activities, incidents, external
//! tasks), fulfillment requests, and the repairs, incidents and controls that concern it — with a one-line
//! verdict of where the chain stopped and the repairs that fit.
//!
//! The database part is one read (one snapshot), and the switches that are on are those every page's banner
//! shows ([`crate::control::banner`]); the engine is asked afterwards with a short timeout, and
//! when it cannot answer the page says so and shows the rest. Views of one order within a second share the
//! engine's answer ([`engine_cache`]), and the page says when the engine was read.

pub mod engine_cache;
mod verdict;

use std::time::Duration;

use chrono::{DateTime, Utc};
use platform::engine::{BusinessKey, EngineClient};
use platform::ids::TenantId;
use platform::query::{OrderDetail, OrderLookup, QuoteStory};
use serde::Serialize;
use sqlx::PgPool;

pub use verdict::{judge, Evidence, Stage, Tone, Verdict};

use crate::command::{read, Action, Envelope};
use crate::control::SwitchView;
use crate::error::Result;
use crate::identity::Actor;
use crate::ids::IncidentId;
use crate::repair::Repair;

/// How long the page waits for the engine.
const ENGINE_TIMEOUT: Duration = Duration::from_secs(3);

/// An engine incident on the order's instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IncidentView {
    pub incident_type: String,
    pub activity_id: Option<String>,
    pub message: Option<String>,
}

/// An external task of the order's instance (a worker's unit of work).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskView {
    pub topic: Option<String>,
    pub activity_id: Option<String>,
    pub worker_id: Option<String>,
    pub retries: Option<i32>,
    pub error_message: Option<String>,
}

/// One process instance under the order's business key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstanceView {
    pub id: String,
    pub definition_id: String,
    pub ended: bool,
    pub suspended: bool,
    pub activities: Vec<String>,
    pub incidents: Vec<IncidentView>,
    pub tasks: Vec<TaskView>,
}

/// What the engine said about the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum EngineView {
    Instances(Vec<InstanceView>),
    /// The engine did not answer (down, slow): why, as it was seen.
    Unavailable(String),
}

/// An incident that names the order or its quote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct IncidentRef {
    pub incident_id: IncidentId,
    pub incident_number: i64,
    pub severity: String,
    pub status: String,
    pub summary: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Order360 {
    pub detail: OrderDetail,
    pub quote: Option<QuoteStory>,
    pub engine: EngineView,
    pub incidents: Vec<IncidentRef>,
    pub repairs: Vec<Repair>,
    /// Reconciliation mismatches still open for the order or its quote.
    pub mismatches: Vec<crate::reconcile::Mismatch>,
    /// The switches that are on and reach this order (its tenant's, and the platform-wide ones).
    pub controls: Vec<SwitchView>,
    pub verdict: Verdict,
    pub observed_at: DateTime<Utc>,
    /// When the engine's part was read (at most [`engine_cache::FRESH`] before `observed_at`).
    pub engine_read_at: DateTime<Utc>,
}

/// Order 360 of the order `lookup` names in `tenant`, if the actor may read that tenant (refused and
/// audited otherwise); `None` when there is no such order.
#[tracing::instrument(skip(pool, engine, actor), fields(actor = %actor.subject, %tenant, lookup = %lookup))]
pub async fn order_360(
    pool: &PgPool,
    engine: &EngineClient,
    actor: &Actor,
    tenant: TenantId,
    lookup: &OrderLookup,
) -> Result<Option<Order360>> {
    let mut envelope = Envelope::new(actor, Action::OrderRead).tenant(tenant);
    match lookup {
        OrderLookup::Id(id) | OrderLookup::BusinessKey { order: id, .. } => envelope = envelope.entity("ORDER", *id),
        OrderLookup::Number(_) => {}
    }
    let loaded = read(pool, envelope, async |cx| {
        let Some(detail) = platform::query::order_detail(cx.db(), tenant, lookup).await? else {
            return Ok(None);
        };
        let quote = match detail.order.source_quote_id {
            Some(q) => platform::query::quote_story(cx.db(), tenant, q).await?,
            None => None,
        };
        let mut ids = vec![detail.order.order_id.as_uuid()];
        ids.extend(detail.order.source_quote_id.map(|q| q.as_uuid()));
        let incidents = sqlx::query_as::<_, IncidentRef>(
            "select distinct i.incident_id, i.incident_number, i.severity, i.status, i.summary, i.detected_at
             from ops.incident_entity e join ops.operational_incident i on i.incident_id = e.incident_id
             where e.entity_id = any($1) order by i.detected_at desc",
        )
        .bind(&ids)
        .fetch_all(cx.db())
        .await?;
        let mismatches = crate::reconcile::mismatch::open_for_entities(cx.db(), &ids).await?;
        // Repairs are read with the same permission as the order (Read), in the same snapshot.
        let repairs = crate::repair::view::repairs_of_entity_in(cx.db(), actor, detail.order.order_id.as_uuid()).await?;
        Ok(Some((detail, quote, incidents, mismatches, repairs)))
    })
    .await?;
    let Some((detail, quote, incidents, mismatches, repairs)) = loaded else {
        return Ok(None);
    };
    // The switches that are on, as every page's banner shows them (at most a second old, read afresh
    // after any command): those of the order's tenant and the platform-wide ones.
    let controls: Vec<SwitchView> = crate::control::switches(pool, actor, true)
        .await?
        .into_iter()
        .filter(|s| s.tenant_id.is_none_or(|t| t == tenant))
        .collect();
    let order_id = detail.order.order_id.as_uuid();
    let (engine, engine_read_at) =
        engine_cache::ENGINE_VIEWS.shared(engine.base(), order_id, async || engine_view(engine, &detail).await).await;
    let now = Utc::now();
    let orders_of_quote = quote.as_ref().map(|q| q.orders.len()).unwrap_or(1);
    let verdict = judge(&Evidence { detail: &detail, orders_of_quote, engine: &engine, controls: &controls, now });
    Ok(Some(Order360 { detail, quote, engine, incidents, repairs, mismatches, controls, verdict, observed_at: now, engine_read_at }))
}

/// The order's process instances, each with its activities, incidents and external tasks.
async fn engine_view(engine: &EngineClient, detail: &OrderDetail) -> EngineView {
    let key = BusinessKey::for_order(detail.order.tenant_id, detail.order.order_id);
    let asked = tokio::time::timeout(ENGINE_TIMEOUT, async {
        let mut out = Vec::new();
        for instance in engine.instances_by_business_key(&key).await? {
            let activities = engine.current_activities(&instance.id).await.unwrap_or_default();
            let incidents = engine
                .incidents(&instance.id)
                .await?
                .into_iter()
                .map(|i| IncidentView { incident_type: i.incident_type, activity_id: i.activity_id, message: i.incident_message })
                .collect();
            let tasks = engine
                .external_tasks(&instance.id)
                .await?
                .into_iter()
                .map(|t| TaskView {
                    topic: t.topic_name,
                    activity_id: t.activity_id,
                    worker_id: t.worker_id,
                    retries: t.retries,
                    error_message: t.error_message,
                })
                .collect();
            out.push(InstanceView {
                id: instance.id,
                definition_id: instance.definition_id,
                ended: instance.ended,
                suspended: instance.suspended,
                activities,
                incidents,
                tasks,
            });
        }
        Ok::<_, platform::engine::EngineError>(out)
    })
    .await;
    match asked {
        Ok(Ok(instances)) => EngineView::Instances(instances),
        Ok(Err(error)) => EngineView::Unavailable(error.to_string()),
        Err(_) => EngineView::Unavailable(format!("no answer within {} s", ENGINE_TIMEOUT.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use crate::command::Action;

    /// Order 360 reads the order's repairs inside its own read (one snapshot, one transaction), and the
    /// switches as the banner does: sound only while reading them needs no more than reading the order.
    #[test]
    fn the_repairs_and_switches_order_360_shows_need_no_more_than_the_order_read() {
        assert_eq!(Action::RepairRead.permission(), Action::OrderRead.permission());
        assert_eq!(Action::ControlList.permission(), Action::OrderRead.permission());
    }
}
