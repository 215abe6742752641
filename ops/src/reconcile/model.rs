//! The reconciliation vocabulary: the checks' names, what a mismatch kind means (lesson §17.3), a finding,
//! the scope a check looks at, the statuses of runs and mismatches.

use chrono::{DateTime, Utc};
use platform::ids::TenantId;
use platform::named_enum;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::repair::RepairType;

named_enum!(/// A reconciliation check (lesson §17.1 and the detectors of §8.2, §9.2, §10.2, §12.1). Stored in
/// `reconciliation_run.reconciliation_type` and `reconciliation_mismatch.check_name`.
CheckName {
    QuoteApproval => "QUOTE_APPROVAL",
    QuoteOrder => "QUOTE_ORDER",
    OrderEngine => "ORDER_ENGINE",
    OrderOutbox => "ORDER_OUTBOX",
    KafkaProjection => "KAFKA_PROJECTION",
    OrderFulfillment => "ORDER_FULFILLMENT",
    PriceSnapshot => "PRICE_SNAPSHOT",
    AuditTransition => "AUDIT_TRANSITION",
    DuplicateOrder => "DUPLICATE_ORDER",
    StuckOrder => "STUCK_ORDER",
    StuckApproval => "STUCK_APPROVAL",
    OutboxBacklog => "OUTBOX_BACKLOG",
});

impl CheckName {
    /// The check as the CLI and URLs spell it: `quote-order`. [`CheckName::from_arg`] reads both spellings.
    pub fn slug(self) -> String {
        platform::machine::Named::name(self).to_ascii_lowercase().replace('_', "-")
    }

    /// `quote-order`, `QUOTE_ORDER`, `quote_order`.
    pub fn from_arg(arg: &str) -> Option<CheckName> {
        <CheckName as platform::machine::Named>::parse_name(&arg.trim().to_ascii_uppercase().replace('-', "_"))
    }
}

named_enum!(/// How dangerous it is to act on a mismatch (runbook reconciliation-mismatch).
Safety {
    /// Idempotent, no external effect: may be repaired automatically where an admin allowed it.
    Safe => "SAFE",
    /// A person decides, through a governed repair.
    Caution => "CAUTION",
    /// Possibly visible outside, or evidence of a change outside the governed paths: the owner decides.
    Dangerous => "DANGEROUS",
});

named_enum!(/// A mismatch's lifecycle: OPEN → ACKNOWLEDGED → REPAIRING → RESOLVED, or FALSE_POSITIVE with a reason.
MismatchStatus {
    Open => "OPEN",
    Acknowledged => "ACKNOWLEDGED",
    Repairing => "REPAIRING",
    Resolved => "RESOLVED",
    FalsePositive => "FALSE_POSITIVE",
});

impl MismatchStatus {
    /// Still needs someone (the statuses of `uq_mismatch_open_entity`).
    pub fn is_open(self) -> bool {
        matches!(self, MismatchStatus::Open | MismatchStatus::Acknowledged | MismatchStatus::Repairing)
    }
}

named_enum!(/// Where a run is.
RunStatus {
    Running => "RUNNING",
    Completed => "COMPLETED",
    Failed => "FAILED",
});

named_enum!(/// Who started a run.
RunOrigin {
    Schedule => "SCHEDULE",
    Console => "CONSOLE",
    Cli => "CLI",
    /// The re-check of one entity, after a repair or on request.
    Recheck => "RECHECK",
});

/// One kind of mismatch a check reports, with the §17.3 output that does not depend on the entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Kind {
    /// `ACCEPTED_QUOTE_WITHOUT_ORDER`: stored as `mismatch_type`.
    pub name: &'static str,
    pub likely_cause: &'static str,
    pub suggested_action: &'static str,
    pub safety: Safety,
    /// Whether automatic repair may be allowed (an admin still has to allow it per check and tenant).
    pub auto_repair: bool,
    /// The repair the suggested action names, when it is a catalogue repair.
    pub repair: Option<RepairType>,
}

/// What a check says of itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct CheckInfo {
    pub name: CheckName,
    pub title: &'static str,
    /// What it compares, in one line.
    pub compares: &'static str,
    /// The lesson section it comes from.
    pub lesson: &'static str,
    pub kinds: &'static [Kind],
    /// Looks only at what changed since the last clean run when asked to (a watermark exists).
    pub incremental: bool,
    /// Entities younger than this are in flight (a capture whose events are still on their way): not
    /// judged yet. Also how far an incremental run looks back before its watermark.
    pub grace_secs: i64,
    /// Whether PostgreSQL may compile the check's statement (JIT) when its estimates cross
    /// `jit_above_cost`. Compiling pays off for a scan of millions of rows through expressions, and costs
    /// more than it saves on a statement of index probes whose estimates merely look large: measured per
    /// check at 1M orders (BENCHMARKS.md), off where it cost (quote ↔ approval: 45 ms of 130 ms; quote ↔
    /// order: the estimate of its per-finding subquery crosses the inlining and optimising thresholds,
    /// 0.8 s of compiling for a 1.6 s statement).
    pub jit: bool,
    /// Whether the planner is told that rows from parallel workers are cheap to gather
    /// (`parallel_tuple_cost` 0.001 instead of 0.1) for the check's statement. A run compares the check's
    /// rows with the open mismatches in a full join, which PostgreSQL 15 cannot run in parallel: priced at
    /// 0.1 a row, gathering a million rows looks dearer than making them in one process, so the whole
    /// statement ran serially. Measured per check at 1M orders: Kafka ↔ projection 1.4 s → 1.05 s, price
    /// snapshot 3.4 s → 2.5 s; the others gained nothing, and keep the default.
    pub gather: bool,
    /// Whether the check's statement answers a fourth column, a cheap fingerprint of each finding
    /// (`bigint`, null where the entity agrees): `hash_record_extended` of the row the finding is built
    /// from (the table's whole row, or the statement's own `c`), so that it changes whenever a value the
    /// finding shows does — a finding that also showed something from elsewhere would need it in the row.
    /// Changes the finding does not show (a version, `updated_at`) cost a rewrite of the mismatch, never a
    /// history line (that compares what it observes). A whole run compares fingerprints with the open
    /// mismatches and builds JSON only for what is new or changed, in a second pass over those entities in
    /// the same snapshot ([`crate::reconcile::run`]). For the detectors whose findings are found again, run
    /// after run, by the ten thousand: building a finding's JSON costs about 3 µs, its fingerprint 0.3 µs —
    /// at 1M orders, stuck approvals' 10 000 findings took 30 ms of JSON for a statement whose bare SQL
    /// takes 60.
    pub fingerprint: bool,
}

