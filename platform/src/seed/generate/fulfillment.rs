//! Fulfilment requests: the evidence of the calls to the vendor, one per requested line, in the state
//! the line's outcome (or the vendor's silence) left them.

use std::io::Write as _;

use rand::Rng;
use uuid::Uuid;

use super::{t, Batch, Generator, SECOND};
use crate::order::OrderLineStatus;
use crate::seed::rows::push_uuid;

impl Generator {
    /// The evidence of the external side effect, keyed like the worker keys it: one request per line,
    /// reused by retries.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fulfillment_request(
        &mut self,
        b: &mut Batch,
        tenant_id: Uuid,
        order_id: Uuid,
        line_id: Uuid,
        line_index: usize,
        sku: &str,
        quantity: i32,
        order_number: &str,
        vendor: &str,
        line_status: OrderLineStatus,
        requested_at: i64,
        attempts: i32,
        outcome_at: Option<i64>,
        vendor_silent: bool,
    ) {
        let sent_at = requested_at + self.rng.random_range(20..800);
        let (status, code, body, completed_at, updated_at) = match (line_status, outcome_at) {
            (OrderLineStatus::Fulfilled, Some(at)) => {
                ("COMPLETED", Some(200), Some(r#"{"status":"DELIVERED"}"#), Some(at), at)
            }
            (OrderLineStatus::Failed | OrderLineStatus::Cancelled, Some(at)) => {
                ("FAILED", Some(422), Some(r#"{"error":"SKU not deliverable to the shipping region"}"#), None, at)
            }
            _ if vendor_silent => ("SENT", None, None, None, sent_at),
            _ => (
                "ACKNOWLEDGED",
                Some(202),
                Some(r#"{"status":"ACCEPTED"}"#),
                None,
                sent_at + self.rng.random_range(50..2 * SECOND),
            ),
        };
        let id = self.id_at(requested_at);
        self.json.clear();
        let _ = write!(
            self.json,
            r#"{{"order_id":"{order_id}","order_line_id":"{line_id}","order_number":"{order_number}","line_no":{},"sku":"{sku}","quantity":{quantity}}}"#,
            line_index + 1
        );
        let mut key = Vec::with_capacity(48);
        push_uuid(&mut key, order_id);
        let _ = write!(key, ":{}:fulfil", line_index + 1);
        b.tables[t::FULFILLMENT]
            .row()
            .uuid(id)
            .uuid(tenant_id)
            .uuid(order_id)
            .uuid(line_id)
            .text(std::str::from_utf8(&key).expect("ascii"))
            .text(vendor)
            .text(status)
            .jsonb(&self.json)
            .opt_i32(code)
            .opt_text(body)
            .i32(attempts)
            .ts(requested_at)
            .ts(sent_at)
            .opt_ts(completed_at)
            .ts(updated_at);
    }
}
