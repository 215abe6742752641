//! The internal API's bearer tokens: a real client-credentials token from the stack's Keycloak is
//! accepted and the service acts as itself; forged, expired, wrong-issuer, wrong-audience and
//! unpublished-key tokens are refused with the reason audited (never the token). Tokens Keycloak will not
//! make on demand are signed by a local identity provider ([`LocalIdp`]) the console is pointed at.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use platform::tenants::ACME;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{audit_lines, capture_order, env_or, idp_config, keycloak_issuer, spawn_app_with, test_config, TestApp};
use crate::local_idp::{keys, LocalIdp};

pub async fn keycloak_service_token(scope: Option<&str>) -> String {
    let mut form = vec![
        ("grant_type", "client_credentials".to_string()),
        ("client_id", "opsdeck-internal".to_string()),
        ("client_secret", env_or("OPSDECK_INTERNAL_CLIENT_SECRET", "opsdeck-internal-dev-secret")),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope.to_string()));
    }
    let token: Value = reqwest::Client::new()
        .post(format!("{}/protocol/openid-connect/token", keycloak_issuer()))
        .form(&form)
        .send()
        .await
        .expect("Keycloak answers")
        .error_for_status()
        .expect("a token")
        .json()
        .await
        .unwrap();
    token["access_token"].as_str().unwrap().to_string()
}

