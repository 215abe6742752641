//! The figures of the three dashboards (lesson §19.1–19.3), each a question with its answer's SQL. A
//! figure's query returns `(tenant_id, facet, value)` rows — per tenant where the figure is about tenants —
//! and the sampler adds the platform total. Queries are set-based over the indexes named beside them.

use platform::named_enum;

named_enum!(/// The three dashboards.
Board {
    /// Business health (§19.1).
    Executive => "executive",
    /// Technical health (§19.2).
    ServiceOwner => "service-owner",
    /// Recovery status (§19.3).
    Incident => "incident",
});

impl Board {
    pub fn title(self) -> &'static str {
        match self {
            Board::Executive => "Executive",
            Board::ServiceOwner => "Service owner",
            Board::Incident => "Incident",
        }
    }

    pub fn question(self) -> &'static str {
        match self {
            Board::Executive => "Is the business flowing — quotes to orders, for every tenant?",
            Board::ServiceOwner => "Are the systems underneath healthy?",
            Board::Incident => "Where are we in recovering, and what is switched off?",
        }
    }
}

/// How per-tenant values add up to the platform's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Total {
    Sum,
    Max,
    /// The query returns the platform's value itself (tenant null).
    Own,
}

/// When a value is bad news.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub enum Alarm {
    /// Never by itself (a rate).
    None,
    /// At or above this.
    Above(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Figure {
    /// Stable name: the metric is `opsdeck_<name>`.
    pub name: &'static str,
    pub board: Board,
    pub title: &'static str,
    pub unit: &'static str,
    pub total: Total,
    pub alarm: Alarm,
    /// The list behind the figure.
    pub link: Option<&'static str>,
    pub runbook: Option<&'static str>,
    /// `select tenant_id, facet, value` (value as float8).
    pub sql: &'static str,
}

macro_rules! per_minute {
    ($table:literal, $filter:literal) => {
        concat!(
            "select tenant_id, '' as facet, count(*)::float8 / 5 as value from ", $table,
            " where occurred_at > now() - interval '5 minutes' and ", $filter, " group by tenant_id"
        )
    };
}

pub const FIGURES: &[Figure] = &[
    // §19.1 Executive.
    Figure { name: "quotes_created_per_minute", board: Board::Executive, title: "Quotes created per minute", unit: "/min",
        total: Total::Sum, alarm: Alarm::None, link: None, runbook: None,
        sql: per_minute!("cpq.quote_transition", "command = 'PRICE'") },
    Figure { name: "quotes_submitted_per_minute", board: Board::Executive, title: "Quotes submitted per minute", unit: "/min",
        total: Total::Sum, alarm: Alarm::None, link: None, runbook: None,
        sql: per_minute!("cpq.quote_transition", "command in ('SUBMIT_FOR_APPROVAL', 'APPROVE_WITHOUT_REVIEW')") },
    Figure { name: "quotes_accepted_per_minute", board: Board::Executive, title: "Quotes accepted per minute", unit: "/min",
        total: Total::Sum, alarm: Alarm::None, link: None, runbook: None,
        sql: per_minute!("cpq.quote_transition", "command = 'ACCEPT'") },
    Figure { name: "orders_captured_per_minute", board: Board::Executive, title: "Orders captured per minute", unit: "/min",
        total: Total::Sum, alarm: Alarm::None, link: None, runbook: None,
        sql: per_minute!("oms.order_transition", "command = 'CAPTURE' and order_line_id is null") },
    Figure { name: "orders_activated_per_minute", board: Board::Executive, title: "Orders activated (fulfilment begun) per minute", unit: "/min",
        total: Total::Sum, alarm: Alarm::None, link: None, runbook: None,
        sql: per_minute!("oms.order_transition", "command = 'BEGIN_FULFILLMENT' and order_line_id is null") },
    Figure { name: "orders_failed_per_minute", board: Board::Executive, title: "Orders failed per minute", unit: "/min",
        total: Total::Sum, alarm: Alarm::Above(0.2), link: None, runbook: Some("stuck-order"),
        sql: per_minute!("oms.order_transition", "to_status = 'FAILED' and order_line_id is null") },
    // From the customer's acceptance to the order's capture: the platform's own latency, not how long the
    // customer took to decide.
    Figure { name: "quote_to_order_seconds", board: Board::Executive, title: "Acceptance-to-order latency (median, last hour)", unit: "s",
        total: Total::Max, alarm: Alarm::Above(300.0), link: None, runbook: Some("stuck-order"),
        // ix_sales_order_updated: an order made in the last hour was also updated in it.
        sql: "select o.tenant_id, '' as facet,
                     percentile_cont(0.5) within group (order by greatest(0, extract(epoch from o.created_at - q.accepted_at)))::float8 as value
              from oms.sales_order o join cpq.quote q on q.quote_id = o.source_quote_id
              where o.updated_at > now() - interval '1 hour' and o.created_at > now() - interval '1 hour'
                and q.accepted_at is not null group by o.tenant_id" },
    Figure { name: "orders_stuck", board: Board::Executive, title: "Stuck orders (active, untouched 30 min)", unit: "",
        total: Total::Sum, alarm: Alarm::Above(1.0), link: Some("/reconciliation?check=stuck-order"), runbook: Some("stuck-order"),
        // ix_sales_order_active_updated
        sql: "select tenant_id, '' as facet, count(*)::float8 as value from oms.sales_order
              where status in ('CAPTURED', 'ORCHESTRATING', 'IN_PROGRESS', 'PARTIALLY_FULFILLED')
                and updated_at < now() - interval '30 minutes' group by tenant_id" },
    Figure { name: "orders_start_given_up", board: Board::Executive, title: "Orders whose orchestration start was given up", unit: "",
        total: Total::Sum, alarm: Alarm::Above(1.0), link: Some("/reconciliation?check=order-engine"), runbook: Some("stuck-order"),
        // ix_orchestration_start_gave_up
        sql: "select s.tenant_id, '' as facet, count(*)::float8 as value from oms.orchestration_start s
              join oms.sales_order o on o.order_id = s.order_id
              where s.status = 'GAVE_UP' and o.status = 'CAPTURED' group by s.tenant_id" },
    Figure { name: "approvals_overdue", board: Board::Executive, title: "Approvals past their SLA", unit: "",
        total: Total::Sum, alarm: Alarm::Above(1.0), link: Some("/reconciliation?check=stuck-approval"), runbook: Some("stuck-approval"),
        // ix_approval_request_open_due
        sql: "select tenant_id, '' as facet, count(*)::float8 as value from cpq.approval_request
              where status in ('PENDING', 'ESCALATED') and due_at < now() group by tenant_id" },
    // The quotes priced in the last hour, each against its lines: a live signal. Older ones are the
    // price-snapshot check's mismatches (reconciliation_mismatches_open).
    Figure { name: "pricing_errors", board: Board::Executive, title: "Quotes whose total disagrees with their lines (last hour)", unit: "",
        total: Total::Sum, alarm: Alarm::Above(1.0), link: Some("/reconciliation?check=price-snapshot"), runbook: Some("reconciliation-mismatch"),
        // ix_quote_updated
        sql: "select q.tenant_id, '' as facet, count(*)::float8 as value from cpq.quote q
              where q.updated_at > now() - interval '1 hour'
                and q.total_minor <> (select coalesce(sum(l.net_minor), 0) from cpq.quote_line l
                                      where l.quote_id = q.quote_id)
              group by q.tenant_id" },
    Figure { name: "duplicate_orders", board: Board::Executive, title: "Quotes with more than one order", unit: "",
        total: Total::Sum, alarm: Alarm::Above(1.0), link: Some("/reconciliation?check=duplicate-order"), runbook: Some("duplicate-order"),
        // Every such quote has an imported order (two PLATFORM orders of a quote are refused by
        // uq_order_source_quote): the imported orders (ix_sales_order_imported), each probing its quote's
        // orders (ix_sales_order_source_quote).
        sql: "select d.tenant_id, '' as facet, count(*)::float8 as value from (
                select distinct i.tenant_id, i.source_quote_id from oms.sales_order i
                where i.origin <> 'PLATFORM' and i.source_quote_id is not null) d
              where (select count(*) from oms.sales_order o
                     where o.tenant_id = d.tenant_id and o.source_quote_id = d.source_quote_id) > 1
              group by d.tenant_id" },
    Figure { name: "reconciliation_mismatches_open", board: Board::Executive, title: "Reconciliation mismatches unresolved", unit: "",
        total: Total::Sum, alarm: Alarm::Above(1.0), link: Some("/reconciliation"), runbook: Some("reconciliation-mismatch"),
        // ix_mismatch_open
        sql: "select tenant_id, '' as facet, count(*)::float8 as value from ops.reconciliation_mismatch
              where status in ('OPEN', 'ACKNOWLEDGED', 'REPAIRING') group by tenant_id" },
    // §19.2 Service owner: what the database can tell; the live systems come from the diagnostics.
    Figure { name: "postgres_query_mean_ms", board: Board::ServiceOwner, title: "PostgreSQL mean statement time", unit: "ms",
        total: Total::Own, alarm: Alarm::Above(100.0), link: Some("/diagnostics#postgres"), runbook: Some("postgres-locks"),
        sql: "select null::uuid as tenant_id, '' as facet,
                     coalesce(sum(total_exec_time) / nullif(sum(calls), 0), 0)::float8 as value
              from pg_stat_statements where dbid = (select oid from pg_database where datname = current_database())" },
    Figure { name: "postgres_connections", board: Board::ServiceOwner, title: "PostgreSQL connections in use", unit: "",
        total: Total::Own, alarm: Alarm::Above(150.0), link: Some("/diagnostics#postgres"), runbook: Some("postgres-locks"),
        sql: "select null::uuid as tenant_id, state as facet, count(*)::float8 as value from pg_stat_activity
              where datname = current_database() and state is not null group by state" },
    Figure { name: "postgres_lock_waits", board: Board::ServiceOwner, title: "Sessions waiting on a lock", unit: "",
        total: Total::Own, alarm: Alarm::Above(1.0), link: Some("/diagnostics#postgres"), runbook: Some("postgres-locks"),
        sql: "select null::uuid as tenant_id, '' as facet, count(*)::float8 as value from pg_stat_activity
              where datname = current_database() and wait_event_type = 'Lock'" },
    Figure { name: "outbox_pending_age_seconds", board: Board::ServiceOwner, title: "Oldest unpublished outbox event", unit: "s",
        total: Total::Max, alarm: Alarm::Above(300.0), link: Some("/diagnostics#outbox"), runbook: Some("outbox-stuck"),
        // In two parts, one per partial index (ix_outbox_pending, ix_outbox_processing_claimed): one
        // `status in` of all three matches neither and reads the whole outbox.
        sql: "select tenant_id, '' as facet, extract(epoch from now() - min(created_at))::float8 as value from (
                select tenant_id, created_at from messaging.outbox_event where status in ('PENDING', 'FAILED')
                union all
                select tenant_id, created_at from messaging.outbox_event where status = 'PROCESSING') e
              group by tenant_id" },
    // The orders changed in the last day (a minute's grace), each against its projection row: what the
    // consumer is behind on now. An order left behind for longer is the kafka-projection check's mismatch.
    Figure { name: "projection_orders_behind", board: Board::ServiceOwner, title: "Orders the read model has not caught up with (changed in the last day)", unit: "",
        total: Total::Sum, alarm: Alarm::Above(1.0), link: Some("/diagnostics#kafka"), runbook: Some("kafka-consumer-lag"),
        // ix_sales_order_updated, then order_projection_pkey per order
        sql: "select o.tenant_id, '' as facet, count(*)::float8 as value from oms.sales_order o
              where o.updated_at > now() - interval '1 day' and o.updated_at < now() - interval '1 minute'
                and coalesce((select p.aggregate_version from oms.order_projection p where p.order_id = o.order_id), 0) < o.version
              group by o.tenant_id" },
    Figure { name: "worker_failures_per_minute", board: Board::ServiceOwner, title: "Vendor calls failed per minute", unit: "/min",
        total: Total::Sum, alarm: Alarm::Above(1.0), link: Some("/diagnostics#engine"), runbook: Some("engine-incident"),
        // ix_fulfillment_request_failed
        sql: "select o.tenant_id, '' as facet, count(*)::float8 / 5 as value from oms.fulfillment_request f
              join oms.sales_order o on o.order_id = f.order_id
              where f.status = 'FAILED' and f.updated_at > now() - interval '5 minutes' group by o.tenant_id" },
    // §19.3 Incident.
    Figure { name: "incidents_open", board: Board::Incident, title: "Open incidents by severity", unit: "",
        total: Total::Own, alarm: Alarm::Above(1.0), link: Some("/incidents"), runbook: None,
        // ix_incident_status_list
        sql: "select null::uuid as tenant_id, severity as facet, count(*)::float8 as value from ops.operational_incident
              where status in ('OPEN', 'MITIGATED') group by severity" },
    Figure { name: "tenants_affected", board: Board::Incident, title: "Tenants affected by open incidents", unit: "",
        total: Total::Own, alarm: Alarm::Above(1.0), link: Some("/incidents"), runbook: None,
        sql: "select null::uuid as tenant_id, '' as facet, count(distinct t.tenant_id)::float8 as value
              from ops.incident_tenant t join ops.operational_incident i on i.incident_id = t.incident_id
              where i.status in ('OPEN', 'MITIGATED')" },
    Figure { name: "repairs_active", board: Board::Incident, title: "Repairs requested or approved, not executed", unit: "",
        total: Total::Sum, alarm: Alarm::None, link: Some("/repairs"), runbook: None,
        // ix_repair_status
        sql: "select tenant_id, '' as facet, count(*)::float8 as value from ops.repair_command_log
              where status in ('REQUESTED', 'APPROVED') group by tenant_id" },
    Figure { name: "repairs_failed_24h", board: Board::Incident, title: "Repairs that failed (last day)", unit: "",
        total: Total::Sum, alarm: Alarm::Above(1.0), link: Some("/repairs"), runbook: None,
        sql: "select tenant_id, '' as facet, count(*)::float8 as value from ops.repair_command_log
              where status = 'FAILED' and updated_at > now() - interval '1 day' group by tenant_id" },
    Figure { name: "flows_disabled", board: Board::Incident, title: "Customer-impacting flows disabled", unit: "",
        total: Total::Sum, alarm: Alarm::Above(1.0), link: Some("/controls"), runbook: None,
        sql: "select tenant_id, '' as facet, count(*)::float8 as value from ops.platform_control
              where enabled and control_type in ('DISABLE_QUOTE_ACCEPTANCE', 'PAUSE_ORCHESTRATION_STARTS') group by tenant_id" },
];

/// The figure named `name`.
pub fn figure(name: &str) -> Option<&'static Figure> {
    FIGURES.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_figure_has_a_distinct_metric_safe_name_and_every_board_has_figures() {
        let mut names: Vec<&str> = FIGURES.iter().map(|f| f.name).collect();
        assert!(names.iter().all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FIGURES.len());
        for board in [Board::Executive, Board::ServiceOwner, Board::Incident] {
            assert!(FIGURES.iter().filter(|f| f.board == board).count() >= 5, "{board:?}");
        }
    }

    #[test]
    fn every_runbook_a_figure_names_exists() {
        for f in FIGURES {
            if let Some(r) = f.runbook {
                assert!(crate::runbook::get(r).is_some(), "{}: {r}", f.name);
            }
        }
    }
}
