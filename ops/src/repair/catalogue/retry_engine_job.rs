//! Retry a failed engine job (lesson §13): an order's external task ran out of retries and waits in the
//! engine with an incident. The failure is classified first (§13.1): a transient one (the vendor's 503, a
//! timeout, an outage) is retried once its cause is gone; a business validation failure (the vendor
//! rejected the line, the order's state refuses the step) is refused — a blind retry changes nothing, a
//! domain repair does; an unknown one is retried only once its cause is fixed, by two people. The retry
//! goes through the order's machine (`RESUME_ORCHESTRATION`, the evidence of the restart) and gives the
//! task one retry back (`platform::orchestration::retry`); the re-check waits for the worker and verifies
//! the order moved (§13.2 step 9).

use platform::command::CommandContext;
use platform::ids::OrderId;
use platform::order::OrderStatus;
use platform::orchestration::failure::{classify_recorded, Classified, FailureClass};
use platform::orchestration::retry::{failed_tasks, retry_failed_task, FailedTask};
use platform::orchestration::{FulfillmentRequestStatus, WORKER_KIND};
use platform::query::OrderDetail;
use serde_json::json;
use sqlx::PgConnection;

use super::{check, engine_error, judged, live_worker, order_of, orchestration_error, proposed, Applied, Outcome, Patience, Services, Target};
use crate::error::{Error, Result};
use crate::repair::model::{DryRun, Recheck, RepairInfo, RepairType, Risk, SafetyCheck, Verdict};

pub const INFO: RepairInfo = RepairInfo {
    repair_type: RepairType::RetryEngineJob,
    title: "Retry a failed engine job",
    entity_type: "ORDER",
    base_risk: Risk::Low,
    checks: "The order's process has one failed task (retries exhausted, an incident); its failure is \
             classified from the engine's message and the vendor's recorded answer — transient passes, a \
             business validation failure is refused (§13.1: no blind retry), an unknown cause makes it HIGH \
             risk; the order is still being orchestrated; a fulfillment request of unknown outcome makes it \
             HIGH risk; an engine worker is alive to run it.",
    changes: "RESUME_ORCHESTRATION on the order (a self-transition: the evidence of the restart); after the \
              commit the failed task's retries set to 1 in the engine, which resolves its incident; the worker runs the \
              step again (idempotent, same vendor idempotency key). Re-checked: the task no longer fails and \
              the order moved.",
    approvers: "none when LOW (the requester executes after confirming the dry-run); an approver when an \
                unknown cause or a side effect of unknown outcome makes it HIGH",
    runbook: "engine-incident",
    lesson: "§13.1–13.2",
    parameters: &[],
};

const FAILED_TASK: &str = "Is there one failed task to retry?";
const CLASS: &str = "Is the failure transient, or a business validation failure?";
const MOVING: &str = "Is the order still being orchestrated?";
const SIDE_EFFECT: &str = "May the failed step's side effect have happened already?";
const WORKER: &str = "Is an engine worker alive to run the task again?";
const RELEASE: &str = "Does the release serving the tenant still break this step?";

fn order_id(target: &Target) -> OrderId {
    OrderId::from_uuid(target.entity_id)
}

/// The vendor's recorded answer to the order's failed fulfillment request, the best evidence of why a
/// request-fulfillment task failed: a business rejection first, else the latest failure's code.
fn vendor_answer(detail: &OrderDetail) -> Option<i32> {
    let failed = || detail.fulfillment_requests.iter().filter(|f| f.status == FulfillmentRequestStatus::Failed.as_str());
    failed()
        .filter_map(|f| f.response_code)
        .find(|c| classify_recorded(None, Some(*c)).class == FailureClass::Business)
        .or_else(|| failed().max_by_key(|f| f.updated_at).and_then(|f| f.response_code))
}

fn classify(task: &FailedTask, detail: &OrderDetail) -> Classified {
    let answer = (task.activity_id.as_deref() == Some("request-fulfillment")).then(|| vendor_answer(detail)).flatten();
    classify_recorded(task.error_message.as_deref(), answer)
}

