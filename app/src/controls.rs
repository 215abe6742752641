//! `/controls`: the platform's mitigation switches — what is on now (top: what customers cannot do, since
//! when, who, why, for which incident), turning one on or off, and the consumer pause register (§11.4).
//! Every page also carries [`ControlsBanner`] while a switch is on. Forms post to
//! `server::routes::controls`, which runs `ops::control::set_control`.

use leptos::prelude::*;
use leptos_meta::Title;
use ops::control::{self, ConsumerPause, ControlForm, Switch, SwitchView};
use ops::identity::Permission;
use ops::incident::IncidentSummary;
use ops::release::ReleaseForm;
use platform::release::Release;
use platform::machine::Named;
use platform::tenants::Tenant;
use sqlx::PgPool;

use crate::error::{load_for_viewer, loaded, PageError};
use crate::fields::{SelectField, TextArea, TextField};
use crate::form::{form_or, notice, rejected};
use crate::format::instant;
use crate::repairs::tenant_choices;
use crate::viewer::{use_viewer, Viewer};

/// Which of the page's forms a posted [`ControlForm`] came from: "on", or the switch a "Turn off" form
/// names. The handler keys the refused form with it, so its messages land on the form that was used.
pub fn form_key(form: &ControlForm) -> String {
    match form.state.trim() {
        "off" => format!("off:{}:{}:{}", form.switch.trim(), form.tenant.trim(), form.group.trim()),
        _ => "on".to_string(),
    }
}

/// Where a switch applies, in words: "acme", "every tenant", "group order-projection".
fn scope(s: &SwitchView, tenants: &[Tenant]) -> String {
    match (s.switch, s.tenant_id, &s.target) {
        (Switch::Consumer, _, Some(group)) => format!("group {group}"),
        (_, Some(t), _) => tenants.iter().find(|x| x.tenant_id == t).map(|x| x.name.clone()).unwrap_or_else(|| t.to_string()),
        (Switch::Relay, None, _) => "every tenant".to_string(),
        _ => "every tenant".to_string(),
    }
}

/// The line every page shows while switches are on: customer-impacting ones first, each with its effect
/// and a link to the controls page. Nothing when all is off (or nobody is signed in).
#[component]
pub fn ControlsBanner() -> impl IntoView {
    let Some(viewer) = use_viewer() else { return ().into_any() };
    let on = AsyncDerived::new(move || {
        let viewer = viewer.clone();
        async move {
            let pool = use_context::<PgPool>()?;
            control::switches(&pool, &viewer.actor, true).await.ok()
        }
    });
    view! {
        <Suspense fallback=|| ()>
            {move || Suspend::new(async move {
                let Some(mut on) = on.await.filter(|on| !on.is_empty()) else { return ().into_any() };
                on.sort_by_key(|s| !s.switch.customer_impacting());
                let customer = on.iter().any(|s| s.switch.customer_impacting());
                let items = on
                    .iter()
                    .map(|s| {
                        let what = match (&s.target, s.tenant_id) {
                            (Some(group), _) => format!("{} ({group})", s.switch.title()),
                            (None, Some(t)) => format!("{} (tenant {})", s.switch.title(), &t.to_string()[..8]),
                            (None, None) => s.switch.title().to_string(),
                        };
                        view! { <li><strong>{what}</strong> " — " {s.switch.effect()} {format!(" · since {}", instant(&s.changed_at))}</li> }
                    })
                    .collect_view();
                let headline = if customer { "Customer-impacting flows disabled" } else { "Platform flows paused" };
                view! {
                    <aside class="banner" class:banner-bad=customer role="status" aria-label="Mitigations in force">
                        <strong>{headline}</strong>
                        <ul class="plain">{items}</ul>
                        <a href="/controls">"See and change the controls"</a>
                    </aside>
                }
                .into_any()
            })}
        </Suspense>
    }
    .into_any()
}

#[derive(Debug, Clone)]
struct ControlsData {
    viewer: Viewer,
    switches: Vec<SwitchView>,
    pauses: Vec<ConsumerPause>,
    tenants: Vec<Tenant>,
    incidents: Vec<IncidentSummary>,
    releases: Vec<Release>,
}

/// `/controls`.
#[component]
pub fn ControlsPage() -> impl IntoView {
    let data = load_for_viewer(|viewer, pool| async move {
            let switches = control::switches(&pool, &viewer.actor, false).await?;
            let pauses = control::consumer_pauses(&pool, &viewer.actor, 20).await?;
            let tenants = ops::tenants::visible(&pool, &viewer.actor).await?;
            let incidents = if viewer.actor.may(Permission::ChangeControl) {
                ops::incident::open_incidents(&pool, &viewer.actor, None).await?
            } else {
                Vec::new()
            };
            let releases = ops::release::releases(&pool, &viewer.actor).await?;
            Ok::<_, PageError>(ControlsData { viewer, switches, pauses, tenants, incidents, releases })
    });
    view! {
        <Title text="Controls"/>
        {loaded("Controls", data, render)}
    }
}

