//! Property-based fuzzing of the form parsers — the edge where text from a browser or the internal API
//! becomes the console's types (issue 13 item 2). Whatever arrives, `parse` answers (never panics), and
//! what it accepts holds the rules the types promise: text bounded and free of the control characters
//! PostgreSQL or a page cannot take (NUL above all), a repair's reason of at least 20 characters, an
//! idempotency key of 8 to 200 printable ASCII characters.

use ops::incident::{DeclareForm, IncidentForDeclare, NoteForAdd, NoteForm};
use ops::repair::{DecisionForm, RepairDecision, RepairForRequest, RepairRequestForm};
use proptest::prelude::*;

/// Text a person or an attacker sends: anything at all, printable ASCII, near-valid values with
/// something hostile spliced in, and the values a real form sends.
fn input(valid: &'static [&'static str]) -> impl Strategy<Value = String> {
    let hostile = prop_oneof![
        Just("\0".to_string()),
        Just("<script>alert(1)</script>".to_string()),
        Just("'; drop table ops.audit_log; --".to_string()),
        Just("\u{202e}\u{200b}аcme".to_string()),
        Just("x".repeat(5000)),
        Just("\u{7f}\u{1b}[31m".to_string()),
    ];
    prop_oneof![
        any::<String>(),
        "[ -~]{0,60}",
        proptest::sample::select(valid).prop_map(str::to_string),
        (proptest::sample::select(valid), hostile, any::<bool>())
            .prop_map(|(v, h, before)| if before { format!("{h}{v}") } else { format!("{v}{h}") }),
    ]
}

fn clean(text: &str) -> bool {
    !text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

const UUIDS: &[&str] = &["10000000-0000-4000-8000-000000000001", "01a2221b-3550-7218-8a1b-613b5b4497af", "not-a-uuid", ""];
const REASONS: &[&str] = &["the start was given up while the engine was down", "stuck", "                         "];
const KEYS: &[&str] = &["resume-R-5-key", "short", "with space in it", "ключ-ключ-ключ"];
const TYPES: &[&str] = &["resume-orchestration", "release-stale-claims", "RESUME-ORCHESTRATION", "drop-tables"];

proptest! {
    // 256 cases a property unless PROPTEST_CASES says otherwise (scripts/reliability.sh asks for more).
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn a_repair_request_parses_or_is_refused_and_what_it_accepts_keeps_the_rules(
        repair_type in input(TYPES), tenant in input(UUIDS), entity in input(UUIDS), incident in input(UUIDS),
        reason in input(REASONS), key in input(KEYS), mismatch in input(UUIDS), dry_run in any::<bool>(),
    ) {
        let form = RepairRequestForm {
            repair_type, tenant, entity_id: entity, incident_id: incident, reason, idempotency_key: key,
            mismatch_id: mismatch, ..Default::default()
        };
        if let Ok(request) = RepairForRequest::parse(&form, dry_run) {
            let reason = request.reason.as_str();
            prop_assert!(reason.chars().count() >= 20 && reason.chars().count() <= 4000 && clean(reason), "{reason:?}");
            let key = request.idempotency_key.as_str();
            prop_assert!((8..=200).contains(&key.len()) && key.chars().all(|c| c.is_ascii_graphic()), "{key:?}");
        }
    }

    #[test]
    fn a_declaration_parses_or_is_refused_and_its_summary_is_clean_text(
        severity in input(&["SEV1", "SEV2", "sev3", "SEV9"]), detected_by in input(&["OPERATOR", "ALERT", "CUSTOMER"]),
        detected_at in input(&["", "2026-11-28T10:00:00Z", "yesterday", "2026-13-45T99:00:00Z"]),
        summary in input(&["Orders stuck in orchestration", ""]), tenants in proptest::collection::vec(input(UUIDS), 0..3),
        order_ids in input(&["", "01a2221b-3550-7218-8a1b-613b5b4497af, 01a2221b-3550-7218-8a1b-613b5b4497af"]),
        quote_ids in input(&["", "x y z"]),
    ) {
        let form = DeclareForm { severity, detected_by, detected_at, summary, tenants, order_ids, quote_ids };
        if let Ok(declared) = IncidentForDeclare::parse(&form) {
            prop_assert!(!declared.summary.trim().is_empty() && clean(&declared.summary), "{:?}", declared.summary);
        }
    }

    #[test]
    fn a_note_parses_or_is_refused_and_its_text_is_clean(text in input(&["Vendor confirms nothing was sent", ""]), ids in input(UUIDS)) {
        if let Ok(note) = NoteForAdd::parse(&NoteForm { text, entity_ids: ids }) {
            prop_assert!(!note.text.trim().is_empty() && clean(&note.text), "{:?}", note.text);
        }
    }

    #[test]
    fn a_decision_parses_or_is_refused(
        decision in input(&["APPROVE", "REJECT", "approve", "MAYBE"]), comment in input(&["", "checked the vendor"]),
        hash in input(&["", "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"]),
    ) {
        let _ = RepairDecision::parse(&DecisionForm { decision, comment, proposed_change_hash: hash });
    }
}