pub async fn assess(db: &mut PgConnection, services: &Services, target: &Target) -> Result<DryRun> {
    let detail = order_of(db, target).await?;
    let status: OrderStatus = detail.order.status.parse()?;
    let failed = failed_tasks(&services.engine, target.tenant, order_id(target)).await.map_err(engine_error)?;
    let mut checks = Vec::new();
    let mut raised = Vec::new();

    checks.push(match failed.as_slice() {
        [task] => SafetyCheck::new(
            FAILED_TASK,
            Verdict::Pass,
            format!(
                "task {} at {} of instance {}{}: {}",
                task.task_id,
                task.activity_id.as_deref().unwrap_or("?"),
                task.process_instance_id,
                task.incident_id.as_deref().map(|i| format!(" (incident {i})")).unwrap_or_default(),
                task.error_message.as_deref().unwrap_or("no message")
            ),
        ),
        [] => {
            let instances = services
                .engine
                .instances_by_business_key(&platform::engine::BusinessKey::for_order(target.tenant, order_id(target)))
                .await
                .map_err(engine_error)?;
            let why = if instances.is_empty() {
                "the order has no process instance: resume-orchestration is the repair for it".to_string()
            } else {
                "its process runs without a failed task: there is nothing to retry".to_string()
            };
            SafetyCheck::new(FAILED_TASK, Verdict::Fail, why)
        }
        several => SafetyCheck::new(
            FAILED_TASK,
            Verdict::Fail,
            format!(
                "{} failed tasks ({}): more than one process runs for the order — resolve that first",
                several.len(),
                several.iter().map(|t| t.task_id.as_str()).collect::<Vec<_>>().join(", ")
            ),
        ),
    });
    let task = (failed.len() == 1).then(|| &failed[0]);

    let class = task.map(|t| classify(t, &detail));
    if let Some(class) = &class {
        checks.push(match class.class {
            FailureClass::Transient => SafetyCheck::new(CLASS, Verdict::Pass, format!("{}: retry once it is gone", class.why)),
            FailureClass::Business => SafetyCheck::new(
                CLASS,
                Verdict::Fail,
                format!(
                    "{}: a blind retry of a business failure is refused (§13.1) — fix the data, or repair the order \
                     in its domain",
                    class.why
                ),
            ),
            FailureClass::Unknown => {
                raised.push(format!("the failure is not known to be transient ({})", class.why));
                SafetyCheck::new(CLASS, Verdict::Warn, format!("{}: retry only once its cause is found and fixed", class.why))
            }
        });
    }

    // A bad deployment (§16): the step fails because of the release serving the tenant. Retrying it
    // while that release still serves only fails again; once rolled back or forward, the retry is sound.
    if let Some(task) = task {
        let serving = platform::release::current(db, target.tenant).await?;
        let breaks = serving.as_ref().filter(|r| r.is_defective() && r.defect_topic.as_deref() == task.topic.as_deref());
        let blamed = task.error_message.as_deref().is_some_and(|m| m.starts_with("release "));
        match (breaks, blamed) {
            (Some(r), _) => checks.push(SafetyCheck::new(
                RELEASE,
                Verdict::Fail,
                format!(
                    "release {} still serves the tenant and breaks this step: roll it back or forward first (Controls → Releases)",
                    r.version
                ),
            )),
            (None, true) => checks.push(SafetyCheck::new(
                RELEASE,
                Verdict::Pass,
                format!(
                    "the release that failed it no longer serves the tenant (now {})",
                    serving.map(|r| r.version).unwrap_or_else(|| platform::release::BASELINE.to_string())
                ),
            )),
            (None, false) => {}
        }
    }

    checks.push(match status {
        OrderStatus::Orchestrating | OrderStatus::InProgress | OrderStatus::PartiallyFulfilled => {
            SafetyCheck::new(MOVING, Verdict::Pass, format!("{status} (version {})", detail.order.version))
        }
        OrderStatus::Failed => SafetyCheck::new(
            MOVING,
            Verdict::Fail,
            "the order is FAILED: its process is stale — resume-orchestration restarts it where it stands",
        ),
        other => SafetyCheck::new(MOVING, Verdict::Fail, format!("the order is {other}: there is no step of it left to run")),
    });

    if task.is_some_and(|t| t.activity_id.as_deref() == Some("request-fulfillment")) {
        let unknown: Vec<String> = detail
            .fulfillment_requests
            .iter()
            .filter(|f| match f.status.parse() {
                Ok(FulfillmentRequestStatus::Sent | FulfillmentRequestStatus::Recorded) => true,
                Ok(FulfillmentRequestStatus::Failed) => f.response_code.is_none(),
                _ => false,
            })
            .map(|f| format!("line {} (key {})", f.line_no.unwrap_or_default(), f.idempotency_key))
            .collect();
        checks.push(if unknown.is_empty() {
            SafetyCheck::new(SIDE_EFFECT, Verdict::Pass, "no: every request the vendor got was answered (a 503 created nothing)")
        } else {
            raised.push(format!("fulfillment sent with unknown outcome: {}", unknown.join(", ")));
            SafetyCheck::new(
                SIDE_EFFECT,
                Verdict::Warn,
                format!(
                    "maybe: {} timed out — the retry sends the same idempotency key, which the vendor deduplicates",
                    unknown.join(", ")
                ),
            )
        });
    } else if let Some(task) = task {
        checks.push(SafetyCheck::new(
            SIDE_EFFECT,
            Verdict::Pass,
            format!("{} changes only the order, through its machine: a retry skips what is done", task.activity_id.as_deref().unwrap_or("the step")),
        ));
    }

    checks.push(match live_worker(db, WORKER_KIND).await? {
        Some(w) => SafetyCheck::new(WORKER, Verdict::Pass, format!("{} beat {} s ago", w.instance_id, w.seconds_ago)),
        None => SafetyCheck::new(
            WORKER,
            Verdict::Warn,
            "no live engine worker: the retried task waits until one runs, and the re-check will find the order not moved",
        ),
    });

    let proposed = json!({
        "order_command": "RESUME_ORCHESTRATION",
        "engine_command": "SET_EXTERNAL_TASK_RETRIES",
        "retries": 1,
        "task_id": task.map(|t| t.task_id.clone()),
        "process_instance_id": task.map(|t| t.process_instance_id.clone()),
        "activity": task.and_then(|t| t.activity_id.clone()),
        "failure": class,
    });
    let before = json!({
        "order": { "number": detail.order.order_number, "status": status, "version": detail.order.version },
        "lines": detail.lines.iter().map(|l| json!({ "line_no": l.line_no, "status": l.status })).collect::<Vec<_>>(),
        "fulfillment_requests": detail.fulfillment_requests.iter()
            .map(|f| json!({ "line_no": f.line_no, "status": f.status, "response_code": f.response_code, "key": f.idempotency_key }))
            .collect::<Vec<_>>(),
        "failed_tasks": failed,
    });
    Ok(DryRun { entity_version: Some(detail.order.version), before, proposed, checks, base_risk: INFO.base_risk, raised_because: raised })
}

