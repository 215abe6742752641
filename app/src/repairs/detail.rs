//! `/repairs/<id>`: one repair, whole — where it stands and who must act next at the top, then its
//! dry-run (before and proposed change), safety checklist, risk, decisions, outcome, re-check and evidence.

use chrono::Utc;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use ops::identity::Permission;
use ops::ids::RepairId;
use ops::repair::{self, DecisionForm, ExecuteForm, Repair, RepairStatus, Risk, Verdict};
use platform::machine::Named;
use sqlx::PgPool;

use super::parts::{checklist, json_view, risk_badge};
use crate::error::loaded;
use crate::error::PageError;
use crate::fields::TextArea;
use crate::form::{notice, rejected};
use crate::format::instant;
use crate::viewer::{require_viewer, Viewer};

/// The address of a repair's page.
pub fn repair_path(id: RepairId) -> String {
    format!("/repairs/{id}")
}

/// `/repairs/<id>`.
#[component]
pub fn RepairPage() -> impl IntoView {
    let id = use_params_map().get_untracked().get("id").unwrap_or_default();
    let viewer = require_viewer();
    let data = AsyncDerived::new(move || {
        let viewer = viewer.clone();
        let id = id.clone();
        async move {
            let viewer = viewer?;
            let repair_id =
                RepairId::parse(&id).map_err(|_| PageError::no_such("repair", &id))?;
            let pool = use_context::<PgPool>().ok_or_else(PageError::internal)?;
            let repair = repair::repair_detail(&pool, &viewer.actor, repair_id).await?;
            Ok::<_, PageError>((viewer, repair))
        }
    });
    view! {
        {loaded("Repair", data, |(viewer, repair)| render(viewer, repair))}
    }
}

fn status_class(status: RepairStatus) -> &'static str {
    match status {
        RepairStatus::Executed => "badge tone-good",
        RepairStatus::Failed | RepairStatus::Rejected => "badge tone-bad",
        _ => "badge tone-active",
    }
}

/// Where the repair stands and who acts next, in one sentence.
fn next_step(repair: &Repair) -> String {
    let now = Utc::now();
    match (repair.status, repair.risk) {
        (RepairStatus::Requested, Risk::Low) => {
            format!("Waiting for its requester, {}, to confirm the dry-run and execute it.", repair.requested_by)
        }
        (RepairStatus::Requested, Risk::High) => format!(
            "Waiting for an approver other than {} — requested {} minutes ago.",
            repair.requested_by,
            repair.age(now).num_minutes()
        ),
        (RepairStatus::Approved, _) => match repair.standing_approval(now) {
            Some(a) => format!(
                "Approved by {}{}: an operator executes it now.",
                a.approver,
                a.expires_at.map(|e| format!(" (the approval expires {})", instant(&e))).unwrap_or_default()
            ),
            None => "The approval expired: executing it will fail; request the repair again.".to_string(),
        },
        (RepairStatus::Rejected, _) => format!(
            "Rejected{}.",
            repair.approvals.last().and_then(|a| a.comment.clone()).map(|c| format!(": {c}")).unwrap_or_default()
        ),
        (RepairStatus::Executed, _) if repair.follow_ups.iter().any(|f| f.pending()) => format!(
            "Executed in the database; an engine call is still owed ({}) and is retried automatically — the \
             re-check runs once it is made.",
            repair.follow_ups.iter().filter(|f| f.pending()).map(|f| f.description.clone()).collect::<Vec<_>>().join("; ")
        ),
        (RepairStatus::Executed, _) => match &repair.recheck {
            Some(r) if r.coherent => "Executed, and the re-check found the entity coherent.".to_string(),
            Some(r) => format!(
                "Executed, but the re-check is NOT coherent: {}",
                r.checks.iter().filter(|c| c.verdict == Verdict::Fail).map(|c| c.detail.clone()).collect::<Vec<_>>().join("; ")
            ),
            None => "Executed; its re-check has not run yet.".to_string(),
        },
        (RepairStatus::Failed, _) => format!(
            "Failed: {}. Nothing of it stayed. Request it again if it is still needed.",
            repair.failure_reason.clone().unwrap_or_default()
        ),
    }
}

