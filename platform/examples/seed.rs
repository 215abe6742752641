//! Seeds the database at `DATABASE_URL` (migrating it first) and prints the report as JSON — for
//! measuring the seed outside the console: `cargo run --release -p platform --example seed -- 100000`.
//!
//! Arguments: `[orders] [anomaly_rate] [rng_seed] [extra_tenants]`, defaults as `SeedParams::default()`.

use platform::seed::{self, SeedParams};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let d = SeedParams::default();
    let params = SeedParams {
        orders: args.first().map(|s| s.parse()).transpose()?.unwrap_or(d.orders),
        anomaly_rate: args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(d.anomaly_rate),
        rng_seed: args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(d.rng_seed),
        extra_tenants: args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(d.extra_tenants),
    };
    let pool = platform::db::connect(&url, 4).await?;
    platform::db::migrate(&pool).await?;
    let report = seed::run(&pool, &params).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
