//! `/healthz` (the process answers) and `/readyz` (the dependencies answer, and what is lost when not).

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use ops::health::Overall;

use crate::startup::AppState;

/// Liveness: no dependency is touched, so a database outage never gets the process restarted.
#[tracing::instrument]
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness, as JSON. 503 only when a required dependency (PostgreSQL) is down; any other dependency down
/// answers 200 with `"status": "degraded"`, each down component naming what is affected.
#[tracing::instrument(skip_all)]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let readiness = state.probes.check().await;
    super::metrics::record_readiness(&readiness);
    let status = match readiness.status {
        Overall::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Overall::Ready | Overall::Degraded => StatusCode::OK,
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(readiness))
}
