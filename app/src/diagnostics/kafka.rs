//! The Kafka panel: groups by status (Burrow's rules), their partitions, and orders waiting for the
//! projection per tenant.

use leptos::prelude::*;
use ops::diagnostics::kafka::{ConsumerLag, GroupLag};
use ops::diagnostics::Overview;

use super::{ready_or, seconds};
use crate::format::instant;

pub(super) fn body(overview: &Overview) -> AnyView {
    let lag = ready_or(&overview.kafka.lag, groups);
    let waiting = if overview.kafka.waiting.is_empty() {
        view! { <p>"No order waits for the projection."</p> }.into_any()
    } else {
        let rows = overview
            .kafka
            .waiting
            .iter()
            .map(|w| {
                view! {
                    <tr>
                        <td>{w.slug.clone()}</td>
                        <td>{w.orders}</td>
                        <td>{seconds(Some(w.oldest_age_seconds))}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid">
                <caption>"Orders waiting for the projection (latest event published, not yet projected)"</caption>
                <thead><tr><th>"Tenant"</th><th>"Orders"</th><th>"Oldest waiting"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! { {lag} {waiting} }.into_any()
}

fn groups(lag: &ConsumerLag) -> AnyView {
    let sampled = lag.sampled_at.map(|at| format!("Latest sample {}.", instant(&at)));
    let rows = lag.groups.iter().map(group).collect_view();
    view! {
        <p class="hint">{sampled} " Statuses by Burrow's rules over the latest samples: OK, WARN (falling behind), "
            "ERR (a partition STOPped committing, STALLed on one offset, or REWOUND)."</p>
        <table class="grid">
            <thead><tr><th>"Group"</th><th>"Status"</th><th>"Lag (records)"</th><th>"Oldest unconsumed"</th><th>"Partitions"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

fn group(g: &GroupLag) -> AnyView {
    let partitions = g
        .partitions
        .iter()
        .map(|p| {
            view! {
                <tr>
                    <td>{format!("{}/{}", p.topic, p.partition)}</td>
                    <td>{p.status.as_str()} " — " {p.status.meaning()}</td>
                    <td>{p.committed_offset}</td>
                    <td>{instant(&p.committed_at)}</td>
                    <td>{instant(&p.offset_since)}</td>
                    <td>{p.log_end_offset}</td>
                    <td>{p.lag}</td>
                    <td>{seconds(p.lag_seconds)}</td>
                    <td>{p.samples}</td>
                </tr>
            }
        })
        .collect_view();
    let tone = match g.status.as_str() {
        "ERR" => "badge tone-bad",
        "WARN" => "badge tone-active",
        _ => "badge tone-ok",
    };
    view! {
        <tr>
            <td>{g.group.clone()}</td>
            <td><span class=tone>{g.status.as_str()}</span></td>
            <td>{g.total_lag}</td>
            <td>{seconds(g.max_lag_seconds)}</td>
            <td>
                <details>
                    <summary>{format!("{} partition(s)", g.partitions.len())}</summary>
                    <table class="grid">
                        <thead><tr><th>"Partition"</th><th>"Status"</th><th>"Committed"</th><th>"Last commit"</th><th>"Offset unchanged since"</th>
                            <th>"Log end"</th><th>"Lag"</th><th>"Oldest unconsumed"</th><th>"Samples"</th></tr></thead>
                        <tbody>{partitions}</tbody>
                    </table>
                </details>
            </td>
        </tr>
    }
    .into_any()
}
