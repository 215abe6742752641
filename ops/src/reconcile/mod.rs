//! Reconciliation (lesson §6.3, §17; DESIGN §5): the checks that find silent failures, their runs, the
//! mismatches they record with a lifecycle of their own, and the re-check that closes the loop after a
//! repair. Checks only read the system of record; they never change business state — repairs do that,
//! through the platform's commands.

pub mod checks;
pub mod model;

pub use model::{CheckInfo, CheckName, Examined, Finding, Kind, MismatchStatus, RunOrigin, RunStatus, Safety, Scope};
