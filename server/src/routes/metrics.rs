//! `/metrics` in the Prometheus text format: the readiness and diagnostics gauges (from the sampler's
//! latest round), and per-route HTTP metrics.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ops::health::Readiness;

use crate::startup::AppState;

pub const DEPENDENCY_UP: &str = "opsdeck_dependency_up";
pub const DEPENDENCY_PROBE_SECONDS: &str = "opsdeck_dependency_probe_seconds";
pub const HTTP_REQUESTS: &str = "opsdeck_http_requests_total";
pub const HTTP_DURATION: &str = "opsdeck_http_request_duration_seconds";

/// How long a scrape right after start-up waits for the sampler's first round.
const FIRST_ROUND_WAIT: std::time::Duration = std::time::Duration::from_secs(6);

/// HELP lines for the metrics above.
pub fn describe() {
    metrics::describe_gauge!(DEPENDENCY_UP, "1 when the dependency answered its last readiness probe, else 0");
    metrics::describe_gauge!(DEPENDENCY_PROBE_SECONDS, "How long the last readiness probe of the dependency took");
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route and status");
    metrics::describe_histogram!(HTTP_DURATION, "HTTP request latency, by route");
    ops::diagnostics::describe_metrics();
}

pub fn record_readiness(readiness: &Readiness) {
    for component in &readiness.components {
        let name = component.component.name();
        metrics::gauge!(DEPENDENCY_UP, "component" => name).set(if component.is_up() { 1.0 } else { 0.0 });
        metrics::gauge!(DEPENDENCY_PROBE_SECONDS, "component" => name).set(component.latency.as_secs_f64());
    }
}

/// Renders every metric. The dependency and diagnostics gauges are set from the diagnostics sampler's
/// latest round: a scrape never probes a dependency (right after start-up it waits for the first round).
#[tracing::instrument(skip_all)]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    state.diagnostics.first_round(FIRST_ROUND_WAIT).await;
    if let Some(readiness) = state.diagnostics.latest().readiness {
        record_readiness(&readiness);
    }
    state.diagnostics.export_metrics();
    state.metrics.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}

/// Counts and times requests by matched route (not raw path, which would explode the label set).
pub async fn track_http(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    let labels = [("method", method), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels[..2]).record(started.elapsed().as_secs_f64());
    response
}
