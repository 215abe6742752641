//! Approval request events: one per approval transition, on the approval topic. The four event types
//! share one payload; the type says what happened.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::approval::ApprovalStatus;
use crate::ids::{ApprovalRequestId, QuoteId, TenantId};

/// An approval request was opened, escalated, decided or reassigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalChanged {
    pub approval_request_id: ApprovalRequestId,
    pub tenant_id: TenantId,
    pub quote_id: QuoteId,
    /// The commercial version of the quote the request is bound to.
    pub quote_version: i32,
    /// `REQUEST` when the request is opened (not a machine command: the request is born PENDING),
    /// otherwise the [`crate::approval::ApprovalCommand`] name.
    pub command: String,
    pub from_status: Option<ApprovalStatus>,
    pub status: ApprovalStatus,
    /// `None`: nobody (what the "approval without assignee" fault leaves).
    pub assignee: Option<String>,
    pub escalation_level: i32,
    pub due_at: DateTime<Utc>,
    /// The request row's version after this change: the aggregate version.
    pub version: i64,
    pub occurred_at: DateTime<Utc>,
}

impl ApprovalChanged {
    /// A request was opened for a quote version (`command` = `REQUEST`).
    pub const REQUESTED: &'static str = "ApprovalRequested";
    /// The escalation timer escalated an overdue request.
    pub const ESCALATED: &'static str = "ApprovalEscalated";
    /// The request was approved or rejected.
    pub const DECIDED: &'static str = "ApprovalDecided";
    /// The request was given to someone else (or to nobody).
    pub const REASSIGNED: &'static str = "ApprovalReassigned";
    /// The `command` of the event that opens a request.
    pub const REQUEST: &'static str = "REQUEST";
}
