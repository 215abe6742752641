//! The triage template (lesson §4.3), every field, editable until the incident is closed.

use leptos::prelude::*;
use ops::incident::{self, TriageForm};

use super::{fold, Shown};
use crate::fields::{CheckboxGroup, SelectField, TextArea, TextField};
use crate::form::{form_or, notice, rejected};
use crate::incidents::choices;

#[component]
pub(super) fn TriagePanel(shown: Shown) -> impl IntoView {
    let f = TriageForm::FIELDS;
    let refused = rejected::<TriageForm>(None);
    let form = form_or(&refused, || TriageForm { version: shown.d.version.to_string(), ..shown.d.triage.to_form() });
    let editable = shown.may_manage && !shown.closed();
    let at = |field: &str| refused.as_ref().and_then(|r| r.at(field));
    let text = |name: &'static str, label: &'static str, value: String| {
        view! { <TextField id=format!("triage-{name}") name=name label=label value=value error=at(name) disabled=!editable /> }
    };
    let area = |name: &'static str, label: &'static str, value: String| {
        view! { <TextArea id=format!("triage-{name}") name=name label=label value=value error=at(name) disabled=!editable /> }
    };
    // A box per tenant the viewer may act on: tenants outside the viewer's scope cannot be on an incident
    // they may edit, so there is nothing else to carry.
    let tenant_choices =
        shown.tenants.iter().map(|t| (t.tenant_id.to_string(), format!("{} ({})", t.name, t.slug))).collect();
    let severities = incident::severity_choices()
        .into_iter()
        .map(|c| (c.severity.as_str().to_string(), format!("{} — {} ({})", c.label, c.meaning, c.response)))
        .collect();
    let summary = format!("version {}", shown.d.triage.triage_version);
    let body = view! {
        {notice(&refused)}
        <form method="post" action=shown.action("triage") class="form">
            <input type="hidden" name=f.version value=form.version.clone()/>
            <SelectField id="triage-severity" name=f.severity label="Severity" choices=severities
                selected=form.severity.clone() error=at(f.severity) disabled=!editable />
            <CheckboxGroup name=f.tenants legend="Affected tenants" choices=tenant_choices
                checked=form.tenants.clone() error=at(f.tenants) disabled=!editable />
            <SelectField id="triage-detected_by" name=f.detected_by label="Detected by"
                choices={choices::<incident::DetectedBy>(|d| d.label().to_string(), None)}
                selected=form.detected_by.clone() error=at(f.detected_by) disabled=!editable />
            {text(f.detected_at, "Detected at (UTC)", form.detected_at.clone())}
            {area(f.order_ids, "Affected order ids", form.order_ids.clone())}
            {area(f.quote_ids, "Affected quote ids", form.quote_ids.clone())}
            {text(f.first_known_bad_at, "First known bad (UTC)", form.first_known_bad_at.clone())}
            {text(f.last_known_good_at, "Last known good (UTC)", form.last_known_good_at.clone())}
            {text(f.business_capability, "Business capability affected", form.business_capability.clone())}
            {area(f.customer_symptom, "Current customer-visible symptom", form.customer_symptom.clone())}
            {text(f.technical_boundary, "Suspected technical boundary", form.technical_boundary.clone())}
            {area(f.data_integrity_risk, "Data integrity risk", form.data_integrity_risk.clone())}
            {area(f.side_effects_executed, "Side effects already executed", form.side_effects_executed.clone())}
            {area(f.immediate_mitigation, "Immediate mitigation", form.immediate_mitigation.clone())}
            {area(f.current_hypothesis, "Current hypothesis", form.current_hypothesis.clone())}
            {text(f.recovery_owner, "Recovery owner", form.recovery_owner.clone())}
            {text(f.communication_owner, "Communication owner", form.communication_owner.clone())}
            {editable.then(|| view! { <button type="submit">"Save triage"</button> })}
        </form>
    }
    .into_any();
    fold("triage", "Triage", summary, refused.is_some(), body)
}
