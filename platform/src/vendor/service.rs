//! The vendor's HTTP side: `POST /fulfillments`, `GET /fulfillments/{key}`, `POST|GET /control`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;

use super::IDEMPOTENCY_KEY_HEADER;

/// How the vendor behaves, set through `POST /control`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum VendorMode {
    #[default]
    Ok,
    /// Every fulfillment request is answered 503.
    Unavailable,
    /// The request is accepted (the fulfillment is created) but the answer comes only after `delay_ms`
    /// (default 30 s) — longer than any sane client timeout: the ambiguous "did it happen?" case.
    Timeout {
        #[serde(default)]
        delay_ms: Option<u64>,
    },
    /// Answers normally after `delay_ms`.
    Slow { delay_ms: u64 },
    /// Every fulfillment request is refused as a business answer — `status` (default 422) with a reason —
    /// and nothing is created: retrying the same request gets the same answer.
    Reject {
        #[serde(default)]
        status: Option<u16>,
    },
    /// A partial fulfilment: every request is accepted, line 1 of each order ships at once and the other
    /// lines are backordered (`"backordered": true` in the answer and the record). The backorders ship
    /// when the vendor is set to any other mode.
    Partial,
}

/// The reason the vendor gives in [`VendorMode::Reject`].
pub const REJECTION_REASON: &str = "the line failed the vendor's validation: product not orderable";

/// What the vendor knows about one idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentRecord {
    pub idempotency_key: String,
    /// Every request that carried the key, whatever the answer was.
    pub calls: u32,
    /// Fulfillments created for the key: 0 or 1, never more.
    pub created: u32,
    pub vendor_reference: Option<String>,
    /// Accepted but not shipped yet ([`VendorMode::Partial`]).
    #[serde(default)]
    pub backordered: bool,
}

/// `GET /control`: the mode and totals.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VendorStatus {
    #[serde(flatten)]
    pub mode: VendorMode,
    pub keys: usize,
    pub calls: u64,
    pub created: u64,
}

/// The vendor's memory, shared by its handlers (and inspectable in-process by tests).
#[derive(Debug, Clone, Default)]
pub struct VendorState {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    mode: VendorMode,
    records: HashMap<String, FulfillmentRecord>,
    next_reference: u64,
}

impl VendorState {
    pub fn mode(&self) -> VendorMode {
        self.inner.lock().expect("vendor state").mode
    }

    /// Sets the mode; leaving [`VendorMode::Partial`] ships every backorder.
    pub fn set_mode(&self, mode: VendorMode) {
        let mut inner = self.inner.lock().expect("vendor state");
        inner.mode = mode;
        if mode != VendorMode::Partial {
            inner.records.values_mut().for_each(|r| r.backordered = false);
        }
    }

    pub fn record(&self, key: &str) -> Option<FulfillmentRecord> {
        self.inner.lock().expect("vendor state").records.get(key).cloned()
    }

    pub fn status(&self) -> VendorStatus {
        let inner = self.inner.lock().expect("vendor state");
        VendorStatus {
            mode: inner.mode,
            keys: inner.records.len(),
            calls: inner.records.values().map(|r| u64::from(r.calls)).sum(),
            created: inner.records.values().map(|r| u64::from(r.created)).sum(),
        }
    }

    /// Counts the call; creates the fulfillment unless one exists or `create` is false — backordered when
    /// `backorder`. Returns the record and whether this call created it.
    fn take_call(&self, key: &str, create: bool, backorder: bool) -> (FulfillmentRecord, bool) {
        let mut inner = self.inner.lock().expect("vendor state");
        let reference = if create && inner.records.get(key).is_none_or(|r| r.created == 0) {
            inner.next_reference += 1;
            Some(format!("VF-{:06}", inner.next_reference))
        } else {
            None
        };
        let record = inner.records.entry(key.to_string()).or_insert_with(|| FulfillmentRecord {
            idempotency_key: key.to_string(),
            calls: 0,
            created: 0,
            vendor_reference: None,
            backordered: false,
        });
        record.calls += 1;
        let created = reference.is_some();
        if created {
            record.created = 1;
            record.vendor_reference = reference;
            record.backordered = backorder;
        }
        (record.clone(), created)
    }
}

/// The vendor's routes over `state`.
pub fn router(state: VendorState) -> Router {
    Router::new()
        .route("/fulfillments", post(create_fulfillment))
        .route("/fulfillments/{key}", get(show_fulfillment))
        .route("/control", get(show_control).post(set_control))
        .with_state(state)
}

/// Serves a fresh vendor on `listener` until the task is dropped. Bind port 0 in tests.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    serve_with(listener, VendorState::default()).await
}

/// Serves the vendor over a state the caller keeps a handle to.
pub async fn serve_with(listener: TcpListener, state: VendorState) -> std::io::Result<()> {
    axum::serve(listener, router(state)).await
}

