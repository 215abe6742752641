//! Reconciliation (lesson §6.3, §17; DESIGN §5): the checks that find silent failures, their runs, the
//! mismatches they record with a lifecycle of their own, and the re-check that closes the loop after a
//! repair. Checks only read the system of record; they never change business state — repairs do that,
//! through the platform's commands.

pub mod auto_repair;
pub mod checks;
pub mod mismatch;
pub mod model;
pub mod policy;
pub mod recheck;
pub mod run;
pub mod schedule;
pub mod view;

pub use mismatch::{acknowledge, link_incident, mark_false_positive, FalsePositiveForm, FalsePositiveReason, Mismatch};
pub use model::{CheckInfo, CheckName, Examined, Finding, Kind, MismatchStatus, RunOrigin, RunStatus, Safety, Scope};
pub use recheck::{recheck_entity, RecheckOutcome};
pub use run::{fail_stale_runs, run, RunRequest, RunSummary};
pub use policy::{auto_repairs, set_auto_repair, AutoRepair, AutoRepairForSet, AutoRepairForm};
pub use view::{mismatch_detail, mismatches, run_detail, runs, MismatchDetail, MismatchFilter, MismatchFilterForm, RunRow};
pub use schedule::{run_scheduler, tick, Schedule};
pub use run::RunForm;