fn incident_choices(incidents: &[IncidentSummary]) -> Vec<(String, String)> {
    std::iter::once((String::new(), "Choose the incident it mitigates…".to_string()))
        .chain(incidents.iter().map(|i| {
            (i.incident_id.to_string(), format!("INC-{} · {} · {} · {}", i.incident_number, i.severity.label(), i.status.name(), i.summary))
        }))
        .collect()
}

fn render(data: ControlsData) -> AnyView {
    let ControlsData { viewer, switches, pauses, tenants, incidents, releases } = data;
    let may = viewer.actor.may(Permission::ChangeControl);
    let refused = rejected::<ControlForm>(None);
    let (on, off): (Vec<_>, Vec<_>) = switches.into_iter().partition(|s| s.on);
    let verdict = if on.is_empty() {
        view! { <p class="notice notice-info">"No mitigation is in force: every flow of the platform runs."</p> }.into_any()
    } else {
        let customer = on.iter().filter(|s| s.switch.customer_impacting()).count();
        view! {
            <p class="notice notice-warn">
                {format!("{} switch{} on", on.len(), if on.len() == 1 { " is" } else { "es are" })}
                {(customer > 0).then(|| format!(", {customer} of them customer-impacting"))}
                ". Turn each off when its resume condition holds."
            </p>
        }
        .into_any()
    };
    let in_force = on
        .iter()
        .map(|s| {
            let off_form = may.then(|| turn_off_form(s));
            let pause = s.pause.as_ref().map(|p| {
                view! {
                    <dl class="facts">
                        <div><dt>"Topic"</dt><dd class="mono">{p.topic.clone()}</dd></div>
                        <div><dt>"Partitions"</dt><dd>{p.partitions.as_ref().map(|ps| ps.iter().map(|x| x.to_string()).collect::<Vec<_>>().join(", ")).unwrap_or_else(|| "all".into())}</dd></div>
                        <div><dt>"Owner"</dt><dd>{p.owner.clone()}</dd></div>
                        <div><dt>"Resume when"</dt><dd>{p.expected_resume_condition.clone()}</dd></div>
                        <div><dt>"Customer impact"</dt><dd>{p.customer_impact.clone()}</dd></div>
                    </dl>
                }
            });
            view! {
                <article class="panel control-on">
                    <h3>{s.switch.title()} " — " {scope(s, &tenants)}</h3>
                    <p><strong>{s.switch.effect()}</strong></p>
                    <p class="muted">{format!("Since {} by {}: {}", instant(&s.changed_at), s.changed_by, s.reason)}
                        {s.incident_id.map(|i| view! { " · " <a href=format!("/incidents/{i}")>"the incident"</a> })}</p>
                    {pause}
                    {off_form}
                </article>
            }
        })
        .collect_view();
    let history = off
        .iter()
        .map(|s| {
            view! {
                <tr>
                    <td>{s.switch.title()}</td>
                    <td>{scope(s, &tenants)}</td>
                    <td>{instant(&s.changed_at)}</td>
                    <td>{s.changed_by.clone()}</td>
                    <td>{s.reason.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let turn_on = may.then(|| turn_on_form(&tenants, &incidents));
    view! {
        <div class="page-head"><h1>"Controls"</h1></div>
        {verdict}
        {notice(&refused.filter(|r| r.error.kind != ops::ErrorKind::Invalid))}
        <section aria-labelledby="in-force-heading">
            <h2 id="in-force-heading">"In force now"</h2>
            {in_force}
        </section>
        {release_panel(&releases, &tenants, &incidents, may)}
        {turn_on}
        <section class="panel" aria-labelledby="pauses-heading">
            <h2 id="pauses-heading">"Consumer pauses (§11.4)"</h2>
            {pause_register(&pauses)}
        </section>
        <details class="panel">
            <summary>"Switches that are off (last change)"</summary>
            <table class="grid">
                <thead><tr><th>"Switch"</th><th>"Scope"</th><th>"Turned off"</th><th>"By"</th><th>"Why"</th></tr></thead>
                <tbody>{history}</tbody>
            </table>
        </details>
    }
    .into_any()
}

fn turn_off_form(s: &SwitchView) -> AnyView {
    let f = ControlForm::FIELDS;
    let posted = ControlForm {
        switch: s.switch.name().to_string(),
        state: "off".into(),
        tenant: s.tenant_id.map(|t| t.to_string()).unwrap_or_default(),
        group: s.target.clone().unwrap_or_default(),
        ..Default::default()
    };
    let mine = rejected::<ControlForm>(Some(&form_key(&posted)));
    let at = |field: &str| mine.as_ref().and_then(|r| r.at(field));
    let reason = mine.as_ref().map(|r| r.form.reason.clone()).unwrap_or_default();
    let id = format!("off-{}", s.control_key.to_ascii_lowercase().replace([':', '_'], "-"));
    view! {
        <form method="post" action="/controls" class="form">
            {notice(&mine.clone().filter(|r| r.error.kind == ops::ErrorKind::Invalid))}
            <input type="hidden" name=f.switch value=s.switch.name()/>
            <input type="hidden" name=f.state value="off"/>
            <input type="hidden" name=f.tenant value=s.tenant_id.map(|t| t.to_string()).unwrap_or_default()/>
            <input type="hidden" name=f.group value=s.target.clone().unwrap_or_default()/>
            <input type="hidden" name=f.incident_id value=s.incident_id.map(|i| i.to_string()).unwrap_or_default()/>
            <TextArea id=format!("{id}-reason") name=f.reason label="Why it can be turned off (at least 10 characters)"
                value=reason error=at(f.reason) />
            <button type="submit">"Turn off"</button>
        </form>
    }
    .into_any()
}

/// Releases per tenant (lesson §16): what serves each tenant now — a defective one on top, with the way
/// out (rollback or roll-forward) — and the history below.
fn release_panel(releases: &[Release], tenants: &[Tenant], incidents: &[IncidentSummary], may: bool) -> AnyView {
    let tenant_name = |t: platform::ids::TenantId| {
        tenants.iter().find(|x| x.tenant_id == t).map(|x| x.name.clone()).unwrap_or_else(|| t.to_string())
    };
    let mut seen = std::collections::HashSet::new();
    let serving: Vec<&Release> = releases.iter().filter(|r| seen.insert(r.tenant_id)).collect();
    let bad: Vec<&&Release> = serving.iter().filter(|r| r.is_defective()).collect();
    let verdict = if bad.is_empty() {
        view! { <p class="muted">{format!("No tenant runs a release with a known defect (tenants without a row run the baseline {}).", platform::release::BASELINE)}</p> }.into_any()
    } else {
        bad.iter()
            .map(|r| {
                view! {
                    <p class="notice notice-warn">
                        {format!("Release {} serves {} and breaks '{}': {}. Roll back to {} or forward to a fixed build, then retry the stalled orders' steps (retry-engine-job). ",
                            r.version, tenant_name(r.tenant_id), r.defect_topic.clone().unwrap_or_default(),
                            r.defect_message.clone().unwrap_or_default(), r.replaces.clone().unwrap_or_default())}
                        <a href="/runbooks/bad-deployment">"Runbook: bad deployment"</a>
                    </p>
                }
            })
            .collect_view()
            .into_any()
    };
    let rows = releases
        .iter()
        .map(|r| {
            view! {
                <tr>
                    <td>{tenant_name(r.tenant_id)}</td>
                    <td class="mono">{r.version.clone()}</td>
                    <td>{r.kind.clone()}</td>
                    <td class="mono">{r.replaces.clone().unwrap_or_default()}</td>
                    <td>{r.defect_topic.clone().map(|t| format!("breaks {t}")).unwrap_or_default()}</td>
                    <td>{instant(&r.deployed_at)}</td>
                    <td>{r.deployed_by.clone()}</td>
                    <td>{r.reason.clone()}</td>
                </tr>
            }
        })
        .collect_view();
    let change = may.then(|| release_form(tenants, incidents));
    view! {
        <section class="panel" id="releases" aria-labelledby="releases-heading">
            <h2 id="releases-heading">"Releases"</h2>
            {verdict}
            {change}
            <details>
                <summary>"Release history"</summary>
                <table class="grid">
                    <thead><tr><th>"Tenant"</th><th>"Version"</th><th>"Kind"</th><th>"Replaced"</th><th>"Defect"</th><th>"When"</th><th>"By"</th><th>"Why"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </details>
        </section>
    }
    .into_any()
}

fn release_form(tenants: &[Tenant], incidents: &[IncidentSummary]) -> AnyView {
    let f = ReleaseForm::FIELDS;
    let mine = rejected::<ReleaseForm>(None);
    let form = form_or(&mine, || ReleaseForm { choice: "rollback".into(), ..Default::default() });
    let at = |field: &str| mine.as_ref().and_then(|r| r.at(field));
    let choices = vec![
        ("rollback".to_string(), "Roll back to the version it replaced".to_string()),
        ("roll-forward".to_string(), "Roll forward to a fixed version".to_string()),
    ];
    let mut incident_list = incident_choices(incidents);
    incident_list[0].1 = "No incident (or choose the one it recovers)".to_string();
    view! {
        {notice(&mine)}
        <form method="post" action="/controls/releases" class="form">
            <SelectField id="release-tenant" name=f.tenant label="Tenant" choices=tenant_choices(tenants) selected=form.tenant.clone()
                error=at(f.tenant) />
            <SelectField id="release-choice" name=f.choice label="Way out" choices=choices selected=form.choice.clone()
                error=at(f.choice) />
            <TextField id="release-version" name=f.version label="Fixed version (roll forward only)" value=form.version.clone()
                error=at(f.version) />
            <SelectField id="release-incident" name=f.incident_id label="Incident" choices=incident_list
                selected=form.incident_id.clone() error=at(f.incident_id) />
            <TextArea id="release-reason" name=f.reason label="Why (at least 10 characters; the rollback safety checklist of §16.2 goes on the incident)"
                value=form.reason.clone() error=at(f.reason) />
            <button type="submit">"Change the release"</button>
        </form>
    }
    .into_any()
}

fn turn_on_form(tenants: &[Tenant], incidents: &[IncidentSummary]) -> AnyView {
    let f = ControlForm::FIELDS;
    let mine = rejected::<ControlForm>(Some("on"));
    let form = form_or(&mine, || ControlForm { state: "on".into(), group: "order-projection".into(), ..Default::default() });
    let at = |field: &str| mine.as_ref().and_then(|r| r.at(field));
    let switches = std::iter::once((String::new(), "Choose a switch…".to_string()))
        .chain(Switch::ALL.iter().map(|s| (s.name().to_string(), format!("{} — {}", s.title(), s.effect()))))
        .collect();
    let mut tenant_list = tenant_choices(tenants);
    tenant_list[0].1 = "Every tenant (orchestration starts only)".to_string();
    let no_incident = incidents.is_empty().then(|| {
        view! {
            <p class="notice notice-warn">"No incident is open: a mitigation belongs to one. "
                <a href="/incidents/new">"Declare it"</a> " first."</p>
        }
    });
    view! {
        <section class="panel" aria-labelledby="turn-on-heading">
            <h2 id="turn-on-heading">"Turn a switch on"</h2>
            {no_incident}
            {notice(&mine.clone().filter(|r| r.error.kind == ops::ErrorKind::Invalid))}
            <form method="post" action="/controls" class="form">
                <input type="hidden" name=f.state value="on"/>
                <SelectField id="control-switch" name=f.switch label="Switch" choices=switches selected=form.switch.clone()
                    error=at(f.switch) />
                <SelectField id="control-tenant" name=f.tenant label="Tenant" choices=tenant_list selected=form.tenant.clone()
                    error=at(f.tenant) />
                <SelectField id="control-incident" name=f.incident_id label="Incident" choices=incident_choices(incidents)
                    selected=form.incident_id.clone() error=at(f.incident_id) />
                <TextArea id="control-reason" name=f.reason label="Why (at least 10 characters)" value=form.reason.clone()
                    error=at(f.reason) />
                <fieldset>
                    <legend>"For a consumer pause (lesson §11.4)"</legend>
                    <TextField id="control-group" name=f.group label="Consumer group" value=form.group.clone() error=at(f.group) />
                    <TextField id="control-partitions" name=f.partitions label="Partitions (empty: all)" value=form.partitions.clone()
                        error=at(f.partitions) />
                    <TextField id="control-owner" name=f.owner label="Owner" value=form.owner.clone() error=at(f.owner) />
                    <TextArea id="control-expected_resume_condition" name=f.expected_resume_condition label="Resume when"
                        value=form.expected_resume_condition.clone() error=at(f.expected_resume_condition) />
                    <TextArea id="control-customer_impact" name=f.customer_impact label="What customers notice"
                        value=form.customer_impact.clone() error=at(f.customer_impact) />
                </fieldset>
                <button type="submit">"Turn on"</button>
            </form>
        </section>
    }
    .into_any()
}

fn pause_register(pauses: &[ConsumerPause]) -> AnyView {
    if pauses.is_empty() {
        return view! { <p class="hint">"No consumer was ever paused from the console."</p> }.into_any();
    }
    let rows = pauses
        .iter()
        .map(|p| {
            view! {
                <tr>
                    <td>{p.consumer_group.clone()}</td>
                    <td class="mono">{p.topic.clone()}</td>
                    <td>{p.owner.clone()}</td>
                    <td>{p.reason.clone()}</td>
                    <td>{p.expected_resume_condition.clone()}</td>
                    <td>{instant(&p.started_at)}</td>
                    <td>{match (&p.resumed_at, &p.resumed_by) {
                        (Some(at), Some(by)) => format!("{} by {by}", instant(at)),
                        _ => "still paused".to_string(),
                    }}</td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <table class="grid">
            <thead><tr><th>"Group"</th><th>"Topic"</th><th>"Owner"</th><th>"Why"</th><th>"Resume when"</th><th>"Paused"</th><th>"Resumed"</th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
    .into_any()
}
