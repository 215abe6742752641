//! The fulfillment vendor: a small HTTP service on loopback standing in for the outside system that
//! fulfils order lines ([`service`]), and the client the orchestration worker calls it with ([`client`]).
//!
//! The vendor honours the `Idempotency-Key` header: a repeated key gets the first answer back and creates
//! nothing new, which is what makes retrying a timed-out request safe (lesson 8.4, 13.2 step 8). It can be
//! told to misbehave — answer 503, reject every line as a business answer (422), hang past the client's timeout, be slow, or fulfil only
//! part of an order for now (backorder every line after the first) — so outages are real.
//! It keeps everything in memory: it is a fixture, never a system of record.

pub mod client;
pub mod service;

pub use client::{VendorAck, VendorClient, VendorError};
pub use service::{router, serve, serve_with, FulfillmentRecord, VendorMode, VendorState, VendorStatus, REJECTION_REASON};

/// Header carrying the idempotency key of a fulfillment request.
pub const IDEMPOTENCY_KEY_HEADER: &str = "Idempotency-Key";
