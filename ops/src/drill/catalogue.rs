//! The failure drills of lesson §22.1: what each breaks (through the platform's fault injection, in the
//! drill tenant where it can), what the operator should find and do, and which evidence says it was
//! detected and recovered.

use platform::named_enum;

named_enum!(/// A failure drill.
Drill {
    EngineIncidentRetry => "engine-incident-retry",
    KafkaPoisonEvent => "kafka-poison-event",
    OutboxStuck => "outbox-stuck",
    DuplicateOrder => "duplicate-order",
    RedisOutage => "redis-outage",
    PostgresLockContention => "postgres-lock-contention",
    ApprovalSlaBreach => "approval-sla-breach",
    ReconciliationMismatch => "reconciliation-mismatch",
    ManualRepairDryRun => "manual-repair-dry-run",
    BadDeployment => "bad-deployment",
});

/// What a drill is, for the page and the evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct DrillSpec {
    pub drill: Drill,
    pub title: &'static str,
    /// What the fault breaks, in the words an operator would use.
    pub breaks: &'static str,
    /// What the operator is expected to do.
    pub goal: &'static str,
    pub runbook: &'static str,
    /// The repairs that recover it (none: recovery is ending the cause, e.g. a blocker or an outage).
    pub repairs: &'static [&'static str],
    /// The dashboard figures whose alarm is the drill's alert.
    pub signals: &'static [&'static str],
    /// Whether the fault reaches beyond the drill tenant (a paused Redis, a vendor outage): only a person
    /// with every tenant in scope may start it.
    pub platform_wide: bool,
}

pub const DRILLS: &[DrillSpec] = &[
    DrillSpec {
        drill: Drill::EngineIncidentRetry,
        title: "Camunda incident retry",
        breaks: "The fulfilment vendor answers 503 to every request: a new drill order's worker exhausts its retries and Operaton raises an incident.",
        goal: "Find the order with the engine incident, confirm the vendor is back (end the outage from this page), then retry the engine job through the retry-engine-job repair.",
        runbook: "engine-incident",
        repairs: &["retry-engine-job", "resume-orchestration"],
        signals: &["orders_stuck", "worker_failures_per_minute"],
        platform_wide: true,
    },
    DrillSpec {
        drill: Drill::KafkaPoisonEvent,
        title: "Kafka poison event",
        breaks: "A record no consumer can parse lands on the order topic: the projection consumer must dead-letter it and carry on.",
        goal: "Find the dead-lettered record, check the projection caught up, and quarantine the event with a reason instead of deleting it.",
        runbook: "kafka-consumer-lag",
        repairs: &["quarantine-event", "replay-projection"],
        signals: &["projection_orders_behind"],
        platform_wide: true,
    },
    DrillSpec {
        drill: Drill::OutboxStuck,
        title: "Outbox publisher stuck",
        breaks: "A relay claims a batch of outbox events and dies: the events stay PROCESSING with nobody to publish them.",
        goal: "Find the stale claims on the outbox panel, and release them through the release-stale-claims repair so a live relay publishes them.",
        runbook: "outbox-stuck",
        repairs: &["release-stale-claims"],
        signals: &["outbox_pending_age_seconds"],
        platform_wide: true,
    },
    DrillSpec {
        drill: Drill::DuplicateOrder,
        title: "Duplicate order prevention",
        breaks: "A customer accepts the same drill quote twice: the second acceptance must be refused.",
        goal: "Check the quote has exactly one order; if a duplicate was captured, cancel it through resolve-duplicate-order.",
        runbook: "duplicate-order",
        repairs: &["resolve-duplicate-order"],
        signals: &["duplicate_orders"],
        platform_wide: false,
    },
    DrillSpec {
        drill: Drill::RedisOutage,
        title: "Redis outage",
        breaks: "Redis stops answering for five minutes: pricing and the API rate limits must fall back to PostgreSQL and lose nothing.",
        goal: "Confirm the fallback is counted and nothing failed, then end the outage from this page and watch the cache recover.",
        runbook: "redis-degradation",
        repairs: &[],
        // Redis' health is probed live, not sampled: the operator answers whether the alert fired.
        signals: &[],
        platform_wide: true,
    },
    DrillSpec {
        drill: Drill::PostgresLockContention,
        title: "PostgreSQL lock contention",
        breaks: "A session holds a row lock on a new drill order for ten minutes: the platform's work on that order waits behind it.",
        goal: "Find the blocking session and what it blocks, apply the §14.3 safety rule, then end the blocker from this page (the console's terminate, recorded) — never by hand.",
        runbook: "postgres-locks",
        repairs: &[],
        signals: &["postgres_lock_waits"],
        platform_wide: false,
    },
    DrillSpec {
        drill: Drill::ApprovalSlaBreach,
        title: "Quote approval SLA breach",
        breaks: "A drill quote waits for approval past its SLA.",
        goal: "Find the overdue approval and escalate it (escalate-approval), or approve it manually with evidence (approve-quote-manually).",
        runbook: "stuck-approval",
        repairs: &["escalate-approval", "approve-quote-manually", "reassign-approver"],
        signals: &["approvals_overdue"],
        platform_wide: false,
    },
    DrillSpec {
        drill: Drill::ReconciliationMismatch,
        title: "Reconciliation mismatch",
        breaks: "A drill order is captured but its orchestration start is given up: the order and the engine disagree.",
        goal: "Let reconciliation flag the order, take the mismatch to its suggested repair (resume-orchestration) and see the re-check resolve it.",
        runbook: "reconciliation-mismatch",
        repairs: &["resume-orchestration"],
        signals: &["orders_start_given_up", "reconciliation_mismatches_open"],
        platform_wide: false,
    },
    DrillSpec {
        drill: Drill::ManualRepairDryRun,
        title: "Manual repair dry-run",
        breaks: "A drill order's orchestration start is given up: it sits CAPTURED with no process instance.",
        goal: "Request resume-orchestration, read its dry-run, have a second person approve it, and execute it; the order must move on in Operaton.",
        runbook: "stuck-order",
        repairs: &["resume-orchestration"],
        signals: &["orders_start_given_up"],
        platform_wide: false,
    },
    DrillSpec {
        drill: Drill::BadDeployment,
        title: "Bad deployment",
        breaks: "Release 2026.11.1 is deployed to the drill tenant with a defect in the reserve step: every new drill order fails there until Operaton raises an incident.",
        goal: "Tie the failures to the release (the failed task's error names it), choose rollback or roll-forward on Controls → Releases with the rollback safety checklist (§16.2) on the incident, then retry the stalled order's step (retry-engine-job) and see it move.",
        runbook: "bad-deployment",
        repairs: &["retry-engine-job", "resume-orchestration"],
        signals: &["orders_stuck", "orders_failed_per_minute"],
        platform_wide: false,
    },
];

impl Drill {
    pub fn spec(self) -> &'static DrillSpec {
        DRILLS.iter().find(|d| d.drill == self).expect("every drill has a spec")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::machine::Named;

    #[test]
    fn every_drill_names_a_runbook_figures_and_repairs_that_exist() {
        assert_eq!(DRILLS.len(), Drill::ALL.len());
        for d in DRILLS {
            assert!(crate::runbook::get(d.runbook).is_some(), "{:?}: runbook {}", d.drill, d.runbook);
            for s in d.signals {
                assert!(crate::dashboard::figure(s).is_some(), "{:?}: figure {s}", d.drill);
            }
            assert!(!d.signals.is_empty() || d.drill == Drill::RedisOutage, "{:?} has an alert", d.drill);
        }
    }
}
