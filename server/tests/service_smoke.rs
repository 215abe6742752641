//! One smoke test per external service, over a real connection to the service stack that
//! `scripts/stack.sh up` starts. No stand-ins: if a service is not there, these tests fail and say which.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use platform::engine::{BusinessKey, EngineClient, ORDER_ORCHESTRATION_BPMN, ORDER_ORCHESTRATION_KEY};
use platform::ids::OrderId;
use platform::tenants::ACME;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Message};

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

#[tokio::test]
async fn kafka_delivers_a_produced_message_to_a_consumer() {
    let brokers = env_or("OPSDECK_KAFKA_BROKERS", "127.0.0.1:59092");
    let topic = format!("opsdeck.smoke.{}", uuid::Uuid::now_v7());
    let producer: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("acks", "all")
        .set("message.timeout.ms", "15000")
        .create()
        .expect("producer");
    let payload = format!("hello {topic}");
    producer
        .send(FutureRecord::to(&topic).key("k1").payload(&payload), Duration::from_secs(15))
        .await
        .expect("Kafka accepted the message");

    let consumer: StreamConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("group.id", format!("smoke-{}", uuid::Uuid::now_v7()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    consumer.subscribe(&[&topic]).expect("subscribe");
    let msg = tokio::time::timeout(Duration::from_secs(30), consumer.recv())
        .await
        .expect("a message within 30 s")
        .expect("a message, not an error");
    assert_eq!(msg.key(), Some(&b"k1"[..]));
    assert_eq!(msg.payload_view::<str>().unwrap().unwrap(), payload);
}

#[tokio::test]
async fn operaton_runs_the_order_orchestration_under_a_tenant_order_business_key() {
    let engine = EngineClient::new(env_or("OPSDECK_ENGINE_URL", "http://127.0.0.1:58080/engine-rest"));
    let version = engine.version().await.expect("engine answers /version");
    assert!(!version.is_empty());

    engine
        .deploy("opsdeck-order-orchestration", "order-orchestration.bpmn", ORDER_ORCHESTRATION_BPMN)
        .await
        .expect("the model deploys");
    let key = BusinessKey::for_order(ACME, OrderId::new());
    let started = engine
        .start(ORDER_ORCHESTRATION_KEY, &key, &[("tenantId", ACME.to_string())])
        .await
        .expect("an instance starts");
    assert_eq!(started.business_key.as_deref(), Some(key.as_str()));

    let found = engine.instances_by_business_key(&key).await.expect("query by business key");
    assert_eq!(found.len(), 1, "exactly one instance for {}", key.as_str());
    assert_eq!(found[0].id, started.id);
    assert!(!found[0].ended);

    // Leave the shared engine as we found it: no worker will ever run this instance's tasks.
    let deleted = reqwest::Client::new()
        .delete(format!("{}/process-instance/{}", engine.base_url(), started.id))
        .send()
        .await
        .expect("engine reachable");
    assert_eq!(deleted.status().as_u16(), 204, "the smoke instance is deleted");
}

#[tokio::test]
async fn keycloak_publishes_discovery_and_issues_a_client_credentials_token() {
    let issuer = env_or("OPSDECK_OIDC_ISSUER", "http://127.0.0.1:58180/realms/opsdeck");
    let http = reqwest::Client::new();
    let discovery: serde_json::Value = http
        .get(format!("{issuer}/.well-known/openid-configuration"))
        .send()
        .await
        .expect("discovery reachable")
        .error_for_status()
        .expect("discovery 200")
        .json()
        .await
        .expect("discovery JSON");
    assert_eq!(discovery["issuer"], issuer);
    let token_endpoint = discovery["token_endpoint"].as_str().expect("token endpoint");

    let token: serde_json::Value = http
        .post(token_endpoint)
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "opsdeck-internal"),
            ("client_secret", &env_or("OPSDECK_INTERNAL_CLIENT_SECRET", "opsdeck-internal-dev-secret")),
        ])
        .send()
        .await
        .expect("token endpoint reachable")
        .error_for_status()
        .expect("token issued")
        .json()
        .await
        .expect("token JSON");
    let access = token["access_token"].as_str().expect("an access token");
    let claims = jwt_payload(access);
    assert_eq!(claims["iss"], issuer);
    let aud = &claims["aud"];
    let has_api_audience = aud == "opsdeck-api" || aud.as_array().is_some_and(|a| a.iter().any(|v| v == "opsdeck-api"));
    assert!(has_api_audience, "aud {aud} names opsdeck-api");
    let roles = claims["realm_access"]["roles"].as_array().expect("realm roles");
    assert!(roles.iter().any(|r| r == "service"), "roles {roles:?} include service");
}

#[tokio::test]
async fn redis_round_trips_a_value() {
    let client = redis::Client::open(env_or("OPSDECK_REDIS_URL", "redis://127.0.0.1:56379")).expect("redis url");
    let mut conn = client.get_multiplexed_async_connection().await.expect("redis connection");
    let key = format!("opsdeck:smoke:{}", uuid::Uuid::now_v7());
    let _: () = redis::cmd("SET").arg(&key).arg("v1").arg("EX").arg(60).query_async(&mut conn).await.expect("SET");
    let got: Option<String> = redis::cmd("GET").arg(&key).query_async(&mut conn).await.expect("GET");
    assert_eq!(got.as_deref(), Some("v1"));
}

/// Decodes a JWT's payload without verifying it (verification is tested with the identity module).
fn jwt_payload(token: &str) -> serde_json::Value {
    let payload = token.split('.').nth(1).expect("three JWT parts");
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
}
