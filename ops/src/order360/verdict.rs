//! Where an order's chain stopped, in one line (issue 11, lesson §8.3): capture → orchestration start →
//! outbox → Kafka → projection → engine → vendor. The first link that does not hold is the verdict, with
//! what fits to repair it and the runbook that explains it. Pure: it reads what Order 360 loaded.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use platform::query::{OrderDetail, ProjectionState};

use super::{EngineView, InstanceView};
use crate::control::{Switch, SwitchView};
use crate::repair::RepairType;

/// How long an event may wait in the outbox before it is news.
const PUBLISH_GRACE: Duration = Duration::seconds(60);
/// An active order untouched this long is stuck (the stuck-order runbook's SLA).
const STUCK_AFTER: Duration = Duration::minutes(30);
/// A vendor request unanswered this long has an unknown outcome.
const VENDOR_SILENT_AFTER: Duration = Duration::minutes(30);

/// The link of the chain the verdict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Stage {
    Quote,
    Start,
    Publish,
    Project,
    Engine,
    Vendor,
    Done,
    Moving,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Tone {
    Good,
    Warn,
    Bad,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    pub stage: Stage,
    pub tone: Tone,
    pub headline: String,
    /// The repairs that fit, strongest first.
    pub fits: Vec<RepairType>,
    /// The runbook that explains it (`runbooks/<id>.md`).
    pub runbook: Option<&'static str>,
}

fn verdict(stage: Stage, tone: Tone, headline: String, fits: Vec<RepairType>, runbook: Option<&'static str>) -> Verdict {
    Verdict { stage, tone, headline, fits, runbook }
}

fn at(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// What the verdict reads.
pub struct Evidence<'a> {
    pub detail: &'a OrderDetail,
    /// Orders made from the same quote (the order itself included), when the quote was loaded.
    pub orders_of_quote: usize,
    pub engine: &'a EngineView,
    /// The switches that are on.
    pub controls: &'a [SwitchView],
    pub now: DateTime<Utc>,
}

impl Evidence<'_> {
    fn switch(&self, kind: Switch, group: Option<&str>) -> Option<&SwitchView> {
        let tenant = self.detail.order.tenant_id;
        self.controls.iter().find(|s| {
            s.on && s.switch == kind
                && s.tenant_id.is_none_or(|t| t == tenant)
                && group.is_none_or(|g| s.target.as_deref() == Some(g))
        })
    }
}

/// The verdict (see the module doc).
pub fn judge(e: &Evidence<'_>) -> Verdict {
    let order = &e.detail.order;
    let status = order.status.as_str();
    if e.orders_of_quote > 1 {
        return verdict(
            Stage::Quote,
            Tone::Bad,
            format!("Duplicate order: {} orders were made from quote {}", e.orders_of_quote, order.source_quote_number.clone().unwrap_or_default()),
            vec![RepairType::ResolveDuplicateOrder],
            Some("duplicate-order"),
        );
    }
    if matches!(status, "FULFILLED" | "CANCELLED") {
        return verdict(Stage::Done, Tone::Good, format!("Done: {status} since {}", at(&order.updated_at)), vec![], None);
    }
    if let Some(v) = start(e) {
        return v;
    }
    if let Some(v) = publish(e) {
        return v;
    }
    if let Some(v) = project(e) {
        return v;
    }
    if status == "FAILED" {
        let why = e.detail.transitions.iter().rev().find_map(|t| t.reason.clone()).unwrap_or_default();
        return verdict(
            Stage::Engine,
            Tone::Bad,
            format!("Failed at {}: {why}", at(&order.updated_at)),
            vec![RepairType::ResumeOrchestration, RepairType::RetryEngineJob],
            Some("stuck-order"),
        );
    }
    if let Some(v) = engine(e) {
        return v;
    }
    if let Some(v) = vendor(e) {
        return v;
    }
    if e.now - order.updated_at > STUCK_AFTER {
        return verdict(
            Stage::Moving,
            Tone::Warn,
            format!("Not moving: {status} since {}, and nothing in the chain reports a failure", at(&order.updated_at)),
            vec![RepairType::ResumeOrchestration],
            Some("stuck-order"),
        );
    }
    verdict(Stage::Moving, Tone::Good, format!("Moving: {status} since {}", at(&order.updated_at)), vec![], None)
}

