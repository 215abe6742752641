//! The incident's story: the timeline (people's notes and what the console did), and the note form.

use leptos::prelude::*;
use ops::incident::{EventKind, NoteForm};

use super::{fold, incident_path, Shown};
use crate::fields::{options, TextArea};
use crate::form::{form_or, notice, rejected};
use crate::format::instant;

#[component]
pub(super) fn AddNote(shown: Shown) -> impl IntoView {
    (shown.may_manage && !shown.closed()).then(|| {
        let f = NoteForm::FIELDS;
        let refused = rejected::<NoteForm>(None);
        let form = form_or(&refused, NoteForm::default);
        view! {
            <form method="post" action=shown.action("notes") class="form note-form">
                {notice(&refused)}
                <TextArea id="note-text" name=f.text label="Add a note to the timeline" value=form.text.clone()
                    rows=2 error=refused.as_ref().and_then(|r| r.at(f.text)) />
                <input type="hidden" name=f.entity_ids value=form.entity_ids.clone()/>
                <button type="submit">"Add note"</button>
            </form>
        }
    })
}

#[component]
pub(super) fn Timeline(shown: Shown, filter: String) -> impl IntoView {
    let d = &shown.d;
    let events = d
        .timeline
        .iter()
        .rev()
        .map(|e| {
            let kind = match e.kind {
                EventKind::Human => "badge tone-active",
                EventKind::System => "badge",
            };
            view! {
                <li>
                    <time>{instant(&e.occurred_at)}</time> " "
                    <span class=kind>{e.kind.as_str()}</span> " "
                    <strong>{e.actor.clone()}</strong> " " {e.headline.clone()}
                </li>
            }
        })
        .collect_view();
    let choices = vec![
        (String::new(), "All events".to_string()),
        ("human".to_string(), "People".to_string()),
        ("system".to_string(), "System".to_string()),
    ];
    let count = d.timeline.len();
    let body = view! {
        <form method="get" action=incident_path(d.incident_id) class="inline-form">
            <label>"Show " <select name="timeline">{options(choices, &filter)}</select></label>
            <button type="submit">"Filter"</button>
        </form>
        <ol class="timeline" reversed=true>{events}</ol>
    }
    .into_any();
    fold("timeline", "Timeline", format!("{count} event(s), newest first"), true, body)
}
