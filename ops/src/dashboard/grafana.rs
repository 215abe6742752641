//! The three dashboards as Grafana dashboards over the console's `/metrics` (scraped by Prometheus): one
//! stat-and-sparkline panel per figure, with the same titles, units, thresholds and links as the console's
//! pages, and a tenant variable. Generated from [`FIGURES`], so they cannot drift from the console: the
//! files in `deploy/grafana/` are checked against this in the tests (`OPSDECK_UPDATE_GRAFANA=1` rewrites
//! them).

use serde_json::{json, Value};

use super::figures::{Alarm, Board, Figure, FIGURES};
use platform::machine::Named;

/// Extra panels a board shows in Grafana beyond its sampled figures: live probes the console exports
/// under their own names (PromQL, title, unit).
pub const LIVE_PANELS: &[(Board, &str, &str, &str)] = &[
    (Board::ServiceOwner, "sum(1 - opsdeck_dependency_up)", "Dependencies down", "none"),
    (Board::ServiceOwner, "max(opsdeck_orchestration_start_oldest_pending_age_seconds)", "Oldest orchestration start waiting", "s"),
    (Board::ServiceOwner, "sum(opsdeck_outbox_dead_relay_claims)", "Outbox claims held by dead relays", "none"),
    (Board::ServiceOwner, "max(opsdeck_kafka_consumer_lag_seconds_max)", "Kafka consumer lag (oldest unconsumed record)", "s"),
    (Board::ServiceOwner, "sum(opsdeck_orders_waiting_projection)", "Orders waiting for the projection", "none"),
    (Board::ServiceOwner, "sum(opsdeck_engine_incidents_open_total)", "Open engine incidents", "none"),
    (Board::ServiceOwner, "sum(opsdeck_engine_failed_jobs)", "Engine jobs failed", "none"),
    (Board::ServiceOwner, "max(opsdeck_pg_lock_wait_seconds_max)", "Longest PostgreSQL lock wait", "s"),
    (Board::ServiceOwner, "max(opsdeck_redis_ping_seconds)", "Redis round trip", "s"),
    (Board::Incident, "sum(opsdeck_engine_incidents_open_total)", "Engine incidents still open", "none"),
    (Board::Incident, "min(opsdeck_audit_chain_holds)", "Audit chain holds (1 = yes)", "none"),
];

/// Grafana's unit for a figure's unit.
fn unit(figure: &Figure) -> &'static str {
    match figure.unit {
        "s" => "s",
        "ms" => "ms",
        "/min" => "cpm",
        _ => "none",
    }
}

fn panel(id: usize, title: &str, expr: String, unit: &str, alarm: Alarm, link: Option<&str>) -> Value {
    let (x, y) = ((id % 4) * 6, (id / 4) * 6);
    let steps = match alarm {
        Alarm::Above(limit) => json!([{ "color": "green", "value": null }, { "color": "red", "value": limit }]),
        Alarm::None => json!([{ "color": "green", "value": null }]),
    };
    let links = link.map(|l| json!([{ "title": "Open in opsdeck", "url": format!("${{opsdeck_url}}{l}") }])).unwrap_or(json!([]));
    json!({
        "id": id + 1,
        "type": "stat",
        "title": title,
        "gridPos": { "h": 6, "w": 6, "x": x, "y": y },
        "datasource": { "type": "prometheus", "uid": "${datasource}" },
        "targets": [{ "refId": "A", "expr": expr, "legendFormat": "{{tenant}} {{facet}}" }],
        "fieldConfig": { "defaults": { "unit": unit, "thresholds": { "mode": "absolute", "steps": steps } }, "overrides": [] },
        "options": { "graphMode": "area", "colorMode": "value", "reduceOptions": { "calcs": ["lastNotNull"], "fields": "", "values": false } },
        "links": links
    })
}

/// The Grafana dashboard of `board`.
pub fn dashboard(board: Board) -> Value {
    let mut panels: Vec<Value> = FIGURES
        .iter()
        .filter(|f| f.board == board)
        .enumerate()
        .map(|(i, f)| {
            // Facets add up to the tenant's (or the platform's) value, as on the console.
            let expr = format!("sum(opsdeck_{}{{tenant=~\"$tenant\"}})", f.name);
            let link = f.link.map(str::to_string).or(f.runbook.map(|r| format!("/runbooks/{r}")));
            panel(i, f.title, expr, unit(f), f.alarm, link.as_deref())
        })
        .collect();
    for (board_of, expr, title, unit) in LIVE_PANELS {
        if *board_of == board {
            panels.push(panel(panels.len(), title, expr.to_string(), unit, Alarm::Above(1.0), None));
        }
    }
    json!({
        "uid": format!("opsdeck-{}", board.name()),
        "title": format!("opsdeck · {}", board.title()),
        "description": board.question(),
        "tags": ["opsdeck"],
        "schemaVersion": 39,
        "refresh": "30s",
        "time": { "from": "now-6h", "to": "now" },
        "templating": { "list": [
            { "name": "datasource", "type": "datasource", "query": "prometheus" },
            { "name": "tenant", "type": "custom", "query": "all", "current": { "text": "all", "value": "all" },
              "description": "A tenant's slug, or all for the platform's totals" },
            { "name": "opsdeck_url", "type": "constant", "query": "http://127.0.0.1:3000", "hide": 2 }
        ]},
        "panels": panels
    })
}

/// Where `board`'s file lives in the repository.
pub fn file_name(board: Board) -> String {
    format!("opsdeck-{}.json", board.name())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/grafana")
    }

    #[test]
    fn the_grafana_dashboards_in_the_repository_are_the_console_figures() {
        for board in [Board::Executive, Board::ServiceOwner, Board::Incident] {
            let want = serde_json::to_string_pretty(&dashboard(board)).unwrap() + "\n";
            let path = dir().join(file_name(board));
            if std::env::var_os("OPSDECK_UPDATE_GRAFANA").is_some() {
                std::fs::create_dir_all(dir()).unwrap();
                std::fs::write(&path, &want).unwrap();
            }
            let have = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(have == want, "{} is out of date: run OPSDECK_UPDATE_GRAFANA=1 cargo test -p ops --lib grafana", path.display());
        }
    }

    #[test]
    fn every_live_panel_queries_a_metric_the_console_exports() {
        // Exported elsewhere than the diagnostics table: the readiness probes, the audit verifier, the starter.
        let others = ["opsdeck_dependency_up", "opsdeck_audit_chain_holds", "opsdeck_orchestration_start_oldest_pending_age_seconds"];
        let known: Vec<&str> = crate::diagnostics::METRIC_GAUGES.iter().map(|(n, _)| *n).chain(others).collect();
        for (_, expr, title, _) in LIVE_PANELS {
            let at = expr.find("opsdeck_").unwrap_or_else(|| panic!("{title}: no opsdeck metric"));
            let metric: String = expr[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            let metric = metric.as_str();
            assert!(known.contains(&metric), "{title}: {metric} is not exported");
        }
    }

    #[test]
    fn every_figure_is_a_panel_querying_its_metric() {
        for board in [Board::Executive, Board::ServiceOwner, Board::Incident] {
            let d = dashboard(board);
            let exprs: Vec<String> =
                d["panels"].as_array().unwrap().iter().map(|p| p["targets"][0]["expr"].as_str().unwrap().to_string()).collect();
            for f in FIGURES.iter().filter(|f| f.board == board) {
                assert!(exprs.iter().any(|e| e.contains(&format!("opsdeck_{}{{", f.name))), "{}", f.name);
            }
        }
    }
}
