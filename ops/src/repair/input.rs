//! A repair's inputs, parsed once at the edge: the request envelope (lesson §18.1–18.2: tenant, entity,
//! incident, a reason of at least 20 characters, an idempotency key), a decision, a confirmation.

use platform::ids::TenantId;
use platform::machine::Named;
use serde::Serialize;
use uuid::Uuid;

use super::catalogue::Target;
use super::model::RepairType;
use crate::form::{parse, FieldErrors};
use crate::ids::IncidentId;

/// Why a repair is needed: at least [`RepairReason::MIN_CHARS`] characters (lesson §18.1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct RepairReason(String);

impl RepairReason {
    pub const MIN_CHARS: usize = 20;

    pub fn parse(errors: &mut FieldErrors, field: &'static str, input: &str) -> Option<RepairReason> {
        let text = parse::required_text(errors, field, input, parse::MAX_TEXT, "Say why this repair is needed")?;
        let n = text.chars().count();
        if n < Self::MIN_CHARS {
            errors.add(field, format!("Say why in at least {} characters (this is {n})", Self::MIN_CHARS));
            return None;
        }
        Some(RepairReason(text))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The key that makes a request happen once: the same key answers the first outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(errors: &mut FieldErrors, field: &'static str, input: &str) -> Option<IdempotencyKey> {
        let key = input.trim();
        let ok = (8..=200).contains(&key.len()) && key.chars().all(|c| c.is_ascii_graphic());
        if key.is_empty() {
            errors.add(field, "An idempotency key is required (the form makes one; an API call sends Idempotency-Key)");
            None
        } else if !ok {
            errors.add(field, "An idempotency key is 8 to 200 printable ASCII characters without spaces");
            None
        } else {
            Some(IdempotencyKey(key.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

crate::form! {
    /// The request form (and the internal API's body, mapped onto it).
    pub struct RepairRequestForm / RepairRequestFields {
        repair_type: String,
        tenant: String,
        entity_id: String,
        incident_id: String,
        reason: String,
        idempotency_key: String,
        /// The reconciliation mismatch the repair comes from, if any.
        mismatch_id: String,
    }
}

/// A request that passed every field check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairForRequest {
    pub repair_type: RepairType,
    pub target: Target,
    pub incident: IncidentId,
    pub reason: RepairReason,
    pub idempotency_key: IdempotencyKey,
    pub mismatch: Option<Uuid>,
    /// The caller asked for a dry-run only (the API's `dryRun`); the console always asks for one first.
    pub dry_run: bool,
}

impl RepairForRequest {
    pub fn parse(form: &RepairRequestForm, dry_run: bool) -> Result<Self, FieldErrors> {
        let f = RepairRequestForm::FIELDS;
        let mut e = FieldErrors::new();
        let repair_type = RepairType::parse_name(form.repair_type.trim());
        if repair_type.is_none() {
            let names: Vec<&str> = RepairType::ALL.iter().map(|t| t.name()).collect();
            e.add(f.repair_type, format!("Choose a repair: one of {}", names.join(", ")));
        }
        let tenant = match TenantId::parse(&form.tenant) {
            Ok(t) => Some(t),
            Err(_) => {
                e.add(f.tenant, "Choose the tenant the entity belongs to");
                None
            }
        };
        let entity = match Uuid::parse_str(form.entity_id.trim()) {
            Ok(id) => Some(id),
            Err(_) => {
                e.add(f.entity_id, "Give the id (UUID) of the entity to repair");
                None
            }
        };
        let incident = match IncidentId::parse(&form.incident_id) {
            Ok(id) => Some(id),
            Err(_) => {
                e.add(f.incident_id, "Every repair is linked to an incident: choose an open or mitigated one");
                None
            }
        };
        let reason = RepairReason::parse(&mut e, f.reason, &form.reason);
        let idempotency_key = IdempotencyKey::parse(&mut e, f.idempotency_key, &form.idempotency_key);
        let mismatch = match form.mismatch_id.trim() {
            "" => None,
            m => match Uuid::parse_str(m) {
                Ok(id) => Some(id),
                Err(_) => {
                    e.add(f.mismatch_id, "Not a mismatch id");
                    None
                }
            },
        };
        e.finish(|| RepairForRequest {
            repair_type: repair_type.expect("checked"),
            target: Target { tenant: tenant.expect("checked"), entity_id: entity.expect("checked") },
            incident: incident.expect("checked"),
            reason: reason.expect("checked"),
            idempotency_key: idempotency_key.expect("checked"),
            mismatch,
            dry_run,
        })
    }
}

crate::form! {
    /// An approver's decision on a HIGH-risk request: approve or reject, with why, of the dry-run shown.
    pub struct DecisionForm / DecisionFields {
        decision: String,
        comment: String,
        /// The proposed-change hash of the dry-run the approver saw.
        proposed_change_hash: String,
    }
}

/// APPROVE or REJECT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Decision {
    Approve,
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepairDecision {
    pub decision: Decision,
    pub comment: Option<String>,
    pub seen_hash: String,
}

impl RepairDecision {
    pub fn parse(form: &DecisionForm) -> Result<Self, FieldErrors> {
        let f = DecisionForm::FIELDS;
        let mut e = FieldErrors::new();
        let decision = match form.decision.trim().to_ascii_uppercase().as_str() {
            "APPROVE" | "APPROVED" => Some(Decision::Approve),
            "REJECT" | "REJECTED" => Some(Decision::Reject),
            _ => {
                e.add(f.decision, "Approve or reject");
                None
            }
        };
        let comment = parse::optional_text(&mut e, f.comment, &form.comment, parse::MAX_TEXT);
        if decision == Some(Decision::Reject) && comment.as_deref().is_none_or(|c| c.chars().count() < 10) {
            e.add(f.comment, "Say why you reject it (at least 10 characters): the requester reads it");
        }
        let seen_hash = form.proposed_change_hash.trim().to_string();
        if seen_hash.len() != 64 || !seen_hash.chars().all(|c| c.is_ascii_hexdigit()) {
            e.add(f.proposed_change_hash, "The form lost the dry-run it showed; reload the repair");
        }
        e.finish(|| RepairDecision { decision: decision.expect("checked"), comment, seen_hash })
    }
}

crate::form! {
    /// Executing a repair: the requester confirms the dry-run they saw.
    pub struct ExecuteForm / ExecuteFields {
        confirm_hash: String,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> RepairRequestForm {
        RepairRequestForm {
            repair_type: "resume-orchestration".into(),
            tenant: platform::tenants::ACME.to_string(),
            entity_id: Uuid::now_v7().to_string(),
            incident_id: IncidentId::new().to_string(),
            reason: "order stuck after the engine outage of 10:40".into(),
            idempotency_key: "7a1e2c3d-key".into(),
            mismatch_id: String::new(),
        }
    }

    #[test]
    fn a_request_needs_a_reason_of_twenty_characters_an_incident_and_a_key() {
        assert!(RepairForRequest::parse(&form(), true).is_ok());
        let bad = RepairRequestForm {
            reason: "stuck".into(),
            incident_id: String::new(),
            idempotency_key: "k".into(),
            repair_type: "drop-table".into(),
            ..form()
        };
        let errors = RepairForRequest::parse(&bad, true).unwrap_err();
        assert_eq!(errors.get("reason"), Some("Say why in at least 20 characters (this is 5)"));
        assert!(errors.get("incident_id").unwrap().starts_with("Every repair is linked to an incident"));
        assert!(errors.contains("idempotency_key"));
        assert!(errors.contains("repair_type"));
    }

    #[test]
    fn a_rejection_says_why_and_a_decision_names_the_dry_run_it_saw() {
        let hash = "a".repeat(64);
        let ok = RepairDecision::parse(&DecisionForm { decision: "approve".into(), comment: String::new(), proposed_change_hash: hash.clone() });
        assert_eq!(ok.unwrap().decision, Decision::Approve);
        let errors = RepairDecision::parse(&DecisionForm { decision: "reject".into(), comment: "no".into(), proposed_change_hash: "x".into() })
            .unwrap_err();
        assert!(errors.contains("comment") && errors.contains("proposed_change_hash"));
    }
}
