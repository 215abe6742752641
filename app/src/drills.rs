//! `/drills`: the failure drills of lesson §22 — the one running now at the top, starting one, and past
//! drills with their scores. `/drills/<id>`: one drill — what broke and what to do while it runs (with
//! "end the cause" and "end the drill"), its §22.2 evaluation once it ended. Forms post to
//! `server::routes::drills`, each running one `ops::drill` command.

use chrono::Utc;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use ops::drill::{self, Answer, DrillEndForm, DrillRun, DrillStartForm, DrillStatus, DRILLS};
use ops::identity::Permission;
use platform::machine::Named;

use crate::error::{load_for_viewer, loaded, PageError};
use crate::fields::{SelectField, TextArea};
use crate::form::{form_or, notice, rejected};
use crate::format::{age, instant};
use crate::viewer::Viewer;

/// The address of a drill's page.
pub fn drill_path(id: uuid::Uuid) -> String {
    format!("/drills/{id}")
}

fn status_class(status: DrillStatus) -> &'static str {
    match status {
        DrillStatus::Recovered => "badge tone-ok",
        DrillStatus::Failed | DrillStatus::Aborted => "badge tone-bad",
        _ => "badge tone-active",
    }
}

fn duration(seconds: Option<i64>) -> String {
    match seconds {
        Some(s) if s < 120 => format!("{s} s"),
        Some(s) => format!("{} min {} s", s / 60, s % 60),
        None => "—".to_string(),
    }
}

/// `/drills`.
#[component]
pub fn DrillsPage() -> impl IntoView {
    let data = load_for_viewer(|viewer, pool| async move {
        let drills = drill::list_drills(&pool, &viewer.actor, 50).await?;
        Ok::<_, PageError>((viewer, drills))
    });
    view! {
        <Title text="Drills"/>
        {loaded("Drills", data, |(viewer, drills)| render_list(viewer, drills))}
    }
}

