//! One order as the three kinds of system see it: the record (order, lines), the evidence (transitions,
//! outbox events, fulfillment requests) and the read model (projection), laid out so an operator can compare
//! them without running SQL.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use platform::query::{
    FulfillmentRequestRow, OrderDetail, OrderLineRow, OrderProjectionRow, OrderSummary, OrderTransitionRow,
    OutboxEventRow, ProjectionState,
};
use platform::tenants::Tenant;

use crate::format::{age, instant, instant_attr, money, status_tone};

#[component]
pub fn OrderDetailView(tenant: Tenant, detail: OrderDetail) -> impl IntoView {
    let now = Utc::now();
    let projection_state = detail.projection_state();
    let OrderDetail { order, lines, transitions, outbox_events, fulfillment_requests, projection, .. } = detail;
    let currency = order.currency.clone();
    let permalink = format!("/orders/{}/{}", order.tenant_id, order.order_id);
    view! {
        <article class="order" aria-labelledby="order-heading">
            <header class="order-header">
                <h2 id="order-heading">
                    "Order " <span class="mono">{order.order_number.clone()}</span>
                    " " <StatusBadge status=order.status.clone()/>
                </h2>
                <a class="permalink" href=permalink>"Permalink"</a>
            </header>
            <OrderFacts tenant=tenant order=order.clone() now=now/>
            <ProjectionPanel order=order.clone() projection=projection state=projection_state now=now/>
            <LinesTable lines=lines currency=currency/>
            <TransitionsTable transitions=transitions/>
            <OutboxTable events=outbox_events now=now/>
            <FulfillmentTable requests=fulfillment_requests/>
        </article>
    }
}

#[component]
pub fn StatusBadge(status: String) -> impl IntoView {
    let class = format!("badge {}", status_tone(&status));
    view! { <span class=class>{status}</span> }
}

/// An instant as `<time>`, with its age when `now` is given.
#[component]
fn When(at: DateTime<Utc>, #[prop(optional)] now: Option<DateTime<Utc>>) -> impl IntoView {
    let age = now.map(|now| view! { " " <span class="age">{format!("({})", age(&at, &now))}</span> });
    view! { <time datetime=instant_attr(&at)>{instant(&at)}</time> {age} }
}

#[component]
fn MaybeWhen(at: Option<DateTime<Utc>>) -> impl IntoView {
    match at {
        Some(at) => view! { <When at=at/> }.into_any(),
        None => view! { <span class="none">"—"</span> }.into_any(),
    }
}

fn or_dash(value: Option<String>) -> AnyView {
    match value {
        Some(value) if !value.is_empty() => view! { <span>{value}</span> }.into_any(),
        _ => view! { <span class="none">"—"</span> }.into_any(),
    }
}

#[component]
fn OrderFacts(tenant: Tenant, order: OrderSummary, now: DateTime<Utc>) -> impl IntoView {
    let source_quote = match (&order.source_quote_id, &order.source_quote_number) {
        (Some(id), number) => {
            let number = number.clone().unwrap_or_else(|| "(quote not found)".to_string());
            let status = order.source_quote_status.clone().map(|s| view! { " " <StatusBadge status=s/> });
            view! {
                <span class="mono">{number}</span> {status}
                <div class="sub mono">{id.to_string()}</div>
            }
            .into_any()
        }
        (None, _) => view! { <span class="none">"none"</span> }.into_any(),
    };
    let origin_note = (order.origin == "LEGACY_IMPORT").then(|| {
        view! { <div class="sub">"Loaded by a legacy import: outside the one-order-per-quote guard."</div> }
    });
    view! {
        <dl class="facts">
            <div><dt>"Order id"</dt><dd class="mono">{order.order_id.to_string()}</dd></div>
            <div>
                <dt>"Tenant"</dt>
                <dd>
                    {format!("{} ({})", tenant.name, tenant.slug)}
                    <div class="sub mono">{tenant.tenant_id.to_string()}</div>
                </dd>
            </div>
            <div><dt>"Status"</dt><dd><StatusBadge status=order.status.clone()/></dd></div>
            <div><dt>"Version"</dt><dd class="num">{order.version}</dd></div>
            <div><dt>"Customer"</dt><dd>{order.customer_name.clone()}</dd></div>
            <div><dt>"Total"</dt><dd class="num">{money(order.total_minor, &order.currency)}</dd></div>
            <div><dt>"Source quote"</dt><dd>{source_quote}</dd></div>
            <div><dt>"Origin"</dt><dd>{order.origin.clone()} {origin_note}</dd></div>
            <div><dt>"Acceptance key"</dt><dd class="mono">{or_dash(order.acceptance_key.clone())}</dd></div>
            <div><dt>"Created"</dt><dd><When at=order.created_at now=now/></dd></div>
            <div><dt>"Updated"</dt><dd><When at=order.updated_at now=now/></dd></div>
            <div><dt>"Engine business key"</dt><dd class="mono">{order.business_key()}</dd></div>
        </dl>
    }
}

