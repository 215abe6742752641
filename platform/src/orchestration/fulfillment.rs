//! `oms.fulfillment_request`: the evidence of the vendor call, written before the call is made.
//!
//! RECORDED (committed, not yet answered) → ACKNOWLEDGED (the vendor took it, with its reference) →
//! COMPLETED (the line was confirmed fulfilled). A failed attempt leaves FAILED with the answer (or the
//! timeout) in `response_code`/`response_body`; the retry sends the same key again.

use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ids::{OrderId, OrderLineId, TenantId};
use crate::named_enum;

named_enum!(/// Status of a fulfillment request, as stored in `oms.fulfillment_request.status`.
FulfillmentRequestStatus {
    Recorded => "RECORDED",
    Sent => "SENT",
    Acknowledged => "ACKNOWLEDGED",
    Completed => "COMPLETED",
    Failed => "FAILED",
});

/// The vendor the reference platform calls.
pub const VENDOR: &str = "reference-vendor";

/// `<order_id>:<line_no>:fulfil` — stable across retries, so the vendor creates at most one fulfillment.
pub fn fulfillment_idempotency_key(order: OrderId, line_no: i32) -> String {
    format!("{order}:{line_no}:fulfil")
}

#[derive(Debug, Serialize)]
pub(super) struct FulfillmentPayload<'a> {
    pub tenant_id: TenantId,
    pub order_id: OrderId,
    pub order_line_id: OrderLineId,
    pub line_no: i32,
    pub product_sku: &'a str,
    pub quantity: i32,
}

/// Records the request unless one with the key exists; returns its current status either way.
pub(super) async fn record(
    conn: &mut PgConnection,
    tenant: TenantId,
    order: OrderId,
    line: OrderLineId,
    key: &str,
    payload: &serde_json::Value,
) -> crate::Result<FulfillmentRequestStatus> {
    sqlx::query(
        "insert into oms.fulfillment_request
           (fulfillment_request_id, tenant_id, order_id, order_line_id, idempotency_key, vendor, status, request_payload)
         values ($1, $2, $3, $4, $5, $6, 'RECORDED', $7)
         on conflict (idempotency_key) do nothing",
    )
    .bind(Uuid::now_v7())
    .bind(tenant)
    .bind(order)
    .bind(line)
    .bind(key)
    .bind(VENDOR)
    .bind(payload)
    .execute(&mut *conn)
    .await?;
    let status: String = sqlx::query_scalar("select status from oms.fulfillment_request where idempotency_key = $1")
        .bind(key)
        .fetch_one(&mut *conn)
        .await?;
    status.parse()
}

/// The vendor took the request (first time or replayed).
pub(super) async fn mark_acknowledged(conn: &mut PgConnection, key: &str, code: u16, body: &str) -> crate::Result<()> {
    sqlx::query(
        "update oms.fulfillment_request
         set status = 'ACKNOWLEDGED', attempts = attempts + 1, response_code = $2, response_body = $3,
             sent_at = coalesce(sent_at, now()), updated_at = now()
         where idempotency_key = $1",
    )
    .bind(key)
    .bind(i32::from(code))
    .bind(body)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The attempt failed; what the vendor said (or that it said nothing) is kept for the runbook.
pub(super) async fn mark_failed(
    conn: &mut PgConnection,
    key: &str,
    code: Option<u16>,
    body: &str,
) -> crate::Result<()> {
    sqlx::query(
        "update oms.fulfillment_request
         set status = 'FAILED', attempts = attempts + 1, response_code = $2, response_body = $3, updated_at = now()
         where idempotency_key = $1",
    )
    .bind(key)
    .bind(code.map(i32::from))
    .bind(body)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Lines of the order whose request the vendor acknowledged as backordered (accepted, shipping later):
/// the acknowledgement is kept as the vendor's answer in `response_body`.
/// A body that is not the vendor's JSON (written by hand, cut short) says nothing of a backorder.
pub(super) async fn backordered_lines(conn: &mut PgConnection, order: OrderId) -> crate::Result<Vec<OrderLineId>> {
    let acknowledged: Vec<(OrderLineId, Option<String>)> = sqlx::query_as(
        "select order_line_id, response_body from oms.fulfillment_request
         where order_id = $1 and status = 'ACKNOWLEDGED' and order_line_id is not null",
    )
    .bind(order)
    .fetch_all(&mut *conn)
    .await?;
    let backordered = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body).is_ok_and(|answer| answer["backordered"] == serde_json::Value::Bool(true))
    };
    Ok(acknowledged.into_iter().filter(|(_, body)| body.as_deref().is_some_and(backordered)).map(|(line, _)| line).collect())
}

/// The line was confirmed fulfilled.
pub(super) async fn mark_completed(conn: &mut PgConnection, line: OrderLineId) -> crate::Result<()> {
    sqlx::query(
        "update oms.fulfillment_request set status = 'COMPLETED', completed_at = now(), updated_at = now()
         where order_line_id = $1 and status = 'ACKNOWLEDGED'",
    )
    .bind(line)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
