//! The internal repair API (lesson §18): `POST /internal/v1/repairs/{type}` with the lesson's body
//! (`tenantId`, `orderId` or `entityId`, `incidentId`, `reason` ≥ 20, `dryRun` required, and the repair's
//! `parameters` where it has some) and an `Idempotency-Key` header (required). The same lifecycle and
//! approval rules as the console:
//!
//! - `dryRun: true` — the repair is requested: its dry-run is stored REQUESTED and answered (201; 200
//!   when the key had been used: the first request's repair);
//! - `dryRun: false` — the repair under the key (requested now if new) is executed when it may be: a LOW
//!   one at once (the service confirms its own dry-run), a HIGH one once a person approved it in the
//!   console (202 while it waits); executing again answers the first outcome. A service never approves.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use chrono::{DateTime, Utc};
use ops::ids::RepairId;
use ops::repair::{self, Repair, RepairForRequest, RepairRequestForm, RepairStatus, Risk};
use platform::machine::Named;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::service::Service;
use crate::error::{Error, Result};
use crate::startup::AppState;

/// The header that makes a request happen once.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A repair request as services send it (lesson §18.1).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RepairApiRequest {
    pub tenant_id: Uuid,
    /// The order to repair (order repairs); or `entityId` for the others.
    #[serde(default)]
    pub order_id: Option<Uuid>,
    #[serde(default)]
    pub entity_id: Option<Uuid>,
    pub incident_id: Uuid,
    /// Why, in at least 20 characters.
    #[schema(min_length = 20)]
    pub reason: String,
    /// true: store the dry-run only; false: execute (when allowed).
    pub dry_run: bool,
    /// What the repair type needs beyond the envelope, by the names of its catalogue entry's parameters
    /// (`approved_by`, `assignee`, …); an unknown name is refused.
    #[serde(default)]
    pub parameters: std::collections::BTreeMap<String, String>,
}

/// One safety check of a dry-run.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SafetyCheckView {
    pub question: String,
    /// PASS, WARN or FAIL.
    pub verdict: String,
    pub detail: String,
}

/// A repair, as the API answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RepairView {
    pub repair_id: Uuid,
    pub repair_type: String,
    /// REQUESTED, APPROVED, REJECTED, EXECUTED or FAILED.
    pub status: String,
    /// LOW or HIGH.
    pub risk: String,
    pub risk_reasons: Vec<String>,
    pub tenant_id: Uuid,
    pub entity_type: String,
    pub entity_id: Uuid,
    pub incident_id: Uuid,
    pub reason: String,
    pub idempotency_key: String,
    pub requested_by: String,
    pub approved_by: Option<String>,
    pub entity_version: Option<i64>,
    pub safety_checks: Vec<SafetyCheckView>,
    #[schema(value_type = Object)]
    pub before_state: serde_json::Value,
    #[schema(value_type = Object)]
    pub proposed_change: serde_json::Value,
    pub proposed_change_hash: String,
    #[schema(value_type = Option<Object>)]
    pub after_state: Option<serde_json::Value>,
    pub failure_reason: Option<String>,
    pub executed_at: Option<DateTime<Utc>>,
    /// After execution: whether the invariants the repair restores hold (absent while an engine call is
    /// still owed: the re-check waits for it).
    pub coherent_after: Option<bool>,
    /// Engine calls the execution still owes after its commit, retried automatically.
    pub pending_engine_calls: Vec<String>,
    /// What the caller should expect next.
    pub next: String,
    /// The key had been used: this is the first outcome, nothing was done again.
    pub replayed: bool,
}

