//! The repair vocabulary: the catalogue's types, risk, the lifecycle's statuses, a dry-run and what it
//! checked.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use platform::named_enum;

named_enum!(/// The repairs the console can run (the catalogue, DESIGN §4). Stored in `command_type`.
RepairType {
    ResumeOrchestration => "resume-orchestration",
    ReleaseStaleClaims => "release-stale-claims",
    RetryEngineJob => "retry-engine-job",
    ApproveQuoteManually => "approve-quote-manually",
    ResolveDuplicateOrder => "resolve-duplicate-order",
    ReplayProjection => "replay-projection",
    EscalateApproval => "escalate-approval",
    ReassignApprover => "reassign-approver",
    QuarantineEvent => "quarantine-event",
});

named_enum!(/// How much can go wrong. HIGH needs a second person with the approver role.
Risk {
    Low => "LOW",
    High => "HIGH",
});

named_enum!(/// Where a repair is in its lifecycle (lesson §6.2).
RepairStatus {
    Requested => "REQUESTED",
    Approved => "APPROVED",
    Rejected => "REJECTED",
    Executed => "EXECUTED",
    Failed => "FAILED",
});

impl RepairStatus {
    /// Nothing happens to the repair any more.
    pub fn is_settled(self) -> bool {
        matches!(self, RepairStatus::Rejected | RepairStatus::Executed | RepairStatus::Failed)
    }
}

named_enum!(/// What one safety check found.
Verdict {
    /// Fine.
    Pass => "PASS",
    /// Allowed, but it raises the risk or needs attention (said in the detail).
    Warn => "WARN",
    /// The repair must not run.
    Fail => "FAIL",
});

/// One of a repair's safety checks (lesson §8.4 for resume-orchestration), as the dry-run found it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyCheck {
    /// The question, as the runbook asks it ("Is a fulfillment request already sent?").
    pub question: String,
    pub verdict: Verdict,
    /// What was found.
    pub detail: String,
}

impl SafetyCheck {
    pub fn new(question: &str, verdict: Verdict, detail: impl Into<String>) -> Self {
        SafetyCheck { question: question.to_string(), verdict, detail: detail.into() }
    }
}

/// How a repair parameter is written and read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ParamKind {
    /// Free text (one line).
    Text,
    /// A date and time, UTC (`2026-11-25T14:30`, what a `datetime-local` input sends).
    Time,
    /// The id (UUID) of an entity.
    Id,
}

/// An input a repair needs beyond the request envelope (who approved, the new assignee, …). Its `name` is
/// a field of [`super::RepairRequestForm`]; the value is stored in the proposed change, so an approval
/// binds to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamSpec {
    pub name: &'static str,
    pub label: &'static str,
    pub required: bool,
    pub kind: ParamKind,
}

/// What a repair type says of itself: the catalogue entry the pages and the API document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RepairInfo {
    pub repair_type: RepairType,
    pub title: &'static str,
    /// What the entity id names (`ORDER`, `OUTBOX_EVENT`, `QUOTE`, `APPROVAL`).
    pub entity_type: &'static str,
    pub base_risk: Risk,
    /// What it checks before it runs.
    pub checks: &'static str,
    /// What it changes, and through which domain transition.
    pub changes: &'static str,
    /// Who may approve it when it is HIGH risk.
    pub approvers: &'static str,
    /// The runbook that calls for it (`runbooks/<name>.md`).
    pub runbook: &'static str,
    /// The lesson's section.
    pub lesson: &'static str,
    /// What the request form asks for beyond the envelope (empty for most repairs).
    pub parameters: &'static [ParamSpec],
}

/// A repair's dry-run: the entity as it is, the change the repair would make, and its safety checks.
/// Stored with the request; recomputed at execution, and the approval holds only if it is the same.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DryRun {
    /// The entity's version (optimistic lock) when there is one.
    pub entity_version: Option<i64>,
    pub before: Value,
    pub proposed: Value,
    pub checks: Vec<SafetyCheck>,
    pub base_risk: Risk,
    /// Why the risk is raised above the base (external side effects already happened, …).
    pub raised_because: Vec<String>,
}

impl DryRun {
    /// The risk: HIGH when the base is, or when something raised it.
    pub fn risk(&self) -> Risk {
        if self.base_risk == Risk::High || !self.raised_because.is_empty() {
            Risk::High
        } else {
            Risk::Low
        }
    }

    /// The checks that forbid running it.
    pub fn failed(&self) -> Vec<&SafetyCheck> {
        self.checks.iter().filter(|c| c.verdict == Verdict::Fail).collect()
    }

    /// The proposed change's fingerprint: SHA-256 of its canonical JSON (keys sorted), hex. An approval
    /// binds to it.
    pub fn hash(&self) -> String {
        proposed_change_hash(&self.proposed)
    }
}

/// SHA-256 (hex) of a JSON value written canonically: object keys sorted (serde_json's map is ordered),
/// no whitespace.
pub fn proposed_change_hash(proposed: &Value) -> String {
    let canonical = serde_json::to_string(proposed).expect("a JSON value serializes");
    let digest = Sha256::digest(canonical.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// After execution: did the invariants the repair was meant to restore hold?
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recheck {
    pub coherent: bool,
    pub checks: Vec<SafetyCheck>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_hash_does_not_depend_on_key_order() {
        let a = json!({ "activity": "reserve", "how": { "how": "new_instance" } });
        let b: Value = serde_json::from_str(r#"{"how":{"how":"new_instance"},"activity":"reserve"}"#).unwrap();
        assert_eq!(proposed_change_hash(&a), proposed_change_hash(&b));
        assert_ne!(proposed_change_hash(&a), proposed_change_hash(&json!({ "activity": "activate" })));
        assert_eq!(proposed_change_hash(&a).len(), 64);
    }

    #[test]
    fn side_effects_raise_the_risk() {
        let mut dry = DryRun {
            entity_version: Some(3),
            before: json!({}),
            proposed: json!({}),
            checks: vec![],
            base_risk: Risk::Low,
            raised_because: vec![],
        };
        assert_eq!(dry.risk(), Risk::Low);
        dry.raised_because.push("a fulfillment request was sent and its outcome is unknown".into());
        assert_eq!(dry.risk(), Risk::High);
    }

    #[test]
    fn repair_types_are_named_as_the_api_paths_name_them() {
        use platform::machine::Named;
        assert_eq!(RepairType::ResumeOrchestration.name(), "resume-orchestration");
        assert_eq!(RepairType::ALL.len(), 9);
    }
}
