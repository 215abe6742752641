//! The incident's vocabulary: severity (lesson §4.1), lifecycle (OPEN → MITIGATED → RESOLVED → CLOSED) as a
//! table-driven machine, how it was detected, the impact dimensions' closed sets (§4.2), the entities an
//! incident can name, and the two kinds of timeline event.
//!
//! Every enum here is a `named_enum!`: one SCREAMING_SNAKE name shared by Rust, the database's CHECK
//! constraints and the UI.

use chrono::{DateTime, TimeDelta, Utc};
use platform::ids::TenantId;
use platform::machine::{Machine, Named};
use platform::named_enum;
use serde::Serialize;
use uuid::Uuid;

named_enum!(/// How bad it is (lesson §4.1). Stored in `operational_incident.severity`.
Severity {
    Sev1 => "SEV1",
    Sev2 => "SEV2",
    Sev3 => "SEV3",
    Sev4 => "SEV4",
});

/// How often a status update is due while an incident is OPEN or MITIGATED, per severity (minutes).
/// `operational_incident.next_update_due_at` is set from these at declaration, on each update and when
/// the severity changes; an incident past it is flagged overdue.
pub mod update_cadence {
    pub const SEV1_MINUTES: i64 = 30;
    pub const SEV2_MINUTES: i64 = 60;
    pub const SEV3_MINUTES: i64 = 4 * 60;
    pub const SEV4_MINUTES: i64 = 24 * 60;
}

impl Severity {
    /// The lesson's spelling, for display: `SEV-1`.
    pub fn label(self) -> &'static str {
        match self {
            Severity::Sev1 => "SEV-1",
            Severity::Sev2 => "SEV-2",
            Severity::Sev3 => "SEV-3",
            Severity::Sev4 => "SEV-4",
        }
    }

    /// What the severity means (lesson §4.1), shown beside the choice.
    pub fn meaning(self) -> &'static str {
        match self {
            Severity::Sev1 => "Platform-wide critical business flow unavailable or corrupting data",
            Severity::Sev2 => "Major tenant or core service degraded",
            Severity::Sev3 => "Limited impact, workaround available",
            Severity::Sev4 => "Non-urgent operational issue",
        }
    }

    /// The lesson's example of the severity.
    pub fn example(self) -> &'static str {
        match self {
            Severity::Sev1 => "Every quote acceptance fails; mass duplicate orders",
            Severity::Sev2 => "Order orchestration stuck for a large tenant",
            Severity::Sev3 => "Approval notification delayed",
            Severity::Sev4 => "Dashboard metric missing",
        }
    }

    /// The response the severity calls for (lesson §4.1).
    pub fn response(self) -> &'static str {
        match self {
            Severity::Sev1 => "War room, freeze deployments, incident commander",
            Severity::Sev2 => "On-call + domain owner",
            Severity::Sev3 => "Business-hours response or low-urgency page",
            Severity::Sev4 => "Backlog / follow-up",
        }
    }

    /// How long after an update (or the declaration) the next one is due.
    pub fn update_interval(self) -> TimeDelta {
        use update_cadence::*;
        TimeDelta::minutes(match self {
            Severity::Sev1 => SEV1_MINUTES,
            Severity::Sev2 => SEV2_MINUTES,
            Severity::Sev3 => SEV3_MINUTES,
            Severity::Sev4 => SEV4_MINUTES,
        })
    }

    /// SEV1 and SEV2 close only with a complete post-incident review whose action items all have an
    /// owner and a due date.
    pub fn needs_review_to_close(self) -> bool {
        matches!(self, Severity::Sev1 | Severity::Sev2)
    }
}

/// A severity as the declare and triage forms show it: the choice with the lesson's text beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SeverityChoice {
    pub severity: Severity,
    pub label: &'static str,
    pub meaning: &'static str,
    pub example: &'static str,
    pub response: &'static str,
    pub update_every_minutes: i64,
}

/// The four severities, most severe first (the order `named_enum!` lists them), with their meaning, example and response.
pub fn severity_choices() -> Vec<SeverityChoice> {
    <Severity as Named>::ALL
        .iter()
        .map(|&severity| SeverityChoice {
            severity,
            label: severity.label(),
            meaning: severity.meaning(),
            example: severity.example(),
            response: severity.response(),
            update_every_minutes: severity.update_interval().num_minutes(),
        })
        .collect()
}

