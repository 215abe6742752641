//! HTTP handlers. Console pages are rendered by the `app` crate through [`pages`]; signing in and out is
//! [`auth`]; the internal API for services is [`internal`]; the rest are the operational endpoints every
//! replica serves.

pub mod admin;
pub mod auth;
pub mod checklists;
pub mod controls;
pub mod drills;
pub mod form;
pub mod health;
pub mod incidents;
pub mod internal;
pub mod metrics;
pub mod pages;
pub mod reconciliation;
pub mod repairs;
pub mod runbooks;
