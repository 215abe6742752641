//! `/admin`: what only an administrator does — check that the audit log was not rewritten behind the
//! console's back, and make a repair stricter for a tenant (so it needs a second person). The forms post to
//! `server::routes::admin`, each running one `ops` command.

use leptos::prelude::*;
use leptos_meta::Title;
use ops::audit::{self, Verification};
use ops::identity::Permission;
use ops::repair::{self, Policy, PolicyForm};
use platform::machine::Named;
use platform::tenants::Tenant;

use crate::error::{load_for_viewer, loaded, PageError};
use crate::fields::{SelectField, TextArea};
use crate::form::{form_or, notice, rejected};
use crate::repairs::{repair_choices, tenant_choices};
use crate::format::instant;

#[derive(Debug, Clone)]
struct AdminData {
    verification: Option<Verification>,
    policies: Vec<Policy>,
    tenants: Vec<Tenant>,
}

/// `/admin`.
#[component]
pub fn AdminPage() -> impl IntoView {
    let data = load_for_viewer(|viewer, pool| async move {
            if !viewer.actor.may(Permission::Administer) {
                return Err(PageError::new(ops::ErrorKind::NotAllowed, "Only an administrator may open the admin page."));
            }
            let verification = audit::last_verification(&pool, &viewer.actor).await?;
            let policies = repair::policies(&pool, &viewer.actor).await?;
            let tenants = ops::tenants::visible(&pool, &viewer.actor).await?;
            Ok::<_, PageError>(AdminData { verification, policies, tenants })
    });
    view! {
        <Title text="Admin"/>
        {loaded("Admin", data, render)}
    }
}

fn render(data: AdminData) -> AnyView {
    view! {
        <div class="page-head"><h1>"Admin"</h1></div>
        {chain(data.verification)}
        {policies(&data.policies, &data.tenants)}
    }
    .into_any()
}

/// The audit log's integrity: the last check's verdict on top, the button to check again.
fn chain(last: Option<Verification>) -> AnyView {
    let verdict = match &last {
        None => view! {
            <p class="notice notice-warn">"The audit log's hash chain has not been verified yet."</p>
        }
        .into_any(),
        Some(v) if v.holds => view! {
            <p class="notice notice-info">
                {format!("The chain held: {} lines checked by {} at {}.", v.lines_checked, v.by, instant(&v.at))}
            </p>
        }
        .into_any(),
        Some(v) => {
            let what = v.problem.map(|p| p.describe()).unwrap_or("the line does not match the chain");
            view! {
                <div class="notice notice-bad" role="alert">
                    <p><strong>{format!("The chain is broken at audit line {}", v.broken_at.unwrap_or_default())}</strong>
                       {format!(": {what}. Checked by {} at {}.", v.by, instant(&v.at))}</p>
                    <p>"Treat the evidence after that line as untrusted: declare a security incident, keep the database's "
                       "write-ahead log and backups, and find who had owner rights on the ops schema."</p>
                </div>
            }
            .into_any()
        }
    };
    view! {
        <section class="panel">
            <h2>"Audit log integrity"</h2>
            {verdict}
            <p class="hint">"Every audit line's hash covers its content and the line before it. Verifying recomputes "
               "the whole chain in the database and names the first line that was changed, removed or inserted. "
               "The check is itself audited."</p>
            <form method="post" action="/admin/audit/verify" class="inline-form">
                <button type="submit">"Verify the chain now"</button>
            </form>
        </section>
    }
    .into_any()
}

/// The repair policies in force, and the form to make a repair stricter (or back to its own risk).
fn policies(policies: &[Policy], tenants: &[Tenant]) -> AnyView {
    let refused = rejected::<PolicyForm>(None);
    let form = form_or(&refused, || PolicyForm { min_risk: "HIGH".into(), ..Default::default() });
    let at = |field: &str| refused.as_ref().and_then(|r| r.at(field));
    let f = PolicyForm::FIELDS;
    let tenant_name = |id: platform::ids::TenantId| {
        tenants.iter().find(|t| t.tenant_id == id).map(|t| t.name.clone()).unwrap_or_else(|| id.to_string())
    };
    let rows = if policies.is_empty() {
        view! { <p class="hint">"No policy: every repair runs at its own risk."</p> }.into_any()
    } else {
        let rows = policies
            .iter()
            .map(|p| {
                let title = repair::info(p.repair_type).map(|i| i.title).unwrap_or(p.repair_type.name());
                view! {
                    <tr>
                        <td>{tenant_name(p.tenant_id)}</td>
                        <td>{title}</td>
                        <td>{p.min_risk.name()}</td>
                        <td>{p.reason.clone()}</td>
                        <td>{p.changed_by.clone()}</td>
                        <td>{instant(&p.changed_at)}</td>
                    </tr>
                }
            })
            .collect_view();
        view! {
            <table class="grid">
                <thead><tr><th>"Tenant"</th><th>"Repair"</th><th>"At least"</th><th>"Why"</th><th>"Set by"</th><th>"When"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
        }
        .into_any()
    };
    let risk_choices = vec![
        ("HIGH".to_string(), "HIGH: a second person approves every run".to_string()),
        ("LOW".to_string(), "The repair's own risk (lifts a stricter policy)".to_string()),
    ];
    view! {
        <section class="panel">
            <h2>"Repair policies"</h2>
            {rows}
            <h3>"Change a policy"</h3>
            {notice(&refused)}
            <form method="post" action="/admin/repair-policies" class="form">
                <SelectField id="policy-tenant" name=f.tenant label="Tenant" choices=tenant_choices(tenants)
                    selected=form.tenant.clone() error=at(f.tenant) />
                <SelectField id="policy-repair" name=f.repair_type label="Repair" choices=repair_choices()
                    selected=form.repair_type.clone() error=at(f.repair_type) />
                <SelectField id="policy-risk" name=f.min_risk label="At least" choices=risk_choices
                    selected=form.min_risk.clone() error=at(f.min_risk) />
                <TextArea id="policy-reason" name=f.reason label="Why (at least 20 characters)" value=form.reason.clone()
                    error=at(f.reason) />
                <button type="submit">"Set the policy"</button>
            </form>
        </section>
    }
    .into_any()
}
