//! Readiness of the systems the console depends on, and what stops working when each is down.
//!
//! Each probe is the cheapest call that proves the dependency answers (PostgreSQL `select 1`, Redis `PING`,
//! Kafka metadata through the one long-lived client, the engine's `/version`, the identity provider's discovery document), bounded by a
//! timeout and run concurrently with the others, so a full check takes about one timeout at worst.
//! Only PostgreSQL is required: it holds the system of record. Every other dependency being down makes the
//! console *degraded*, and [`Component::affected_when_down`] says what an operator loses.
//!
//! This module knows nothing of HTTP status codes or metrics; the server maps [`Readiness`] onto those.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use crate::diagnostics::kafka::KafkaWatch;

/// How long one probe may take. Kafka's metadata request gets the same budget inside librdkafka.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// A system the console depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Component {
    Postgres,
    Redis,
    Kafka,
    Engine,
    Identity,
}

impl Component {
    pub const ALL: [Component; 5] =
        [Component::Postgres, Component::Redis, Component::Kafka, Component::Engine, Component::Identity];

    pub fn name(self) -> &'static str {
        match self {
            Component::Postgres => "postgres",
            Component::Redis => "redis",
            Component::Kafka => "kafka",
            Component::Engine => "engine",
            Component::Identity => "identity",
        }
    }

    /// Without a required component the console cannot serve at all.
    pub fn is_required(self) -> bool {
        matches!(self, Component::Postgres)
    }

    /// What an operator loses while this component is down.
    pub fn affected_when_down(self) -> &'static str {
        match self {
            Component::Postgres => {
                "everything: orders, incidents, repairs and audit live in PostgreSQL (the system of record); \
                 the console cannot serve"
            }
            Component::Redis => "dashboard cache, rate limits (console runs from PostgreSQL)",
            Component::Kafka => {
                "event publishing: outbox events stay PENDING and are published on recovery; \
                 projections and consumer lag stop moving"
            }
            Component::Engine => {
                "order orchestration: new orders wait in CAPTURED; engine incidents and job retries \
                 cannot be inspected or retried"
            }
            Component::Identity => "sign-in (SSO) and internal API tokens; sessions already open continue",
        }
    }
}

impl std::fmt::Display for Component {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Up,
    Down,
}

/// The outcome of one probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ComponentHealth {
    pub component: Component,
    pub status: Status,
    pub required: bool,
    pub latency_ms: u64,
    /// The same, at full precision (for metrics).
    #[serde(skip)]
    pub latency: Duration,
    /// What the dependency said when up (a version, a broker count).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Why the probe failed, when down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What stops working, when down.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affected: Option<&'static str>,
}

impl ComponentHealth {
    fn from_probe(component: Component, latency: Duration, outcome: Result<Option<String>, String>) -> Self {
        let latency_ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        let required = component.is_required();
        match outcome {
            Ok(detail) => ComponentHealth {
                component,
                status: Status::Up,
                required,
                latency_ms,
                latency,
                detail,
                error: None,
                affected: None,
            },
            Err(error) => ComponentHealth {
                component,
                status: Status::Down,
                required,
                latency_ms,
                latency,
                detail: None,
                error: Some(error),
                affected: Some(component.affected_when_down()),
            },
        }
    }

    pub fn is_up(&self) -> bool {
        self.status == Status::Up
    }
}

/// The console as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Overall {
    /// Every dependency answers.
    Ready,
    /// A dependency other than PostgreSQL is down: the console serves, with the losses listed.
    Degraded,
    /// A required dependency is down: the console cannot serve.
    Unavailable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Readiness {
    pub status: Overall,
    pub checked_at: DateTime<Utc>,
    pub components: Vec<ComponentHealth>,
}

impl Readiness {
    pub fn from_components(components: Vec<ComponentHealth>) -> Self {
        let status = if components.iter().any(|c| c.required && !c.is_up()) {
            Overall::Unavailable
        } else if components.iter().any(|c| !c.is_up()) {
            Overall::Degraded
        } else {
            Overall::Ready
        };
        Readiness { status, checked_at: Utc::now(), components }
    }

    pub fn component(&self, component: Component) -> Option<&ComponentHealth> {
        self.components.iter().find(|c| c.component == component)
    }
}

/// Where each dependency is reached.
#[derive(Debug, Clone)]
pub struct ProbeTargets {
    /// `redis://host:port[/db]`.
    pub redis_url: String,
    /// Kafka `bootstrap.servers`, comma-separated `host:port`.
    pub kafka_brokers: String,
    /// Base URL of the engine's REST API (`…/engine-rest`).
    pub engine_url: String,
    /// The OIDC issuer (`…/realms/opsdeck`).
    pub oidc_issuer: String,
}

/// Probes every dependency; cheap to clone.
#[derive(Clone)]
pub struct Probes {
    pool: PgPool,
    targets: ProbeTargets,
    http: reqwest::Client,
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes").field("targets", &self.targets).finish_non_exhaustive()
    }
}

impl Probes {
    pub fn new(pool: PgPool, targets: ProbeTargets) -> Self {
        let http = reqwest::Client::builder()
            .timeout(PROBE_TIMEOUT)
            .connect_timeout(PROBE_TIMEOUT)
            .build()
            .unwrap_or_default();
        Probes { pool, targets, http }
    }