/// Captured: has its orchestration start happened?
fn start(e: &Evidence<'_>) -> Option<Verdict> {
    let order = &e.detail.order;
    if order.status != "CAPTURED" {
        return None;
    }
    let resume = vec![RepairType::ResumeOrchestration];
    Some(match &e.detail.orchestration_start {
        Some(s) if s.status == "GAVE_UP" => verdict(
            Stage::Start,
            Tone::Bad,
            format!("Captured, orchestration start given up: {}", s.reason.clone().unwrap_or_default()),
            resume,
            Some("stuck-order"),
        ),
        Some(s) if s.status == "PENDING" => match e.switch(Switch::OrchestrationStarts, None) {
            Some(paused) => verdict(
                Stage::Start,
                Tone::Warn,
                format!("Captured, start waiting: orchestration starts are paused since {} ({})", at(&paused.changed_at), paused.reason),
                vec![],
                Some("stuck-order"),
            ),
            None if s.attempts > 0 => verdict(
                Stage::Start,
                Tone::Warn,
                format!("Captured, start retrying: {} attempt(s), last: {}", s.attempts, s.last_error.clone().unwrap_or_default()),
                vec![],
                Some("engine-incident"),
            ),
            None => verdict(Stage::Start, Tone::Good, format!("Captured at {}, its start is queued", at(&order.created_at)), vec![], None),
        },
        Some(_) => return None,
        None if e.now - order.updated_at > STUCK_AFTER => verdict(
            Stage::Start,
            Tone::Bad,
            format!("Captured at {} and never started: no orchestration start was recorded", at(&order.created_at)),
            resume,
            Some("stuck-order"),
        ),
        None => return None,
    })
}

/// Committed: have its events left the outbox?
fn publish(e: &Evidence<'_>) -> Option<Verdict> {
    let events = &e.detail.outbox_events;
    if let Some(failed) = events.iter().find(|ev| ev.status == "FAILED") {
        return Some(verdict(
            Stage::Publish,
            Tone::Bad,
            format!("Committed, not published: {} failed after {} attempt(s): {}", failed.event_type, failed.attempts,
                failed.last_error.clone().unwrap_or_default()),
            vec![RepairType::QuarantineEvent],
            Some("outbox-stuck"),
        ));
    }
    let stale = chrono::Duration::from_std(platform::relay::STALE_CLAIM_AFTER).unwrap_or(Duration::minutes(10));
    if let Some(claimed) = events
        .iter()
        .find(|ev| ev.status == "PROCESSING" && ev.claimed_at.is_some_and(|c| e.now - c > stale))
    {
        return Some(verdict(
            Stage::Publish,
            Tone::Bad,
            format!("Committed, not published: {} claimed by {} since {}, a relay that stopped",
                claimed.event_type, claimed.claimed_by.clone().unwrap_or_default(), at(&claimed.claimed_at.unwrap_or(e.now))),
            vec![RepairType::ReleaseStaleClaims],
            Some("outbox-stuck"),
        ));
    }
    let waiting: Vec<_> = events.iter().filter(|ev| ev.status == "PENDING" && e.now - ev.created_at > PUBLISH_GRACE).collect();
    let oldest = waiting.iter().map(|ev| ev.created_at).min()?;
    Some(match e.switch(Switch::Relay, None) {
        Some(paused) => verdict(
            Stage::Publish,
            Tone::Warn,
            format!("Committed, not published: the outbox relay is paused since {} ({})", at(&paused.changed_at), paused.reason),
            vec![],
            Some("outbox-stuck"),
        ),
        None => verdict(
            Stage::Publish,
            Tone::Bad,
            format!("Committed, not published: {} event(s) pending since {}", waiting.len(), at(&oldest)),
            vec![],
            Some("outbox-stuck"),
        ),
    })
}

/// Published: has the read model caught up?
fn project(e: &Evidence<'_>) -> Option<Verdict> {
    let group = platform::projection::DEFAULT_GROUP;
    let behind = match e.detail.projection_state() {
        ProjectionState::Current | ProjectionState::Ahead { .. } => return None,
        ProjectionState::Missing => "no projection yet".to_string(),
        ProjectionState::Behind { versions } => format!("projection {versions} version(s) behind"),
        ProjectionState::Diverged => "projection diverged from the order (same version, other content)".to_string(),
    };
    // Events still in flight explain a short lag: only a lag past the grace is news.
    let last_published = e.detail.outbox_events.iter().filter_map(|ev| ev.published_at).max();
    if last_published.is_none_or(|p| e.now - p < PUBLISH_GRACE) && e.detail.projection_state() != ProjectionState::Diverged {
        return None;
    }
    Some(match e.switch(Switch::Consumer, Some(group)) {
        Some(paused) => verdict(
            Stage::Project,
            Tone::Warn,
            format!("Published, not projected: consumer group {group} paused since {} ({})", at(&paused.changed_at), paused.reason),
            vec![],
            Some("kafka-consumer-lag"),
        ),
        None => verdict(
            Stage::Project,
            Tone::Warn,
            format!("Published, not projected: {behind}"),
            vec![RepairType::ReplayProjection],
            Some("kafka-consumer-lag"),
        ),
    })
}

