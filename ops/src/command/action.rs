//! Every command and scoped read of the console, one name each: what the audit log, the metrics and the
//! access matrix call it, and the permission it needs.

use platform::named_enum;

use crate::identity::Permission;

named_enum!(/// One console command or scoped read. Its name (`incident.declare`) is the audit line's `action`.
Action {
    OrderRead => "order.read",
    TenantList => "tenant.list",
    IncidentList => "incident.list",
    IncidentRead => "incident.read",
    IncidentDeclare => "incident.declare",
    IncidentTriage => "incident.triage",
    IncidentImpact => "incident.impact",
    IncidentMitigate => "incident.mitigate",
    IncidentResolve => "incident.resolve",
    IncidentClose => "incident.close",
    IncidentReopen => "incident.reopen",
    IncidentSeverity => "incident.severity",
    IncidentNote => "incident.note",
    StatusUpdatePost => "incident.status_update",
    ReviewSave => "incident.review.save",
    ReviewComplete => "incident.review.complete",
    ActionItemAdd => "incident.action_item.add",
    ActionItemEdit => "incident.action_item.edit",
    ActionItemStatus => "incident.action_item.status",
    RepairRead => "repair.read",
    RepairRequest => "repair.request",
    RepairApprove => "repair.approve",
    RepairReject => "repair.reject",
    RepairExecute => "repair.execute",
    RepairRecheck => "repair.recheck",
    RepairPolicySet => "repair.policy.set",
    AuditVerify => "audit.verify",
    ControlList => "control.list",
    ControlSet => "control.set",
    DiagnosticRun => "runbook.diagnostic.run",
    ChecklistRecord => "checklist.record",
    DashboardRead => "dashboard.read",
    DrillRead => "drill.read",
    DrillStart => "drill.start",
    DrillFaultEnd => "drill.fault.end",
    DrillEnd => "drill.end",
    DiagnosticsRead => "diagnostics.read",
    ReconcileRead => "reconcile.read",
    ReconcileRun => "reconcile.run",
    MismatchAcknowledge => "reconcile.mismatch.acknowledge",
    MismatchFalsePositive => "reconcile.mismatch.false_positive",
    MismatchLinkIncident => "reconcile.mismatch.link_incident",
    ReconcilePolicySet => "reconcile.policy.set",
});

impl Action {
    /// The permission the command needs (the role table is [`Permission::granted_by`]).
    pub fn permission(self) -> Permission {
        use Action::*;
        match self {
            OrderRead | TenantList | IncidentList | IncidentRead | RepairRead | ControlList | DashboardRead | DrillRead
            | DiagnosticsRead | ReconcileRead => Permission::Read,
            IncidentDeclare => Permission::DeclareIncident,
            IncidentTriage | IncidentImpact | IncidentMitigate | IncidentResolve | IncidentClose | IncidentReopen
            | IncidentSeverity | IncidentNote | DiagnosticRun | ChecklistRecord | DrillStart | DrillFaultEnd | DrillEnd => {
                Permission::ManageIncident
            }
            StatusUpdatePost => Permission::PostStatusUpdate,
            ReviewSave | ReviewComplete | ActionItemAdd | ActionItemEdit | ActionItemStatus => Permission::ManageReview,
            RepairRequest | RepairExecute | RepairRecheck => Permission::RequestRepair,
            RepairApprove | RepairReject => Permission::ApproveRepair,
            RepairPolicySet | AuditVerify => Permission::Administer,
            ControlSet => Permission::ChangeControl,
            ReconcileRun | MismatchAcknowledge | MismatchFalsePositive | MismatchLinkIncident => Permission::RunReconciliation,
            ReconcilePolicySet => Permission::Administer,
        }
    }

    /// Reads change nothing: they run in a read-only transaction, and a person's allowed reads are not
    /// audited (a service's are).
    pub fn is_read(self) -> bool {
        self.permission() == Permission::Read
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use platform::machine::Named;

    #[test]
    fn every_action_has_a_dotted_lowercase_name_of_its_own() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '.' || c == '_')), "{names:?}");
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }

    #[test]
    fn only_reads_need_only_read() {
        assert!(Action::IncidentRead.is_read());
        assert!(!Action::IncidentDeclare.is_read());
        assert_eq!(Action::StatusUpdatePost.permission(), Permission::PostStatusUpdate);
    }
}
