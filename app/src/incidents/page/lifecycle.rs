//! The lifecycle step the incident allows now (mitigate, resolve, close, reopen), each with its reason.

use leptos::prelude::*;
use ops::incident::{IncidentCommand, LifecycleForm};
use platform::machine::Named;

use super::Shown;
use crate::form::{message_at, notice, rejected};

fn label(command: IncidentCommand) -> &'static str {
    match command {
        IncidentCommand::Mitigate => "Mark mitigated",
        IncidentCommand::Resolve => "Mark resolved",
        IncidentCommand::Close => "Close",
        IncidentCommand::Reopen => "Reopen",
    }
}

#[component]
pub(super) fn Lifecycle(shown: Shown) -> impl IntoView {
    shown.may_manage.then(|| {
        let f = LifecycleForm::FIELDS;
        let forms = shown
            .d
            .next_commands
            .iter()
            .map(|&command| {
                let name = command.name();
                // A refused step keeps its reason and shows the message beside it.
                let refused = rejected::<LifecycleForm>(Some(name));
                let reason = refused.as_ref().map(|r| r.form.reason.clone()).unwrap_or_default();
                let id = format!("lifecycle-{}-reason", name.to_ascii_lowercase());
                view! {
                    <form method="post" action=shown.action("lifecycle")
                        class=format!("inline-form lifecycle-{}", name.to_ascii_lowercase())>
                        {notice(&refused)}
                        <input type="hidden" name=f.version value=shown.d.version.to_string()/>
                        <input type="hidden" name=f.command value=name/>
                        <label for=id.clone()>"Reason"</label>
                        <input type="text" id=id name=f.reason value=reason required minlength="10"/>
                        <button type="submit">{label(command)}</button>
                        {message_at(&refused, f.reason)}
                    </form>
                }
            })
            .collect_view();
        view! { <div class="lifecycle">{forms}</div> }
    })
}
