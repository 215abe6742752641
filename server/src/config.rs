//! Configuration, layered: built-in defaults → optional TOML file → environment.
//!
//! The defaults are `opsdeck.example.toml` itself, compiled in, so the documented file and the running
//! defaults cannot drift apart. Secrets are [`Secret`]s: the whole `Config` can be logged with `{:?}`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer};

use crate::secret::Secret;

/// The built-in defaults: the documented example file.
pub const DEFAULTS: &str = include_str!("../../opsdeck.example.toml");

/// Read when neither `--config` nor `OPSDECK_CONFIG` names a file, if it exists.
pub const DEFAULT_FILE: &str = "opsdeck.toml";

/// `OPSDECK_<KEY>` variables that set `<key>`. Only these are read, because the service scripts export
/// other `OPSDECK_*` variables (ports, homes) that are not console settings.
const ENV_KEYS: [&str; 27] = [
    "listen",
    "public_url",
    "database_max_connections",
    "redis_url",
    "kafka_brokers",
    "engine_url",
    "oidc_issuer",
    "oidc_client_id",
    "oidc_client_secret",
    "oidc_roles_claim",
    "oidc_tenants_claim",
    "api_audience",
    "session_idle_minutes",
    "session_absolute_minutes",
    "session_cookie_secure",
    "log_format",
    "style_dir",
    "public_dir",
    "repair_approval_ttl_minutes",
    "audit_verify_minutes",
    "dashboard_sample_seconds",
    "dashboard_retention_hours",
    "internal_api_per_minute",
    "vendor_url",
    "diagnostics_interval_seconds",
    "reconcile_interval_minutes",
    "reconcile_full_every_minutes",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    #[serde(deserialize_with = "http_url")]
    pub public_url: String,
    pub database_url: Secret<String>,
    pub database_max_connections: u32,
    pub redis_url: Secret<String>,
    pub kafka_brokers: String,
    #[serde(deserialize_with = "http_url")]
    pub engine_url: String,
    /// The reference platform's fulfilment vendor: failure drills put it into an outage and back.
    #[serde(deserialize_with = "http_url")]
    pub vendor_url: String,
    #[serde(deserialize_with = "http_url")]
    pub oidc_issuer: String,
    /// The console's client at the identity provider (authorization code flow with PKCE).
    pub oidc_client_id: String,
    /// Its secret. Optional here so `migrate` and `seed` run without it; `serve` refuses to start without.
    #[serde(default)]
    pub oidc_client_secret: Option<Secret<String>>,
    /// Dotted path to the list of role names in the ID token (or userinfo).
    pub oidc_roles_claim: String,
    /// Dotted path to the list of tenant ids (or `*`).
    pub oidc_tenants_claim: String,
    /// The audience service tokens for the internal API must carry.
    pub api_audience: String,
    /// A session unused this long ends.
    pub session_idle_minutes: u32,
    /// A session ends this long after sign-in, however much it is used.
    pub session_absolute_minutes: u32,
    /// Whether the session cookie is `Secure`; unset: exactly when `public_url` is https.
    #[serde(default)]
    pub session_cookie_secure: Option<bool>,
    pub log_format: LogFormat,
    pub style_dir: PathBuf,
    /// Directory served at /public/* (favicon, images).
    pub public_dir: PathBuf,
    /// How long an approval of a HIGH-risk repair stands before it must be approved again.
    pub repair_approval_ttl_minutes: u32,
    /// How often the console recomputes the audit log's hash chain (0: never on its own).
    pub audit_verify_minutes: u32,
    /// How often the dashboards' figures are sampled into PostgreSQL (0: never; the boards show no history).
    pub dashboard_sample_seconds: u32,
    /// How long dashboard samples are kept.
    pub dashboard_retention_hours: u32,
    /// Requests per minute each client of the internal API may make (counted across replicas in Redis;
    /// 0: unlimited).
    pub internal_api_per_minute: u32,
    /// Seconds between the diagnostics sampler's rounds (Kafka lag samples, engine, Redis, readiness).
    pub diagnostics_interval_seconds: u32,
    /// How often the server runs each reconciliation check (0: the scheduler does not run).
    pub reconcile_interval_minutes: u32,
    /// A check that can run incrementally runs whole at least this often (what disappeared is resolved).
    pub reconcile_full_every_minutes: u32,
    /// Per-check intervals by check slug (`order-engine = 30`; 0: that check is not scheduled).
    #[serde(default)]
    pub reconcile_check_minutes: std::collections::BTreeMap<String, u32>,
    /// Where status updates are delivered (Slack-compatible JSON), from the file's `[[webhooks]]` tables.
    /// Their URLs are secrets: they never print.
    #[serde(default)]
    pub webhooks: Vec<ops::incident::WebhookConfig>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("DATABASE_URL is not set (nor database_url in the configuration file)")]
    MissingDatabaseUrl,
    #[error("{0}")]
    Invalid(Box<figment::Error>),
    #[error("{key}: {message}")]
    Value { key: &'static str, message: String },
}

