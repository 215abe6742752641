#![recursion_limit = "256"]
//! The console's pages: Leptos components rendered on the server, complete before they are sent.
//!
//! There is no client bundle and no hydration: every page is plain HTML and every form a plain HTML form,
//! so the console works with JavaScript off. Pages read through `platform`/`ops` query functions (no SQL
//! here) with the `PgPool` and the signed-in [`viewer::Viewer`] the server provides as context — the
//! viewer's actor goes into every `ops` call, which authorises it — and set their HTTP status through
//! [`error::set_status`].

#[cfg(not(feature = "ssr"))]
compile_error!("the app crate is server-rendered only: build it with its `ssr` feature (the default)");

pub mod admin;
pub mod checklists;
pub mod controls;
pub mod drills;
pub mod dashboards;
pub mod diagnostics;
pub mod error;
pub mod fields;
pub mod form;
pub mod format;
pub mod incidents;
mod layout;
mod me;
pub mod orders;
pub mod reconciliation;
pub mod repairs;
pub mod runbooks;
pub mod sign_in;
pub mod viewer;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

use admin::AdminPage;
use checklists::ChecklistsPage;
use controls::ControlsPage;
use dashboards::DashboardPage;
use drills::{DrillPage, DrillsPage};
use layout::{NotFound, Shell};
use diagnostics::DiagnosticsPage;
use incidents::{DeclareIncidentPage, IncidentPage, IncidentsPage};
use me::WhoAmIPage;
use orders::{OrderPermalinkPage, OrdersPage};
use reconciliation::{MismatchPage, ReconciliationPage, RunPage};
use repairs::{RepairPage, RepairsPage, RequestRepairPage};
use runbooks::{RunbookPage, RunbooksPage};

/// The HTML document around the app. Deliberately without `HydrationScripts`: nothing runs in the browser.
pub fn shell(_options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // A command refused for role or tenant scope answers with the refusal alone: the page behind the form
    // is not loaded again (the person may not be allowed to see it either, and that read would be a
    // second refusal they never asked for).
    let refused = use_context::<form::Submitted>().filter(|s| s.error.kind == ops::ErrorKind::NotAllowed);
    view! {
        <Stylesheet id="opsdeck" href="/style/opsdeck.css"/>
        <Link rel="icon" type_="image/svg+xml" href="/public/favicon.svg"/>
        <Title formatter=|text: String| if text.is_empty() { "opsdeck".to_string() } else { format!("{text} · opsdeck") }/>
        <Router>
            <Shell>
                {match refused {
                    Some(submitted) => view! { <Title text="Not allowed"/> <error::ErrorNotice error=submitted.error/> }.into_any(),
                    None => view! { <Pages/> }.into_any(),
                }}
            </Shell>
        </Router>
    }
}

/// Every page of the console, by address.
#[component]
fn Pages() -> impl IntoView {
    view! {
                <Routes fallback=NotFound>
                    <Route path=path!("/orders") view=OrdersPage/>
                    <Route path=path!("/orders/:tenant/:order_id") view=OrderPermalinkPage/>
                    <Route path=path!("/incidents") view=IncidentsPage/>
                    <Route path=path!("/incidents/new") view=DeclareIncidentPage/>
                    <Route path=path!("/incidents/:id") view=IncidentPage/>
                    <Route path=path!("/repairs") view=RepairsPage/>
                    <Route path=path!("/repairs/new") view=RequestRepairPage/>
                    <Route path=path!("/repairs/:id") view=RepairPage/>
                    <Route path=path!("/reconciliation") view=ReconciliationPage/>
                    <Route path=path!("/reconciliation/runs/:id") view=RunPage/>
                    <Route path=path!("/reconciliation/mismatches/:id") view=MismatchPage/>
                    <Route path=path!("/runbooks") view=RunbooksPage/>
                    <Route path=path!("/runbooks/:id") view=RunbookPage/>
                    <Route path=path!("/checklists") view=ChecklistsPage/>
                    <Route path=path!("/controls") view=ControlsPage/>
                    <Route path=path!("/dashboards") view=DashboardPage/>
                    <Route path=path!("/drills") view=DrillsPage/>
                    <Route path=path!("/drills/:id") view=DrillPage/>
                    <Route path=path!("/dashboards/:board") view=DashboardPage/>
                    <Route path=path!("/admin") view=AdminPage/>
                    <Route path=path!("/diagnostics") view=DiagnosticsPage/>
                    <Route path=path!("/me") view=WhoAmIPage/>
                </Routes>
    }
}