fn payload(token: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

async fn call(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    app.client.get(format!("{}{path}", app.address)).bearer_auth(token).send().await.unwrap()
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_client_credentials_token_from_keycloak_is_accepted_and_the_service_acts_as_itself(pool: PgPool) {
    let order = capture_order(&pool, ACME, "Q-API-1", "API Customer").await;
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    let token = keycloak_service_token(None).await;
    let service_account = payload(&token)["sub"].as_str().unwrap().to_string();

    let response = call(&app, "/internal/v1/whoami", &token).await;
    assert_eq!(response.status().as_u16(), 200);
    let whoami: Value = response.json().await.unwrap();
    assert_eq!(
        whoami,
        json!({
            "subject": service_account,
            "name": "opsdeck-internal",
            "kind": "SERVICE",
            "roles": ["service"],
            "tenants": "*",
            "permissions": ["READ"],
        })
    );

    let response = call(&app, &format!("/internal/v1/orders/{ACME}/{}", order.order_id), &token).await;
    assert_eq!(response.status().as_u16(), 200);
    let summary: Value = response.json().await.unwrap();
    assert_eq!(summary["order_number"], order.order_number);
    assert_eq!(summary["customer_name"], "API Customer");

    let lines = audit_lines(&pool).await;
    let read = lines.iter().find(|l| l.action == "order.read").expect("the service's read is audited");
    assert_eq!(
        (read.actor_subject.as_str(), read.actor_name.as_str(), read.actor_kind.as_str(), read.outcome.as_str()),
        (service_account.as_str(), "opsdeck-internal", "SERVICE", "ALLOWED")
    );
    assert_eq!(read.entity_id, Some(order.order_id.as_uuid()));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_repair_scope_adds_request_repair_to_what_the_service_may_do(pool: PgPool) {
    let app = spawn_app_with(pool, idp_config()).await;
    let token = keycloak_service_token(Some("ops.repair")).await;
    let whoami: Value = call(&app, "/internal/v1/whoami", &token).await.json().await.unwrap();
    assert_eq!(whoami["permissions"], json!(["READ", "REQUEST_REPAIR"]));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_tampered_token_is_refused_as_a_bad_signature_and_the_token_is_not_recorded(pool: PgPool) {
    let app = spawn_app_with(pool.clone(), idp_config()).await;
    let token = keycloak_service_token(None).await;
    let mut claims = payload(&token);
    claims["scope"] = json!("ops.read ops.repair");
    let parts: Vec<&str> = token.split('.').collect();
    let forged = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()), parts[2]);

    let response = call(&app, "/internal/v1/whoami", &forged).await;

    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="opsdeck", error="invalid_token""#);
    assert_eq!(response.text().await.unwrap(), "token refused: bad signature");
    let lines = audit_lines(&pool).await;
    assert_eq!(lines.len(), 1);
    let refused = &lines[0];
    assert_eq!((refused.action.as_str(), refused.outcome.as_str(), refused.actor_kind.as_str()), ("SERVICE_TOKEN", "REFUSED", "SERVICE"));
    assert_eq!(refused.reason.as_deref(), Some("bad signature"));
    assert_eq!(refused.detail["why"], "BAD_SIGNATURE");
    assert_eq!(refused.detail["claimed_client_unverified"], "opsdeck-internal");
    let recorded = format!("{refused:?}");
    assert!(!recorded.contains(parts[2]) && !recorded.contains(parts[1]), "no part of the token is recorded");
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_request_without_a_bearer_token_is_401(pool: PgPool) {
    let app = spawn_app_with(pool, idp_config()).await;
    let response = app.get("/internal/v1/whoami").await;
    assert_eq!(response.status().as_u16(), 401);
    assert_eq!(response.headers()["www-authenticate"], r#"Bearer realm="opsdeck""#);
    // A console session is no credential for the API, and the API is not behind the console's sign-in.
    assert!(response.headers().get("location").is_none());
}

/// An app that trusts the local identity provider.
async fn app_trusting(pool: PgPool, idp: &LocalIdp) -> TestApp {
    let mut config = test_config();
    config.oidc_issuer = idp.issuer.clone();
    spawn_app_with(pool, config).await
}

/// Calls whoami with `token` and returns the status and the audited reason code.
async fn refusal(app: &TestApp, pool: &PgPool, token: &str) -> (u16, String) {
    let status = call(app, "/internal/v1/whoami", token).await.status().as_u16();
    let lines = audit_lines(pool).await;
    let why = lines.last().map(|l| l.detail["why"].as_str().unwrap_or_default().to_string()).unwrap_or_default();
    (status, why)
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_token_signed_with_the_providers_published_key_is_accepted(pool: PgPool) {
    let (key, _) = keys();
    let idp = LocalIdp::start(&[key]).await;
    let app = app_trusting(pool, &idp).await;
    let response = call(&app, "/internal/v1/whoami", &key.sign(&idp.service_claims())).await;
    assert_eq!(response.status().as_u16(), 200);
    let whoami: Value = response.json().await.unwrap();
    assert_eq!((whoami["name"].as_str(), whoami["subject"].as_str()), (Some("local-service"), Some("local-service-account")));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn an_expired_token_is_refused_as_expired(pool: PgPool) {
    let (key, _) = keys();
    let idp = LocalIdp::start(&[key]).await;
    let app = app_trusting(pool.clone(), &idp).await;
    let mut claims = idp.service_claims();
    let an_hour_ago = chrono::Utc::now().timestamp() - 3600;
    claims["iat"] = json!(an_hour_ago - 300);
    claims["exp"] = json!(an_hour_ago);

    assert_eq!(refusal(&app, &pool, &key.sign(&claims)).await, (401, "EXPIRED".to_string()));
    assert!(audit_lines(&pool).await[0].reason.as_deref().unwrap().starts_with("expired at"));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_token_not_yet_valid_is_refused(pool: PgPool) {
    let (key, _) = keys();
    let idp = LocalIdp::start(&[key]).await;
    let app = app_trusting(pool.clone(), &idp).await;
    let mut claims = idp.service_claims();
    claims["nbf"] = json!(chrono::Utc::now().timestamp() + 600);
    assert_eq!(refusal(&app, &pool, &key.sign(&claims)).await, (401, "NOT_YET_VALID".to_string()));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_token_from_another_issuer_is_refused_as_wrong_issuer(pool: PgPool) {
    let (key, _) = keys();
    let idp = LocalIdp::start(&[key]).await;
    let app = app_trusting(pool.clone(), &idp).await;
    let mut claims = idp.service_claims();
    claims["iss"] = json!("http://127.0.0.1:58180/realms/someone-else");

    assert_eq!(refusal(&app, &pool, &key.sign(&claims)).await, (401, "WRONG_ISSUER".to_string()));
    assert_eq!(
        audit_lines(&pool).await[0].reason.as_deref(),
        Some(r#"wrong issuer: "http://127.0.0.1:58180/realms/someone-else""#)
    );
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_token_for_another_audience_is_refused_as_wrong_audience(pool: PgPool) {
    let (key, _) = keys();
    let idp = LocalIdp::start(&[key]).await;
    let app = app_trusting(pool.clone(), &idp).await;
    let mut claims = idp.service_claims();
    claims["aud"] = json!(["account", "another-api"]);

    assert_eq!(refusal(&app, &pool, &key.sign(&claims)).await, (401, "WRONG_AUDIENCE".to_string()));
    assert_eq!(audit_lines(&pool).await[0].reason.as_deref(), Some(r#"wrong audience: ["account","another-api"]"#));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_token_signed_with_a_key_the_provider_does_not_publish_is_refused(pool: PgPool) {
    let (published, unpublished) = keys();
    let idp = LocalIdp::start(&[published]).await;
    let app = app_trusting(pool.clone(), &idp).await;

    // Under an unknown key id (the JWKS is refetched once and still lacks it).
    assert_eq!(refusal(&app, &pool, &unpublished.sign(&idp.service_claims())).await, (401, "UNKNOWN_KEY".to_string()));
    // Under the published key's id: the signature does not verify.
    let impostor = crate::local_idp::Key { kid: published.kid, private: unpublished.private.clone() };
    assert_eq!(refusal(&app, &pool, &impostor.sign(&idp.service_claims())).await, (401, "BAD_SIGNATURE".to_string()));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_rotated_signing_key_is_picked_up_by_refetching_the_jwks(pool: PgPool) {
    let (old, new) = keys();
    let idp = LocalIdp::start(&[old]).await;
    let app = app_trusting(pool, &idp).await;
    assert_eq!(call(&app, "/internal/v1/whoami", &old.sign(&idp.service_claims())).await.status().as_u16(), 200);

    idp.publish(&[new]);

    assert_eq!(call(&app, "/internal/v1/whoami", &new.sign(&idp.service_claims())).await.status().as_u16(), 200);
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_genuine_token_without_the_service_role_is_403(pool: PgPool) {
    let (key, _) = keys();
    let idp = LocalIdp::start(&[key]).await;
    let app = app_trusting(pool.clone(), &idp).await;
    let mut claims = idp.service_claims();
    claims["realm_access"] = json!({ "roles": ["operator"] });

    assert_eq!(refusal(&app, &pool, &key.sign(&claims)).await, (403, "NOT_A_SERVICE".to_string()));
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_service_scoped_to_one_tenant_is_refused_another_and_audited_as_itself(pool: PgPool) {
    let globex_order = capture_order(&pool, platform::tenants::GLOBEX, "Q-API-2", "Globex Customer").await;
    let (key, _) = keys();
    let idp = LocalIdp::start(&[key]).await;
    let app = app_trusting(pool.clone(), &idp).await;
    let mut claims = idp.service_claims();
    claims["tenants"] = json!([ACME]);

    let path = format!("/internal/v1/orders/{}/{}", globex_order.tenant_id, globex_order.order_id);
    let response = call(&app, &path, &key.sign(&claims)).await;

    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(
        response.text().await.unwrap(),
        format!("order.read refused: tenant {} is outside your tenant scope.", globex_order.tenant_id)
    );
    let lines = audit_lines(&pool).await;
    let refused = lines.last().unwrap();
    assert_eq!(
        (refused.actor_subject.as_str(), refused.actor_name.as_str(), refused.actor_kind.as_str(), refused.outcome.as_str()),
        ("local-service-account", "local-service", "SERVICE", "REFUSED")
    );
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn the_internal_api_answers_503_when_the_provider_cannot_be_reached(pool: PgPool) {
    let app = spawn_app_with(pool, test_config()).await; // issuer on a closed port
    let (key, _) = keys();
    let response = call(&app, "/internal/v1/whoami", &key.sign(&json!({ "iss": "x" }))).await;
    assert_eq!(response.status().as_u16(), 503);
}

/// The stack's Redis, as `scripts/stack.sh env` exports it.
fn redis_url() -> String {
    env_or("OPSDECK_REDIS_URL", "redis://127.0.0.1:56379")
}

#[sqlx::test(migrator = "platform::db::MIGRATOR")]
async fn a_client_over_its_budget_is_told_to_retry_later_counted_in_redis_across_replicas(pool: PgPool) {
    let mut config = idp_config();
    config.redis_url = server::secret::Secret::new(redis_url());
    config.internal_api_per_minute = 3;
    // Two replicas sharing one Redis: one budget per client between them.
    let first = spawn_app_with(pool.clone(), config.clone()).await;
    let second = spawn_app_with(pool.clone(), config).await;
    let token = keycloak_service_token(None).await;
    let subject = payload(&token)["sub"].as_str().unwrap().to_string();

    // Stay inside one window: start at the beginning of a minute if this one is nearly over.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    if now % 60 > 45 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - now % 60)).await;
    }
    let window = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() / 60;
    let key = format!("opsdeck:ratelimit:{subject}:{window}");
    let mut redis = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("DEL").arg(&key).query_async(&mut redis).await.unwrap();

    for app in [&first, &second, &first] {
        assert_eq!(call(app, "/internal/v1/whoami", &token).await.status().as_u16(), 200);
    }
    let refused = call(&second, "/internal/v1/whoami", &token).await;
    assert_eq!(refused.status().as_u16(), 429, "the fourth request in the minute, on the other replica");
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    let counted: u64 = redis::cmd("GET").arg(&key).query_async(&mut redis).await.unwrap();
    assert_eq!(counted, 4, "every request was counted in Redis");
    let ttl: i64 = redis::cmd("TTL").arg(&key).query_async(&mut redis).await.unwrap();
    assert!(ttl > 0, "the window's counter expires");
}