#[component]
fn ProjectionPanel(
    order: OrderSummary,
    projection: Option<OrderProjectionRow>,
    state: ProjectionState,
    now: DateTime<Utc>,
) -> impl IntoView {
    let (class, verdict) = match state {
        ProjectionState::Current => {
            ("projection projection-ok", "Current: the read model matches the order.".to_string())
        }
        ProjectionState::Missing => (
            "projection projection-warn",
            "No projection row: the read model has not consumed this order's capture event.".to_string(),
        ),
        ProjectionState::Behind { versions } => (
            "projection projection-warn",
            format!(
                "Behind by {versions} version{}: the read model has not yet applied the order's latest changes.",
                if versions == 1 { "" } else { "s" }
            ),
        ),
        ProjectionState::Diverged => (
            "projection projection-bad",
            "Diverged: same version as the order but a different status or total.".to_string(),
        ),
        ProjectionState::Ahead { versions } => (
            "projection projection-bad",
            format!("Ahead by {versions}: the read model has a version the order never had."),
        ),
    };
    let rows = projection.map(|p| {
        view! {
            <table class="grid compact">
                <thead>
                    <tr><th></th><th>"Status"</th><th class="num">"Version"</th><th class="num">"Total"</th><th>"Updated"</th></tr>
                </thead>
                <tbody>
                    <tr>
                        <th scope="row">"Order (record)"</th>
                        <td><StatusBadge status=order.status.clone()/></td>
                        <td class="num">{order.version}</td>
                        <td class="num">{money(order.total_minor, &order.currency)}</td>
                        <td><When at=order.updated_at now=now/></td>
                    </tr>
                    <tr>
                        <th scope="row">"Projection (read model)"</th>
                        <td><StatusBadge status=p.status.clone()/></td>
                        <td class="num">{p.aggregate_version}</td>
                        <td class="num">{money(p.total_minor, &p.currency)}</td>
                        <td>
                            <When at=p.source_updated_at now=now/>
                            <div class="sub">"projected " <When at=p.projected_at/></div>
                        </td>
                    </tr>
                </tbody>
            </table>
        }
    });
    let flagged = !matches!(state, ProjectionState::Current);
    view! {
        <section class=class aria-labelledby="projection-heading">
            <h3 id="projection-heading">"Projection"</h3>
            <p class="verdict">
                {flagged.then(|| view! { <span class="flag" aria-hidden="true">"⚠ "</span> })}
                {verdict}
            </p>
            {rows}
        </section>
    }
}

/// A discount in basis points as a percentage: 1000 → "10.00 %".
fn discount(bp: i32) -> String {
    format!("{}.{:02} %", bp / 100, bp % 100)
}