impl CheckInfo {
    pub fn kind(&self, name: &str) -> Option<&'static Kind> {
        self.kinds.iter().find(|k| k.name == name)
    }

    /// Whether any kind may be repaired automatically.
    pub fn auto_repair_possible(&self) -> bool {
        self.kinds.iter().any(|k| k.auto_repair && k.repair.is_some())
    }
}

/// What a check looks at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub tenant: Option<TenantId>,
    /// Only these entities (a re-check); `None`: all.
    pub entities: Option<Vec<Uuid>>,
    /// Only what changed since (an incremental run); `None`: everything.
    pub since: Option<DateTime<Utc>>,
    /// The run's window end: the moment the check judges against.
    pub as_of: DateTime<Utc>,
}

/// One disagreement a check found (before it is recorded as a mismatch).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub entity_type: String,
    pub entity_id: Uuid,
    pub tenant_id: Option<Uuid>,
    /// The [`Kind`] name.
    pub kind: String,
    pub expected: Value,
    pub observed: Value,
}

/// What one pass of a check returned: how many entities it examined and what disagreed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Examined {
    pub checked: i64,
    pub findings: Vec<Finding>,
}

named_enum!(/// What happens to a mismatch (its machine is [`MismatchMachine`]).
MismatchStep {
    /// Someone owns it now.
    Acknowledge => "ACKNOWLEDGE",
    /// Its suggested repair was requested.
    StartRepair => "START_REPAIR",
    /// A re-check after the repair still finds it: back to its owner.
    RepairDidNotHelp => "REPAIR_DID_NOT_HELP",
    /// A run (or a re-check) no longer finds it.
    Resolve => "RESOLVE",
    /// A person says the check was wrong about it, with a reason.
    MarkFalsePositive => "MARK_FALSE_POSITIVE",
});

/// OPEN → ACKNOWLEDGED → REPAIRING → RESOLVED, or FALSE_POSITIVE (issue 10, DESIGN §5).
pub struct MismatchMachine;

impl platform::machine::Machine for MismatchMachine {
    const ENTITY: &'static str = "mismatch";
    type State = MismatchStatus;
    type Command = MismatchStep;
    const TABLE: &'static [(MismatchStatus, MismatchStep, MismatchStatus)] = {
        use MismatchStatus::*;
        use MismatchStep::*;
        &[
            (Open, Acknowledge, Acknowledged),
            (Open, StartRepair, Repairing),
            (Acknowledged, StartRepair, Repairing),
            (Repairing, StartRepair, Repairing),
            (Repairing, RepairDidNotHelp, Acknowledged),
            (Open, Resolve, Resolved),
            (Acknowledged, Resolve, Resolved),
            (Repairing, Resolve, Resolved),
            (Open, MarkFalsePositive, FalsePositive),
            (Acknowledged, MarkFalsePositive, FalsePositive),
            (Repairing, MarkFalsePositive, FalsePositive),
        ]
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::machine::{assert_matrix, Named};

    #[test]
    fn every_mismatch_step_from_every_status_is_allowed_or_refused_as_the_table_says() {
        use MismatchStatus::*;
        use MismatchStep::*;
        assert_matrix::<MismatchMachine>(&[
            (Open, Acknowledge, Acknowledged),
            (Open, StartRepair, Repairing),
            (Acknowledged, StartRepair, Repairing),
            (Repairing, StartRepair, Repairing),
            (Repairing, RepairDidNotHelp, Acknowledged),
            (Open, Resolve, Resolved),
            (Acknowledged, Resolve, Resolved),
            (Repairing, Resolve, Resolved),
            (Open, MarkFalsePositive, FalsePositive),
            (Acknowledged, MarkFalsePositive, FalsePositive),
            (Repairing, MarkFalsePositive, FalsePositive),
        ]);
    }

    #[test]
    fn checks_are_named_by_slug_or_by_name() {
        assert_eq!(CheckName::QuoteOrder.slug(), "quote-order");
        assert_eq!(CheckName::from_arg("quote-order"), Some(CheckName::QuoteOrder));
        assert_eq!(CheckName::from_arg("STUCK_ORDER"), Some(CheckName::StuckOrder));
        assert_eq!(CheckName::from_arg("nope"), None);
        assert!(CheckName::ALL.iter().all(|c| CheckName::from_arg(&c.slug()) == Some(*c)));
    }

    #[test]
    fn open_statuses_are_the_ones_the_unique_index_names() {
        let open: Vec<&str> = MismatchStatus::ALL.iter().filter(|s| s.is_open()).map(|s| s.name()).collect();
        assert_eq!(open, ["OPEN", "ACKNOWLEDGED", "REPAIRING"]);
    }
}