fn render(viewer: Viewer, repair: Repair) -> AnyView {
    let title = repair::info(repair.repair_type).map(|i| i.title).unwrap_or("Repair");
    let me = &viewer.actor;
    let in_scope = me.can_see_tenant(repair.tenant_id);
    let may_decide = repair.status == RepairStatus::Requested
        && repair.risk == Risk::High
        && me.may(Permission::ApproveRepair)
        && in_scope
        && repair.requested_by_subject != me.subject;
    let may_execute = me.may(Permission::RequestRepair)
        && in_scope
        && match (repair.status, repair.risk) {
            (RepairStatus::Requested, Risk::Low) => repair.requested_by_subject == me.subject,
            (RepairStatus::Approved, _) => true,
            _ => false,
        };
    let own_request = repair.status == RepairStatus::Requested && repair.risk == Risk::High && repair.requested_by_subject == me.subject;
    let path = repair_path(repair.repair_id);
    let decide = may_decide.then(|| decision_form(&repair, &path));
    let execute = may_execute.then(|| execute_form(&repair, &path));
    let own = own_request.then(|| view! { <p class="hint">"You requested it: another approver decides (nobody approves their own request)."</p> });
    let again = matches!(repair.status, RepairStatus::Failed | RepairStatus::Rejected).then(|| {
        let href = format!(
            "/repairs/new?type={}&tenant={}&entity={}&incident={}",
            repair.repair_type.name(),
            repair.tenant_id,
            repair.entity_id,
            repair.incident_id
        );
        view! { <p><a class="button" href=href>"Request it again"</a></p> }
    });
    let entity_link = if repair.entity_type == "ORDER" {
        view! { <a href=format!("/orders/{}/{}", repair.tenant_id, repair.entity_id)>{repair.entity_id.to_string()}</a> }.into_any()
    } else {
        view! { <span class="mono">{repair.entity_id.to_string()}</span> }.into_any()
    };
    let approvals = repair
        .approvals
        .iter()
        .map(|a| {
            view! {
                <tr>
                    <td>{instant(&a.decided_at)}</td>
                    <td>{a.decision.clone()}</td>
                    <td>{a.approver.clone()}</td>
                    <td>{a.comment.clone().unwrap_or_default()}</td>
                    <td>{a.expires_at.map(|e| instant(&e)).unwrap_or_default()}</td>
                </tr>
            }
        })
        .collect_view();
    let outcome = match (&repair.after_state, &repair.failure_reason) {
        (Some(after), _) => view! { <div><h3>"After"</h3>{json_view(after)}</div> }.into_any(),
        (None, Some(why)) => view! { <div><h3>"Failed"</h3><p>{why.clone()}</p></div> }.into_any(),
        _ => view! { <div><h3>"After"</h3><p class="muted">"not executed"</p></div> }.into_any(),
    };
    let recheck = repair.recheck.as_ref().map(|r| {
        view! {
            <section class="panel">
                <h2>"Re-check" " " <span class={if r.coherent { "badge tone-good" } else { "badge tone-bad" }}>{if r.coherent { "COHERENT" } else { "NOT COHERENT" }}</span></h2>
                {checklist(&r.checks)}
                <p class="muted">{repair.rechecked_at.map(|t| format!("at {}", instant(&t)))}</p>
            </section>
        }
    });
    // The engine calls the execution owed after its commit: made, or pending and retried.
    let follow_ups = (!repair.follow_ups.is_empty()).then(|| {
        let rows = repair
            .follow_ups
            .iter()
            .map(|f| {
                let (badge, state) = if f.pending() {
                    ("badge tone-bad", format!(
                        "PENDING — {} attempt(s){}; retried automatically",
                        f.attempts,
                        f.last_error.as_ref().map(|e| format!(", last: {e}")).unwrap_or_default()
                    ))
                } else {
                    ("badge tone-good", format!(
                        "done {}{}",
                        f.done_at.map(|t| instant(&t)).unwrap_or_default(),
                        f.outcome.as_ref().map(|o| format!(" — {o}")).unwrap_or_default()
                    ))
                };
                view! {
                    <tr>
                        <td>{f.description.clone()}</td>
                        <td><span class=badge>{if f.pending() { "PENDING" } else { "DONE" }}</span></td>
                        <td>{state}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <section class="panel">
                <h2>"Engine calls after the commit"</h2>
                <table class="grid">
                    <thead><tr><th>"Call"</th><th>"State"</th><th>"Detail"</th></tr></thead>
                    <tbody>{rows}</tbody>
                </table>
            </section>
        }
    });
    // The reconciliation mismatch the repair came from, and what its check said after the execution.
    let mismatch = repair.mismatch_id.map(|m| {
        let outcome = repair.mismatch_recheck.as_ref().map(|r| {
            let coherent = r["coherent"].as_bool().unwrap_or(false);
            view! {
                <p>
                    <span class={if coherent { "badge tone-good" } else { "badge tone-bad" }}>{r["status"].as_str().unwrap_or("").to_string()}</span>
                    " " {r["detail"].as_str().unwrap_or("").to_string()}
                </p>
            }
        });
        view! {
            <section class="panel">
                <h2>"Reconciliation mismatch"</h2>
                <p>"Requested from " <a href=format!("/reconciliation/mismatches/{m}")>"a reconciliation mismatch"</a>
                   "; its check re-runs for the entity after the execution."</p>
                {outcome}
            </section>
        }
    });
    let headline = format!("{title} — {}", repair.status.name());
    view! {
        <Title text=headline.clone()/>
        <div class="page-head">
            <h1>{title} " " <span class=status_class(repair.status)>{repair.status.name()}</span></h1>
            <p class="lede">{next_step(&repair)}</p>
        </div>
        {own}
        {decide}
        {execute}
        {again}
        <section class="panel">
            <h2>"Request"</h2>
            <dl class="facts">
                <div><dt>"Risk"</dt><dd>{risk_badge(repair.risk, &repair.risk_reasons)}</dd></div>
                <div><dt>"Entity"</dt><dd>{repair.entity_type.clone()} " " {entity_link} {repair.entity_version.map(|v| format!(" (version {v})"))}</dd></div>
                <div><dt>"Incident"</dt><dd><a href=format!("/incidents/{}", repair.incident_id)>"the incident"</a></dd></div>
                <div><dt>"Why"</dt><dd>{repair.reason.clone()}</dd></div>
                <div><dt>"Requested by"</dt><dd>{repair.requested_by.clone()} " · " {instant(&repair.created_at)}</dd></div>
                <div><dt>"Executed by"</dt><dd>{repair.executed_by.clone().unwrap_or_else(|| "—".into())} {repair.executed_at.map(|t| format!(" · {}", instant(&t)))}</dd></div>
                <div><dt>"Idempotency key"</dt><dd class="mono">{repair.idempotency_key.clone()}</dd></div>
                <div><dt>"Dry-run fingerprint"</dt><dd class="mono">{repair.proposed_change_hash.clone()}</dd></div>
            </dl>
        </section>
        <section class="panel">
            <h2>"Safety checks (at request)"</h2>
            {checklist(&repair.safety_checks)}
        </section>
        <section class="panel">
            <h2>"Before, proposed, after"</h2>
            <div class="diff">
                <div><h3>"Before"</h3>{json_view(&repair.before_state)}</div>
                <div><h3>"Proposed change"</h3>{json_view(&repair.proposed_change)}</div>
                {outcome}
            </div>
        </section>
        {follow_ups}
        {recheck}
        {mismatch}
        <section class="panel">
            <h2>"Decisions"</h2>
            <table class="grid">
                <thead><tr><th>"When"</th><th>"Decision"</th><th>"By"</th><th>"Why"</th><th>"Stands until"</th></tr></thead>
                <tbody>{approvals}</tbody>
            </table>
        </section>
    }
    .into_any()
}

fn decision_form(repair: &Repair, path: &str) -> AnyView {
    let f = DecisionForm::FIELDS;
    let refused = rejected::<DecisionForm>(None);
    let comment = refused.as_ref().map(|r| r.form.comment.clone()).unwrap_or_default();
    view! {
        <section class="panel actions">
            <h2>"Your decision"</h2>
            <p>"You approve the dry-run below (fingerprint " <span class="mono">{repair.proposed_change_hash[..12].to_string()}</span>
               "…): if the entity moves on before execution, your approval is void."</p>
            {notice(&refused)}
            <form method="post" action=format!("{path}/decision") class="form">
                <input type="hidden" name=f.proposed_change_hash value=repair.proposed_change_hash.clone()/>
                <TextArea id="decision-comment" name=f.comment label="Why (required to reject)" value=comment
                    error=refused.as_ref().and_then(|r| r.at(f.comment)) rows=2 />
                <button type="submit" name=f.decision value="APPROVE">"Approve"</button>
                " "
                <button type="submit" name=f.decision value="REJECT" class="button-quiet">"Reject"</button>
            </form>
        </section>
    }
    .into_any()
}

fn execute_form(repair: &Repair, path: &str) -> AnyView {
    let f = ExecuteForm::FIELDS;
    let refused = rejected::<ExecuteForm>(None);
    view! {
        <section class="panel actions">
            <h2>"Execute"</h2>
            <p>"The dry-run is computed again first: if anything differs from the one below, nothing is done."</p>
            {notice(&refused)}
            <form method="post" action=format!("{path}/execute") class="inline-form">
                <input type="hidden" name=f.confirm_hash value=repair.proposed_change_hash.clone()/>
                <button type="submit">"I confirm the dry-run: execute"</button>
            </form>
        </section>
    }
    .into_any()
}
