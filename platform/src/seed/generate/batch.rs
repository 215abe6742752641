//! The tables a batch fills, in foreign-key order, with the columns each COPY names.

use crate::seed::rows::TableBuf;

/// The tables of a batch, in foreign-key order (the order they are copied in).
pub(super) mod t {
    pub const QUOTE: usize = 0;
    pub const QUOTE_LINE: usize = 1;
    pub const QUOTE_TRANSITION: usize = 2;
    pub const APPROVAL_REQUEST: usize = 3;
    pub const APPROVAL_TRANSITION: usize = 4;
    pub const ORDER: usize = 5;
    pub const ORDER_LINE: usize = 6;
    pub const ORDER_TRANSITION: usize = 7;
    pub const FULFILLMENT: usize = 8;
    pub const PROJECTION: usize = 9;
    pub const OUTBOX: usize = 10;
    pub const ANOMALY: usize = 11;
}

pub(super) const TABLES: [(&str, &str); 12] = [
    (
        "cpq.quote",
        "quote_id, tenant_id, quote_number, customer_name, status, current_version, version, currency, total_minor, \
         discount_pct, valid_until, accepted_at, acceptance_ref, created_by, created_at, updated_at",
    ),
    (
        "cpq.quote_line",
        "quote_line_id, quote_id, tenant_id, line_no, product_sku, description, quantity, unit_list_minor, discount_pct, \
         net_minor, price_snapshot, priced_at",
    ),
    (
        "cpq.quote_transition",
        "transition_id, quote_id, tenant_id, from_status, to_status, command, quote_version, row_version, actor, reason, \
         correlation_id, occurred_at",
    ),
    (
        "cpq.approval_request",
        "approval_request_id, tenant_id, quote_id, quote_version, policy_id, policy_version, assignee, status, \
         escalation_level, due_at, decided_at, decided_by, decision_note, version, created_at, updated_at",
    ),
    (
        "cpq.approval_transition",
        "transition_id, approval_request_id, tenant_id, from_status, to_status, command, row_version, actor, reason, \
         detail, occurred_at",
    ),
    (
        "oms.sales_order",
        "order_id, tenant_id, order_number, source_quote_id, customer_name, status, version, currency, total_minor, \
         acceptance_key, origin, created_at, updated_at",
    ),
    (
        "oms.sales_order_line",
        "order_line_id, order_id, tenant_id, line_no, product_sku, quantity, unit_price_minor, discount_bp, net_minor, status, \
         version, created_at, updated_at",
    ),
    (
        "oms.order_transition",
        "transition_id, order_id, tenant_id, order_line_id, from_status, to_status, command, order_version, actor, reason, \
         correlation_id, repair_id, occurred_at",
    ),
    (
        "oms.fulfillment_request",
        "fulfillment_request_id, tenant_id, order_id, order_line_id, idempotency_key, vendor, status, request_payload, \
         response_code, response_body, attempts, created_at, sent_at, completed_at, updated_at",
    ),
    (
        "oms.order_projection",
        "order_id, tenant_id, order_number, status, aggregate_version, total_minor, currency, last_event_id, \
         source_updated_at, projected_at",
    ),
    (
        "messaging.outbox_event",
        "outbox_event_id, tenant_id, aggregate_type, aggregate_id, aggregate_version, event_type, payload, headers, status, \
         attempts, last_error, next_attempt_at, claimed_by, claimed_at, created_at, published_at, kafka_topic, \
         kafka_partition, kafka_offset",
    ),
    ("platform.seed_anomaly", "seed_run_id, anomaly_type, tenant_id, entity_type, entity_id, detail"),
];

/// The rows of one batch, per table, and the anomalies it injected.
pub(in crate::seed) struct Batch {
    pub tables: Vec<TableBuf>,
    pub anomalies: [u64; 7],
}

impl Batch {
    pub(super) fn new(capacity: &[usize]) -> Self {
        let tables = TABLES
            .iter()
            .zip(capacity)
            .map(|(&(table, columns), &cap)| {
                let mut t = TableBuf::new(table, columns);
                t.buf.reserve(cap);
                t
            })
            .collect();
        Batch { tables, anomalies: [0; 7] }
    }
}

