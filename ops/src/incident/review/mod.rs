//! After the incident (lesson §21): the post-incident review and its action items.

pub mod action_item;
pub mod pir;
