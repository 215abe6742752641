//! `/incidents/new`: declaring an incident — severity with what each means, how it was detected, one line
//! of what is broken, and the tenants and entities known so far.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use ops::identity::Permission;
use ops::incident::{self, DeclareForm};
use platform::tenants::Tenant;

use super::{choices, pool_or_internal};
use crate::error::loaded;
use crate::error::PageError;
use crate::fields::{CheckboxGroup, SelectField, TextArea, TextField};
use crate::form::{form_or, message_at, notice, rejected};
use crate::viewer::require_viewer;

/// `/incidents/new`.
#[component]
pub fn DeclareIncidentPage() -> impl IntoView {
    let viewer = require_viewer();
    let data = AsyncDerived::new(move || {
        let viewer = viewer.clone();
        async move {
            let viewer = viewer?;
            if !viewer.actor.may(Permission::DeclareIncident) {
                return Err(PageError::new(ops::ErrorKind::NotAllowed, "Your roles do not allow declaring incidents."));
            }
            let pool = pool_or_internal()?;
            Ok::<_, PageError>(ops::tenants::visible(&pool, &viewer.actor).await?)
        }
    });
    view! {
        <Title text="Declare incident"/>
        {loaded("Declare incident", data, |tenants| view! { <Declare tenants=tenants/> }.into_any())}
    }
}

#[component]
fn Declare(tenants: Vec<Tenant>) -> impl IntoView {
    let f = DeclareForm::FIELDS;
    let refused = rejected::<DeclareForm>(None);
    // A link may prefill the form (a reconciliation mismatch: what broke, detected by reconciliation, its
    // tenant and entity); nothing is declared until the person submits it.
    let query = use_query_map().get_untracked();
    let form = form_or(&refused, || {
        let q = |k: &str| query.get(k).unwrap_or_default();
        DeclareForm {
            summary: q("summary"),
            detected_by: q("detected_by"),
            tenants: query.get("tenant").into_iter().collect(),
            order_ids: q("order"),
            quote_ids: q("quote"),
            ..Default::default()
        }
    });
    let at = |field: &str| refused.as_ref().and_then(|r| r.at(field));
    let severities = incident::severity_choices()
        .into_iter()
        .map(|c| {
            let value = c.severity.as_str();
            let id = format!("severity-{}", value.to_ascii_lowercase());
            view! {
                <div class="choice">
                    <input type="radio" name=f.severity id=id.clone() value=value checked=form.severity == value/>
                    <label for=id>
                        <strong>{c.label}</strong> " — " {c.meaning}
                        <br/><small>"Example: " {c.example} ". Response: " {c.response}
                        ". Status update every " {c.update_every_minutes} " min."</small>
                    </label>
                </div>
            }
        })
        .collect_view();
    let tenant_choices =
        tenants.into_iter().map(|t| (t.tenant_id.to_string(), format!("{} ({})", t.name, t.slug))).collect();
    view! {
        <div class="page-head"><h1>"Declare incident"</h1></div>
        {notice(&refused)}
        <form method="post" action="/incidents/new" class="form">
            <fieldset>
                <legend>"Severity"</legend>
                {severities}
                {message_at(&refused, f.severity)}
            </fieldset>
            <TextField id="declare-summary" name=f.summary label="What is broken (one line)" value=form.summary.clone()
                error=at(f.summary) />
            <SelectField id="declare-detected_by" name=f.detected_by label="Detected by"
                choices={choices::<incident::DetectedBy>(|d| d.label().to_string(), Some("Choose…"))}
                selected=form.detected_by.clone() error=at(f.detected_by) />
            <TextField id="declare-detected_at" name=f.detected_at label="Detected at (UTC)" hint="Blank: now."
                value=form.detected_at.clone() error=at(f.detected_at) />
            <CheckboxGroup name=f.tenants legend="Affected tenants (none: platform-wide)" choices=tenant_choices
                checked=form.tenants.clone() error=at(f.tenants) />
            <TextArea id="declare-order_ids" name=f.order_ids label="Affected order ids" value=form.order_ids.clone()
                hint="Separated by spaces, commas or lines." error=at(f.order_ids) />
            <TextArea id="declare-quote_ids" name=f.quote_ids label="Affected quote ids" value=form.quote_ids.clone()
                error=at(f.quote_ids) />
            <button type="submit">"Declare"</button>
        </form>
    }
}
