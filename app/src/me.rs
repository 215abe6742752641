//! "Who am I": the identity every command receives — subject, names, roles, what they allow, tenant
//! scope — and the session it came with. What an approver's signature will carry, shown before it counts.

use leptos::prelude::*;
use leptos_meta::Title;
use ops::identity::TenantScope;
use platform::tenants::Tenant;
use sqlx::PgPool;

use crate::error::{set_status, ErrorNotice, PageError};
use crate::format::{instant, instant_attr};
use crate::viewer::{require_viewer, Viewer};

/// `/me`.
#[component]
pub fn WhoAmIPage() -> impl IntoView {
    let pool = use_context::<PgPool>();
    let viewer = require_viewer();
    let page = AsyncDerived::new(move || {
        let pool = pool.clone();
        let viewer = viewer.clone();
        async move {
            let viewer = viewer?;
            let pool = pool.ok_or(PageError::internal())?;
            let tenants = ops::tenants::visible(&pool, &viewer.actor).await?;
            Ok::<_, PageError>((viewer, tenants))
        }
    });
    view! {
        <Title text="Who am I"/>
        <div class="page-head">
            <h1>"Who am I"</h1>
            <p class="lede">
                "The identity the console acts under for you: what the audit log records and what every command checks."
            </p>
        </div>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match page.await {
                    Ok((viewer, tenants)) => view! { <Identity viewer=viewer tenants=tenants/> }.into_any(),
                    Err(error) => {
                        set_status(error.status());
                        view! { <ErrorNotice error=error/> }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[component]
fn Identity(viewer: Viewer, tenants: Vec<Tenant>) -> impl IntoView {
    let Viewer { actor, display_name, email, signed_in_at, session_ends_at, idle_ends_at } = viewer;
    let roles = actor.roles.iter().map(|r| view! { <li class="badge tone-active">{r.as_str()}</li> }).collect_view();
    let permissions = actor.permissions().into_iter().map(|p| view! { <li class="mono">{p.as_str()}</li> }).collect_view();
    let scope = match actor.tenants {
        TenantScope::All => view! { <p>"All tenants (" <code>"*"</code> ")"</p> }.into_any(),
        TenantScope::Only(ref ids) if ids.is_empty() => view! { <p class="none">"No tenant"</p> }.into_any(),
        TenantScope::Only(_) => ().into_any(),
    };
    let tenant_items = tenants
        .into_iter()
        .map(|t| view! { <li>{format!("{} ({})", t.name, t.slug)} <span class="sub mono">{t.tenant_id.to_string()}</span></li> })
        .collect_view();
    view! {
        <dl class="facts identity">
            <div><dt>"Name"</dt><dd>{display_name}</dd></div>
            <div><dt>"Login name"</dt><dd class="mono">{actor.name.clone()}</dd></div>
            <div><dt>"Subject"</dt><dd class="mono">{actor.subject.clone()}</dd></div>
            <div><dt>"E-mail"</dt><dd>{email.unwrap_or_else(|| "—".to_string())}</dd></div>
            <div><dt>"Roles"</dt><dd><ul class="inline-list" aria-label="Roles">{roles}</ul></dd></div>
            <div><dt>"May"</dt><dd><ul class="inline-list" aria-label="Permissions">{permissions}</ul></dd></div>
            <div>
                <dt>"Tenants"</dt>
                <dd>{scope}<ul class="plain-list" aria-label="Tenants">{tenant_items}</ul></dd>
            </div>
            <div><dt>"Signed in"</dt><dd><time datetime=instant_attr(&signed_in_at)>{instant(&signed_in_at)}</time></dd></div>
            <div>
                <dt>"Session ends"</dt>
                <dd>
                    <time datetime=instant_attr(&session_ends_at)>{instant(&session_ends_at)}</time>
                    <div class="sub">
                        "or at " <time datetime=instant_attr(&idle_ends_at)>{instant(&idle_ends_at)}</time>
                        " if idle until then"
                    </div>
                </dd>
            </div>
        </dl>
    }
}
