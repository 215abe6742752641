//! The diagnostics' figures as Prometheus gauges: every number a panel shows, set from the sampler's
//! latest round when `/metrics` is scraped. Labels are bounded: groups, topics, partitions, tenants
//! (slugs), aggregates and event types — never an order or a session.
//!
//! A series whose subject went away (a drained event type, a group whose offsets expired) is set to 0 at
//! the next export rather than left at its last value.

use std::collections::HashSet;
use std::sync::Mutex;

use super::panel::{Panel, Status};
use super::Latest;

type Labels = Vec<(&'static str, String)>;

/// Exports, and remembers which series it set.
#[derive(Debug, Default)]
pub(super) struct Exporter {
    last: Mutex<HashSet<(&'static str, Labels)>>,
}

struct Series(Vec<(&'static str, Labels, f64)>);

impl Series {
    fn set(&mut self, name: &'static str, labels: Labels, value: f64) {
        self.0.push((name, labels, value));
    }
}

impl Exporter {
    pub(super) fn export(&self, latest: &Latest) {
        let mut series = Series(Vec::new());
        collect(latest, &mut series);
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now: HashSet<(&'static str, Labels)> = series.0.iter().map(|(n, l, _)| (*n, l.clone())).collect();
        for (name, labels) in last.difference(&now) {
            metrics::gauge!(*name, labels).set(0.0);
        }
        for (name, labels, value) in series.0 {
            metrics::gauge!(name, &labels).set(value);
        }
        *last = now;
    }
}

fn one(key: &'static str, value: impl Into<String>) -> Labels {
    vec![(key, value.into())]
}

fn collect(latest: &Latest, out: &mut Series) {
    if let Some(at) = latest.finished_at {
        out.set("opsdeck_diagnostics_last_round_timestamp_seconds", vec![], at.timestamp_millis() as f64 / 1000.0);
    }
    if let Some(Panel::Ready(redis)) = &latest.redis {
        out.set("opsdeck_redis_ping_seconds", vec![], redis.latest.ping_seconds);
        out.set("opsdeck_redis_keyspace_hits", vec![], redis.latest.keyspace_hits as f64);
        out.set("opsdeck_redis_keyspace_misses", vec![], redis.latest.keyspace_misses as f64);
        out.set("opsdeck_redis_evicted_keys", vec![], redis.latest.evicted_keys as f64);
        out.set("opsdeck_redis_evictions_last_interval", vec![], redis.evictions as f64);
        if let Some(ratio) = redis.hit_ratio {
            out.set("opsdeck_redis_hit_ratio", vec![], ratio);
        }
        out.set("opsdeck_redis_memory_used_bytes", vec![], redis.latest.used_memory_bytes as f64);
        out.set("opsdeck_redis_memory_max_bytes", vec![], redis.latest.maxmemory_bytes as f64);
        out.set("opsdeck_redis_connected_clients", vec![], redis.latest.connected_clients as f64);
    }
    let Some(figures) = &latest.figures else { return };
    for (area, verdict) in &figures.verdicts {
        out.set("opsdeck_diagnostics_status", one("area", area.as_str()), status_code(verdict.status));
    }

    if let Panel::Ready(lag) = &figures.kafka.lag {
        for group in &lag.groups {
            out.set("opsdeck_kafka_consumer_status", one("group", &group.group), f64::from(group.status.code()));
            out.set("opsdeck_kafka_consumer_total_lag", one("group", &group.group), group.total_lag as f64);
            out.set(
                "opsdeck_kafka_consumer_lag_seconds_max",
                one("group", &group.group),
                group.max_lag_seconds.unwrap_or(0.0),
            );
            for p in &group.partitions {
                let labels = vec![
                    ("group", group.group.clone()),
                    ("topic", p.topic.clone()),
                    ("partition", p.partition.to_string()),
                ];
                out.set("opsdeck_kafka_consumer_lag", labels.clone(), p.lag as f64);
                out.set("opsdeck_kafka_consumer_lag_seconds", labels.clone(), p.lag_seconds.unwrap_or(0.0));
                out.set("opsdeck_kafka_partition_status", labels, f64::from(p.status.code()));
            }
        }
    }
    for w in &figures.kafka.waiting {
        out.set("opsdeck_orders_waiting_projection", one("tenant", &w.slug), w.orders as f64);
        out.set("opsdeck_orders_waiting_projection_oldest_age_seconds", one("tenant", &w.slug), w.oldest_age_seconds);
    }

    if let Panel::Ready(engine) = &figures.engine.problems {
        if let Some(total) = engine.open_incidents_total {
            out.set("opsdeck_engine_incidents_open_total", vec![], total as f64);
        }
        let unmapped = engine.problems.iter().filter(|p| p.mapping.tenant().is_none());
        let (mut unmapped_incidents, mut unmapped_jobs) = (0u64, 0u64);
        for p in unmapped {
            match p.problem.kind {
                super::engine::ProblemKind::Incident => unmapped_incidents += 1,
                super::engine::ProblemKind::FailedJob => unmapped_jobs += 1,
            }
        }
        for t in &engine.by_tenant {
            out.set("opsdeck_engine_incidents_open", one("tenant", &t.slug), t.incidents as f64);
            out.set("opsdeck_engine_failed_jobs", one("tenant", &t.slug), t.failed_jobs as f64);
        }
        out.set("opsdeck_engine_incidents_open", one("tenant", "unmapped"), unmapped_incidents as f64);
        out.set("opsdeck_engine_failed_jobs", one("tenant", "unmapped"), unmapped_jobs as f64);
    }
    for s in &figures.engine.stuck {
        let labels = vec![("tenant", s.slug.clone()), ("status", s.status.clone())];
        out.set("opsdeck_diagnostics_orders_stuck", labels, s.orders as f64);
    }

    let outbox = &figures.outbox;
    for p in &outbox.pending {
        let labels = vec![("aggregate", p.aggregate_type.clone()), ("event_type", p.event_type.clone())];
        out.set("opsdeck_outbox_pending_events", labels.clone(), p.pending as f64);
        out.set("opsdeck_outbox_pending_oldest_age_seconds", labels.clone(), p.oldest_age_seconds);
        out.set("opsdeck_outbox_given_up_events", labels, p.given_up as f64);
    }
    // The relay's own totals, under the names it exports them (`platform::relay::export_backlog`).
    out.set("opsdeck_outbox_pending", vec![], outbox.total_pending() as f64);
    out.set("opsdeck_outbox_failed", vec![], outbox.pending.iter().map(|p| p.failed).sum::<i64>() as f64);
    out.set("opsdeck_outbox_processing", vec![], outbox.claimers.iter().map(|c| c.claims).sum::<i64>() as f64);
    out.set("opsdeck_outbox_oldest_pending_age_seconds", vec![], outbox.oldest_age_seconds().unwrap_or(0.0));
    out.set("opsdeck_outbox_dead_relay_claims", vec![], outbox.dead_claims() as f64);
    out.set("opsdeck_outbox_stale_claims", vec![], outbox.claimers.iter().map(|c| c.stale).sum::<i64>() as f64);
    out.set("opsdeck_outbox_relays_alive", vec![], outbox.relays.iter().filter(|r| r.alive).count() as f64);

    for d in &figures.detectors {
        let tenant = one("tenant", &d.slug);
        out.set("opsdeck_quotes_accepted_without_one_order", tenant.clone(), d.accepted_quotes_without_one_order as f64);
        out.set("opsdeck_approvals_unassigned", tenant.clone(), d.approvals_unassigned as f64);
        out.set("opsdeck_reconciliation_runs_failed_24h", tenant, d.reconciliation_runs_failed as f64);
    }

    let pg = &figures.postgres;
    out.set("opsdeck_pg_blocked_sessions", vec![], pg.blocked_sessions() as f64);
    out.set(
        "opsdeck_pg_lock_wait_seconds_max",
        vec![],
        pg.blocking.iter().filter_map(|b| b.blocked_seconds).fold(0.0, f64::max),
    );
    out.set("opsdeck_pg_long_transactions", vec![], pg.long_transactions.len() as f64);
    out.set(
        "opsdeck_pg_oldest_transaction_seconds",
        vec![],
        pg.long_transactions.first().map(|t| t.transaction_seconds).unwrap_or(0.0),
    );
    out.set("opsdeck_pg_pool_connections", one("state", "in_use"), f64::from(pg.pool.in_use()));
    out.set("opsdeck_pg_pool_connections", one("state", "idle"), f64::from(pg.pool.idle));
    out.set("opsdeck_pg_pool_max_connections", vec![], f64::from(pg.pool.max));
    out.set("opsdeck_pg_connections", vec![], pg.connections as f64);
    out.set("opsdeck_pg_max_connections", vec![], pg.max_connections as f64);
}

/// 0 OK, 1 WARN, 2 UNAVAILABLE, 3 ERR.
fn status_code(status: Status) -> f64 {
    match status {
        Status::Ok => 0.0,
        Status::Warn => 1.0,
        Status::Unavailable => 2.0,
        Status::Err => 3.0,
    }
}

/// Every diagnostics gauge with its HELP line: what `/metrics` may carry from here (alert rules and
/// dashboards are checked against it).
pub const GAUGES: &[(&str, &str)] = &[
    ("opsdeck_diagnostics_status", "Each diagnostics panel's status: 0 OK, 1 WARN, 2 UNAVAILABLE, 3 ERR"),
    ("opsdeck_diagnostics_last_round_timestamp_seconds", "When the diagnostics sampler last finished a round"),
    ("opsdeck_kafka_consumer_status", "Consumer group status by Burrow's rules: 0 OK, 1 WARN, 2 ERR (stopped, stalled or rewound)"),
    ("opsdeck_kafka_partition_status", "Partition status by Burrow's rules: 0 OK, 1 WARN, 2 STOP, 3 STALL, 4 REWIND"),
    ("opsdeck_kafka_consumer_lag", "Records between the group's committed offset and the log end offset"),
    ("opsdeck_kafka_consumer_lag_seconds", "Age of the oldest record the group has not consumed"),
    ("opsdeck_kafka_consumer_total_lag", "Records of lag over the group's partitions"),
    ("opsdeck_kafka_consumer_lag_seconds_max", "Age of the group's oldest unconsumed record, over its partitions"),
    ("opsdeck_orders_waiting_projection", "Orders whose latest event is published but not yet projected"),
    ("opsdeck_orders_waiting_projection_oldest_age_seconds", "Since the oldest unprojected order event was published"),
    ("opsdeck_diagnostics_orders_stuck", "Non-terminal orders not updated for the stuck-order threshold, by tenant and status"),
    ("opsdeck_engine_incidents_open", "Open engine incidents, by tenant of their business key"),
    ("opsdeck_engine_incidents_open_total", "Open incidents in the whole process engine"),
    ("opsdeck_engine_failed_jobs", "Engine jobs whose last execution failed, by tenant of their business key"),
    ("opsdeck_outbox_pending", "Unpublished outbox events (PENDING or FAILED)"),
    ("opsdeck_outbox_failed", "Outbox events that failed at least once and are not published"),
    ("opsdeck_outbox_processing", "Outbox events claimed by a relay (PROCESSING)"),
    ("opsdeck_outbox_pending_events", "Unpublished outbox events (PENDING or FAILED), by aggregate and event type"),
    ("opsdeck_outbox_pending_oldest_age_seconds", "Age of the oldest unpublished outbox event, by aggregate and event type"),
    ("opsdeck_outbox_given_up_events", "Outbox events out of attempts, by aggregate and event type"),
    ("opsdeck_outbox_oldest_pending_age_seconds", "Age of the oldest unpublished outbox event"),
    ("opsdeck_outbox_dead_relay_claims", "Outbox events claimed by a relay whose heartbeat is dead"),
    ("opsdeck_outbox_stale_claims", "Outbox claims older than the stale-claim age"),
    ("opsdeck_outbox_relays_alive", "Outbox relay instances heart-beating"),
    ("opsdeck_quotes_accepted_without_one_order", "Quotes accepted over 5 min ago with no order or more than one, by tenant"),
    ("opsdeck_approvals_unassigned", "Open approval requests without an assignee for over 5 min, by tenant"),
    ("opsdeck_reconciliation_runs_failed_24h", "Reconciliation runs of the tenant that ended FAILED in the last day"),
    ("opsdeck_pg_blocked_sessions", "Sessions of the console's database waiting for a lock"),
    ("opsdeck_pg_lock_wait_seconds_max", "The longest current lock wait"),
    ("opsdeck_pg_long_transactions", "Transactions open longer than the long-transaction threshold"),
    ("opsdeck_pg_oldest_transaction_seconds", "Age of the oldest long transaction"),
    ("opsdeck_pg_pool_connections", "The console's pool connections, by state (in_use, idle)"),
    ("opsdeck_pg_pool_max_connections", "The console's pool size limit"),
    ("opsdeck_pg_connections", "Sessions on the console's database"),
    ("opsdeck_pg_max_connections", "The server's max_connections"),
    ("opsdeck_redis_ping_seconds", "Redis PING round trip"),
    ("opsdeck_redis_keyspace_hits", "Redis keyspace hits since it started (INFO)"),
    ("opsdeck_redis_keyspace_misses", "Redis keyspace misses since it started (INFO)"),
    ("opsdeck_redis_evicted_keys", "Keys Redis evicted since it started (INFO)"),
    ("opsdeck_redis_evictions_last_interval", "Keys Redis evicted since the previous sample"),
    ("opsdeck_redis_hit_ratio", "Redis hit ratio since the previous sample"),
    ("opsdeck_redis_memory_used_bytes", "Redis used_memory"),
    ("opsdeck_redis_memory_max_bytes", "Redis maxmemory (0: no limit)"),
    ("opsdeck_redis_connected_clients", "Redis connected clients"),
];

/// HELP lines for every diagnostics gauge.
pub fn describe() {
    for (name, help) in GAUGES {
        metrics::describe_gauge!(*name, *help);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every name the exporter sets is described, and only once.
    #[test]
    fn every_exported_gauge_is_described_once() {
        let source = include_str!("metrics.rs");
        let set: std::collections::BTreeSet<&str> = source
            .split("out.set(\"")
            .skip(1)
            .filter_map(|rest| rest.split('"').next())
            .collect();
        let described: std::collections::BTreeSet<&str> = GAUGES.iter().map(|(n, _)| *n).collect();
        assert_eq!(described.len(), GAUGES.len(), "a gauge is described twice");
        let missing: Vec<&&str> = set.difference(&described).collect();
        assert!(missing.is_empty(), "exported but not described: {missing:?}");
    }

    /// The dashboards export `opsdeck_<figure>{tenant, facet}`: a diagnostics gauge of the same name would
    /// be one metric with two label sets.
    #[test]
    fn no_gauge_shares_a_name_with_a_dashboard_figure() {
        for figure in crate::dashboard::FIGURES {
            let name = format!("opsdeck_{}", figure.name);
            assert!(!GAUGES.iter().any(|(n, _)| *n == name), "{name} is a dashboard figure");
        }
    }
}
