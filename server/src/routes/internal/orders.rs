//! `whoami` and order reads of the internal API.

use axum::extract::{Path, State};
use axum::Json;
use ops::identity::{Actor, TenantScope};
use platform::ids::{OrderId, TenantId};
use platform::query::{OrderLookup, OrderSummary};
use serde::Serialize;

use crate::auth::service::Service;
use crate::error::{Error, Result};
use crate::startup::AppState;

/// Who the token says is calling, as the console understands it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WhoAmI {
    pub subject: String,
    pub name: String,
    pub kind: &'static str,
    pub roles: Vec<&'static str>,
    /// `"*"` or the tenant ids.
    #[schema(value_type = Object)]
    pub tenants: serde_json::Value,
    pub permissions: Vec<&'static str>,
}

impl From<&Actor> for WhoAmI {
    fn from(actor: &Actor) -> Self {
        WhoAmI {
            subject: actor.subject.clone(),
            name: actor.name.clone(),
            kind: actor.kind.as_str(),
            roles: actor.roles.iter().map(|r| r.as_str()).collect(),
            tenants: match &actor.tenants {
                TenantScope::All => serde_json::json!("*"),
                TenantScope::Only(ids) => serde_json::json!(ids),
            },
            permissions: actor.permissions().into_iter().map(|p| p.as_str()).collect(),
        }
    }
}

/// `GET /internal/v1/whoami`.
#[utoipa::path(get, path = "/whoami", tag = "identity",
    responses((status = 200, description = "The calling service", body = WhoAmI), (status = 401, description = "No or a refused token")),
    security(("serviceAuth" = [])))]
#[tracing::instrument(name = "internal.whoami", skip_all, fields(actor = %service.0.subject))]
pub async fn whoami(service: Service) -> Json<WhoAmI> {
    Json(WhoAmI::from(&service.0))
}

/// `GET /internal/v1/orders/{tenant}/{order_id}`: the order's summary, if the service may read the tenant.
#[utoipa::path(get, path = "/orders/{tenant}/{order_id}", tag = "orders",
    params(("tenant" = uuid::Uuid, Path, description = "Tenant id"), ("order_id" = uuid::Uuid, Path, description = "Order id")),
    responses((status = 200, description = "The order", body = Object), (status = 403, description = "Outside the service's scope"),
        (status = 404, description = "No such order"), (status = 422, description = "Ids that are not ids")),
    security(("serviceAuth" = ["ops.read"])))]
#[tracing::instrument(name = "internal.order", skip_all, fields(actor = %service.0.subject, %tenant, %order_id))]
pub async fn order(
    State(state): State<AppState>,
    service: Service,
    Path((tenant, order_id)): Path<(String, String)>,
) -> Result<Json<OrderSummary>> {
    let tenant_id = TenantId::parse(&tenant).map_err(|_| Error::Invalid(format!("{tenant:?} is not a tenant id")))?;
    let order_id = OrderId::parse(&order_id).map_err(|_| Error::Invalid(format!("{order_id:?} is not an order id")))?;
    let detail = ops::orders::order_detail(&state.pool, &service.0, tenant_id, &OrderLookup::Id(order_id))
        .await?
        .ok_or_else(|| Error::NotFound(format!("no order {order_id} in tenant {tenant_id}")))?;
    Ok(Json(detail.order))
}
