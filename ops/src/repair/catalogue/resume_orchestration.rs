//! Resume order orchestration (lesson §8.4–8.6): an order that is captured, stalled or failed gets its
//! process back — a new instance under `tenantId:orderId` started where the order stands, or the stalled
//! instance restarted in place — through the order's `RESUME_ORCHESTRATION` transition
//! (`platform::orchestration::resume`). The lesson's safety checks run first: a sent fulfillment request
//! of unknown outcome, or an engine instance still there, makes it HIGH risk and says so.

use platform::command::CommandContext;
use platform::ids::OrderId;
use platform::order::{OrderLineStatus, OrderStatus};
use platform::orchestration::resume::{self, How};
use platform::orchestration::FulfillmentRequestStatus;
use platform::query::OrderDetail;
use serde_json::json;
use sqlx::PgConnection;

use super::{engine_error, Applied, Services, Target};
use crate::error::{Error, Result};
use crate::repair::model::{DryRun, Recheck, RepairInfo, RepairType, Risk, SafetyCheck, Verdict};

pub const INFO: RepairInfo = RepairInfo {
    repair_type: RepairType::ResumeOrchestration,
    title: "Resume order orchestration",
    entity_type: "ORDER",
    base_risk: Risk::Low,
    checks: "The order is in a resumable state; no process instance is active, or only one stalled on an \
             incident; no duplicate instance; the fulfillment requests' outcome is known (a sent request of \
             unknown outcome makes it HIGH risk); the durable start is settled.",
    changes: "RESUME_ORCHESTRATION on the order (and RETRY of failed lines); after the commit a process instance under \
              the business key tenantId:orderId started at the activity the order has reached — or the stalled \
              instance restarted there.",
    approvers: "approver (a second person) when HIGH risk",
    runbook: "stuck-order",
    lesson: "§8.4–8.6",
    parameters: &[],
};

fn parse_order(target: &Target) -> OrderId {
    OrderId::from_uuid(target.entity_id)
}

async fn load(db: &mut PgConnection, target: &Target) -> Result<OrderDetail> {
    super::order_of(db, target).await
}

