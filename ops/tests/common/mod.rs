//! Test support shared by the incident tests: actors, a quote and an order to name on incidents, a SEV2
//! declared the way a person would, and counting rows.
#![allow(dead_code)]

pub mod repairs;

use ops::identity::{Actor, Role, TenantScope};
use ops::incident::*;
use platform::command::{
    accept_quote, apply_quote_command, create_quote, CommandContext, QuoteForCreate, QuoteLineInput,
};
use platform::ids::{OrderId, QuoteId, TenantId};
use platform::quote::QuoteCommand;
use platform::tenants;
use sqlx::PgPool;

#[allow(unused_imports)]
pub use ops::testing::only;

pub fn actor(name: &str, roles: &[Role], tenants: TenantScope) -> Actor {
    ops::testing::person(name, roles, tenants)
}

pub fn operator() -> Actor {
    actor("oscar.operator", &[Role::Operator], TenantScope::All)
}

pub fn comms() -> Actor {
    actor("cora.comms", &[Role::Comms], TenantScope::All)
}

pub fn viewer() -> Actor {
    actor("vera.viewer", &[Role::Viewer], TenantScope::All)
}

/// The well-known tenants, and in `tenant` a priced quote and an accepted one with its order.
pub struct World {
    pub order: OrderId,
    pub order_total: i64,
    pub quote: QuoteId,
}

pub async fn world(pool: &PgPool, tenant: TenantId, number: &str) -> World {
    tenants::ensure_well_known(pool).await.unwrap();
    let ctx = CommandContext::new("test:seed");
    let mut tx = pool.begin().await.unwrap();
    let quote = |n: &str| QuoteForCreate {
        tenant_id: tenant,
        quote_number: n.to_string(),
        customer_name: "Wile E. Coyote".into(),
        currency: "EUR".into(),
        lines: vec![QuoteLineInput {
            product_sku: "ROCKET-1".into(),
            description: "Rocket skates".into(),
            quantity: 2,
            unit_list_minor: 12_500,
            discount_bp: 0,
        }],
    };
    let accepted = create_quote(&mut tx, &quote(&format!("Q-{number}-A")), &ctx).await.unwrap();
    apply_quote_command(&mut tx, tenant, accepted.quote_id, Some(1), QuoteCommand::ApproveWithoutReview, &ctx)
        .await
        .unwrap();
    let order = accept_quote(&mut tx, tenant, accepted.quote_id, &format!("accept-{number}"), &ctx).await.unwrap();
    let open = create_quote(&mut tx, &quote(&format!("Q-{number}-B")), &ctx).await.unwrap();
    tx.commit().await.unwrap();
    World { order: order.order_id, order_total: 25_000, quote: open.quote_id }
}

pub fn declare_form(severity: &str, tenants: &[TenantId], orders: &[OrderId]) -> DeclareForm {
    DeclareForm {
        severity: severity.into(),
        detected_by: "ALERT".into(),
        detected_at: String::new(),
        summary: "Orders for acme stuck in orchestration".into(),
        tenants: tenants.iter().map(|t| t.to_string()).collect(),
        order_ids: orders.iter().map(|o| o.to_string()).collect::<Vec<_>>().join("\n"),
        quote_ids: String::new(),
    }
}

pub async fn declare(pool: &PgPool, by: &Actor, severity: &str, tenants: &[TenantId], orders: &[OrderId]) -> Declared {
    let input = IncidentForDeclare::parse(&declare_form(severity, tenants, orders)).unwrap();
    declare_incident(pool, by, &input).await.unwrap()
}

pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

pub async fn version(pool: &PgPool, incident: IncidentId) -> i64 {
    sqlx::query_scalar("select version from ops.operational_incident where incident_id = $1")
        .bind(incident)
        .fetch_one(pool)
        .await
        .unwrap()
}

/// Every row written anywhere an incident command writes, to show a refused command wrote nothing.
pub async fn footprint(pool: &PgPool) -> Vec<i64> {
    let mut counts = Vec::new();
    for table in [
        "ops.operational_incident",
        "ops.incident_tenant",
        "ops.incident_entity",
        "ops.incident_event",
        "ops.status_update",
        "ops.notification_delivery",
        "ops.post_incident_review",
        "ops.action_item",
        "messaging.outbox_event where aggregate_type = 'incident'",
    ] {
        counts.push(count(pool, &format!("select count(*) from {table}")).await);
    }
    counts.push(count(pool, "select coalesce(sum(version), 0)::bigint from ops.operational_incident").await);
    counts
}

pub async fn audit_lines(pool: &PgPool, outcome: &str) -> i64 {
    ops::testing::audit_count(pool, outcome).await
}

pub fn triage_form(detail: &IncidentDetail) -> TriageForm {
    detail.triage.to_form()
}

pub async fn detail(pool: &PgPool, id: IncidentId) -> IncidentDetail {
    incident_detail(pool, &viewer(), id, TimelineFilter::ALL).await.unwrap()
}

pub fn internal_update() -> StatusUpdateForm {
    StatusUpdateForm {
        audience: "INTERNAL".into(),
        status: "INVESTIGATING".into(),
        started_at: "2026-11-25T09:40".into(),
        affected_capability: "Order capture".into(),
        affected_tenants: "Acme Corporation".into(),
        customer_impact: "Submitted orders stay pending".into(),
        current_hypothesis: "The orchestration engine stopped taking work".into(),
        mitigation_applied: "None yet".into(),
        owner: "Cora Comms".into(),
        ..Default::default()
    }
}

pub fn customer_update(message: &str) -> StatusUpdateForm {
    StatusUpdateForm {
        audience: "CUSTOMER".into(),
        status: "INVESTIGATING".into(),
        affected_capability: "Order processing".into(),
        customer_action: "Nothing".into(),
        message: message.into(),
        ..Default::default()
    }
}

pub fn reason(text: &str) -> ops::form::Reason {
    let mut errors = FieldErrors::new();
    ops::form::Reason::parse(&mut errors, "reason", text).unwrap()
}

pub fn step(command: IncidentCommand, why: &str) -> LifecycleChange {
    LifecycleChange { command, reason: reason(why) }
}
