//! Impact dimensions (lesson §4.2), with the figures the console proposes from the incident's entities.

use leptos::prelude::*;
use ops::incident::{self, ImpactForm};

use super::{fold, Shown};
use crate::fields::{SelectField, TextArea};
use crate::form::{form_or, notice, rejected};
use crate::incidents::choices;

#[component]
pub(super) fn ImpactPanel(shown: Shown) -> impl IntoView {
    let f = ImpactForm::FIELDS;
    let p = &shown.d.impact_proposal;
    let refused = rejected::<ImpactForm>(None);
    // Blank dimensions start from what the record says.
    let form = form_or(&refused, || {
        let stored = shown.d.impact.to_form();
        let or = |current: String, proposed: &str| if current.is_empty() { proposed.to_string() } else { current };
        ImpactForm {
            version: shown.d.version.to_string(),
            revenue: or(stored.revenue.clone(), &p.revenue_text),
            customer: or(stored.customer.clone(), &p.customer_text),
            blast_radius: or(stored.blast_radius.clone(), p.blast_radius.map(|b| b.as_str()).unwrap_or("")),
            ..stored
        }
    });
    let editable = shown.may_manage && !shown.closed();
    let at = |field: &str| refused.as_ref().and_then(|r| r.at(field));
    let area = |name: &'static str, label: &'static str, value: String| {
        view! { <TextArea id=format!("impact-{name}") name=name label=label value=value error=at(name) disabled=!editable /> }
    };
    let summary = shown.d.impact.blast_radius.map(|b| b.label().to_string()).unwrap_or_else(|| "not assessed".into());
    let body = view! {
        <p class="hint">
            "Proposed from the incident's entities and tenants: orders " {p.orders.to_string()}
            "; quotes " {p.quotes.to_string()} "; tenants " {p.tenants} "."
        </p>
        {notice(&refused)}
        <form method="post" action=shown.action("impact") class="form">
            <input type="hidden" name=f.version value=form.version.clone()/>
            {area(f.revenue, "Revenue", form.revenue.clone())}
            {area(f.customer, "Customer", form.customer.clone())}
            {area(f.data_integrity, "Data integrity", form.data_integrity.clone())}
            {area(f.legal, "Legal / compliance", form.legal.clone())}
            {area(f.operational, "Operational", form.operational.clone())}
            <SelectField id="impact-blast_radius" name=f.blast_radius label="Blast radius"
                choices={choices::<incident::BlastRadius>(|b| b.label().to_string(), Some("Not assessed"))}
                selected=form.blast_radius.clone() error=at(f.blast_radius) disabled=!editable />
            <SelectField id="impact-recoverability" name=f.recoverability label="Recoverability"
                choices={choices::<incident::Recoverability>(|r| r.label().to_string(), Some("Not assessed"))}
                selected=form.recoverability.clone() error=at(f.recoverability) disabled=!editable />
            {editable.then(|| view! { <button type="submit">"Save impact"</button> })}
        </form>
    }
    .into_any();
    fold("impact", "Impact", summary, refused.is_some(), body)
}