impl Config {
    /// Loads the layers: defaults, then `file` (or `./opsdeck.toml` when present), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULTS));
        match file {
            Some(path) if !path.is_file() => return Err(ConfigError::MissingFile(path.to_path_buf())),
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_FILE).is_file() => figment = figment.merge(Toml::file_exact(DEFAULT_FILE)),
            None => {}
        }
        let figment =
            figment.merge(Env::raw().only(&["DATABASE_URL"])).merge(Env::prefixed("OPSDECK_").only(&ENV_KEYS));
        Self::extract(figment)
    }

    /// The built-in defaults with the given database: what tests start from.
    pub fn with_defaults(database_url: &str) -> Result<Config, ConfigError> {
        Self::extract(Figment::from(Toml::string(DEFAULTS)).merge(("database_url", database_url)))
    }

    fn extract(figment: Figment) -> Result<Config, ConfigError> {
        let config: Config = figment.extract().map_err(|e| {
            if matches!(&e.kind, figment::error::Kind::MissingField(field) if field == "database_url") {
                ConfigError::MissingDatabaseUrl
            } else {
                ConfigError::Invalid(Box::new(e))
            }
        })?;
        config.check()?;
        Ok(config)
    }

    /// What serde cannot say about single values: how they relate.
    fn check(&self) -> Result<(), ConfigError> {
        let invalid = |key, message: &str| Err(ConfigError::Value { key, message: message.to_string() });
        if self.session_idle_minutes == 0 {
            return invalid("session_idle_minutes", "must be at least 1");
        }
        if self.session_absolute_minutes < self.session_idle_minutes {
            return invalid("session_absolute_minutes", "must be at least session_idle_minutes");
        }
        if self.diagnostics_interval_seconds == 0 {
            return invalid("diagnostics_interval_seconds", "must be at least 1");
        }
        if reqwest::Url::parse(&self.public_url).is_ok_and(|url| !matches!(url.path(), "" | "/")) {
            return invalid("public_url", "must be an origin (scheme, host, port) without a path");
        }
        if self.dashboard_sample_seconds > 0 && self.dashboard_retention_hours == 0 {
            return invalid("dashboard_retention_hours", "must be at least 1 while dashboards are sampled");
        }
        if let Some(unknown) = self.reconcile_check_minutes.keys().find(|k| ops::reconcile::CheckName::from_arg(k).is_none()) {
            let known: Vec<String> = ops::reconcile::checks::all().iter().map(|c| c.name.slug()).collect();
            return Err(ConfigError::Value {
                key: "reconcile_check_minutes",
                message: format!("{unknown:?} is not a check (one of {})", known.join(", ")),
            });
        }
        for (key, path) in [("oidc_roles_claim", &self.oidc_roles_claim), ("oidc_tenants_claim", &self.oidc_tenants_claim)] {
            if path.trim().is_empty() {
                return invalid(key, "must name a claim");
            }
        }
        Ok(())
    }

    /// What failure drills reach to break things: the vendor, Kafka, Redis of this configuration.
    pub fn fault_kit(&self) -> ops::drill::FaultKit {
        ops::drill::FaultKit {
            vendor: Some(platform::vendor::client::VendorClient::new(self.vendor_url.clone(), std::time::Duration::from_secs(5))),
            kafka_brokers: Some(self.kafka_brokers.clone()),
            topic_prefix: "opsdeck.".to_string(),
            redis_url: Some(self.redis_url.expose().clone()),
        }
    }

    /// The console's origin (`http://127.0.0.1:3000`): what every state-changing request must come from.
    pub fn public_origin(&self) -> String {
        match reqwest::Url::parse(&self.public_url) {
            Ok(url) => url.origin().ascii_serialization(),
            Err(_) => self.public_url.trim_end_matches('/').to_string(),
        }
    }

    /// Whether the session cookie is `Secure`. Browsers do not send a Secure cookie over http, so it
    /// follows the public URL's scheme unless set: an https deployment gets it, a loopback http console
    /// (dev, tests) can still keep a session.
    pub fn session_cookie_secure(&self) -> bool {
        self.session_cookie_secure.unwrap_or_else(|| self.public_url.starts_with("https:"))
    }

    /// Where the database is, without credentials: for logs.
    pub fn database_target(&self) -> String {
        match self.database_url.expose().parse::<sqlx::postgres::PgConnectOptions>() {
            Ok(options) => format!(
                "{}@{}:{}/{}",
                options.get_username(),
                options.get_host(),
                options.get_port(),
                options.get_database().unwrap_or_default()
            ),
            Err(_) => "(unparsable database URL)".to_string(),
        }
    }

    pub fn diagnostics(&self) -> ops::diagnostics::DiagnosticsConfig {
        ops::diagnostics::DiagnosticsConfig::every(std::time::Duration::from_secs(u64::from(
            self.diagnostics_interval_seconds,
        )))
    }

    /// When the server runs each reconciliation check; `None`: it does not.
    pub fn reconcile_schedule(&self) -> Option<ops::reconcile::Schedule> {
        if self.reconcile_interval_minutes == 0 {
            return None;
        }
        let minutes = |m: u32| std::time::Duration::from_secs(u64::from(m) * 60);
        let overrides: Vec<_> = self
            .reconcile_check_minutes
            .iter()
            .filter_map(|(slug, m)| Some((ops::reconcile::CheckName::from_arg(slug)?, *m)))
            .collect();
        Some(ops::reconcile::Schedule::every(
            minutes(self.reconcile_interval_minutes),
            &overrides,
            minutes(self.reconcile_full_every_minutes),
        ))
    }

    pub fn probe_targets(&self) -> ops::health::ProbeTargets {
        ops::health::ProbeTargets {
            redis_url: self.redis_url.expose().clone(),
            kafka_brokers: self.kafka_brokers.clone(),
            engine_url: self.engine_url.clone(),
            oidc_issuer: self.oidc_issuer.clone(),
        }
    }
}

