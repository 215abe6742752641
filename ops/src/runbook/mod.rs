//! Runbooks in the console (lesson §7, §22): the Markdown files of `runbooks/`, built into the binary,
//! with their TOML front matter read (which alerts, repairs, signals and entities they concern) and their
//! ```` ```sql ```` blocks turned into diagnostics the page can run — read-only, parameters bound, under a
//! statement timeout and a row cap, each run recorded on the incident it serves. Only queries that ship in
//! `runbooks/` can run: the console takes a runbook id and a block number, never SQL.

mod diagnostic;
mod document;
mod suggest;

pub use diagnostic::{run_diagnostic, DiagnosticForm, DiagnosticRun, DiagnosticForRun, Param, ParamKind, StatementResult, ROW_CAP};
pub use document::{Diagnostic, FrontMatter, Runbook, Statement};
pub use suggest::{suggest, Suggestion};

/// Every runbook file, by file name: what the console shows at `/runbooks/<id>`.
const FILES: [(&str, &str); 10] = [
    ("bad-deployment.md", include_str!("../../../runbooks/bad-deployment.md")),
    ("duplicate-order.md", include_str!("../../../runbooks/duplicate-order.md")),
    ("engine-incident.md", include_str!("../../../runbooks/engine-incident.md")),
    ("kafka-consumer-lag.md", include_str!("../../../runbooks/kafka-consumer-lag.md")),
    ("outbox-stuck.md", include_str!("../../../runbooks/outbox-stuck.md")),
    ("postgres-locks.md", include_str!("../../../runbooks/postgres-locks.md")),
    ("reconciliation-mismatch.md", include_str!("../../../runbooks/reconciliation-mismatch.md")),
    ("redis-degradation.md", include_str!("../../../runbooks/redis-degradation.md")),
    ("stuck-approval.md", include_str!("../../../runbooks/stuck-approval.md")),
    ("stuck-order.md", include_str!("../../../runbooks/stuck-order.md")),
];

/// The index (`runbooks/README.md`): the rules every runbook relies on, shown at `/runbooks`.
pub const INDEX: &str = include_str!("../../../runbooks/README.md");

static RUNBOOKS: std::sync::LazyLock<Vec<Runbook>> = std::sync::LazyLock::new(|| {
    FILES
        .iter()
        .map(|(file, text)| Runbook::parse(text).unwrap_or_else(|e| panic!("runbooks/{file}: {e}")))
        .collect()
});

/// Every runbook, in file order.
pub fn all() -> &'static [Runbook] {
    &RUNBOOKS
}

/// The runbook with this id.
pub fn get(id: &str) -> Option<&'static Runbook> {
    all().iter().find(|r| r.front.id == id)
}

/// The runbook `runbooks/<file>` names as its file (`stuck-order.md`), for the repair catalogue's links.
pub fn by_file(file: &str) -> Option<&'static Runbook> {
    get(file.trim_end_matches(".md"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repair::RepairType;
    use platform::machine::Named;

    #[test]
    fn every_runbook_file_is_built_in_and_named_by_its_id() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../runbooks");
        let mut on_disk: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".md") && n != "README.md")
            .collect();
        on_disk.sort();
        let built: Vec<String> = FILES.iter().map(|(f, _)| f.to_string()).collect();
        assert_eq!(built, on_disk, "add a new runbook file to FILES");
        for (file, _) in FILES {
            assert!(by_file(file).is_some(), "{file}: its id is its file name");
        }
    }

    #[test]
    fn every_repair_a_runbook_names_is_a_repair_type() {
        for runbook in all() {
            for repair in &runbook.front.repairs {
                assert!(RepairType::parse_name(repair).is_some(), "{}: unknown repair {repair}", runbook.front.id);
            }
        }
    }

    #[test]
    fn every_repair_of_the_catalogue_names_a_runbook_that_exists() {
        for info in crate::repair::catalogue() {
            assert!(get(info.runbook).is_some(), "{}: no runbook {}", info.repair_type.name(), info.runbook);
        }
    }

    #[test]
    fn every_repair_of_the_catalogue_is_offered_by_its_own_runbook() {
        for info in crate::repair::catalogue() {
            let runbook = get(info.runbook).expect("checked above");
            let name = info.repair_type.name().to_string();
            assert!(runbook.front.repairs.contains(&name), "{}: add {name} to its repairs", runbook.front.id);
        }
    }

    #[test]
    fn every_runbook_has_the_nine_sections_in_order() {
        let sections = [
            "Symptoms",
            "Scope Assessment",
            "Safety Checks",
            "Immediate Mitigation",
            "Diagnosis",
            "Recovery",
            "Post-Recovery Verification",
            "Escalation",
            "Follow-Up",
        ];
        for runbook in all() {
            let found: Vec<&str> = runbook.sections.iter().map(String::as_str).filter(|s| sections.contains(s)).collect();
            assert_eq!(found, sections, "{}", runbook.front.id);
        }
    }
}
