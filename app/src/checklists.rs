//! Checklists as forms: the questions with yes / no / unknown (the safe answer marked), a note, and the
//! latest record's verdict with who answered when. On the incident page (rollback safety, replay) and at
//! `/checklists` (production readiness, with what the console observes itself). Forms post to
//! `server::routes::checklists`, which runs `ops::checklist::record_checklist`.

use leptos::prelude::*;
use leptos_meta::Title;
use ops::checklist::{self, Answer, Checklist, ChecklistForm, ChecklistRecord, Observed};
use ops::identity::Permission;
use platform::machine::Named;

use crate::error::{load_for_viewer, loaded, PageError};
use crate::form::{notice, rejected};
use crate::format::instant;

/// Where a checklist's form posts.
pub fn action(checklist: Checklist) -> String {
    format!("/checklists/{}", checklist.name())
}

/// The form of `checklist`, filled with the refused post, else the latest record, else what the console
/// observed; `incident` goes with it.
pub fn checklist_form(
    checklist: Checklist,
    incident: Option<String>,
    latest: Option<&ChecklistRecord>,
    observed: &[Observed],
    may_record: bool,
) -> AnyView {
    let refused = rejected::<ChecklistForm>(Some(checklist.name()));
    let at = |field: &str| refused.as_ref().and_then(|r| r.at(field));
    let answer_of = |key: &str| -> String {
        if let Some(r) = &refused {
            return r.form.get(key).to_string();
        }
        if let Some(answer) = latest.and_then(|l| l.answers.0.get(key)) {
            return answer.name().to_string();
        }
        observed.iter().find(|o| o.key == key).map(|o| o.answer.name().to_string()).unwrap_or_default()
    };
    let verdict = latest.map(|l| {
        let good = checklist.items().iter().all(|i| l.answers.0.get(i.key) == Some(&i.safe));
        let class = if good { "notice notice-info" } else { "notice notice-warn" };
        view! {
            <p class=class><strong>{l.verdict.clone()}</strong>
                {format!(" Recorded by {} at {}.", l.answered_by, instant(&l.answered_at))}
                {l.note.clone().map(|n| format!(" Note: {n}"))}</p>
        }
    });
    let rows = checklist
        .items()
        .iter()
        .map(|item| {
            let chosen = answer_of(item.key);
            let seen = observed.iter().find(|o| o.key == item.key);
            let radios = Answer::ALL
                .iter()
                .map(|a| {
                    let id = format!("{}-{}-{}", checklist.name(), item.key, a.name().to_lowercase());
                    let safe = (*a == item.safe).then_some(" (safe)");
                    let label_for = id.clone();
                    view! {
                        <label for=label_for class="radio">
                            <input type="radio" id=id name=item.key value=a.name() checked=chosen == a.name() disabled=!may_record/>
                            {a.name().to_lowercase()} {safe}
                        </label>
                    }
                })
                .collect_view();
            let invalid = at(item.key).is_some();
            let error = at(item.key).map(|m| view! { <p class="field-error" role="alert">{m}</p> });
            let evidence = seen.map(|o| view! { <small class="hint">{format!("Observed: {}", o.evidence)}</small> });
            view! {
                <fieldset class="checklist-item" class:field-invalid=invalid>
                    <legend>{item.question}</legend>
                    {radios}
                    {evidence}
                    {error}
                </fieldset>
            }
        })
        .collect_view();
    let note = refused.as_ref().map(|r| r.form.get(ChecklistForm::NOTE).to_string()).unwrap_or_default();
    let submit = may_record.then(|| {
        view! {
            <div class="field">
                <label for=format!("{}-note", checklist.name())>"Note"</label>
                <textarea id=format!("{}-note", checklist.name()) name=ChecklistForm::NOTE>{crate::fields::textarea_text(&note)}</textarea>
            </div>
            <button type="submit">"Record the answers"</button>
        }
    });
    view! {
        {verdict}
        {notice(&refused)}
        <form method="post" action=action(checklist) class="form checklist">
            <input type="hidden" name=ChecklistForm::INCIDENT value=incident.unwrap_or_default()/>
            {rows}
            {submit}
        </form>
    }
    .into_any()
}

#[derive(Debug, Clone)]
struct ReadinessData {
    observed: Vec<Observed>,
    latest: Option<ChecklistRecord>,
    may_record: bool,
}

/// `/checklists`: production readiness, platform-wide.
#[component]
pub fn ChecklistsPage() -> impl IntoView {
    let data = load_for_viewer(|viewer, pool| async move {
        let observed = checklist::readiness(&pool, &viewer.actor).await?;
        let latest = checklist::latest_records(&pool, &viewer.actor, None)
            .await?
            .into_iter()
            .find(|r| r.checklist == Checklist::ProductionReadiness.name());
        Ok::<_, PageError>(ReadinessData { observed, latest, may_record: viewer.actor.may(Permission::ManageIncident) })
    });
    view! {
        <Title text="Production readiness"/>
        {loaded("Production readiness", data, |d| {
            let gaps = d.observed.iter().filter(|o| o.answer != Answer::Yes).count();
            view! {
                <div class="page-head"><h1>"Production readiness (§24)"</h1></div>
                <p class="lede">{format!("The console observes {} of the questions itself; {gaps} of those are not met. \
                    The rest are for the people who run the platform to answer.", d.observed.len())}</p>
                <section class="panel">
                    {checklist_form(Checklist::ProductionReadiness, None, d.latest.as_ref(), &d.observed, d.may_record)}
                </section>
            }
            .into_any()
        })}
    }
}
