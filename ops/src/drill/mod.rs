//! Failure drills (lesson §22): break a real order on purpose, in the drill tenant, through the platform's
//! fault injection; an operator works it through the console like a real incident; ending it records the
//! §22.2 evaluation — what the evidence answers (alert raised, entity found, recovered by a repair and not
//! by SQL, audit complete, dashboards back to normal, time to detect and to recover) and what only the
//! operator can answer (was the runbook accurate?). A "runbook was wrong" answer becomes an action item.
//!
//! A drill's life: RUNNING (declared, fault on its way) → BROKEN (the fault is in place, the clock runs)
//! → RECOVERED or FAILED when ended; a fault that could not be injected leaves it FAILED at once.

mod catalogue;
mod evaluate;
mod run;

pub use catalogue::{Drill, DrillSpec, DRILLS};
pub use evaluate::{evidence, Answer, Evaluation, Evidence, Question};
pub use run::{
    drill_detail, end_drill, list_drills, start_drill, stop_fault, DrillEndForm, DrillForEnd, DrillRun, DrillStartForm,
    DrillStatus, FaultKit,
};
