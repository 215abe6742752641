//! The order lookup: what the form sent, parsed at the edge, and the one query it calls.

use ops::identity::Actor;
use platform::ids::TenantId;
use platform::engine::EngineClient;
use platform::query::{InvalidOrderLookup, OrderLookup};
use platform::tenants::Tenant;
use sqlx::PgPool;

use ops::form::FieldErrors;

use crate::error::PageError;

/// A message for one field of the lookup form.
struct FieldError {
    field: &'static str,
    message: String,
}

/// Every field's message at once.
fn invalid(errors: impl IntoIterator<Item = FieldError>) -> PageError {
    let mut fields = FieldErrors::new();
    for e in errors {
        fields.add(e.field, e.message);
    }
    PageError::fields(fields)
}

/// Form field names, shared by the form and the parser so a message lands at the field it is about.
pub const TENANT_FIELD: &str = "tenant";
pub const QUERY_FIELD: &str = "q";

/// The lookup form's fields as sent (`/orders?tenant=…&q=…`), not yet trusted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupInput {
    pub tenant: Option<String>,
    pub q: Option<String>,
}

/// A lookup the database can answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderQuery {
    pub tenant_id: TenantId,
    pub lookup: OrderLookup,
}

impl LookupInput {
    /// The page was opened without a lookup: show the empty form.
    pub fn is_blank(&self) -> bool {
        self.tenant.is_none() && self.q.is_none()
    }

    /// Both fields are checked, so every mistake is reported at once.
    pub fn parse(&self) -> Result<OrderQuery, PageError> {
        let lookup = OrderLookup::parse(self.q.as_deref().unwrap_or_default()).map_err(|e| FieldError {
            field: QUERY_FIELD,
            message: match e {
                InvalidOrderLookup::Empty => "Enter an order id or an order number.".to_string(),
                InvalidOrderLookup::MalformedId { input } => format!("“{input}” is not a valid order id."),
                other @ (InvalidOrderLookup::TooLong | InvalidOrderLookup::ControlCharacters) => {
                    format!("{}.", capitalise(&other.to_string()))
                }
            },
        });
        // A business key names its tenant: the tenant field may stay empty.
        let tenant = match (&lookup, self.tenant.as_deref().unwrap_or_default().trim()) {
            (Ok(OrderLookup::BusinessKey { tenant, .. }), "") => Ok(*tenant),
            (_, given) => parse_tenant(given),
        };
        match (tenant, lookup) {
            (Ok(tenant_id), Ok(lookup)) => Ok(OrderQuery { tenant_id, lookup }),
            (tenant, lookup) => Err(invalid(tenant.err().into_iter().chain(lookup.err()))),
        }
    }
}

/// The canonical address `/orders/<tenant>/<order_id>` takes ids only.
pub fn parse_permalink(tenant: &str, order_id: &str) -> Result<OrderQuery, PageError> {
    let tenant = parse_tenant(tenant);
    let lookup = platform::ids::OrderId::parse(order_id).map(OrderLookup::Id).map_err(|_| FieldError {
        field: QUERY_FIELD,
        message: format!("“{}” is not a valid order id.", shown(order_id)),
    });
    match (tenant, lookup) {
        (Ok(tenant_id), Ok(lookup)) => Ok(OrderQuery { tenant_id, lookup }),
        (tenant, lookup) => Err(invalid(tenant.err().into_iter().chain(lookup.err()))),
    }
}

fn parse_tenant(input: &str) -> Result<TenantId, FieldError> {
    if input.trim().is_empty() {
        return Err(FieldError { field: TENANT_FIELD, message: "Choose a tenant.".to_string() });
    }
    TenantId::parse(input).map_err(|_| FieldError {
        field: TENANT_FIELD,
        message: format!("“{}” is not a valid tenant id.", shown(input)),
    })
}

/// Input echoed in a message: at most 80 characters, control characters made visible.
fn shown(input: &str) -> String {
    input.chars().take(80).map(|c| if c.is_control() { '\u{FFFD}' } else { c }).collect()
}

