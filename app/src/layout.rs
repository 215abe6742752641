//! The frame around every page: the header with the console's navigation and the signed-in person, and
//! the not-found page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;
use ops::identity::Permission;

use crate::error::set_status;
use crate::viewer::{use_viewer, Viewer};

/// One area of the console, listed in the navigation only for viewers who may use it. Areas join this
/// list when they are built: a link to an empty page, or to one that would refuse, is a promise the
/// console does not keep.
struct Area {
    label: &'static str,
    href: &'static str,
    /// What the area needs; `None`: any signed-in person.
    needs: Option<Permission>,
}

const AREAS: [Area; 11] = [
    Area { label: "Dashboards", href: "/dashboards", needs: Some(Permission::Read) },
    Area { label: "Diagnostics", href: "/diagnostics", needs: Some(Permission::Read) },
    Area { label: "Orders", href: "/orders", needs: Some(Permission::Read) },
    Area { label: "Incidents", href: "/incidents", needs: Some(Permission::Read) },
    Area { label: "Repairs", href: "/repairs", needs: Some(Permission::Read) },
    Area { label: "Reconciliation", href: "/reconciliation", needs: Some(Permission::Read) },
    Area { label: "Runbooks", href: "/runbooks", needs: Some(Permission::Read) },
    Area { label: "Controls", href: "/controls", needs: Some(Permission::Read) },
    Area { label: "Drills", href: "/drills", needs: Some(Permission::Read) },
    Area { label: "Admin", href: "/admin", needs: Some(Permission::Administer) },
    Area { label: "Who am I", href: "/me", needs: None },
];

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    let viewer = use_viewer();
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/orders">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                "opsdeck"
            </a>
            <Navigation viewer=viewer.clone()/>
            {viewer.map(|viewer| view! { <SignedIn viewer=viewer/> })}
        </header>
        <crate::controls::ControlsBanner/>
        <main id="main" class="content">{children()}</main>
        <footer class="footer">
            <span>"opsdeck — operations console for the CPQ/OMS platform"</span>
            <a href="/readyz">"Dependency status"</a>
        </footer>
    }
}

#[component]
fn Navigation(viewer: Option<Viewer>) -> impl IntoView {
    let path = use_location().pathname.get_untracked();
    let items = AREAS
        .iter()
        .filter(|area| match (&viewer, area.needs) {
            (None, _) => false,
            (Some(_), None) => true,
            (Some(viewer), Some(permission)) => viewer.actor.may(permission),
        })
        .map(|area| {
            let current = path == area.href || path.starts_with(&format!("{}/", area.href));
            view! {
                <li>
                    <a class="nav-item" href=area.href aria-current=current.then_some("page")>
                        {area.label}
                    </a>
                </li>
            }
        })
        .collect_view();
    view! {
        <nav class="nav" aria-label="Console">
            <ul>{items}</ul>
        </nav>
    }
}

/// Who is signed in, with their roles, and the way out: a plain POST form, so it works without JavaScript
/// and cannot be triggered by a link from elsewhere.
#[component]
fn SignedIn(viewer: Viewer) -> impl IntoView {
    let roles = viewer.actor.roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ");
    view! {
        <div class="whoami">
            <a class="whoami-name" href="/me" title=viewer.actor.name.clone()>{viewer.display_name.clone()}</a>
            <span class="whoami-roles" aria-label="Roles">{roles}</span>
            <form class="signout" method="post" action="/auth/logout">
                <button type="submit" class="button-quiet">"Sign out"</button>
            </form>
        </div>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    set_status(axum::http::StatusCode::NOT_FOUND);
    let path = use_location().pathname.get_untracked();
    view! {
        <Title text="Not found"/>
        <section class="notice notice-info" role="alert">
            <h1>"Page not found"</h1>
            <p>"There is no page at " <code>{path}</code> "."</p>
            <p><a href="/orders">"Look up an order"</a></p>
        </section>
    }
}
