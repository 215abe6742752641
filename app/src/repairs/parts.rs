//! Pieces every repair page shows: a JSON state as a readable tree, the safety checklist, the risk.

use leptos::prelude::*;
use ops::repair::{Risk, SafetyCheck, Verdict};
use platform::machine::Named;
use serde_json::Value;

/// A JSON value as nested definition lists: what a dry-run's before and after read like without JSON.
/// A timestamp also says how long ago it was (a stuck order's `updated_at`: "3 h 12 min ago"), so the
/// stored state needs no age that would go stale.
pub fn json_view(value: &Value) -> AnyView {
    match value {
        Value::Object(map) if map.is_empty() => view! { <span class="muted">"—"</span> }.into_any(),
        Value::Object(map) => {
            let rows = map
                .iter()
                .map(|(k, v)| view! { <div><dt>{k.replace('_', " ")}</dt><dd>{json_view(v)}</dd></div> })
                .collect_view();
            view! { <dl class="facts json">{rows}</dl> }.into_any()
        }
        Value::Array(items) if items.is_empty() => view! { <span class="muted">"none"</span> }.into_any(),
        Value::Array(items) => {
            let rows = items.iter().map(|v| view! { <li>{json_view(v)}</li> }).collect_view();
            view! { <ul class="plain json">{rows}</ul> }.into_any()
        }
        Value::Null => view! { <span class="muted">"—"</span> }.into_any(),
        Value::String(s) => match chrono::DateTime::parse_from_rfc3339(s) {
            Ok(at) => {
                let ago = crate::format::age(&at.to_utc(), &chrono::Utc::now());
                view! { <span class="mono">{s.clone()}</span>" "<span class="muted">"(" {ago} ")"</span> }.into_any()
            }
            Err(_) => view! { <span class="mono">{s.clone()}</span> }.into_any(),
        },
        other => view! { <span class="mono">{other.to_string()}</span> }.into_any(),
    }
}

fn verdict_class(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "badge tone-good",
        Verdict::Warn => "badge tone-active",
        Verdict::Fail => "badge tone-bad",
    }
}

/// The safety checklist: each question, its verdict and what was found.
pub fn checklist(checks: &[SafetyCheck]) -> AnyView {
    let rows = checks
        .iter()
        .map(|c| {
            view! {
                <tr>
                    <td>{c.question.clone()}</td>
                    <td><span class=verdict_class(c.verdict)>{c.verdict.name()}</span></td>
                    <td>{c.detail.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid checklist">
            <thead><tr><th>"Safety check"</th><th>"Verdict"</th><th>"Found"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}

/// The risk, and why it is what it is.
pub fn risk_badge(risk: Risk, reasons: &[String]) -> AnyView {
    let class = if risk == Risk::High { "badge tone-bad" } else { "badge tone-muted" };
    let why = (!reasons.is_empty()).then(|| {
        let items = reasons.iter().map(|r| view! { <li>{r.clone()}</li> }).collect_view();
        view! { <ul class="plain risk-reasons">{items}</ul> }
    });
    let meaning = match risk {
        Risk::High => " — a second person with the approver role must approve it",
        Risk::Low => " — its requester executes it after confirming the dry-run",
    };
    view! { <span class=class>{risk.name()}</span> {meaning} {why} }.into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_renders_as_definition_lists_without_braces() {
        let html = json_view(&serde_json::json!({ "order_status": "CAPTURED", "lines": [1, 2] })).to_html();
        assert!(html.contains("<dt>order status</dt>"), "{html}");
        assert!(!html.contains('{'), "{html}");
    }
}

/// The repairs of the catalogue as `(value, label)` choices, with an empty first choice.
pub fn repair_choices() -> Vec<(String, String)> {
    std::iter::once((String::new(), "Choose a repair…".to_string()))
        .chain(ops::repair::catalogue().into_iter().map(|i| (i.repair_type.name().to_string(), i.title.to_string())))
        .collect()
}

/// Tenants as `(value, label)` choices, with an empty first choice.
pub fn tenant_choices(tenants: &[platform::tenants::Tenant]) -> Vec<(String, String)> {
    std::iter::once((String::new(), "Choose a tenant…".to_string()))
        .chain(tenants.iter().map(|t| (t.tenant_id.to_string(), format!("{} ({})", t.name, t.slug))))
        .collect()
}
