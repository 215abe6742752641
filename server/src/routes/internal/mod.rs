//! The internal API (`/internal/v1`), for services holding client-credentials tokens. Every handler takes
//! the verified [`Service`](crate::auth::service::Service) and passes it, as the actor, to the same `ops`
//! commands the pages use: a service is authorised (its role, its token's scopes, its tenant scope) and
//! audited as itself.
//!
//! Routes and the OpenAPI document come from one source: each handler's `#[utoipa::path]`, registered
//! through an [`OpenApiRouter`], so a route cannot exist undocumented. The document is served at
//! `/internal/v1/openapi.json` (no token needed: it describes, it grants nothing).

pub mod orders;
pub mod repairs;

use axum::routing::get;
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::startup::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "opsdeck internal API", description = "Reads and governed repairs for services (client credentials)."),
    servers((url = "/internal/v1")),
    tags((name = "identity"), (name = "orders"), (name = "repairs", description = "Lesson §18: governed repairs"))
)]
struct ApiDoc;

/// The document's routes and the document itself.
pub fn api() -> (axum::Router<AppState>, Document) {
    let (router, mut document) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(orders::whoami))
        .routes(routes!(orders::order))
        .routes(routes!(repairs::request))
        .routes(routes!(repairs::detail))
        .split_for_parts();
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "serviceAuth",
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some("A client-credentials access token of the identity provider; scopes ops.read, ops.repair"))
                .build(),
        ),
    );
    tighten(&mut document);
    (router, document)
}

/// What the handlers enforce beyond the types, written into the document so that a client (or a fuzzer
/// generating from it) knows the valid values: the repair types of the catalogue, and the idempotency
/// key's length and characters.
fn tighten(document: &mut Document) {
    use ops::repair::IdempotencyKey;
    use platform::machine::Named as _;
    use utoipa::openapi::{ObjectBuilder, Type};
    for item in document.paths.paths.values_mut() {
        for operation in [item.get.as_mut(), item.post.as_mut()].into_iter().flatten() {
            for parameter in operation.parameters.iter_mut().flatten() {
                let utoipa::openapi::RefOr::T(parameter) = parameter else { continue };
                let schema = match parameter.name.as_str() {
                    "repair_type" => ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(ops::repair::RepairType::ALL.iter().map(|t| t.name()))),
                    "Idempotency-Key" => ObjectBuilder::new()
                        .schema_type(Type::String)
                        .min_length(Some(IdempotencyKey::MIN_LEN))
                        .max_length(Some(IdempotencyKey::MAX_LEN))
                        .pattern(Some(format!("^[!-~]{{{},{}}}$", IdempotencyKey::MIN_LEN, IdempotencyKey::MAX_LEN))),
                    _ => continue,
                };
                parameter.schema = Some(schema.into());
            }
        }
    }
}

/// The internal API's routes (nested under `/internal/v1`), with its OpenAPI document.
pub fn router() -> axum::Router<AppState> {
    let (router, document) = api();
    router.route("/openapi.json", get(move || async move { Json(document) }))
}