/// An absolute http(s) URL, refused at start-up rather than at first use.
fn http_url<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let text = String::deserialize(deserializer)?;
    match reqwest::Url::parse(&text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(text),
        Ok(_) => Err(serde::de::Error::custom(format!("{text:?} is not an http(s) URL"))),
        Err(e) => Err(serde::de::Error::custom(format!("{text:?} is not a URL: {e}"))),
    }
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error, as it defines them
mod tests {
    use super::*;

    #[test]
    fn the_example_file_is_a_complete_configuration_once_a_database_is_named() {
        let config = Config::with_defaults("postgres://opsdeck:pw@127.0.0.1:55432/opsdeck").unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(config.log_format, LogFormat::Pretty);
        assert_eq!(config.engine_url, "http://127.0.0.1:58080/engine-rest");
        assert_eq!(config.database_target(), "opsdeck@127.0.0.1:55432/opsdeck");
        assert_eq!(config.oidc_client_id, "opsdeck-console");
        assert_eq!((config.oidc_roles_claim.as_str(), config.oidc_tenants_claim.as_str()), ("realm_access.roles", "tenants"));
        assert_eq!(config.api_audience, "opsdeck-api");
        assert_eq!((config.session_idle_minutes, config.session_absolute_minutes), (30, 600));
        assert!(config.oidc_client_secret.is_none(), "no secret is built in");
    }

