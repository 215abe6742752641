//! What the repair tests share: the services a repair reaches, an incident to link it to, a request with
//! its parameters, a quote waiting for approval, an approval of a dry-run, the refusals of a dry-run, and a HIGH-risk repair carried
//! through approval to execution.

use std::time::Duration;

use ops::ids::IncidentId;
use ops::identity::Actor;
use ops::repair::*;
use ops::testing::demo_user;
use platform::approval_timer::request_approval;
use platform::engine::EngineClient;
use platform::ids::{ApprovalRequestId, QuoteId};
use platform::tenants::ACME;
use platform::testing::{approval_policy, ctx, engine_url, priced_quote};
use sqlx::PgPool;
use uuid::Uuid;

/// The real engine, and a re-check that waits up to `recheck_wait` for asynchronous work.
pub fn services_waiting(recheck_wait: Duration) -> Services {
    let mut services = Services::new(EngineClient::with_request_timeout(engine_url(), Duration::from_secs(10)));
    services.recheck_wait = recheck_wait;
    services
}

pub fn services() -> Services {
    services_waiting(Duration::from_secs(30))
}

/// A quote of acme waiting for approval (its total is above the policy's threshold), and its open request.
pub async fn pending_approval(pool: &PgPool, number: &str) -> (QuoteId, ApprovalRequestId) {
    let policy = approval_policy(pool, ACME, 100).await;
    let quote = priced_quote(pool, ACME, number).await;
    let mut tx = pool.begin().await.unwrap();
    let requested = request_approval(&mut tx, ACME, quote, &policy, &ctx()).await.unwrap();
    tx.commit().await.unwrap();
    (quote, requested.approval_request_id)
}

/// A SEV2 of acme, declared by oscar.
pub async fn incident(pool: &PgPool) -> IncidentId {
    super::declare(pool, &demo_user("oscar.operator"), "SEV2", &[ACME], &[]).await.incident_id
}

/// The request form of `repair_type` for an entity of acme, filled as a person would, with `parameters`
/// (name, value) on it.
pub fn form(repair_type: &str, entity: impl Into<Uuid>, incident: IncidentId, key: &str, parameters: &[(&str, &str)]) -> RepairRequestForm {
    let mut form = RepairRequestForm {
        repair_type: repair_type.into(),
        tenant: ACME.to_string(),
        entity_id: entity.into().to_string(),
        incident_id: incident.to_string(),
        reason: format!("{repair_type}: what the runbook calls for here"),
        idempotency_key: key.into(),
        ..Default::default()
    };
    for (name, value) in parameters {
        *form.parameter_mut(name).unwrap_or_else(|| panic!("{name} is no parameter")) = (*value).to_string();
    }
    form
}

/// The parsed request of [`form`]: the form must be valid.
pub fn request(repair_type: &str, entity: impl Into<Uuid>, incident: IncidentId, key: &str, parameters: &[(&str, &str)]) -> RepairForRequest {
    let form = form(repair_type, entity, incident, key, parameters);
    RepairForRequest::parse(&form, true).unwrap_or_else(|e| panic!("{repair_type}: {e}"))
}

pub fn approve(hash: &str) -> RepairDecision {
    RepairDecision::parse(&DecisionForm {
        decision: "APPROVE".into(),
        comment: "checked the evidence with the domain owner".into(),
        proposed_change_hash: hash.into(),
    })
    .unwrap()
}

/// The failed checks a refused request names.
pub async fn refused(pool: &PgPool, services: &Services, by: &Actor, input: &RepairForRequest) -> Vec<String> {
    match request_repair(pool, services, by, input).await {
        Err(ops::Error::Rule { missing, .. }) => missing,
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(done) => panic!("not refused: {:?}", done.repair.safety_checks),
    }
}

/// The check a dry-run answered `question` with.
pub fn answer<'a>(checks: &'a [SafetyCheck], question: &str) -> &'a SafetyCheck {
    checks.iter().find(|c| c.question.starts_with(question)).unwrap_or_else(|| panic!("no check {question:?} in {checks:?}"))
}

/// Requested by oscar, approved by ada, executed by oscar: a HIGH-risk repair's whole way.
pub async fn request_approve_execute(pool: &PgPool, services: &Services, input: &RepairForRequest) -> Repair {
    let oscar = demo_user("oscar.operator");
    let requested = request_repair(pool, services, &oscar, input).await.unwrap().repair;
    assert_eq!(requested.risk, Risk::High, "{:?}", requested.risk_reasons);
    let err = execute_repair(pool, services, &oscar, requested.repair_id, None).await.unwrap_err();
    assert!(err.to_string().contains("only after another person approved it"), "{err}");
    decide_repair(pool, services, &demo_user("ada.approver"), requested.repair_id, &approve(&requested.proposed_change_hash))
        .await
        .unwrap();
    execute_repair(pool, services, &oscar, requested.repair_id, Some(&requested.proposed_change_hash)).await.unwrap().repair
}
