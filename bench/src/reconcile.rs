//! Reconciliation (issue 14 §1): each check's whole run (examine + record its mismatches) beside its
//! bare SQL run with psql on the same data — warmed the same way, the better of two psql runs — then
//! `changes` quotes of the traffic simulator (approvals, acceptances, orders) and every incremental
//! check re-run over what changed.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use ops::reconcile::{self, checks, CheckName, RunOrigin, RunRequest};
use ops::testing::demo_user;
use platform::engine::EngineClient;
use platform::machine::Named;
use platform::simulator::{run_traffic, SimConfig};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::Result;

pub async fn run(pool: &PgPool, engine: &EngineClient, sql_dir: &Path, changes: u64) -> Result<Value> {
    let actor = demo_user("oscar.operator");
    let mut full = Vec::new();
    for &check in CheckName::ALL {
        let file = sql_dir.join(format!("{}.sql", check.slug()));
        let bare_ms = psql_ms(&file)?.min(psql_ms(&file)?);
        let started = Instant::now();
        let run = reconcile::run(pool, Some(engine), &actor, &RunRequest::one(check, RunOrigin::Cli)).await?.remove(0);
        let run_ms = started.elapsed().as_secs_f64() * 1e3;
        eprintln!("reconcile {:<18} run {run_ms:>9.1} ms  bare {bare_ms:>9.1} ms", check.slug());
        full.push(json!({
            "check": check.slug(), "run_ms": run_ms, "bare_ms": bare_ms,
            "checked": run.checked, "mismatches": run.mismatches,
        }));
    }

    let started = Instant::now();
    let counts = simulate(pool, changes).await?;
    let changes_s = started.elapsed().as_secs_f64();
    // An incremental run leaves changes younger than its check's grace for the next run (they may still
    // be in flight): wait out the longest grace, so that each re-run examines every change made above.
    let grace = CheckName::ALL.iter().filter(|&&c| checks::info(c).incremental).map(|&c| checks::info(c).grace_secs).max();
    let wait = std::time::Duration::from_secs(grace.unwrap_or(0).max(0) as u64 + 5);
    eprintln!("waiting {} s (the longest grace) before the incremental re-runs", wait.as_secs());
    tokio::time::sleep(wait).await;
    let mut incremental = Vec::new();
    for check in CheckName::ALL.iter().copied().filter(|&c| checks::info(c).incremental) {
        let request = RunRequest { incremental: true, ..RunRequest::one(check, RunOrigin::Cli) };
        let started = Instant::now();
        let run = reconcile::run(pool, Some(engine), &actor, &request).await?.remove(0);
        let run_ms = started.elapsed().as_secs_f64() * 1e3;
        eprintln!("incremental {:<16} run {run_ms:>9.1} ms  checked {}", check.slug(), run.checked);
        incremental.push(json!({
            "check": check.slug(), "run_ms": run_ms, "checked": run.checked,
            "mismatches": run.mismatches, "incremental": run.incremental,
        }));
    }
    let orders: i64 = sqlx::query_scalar("select count(*) from oms.sales_order").fetch_one(pool).await?;
    Ok(json!({
        "orders": orders, "full": full,
        "changes": { "quotes": changes, "seconds": changes_s, "counts": format!("{counts:?}"), "waited_s": wait.as_secs() },
        "incremental": incremental,
    }))
}

/// The simulator's quotes, approvals, acceptances and orders, in process (no relay, no Kafka).
async fn simulate(pool: &PgPool, changes: u64) -> Result<platform::simulator::SimCounts> {
    let (_stop_tx, stop) = tokio::sync::watch::channel(false);
    let sim = SimConfig {
        tenants: platform::tenants::WELL_KNOWN.iter().map(|t| t.0).collect(),
        rate_per_sec: 5_000.0,
        approval_share: 0.3,
        stop,
        seed: 9,
        max_quotes: Some(changes),
        prices: platform::pricing::PriceBook::new(pool.clone(), None),
    };
    Ok(run_traffic(pool, sim).await?)
}

/// The server time of `file` as psql's `\timing` reports it (rows fetched to psql, output discarded).
fn psql_ms(file: &Path) -> Result<f64> {
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", &crate::database_url()?])
        .args(["-c", "\\timing on", "-c", "\\o /dev/null", "-f"])
        .arg(file)
        .output()?;
    if !out.status.success() {
        return Err(format!("psql {}: {}", file.display(), String::from_utf8_lossy(&out.stderr)).into());
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|l| l.strip_prefix("Time: ")?.split(" ms").next()?.parse::<f64>().ok())
        .last()
        .ok_or_else(|| format!("no \\timing line from psql for {}: {text}", file.display()).into())
}