    #[test]
    fn the_session_cookie_is_secure_exactly_when_the_console_is_served_over_https() {
        let mut config = Config::with_defaults("postgres://u:p@localhost/db").unwrap();
        assert!(!config.session_cookie_secure(), "http loopback: a Secure cookie would never be sent back");
        config.public_url = "https://opsdeck.example".into();
        assert!(config.session_cookie_secure());
        config.session_cookie_secure = Some(false);
        assert!(!config.session_cookie_secure());
        assert_eq!(config.public_origin(), "https://opsdeck.example");
    }

    #[test]
    fn the_oidc_client_secret_comes_from_the_environment_and_never_prints() {
        figment::Jail::expect_with(|jail| {
            // The service scripts export OPSDECK_* settings (engine URL, client secret…): start from none.
            jail.clear_env();
            jail.set_env("DATABASE_URL", "postgres://u:p@localhost/db");
            jail.set_env("OPSDECK_OIDC_CLIENT_SECRET", "s3cr3t-value");
            jail.set_env("OPSDECK_SESSION_IDLE_MINUTES", "15");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.oidc_client_secret.as_ref().map(|s| s.expose().as_str()), Some("s3cr3t-value"));
            assert_eq!(config.session_idle_minutes, 15);
            assert!(!format!("{config:?}").contains("s3cr3t-value"));
            Ok(())
        });
    }

    #[test]
    fn session_lifetimes_must_make_sense() {
        figment::Jail::expect_with(|jail| {
            // The service scripts export OPSDECK_* settings (engine URL, client secret…): start from none.
            jail.clear_env();
            jail.set_env("DATABASE_URL", "postgres://u:p@localhost/db");
            jail.set_env("OPSDECK_SESSION_ABSOLUTE_MINUTES", "10");
            let err = Config::load(None).unwrap_err();
            assert_eq!(err.to_string(), "session_absolute_minutes: must be at least session_idle_minutes");
            Ok(())
        });
    }

    #[test]
    fn secrets_do_not_appear_when_the_configuration_is_logged() {
        let config = Config::with_defaults("postgres://opsdeck:hunter2@127.0.0.1:55432/opsdeck").unwrap();
        let logged = format!("{config:?}");
        assert!(!logged.contains("hunter2"), "{logged}");
        assert!(logged.contains("database_url: ***"), "{logged}");
    }

    #[test]
    fn environment_overrides_the_file_and_the_file_overrides_the_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("opsdeck.toml", "listen = \"127.0.0.1:4000\"\nlog_format = \"json\"\n")?;
            jail.set_env("DATABASE_URL", "postgres://u:p@localhost/db");
            jail.set_env("OPSDECK_LISTEN", "0.0.0.0:5000");
            // Exported by the service scripts; not a console setting, so it must not be refused.
            jail.set_env("OPSDECK_REDIS_PORT", "56379");
            let config = Config::load(None).map_err(|e| e.to_string())?;
            assert_eq!(config.listen.to_string(), "0.0.0.0:5000");
            assert_eq!(config.log_format, LogFormat::Json);
            Ok(())
        });
    }

    #[test]
    fn a_missing_database_url_is_named_plainly() {
        figment::Jail::expect_with(|jail| {
            jail.clear_env();
            let err = Config::load(None).unwrap_err();
            assert_eq!(err.to_string(), "DATABASE_URL is not set (nor database_url in the configuration file)");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_urls_are_refused() {
        figment::Jail::expect_with(|jail| {
            // The service scripts export OPSDECK_* settings (engine URL, client secret…): start from none.
            jail.clear_env();
            jail.set_env("DATABASE_URL", "postgres://u:p@localhost/db");
            jail.create_file("typo.toml", "listne = \"127.0.0.1:4000\"\n")?;
            let err = Config::load(Some(Path::new("typo.toml"))).unwrap_err();
            assert!(err.to_string().contains("listne"), "{err}");
            jail.create_file("bad.toml", "engine_url = \"localhost:8080\"\n")?;
            let err = Config::load(Some(Path::new("bad.toml"))).unwrap_err();
            assert!(err.to_string().contains("not an http(s) URL"), "{err}");
            Ok(())
        });
    }
}