/// Orchestrating: does the engine carry it, and is it stalled?
fn engine(e: &Evidence<'_>) -> Option<Verdict> {
    let key = e.detail.order.business_key();
    let instances = match e.engine {
        EngineView::Unavailable(why) => {
            return Some(verdict(
                Stage::Engine,
                Tone::Warn,
                format!("The process engine cannot be asked right now ({why}): its part of the chain is unknown"),
                vec![],
                Some("engine-incident"),
            ))
        }
        EngineView::Instances(instances) => instances,
    };
    let active: Vec<&InstanceView> = instances.iter().filter(|i| !i.ended).collect();
    if active.is_empty() {
        return Some(verdict(
            Stage::Engine,
            Tone::Bad,
            format!("{} but no process instance under {key}: the engine does not carry it", e.detail.order.status),
            vec![RepairType::ResumeOrchestration],
            Some("stuck-order"),
        ));
    }
    if active.len() > 1 {
        return Some(verdict(
            Stage::Engine,
            Tone::Bad,
            format!("{} process instances under {key}: one order, one process", active.len()),
            vec![],
            Some("engine-incident"),
        ));
    }
    let instance = active[0];
    if let Some(incident) = instance.incidents.first() {
        return Some(verdict(
            Stage::Engine,
            Tone::Bad,
            format!("Stalled in the engine at {}: {}", incident.activity_id.clone().unwrap_or_default(),
                incident.message.clone().unwrap_or_else(|| incident.incident_type.clone())),
            vec![RepairType::RetryEngineJob, RepairType::ResumeOrchestration],
            Some("engine-incident"),
        ));
    }
    if instance.suspended {
        return Some(verdict(Stage::Engine, Tone::Warn, format!("The process instance {} is suspended", instance.id), vec![], Some("engine-incident")));
    }
    None
}