pub async fn apply(db: &mut PgConnection, services: &Services, target: &Target, dry: &DryRun, ctx: &CommandContext) -> Result<Applied> {
    let task: String = proposed(&dry.proposed, "task_id")?;
    let version = dry.entity_version.ok_or_else(|| Error::Internal("the dry-run kept no order version".into()))?;
    let retried = retry_failed_task(db, &services.engine, target.tenant, order_id(target), version, &task, ctx)
        .await
        .map_err(orchestration_error)?;
    Ok(Applied {
        after: json!({
            "task_id": retried.task_id,
            "activity": retried.activity_id,
            "retries": 1,
            "order_status": retried.order_status,
            "order_version": retried.order_version,
        }),
        follow_ups: vec![retried.follow_up],
    })
}

/// Coherent when the retried task no longer fails and the order moved past the version the retry left it
/// at — given [`Services::recheck_wait`] for the worker to run it.
pub async fn recheck(db: &mut PgConnection, services: &Services, target: &Target, outcome: Outcome<'_>) -> Result<Recheck> {
    let task: String = proposed(outcome.proposed, "task_id")?;
    let retried_at: i64 = outcome.after.and_then(|a| a["order_version"].as_i64()).unwrap_or_default();
    let patience = Patience::new(services.recheck_wait);
    let (failed, status, version) = loop {
        let detail = order_of(db, target).await?;
        let failed = failed_tasks(&services.engine, target.tenant, order_id(target))
            .await
            .map_err(engine_error)?
            .into_iter()
            .find(|t| t.task_id == task);
        let settled = detail.order.version > retried_at || failed.is_some();
        if settled || !patience.wait().await {
            break (failed, detail.order.status, detail.order.version);
        }
    };
    Ok(judged(vec![
        match &failed {
            None => check("Does the retried task still fail?", true, format!("no: task {task} ran again")),
            Some(t) => check(
                "Does the retried task still fail?",
                false,
                format!("yes, it failed again: {}", t.error_message.as_deref().unwrap_or("no message")),
            ),
        },
        check(
            "Did the order move after the retry?",
            version > retried_at,
            if version > retried_at {
                format!("{status} at version {version} (the retry left it at {retried_at})")
            } else {
                format!(
                    "still {status} at version {version} {} s after the retry: is the engine worker running?",
                    services.recheck_wait.as_secs()
                )
            },
        ),
    ]))
}