pub async fn assess(db: &mut PgConnection, services: &Services, target: &Target) -> Result<DryRun> {
    let order = parse_order(target);
    let detail = load(db, target).await?;
    let status: OrderStatus = detail.order.status.parse()?;
    let lines: Vec<OrderLineStatus> = detail.lines.iter().map(|l| l.status.parse()).collect::<platform::Result<_>>()?;
    let instances = resume::instances(&services.engine, target.tenant, order).await.map_err(engine_error)?;

    let mut checks = Vec::new();
    let mut raised = Vec::new();

    // Is the order in a resumable state?
    let point = resume::resume_point(status, &lines);
    checks.push(match &point {
        Ok(at) => SafetyCheck::new(
            "Is the order in a resumable state?",
            Verdict::Pass,
            format!("{status} (version {}): its process starts again at {}", detail.order.version, at.activity()),
        ),
        Err(why) => SafetyCheck::new("Is the order in a resumable state?", Verdict::Fail, why.clone()),
    });

    // Is a process instance still active? Is there a duplicate?
    let how = resume::how(&instances);
    checks.push(match (&how, instances.len()) {
        (Ok(How::NewInstance), _) => {
            SafetyCheck::new("Is a process instance still active?", Verdict::Pass, "none: a new instance will be started")
        }
        (Ok(How::RestartInPlace { process_instance_id, cancel }), _) => {
            raised.push(format!("process instance {process_instance_id} is still in the engine (stalled at {cancel})"));
            SafetyCheck::new(
                "Is a process instance still active?",
                Verdict::Warn,
                format!("{process_instance_id} is stalled on an incident at {cancel}: it is restarted in place"),
            )
        }
        (Err(why), n) if n > 1 => SafetyCheck::new("Is a process instance still active?", Verdict::Fail, why.clone()),
        (Err(why), _) => SafetyCheck::new("Is a process instance still active?", Verdict::Fail, why.clone()),
    });
    checks.push(if instances.len() > 1 {
        SafetyCheck::new(
            "Is there a duplicate process instance for the order?",
            Verdict::Fail,
            format!("{} instances: {}", instances.len(), instances.iter().map(|i| i.id.as_str()).collect::<Vec<_>>().join(", ")),
        )
    } else {
        SafetyCheck::new("Is there a duplicate process instance for the order?", Verdict::Pass, "no")
    });

    // Has an external fulfillment request been sent?
    let unknown: Vec<String> = detail
        .fulfillment_requests
        .iter()
        .filter(|f| matches!(f.status.parse(), Ok(FulfillmentRequestStatus::Sent | FulfillmentRequestStatus::Recorded)))
        .map(|f| format!("line {} (key {})", f.line_no.unwrap_or_default(), f.idempotency_key))
        .collect();
    let acknowledged = detail
        .fulfillment_requests
        .iter()
        .filter(|f| matches!(f.status.parse(), Ok(FulfillmentRequestStatus::Acknowledged | FulfillmentRequestStatus::Completed)))
        .count();
    checks.push(if unknown.is_empty() {
        SafetyCheck::new(
            "Is an external fulfillment request already sent?",
            Verdict::Pass,
            if acknowledged > 0 {
                format!("{acknowledged} acknowledged by the vendor: not sent again")
            } else {
                "none sent".to_string()
            },
        )
    } else {
        raised.push(format!("fulfillment sent with unknown outcome: {}", unknown.join(", ")));
        SafetyCheck::new(
            "Is an external fulfillment request already sent?",
            Verdict::Warn,
            format!(
                "sent, outcome unknown: {} — a retry sends the same idempotency key, which the vendor deduplicates",
                unknown.join(", ")
            ),
        )
    });

    // Was a reservation made?
    let reserved = lines.iter().filter(|l| **l == OrderLineStatus::Reserved).count();
    checks.push(SafetyCheck::new(
        "Was a reservation already executed?",
        Verdict::Pass,
        if reserved > 0 {
            format!("{reserved} line(s) reserved: kept, the reserve step skips them")
        } else {
            "no line reserved yet".to_string()
        },
    ));

    // Are the lines consistent with the order?
    let advanced = lines.iter().any(|l| matches!(l, OrderLineStatus::FulfillmentRequested | OrderLineStatus::Fulfilled));
    checks.push(if advanced && matches!(status, OrderStatus::Captured | OrderStatus::Orchestrating) {
        SafetyCheck::new(
            "Are the order's lines consistent with the order?",
            Verdict::Fail,
            format!("the order is {status} but lines were already requested for fulfillment: investigate first"),
        )
    } else {
        SafetyCheck::new("Are the order's lines consistent with the order?", Verdict::Pass, "yes")
    });

    // Is the durable start settled?
    checks.push(match detail.orchestration_start.as_ref().map(|s| s.status.as_str()) {
        Some("PENDING") => SafetyCheck::new(
            "Is the order's orchestration start settled?",
            Verdict::Fail,
            "the starter still retries it: resuming now would race the starter",
        ),
        Some("GAVE_UP") => SafetyCheck::new(
            "Is the order's orchestration start settled?",
            Verdict::Pass,
            format!(
                "given up: {}",
                detail.orchestration_start.as_ref().and_then(|s| s.reason.clone()).unwrap_or_default()
            ),
        ),
        Some(other) => SafetyCheck::new("Is the order's orchestration start settled?", Verdict::Pass, other.to_string()),
        None => SafetyCheck::new(
            "Is the order's orchestration start settled?",
            Verdict::Pass,
            "no start record (captured before starts were durable)",
        ),
    });

    let failed_lines: Vec<i32> = detail
        .lines
        .iter()
        .filter(|l| l.status == OrderLineStatus::Failed.as_str())
        .map(|l| l.line_no)
        .collect();
    let proposed = json!({
        "order_command": "RESUME_ORCHESTRATION",
        "order_status_from": status,
        "resume_at": point.as_ref().ok().map(|a| a.activity()),
        "how": how.as_ref().ok(),
        "retry_lines": failed_lines,
        "business_key": detail.order.business_key(),
    });
    let before = json!({
        "order": { "number": detail.order.order_number, "status": status, "version": detail.order.version },
        "lines": detail.lines.iter().map(|l| json!({ "line_no": l.line_no, "status": l.status })).collect::<Vec<_>>(),
        "fulfillment_requests": detail.fulfillment_requests.iter()
            .map(|f| json!({ "line_no": f.line_no, "status": f.status, "key": f.idempotency_key }))
            .collect::<Vec<_>>(),
        "orchestration_start": detail.orchestration_start.as_ref().map(|s| json!({ "status": s.status, "reason": s.reason })),
        "engine_instances": instances,
    });
    Ok(DryRun {
        entity_version: Some(detail.order.version),
        before,
        proposed,
        checks,
        base_risk: INFO.base_risk,
        raised_because: raised,
    })
}

