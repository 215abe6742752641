//! The incident's checklists — rollback safety and replay — with their latest verdicts, a click away.

use leptos::prelude::*;
use ops::checklist::Checklist;
use platform::machine::Named;

use super::{fold, Shown};
use crate::checklists::checklist_form;

#[component]
pub(super) fn Checklists(shown: Shown) -> impl IntoView {
    let may = shown.may_manage && !shown.closed();
    let incident = shown.d.incident_id.to_string();
    let refused = use_context::<crate::form::Submitted>().and_then(|s| s.key().map(str::to_string));
    [Checklist::RollbackSafety, Checklist::Replay]
        .into_iter()
        .map(|checklist| {
            let latest = shown.checklists.iter().find(|r| r.checklist == checklist.name());
            let summary = latest.map(|l| l.verdict.clone()).unwrap_or_else(|| "not answered".to_string());
            let open = refused.as_deref() == Some(checklist.name());
            let body = checklist_form(checklist, Some(incident.clone()), latest, &[], may);
            let id = if checklist == Checklist::Replay { "checklist-replay" } else { "checklist-rollback" };
            fold(id, checklist.title(), summary, open, body)
        })
        .collect_view()
}
