//! Orders: look up one order of one tenant and see it whole — record, evidence and read model.
//!
//! `/orders` is the lookup form; `/orders?tenant=<uuid>&q=<id or number>` its result;
//! `/orders/<tenant>/<order_id>` the canonical address of one order. The form offers only the tenants in
//! the viewer's scope, and a lookup in any other tenant — however the address was made — is refused (403)
//! and audited by `ops::orders`.

mod detail;
mod form;
mod lookup;
mod story;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

pub use lookup::{LookupInput, OrderQuery, QUERY_FIELD, TENANT_FIELD};

use crate::error::{set_status, ErrorNotice, PageError};
use crate::error::load_for_viewer;
use detail::OrderDetailView;
use form::LookupForm;
use lookup::{OrdersPageData, Outcome};

/// `/orders` and `/orders?tenant=…&q=…`.
#[component]
pub fn OrdersPage() -> impl IntoView {
    let params = use_query_map().get_untracked();
    let input = LookupInput { tenant: params.get(TENANT_FIELD), q: params.get(QUERY_FIELD) };
    let query = (!input.is_blank()).then(|| input.parse());
    view! { <OrderLookup input=input query=query/> }
}

/// `/orders/<tenant>/<order_id>`.
#[component]
pub fn OrderPermalinkPage() -> impl IntoView {
    let params = use_params_map().get_untracked();
    let tenant = params.get("tenant").unwrap_or_default();
    let order_id = params.get("order_id").unwrap_or_default();
    let query = lookup::parse_permalink(&tenant, &order_id);
    let input = LookupInput { tenant: Some(tenant), q: Some(order_id) };
    view! { <OrderLookup input=input query=Some(query)/> }
}

#[component]
fn OrderLookup(input: LookupInput, query: Option<Result<OrderQuery, PageError>>) -> impl IntoView {
    let services = use_context::<ops::repair::Services>();
    // Loaded once per request; the Suspense below waits for it before the page is sent, so the status code
    // set while rendering the outcome is the one the response carries.
    let page = load_for_viewer(move |viewer, pool| {
        let query = query.clone();
        let engine = services.as_ref().map(|s| s.engine.clone());
        async move {
            let engine = engine.ok_or_else(PageError::internal)?;
            lookup::load(pool, &engine, &viewer.actor, query).await
        }
    });
    view! {
        <div class="page-head">
            <h1>"Orders"</h1>
            <p class="lede">
                "Order 360: one order seen whole — where its chain stopped and what fits to repair it, then its "
                "quote and approvals, lines, transitions, outbox events, projection, process instances and "
                "fulfillment requests, as recorded now."
            </p>
        </div>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || {
                let input = input.clone();
                Suspend::new(async move { render_outcome(page.await, input) })
            }}
        </Suspense>
    }
}

fn render_outcome(page: Result<OrdersPageData, PageError>, input: LookupInput) -> AnyView {
    let OrdersPageData { tenants, outcome } = match page {
        Ok(page) => page,
        Err(error) => {
            set_status(error.status());
            return view! { <Title text="Orders"/> <ErrorNotice error=error/> }.into_any();
        }
    };
    match outcome {
        Outcome::Blank => view! {
            <Title text="Orders"/>
            <LookupForm tenants=tenants input=input error=None/>
            <p class="hint">"Choose a tenant and enter an order id or number (SO-…), its quote's id or number (Q-…), or the engine's business key tenantId:orderId (then the tenant may stay empty)."</p>
        }
        .into_any(),
        Outcome::Failed(error) => {
            set_status(error.status());
            // Field errors are shown at their fields; other failures get a notice below the form.
            let notice =
                (!error.is_invalid()).then(|| view! { <ErrorNotice error=error.clone()/> });
            view! {
                <Title text="Orders"/>
                <LookupForm tenants=tenants input=input error=Some(error)/>
                {notice}
            }
            .into_any()
        }
        Outcome::Found { tenant, seen } => {
            let seen = *seen;
            let title = format!("Order {}", seen.detail.order.order_number);
            view! {
                <Title text=title/>
                <LookupForm tenants=tenants input=input error=None/>
                {story::verdict_panel(&seen)}
                <OrderDetailView tenant=tenant detail=seen.detail.clone()/>
                {story::engine_panel(&seen)}
                {story::quote_panel(&seen)}
                {story::concerns_panel(&seen)}
            }
            .into_any()
        }
    }
}
