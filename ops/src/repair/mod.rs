//! Governed repairs (issue 9; lesson §5, §6.2, §8–§13, §18, §23): recovery as a command, never SQL
//! surgery. A repair is requested with a reason, an incident and an idempotency key, and is always a
//! dry-run first; a HIGH-risk one is approved by a second person, bound to the dry-run they saw; it runs
//! only through the platform's commands and transitions, keeps its before and after state, and is
//! re-checked afterwards. See [`lifecycle`] for the rules and [`catalogue`] for the repairs.

pub mod catalogue;
pub mod follow_up;
pub mod input;
pub mod lifecycle;
pub mod model;
pub mod policy;
pub mod record;
pub mod view;

pub use catalogue::{catalogue, info, Services, Target};
pub use input::{
    Decision, DecisionForm, ExecuteForm, IdempotencyKey, Parameters, RepairDecision, RepairForRequest, RepairReason,
    RepairRequestForm,
};
pub use lifecycle::{decide_repair, execute_repair, recheck_repair, request_repair, Executed, Requested};
pub use model::{DryRun, ParamKind, ParamSpec, Recheck, RepairInfo, RepairStatus, RepairType, Risk, SafetyCheck, Verdict};
pub use policy::{policies, set_policy, Policy, PolicyForSet, PolicyForm};
pub use follow_up::{run_follow_ups, FollowUp};
pub use record::{ApprovalRecord, Repair};
pub use view::{preview, preview_with, recent_repairs, repair_detail, repairs_of_entity, repairs_of_incident, waiting_for, Waiting};
