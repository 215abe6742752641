//! The post-incident review (lesson §21.1): the template, with timeline and duration proposed from the
//! incident's record, its severity shown, and completing it.

use leptos::prelude::*;
use ops::incident::{ReviewCompleteForm, ReviewForm};
use platform::machine::Named;

use super::{fold, Shown};
use crate::fields::{TextArea, TextField};
use crate::form::{form_or, notice, rejected};

#[component]
pub(super) fn ReviewPanel(shown: Shown, open: bool) -> impl IntoView {
    let f = ReviewForm::FIELDS;
    let d = &shown.d;
    let refused = rejected::<ReviewForm>(None);
    let form = form_or(&refused, || d.review_form.clone());
    let editable = shown.may_review && !shown.closed();
    let at = |field: &str| refused.as_ref().and_then(|r| r.at(field));
    let area = |name: &'static str, label: &'static str, value: String| {
        view! { <TextArea id=format!("review-{name}") name=name label=label value=value error=at(name) disabled=!editable rows=4 /> }
    };
    let check = |name: &'static str, label: &'static str, value: &Option<String>| {
        let ticked = value.as_deref().is_some_and(|v| !v.is_empty());
        view! {
            <label class="check">
                <input type="checkbox" name=name value="on" checked=ticked disabled=!editable/>
                " " {label}
            </label>
        }
    };
    let status = d
        .review
        .as_ref()
        .map(|r| format!("{} (version {})", r.status.name(), r.version))
        .unwrap_or_else(|| "not started: what follows is proposed from the incident's record".to_string());
    let complete = (editable && d.review.is_some()).then(|| {
        let refused = rejected::<ReviewCompleteForm>(None);
        view! {
            {notice(&refused)}
            <form method="post" action=shown.action("review/complete") class="inline-form">
                <input type="hidden" name=ReviewCompleteForm::FIELDS.review_version value=form.review_version.clone()/>
                <button type="submit">"Complete review"</button>
            </form>
        }
    });
    let body = view! {
        <p>
            "Severity " <strong>{d.severity_info.label}</strong> " — " {d.severity_info.meaning} ". Review: " {status.clone()}
        </p>
        {notice(&refused)}
        <form method="post" action=shown.action("review") class="form">
            <input type="hidden" name=f.review_version value=form.review_version.clone()/>
            {area(f.summary, "Summary: what happened?", form.summary.clone())}
            {area(f.business_impact, "Customer / business impact", form.business_impact.clone())}
            <TextField id="review-duration" name=f.duration label="Duration" value=form.duration.clone()
                error=at(f.duration) disabled=!editable />
            <TextArea id="review-timeline" name=f.timeline label="Timeline (detection → triage → mitigation → recovery → resolution)"
                value=form.timeline.clone() error=at(f.timeline) disabled=!editable rows=10 />
            {area(f.technical_root_cause, "Technical root cause", form.technical_root_cause.clone())}
            {area(f.process_root_cause, "Process root cause", form.process_root_cause.clone())}
            {area(f.detection_gap, "Detection gap", form.detection_gap.clone())}
            {area(f.prevention_gap, "Prevention gap", form.prevention_gap.clone())}
            {area(f.what_worked, "What worked", form.what_worked.clone())}
            {area(f.what_did_not_work, "What did not work", form.what_did_not_work.clone())}
            <fieldset>
                <legend>"Follow-up verification"</legend>
                {check(f.test_added, "Test added", &form.test_added)}
                {check(f.alert_added, "Alert added", &form.alert_added)}
                {check(f.runbook_updated, "Runbook updated", &form.runbook_updated)}
                {check(f.dashboard_updated, "Dashboard updated", &form.dashboard_updated)}
                {check(f.control_added, "Control added", &form.control_added)}
            </fieldset>
            {editable.then(|| view! { <button type="submit">"Save review"</button> })}
        </form>
        {complete}
    }
    .into_any();
    let open = open || refused.is_some() || rejected::<ReviewCompleteForm>(None).is_some();
    fold("review", "Post-incident review", status, open, body)
}
