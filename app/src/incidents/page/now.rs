//! The top of the incident: what is wrong, who owns it, what is due next, and what it touches.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use ops::incident::{EntityType, IncidentStatus};
use platform::machine::Named;

use super::Shown;
use crate::format::instant;

/// `in 12 min`, `overdue by 1 h 5 min`.
fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> (String, bool) {
    let minutes = (at - now).num_minutes();
    let span = |m: i64| match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    };
    if minutes >= 0 {
        (format!("in {}", span(minutes)), false)
    } else {
        (format!("overdue by {}", span(-minutes)), true)
    }
}

fn or_missing(value: &Option<String>, missing: &'static str) -> AnyView {
    match value {
        Some(v) => view! { <span>{v.clone()}</span> }.into_any(),
        None => view! { <span class="missing">{missing}</span> }.into_any(),
    }
}

#[component]
pub(super) fn Now(shown: Shown) -> impl IntoView {
    let d = &shown.d;
    let t = &d.triage.texts;
    let now = Utc::now();

    let next_update = d.next_update_due_at.filter(|_| d.status.is_active()).map(|due| {
        let (when, late) = relative(due, now);
        let class = if late { "due due-late" } else { "due" };
        view! { <li class=class>"Next status update " <strong>{when}</strong> " (" {instant(&due)} ")"</li> }
    });
    let next_step = match d.status {
        IncidentStatus::Open => "Mitigate: stop the damage (pause, disable, route around), then mark it mitigated.".to_string(),
        IncidentStatus::Mitigated => "Recover: repair what is broken and verify it, then mark it resolved.".to_string(),
        IncidentStatus::Resolved if d.close_blockers.is_empty() => "Close it: nothing stands in the way.".to_string(),
        IncidentStatus::Resolved => "Before it can close:".to_string(),
        IncidentStatus::Closed => {
            let open = d.action_items.iter().filter(|i| i.status == ops::incident::ActionItemStatus::Open).count();
            format!("Closed. {open} action item(s) still open.")
        }
    };
    let blockers = (!d.close_blockers.is_empty()).then(|| {
        let items = d.close_blockers.iter().map(|b| view! { <li>{b.clone()}</li> }).collect_view();
        view! { <ul class="blockers">{items}</ul> }
    });
    let overdue_items = d.action_items.iter().filter(|i| i.overdue).count();
    let overdue_items = (overdue_items > 0)
        .then(|| view! { <li class="due due-late">{format!("{overdue_items} action item(s) overdue")}</li> });

    let tenants = if d.tenants.is_empty() {
        "platform-wide".to_string()
    } else {
        d.tenants.iter().map(|t| format!("{} ({})", t.name, t.slug)).collect::<Vec<_>>().join(", ")
    };
    let entities = d
        .entities
        .iter()
        .map(|e| {
            let label = e.number.clone().unwrap_or_else(|| e.entity.entity_id.to_string());
            let link = if e.entity.entity_type == EntityType::Order {
                let href = format!("/orders/{}/{}", e.entity.tenant_id, e.entity.entity_id);
                view! { <a href=href>{label}</a> }.into_any()
            } else {
                view! { <span>{label}</span> }.into_any()
            };
            view! { <li>{e.entity.entity_type.name()} " " {link} " " <span class="muted">{e.status.clone().unwrap_or_default()}</span></li> }
        })
        .collect_view();

    view! {
        <section class="now" aria-label="Where the incident stands">
            <div class="now-part">
                <h2>"What is wrong"</h2>
                <dl class="facts">
                    <div><dt>"Customers see"</dt><dd>{or_missing(&t.customer_symptom, "not triaged yet")}</dd></div>
                    <div><dt>"Capability"</dt><dd>{or_missing(&t.business_capability, "not triaged yet")}</dd></div>
                    <div><dt>"Hypothesis"</dt><dd>{or_missing(&t.current_hypothesis, "none yet")}</dd></div>
                    <div><dt>"Data at risk"</dt><dd>{or_missing(&t.data_integrity_risk, "not assessed")}</dd></div>
                    <div><dt>"Mitigation"</dt><dd>{or_missing(&t.immediate_mitigation, "none yet")}</dd></div>
                </dl>
            </div>
            <div class="now-part">
                <h2>"Who owns it"</h2>
                <dl class="facts">
                    <div><dt>"Recovery"</dt><dd>{or_missing(&t.recovery_owner, "nobody yet — set it in triage")}</dd></div>
                    <div><dt>"Communication"</dt><dd>{or_missing(&t.communication_owner, "nobody yet — set it in triage")}</dd></div>
                    <div><dt>"Declared by"</dt><dd>{d.created_by.clone()} " · " {instant(&d.created_at)}</dd></div>
                </dl>
            </div>
            <div class="now-part">
                <h2>"What is due next"</h2>
                <ul class="next">
                    {next_update}
                    <li>{next_step}</li>
                    {overdue_items}
                </ul>
                {blockers}
            </div>
            <div class="now-part now-wide">
                <h2>"Affected"</h2>
                <p>{d.severity_info.label} " — " {d.severity_info.meaning} ". " <em>{d.severity_info.response}</em></p>
                <p>"Tenants: " {tenants}</p>
                <ul class="entities">{entities}</ul>
                <p class="muted">
                    "Detected " {instant(&d.detected_at)} " by " {d.detected_by.label()}
                    {d.mitigated_at.map(|t| format!(" · mitigated {}", instant(&t)))}
                    {d.resolved_at.map(|t| format!(" · resolved {}", instant(&t)))}
                    {d.closed_at.map(|t| format!(" · closed {}", instant(&t)))}
                </p>
            </div>
        </section>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_times_read_as_in_or_overdue_by() {
        let now: DateTime<Utc> = "2026-11-25T10:00:00Z".parse().unwrap();
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        assert_eq!(relative(at("2026-11-25T10:12:00Z"), now), ("in 12 min".to_string(), false));
        assert_eq!(relative(at("2026-11-25T08:55:00Z"), now), ("overdue by 1 h 5 min".to_string(), true));
        assert_eq!(relative(at("2026-11-25T12:00:00Z"), now), ("in 2 h".to_string(), false));
    }
}
