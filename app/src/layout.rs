//! The frame around every page: the header with the console's navigation, and the not-found page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_location;

use crate::error::set_status;

/// One area of the console. Areas that are not built yet are listed (so the shape of the console is
/// visible) but are not links: a link to an empty page would be a promise the console does not keep.
struct Area {
    label: &'static str,
    /// The area's page, once it exists.
    href: Option<&'static str>,
}

const AREAS: [Area; 9] = [
    Area { label: "Dashboard", href: None },
    Area { label: "Incidents", href: None },
    Area { label: "Orders", href: Some("/orders") },
    Area { label: "Repairs", href: None },
    Area { label: "Reconciliation", href: None },
    Area { label: "Diagnostics", href: None },
    Area { label: "Runbooks", href: None },
    Area { label: "Drills", href: None },
    Area { label: "Audit", href: None },
];

#[component]
pub fn Shell(children: Children) -> impl IntoView {
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/orders">
                <span class="brand-mark" aria-hidden="true">"◆"</span>
                "opsdeck"
            </a>
            <Navigation/>
        </header>
        <main id="main" class="content">{children()}</main>
        <footer class="footer">
            <span>"opsdeck — operations console for the CPQ/OMS platform"</span>
            <a href="/readyz">"Dependency status"</a>
        </footer>
    }
}

#[component]
fn Navigation() -> impl IntoView {
    let path = use_location().pathname.get_untracked();
    let items = AREAS
        .iter()
        .map(|area| match area.href {
            Some(href) => {
                let current = path == href || path.starts_with(&format!("{href}/"));
                view! {
                    <li>
                        <a class="nav-item" href=href aria-current=current.then_some("page")>
                            {area.label}
                        </a>
                    </li>
                }
                .into_any()
            }
            None => view! {
                <li>
                    <span class="nav-item nav-unavailable" aria-disabled="true" title="Not available yet">
                        {area.label}
                        <span class="nav-soon">"soon"</span>
                    </span>
                </li>
            }
            .into_any(),
        })
        .collect_view();
    view! {
        <nav class="nav" aria-label="Console">
            <ul>{items}</ul>
        </nav>
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