#[component]
fn LinesTable(lines: Vec<OrderLineRow>, currency: String) -> impl IntoView {
    let count = lines.len();
    let body = if lines.is_empty() {
        view! { <p class="empty">"This order has no lines."</p> }.into_any()
    } else {
        let rows = lines
            .into_iter()
            .map(|line| {
                view! {
                    <tr>
                        <td class="num">{line.line_no}</td>
                        <td class="mono">{line.product_sku}</td>
                        <td class="num">{line.quantity}</td>
                        <td class="num">{money(line.unit_price_minor, &currency)}</td>
                        <td class="num">{line.discount_bp.map_or_else(|| "—".to_string(), discount)}</td>
                        <td class="num">{money(line.net_minor, &currency)}</td>
                        <td><StatusBadge status=line.status/></td>
                        <td class="num">{line.version}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid">
                <thead>
                    <tr>
                        <th class="num">"#"</th><th>"SKU"</th><th class="num">"Qty"</th>
                        <th class="num">"Unit price"</th><th class="num">"Discount"</th>
                        <th class="num">"Net"</th><th>"Status"</th>
                        <th class="num">"Version"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="part" aria-labelledby="lines-heading">
            <h3 id="lines-heading">"Lines " <span class="count">{count}</span></h3>
            {body}
        </section>
    }
}

#[component]
fn TransitionsTable(transitions: Vec<OrderTransitionRow>) -> impl IntoView {
    let count = transitions.len();
    let body = if transitions.is_empty() {
        view! { <p class="empty">"No transitions recorded."</p> }.into_any()
    } else {
        let rows = transitions
            .into_iter()
            .map(|t| {
                let subject = match t.line_no {
                    Some(line_no) => format!("line {line_no}"),
                    None => "order".to_string(),
                };
                let from = match t.from_status {
                    Some(from) => view! { <StatusBadge status=from/> }.into_any(),
                    None => view! { <span class="none">"(new)"</span> }.into_any(),
                };
                let repair = t.repair_id.map(|id| view! { <div class="sub mono">"repair " {id.to_string()}</div> });
                view! {
                    <tr>
                        <td class="nowrap"><When at=t.occurred_at/></td>
                        <td>{subject}</td>
                        <td class="nowrap">{from} <span class="arrow" aria-label="to">" → "</span> <StatusBadge status=t.to_status/></td>
                        <td class="mono">{t.command}</td>
                        <td>{t.actor}</td>
                        <td>{or_dash(t.reason)} {repair}</td>
                        <td class="num">{t.order_version}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid">
                <thead>
                    <tr>
                        <th>"Time"</th><th>"Of"</th><th>"From → to"</th><th>"Command"</th><th>"Actor"</th>
                        <th>"Reason"</th><th class="num">"Version"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="part" aria-labelledby="transitions-heading">
            <h3 id="transitions-heading">"Transition history " <span class="count">{count}</span></h3>
            {body}
        </section>
    }
}

#[component]
fn OutboxTable(events: Vec<OutboxEventRow>, now: DateTime<Utc>) -> impl IntoView {
    let count = events.len();
    let body = if events.is_empty() {
        view! { <p class="empty">"No outbox events for this order."</p> }.into_any()
    } else {
        let rows = events
            .into_iter()
            .map(|e| {
                let claim = match (e.claimed_by, e.claimed_at) {
                    (Some(by), Some(at)) => {
                        view! { <span>{by}</span> <div class="sub"><When at=at now=now/></div> }.into_any()
                    }
                    _ => view! { <span class="none">"—"</span> }.into_any(),
                };
                let kafka = match (e.kafka_topic, e.kafka_partition, e.kafka_offset) {
                    (Some(topic), Some(partition), Some(offset)) => {
                        view! { <div class="sub mono">{format!("{topic}[{partition}]@{offset}")}</div> }.into_any()
                    }
                    _ => ().into_any(),
                };
                let error = match e.last_error {
                    Some(error) => view! { <span class="error-text">{error}</span> }.into_any(),
                    None => view! { <span class="none">"—"</span> }.into_any(),
                };
                view! {
                    <tr>
                        <td class="mono">{e.event_type}</td>
                        <td><StatusBadge status=e.status/></td>
                        <td class="num">{e.aggregate_version}</td>
                        <td class="num">{e.attempts}</td>
                        <td>{claim}</td>
                        <td class="nowrap"><When at=e.created_at/></td>
                        <td class="nowrap"><MaybeWhen at=e.published_at/> {kafka}</td>
                        <td>{error}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid">
                <thead>
                    <tr>
                        <th>"Type"</th><th>"Status"</th><th class="num">"Version"</th><th class="num">"Attempts"</th>
                        <th>"Claimed by / at"</th><th>"Created"</th><th>"Published"</th><th>"Last error"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="part" aria-labelledby="outbox-heading">
            <h3 id="outbox-heading">"Outbox events " <span class="count">{count}</span></h3>
            {body}
        </section>
    }
}

#[component]
fn FulfillmentTable(requests: Vec<FulfillmentRequestRow>) -> impl IntoView {
    let count = requests.len();
    let body = if requests.is_empty() {
        view! { <p class="empty">"No fulfillment requests recorded: no vendor has been called for this order."</p> }
            .into_any()
    } else {
        let rows = requests
            .into_iter()
            .map(|r| {
                let line = r.line_no.map(|n| format!("line {n}"));
                view! {
                    <tr>
                        <td class="mono">{r.idempotency_key}</td>
                        <td>{or_dash(line)}</td>
                        <td>{r.vendor}</td>
                        <td><StatusBadge status=r.status/></td>
                        <td class="num">{r.attempts}</td>
                        <td class="num">{or_dash(r.response_code.map(|c| c.to_string()))}</td>
                        <td class="nowrap"><When at=r.created_at/></td>
                        <td class="nowrap"><MaybeWhen at=r.sent_at/></td>
                        <td class="nowrap"><MaybeWhen at=r.completed_at/></td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid">
                <thead>
                    <tr>
                        <th>"Idempotency key"</th><th>"For"</th><th>"Vendor"</th><th>"Status"</th>
                        <th class="num">"Attempts"</th><th class="num">"Response"</th><th>"Recorded"</th>
                        <th>"Sent"</th><th>"Completed"</th>
                    </tr>
                </thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <section class="part" aria-labelledby="fulfillment-heading">
            <h3 id="fulfillment-heading">"Fulfillment requests " <span class="count">{count}</span></h3>
            {body}
        </section>
    }
}
