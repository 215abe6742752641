//! Orders: look up one order of one tenant and see it whole — record, evidence and read model.
//!
//! `/orders` is the lookup form; `/orders?tenant=<uuid>&q=<id or number>` its result;
//! `/orders/<tenant>/<order_id>` the canonical address of one order. The form offers only the tenants in
//! the viewer's scope, and a lookup in any other tenant — however the address was made — is refused (403)
//! and audited by `ops::orders`.

mod detail;
mod form;
mod lookup;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};
use sqlx::PgPool;

pub use lookup::{LookupInput, OrderQuery, QUERY_FIELD, TENANT_FIELD};

use crate::error::{set_status, ErrorNotice, PageError};
use crate::viewer::require_viewer;
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
    let pool = use_context::<PgPool>();
    let viewer = require_viewer();
    // Loaded once per request; the Suspense below waits for it before the page is sent, so the status code
    // set while rendering the outcome is the one the response carries.
    let page = AsyncDerived::new(move || {
        let pool = pool.clone();
        let viewer = viewer.clone();
        let query = query.clone();
        async move {
            let viewer = viewer?;
            match pool {
                Some(pool) => lookup::load(pool, &viewer.actor, query).await,
                None => {
                    tracing::error!("no PgPool in the rendering context");
                    Err(PageError::internal())
                }
            }
        }
    });
    view! {
        <div class="page-head">
            <h1>"Orders"</h1>
            <p class="lede">
                "Look up one order by id or order number: its lines, transition history, outbox events, "
                "fulfillment requests and projection, as recorded now."
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
            <p class="hint">"Choose a tenant and enter an order id (UUID) or an order number such as SO-…"</p>
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
        Outcome::Found { tenant, detail, repairs } => {
            let title = format!("Order {}", detail.order.order_number);
            let resume = format!(
                "/repairs/new?type=resume-orchestration&tenant={}&entity={}",
                detail.order.tenant_id, detail.order.order_id
            );
            view! {
                <Title text=title/>
                <LookupForm tenants=tenants input=input error=None/>
                <OrderDetailView tenant=tenant detail=*detail/>
                <section class="panel" aria-labelledby="order-repairs-heading">
                    <h2 id="order-repairs-heading">"Repairs"</h2>
                    {crate::repairs::repair_rows(&repairs)}
                    <p><a class="button" href=resume>"Resume orchestration…"</a>
                        " " <span class="hint">"shows its dry-run first; nothing changes until it is requested and executed"</span></p>
                </section>
            }
            .into_any()
        }
    }
}
