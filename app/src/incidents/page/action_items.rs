//! Action items of the review (lesson §21.1): action, owner, due date, type, prevent/detect/recover. They
//! stay editable and can be marked done after the incident closed — that is when they are worked.

use leptos::prelude::*;
use ops::incident::{self, ActionItem, ActionItemForm, ActionItemStatus, ActionItemStatusForm};
use platform::machine::Named;

use super::{fold, Shown};
use crate::fields::{SelectField, TextField};
use crate::form::{form_or, message_at, notice, rejected};
use crate::incidents::choices;

/// The key of the "add" form among the item forms of the page.
const NEW: &str = "new";

#[component]
pub(super) fn ActionItems(shown: Shown) -> impl IntoView {
    let d = &shown.d;
    let open_items = d.action_items.iter().filter(|i| i.status == ActionItemStatus::Open).count();
    let overdue = d.action_items.iter().any(|i| i.overdue);
    let any_refused = rejected::<ActionItemForm>(None).is_some() || rejected::<ActionItemStatusForm>(None).is_some();
    let rows = d.action_items.iter().map(|item| row(&shown, item)).collect_view();
    let summary = format!("{} item(s), {open_items} open{}", d.action_items.len(), if overdue { ", overdue" } else { "" });
    let open = overdue || any_refused || (!d.action_items.is_empty() && d.status.is_closed());
    let body = view! {
        <p class="hint">
            "A SEV-1/SEV-2 closes only with at least one item that improves a test, an alert, a runbook or the "
            "architecture, and every item owned and dated."
        </p>
        <table class="grid">
            <thead><tr><th>"Action"</th><th>"Owner and due date"</th><th>"Type"</th><th>"Status"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
        <AddItem shown=shown.clone()/>
    }
    .into_any();
    fold("action-items", "Action items", summary, open, body)
}

fn row(shown: &Shown, item: &ActionItem) -> AnyView {
    let f = ActionItemForm::FIELDS;
    let s = ActionItemStatusForm::FIELDS;
    let key = item.action_item_id.to_string();
    let base = shown.action(&format!("action-items/{key}"));
    let refused = rejected::<ActionItemForm>(Some(&key));
    let refused_status = rejected::<ActionItemStatusForm>(Some(&key));
    let form = form_or(&refused, || item.to_form());
    let overdue = item.overdue.then(|| view! { <span class="badge tone-bad">"overdue"</span> });
    let (may, open) = (shown.may_review, item.status == ActionItemStatus::Open);
    // Owner and due date are edited in place; after CLOSED too.
    let edit = (may && open).then(|| {
        view! {
            <form method="post" action=base.clone() class="inline-form">
                {notice(&refused)}
                <input type="hidden" name=f.version value=item.version.to_string()/>
                <input type="hidden" name=f.action value=form.action.clone()/>
                <input type="hidden" name=f.item_type value=form.item_type.clone()/>
                <input type="hidden" name=f.category value=form.category.clone()/>
                <input type="text" name=f.owner aria-label="Owner" placeholder="owner" value=form.owner.clone()/>
                {message_at(&refused, f.owner)}
                <input type="date" name=f.due_date aria-label="Due date" value=form.due_date.clone()/>
                {message_at(&refused, f.due_date)}
                <button type="submit">"Save"</button>
            </form>
        }
    });
    let shown_owner = view! {
        <span>{item.owner.clone().unwrap_or_else(|| "no owner".into())} " · "
            {item.due_date.map(|d| d.to_string()).unwrap_or_else(|| "no due date".into())} " " {overdue}</span>
    };
    let toggle = may.then(|| {
        let (to, label) = if open { ("DONE", "Mark done") } else { ("OPEN", "Reopen") };
        view! {
            <form method="post" action=format!("{base}/status") class="inline-form">
                {notice(&refused_status)}
                <input type="hidden" name=s.version value=item.version.to_string()/>
                <input type="hidden" name=s.status value=to/>
                <button type="submit">{label}</button>
            </form>
        }
    });
    view! {
        <tr>
            <td>{item.action.clone()}</td>
            <td>{shown_owner} {edit}</td>
            <td>{item.item_type.name()} " · " {item.category.name()}</td>
            <td>{item.status.name()}</td>
            <td>{toggle}</td>
        </tr>
    }
    .into_any()
}

#[component]
fn AddItem(shown: Shown) -> impl IntoView {
    shown.may_review.then(|| {
        let f = ActionItemForm::FIELDS;
        let refused = rejected::<ActionItemForm>(Some(NEW));
        let form = form_or(&refused, ActionItemForm::default);
        let at = |field: &str| refused.as_ref().and_then(|r| r.at(field));
        view! {
            <details class="fold-inline" open=refused.is_some()>
                <summary>"Add an action item"</summary>
                {notice(&refused)}
                <form method="post" action=shown.action("action-items") class="form">
                    <TextField id="item-action" name=f.action label="Action (concrete: what will be done)"
                        value=form.action.clone() error=at(f.action) />
                    <TextField id="item-owner" name=f.owner label="Owner" value=form.owner.clone() error=at(f.owner) />
                    <TextField id="item-due_date" name=f.due_date label="Due date" kind="date" value=form.due_date.clone()
                        error=at(f.due_date) />
                    <SelectField id="item-item_type" name=f.item_type label="Type"
                        choices={choices::<incident::ActionItemType>(|t| t.name().to_string(), Some("Choose…"))}
                        selected=form.item_type.clone() error=at(f.item_type) />
                    <SelectField id="item-category" name=f.category label="Prevent / detect / recover"
                        choices={choices::<incident::ActionCategory>(|c| c.name().to_string(), Some("Choose…"))}
                        selected=form.category.clone() error=at(f.category) />
                    <button type="submit">"Add action item"</button>
                </form>
            </details>
        }
    })
}
