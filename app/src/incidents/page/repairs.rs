//! The repairs linked to the incident — what was tried, what waits for approval, what worked — and the
//! way to request one for it.

use leptos::prelude::*;
use ops::identity::Permission;

use super::Shown;
use crate::repairs::repair_rows;

#[component]
pub(super) fn Repairs(shown: Shown) -> impl IntoView {
    let d = &shown.d;
    let may_request = !shown.closed() && use_context::<crate::viewer::Viewer>().is_some_and(|v| v.actor.may(Permission::RequestRepair));
    // With one tenant, the request form starts in it.
    let tenant = match d.tenants.as_slice() {
        [one] => format!("&tenant={}", one.tenant_id),
        _ => String::new(),
    };
    let request = may_request.then(|| {
        let href = format!("/repairs/new?incident={}{tenant}", d.incident_id);
        view! { <a class="button" href=href>"Request a repair for this incident"</a> }
    });
    (!shown.repairs.is_empty() || may_request).then(|| {
        view! {
            <section class="panel" aria-labelledby="repairs-heading">
                <h2 id="repairs-heading">{format!("Repairs ({})", shown.repairs.len())}</h2>
                {repair_rows(&shown.repairs)}
                {request}
            </section>
        }
    })
}