pub async fn apply(
    db: &mut PgConnection,
    _services: &Services,
    target: &Target,
    dry: &DryRun,
    ctx: &CommandContext,
) -> Result<Applied> {
    let detail = load(db, target).await?;
    let status: OrderStatus = detail.order.status.parse()?;
    let lines: Vec<OrderLineStatus> = detail.lines.iter().map(|l| l.status.parse()).collect::<platform::Result<_>>()?;
    let at = resume::resume_point(status, &lines).map_err(Error::rule)?;
    let how: How = serde_json::from_value(dry.proposed["how"].clone())
        .map_err(|_| Error::rule("the dry-run found no way to resume this order"))?;
    let version = dry.entity_version.unwrap_or(detail.order.version);
    let resumed = resume::resume(db, target.tenant, parse_order(target), version, at, &how, ctx)
        .await
        .map_err(super::orchestration_error)?;
    Ok(Applied {
        after: json!({
            "order_status": resumed.order_status,
            "order_version": resumed.order_version,
            "process_instance_id": resumed.process_instance_id,
            "resumed_at": resumed.at.activity(),
            "how": resumed.how,
            "lines_retried": resumed.lines_retried,
        }),
        follow_ups: vec![resumed.follow_up],
    })
}

/// Coherent when the order has exactly one process instance, without an incident, and is active.
pub async fn recheck(db: &mut PgConnection, services: &Services, target: &Target) -> Result<Recheck> {
    let detail = load(db, target).await?;
    let instances = resume::instances(&services.engine, target.tenant, parse_order(target)).await.map_err(engine_error)?;
    let status: OrderStatus = detail.order.status.parse()?;
    let finished = status == OrderStatus::Fulfilled;
    let mut checks = vec![match instances.as_slice() {
        [one] if one.incidents.is_empty() => SafetyCheck::new(
            "Does the order have its one process instance, without an incident?",
            Verdict::Pass,
            format!("{} at {}", one.id, one.activities.join(", ")),
        ),
        [] if finished => SafetyCheck::new(
            "Does the order have its one process instance, without an incident?",
            Verdict::Pass,
            "the process already completed: the order is FULFILLED",
        ),
        [] => SafetyCheck::new("Does the order have its one process instance, without an incident?", Verdict::Fail, "none"),
        [one] => SafetyCheck::new(
            "Does the order have its one process instance, without an incident?",
            Verdict::Fail,
            format!("{} has an incident again: {}", one.id, one.incidents[0].message.clone().unwrap_or_default()),
        ),
        several => SafetyCheck::new(
            "Does the order have its one process instance, without an incident?",
            Verdict::Fail,
            format!("{} instances", several.len()),
        ),
    }];
    checks.push(SafetyCheck::new(
        "Is the order moving again?",
        if matches!(status, OrderStatus::Failed | OrderStatus::Cancelled) { Verdict::Fail } else { Verdict::Pass },
        format!("{status} (version {})", detail.order.version),
    ));
    Ok(Recheck { coherent: checks.iter().all(|c| c.verdict != Verdict::Fail), checks })
}
