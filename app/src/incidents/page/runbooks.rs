//! The runbooks that fit the incident, at the top: each with why it fits, opened with the incident, its
//! tenant and the first order or quote it names already in place for the runbook's diagnostics and
//! repair buttons.

use leptos::prelude::*;
use ops::incident::EntityType;

use super::Shown;
use crate::runbooks::runbook_path;

#[component]
pub(super) fn Runbooks(shown: Shown) -> impl IntoView {
    let d = &shown.d;
    let suggestions = ops::runbook::suggest(d);
    let first = |kind: EntityType| {
        d.entities.iter().find(|e| e.entity.entity_type == kind).map(|e| e.entity.entity_id.to_string()).unwrap_or_default()
    };
    let tenant = match d.tenants.as_slice() {
        [one] => one.tenant_id.to_string(),
        _ => String::new(),
    };
    let context = vec![
        ("incident", d.incident_id.to_string()),
        ("tenant_id", tenant),
        ("order_id", first(EntityType::Order)),
        ("quote_id", first(EntityType::Quote)),
    ];
    let items = suggestions
        .iter()
        .take(3)
        .map(|s| {
            let href = runbook_path(&s.runbook.front.id, &context);
            view! {
                <li><a href=href>{s.runbook.front.title.clone()}</a> " " <span class="hint">{s.because.join("; ")}</span></li>
            }
        })
        .collect_view();
    let body = if suggestions.is_empty() {
        view! { <p class="hint">"No runbook matches its words yet: " <a href="/runbooks">"pick one"</a> "."</p> }.into_any()
    } else {
        view! { <ul class="plain">{items}</ul> }.into_any()
    };
    view! {
        <section class="panel" aria-labelledby="runbooks-heading">
            <h2 id="runbooks-heading">"Runbooks that fit"</h2>
            {body}
        </section>
    }
}
