//! The reference CPQ/OMS platform that opsdeck operates.
//!
//! It owns the system of record (quotes, approvals, orders) and the rules by which it changes: state
//! machines as data ([`quote`], [`approval`], [`order`]) and commands ([`command`]) that write a change, its
//! transition history row and an outbox event in one transaction, guarded by optimistic locking.
//! It knows nothing of HTTP or of the console.

pub mod approval;
pub mod approval_timer;
pub mod command;
pub mod control;
pub mod db;
pub mod duplicate;
pub mod engine;
pub mod error;
pub mod events;
pub mod faults;
pub mod ids;
pub mod machine;
pub mod order;
pub mod orchestration;
pub mod projection;
pub mod outbox;
pub mod pricing;
pub mod query;
pub mod quote;
pub mod redis_link;
pub mod release;
pub mod relay;
pub mod seed;
pub mod simulator;
pub mod tenants;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod vendor;
mod worker;

pub use error::{Error, Result};
