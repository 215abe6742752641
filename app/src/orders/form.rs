//! The lookup form: a plain GET form, so it works without JavaScript and every result has an address.

use leptos::prelude::*;
use platform::ids::TenantId;
use platform::tenants::Tenant;

use super::lookup::{LookupInput, QUERY_FIELD, TENANT_FIELD};
use crate::error::PageError;

#[component]
pub fn LookupForm(tenants: Vec<Tenant>, input: LookupInput, error: Option<PageError>) -> impl IntoView {
    let selected = input.tenant.as_deref().and_then(|t| TenantId::parse(t).ok());
    let tenant_error = error.as_ref().and_then(|e| e.field_message(TENANT_FIELD));
    let query_error = error.as_ref().and_then(|e| e.field_message(QUERY_FIELD));
    let (tenant_invalid, query_invalid) = (tenant_error.is_some(), query_error.is_some());
    let options = tenants
        .into_iter()
        .map(|tenant| {
            let is_selected = selected == Some(tenant.tenant_id);
            view! {
                <option value=tenant.tenant_id.to_string() selected=is_selected>
                    {format!("{} ({})", tenant.name, tenant.slug)}
                </option>
            }
        })
        .collect_view();

    view! {
        <form class="lookup" method="get" action="/orders" role="search" aria-label="Order lookup">
            <div class="field" class:field-invalid=tenant_invalid>
                <label for="lookup-tenant">"Tenant"</label>
                <select
                    id="lookup-tenant"
                    name=TENANT_FIELD
                    aria-invalid=tenant_invalid.then_some("true")
                    aria-describedby=tenant_invalid.then_some("lookup-tenant-error")
                >
                    <option value="" selected=selected.is_none()>"Choose a tenant…"</option>
                    {options}
                </select>
                {tenant_error.map(|message| view! { <p class="field-error" id="lookup-tenant-error">{message}</p> })}
            </div>
            <div class="field field-grow" class:field-invalid=query_invalid>
                <label for="lookup-q">"Order or quote id / number, or business key"</label>
                <input
                    id="lookup-q"
                    name=QUERY_FIELD
                    type="text"
                    value=input.q.unwrap_or_default()
                    placeholder="SO-2026-000042, Q-…, 0193a5c2-…, or tenantId:orderId"
                    autocomplete="off"
                    spellcheck="false"
                    maxlength="200"
                    aria-invalid=query_invalid.then_some("true")
                    aria-describedby=query_invalid.then_some("lookup-q-error")
                />
                {query_error.map(|message| view! { <p class="field-error" id="lookup-q-error">{message}</p> })}
            </div>
            <div class="field field-action">
                <button type="submit">"Look up"</button>
            </div>
        </form>
    }
}
