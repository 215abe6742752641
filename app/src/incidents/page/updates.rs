//! Status updates (lesson §20): the internal update, pre-filled from triage; the customer update, which
//! names the capability in customer words and what customers must do; and what was posted, with its
//! delivery to each webhook.

use leptos::prelude::*;
use ops::incident::{Audience, DeliveryStatus, StatusUpdateForm, UpdateStatus};
use platform::machine::Named;

use super::{fold, Shown};
use crate::fields::{SelectField, TextArea, TextField};
use crate::form::{form_or, notice, rejected, Rejected};
use crate::format::instant;

fn statuses() -> Vec<(String, String)> {
    <UpdateStatus as Named>::ALL.iter().map(|s| (s.name().to_string(), s.label().to_string())).collect()
}

#[component]
pub(super) fn PostUpdate(shown: Shown) -> impl IntoView {
    (shown.may_post && !shown.closed()).then(|| {
        let internal = rejected::<StatusUpdateForm>(Some(Audience::Internal.as_str()));
        let customer = rejected::<StatusUpdateForm>(Some(Audience::Customer.as_str()));
        let internal_form = form_or(&internal, || shown.d.internal_draft.clone());
        let customer_form = form_or(&customer, || shown.d.customer_draft.clone());
        let due = shown.d.update_overdue.then(|| view! { <span class="badge tone-bad">"overdue"</span> });
        view! {
            <div class="updates">
                <details class="fold-inline" open=internal.is_some() || shown.d.update_overdue>
                    <summary>"Post an internal update " {due}</summary>
                    {internal_update(&shown, internal_form, &internal)}
                </details>
                <details class="fold-inline" open=customer.is_some()>
                    <summary>"Post a customer update"</summary>
                    {customer_update(&shown, customer_form, &customer)}
                </details>
            </div>
        }
    })
}

fn internal_update(shown: &Shown, form: StatusUpdateForm, refused: &Option<Rejected<StatusUpdateForm>>) -> AnyView {
    let f = StatusUpdateForm::FIELDS;
    let at = |field: &str| refused.as_ref().and_then(|r| r.at(field));
    let text = |name: &'static str, label: &'static str, value: String| {
        view! { <TextField id=format!("internal-{name}") name=name label=label value=value error=at(name) /> }
    };
    view! {
        <form method="post" action=shown.action("updates") class="form">
            {notice(refused)}
            <p class="hint">"Pre-filled from triage (lesson §20.1); correct what changed."</p>
            <input type="hidden" name=f.version value=form.version.clone()/>
            <input type="hidden" name=f.audience value=Audience::Internal.as_str()/>
            <SelectField id="internal-status" name=f.status label="Status" choices=statuses()
                selected=form.status.clone() error=at(f.status) />
            {text(f.started_at, "Started (UTC)", form.started_at.clone())}
            {text(f.affected_capability, "Affected capability", form.affected_capability.clone())}
            {text(f.affected_tenants, "Affected tenants/customers", form.affected_tenants.clone())}
            {text(f.customer_impact, "Customer impact", form.customer_impact.clone())}
            {text(f.current_hypothesis, "Current hypothesis", form.current_hypothesis.clone())}
            {text(f.mitigation_applied, "Mitigation applied", form.mitigation_applied.clone())}
            {text(f.next_update_at, "Next update (UTC)", form.next_update_at.clone())}
            {text(f.owner, "Owner", form.owner.clone())}
            <TextArea id="internal-message" name=f.message label="Notes (optional)" value=form.message.clone()
                error=at(f.message) />
            <button type="submit">"Post internal update"</button>
        </form>
    }
    .into_any()
}

fn customer_update(shown: &Shown, form: StatusUpdateForm, refused: &Option<Rejected<StatusUpdateForm>>) -> AnyView {
    let f = StatusUpdateForm::FIELDS;
    let at = |field: &str| refused.as_ref().and_then(|r| r.at(field));
    view! {
        <form method="post" action=shown.action("updates") class="form">
            {notice(refused)}
            <p class="hint">
                "What customers read (lesson §20.2): the capability affected in their words and what they need to do. "
                "No product, host, SQL or internal names — a refused update lists the words to take out. It goes only "
                "to the status webhooks of this incident's tenants."
            </p>
            <input type="hidden" name=f.version value=form.version.clone()/>
            <input type="hidden" name=f.audience value=Audience::Customer.as_str()/>
            <SelectField id="customer-status" name=f.status label="Status" choices=statuses()
                selected=form.status.clone() error=at(f.status) />
            <TextField id="customer-affected_capability" name=f.affected_capability
                label="Affected capability, in customers' words" hint="For example: Order confirmations"
                value=form.affected_capability.clone() error=at(f.affected_capability) />
            <TextArea id="customer-message" name=f.message label="Message" value=form.message.clone()
                error=at(f.message) />
            <TextField id="customer-customer_action" name=f.customer_action label="What customers need to do"
                hint="\"Nothing\" is a valid answer." value=form.customer_action.clone() error=at(f.customer_action) />
            <TextField id="customer-next_update_at" name=f.next_update_at label="Next update (UTC)"
                value=form.next_update_at.clone() error=at(f.next_update_at) />
            <button type="submit">"Post customer update"</button>
        </form>
    }
    .into_any()
}

#[component]
pub(super) fn History(shown: Shown) -> impl IntoView {
    let d = &shown.d;
    let failing = d.updates.iter().any(|u| u.deliveries.iter().any(|x| x.status == DeliveryStatus::Failed));
    let rows = d
        .updates
        .iter()
        .map(|u| {
            let deliveries = u
                .deliveries
                .iter()
                .map(|x| {
                    let tone = match x.status {
                        DeliveryStatus::Delivered => "badge tone-good",
                        DeliveryStatus::Pending => "badge tone-active",
                        DeliveryStatus::Failed => "badge tone-bad",
                    };
                    view! {
                        <li>{x.webhook_name.clone()} " " <span class=tone>{x.status.name()}</span>
                            {format!(" ({} attempt(s))", x.attempts)}</li>
                    }
                })
                .collect_view();
            view! {
                <tr>
                    <td>{instant(&u.posted_at)}</td>
                    <td>{u.audience.name()}</td>
                    <td>{u.status.label()}</td>
                    <td class="pre">{u.body.clone()}</td>
                    <td>{u.posted_by.clone()}</td>
                    <td><ul class="plain">{deliveries}</ul></td>
                </tr>
            }
        })
        .collect_view();
    let summary = match d.updates.first() {
        Some(last) => format!("{} posted; last {}", d.updates.len(), instant(&last.posted_at)),
        None => "none posted yet".to_string(),
    };
    let body = view! {
        <table class="grid">
            <thead><tr><th>"Posted"</th><th>"Audience"</th><th>"Status"</th><th>"Text"</th><th>"By"</th><th>"Delivery"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any();
    fold("updates", "Status updates", summary, failing, body)
}