#[derive(Debug, Serialize)]
struct Accepted<'a> {
    idempotency_key: &'a str,
    vendor_reference: &'a str,
    /// True when this answer replays an earlier request with the same key.
    replayed: bool,
    /// Accepted, but the line ships later ([`VendorMode::Partial`]).
    backordered: bool,
}

#[tracing::instrument(skip_all, fields(idempotency_key))]
async fn create_fulfillment(
    State(state): State<VendorState>,
    headers: HeaderMap,
    Json(payload): Json<serde_json::Value>,
) -> Response {
    let Some(key) = headers.get(IDEMPOTENCY_KEY_HEADER).and_then(|v| v.to_str().ok()).filter(|k| !k.is_empty()) else {
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": "Idempotency-Key header required" })))
            .into_response();
    };
    let key = key.to_string();
    tracing::Span::current().record("idempotency_key", key.as_str());
    match state.mode() {
        VendorMode::Unavailable => {
            state.take_call(&key, false, false);
            return (StatusCode::SERVICE_UNAVAILABLE, Json(serde_json::json!({ "error": "vendor unavailable" })))
                .into_response();
        }
        VendorMode::Timeout { delay_ms } => {
            let (record, created) = state.take_call(&key, true, false);
            tokio::time::sleep(Duration::from_millis(delay_ms.unwrap_or(30_000))).await;
            return accepted(&record, created);
        }
        VendorMode::Reject { status } => {
            state.take_call(&key, false, false);
            let status = status.and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
            return (status, Json(serde_json::json!({ "error": REJECTION_REASON, "code": "VALIDATION_FAILED" })))
                .into_response();
        }
        VendorMode::Partial => {
            let later_line = payload.get("line_no").and_then(serde_json::Value::as_i64).is_some_and(|n| n > 1);
            let (record, created) = state.take_call(&key, true, later_line);
            return accepted(&record, created);
        }
        VendorMode::Slow { delay_ms } => tokio::time::sleep(Duration::from_millis(delay_ms)).await,
        VendorMode::Ok => {}
    }
    let (record, created) = state.take_call(&key, true, false);
    accepted(&record, created)
}

fn accepted(record: &FulfillmentRecord, created: bool) -> Response {
    let body = Accepted {
        idempotency_key: &record.idempotency_key,
        vendor_reference: record.vendor_reference.as_deref().unwrap_or_default(),
        replayed: !created,
        backordered: record.backordered,
    };
    let status = if created { StatusCode::ACCEPTED } else { StatusCode::OK };
    (status, Json(body)).into_response()
}

async fn show_fulfillment(State(state): State<VendorState>, Path(key): Path<String>) -> Response {
    match state.record(&key) {
        Some(record) => Json(record).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn show_control(State(state): State<VendorState>) -> Json<VendorStatus> {
    Json(state.status())
}

#[tracing::instrument(skip(state))]
async fn set_control(State(state): State<VendorState>, Json(mode): Json<VendorMode>) -> Json<VendorStatus> {
    state.set_mode(mode);
    tracing::info!(?mode, "vendor mode changed");
    Json(state.status())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_key_creates_one_fulfillment_and_counts_every_call() {
        let state = VendorState::default();
        let (first, created) = state.take_call("k1", true, false);
        assert!(created);
        let (again, created_again) = state.take_call("k1", true, false);
        assert!(!created_again);
        assert_eq!(again.vendor_reference, first.vendor_reference);
        assert_eq!((again.calls, again.created), (2, 1));
    }

    #[test]
    fn an_unavailable_call_is_counted_but_creates_nothing() {
        let state = VendorState::default();
        state.take_call("k2", false, false);
        assert_eq!(state.record("k2").map(|r| (r.calls, r.created)), Some((1, 0)));
    }

    #[test]
    fn control_modes_parse_from_json() {
        let slow: VendorMode = serde_json::from_str(r#"{"mode":"slow","delay_ms":250}"#).unwrap();
        assert_eq!(slow, VendorMode::Slow { delay_ms: 250 });
        let down: VendorMode = serde_json::from_str(r#"{"mode":"unavailable"}"#).unwrap();
        assert_eq!(down, VendorMode::Unavailable);
        let hang: VendorMode = serde_json::from_str(r#"{"mode":"timeout"}"#).unwrap();
        assert_eq!(hang, VendorMode::Timeout { delay_ms: None });
        let no: VendorMode = serde_json::from_str(r#"{"mode":"reject"}"#).unwrap();
        assert_eq!(no, VendorMode::Reject { status: None });
        let some: VendorMode = serde_json::from_str(r#"{"mode":"partial"}"#).unwrap();
        assert_eq!(some, VendorMode::Partial);
    }

    #[test]
    fn backorders_ship_when_the_vendor_leaves_partial_mode() {
        let state = VendorState::default();
        state.set_mode(VendorMode::Partial);
        let (record, _) = state.take_call("k3", true, true);
        assert!(record.backordered);
        state.set_mode(VendorMode::Partial);
        assert!(state.record("k3").unwrap().backordered, "still waiting");
        state.set_mode(VendorMode::Ok);
        assert!(!state.record("k3").unwrap().backordered);
    }
}
