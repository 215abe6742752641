//! `/incidents/<id>?timeline=human|system`: one incident, for the person reading it at 3 a.m.
//!
//! At the top, what is wrong, who owns it and what is due next ([`now`]); then the actions used most —
//! the lifecycle step, a status update, a note — and the timeline; everything else (triage template,
//! impact, severity change, review, action items, past updates) is a click away in `<details>`, open by
//! itself when it is what the incident needs next (the review once resolved, an overdue action item).

mod action_items;
mod checklists;
mod impact;
mod lifecycle;
mod now;
mod repairs;
mod review;
mod runbooks;
mod severity;
mod timeline;
mod triage;
mod updates;

use std::sync::Arc;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use ops::identity::Permission;
use ops::incident::{self, IncidentDetail, IncidentId, IncidentStatus, TimelineFilter};
use platform::tenants::Tenant;

use super::{incident_path, pool_or_internal, severity_badge, status_badge};
use crate::error::loaded;
use crate::error::PageError;
use crate::viewer::{require_viewer, Viewer};

/// What every panel of the page works from.
#[derive(Debug, Clone)]
pub(super) struct Shown {
    pub d: Arc<IncidentDetail>,
    /// The tenants the viewer may act on (the triage form offers these).
    pub tenants: Arc<Vec<Tenant>>,
    /// Repairs linked to the incident, newest first.
    pub repairs: Arc<Vec<ops::repair::Repair>>,
    /// The latest record of each checklist recorded on the incident.
    pub checklists: Arc<Vec<ops::checklist::ChecklistRecord>>,
    pub may_manage: bool,
    pub may_post: bool,
    pub may_review: bool,
}

impl Shown {
    fn new(
        viewer: &Viewer,
        d: IncidentDetail,
        tenants: Vec<Tenant>,
        repairs: Vec<ops::repair::Repair>,
        checklists: Vec<ops::checklist::ChecklistRecord>,
    ) -> Self {
        Shown {
            d: Arc::new(d),
            tenants: Arc::new(tenants),
            repairs: Arc::new(repairs),
            checklists: Arc::new(checklists),
            may_manage: viewer.actor.may(Permission::ManageIncident),
            may_post: viewer.actor.may(Permission::PostStatusUpdate),
            may_review: viewer.actor.may(Permission::ManageReview),
        }
    }

    /// The form action of one of the incident's commands (`triage`, `lifecycle`, …).
    pub fn action(&self, command: &str) -> String {
        format!("{}/{command}", incident_path(self.d.incident_id))
    }

    pub fn closed(&self) -> bool {
        self.d.status.is_closed()
    }
}

/// `/incidents/<id>`.
#[component]
pub fn IncidentPage() -> impl IntoView {
    let id = use_params_map().get_untracked().get("id").unwrap_or_default();
    let filter_param = use_query_map().get_untracked().get("timeline");
    let filter = TimelineFilter::from_param(filter_param.as_deref());
    let viewer = require_viewer();
    let data = AsyncDerived::new(move || {
        let viewer = viewer.clone();
        let id = id.clone();
        async move {
            let viewer = viewer?;
            let incident_id = IncidentId::parse(&id).map_err(|_| PageError::no_such("incident", &id))?;
            let pool = pool_or_internal()?;
            let detail = incident::incident_detail(&pool, &viewer.actor, incident_id, filter).await?;
            let tenants = ops::tenants::visible(&pool, &viewer.actor).await?;
            let repairs = ops::repair::repairs_of_incident(&pool, &viewer.actor, incident_id).await?;
            let checklists = ops::checklist::latest_records(&pool, &viewer.actor, Some(incident_id)).await?;
            Ok::<_, PageError>(Shown::new(&viewer, detail, tenants, repairs, checklists))
        }
    });
    view! {
        {loaded("Incident", data, move |shown| render(shown, filter_param.clone()))}
    }
}

fn render(shown: Shown, filter_param: Option<String>) -> AnyView {
    let d = shown.d.clone();
    let title = format!("INC-{}", d.incident_number);
    let overdue = d.update_overdue.then(|| view! { <span class="badge tone-bad">"status update overdue"</span> });
    let review_open = matches!(d.status, IncidentStatus::Resolved) || d.review.is_some();
    view! {
        <Title text=title.clone()/>
        <div class="page-head incident-head">
            <h1>{title} " " {severity_badge(d.severity)} " " {status_badge(d.status)} " " {overdue}</h1>
            <p class="lede">{d.summary.clone()}</p>
        </div>
        <now::Now shown=shown.clone()/>
        <runbooks::Runbooks shown=shown.clone()/>
        <section class="panel actions" aria-labelledby="actions-heading">
            <h2 id="actions-heading">"Act"</h2>
            <lifecycle::Lifecycle shown=shown.clone()/>
            <updates::PostUpdate shown=shown.clone()/>
            <timeline::AddNote shown=shown.clone()/>
        </section>
        <repairs::Repairs shown=shown.clone()/>
        <timeline::Timeline shown=shown.clone() filter=filter_param.unwrap_or_default()/>
        <updates::History shown=shown.clone()/>
        <triage::TriagePanel shown=shown.clone()/>
        <impact::ImpactPanel shown=shown.clone()/>
        <severity::SeverityPanel shown=shown.clone()/>
        <checklists::Checklists shown=shown.clone()/>
        <review::ReviewPanel shown=shown.clone() open=review_open/>
        <action_items::ActionItems shown=shown/>
    }
    .into_any()
}

/// A `<details>` panel: open by itself when `open` (what the incident needs next, or a form of it came
/// back refused), a click away otherwise.
fn fold(id: &'static str, title: &'static str, summary: String, open: bool, body: AnyView) -> AnyView {
    view! {
        <details class="panel fold" id=id open=open>
            <summary>
                <h2>{title}</h2>
                <span class="fold-summary">{summary}</span>
            </summary>
            {body}
        </details>
    }
    .into_any()
}