named_enum!(/// Where an incident is in its lifecycle. Stored in `operational_incident.status`.
IncidentStatus {
    Open => "OPEN",
    Mitigated => "MITIGATED",
    Resolved => "RESOLVED",
    Closed => "CLOSED",
});

impl IncidentStatus {
    /// While active, status updates are due on the severity's cadence and can be overdue.
    pub fn is_active(self) -> bool {
        matches!(self, IncidentStatus::Open | IncidentStatus::Mitigated)
    }

    /// A closed incident is read-only, except for tracking its action items.
    pub fn is_closed(self) -> bool {
        self == IncidentStatus::Closed
    }
}

named_enum!(/// Lifecycle steps, each a command with a reason.
IncidentCommand {
    /// The customer impact is contained (a switch, a pause, a workaround), not yet fixed.
    Mitigate => "MITIGATE",
    /// The cause is fixed and the affected entities recovered.
    Resolve => "RESOLVE",
    /// Done: for SEV1/SEV2 only with a complete post-incident review (see `lifecycle`).
    Close => "CLOSE",
    /// It came back, or the mitigation did not hold.
    Reopen => "REOPEN",
});

/// The incident lifecycle as data. RESOLVE is allowed straight from OPEN (a fix needs no separate
/// mitigation); REOPEN brings a mitigated or resolved incident back to OPEN; CLOSED is terminal.
pub struct Lifecycle;

impl Machine for Lifecycle {
    const ENTITY: &'static str = "incident";
    type State = IncidentStatus;
    type Command = IncidentCommand;
    const TABLE: &'static [(IncidentStatus, IncidentCommand, IncidentStatus)] = {
        use IncidentCommand as C;
        use IncidentStatus as S;
        &[
            (S::Open, C::Mitigate, S::Mitigated),
            (S::Open, C::Resolve, S::Resolved),
            (S::Mitigated, C::Resolve, S::Resolved),
            (S::Mitigated, C::Reopen, S::Open),
            (S::Resolved, C::Close, S::Closed),
            (S::Resolved, C::Reopen, S::Open),
        ]
    };
}

impl Lifecycle {
    /// The commands the table allows from `status`, for the page's buttons.
    pub fn next_commands(status: IncidentStatus) -> Vec<IncidentCommand> {
        <Lifecycle as Machine>::TABLE.iter().filter(|(from, _, _)| *from == status).map(|(_, c, _)| *c).collect()
    }
}

named_enum!(/// How the incident was noticed (lesson §4.3 "Detected by").
DetectedBy {
    Alert => "ALERT",
    SyntheticJourney => "SYNTHETIC_JOURNEY",
    UserReport => "USER_REPORT",
    Operator => "OPERATOR",
    Reconciliation => "RECONCILIATION",
    Drill => "DRILL",
});

impl DetectedBy {
    pub fn label(self) -> &'static str {
        match self {
            DetectedBy::Alert => "Alert",
            DetectedBy::SyntheticJourney => "Synthetic journey",
            DetectedBy::UserReport => "User report",
            DetectedBy::Operator => "Operator",
            DetectedBy::Reconciliation => "Reconciliation run",
            DetectedBy::Drill => "Failure drill",
        }
    }
}

named_enum!(/// How far the failure reaches (lesson §4.2 "Blast radius").
BlastRadius {
    SingleOrder => "SINGLE_ORDER",
    SingleTenant => "SINGLE_TENANT",
    MultiTenant => "MULTI_TENANT",
    AllTenants => "ALL_TENANTS",
    AllOrders => "ALL_ORDERS",
});

impl BlastRadius {
    pub fn label(self) -> &'static str {
        match self {
            BlastRadius::SingleOrder => "Single order",
            BlastRadius::SingleTenant => "Single tenant",
            BlastRadius::MultiTenant => "Several tenants",
            BlastRadius::AllTenants => "All tenants",
            BlastRadius::AllOrders => "All orders",
        }
    }
}

named_enum!(/// How the damage can be undone (lesson §4.2 "Recoverability").
Recoverability {
    AutomaticRetry => "AUTOMATIC_RETRY",
    Replay => "REPLAY",
    ManualRepair => "MANUAL_REPAIR",
    DataRestoration => "DATA_RESTORATION",
    Compensation => "COMPENSATION",
});

impl Recoverability {
    pub fn label(self) -> &'static str {
        match self {
            Recoverability::AutomaticRetry => "Automatic retry",
            Recoverability::Replay => "Replay",
            Recoverability::ManualRepair => "Manual repair",
            Recoverability::DataRestoration => "Data restoration",
            Recoverability::Compensation => "Compensation",
        }
    }
}

