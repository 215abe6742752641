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
const ENV_KEYS: [&str; 9] = [
    "listen",
    "public_url",
    "database_max_connections",
    "redis_url",
    "kafka_brokers",
    "engine_url",
    "oidc_issuer",
    "log_format",
    "style_dir",
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
    #[serde(deserialize_with = "http_url")]
    pub oidc_issuer: String,
    pub log_format: LogFormat,
    pub style_dir: PathBuf,
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
        figment.extract().map_err(|e| {
            if matches!(&e.kind, figment::error::Kind::MissingField(field) if field == "database_url") {
                ConfigError::MissingDatabaseUrl
            } else {
                ConfigError::Invalid(Box::new(e))
            }
        })
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
