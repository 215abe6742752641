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
pub const MISMATCHES_OPEN: &str = "opsdeck_reconciliation_mismatches_open_by_check";
pub const MISMATCHES_OPEN_BY_SAFETY: &str = "opsdeck_reconciliation_mismatches_open_by_safety";
pub const RUNS: &str = "opsdeck_reconciliation_runs";
pub const RUNS_RUNNING: &str = "opsdeck_reconciliation_runs_running";
pub const LAST_COMPLETED_AGE: &str = "opsdeck_reconciliation_last_completed_age_seconds";

/// How long a scrape right after start-up waits for the sampler's first round.
const FIRST_ROUND_WAIT: std::time::Duration = std::time::Duration::from_secs(6);

/// HELP lines for the metrics above.
pub fn describe() {
    metrics::describe_gauge!(DEPENDENCY_UP, "1 when the dependency answered its last readiness probe, else 0");
    metrics::describe_gauge!(DEPENDENCY_PROBE_SECONDS, "How long the last readiness probe of the dependency took");
    metrics::describe_counter!(HTTP_REQUESTS, "HTTP requests answered, by route and status");
    metrics::describe_histogram!(HTTP_DURATION, "HTTP request latency, by route");
    ops::diagnostics::describe_metrics();
    metrics::describe_gauge!(MISMATCHES_OPEN, "Reconciliation mismatches still open, by check and status");
    metrics::describe_gauge!(MISMATCHES_OPEN_BY_SAFETY, "Reconciliation mismatches still open, by safety level");
    metrics::describe_gauge!(RUNS, "Reconciliation runs recorded, by check and status");
    metrics::describe_gauge!(RUNS_RUNNING, "Reconciliation runs working now");
    metrics::describe_gauge!(LAST_COMPLETED_AGE, "Seconds since the check's last completed whole run");
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
    if let Err(error) = export_reconciliation(&state.pool).await {
        tracing::warn!(%error, "reconciliation counts not exported");
    }
    state.metrics.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}

/// The reconciliation counts, read from the database at the scrape (the same whichever replica ran the
/// checks): every check × open status and run status is set, zero included, so a count that went away
/// reads 0 rather than its last value.
async fn export_reconciliation(pool: &sqlx::PgPool) -> ops::Result<()> {
    use ops::reconcile::{CheckName, MismatchStatus, RunStatus, Safety};
    use platform::machine::Named;
    let counts = ops::reconcile::view::counts(pool).await?;
    for &check in CheckName::ALL {
        for status in MismatchStatus::ALL.iter().filter(|s| s.is_open()) {
            let n: i64 = counts.open.iter().filter(|o| o.check_name == check.name() && o.status == status.name()).map(|o| o.count).sum();
            metrics::gauge!(MISMATCHES_OPEN, "check" => check.name(), "status" => status.name()).set(n as f64);
        }
        for &status in RunStatus::ALL {
            let n = counts.runs.iter().find(|r| r.0 == check.name() && r.1 == status.name()).map_or(0, |r| r.2);
            metrics::gauge!(RUNS, "check" => check.name(), "status" => status.name()).set(n as f64);
        }
        if let Some((_, age)) = counts.last_completed_age.iter().find(|a| a.0 == check.name()) {
            metrics::gauge!(LAST_COMPLETED_AGE, "check" => check.name()).set(*age);
        }
    }
    for &safety in Safety::ALL {
        let n: i64 = counts.open.iter().filter(|o| o.safety_level.as_deref() == Some(safety.name())).map(|o| o.count).sum();
        metrics::gauge!(MISMATCHES_OPEN_BY_SAFETY, "safety" => safety.name()).set(n as f64);
    }
    metrics::gauge!(RUNS_RUNNING).set(counts.running as f64);
    Ok(())
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