fn capitalise(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// What the orders page shows: the tenants for the form, and the outcome of the lookup if there was one.
#[derive(Debug, Clone)]
pub struct OrdersPageData {
    pub tenants: Vec<Tenant>,
    pub outcome: Outcome,
}

#[derive(Debug, Clone)]
pub enum Outcome {
    /// No lookup asked for yet.
    Blank,
    Found {
        tenant: Tenant,
        /// The order seen whole, with the verdict of where its chain stopped.
        seen: Box<ops::order360::Order360>,
    },
    Failed(PageError),
}

/// Loads the tenants the viewer may see (always: the form needs them) and answers the lookup, if one was
/// sent. `Err` only when the page cannot be shown at all.
#[tracing::instrument(skip(pool, actor), fields(actor = %actor.subject))]
pub async fn load(
    pool: PgPool,
    engine: &EngineClient,
    actor: &Actor,
    query: Option<Result<OrderQuery, PageError>>,
) -> Result<OrdersPageData, PageError> {
    let tenants = ops::tenants::visible(&pool, actor).await?;
    let outcome = match query {
        None => Outcome::Blank,
        Some(Err(invalid)) => Outcome::Failed(invalid),
        Some(Ok(query)) => match find(&pool, engine, actor, &tenants, &query).await {
            Ok((tenant, seen)) => Outcome::Found { tenant, seen: Box::new(seen) },
            Err(error) => Outcome::Failed(error),
        },
    };
    Ok(OrdersPageData { tenants, outcome })
}

/// The order read is authorised first (a tenant outside the viewer's scope is refused and audited, whether
/// or not it exists), then the tenant and the order are looked up.
async fn find(
    pool: &PgPool,
    engine: &EngineClient,
    actor: &Actor,
    tenants: &[Tenant],
    query: &OrderQuery,
) -> Result<(Tenant, ops::order360::Order360), PageError> {
    let detail = ops::order360::order_360(pool, engine, actor, query.tenant_id, &query.lookup).await?;
    let tenant = tenants
        .iter()
        .find(|t| t.tenant_id == query.tenant_id)
        .cloned()
        .ok_or_else(|| PageError::not_found(format!("No tenant with id {}.", query.tenant_id)))?;
    let detail = detail.ok_or_else(|| {
        let what = match &query.lookup {
            OrderLookup::Id(id) => format!("or quote with id {id}"),
            OrderLookup::Number(number) => format!("or quote numbered “{number}”"),
            OrderLookup::BusinessKey { tenant, order } => format!("with business key {tenant}:{order}"),
        };
        PageError::not_found(format!("No order {what} in tenant {} ({}).", tenant.name, tenant.slug))
    })?;
    Ok((tenant, detail))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(tenant: &str, q: &str) -> LookupInput {
        LookupInput { tenant: Some(tenant.into()), q: Some(q.into()) }
    }

    const ACME: &str = "10000000-0000-4000-8000-000000000001";

    #[test]
    fn a_blank_page_has_no_lookup() {
        assert!(LookupInput::default().is_blank());
        assert!(!input("", "").is_blank());
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let err = input("", "").parse().unwrap_err();
        assert_eq!(err.field_message(TENANT_FIELD).as_deref(), Some("Choose a tenant."));
        assert_eq!(err.field_message(QUERY_FIELD).as_deref(), Some("Enter an order id or an order number."));
    }

    #[test]
    fn a_garbage_tenant_is_refused_at_the_tenant_field() {
        let err = input("acme'--", "SO-1").parse().unwrap_err();
        assert_eq!(err.field_message(TENANT_FIELD).as_deref(), Some("“acme'--” is not a valid tenant id."));
        assert_eq!(err.field_message(QUERY_FIELD), None);
    }

    #[test]
    fn a_mistyped_order_id_is_refused_at_the_query_field() {
        let err = input(ACME, "10000000-0000-4000-8000-00000000000").parse().unwrap_err();
        assert_eq!(
            err.field_message(QUERY_FIELD).as_deref(),
            Some("“10000000-0000-4000-8000-00000000000” is not a valid order id.")
        );
    }

    #[test]
    fn control_characters_are_refused_and_never_echoed() {
        let err = input("acme\u{0}", "SO-\u{0}1").parse().unwrap_err();
        assert_eq!(err.field_message(QUERY_FIELD).as_deref(), Some("An order number has no control characters."));
        assert_eq!(err.field_message(TENANT_FIELD).as_deref(), Some("“acme\u{FFFD}” is not a valid tenant id."));
    }

    #[test]
    fn an_order_number_is_a_lookup_by_number() {
        let query = input(ACME, " SO-2026-0042 ").parse().unwrap();
        assert_eq!(query.lookup, OrderLookup::Number("SO-2026-0042".into()));
    }

    #[test]
    fn a_permalink_takes_ids_only() {
        let err = parse_permalink(ACME, "SO-1").unwrap_err();
        assert_eq!(err.field_message(QUERY_FIELD).as_deref(), Some("“SO-1” is not a valid order id."));
        assert!(parse_permalink(ACME, ACME).is_ok());
    }
}