fn render_list(viewer: Viewer, drills: Vec<DrillRun>) -> AnyView {
    let now = Utc::now();
    let active: Vec<&DrillRun> = drills.iter().filter(|d| d.is_active()).collect();
    let running = (!active.is_empty()).then(|| {
        let items = active
            .iter()
            .map(|d| {
                view! {
                    <li><a href=drill_path(d.drill_id)>{d.spec().title}</a>
                        {format!(" — started {} by {}", age(&d.started_at, &now), d.started_by)}</li>
                }
            })
            .collect_view();
        view! {
            <section class="callout tone-bad" aria-labelledby="running-heading">
                <h2 id="running-heading">"A drill is running"</h2>
                <ul>{items}</ul>
            </section>
        }
    });
    let may = viewer.actor.may(Permission::ManageIncident);
    let start = may.then(start_form);
    let rows = drills
        .iter()
        .map(|d| {
            let eval = d.evaluation.as_ref();
            view! {
                <tr>
                    <td><a href=drill_path(d.drill_id)>{d.spec().title}</a></td>
                    <td><span class=status_class(d.status)>{d.status.name()}</span></td>
                    <td>{instant(&d.started_at)}</td>
                    <td>{d.started_by.clone()}</td>
                    <td class="num">{d.score.map(|s| format!("{s}/7")).unwrap_or_else(|| "—".into())}</td>
                    <td class="num">{duration(eval.and_then(|e| e.time_to_detect_seconds))}</td>
                    <td class="num">{duration(eval.and_then(|e| e.time_to_recover_seconds))}</td>
                </tr>
            }
        })
        .collect_view();
    let past = if drills.is_empty() {
        view! { <p>"No drill has been run yet. Runbooks that are never practised are fiction: start one."</p> }.into_any()
    } else {
        view! {
            <table class="grid">
                <thead><tr><th>"Drill"</th><th>"Outcome"</th><th>"Started"</th><th>"By"</th><th class="num">"Score"</th>
                    <th class="num">"Time to detect"</th><th class="num">"Time to recover"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    view! {
        <div class="page-head">
            <h1>"Drills"</h1>
            <p class="lede">"Break a real order on purpose, in the drill tenant, and recover it through the console. Each drill ends with the lesson's seven questions answered from the evidence."</p>
        </div>
        {running}
        {start}
        <section aria-labelledby="past-heading">
            <h2 id="past-heading">"Drills run"</h2>
            {past}
        </section>
    }
    .into_any()
}

fn start_form() -> AnyView {
    let f = DrillStartForm::FIELDS;
    let mine = rejected::<DrillStartForm>(None);
    let form = form_or(&mine, DrillStartForm::default);
    let choices = std::iter::once((String::new(), "Choose a drill…".to_string()))
        .chain(DRILLS.iter().map(|d| {
            let scope = if d.platform_wide { " (platform-wide: needs every tenant)" } else { "" };
            (d.drill.name().to_string(), format!("{}{scope}", d.title))
        }))
        .collect();
    let catalogue = DRILLS
        .iter()
        .map(|d| view! { <div><dt>{d.title}</dt><dd>{d.breaks} " " <a href=format!("/runbooks/{}", d.runbook)>"Runbook"</a></dd></div> })
        .collect_view();
    view! {
        <section class="panel" aria-labelledby="start-heading">
            <h2 id="start-heading">"Start a drill"</h2>
            {notice(&mine)}
            <form method="post" action="/drills" class="form">
                <SelectField id="drill-drill" name=f.drill label="Drill" choices=choices selected=form.drill.clone()
                    error=mine.as_ref().and_then(|r| r.at(f.drill)) />
                <button type="submit">"Start it: break the platform now"</button>
            </form>
            <details>
                <summary>"What each drill breaks"</summary>
                <dl class="facts">{catalogue}</dl>
            </details>
        </section>
    }
    .into_any()
}

/// `/drills/<id>`.
#[component]
pub fn DrillPage() -> impl IntoView {
    let id = use_params_map().get_untracked().get("id").unwrap_or_default();
    let data = load_for_viewer(move |viewer, pool| {
        let id = id.clone();
        async move {
            let drill_id = uuid::Uuid::parse_str(&id).map_err(|_| PageError::no_such("drill", &id))?;
            let run = drill::drill_detail(&pool, &viewer.actor, drill_id).await?;
            Ok::<_, PageError>((viewer, run))
        }
    });
    view! { {loaded("Drill", data, |(viewer, run)| render_detail(viewer, run))} }
}

fn render_detail(viewer: Viewer, d: DrillRun) -> AnyView {
    let spec = d.spec();
    let now = Utc::now();
    let may = viewer.actor.may(Permission::ManageIncident);
    let head = match d.status {
        DrillStatus::Running | DrillStatus::Broken => format!("Running for {} — find what is broken and recover it through the console.", age(&d.started_at, &now).trim_end_matches(" ago")),
        DrillStatus::Recovered => format!("Recovered — score {}/7.", d.score.unwrap_or(0)),
        DrillStatus::Failed => match &d.evaluation {
            Some(_) => format!("Not recovered — score {}/7.", d.score.unwrap_or(0)),
            None => "The fault could not be injected: nothing was broken.".to_string(),
        },
        DrillStatus::Aborted => "Aborted.".to_string(),
    };
    let incident = d.incident_id.map(|i| view! { <a href=format!("/incidents/{i}")>"the drill's incident"</a> });
    let repairs = (!spec.repairs.is_empty()).then(|| format!("Repairs that recover it: {}.", spec.repairs.join(", ")));
    let fault_on = d.fault.as_ref().is_some_and(|f| f.ended_at.is_none());
    let working = (d.is_active() && may).then(|| {
        let stop = fault_on.then(|| {
            view! {
                <form method="post" action=format!("/drills/{}/fault-end", d.drill_id) class="inline-form">
                    <button type="submit" class="button-quiet">"End the cause now (the outage, the blocker)"</button>
                    <span class="muted">" Recorded on the incident; for drills without a repair this is the recovery."</span>
                </form>
            }
        });
        view! { {stop} {end_form(&d)} }
    });
    let evaluation = d.evaluation.as_ref().map(|e| {
        let rows = e
            .questions
            .iter()
            .map(|q| {
                let tone = match q.answer {
                    Answer::Yes => "badge tone-ok",
                    Answer::No => "badge tone-bad",
                    Answer::Unknown => "badge",
                };
                view! { <tr><th scope="row">{q.question.clone()}</th><td><span class=tone>{q.answer.label()}</span></td><td>{q.evidence.clone()}</td></tr> }
            })
            .collect_view();
        view! {
            <section class="panel" aria-labelledby="evaluation-heading">
                <h2 id="evaluation-heading">{format!("Evaluation (§22.2): {}/7", e.score)}</h2>
                <p>{format!("Time to detect: {} · time to recover: {}", duration(e.time_to_detect_seconds), duration(e.time_to_recover_seconds))}</p>
                <table class="grid"><tbody>{rows}</tbody></table>
                {(!e.notes.is_empty()).then(|| view! { <p><strong>"Notes: "</strong>{e.notes.clone()}</p> })}
            </section>
        }
    });
    // The entity is what the operator must find: shown once the drill ended.
    let entity = (!d.is_active()).then(|| {
        d.entity_id.map(|id| view! { <p class="muted">{format!("The broken entity was {} {id}.", d.entity_type.clone().unwrap_or_default())}</p> })
    });
    view! {
        <Title text=format!("Drill: {}", spec.title)/>
        <div class="page-head">
            <h1>{format!("Drill: {}", spec.title)}</h1>
            <p><span class=status_class(d.status)>{d.status.name()}</span> " " {head}</p>
        </div>
        <section class="panel" aria-labelledby="what-heading">
            <h2 id="what-heading">"What broke and what to do"</h2>
            <p><strong>"Broken: "</strong>{spec.breaks}</p>
            <p><strong>"Goal: "</strong>{spec.goal}</p>
            <p>{repairs} " " <a href=format!("/runbooks/{}", spec.runbook)>"Open the runbook"</a> " · " {incident} " · " <a href="/dashboards">"Dashboards"</a></p>
            <p class="muted">{format!("Started {} by {}", instant(&d.started_at), d.started_by)}
                {d.finished_at.map(|f| format!(" · ended {} by {}", instant(&f), d.finished_by.clone().unwrap_or_default()))}</p>
            {entity}
        </section>
        {working}
        {evaluation}
    }
    .into_any()
}

fn end_form(d: &DrillRun) -> AnyView {
    let f = DrillEndForm::FIELDS;
    let mine = rejected::<DrillEndForm>(None);
    let form = form_or(&mine, DrillEndForm::default);
    let at = |field: &str| mine.as_ref().and_then(|r| r.at(field));
    let choices = vec![
        (String::new(), "Choose…".to_string()),
        ("YES".to_string(), "Yes — it led me to the fix".to_string()),
        ("PARTLY".to_string(), "Partly — something was missing or wrong".to_string()),
        ("NO".to_string(), "No — it was wrong".to_string()),
    ];
    view! {
        <section class="panel" aria-labelledby="end-heading">
            <h2 id="end-heading">"End the drill"</h2>
            <p>"The console answers what its records can (alert, entity found, recovery, audit, dashboards, no SQL surgery); you answer for the runbook. A runbook that was wrong becomes an action item."</p>
            {notice(&mine)}
            <form method="post" action=format!("/drills/{}/end", d.drill_id) class="form">
                <SelectField id="drill-runbook_accurate" name=f.runbook_accurate label="Was the runbook accurate?" choices=choices
                    selected=form.runbook_accurate.clone() error=at(f.runbook_accurate) />
                <TextArea id="drill-runbook_gap" name=f.runbook_gap label="What did the runbook get wrong?" value=form.runbook_gap.clone()
                    error=at(f.runbook_gap) />
                <TextArea id="drill-notes" name=f.notes label="Notes" value=form.notes.clone() error=at(f.notes) />
                <button type="submit">"End the drill and score it"</button>
            </form>
        </section>
    }
    .into_any()
}
