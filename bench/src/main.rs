//! `opsdeck-bench`: the measurements of the benchmark harness that must run inside the process — a
//! reconciliation run, a page's own data calls, a repair's lifecycle, the incident register's bulk — each
//! printed as one JSON document on stdout for `bench/run.sh`, which also measures what runs outside
//! (psql, the HTTP load tool, Kafka's perf tools) and renders `BENCHMARKS.md` with `report`.
//!
//! It works on the database at `DATABASE_URL` and never on one it was not pointed at; it writes business
//! there (incidents, orders, repairs), so point it only at a `bench_` database.

mod incidents;
mod pages;
mod reconcile;
mod repairs;
mod report;
mod stats;

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use platform::engine::EngineClient;
use sqlx::PgPool;

#[derive(Debug, Parser)]
#[command(name = "opsdeck-bench", about = "In-process measurements for bench/run.sh")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every reconciliation check beside its bare SQL (psql, `--sql-dir/<check>.sql`), then `--changes`
    /// simulator quotes and every incremental re-run.
    Reconcile {
        #[arg(long, default_value = "bench/sql/reconcile")]
        sql_dir: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        changes: u64,
        /// Only these checks (comma-separated slugs), for trying one change; default: every check.
        #[arg(long, value_delimiter = ',')]
        checks: Vec<String>,
    },
    /// Tops the incident register up to `--count` incidents, declared through the domain's own command.
    Incidents {
        #[arg(long, default_value_t = 100_000)]
        count: u64,
    },
    /// Each console page's own data calls, run alone and in sequence (the floor of its render overhead).
    PageData {
        /// The order Order 360 shows: `<tenant id>/<order id>`.
        #[arg(long)]
        order: String,
        #[arg(long, default_value_t = 200)]
        iterations: usize,
    },
    /// Dry-run, request and execute of `--count` resume-orchestration repairs, beside the engine round trip.
    Repairs {
        #[arg(long, default_value_t = 200)]
        count: usize,
    },
    /// Renders BENCHMARKS.md from a results folder (the JSON documents run.sh collected).
    Report {
        #[arg(long)]
        results: PathBuf,
        /// The notes on missed targets (`<target>.md`).
        #[arg(long, default_value = "bench/notes")]
        notes: PathBuf,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse().command).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("opsdeck-bench: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

pub type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn run(command: Command) -> Result<()> {
    let output = match command {
        Command::Report { results, notes } => {
            print!("{}", report::render(&results, &notes)?);
            return Ok(());
        }
        Command::Reconcile { sql_dir, changes, checks } => reconcile::run(&pool().await?, &engine(), &sql_dir, changes, &checks).await?,
        Command::Incidents { count } => incidents::top_up(&pool().await?, count).await?,
        Command::PageData { order, iterations } => pages::data_calls(&pool().await?, &engine(), &order, iterations).await?,
        Command::Repairs { count } => repairs::run(&pool().await?, &engine(), count).await?,
    };
    println!("{}", serde_json::to_string_pretty(&output)?);
    Ok(())
}

fn database_url() -> Result<String> {
    Ok(std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL (a bench_ database)")?)
}

async fn pool() -> Result<PgPool> {
    Ok(platform::db::connect(&database_url()?, 8).await?)
}

fn engine() -> EngineClient {
    let url = std::env::var("OPSDECK_ENGINE_URL").unwrap_or_else(|_| platform::testing::engine_url());
    EngineClient::with_request_timeout(url, Duration::from_secs(30))
}
