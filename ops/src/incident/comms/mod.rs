//! Communication during an incident (lesson §20): status updates for staff and customers, the guard on
//! customer-facing text, the webhooks updates go to and the worker that delivers them.

pub mod customer_text;
pub mod delivery;
pub mod status_update;
pub mod webhook;
