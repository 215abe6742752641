//! Changing the severity, with the reason the timeline records (`change_severity`).

use leptos::prelude::*;
use ops::incident::{self, SeverityForm};

use super::{fold, Shown};
use crate::fields::{SelectField, TextField};
use crate::form::{form_or, notice, rejected};

#[component]
pub(super) fn SeverityPanel(shown: Shown) -> impl IntoView {
    (shown.may_manage && !shown.closed()).then(|| {
        let f = SeverityForm::FIELDS;
        let refused = rejected::<SeverityForm>(None);
        let form = form_or(&refused, || SeverityForm {
            version: shown.d.version.to_string(),
            severity: shown.d.severity.as_str().to_string(),
            reason: String::new(),
        });
        let at = |field: &str| refused.as_ref().and_then(|r| r.at(field));
        let severities = incident::severity_choices()
            .into_iter()
            .map(|c| (c.severity.as_str().to_string(), format!("{} — {} ({})", c.label, c.meaning, c.response)))
            .collect();
        let summary = format!("now {}", shown.d.severity.label());
        let body = view! {
            {notice(&refused)}
            <form method="post" action=shown.action("severity") class="form">
                <input type="hidden" name=f.version value=form.version.clone()/>
                <SelectField id="severity-severity" name=f.severity label="New severity" choices=severities
                    selected=form.severity.clone() error=at(f.severity) />
                <TextField id="severity-reason" name=f.reason label="Why" value=form.reason.clone()
                    error=at(f.reason) />
                <button type="submit">"Change severity"</button>
            </form>
        }
        .into_any();
        fold("severity", "Change severity", summary, refused.is_some(), body)
    })
}
