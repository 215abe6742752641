//! The outbox panel: pending events by aggregate and type with their oldest age (§12.1), claims by relay
//! with dead owners first, and the relays' heartbeats.

use leptos::prelude::*;
use ops::diagnostics::Overview;

use super::seconds;
use crate::format::instant;

pub(super) fn body(overview: &Overview) -> AnyView {
    let outbox = &overview.outbox;
    let pending = if outbox.pending.is_empty() {
        view! { <p>"Nothing waits to be published."</p> }.into_any()
    } else {
        let rows = outbox
            .pending
            .iter()
            .map(|p| {
                view! {
                    <tr><td>{p.aggregate_type.clone()}</td><td>{p.event_type.clone()}</td><td>{p.pending}</td>
                        <td>{p.failed}</td><td>{p.given_up}</td><td>{seconds(Some(p.oldest_age_seconds))}</td>
                        <td>{instant(&p.newest_pending)}</td></tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid">
                <caption>"Unpublished events (PENDING or FAILED), oldest first"</caption>
                <thead><tr><th>"Aggregate"</th><th>"Event type"</th><th>"Pending"</th><th>"Failed"</th>
                    <th>"Out of attempts"</th><th>"Oldest"</th><th>"Newest"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    let claims = (!outbox.claimers.is_empty()).then(|| {
        let rows = outbox
            .claimers
            .iter()
            .map(|c| {
                let owner = if c.dead { "dead" } else { "alive" };
                view! {
                    <tr><td>{c.claimed_by.clone()}</td><td>{owner}</td><td>{c.claims}</td><td>{c.stale}</td>
                        <td>{instant(&c.oldest_claim)}</td>
                        <td>{c.last_beat_at.map(|t| instant(&t)).unwrap_or_else(|| "never".into())}</td></tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid">
                <caption>"Claims (PROCESSING) by relay instance"</caption>
                <thead><tr><th>"Claimed by"</th><th>"Owner"</th><th>"Claims"</th><th>"Stale (> 10 min)"</th>
                    <th>"Oldest claim"</th><th>"Last heartbeat"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
    });
    let relays = outbox
        .relays
        .iter()
        .map(|r| {
            let state = r.state.clone().unwrap_or_default();
            let alive = if r.alive { "alive" } else { "dead" };
            view! { <li>{r.instance_id.clone()} ": " {alive} ", " {state} ", last beat " {instant(&r.last_beat_at)}</li> }
        })
        .collect_view();
    view! {
        {pending}
        {claims}
        <details>
            <summary>{format!("Relay heartbeats ({})", outbox.relays.len())}</summary>
            <ul>{relays}</ul>
        </details>
    }
    .into_any()
}