impl RepairView {
    fn of(repair: Repair, replayed: bool) -> Self {
        let next = match (repair.status, repair.risk) {
            (RepairStatus::Requested, Risk::High) => "waiting for approval by a person with the approver role in the console",
            (RepairStatus::Requested, Risk::Low) => "send it again with dryRun false to execute it",
            (RepairStatus::Approved, _) => "approved: send it again with dryRun false to execute it",
            (RepairStatus::Rejected, _) => "rejected: nothing will be done",
            (RepairStatus::Executed, _) if repair.follow_ups.iter().any(|f| f.pending()) => {
                "executed; an engine call is still owed and retried automatically (pendingEngineCalls)"
            }
            (RepairStatus::Executed, _) => "executed",
            (RepairStatus::Failed, _) => "failed: nothing of it stayed; request it again with a new key if still needed",
        };
        RepairView {
            repair_id: repair.repair_id.as_uuid(),
            repair_type: repair.repair_type.name().to_string(),
            status: repair.status.name().to_string(),
            risk: repair.risk.name().to_string(),
            risk_reasons: repair.risk_reasons,
            tenant_id: repair.tenant_id.as_uuid(),
            entity_type: repair.entity_type,
            entity_id: repair.entity_id,
            incident_id: repair.incident_id.as_uuid(),
            reason: repair.reason,
            idempotency_key: repair.idempotency_key,
            requested_by: repair.requested_by,
            approved_by: repair.approved_by,
            entity_version: repair.entity_version,
            safety_checks: repair
                .safety_checks
                .into_iter()
                .map(|c| SafetyCheckView { question: c.question, verdict: c.verdict.name().to_string(), detail: c.detail })
                .collect(),
            before_state: repair.before_state,
            proposed_change: repair.proposed_change,
            proposed_change_hash: repair.proposed_change_hash,
            after_state: repair.after_state,
            failure_reason: repair.failure_reason,
            executed_at: repair.executed_at,
            coherent_after: repair.recheck.map(|r| r.coherent),
            pending_engine_calls: repair.follow_ups.iter().filter(|f| f.pending()).map(|f| f.description.clone()).collect(),
            next: next.to_string(),
            replayed,
        }
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String> {
    headers
        .get(IDEMPOTENCY_KEY)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| Error::Ops(ops::Error::invalid("idempotency_key", "the Idempotency-Key header is required")))
}

/// `POST /internal/v1/repairs/{type}`.
#[utoipa::path(post, path = "/repairs/{repair_type}", tag = "repairs",
    params(
        ("repair_type" = String, Path, description = "The repair: resume-orchestration, release-stale-claims, … \
            (the document lists them all)"),
        ("Idempotency-Key" = String, Header, description = "Required: 8 to 200 printable ASCII characters without \
            spaces; the same key answers the first outcome"),
    ),
    request_body = RepairApiRequest,
    responses(
        (status = 201, description = "Requested: the dry-run is stored", body = RepairView),
        (status = 200, description = "Executed, or the first outcome under the key", body = RepairView),
        (status = 202, description = "Waiting for a person's approval", body = RepairView),
        (status = 401, description = "No or a refused token"),
        (status = 403, description = "The service may not request repairs (scope ops.repair) or not in this tenant"),
        (status = 409, description = "Refused by a rule: a failed safety check, a key used for another request"),
        (status = 412, description = "The entity moved on since the dry-run"),
        (status = 422, description = "Invalid input: a short reason, no incident, no key"),
        (status = 503, description = "A dependency is unavailable; nothing changed"),
    ),
    security(("serviceAuth" = ["ops.repair"])))]
#[tracing::instrument(name = "internal.repair", skip_all, fields(actor = %service.0.subject, %repair_type))]
pub async fn request(
    State(state): State<AppState>,
    service: Service,
    Path(repair_type): Path<String>,
    headers: HeaderMap,
    Json(body): Json<RepairApiRequest>,
) -> Result<(StatusCode, Json<RepairView>)> {
    let key = idempotency_key(&headers)?;
    let entity = body
        .order_id
        .or(body.entity_id)
        .ok_or_else(|| Error::Ops(ops::Error::invalid("entity_id", "orderId (or entityId) is required")))?;
    let mut form = RepairRequestForm {
        repair_type,
        tenant: body.tenant_id.to_string(),
        entity_id: entity.to_string(),
        incident_id: body.incident_id.to_string(),
        reason: body.reason,
        idempotency_key: key,
        ..Default::default()
    };
    for (name, value) in body.parameters {
        let field = form.parameter_mut(&name).ok_or_else(|| Error::Ops(ops::Error::invalid("parameters", format!("no parameter {name}"))))?;
        *field = value;
    }
    let input = RepairForRequest::parse(&form, body.dry_run).map_err(|e| Error::Ops(e.into()))?;
    let requested = repair::request_repair(&state.pool, &state.repairs, &service.0, &input).await?;
    if body.dry_run {
        let status = if requested.replayed { StatusCode::OK } else { StatusCode::CREATED };
        return Ok((status, Json(RepairView::of(requested.repair, requested.replayed))));
    }
    let repair = requested.repair;
    if repair.risk == Risk::High && repair.status == RepairStatus::Requested {
        return Ok((StatusCode::ACCEPTED, Json(RepairView::of(repair, requested.replayed))));
    }
    let executed = repair::execute_repair(&state.pool, &state.repairs, &service.0, repair.repair_id, None).await?;
    Ok((StatusCode::OK, Json(RepairView::of(executed.repair, executed.replayed))))
}

/// `GET /internal/v1/repairs/{id}`.
#[utoipa::path(get, path = "/repairs/by-id/{repair_id}", tag = "repairs",
    params(("repair_id" = Uuid, Path, description = "The repair's id")),
    responses((status = 200, description = "The repair", body = RepairView), (status = 403, description = "Outside the service's scope"),
        (status = 404, description = "No such repair")),
    security(("serviceAuth" = ["ops.read"])))]
#[tracing::instrument(name = "internal.repair_detail", skip_all, fields(actor = %service.0.subject, %repair_id))]
pub async fn detail(State(state): State<AppState>, service: Service, Path(repair_id): Path<String>) -> Result<Json<RepairView>> {
    let id = RepairId::parse(&repair_id).map_err(|_| Error::NotFound(format!("no repair {repair_id}")))?;
    let repair = repair::repair_detail(&state.pool, &service.0, id).await?;
    Ok(Json(RepairView::of(repair, false)))
}