    /// Runs all probes concurrently. Never fails: a failing probe is a `Down` component.
    #[tracing::instrument(skip(self))]
    pub async fn check(&self) -> Readiness {
        let (postgres, redis, kafka, engine, identity) = tokio::join!(
            timed(Component::Postgres, self.postgres()),
            timed(Component::Redis, self.redis()),
            timed(Component::Kafka, self.kafka()),
            timed(Component::Engine, self.engine()),
            timed(Component::Identity, self.identity()),
        );
        let readiness = Readiness::from_components(vec![postgres, redis, kafka, engine, identity]);
        for down in readiness.components.iter().filter(|c| !c.is_up()) {
            tracing::warn!(component = %down.component, error = down.error.as_deref().unwrap_or(""), "dependency down");
        }
        readiness
    }

    async fn postgres(&self) -> Result<Option<String>, String> {
        let one: i32 = sqlx::query_scalar("select 1").fetch_one(&self.pool).await.map_err(|e| error_chain(&e))?;
        if one == 1 {
            Ok(None)
        } else {
            Err(format!("select 1 returned {one}"))
        }
    }

    async fn redis(&self) -> Result<Option<String>, String> {
        let client = redis::Client::open(self.targets.redis_url.as_str()).map_err(|e| error_chain(&e))?;
        let mut connection = client.get_multiplexed_async_connection().await.map_err(|e| error_chain(&e))?;
        let pong: String = redis::cmd("PING").query_async(&mut connection).await.map_err(|e| error_chain(&e))?;
        if pong == "PONG" {
            Ok(None)
        } else {
            Err(format!("PING answered {pong:?}"))
        }
    }

    /// Through the process's one long-lived Kafka client ([`KafkaWatch`]): a metadata request, never a
    /// client built per probe.
    async fn kafka(&self) -> Result<Option<String>, String> {
        KafkaWatch::shared(&self.targets.kafka_brokers)?.probe().await.map(Some)
    }

    async fn engine(&self) -> Result<Option<String>, String> {
        #[derive(serde::Deserialize)]
        struct Version {
            version: String,
        }
        let url = format!("{}/version", self.targets.engine_url.trim_end_matches('/'));
        let version: Version = self.get_json(&url).await?;
        Ok(Some(format!("version {}", version.version)))
    }

    async fn identity(&self) -> Result<Option<String>, String> {
        #[derive(serde::Deserialize)]
        struct Discovery {
            issuer: String,
        }
        let url = format!("{}/.well-known/openid-configuration", self.targets.oidc_issuer.trim_end_matches('/'));
        let discovery: Discovery = self.get_json(&url).await?;
        Ok(Some(format!("issuer {}", discovery.issuer)))
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let response = self.http.get(url).send().await.map_err(|e| error_chain(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("GET {url} answered {status}"));
        }
        response.json::<T>().await.map_err(|e| format!("GET {url}: unexpected body: {}", error_chain(&e)))
    }
}

/// Runs one probe under [`PROBE_TIMEOUT`] and records how long it took.
async fn timed(
    component: Component,
    probe: impl std::future::Future<Output = Result<Option<String>, String>>,
) -> ComponentHealth {
    let started = Instant::now();
    // A little slack over the probe's own timeouts, so their more precise errors win the race.
    let outcome = match tokio::time::timeout(PROBE_TIMEOUT + Duration::from_millis(500), probe).await {
        Ok(outcome) => outcome,
        Err(_) => Err(format!("no answer within {} ms", (PROBE_TIMEOUT + Duration::from_millis(500)).as_millis())),
    };
    ComponentHealth::from_probe(component, started.elapsed(), outcome)
}

/// An error with its causes, `outer: inner: innermost`, without repeating a cause already in the text.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn health(component: Component, up: bool) -> ComponentHealth {
        ComponentHealth::from_probe(
            component,
            Duration::from_millis(3),
            if up { Ok(None) } else { Err("refused".into()) },
        )
    }

    #[test]
    fn all_up_is_ready() {
        let readiness = Readiness::from_components(Component::ALL.iter().map(|&c| health(c, true)).collect());
        assert_eq!(readiness.status, Overall::Ready);
    }

    #[test]
    fn an_optional_dependency_down_degrades_and_names_what_is_affected() {
        let readiness =
            Readiness::from_components(Component::ALL.iter().map(|&c| health(c, c != Component::Redis)).collect());
        assert_eq!(readiness.status, Overall::Degraded);
        let redis = readiness.component(Component::Redis).unwrap();
        assert_eq!(redis.status, Status::Down);
        assert_eq!(redis.affected, Some("dashboard cache, rate limits (console runs from PostgreSQL)"));
        assert_eq!(redis.error.as_deref(), Some("refused"));
    }

    #[test]
    fn postgres_down_makes_the_console_unavailable() {
        let readiness =
            Readiness::from_components(Component::ALL.iter().map(|&c| health(c, c != Component::Postgres)).collect());
        assert_eq!(readiness.status, Overall::Unavailable);
    }

    #[test]
    fn readiness_serializes_with_lowercase_names() {
        let readiness = Readiness::from_components(vec![health(Component::Kafka, false)]);
        let json = serde_json::to_value(&readiness).unwrap();
        assert_eq!(json["status"], "degraded");
        assert_eq!(json["components"][0]["component"], "kafka");
        assert_eq!(json["components"][0]["status"], "down");
        assert!(json["components"][0]["affected"].as_str().unwrap().contains("outbox"));
    }
}
