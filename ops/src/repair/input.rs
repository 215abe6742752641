//! A repair's inputs, parsed once at the edge: the request envelope (lesson §18.1–18.2: tenant, entity,
//! incident, a reason of at least 20 characters, an idempotency key), the parameters some repairs need
//! beyond it (who approved and where, the new assignee, …), a decision, a confirmation.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use platform::machine::Named;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use super::catalogue::Target;
use super::model::{ParamKind, ParamSpec, RepairType};
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
    /// Its length in characters (printable ASCII, no spaces): the API document states the same bounds.
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 200;

    pub fn parse(errors: &mut FieldErrors, field: &'static str, input: &str) -> Option<IdempotencyKey> {
        let key = input.trim();
        let ok = (Self::MIN_LEN..=Self::MAX_LEN).contains(&key.len()) && key.chars().all(|c| c.is_ascii_graphic());
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
        // The parameters of the repairs that need some (each repair's `RepairInfo::parameters` lists its
        // own; the others are ignored).
        /// approve-quote-manually: who approved outside the console.
        approved_by: String,
        /// approve-quote-manually: where (the channel: a chat, a call, an email).
        approval_channel: String,
        /// approve-quote-manually: when (UTC).
        approved_at: String,
        /// approve-quote-manually: where the record of the approval is kept.
        evidence_ref: String,
        /// reassign-approver: who the approval request goes to.
        assignee: String,
        /// resolve-duplicate-order: the order to keep, when the operator overrides the evidence.
        canonical_order_id: String,
    }
}

impl RepairRequestForm {
    /// The text sent for a repair parameter (a [`ParamSpec::name`]); `None` for a name that is no field.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        let f = Self::FIELDS;
        Some(match name {
            n if n == f.approved_by => &self.approved_by,
            n if n == f.approval_channel => &self.approval_channel,
            n if n == f.approved_at => &self.approved_at,
            n if n == f.evidence_ref => &self.evidence_ref,
            n if n == f.assignee => &self.assignee,
            n if n == f.canonical_order_id => &self.canonical_order_id,
            _ => return None,
        })
    }

    /// The field of a repair parameter, to fill (the internal API maps its body onto the form).
    pub fn parameter_mut(&mut self, name: &str) -> Option<&mut String> {
        let f = Self::FIELDS;
        Some(match name {
            n if n == f.approved_by => &mut self.approved_by,
            n if n == f.approval_channel => &mut self.approval_channel,
            n if n == f.approved_at => &mut self.approved_at,
            n if n == f.evidence_ref => &mut self.evidence_ref,
            n if n == f.assignee => &mut self.assignee,
            n if n == f.canonical_order_id => &mut self.canonical_order_id,
            _ => return None,
        })
    }
}

/// A repair's parameters, parsed: name → canonical text (trimmed; a time as RFC 3339 UTC; an id as a
/// lowercase UUID), so the same input always makes the same proposed change and the same hash. Stored in
/// the proposed change (`proposed_change.parameters`), where an approval binds to them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Parameters(BTreeMap<String, String>);

impl Parameters {
    /// The key of the parameters in a proposed change.
    pub const KEY: &'static str = "parameters";

    pub fn new() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn time(&self, name: &str) -> Option<DateTime<Utc>> {
        self.get(name).and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.with_timezone(&Utc))
    }

    pub fn id(&self, name: &str) -> Option<Uuid> {
        self.get(name).and_then(|t| Uuid::parse_str(t).ok())
    }

    /// The parameters stored with a repair's proposed change (none when it has none).
    pub fn stored(proposed: &Value) -> Parameters {
        serde_json::from_value(proposed[Self::KEY].clone()).unwrap_or_default()
    }

    /// The parameters of `form` that are present and valid, the others left out: what a preview computes its
    /// dry-run with while the person is still filling the form (the request reports every error).
    pub fn valid_of(form: &RepairRequestForm, specs: &[ParamSpec]) -> Parameters {
        Self::parse(&mut FieldErrors::new(), form, specs)
    }

    /// The parameters `specs` name, read from `form`: required ones present, each of its kind.
    pub fn parse(errors: &mut FieldErrors, form: &RepairRequestForm, specs: &[ParamSpec]) -> Parameters {
        let mut out = BTreeMap::new();
        for spec in specs {
            let text = form.parameter(spec.name).unwrap_or_default().trim();
            if text.is_empty() {
                if spec.required {
                    errors.add(spec.name, format!("Give {}", spec.label.to_lowercase()));
                }
                continue;
            }
            let value = match spec.kind {
                ParamKind::Text => parse::optional_text(errors, spec.name, text, parse::MAX_LINE),
                // Whole seconds: what the database keeps and the evidence needs.
                ParamKind::Time => parse::optional_time(errors, spec.name, text)
                    .and_then(|t| DateTime::from_timestamp(t.timestamp(), 0))
                    .map(|t| t.to_rfc3339()),
                ParamKind::Id => match Uuid::parse_str(text) {
                    Ok(id) => Some(id.to_string()),
                    Err(_) => {
                        errors.add(spec.name, format!("{} is the id (UUID) of an entity", spec.label));
                        None
                    }
                },
            };
            if let Some(value) = value {
                out.insert(spec.name.to_string(), value);
            }
        }
        Parameters(out)
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
    /// What the repair type needs beyond the envelope (its `RepairInfo::parameters`).
    pub parameters: Parameters,
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
        let specs = repair_type.and_then(super::catalogue::info).map(|i| i.parameters).unwrap_or_default();
        let parameters = Parameters::parse(&mut e, form, specs);
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
            parameters,
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
            ..Default::default()
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
    fn every_parameter_a_repair_lists_is_a_field_of_the_request_form() {
        let mut form = RepairRequestForm::default();
        for info in super::super::catalogue() {
            for spec in info.parameters {
                assert!(form.parameter(spec.name).is_some(), "{} lists {}", info.repair_type, spec.name);
                assert!(form.parameter_mut(spec.name).is_some());
            }
        }
        assert!(form.parameter("reason").is_none(), "the envelope is not a parameter");
    }

    #[test]
    fn parameters_are_parsed_by_kind_into_one_canonical_text() {
        let specs = [
            ParamSpec { name: "approved_by", label: "Who approved", required: true, kind: ParamKind::Text },
            ParamSpec { name: "approved_at", label: "When", required: true, kind: ParamKind::Time },
            ParamSpec { name: "canonical_order_id", label: "Order to keep", required: false, kind: ParamKind::Id },
        ];
        let mut e = FieldErrors::new();
        let good = RepairRequestForm {
            approved_by: "  mia.manager ".into(),
            approved_at: "2026-11-25T14:30".into(),
            canonical_order_id: "0190F5C4-0000-7000-8000-000000000001".into(),
            ..form()
        };
        let p = Parameters::parse(&mut e, &good, &specs);
        assert!(e.is_empty(), "{e}");
        assert_eq!(p.get("approved_by"), Some("mia.manager"));
        assert_eq!(p.get("approved_at"), Some("2026-11-25T14:30:00+00:00"));
        assert_eq!(p.get("canonical_order_id"), Some("0190f5c4-0000-7000-8000-000000000001"));
        assert_eq!(Parameters::stored(&serde_json::json!({ "parameters": p })), p);

        let mut e = FieldErrors::new();
        let bad = RepairRequestForm { approved_at: "yesterday".into(), canonical_order_id: "SO-1".into(), ..form() };
        Parameters::parse(&mut e, &bad, &specs);
        assert_eq!(e.get("approved_by"), Some("Give who approved"));
        assert!(e.contains("approved_at") && e.contains("canonical_order_id"));
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