/// Waiting on the vendor: a request sent and never answered has an unknown outcome.
fn vendor(e: &Evidence<'_>) -> Option<Verdict> {
    let silent: Vec<_> = e
        .detail
        .fulfillment_requests
        .iter()
        .filter(|r| matches!(r.status.as_str(), "SENT" | "ACKNOWLEDGED") && r.sent_at.is_some_and(|s| e.now - s > VENDOR_SILENT_AFTER))
        .collect();
    let oldest = silent.iter().filter_map(|r| r.sent_at).min()?;
    Some(verdict(
        Stage::Vendor,
        Tone::Warn,
        format!("Waiting on the vendor: {} request(s) sent since {}, no answer (outcome unknown)", silent.len(), at(&oldest)),
        vec![RepairType::ResumeOrchestration],
        Some("stuck-order"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::order360::{IncidentView, InstanceView};
    use platform::ids::{OrderId, OutboxEventId, TenantId};
    use platform::query::{OrchestrationStartRow, OrderSummary, OutboxEventRow};

    fn now() -> DateTime<Utc> {
        "2026-11-28T12:00:00Z".parse().unwrap()
    }

    fn order(status: &str, minutes_ago: i64) -> OrderDetail {
        let t = now() - Duration::minutes(minutes_ago);
        OrderDetail {
            order: OrderSummary {
                order_id: OrderId::new(),
                tenant_id: TenantId::new(),
                order_number: "SO-1".into(),
                status: status.into(),
                version: 3,
                customer_name: "c".into(),
                currency: "EUR".into(),
                total_minor: 100,
                source_quote_id: None,
                source_quote_number: Some("Q-1".into()),
                source_quote_status: Some("ACCEPTED".into()),
                acceptance_key: None,
                origin: "PLATFORM".into(),
                created_at: t,
                updated_at: t,
            },
            lines: vec![],
            transitions: vec![],
            orchestration_start: None,
            outbox_events: vec![],
            fulfillment_requests: vec![],
            projection: None,
        }
    }

    fn event(status: &str, minutes_ago: i64) -> OutboxEventRow {
        let t = now() - Duration::minutes(minutes_ago);
        OutboxEventRow {
            outbox_event_id: OutboxEventId::new(),
            event_type: "OrderCaptured".into(),
            status: status.into(),
            aggregate_version: 1,
            attempts: 1,
            claimed_by: (status == "PROCESSING").then(|| "relay-dead".to_string()),
            claimed_at: (status == "PROCESSING").then_some(t),
            created_at: t,
            published_at: (status == "PUBLISHED").then_some(t),
            next_attempt_at: None,
            last_error: None,
            kafka_topic: None,
            kafka_partition: None,
            kafka_offset: None,
        }
    }

    fn instance(incident: Option<&str>) -> InstanceView {
        InstanceView {
            id: "pi-1".into(),
            definition_id: "order-orchestration:1".into(),
            ended: false,
            suspended: false,
            activities: vec!["request_fulfillment".into()],
            incidents: incident
                .map(|m| IncidentView { incident_type: "failedExternalTask".into(), activity_id: Some("request_fulfillment".into()), message: Some(m.into()) })
                .into_iter()
                .collect(),
            tasks: vec![],
        }
    }

    fn judge_with(detail: &OrderDetail, engine: EngineView, controls: &[SwitchView]) -> Verdict {
        judge(&Evidence { detail, orders_of_quote: 1, engine: &engine, controls, now: now() })
    }

    #[test]
    fn a_stale_claim_is_where_the_chain_stopped_before_anything_downstream() {
        let mut d = order("ORCHESTRATING", 90);
        d.outbox_events.push(event("PROCESSING", 45));
        let v = judge_with(&d, EngineView::Instances(vec![]), &[]);
        assert_eq!((v.stage, v.fits.as_slice()), (Stage::Publish, &[RepairType::ReleaseStaleClaims][..]), "{v:?}");
        assert!(v.headline.contains("relay-dead"), "{}", v.headline);
    }

    #[test]
    fn an_engine_incident_names_its_activity_and_fits_a_retry() {
        let mut d = order("IN_PROGRESS", 40);
        d.outbox_events.push(event("PUBLISHED", 40));
        d.projection = Some(platform::query::OrderProjectionRow {
            status: "IN_PROGRESS".into(),
            aggregate_version: 3,
            total_minor: 100,
            currency: "EUR".into(),
            last_event_id: None,
            source_updated_at: now(),
            projected_at: now(),
        });
        let v = judge_with(&d, EngineView::Instances(vec![instance(Some("vendor answered 503"))]), &[]);
        assert_eq!(v.stage, Stage::Engine);
        assert!(v.headline.contains("request_fulfillment") && v.headline.contains("503"), "{}", v.headline);
        assert_eq!(v.fits.first(), Some(&RepairType::RetryEngineJob));
    }

    #[test]
    fn no_instance_for_an_orchestrating_order_fits_resume_and_an_unreachable_engine_is_said() {
        let d = order("ORCHESTRATING", 120);
        let v = judge_with(&d, EngineView::Instances(vec![]), &[]);
        assert_eq!((v.stage, v.fits.as_slice()), (Stage::Engine, &[RepairType::ResumeOrchestration][..]));
        let down = judge_with(&d, EngineView::Unavailable("connection refused".into()), &[]);
        assert_eq!(down.tone, Tone::Warn);
        assert!(down.headline.contains("cannot be asked"), "{}", down.headline);
    }

    #[test]
    fn a_given_up_start_and_a_paused_start_are_told_apart() {
        let mut d = order("CAPTURED", 20);
        let start = |status: &str| OrchestrationStartRow {
            status: status.into(),
            attempts: 20,
            next_attempt_at: None,
            last_attempt_at: None,
            last_error: Some("engine unreachable".into()),
            claimed_by: None,
            process_instance_id: None,
            settled_by: None,
            settled_at: None,
            reason: Some("20 attempts failed".into()),
            created_at: now(),
        };
        d.orchestration_start = Some(start("GAVE_UP"));
        let v = judge_with(&d, EngineView::Instances(vec![]), &[]);
        assert_eq!((v.stage, v.tone), (Stage::Start, Tone::Bad));
        assert!(v.headline.contains("given up"));
        d.orchestration_start = Some(start("PENDING"));
        let paused = SwitchView {
            switch: Switch::OrchestrationStarts,
            control_key: "PAUSE_ORCHESTRATION_STARTS".into(),
            tenant_id: None,
            target: None,
            on: true,
            reason: "engine maintenance".into(),
            changed_by: "oscar".into(),
            changed_at: now(),
            incident_id: None,
            pause: None,
        };
        let v = judge_with(&d, EngineView::Instances(vec![]), &[paused]);
        assert!(v.headline.contains("paused") && v.headline.contains("engine maintenance"), "{}", v.headline);
        assert!(v.fits.is_empty(), "a mitigation in force is not repaired");
    }

    #[test]
    fn duplicates_come_first_and_a_fulfilled_order_is_done() {
        let d = order("FULFILLED", 600);
        let v = judge(&Evidence { detail: &d, orders_of_quote: 2, engine: &EngineView::Instances(vec![]), controls: &[], now: now() });
        assert_eq!((v.stage, v.fits.as_slice()), (Stage::Quote, &[RepairType::ResolveDuplicateOrder][..]));
        assert_eq!(judge_with(&d, EngineView::Instances(vec![]), &[]).stage, Stage::Done);
    }
}