named_enum!(/// What an incident can name as affected. Forms take orders and quotes; the other kinds are attached
/// by other areas (repairs, reconciliation).
EntityType {
    Order => "ORDER",
    Quote => "QUOTE",
    Approval => "APPROVAL",
    OutboxEvent => "OUTBOX_EVENT",
    ProcessInstance => "PROCESS_INSTANCE",
});

/// An entity on an incident or mentioned by a timeline event, with its tenant, so the page can link it
/// (`/orders/<tenant>/<order_id>` for an order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
pub struct EntityRef {
    pub entity_type: EntityType,
    pub entity_id: Uuid,
    pub tenant_id: TenantId,
}

impl PartialOrd for EntityType {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for EntityType {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

named_enum!(/// SYSTEM: a command's effect, written by the command. HUMAN: a note someone wrote.
EventKind {
    System => "SYSTEM",
    Human => "HUMAN",
});

/// When the next status update is due after one at `from`, for `severity`.
pub fn next_update_due(severity: Severity, from: DateTime<Utc>) -> DateTime<Utc> {
    from + severity.update_interval()
}

/// Parses a stored name; a value outside the enum means the database and the code disagree.
pub(crate) fn stored<T: Named>(value: &str) -> Result<T, sqlx::Error> {
    T::parse_name(value).ok_or_else(|| sqlx::Error::Decode(format!("unexpected stored value {value:?}").into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::machine::transition;

    /// Every (status, command) pair, written out: where it leads, or refused.
    #[test]
    fn every_lifecycle_transition_is_allowed_or_refused_as_specified() {
        use IncidentCommand as C;
        use IncidentStatus as S;
        #[rustfmt::skip]
        let expected: [(S, [Option<S>; 4]); 4] = [
            //            MITIGATE           RESOLVE            CLOSE            REOPEN
            (S::Open,      [Some(S::Mitigated), Some(S::Resolved), None,            None]),
            (S::Mitigated, [None,               Some(S::Resolved), None,            Some(S::Open)]),
            (S::Resolved,  [None,               None,              Some(S::Closed), Some(S::Open)]),
            (S::Closed,    [None,               None,              None,            None]),
        ];
        let commands = [C::Mitigate, C::Resolve, C::Close, C::Reopen];
        for (from, row) in expected {
            for (command, want) in commands.into_iter().zip(row) {
                let got = transition::<Lifecycle>(from, command);
                assert_eq!(got.clone().ok(), want, "{from} --{command}-> {got:?}");
            }
        }
        assert_eq!(<IncidentStatus as Named>::ALL.len() * <IncidentCommand as Named>::ALL.len(), 16);
    }

    #[test]
    fn a_closed_incident_is_terminal_and_says_so() {
        let refusal = transition::<Lifecycle>(IncidentStatus::Closed, IncidentCommand::Reopen).unwrap_err();
        assert_eq!(refusal.to_string(), "incident in CLOSED cannot REOPEN (it is terminal)");
        let refusal = transition::<Lifecycle>(IncidentStatus::Open, IncidentCommand::Close).unwrap_err();
        assert_eq!(refusal.to_string(), "incident in OPEN cannot CLOSE");
    }

    #[test]
    fn next_commands_follow_the_table() {
        assert_eq!(
            Lifecycle::next_commands(IncidentStatus::Open),
            [IncidentCommand::Mitigate, IncidentCommand::Resolve]
        );
        assert!(Lifecycle::next_commands(IncidentStatus::Closed).is_empty());
    }

    #[test]
    fn each_severity_has_the_lessons_text_and_an_update_cadence() {
        let choices = severity_choices();
        assert_eq!(choices.len(), 4);
        assert_eq!(choices[0].label, "SEV-1");
        assert!(choices[0].response.contains("War room"));
        assert_eq!(choices[1].meaning, "Major tenant or core service degraded");
        let minutes: Vec<i64> = choices.iter().map(|c| c.update_every_minutes).collect();
        assert_eq!(minutes, [30, 60, 240, 1440]);
        assert!(Severity::Sev2.needs_review_to_close());
        assert!(!Severity::Sev3.needs_review_to_close());
    }

    #[test]
    fn names_round_trip_through_their_stored_form() {
        for s in <Severity as Named>::ALL {
            assert_eq!(stored::<Severity>(s.as_str()).unwrap(), *s);
        }
        assert!(stored::<IncidentStatus>("PAUSED").is_err());
    }
}
