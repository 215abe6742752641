//! The Prometheus alert rules in `deploy/prometheus/`: valid for `promtool` and passing its unit tests
//! (when the Debian `prometheus` package's promtool is installed), one rule for every alert a runbook names
//! in its front matter, and nothing but metrics the console exports.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn rules_dir() -> PathBuf {
    root().join("deploy/prometheus")
}

/// `(alert, the rule's text)` for every `- alert:` of the rules file.
fn rules() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(rules_dir().join("opsdeck.rules.yml")).expect("the rules file");
    let mut rules: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if let Some(name) = line.trim_start().strip_prefix("- alert:") {
            rules.push((name.trim().to_string(), String::new()));
        } else if let Some((_, body)) = rules.last_mut() {
            body.push_str(line);
            body.push('\n');
        }
    }
    rules
}

/// The alerts the runbooks' front matter names (`alerts = ["a", "b"]`).
fn runbook_alerts() -> BTreeSet<String> {
    let mut alerts = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("runbooks")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") || path.file_name().is_some_and(|n| n == "README.md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let line = text.lines().find(|l| l.trim_start().starts_with("alerts = [")).unwrap_or_else(|| panic!("{path:?} names no alerts"));
        alerts.extend(line.split('"').skip(1).step_by(2).map(str::to_string));
    }
    alerts
}

/// Every metric name the console sets on /metrics.
fn exported() -> BTreeSet<String> {
    use server::routes::metrics::{DEPENDENCY_PROBE_SECONDS, DEPENDENCY_UP, HTTP_DURATION, HTTP_REQUESTS};
    let mut names: BTreeSet<String> = ops::diagnostics::METRIC_GAUGES.iter().map(|(n, _)| n.to_string()).collect();
    names.extend(ops::dashboard::FIGURES.iter().map(|f| format!("opsdeck_{}", f.name)));
    names.extend([DEPENDENCY_UP, DEPENDENCY_PROBE_SECONDS, HTTP_REQUESTS].map(str::to_string));
    names.extend(["_bucket", "_sum", "_count"].map(|s| format!("{HTTP_DURATION}{s}")));
    names
}

/// The `opsdeck_…` identifiers of a rule (its expression, and any query in its annotations).
fn metric_names(rule: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = rule;
    while let Some(at) = rest.find("opsdeck_") {
        let name: String = rest[at..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        rest = &rest[at + name.len()..];
        names.insert(name);
    }
    names
}

fn promtool(args: &[&str], dir: &Path) -> Option<String> {
    let output = match Command::new("promtool").args(args).current_dir(dir).output() {
        Ok(output) => output,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
        Err(error) => panic!("promtool: {error}"),
    };
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "promtool {args:?} failed:\n{text}");
    Some(text)
}

#[test]
fn the_alert_rules_pass_promtools_check_and_unit_tests() {
    let Some(checked) = promtool(&["check", "rules", "opsdeck.rules.yml"], &rules_dir()) else {
        // scripts/test.sh installs it and asks for it: there, a missing promtool is a failure.
        assert!(std::env::var_os("OPSDECK_REQUIRE_PROMTOOL").is_none(), "promtool is required but not installed");
        eprintln!("promtool is not installed (Debian package `prometheus`): only the rules' names and metrics are checked");
        return;
    };
    assert!(checked.contains(&format!("SUCCESS: {} rules found", rules().len())), "{checked}");
    promtool(&["test", "rules", "opsdeck.rules.test.yml"], &rules_dir()).expect("promtool ran");
}

#[test]
fn every_runbook_alert_has_exactly_one_rule() {
    let names: Vec<String> = rules().into_iter().map(|(n, _)| n).collect();
    let unique: BTreeSet<String> = names.iter().cloned().collect();
    assert_eq!(unique.len(), names.len(), "an alert has two rules: {names:?}");
    let wanted = runbook_alerts();
    assert!(wanted.len() >= 18, "{wanted:?}");
    let missing: Vec<&String> = wanted.difference(&unique).collect();
    assert!(missing.is_empty(), "runbook alerts without a rule: {missing:?}");
    let extra: Vec<&String> = unique.difference(&wanted).collect();
    assert!(extra.is_empty(), "rules no runbook names: {extra:?}");
}

#[test]
fn every_rule_uses_only_metrics_the_console_exports() {
    let exported = exported();
    for (alert, rule) in rules() {
        let used = metric_names(&rule);
        assert!(!used.is_empty(), "{alert} names no opsdeck metric");
        let unknown: Vec<&String> = used.difference(&exported).collect();
        assert!(unknown.is_empty(), "{alert} uses metrics /metrics does not carry: {unknown:?}");
    }
}
