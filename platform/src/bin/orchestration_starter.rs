//! One orchestration starter on its own, until SIGTERM or Ctrl-C. `opsdeck platform run` runs one next to
//! the other workers, which is the usual way; this binary is for running more of them, or one that a drill
//! (or a test) can kill mid-attempt like any crashed process.
//!
//! Settings from the environment: `DATABASE_URL` (required), `OPSDECK_ENGINE_URL`,
//! `OPSDECK_ENGINE_TIMEOUT_SECS`, and `OPSDECK_START_` + `INSTANCE_ID`, `MAX_ATTEMPTS`, `CONCURRENCY`,
//! `BACKOFF_BASE_SECS`, `BACKOFF_CAP_SECS`, `LEASE_SECS`, `POLL_SECS` (seconds may be fractional).

use std::process::ExitCode;
use std::time::Duration;

use platform::engine::{EngineClient, DEFAULT_REQUEST_TIMEOUT};
use platform::orchestration::{Starter, StarterConfig};

fn setting<T: std::str::FromStr>(name: &str) -> Result<Option<T>, String> {
    match std::env::var(name) {
        Ok(text) => text.trim().parse().map(Some).map_err(|_| format!("{name}: cannot read {text:?}")),
        Err(_) => Ok(None),
    }
}

fn seconds(name: &str, default: Duration) -> Result<Duration, String> {
    match setting::<f64>(name)? {
        Some(secs) => Duration::try_from_secs_f64(secs).map_err(|e| format!("{name}: {e}")),
        None => Ok(default),
    }
}

fn config() -> Result<(String, EngineClient, StarterConfig), String> {
    let database_url = std::env::var("DATABASE_URL").map_err(|_| "DATABASE_URL is not set".to_string())?;
    let engine_url = setting::<String>("OPSDECK_ENGINE_URL")?
        .unwrap_or_else(|| "http://127.0.0.1:58080/engine-rest".into());
    let engine = EngineClient::with_request_timeout(engine_url, seconds("OPSDECK_ENGINE_TIMEOUT_SECS", DEFAULT_REQUEST_TIMEOUT)?);
    let defaults = StarterConfig::new(
        setting::<String>("OPSDECK_START_INSTANCE_ID")?.unwrap_or_else(StarterConfig::generate_instance_id),
    );
    let config = StarterConfig {
        max_attempts: setting("OPSDECK_START_MAX_ATTEMPTS")?.unwrap_or(defaults.max_attempts),
        concurrency: setting("OPSDECK_START_CONCURRENCY")?.unwrap_or(defaults.concurrency),
        backoff_base: seconds("OPSDECK_START_BACKOFF_BASE_SECS", defaults.backoff_base)?,
        backoff_cap: seconds("OPSDECK_START_BACKOFF_CAP_SECS", defaults.backoff_cap)?,
        lease: seconds("OPSDECK_START_LEASE_SECS", defaults.lease)?,
        poll_interval: seconds("OPSDECK_START_POLL_SECS", defaults.poll_interval)?,
        ..defaults
    };
    Ok((database_url, engine, config))
}

#[tokio::main]
async fn main() -> ExitCode {
    let (database_url, engine, config) = match config() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("orchestration-starter: {message}");
            return ExitCode::from(2);
        }
    };
    let run = async {
        let pool = platform::db::connect_lazy(&database_url, config.concurrency + 2).map_err(|e| e.to_string())?;
        let starter = Starter::new(pool, engine, config).map_err(|e| e.to_string())?;
        let (stop_tx, stop) = tokio::sync::watch::channel(false);
        let running = tokio::spawn(starter.run(stop));
        let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| e.to_string())?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
        let _ = stop_tx.send(true);
        running.await.map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    };
    match run.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("orchestration-starter: {message}");
            ExitCode::FAILURE
        }
    }
}
