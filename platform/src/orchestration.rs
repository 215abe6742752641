//! Order orchestration on the process engine (lesson 8, 13).
//!
//! The capture records the intent to orchestrate with the order; the [`Starter`] carries it out — one
//! process instance per order under the business key `tenantId:orderId`, adopted rather than started
//! twice, retried with backoff while the engine is away, given up visibly after a bounded number of
//! attempts, held back while the PAUSE_ORCHESTRATION_STARTS switch is on (see [`starter`] for why it is
//! a row and not a Kafka consumer). The [`Worker`] runs the model's external tasks (reserve, request
//! fulfillment, activate): it fetches and locks them, applies platform commands, completes them, and on
//! failure hands them back with fewer retries and a backoff until the engine raises an incident — or, for
//! a business answer such as the vendor rejecting a line, fails the line and the order and raises a BPMN
//! error instead of retrying ([`failure`] classifies).
//!
//! One engine may serve several databases: every instance names its database in a process variable and
//! a worker fetches only its own database's tasks ([`ownership`]).
//!
//! Every handler is idempotent because it reads the current state first: a retried task skips what is
//! already done. The one external side effect, the vendor call, is recorded in `oms.fulfillment_request`
//! with its idempotency key and committed *before* the call, so a retry can tell "sent" from "never sent"
//! and the vendor can deduplicate. The engine coordinates; the order tables stay the business truth, and
//! every order change goes through [`crate::command`].

mod control;
pub mod failure;
pub mod follow_up;
mod fulfillment;
pub mod ownership;
pub mod resume;
pub mod retry;
mod start;
pub mod starter;
mod tasks;
mod worker;

pub use control::{orchestration_starts_paused, PAUSE_ORCHESTRATION_STARTS};
pub use fulfillment::{fulfillment_idempotency_key, FulfillmentRequestStatus};
pub use start::{ensure_deployed, StartOutcome};
pub use starter::{
    give_up_start, start_backlog, OrchestrationStartRow, StartBacklog, StartCounts, Starter, StarterConfig, StarterCounts,
    STARTER_KIND,
};
pub(crate) use starter::record_start_intent;
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
    #[error("invalid orchestration starter setting {field}: {message}")]
    Config { field: &'static str, message: String },
    /// The release serving the order's tenant breaks this step (a bad deployment, [`crate::release`]):
    /// a technical failure, retried until the engine raises an incident.
    #[error("{0}")]
    Release(String),
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
