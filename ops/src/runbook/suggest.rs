//! Which runbooks fit an incident: its words (summary, symptom, capability, boundary, hypothesis) against
//! each runbook's alerts and signals, and its entities against the runbook's entity kinds — each
//! suggestion says why, strongest first.

use platform::machine::Named;
use serde::Serialize;

use super::document::Runbook;
use crate::incident::IncidentDetail;

/// A runbook that fits, and what made it fit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suggestion {
    pub runbook: &'static Runbook,
    pub because: Vec<String>,
    score: u32,
}

/// The runbooks that fit `incident`, strongest first (none fit: empty).
pub fn suggest(incident: &IncidentDetail) -> Vec<Suggestion> {
    let t = &incident.triage.texts;
    let text = [
        Some(incident.summary.as_str()),
        t.customer_symptom.as_deref(),
        t.business_capability.as_deref(),
        t.technical_boundary.as_deref(),
        t.current_hypothesis.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
    .to_lowercase();
    let kinds: Vec<&str> = incident.entities.iter().map(|e| e.entity.entity_type.name()).collect();
    words_and_kinds(&text, &kinds)
}

/// The matching itself: lowercase text and entity kinds.
pub(super) fn words_and_kinds(text: &str, kinds: &[&str]) -> Vec<Suggestion> {
    let mut out: Vec<Suggestion> = super::all()
        .iter()
        .filter_map(|runbook| {
            let mut because = Vec::new();
            let mut score = 0;
            for alert in &runbook.front.alerts {
                if text.contains(&alert.to_lowercase()) {
                    because.push(format!("alert {alert}"));
                    score += 5;
                }
            }
            let signals: Vec<&str> =
                runbook.front.signals.iter().map(String::as_str).filter(|s| text.contains(&s.to_lowercase())).collect();
            if !signals.is_empty() {
                score += 2 * signals.len() as u32;
                because.push(format!("mentions {}", signals.join(", ")));
            }
            // Entity kinds only strengthen a runbook the words already point at.
            if score > 0 {
                let shared: Vec<&str> = kinds.iter().copied().filter(|k| runbook.front.entities.iter().any(|e| e == k)).collect();
                if !shared.is_empty() {
                    score += 1;
                    because.push(format!("names {}", shared.join(", ").to_lowercase()));
                }
            }
            (score > 0).then_some(Suggestion { runbook, because, score })
        })
        .collect();
    out.sort_by(|a, b| b.score.cmp(&a.score).then_with(|| a.runbook.front.id.cmp(&b.runbook.front.id)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(s: &[Suggestion]) -> Vec<&str> {
        s.iter().map(|s| s.runbook.front.id.as_str()).collect()
    }

    #[test]
    fn an_incident_about_stuck_orders_gets_the_stuck_order_runbook_first() {
        let s = words_and_kinds("orders stuck in orchestrating since the vendor outage", &["ORDER"]);
        assert_eq!(ids(&s).first(), Some(&"stuck-order"), "{:?}", ids(&s));
        assert!(s[0].because.iter().any(|b| b.contains("stuck")));
    }

    #[test]
    fn an_alert_name_outweighs_loose_words() {
        let s = words_and_kinds("outbox_pending_age_high fired for acme", &[]);
        assert_eq!(ids(&s).first(), Some(&"outbox-stuck"), "{:?}", ids(&s));
    }

    #[test]
    fn unrelated_words_suggest_nothing() {
        assert!(words_and_kinds("the office coffee machine is broken", &["ORDER"]).is_empty());
    }
}
