//! Order orchestration on the process engine (lesson 8, 13).
//!
//! [`start_orchestration`] moves a captured order to ORCHESTRATING and starts one process instance under
//! the business key `tenantId:orderId` — never two for one order, and none while the
//! PAUSE_ORCHESTRATION_STARTS switch is on. The [`Worker`] runs the model's external tasks (reserve,
//! request fulfillment, activate): it fetches and locks them, applies platform commands, completes them,
//! and on failure hands them back with fewer retries and a backoff until the engine raises an incident.
//!
//! Every handler is idempotent because it reads the current state first: a retried task skips what is
//! already done. The one external side effect, the vendor call, is recorded in `oms.fulfillment_request`
//! with its idempotency key and committed *before* the call, so a retry can tell "sent" from "never sent"
//! and the vendor can deduplicate. The engine coordinates; the order tables stay the business truth, and
//! every order change goes through [`crate::command`].

mod control;
mod fulfillment;
mod start;
mod tasks;
mod worker;

pub use control::{orchestration_starts_paused, PAUSE_ORCHESTRATION_STARTS};
pub use fulfillment::{fulfillment_idempotency_key, FulfillmentRequestStatus};
pub use start::{ensure_deployed, start_orchestration, StartOutcome};
pub use tasks::{Topic, TOPICS};
pub use worker::{PollOutcome, Worker, WorkerConfig, WORKER_KIND};

use crate::engine::EngineError;
use crate::vendor::VendorError;

/// What can go wrong while orchestrating.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Platform(#[from] crate::Error),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Vendor(#[from] VendorError),
    /// A task whose business key does not name an order.
    #[error("task {task_id} has no usable business key ({business_key:?})")]
    BadBusinessKey { task_id: String, business_key: Option<String> },
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Platform(crate::Error::Database(e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
