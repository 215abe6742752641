//! HTTP handlers. Console pages are rendered by the `app` crate through [`pages`]; the rest are the
//! operational endpoints every replica serves.

pub mod health;
pub mod metrics;
pub mod pages;
