//! The seed generator: a reference platform full of plausible business, with a known set of things wrong.
//!
//! [`run`] writes tenants (the four well-known ones and `extra_tenants` more), an approval policy per
//! tenant (versioned; every other tenant has a second, stricter version), quotes in every status with
//! priced lines, their transition history and approval requests, orders captured from accepted quotes
//! with their lines, transitions, fulfilment requests, outbox events and projections — and then the
//! anomalies of [`AnomalyType`], each recorded in `platform.seed_anomaly`.
//!
//! # The contract with the detectors
//!
//! Everything not recorded as an anomaly is settled, so when the run ends each runbook query finds
//! exactly the recorded anomalies of its kind:
//!
//! - orders are FULFILLED, CANCELLED or FAILED, except the recent tail (captured in the last 15 minutes),
//!   which may be CAPTURED, ORCHESTRATING, IN_PROGRESS or PARTIALLY_FULFILLED (runbook 8.2 looks 30
//!   minutes back);
//! - every accepted quote has exactly one order (reconciliation 17.2);
//! - an open approval (PENDING/ESCALATED) belongs to a quote PENDING_APPROVAL, every such quote has one,
//!   and none is due within the next hour (runbook 10.2);
//! - no outbox event is PROCESSING; order events are all PUBLISHED with a Kafka topic, partition and
//!   offset; only the newest [`FRESH_PENDING`] quote events (seconds old) are still PENDING (runbook 12);
//! - every projection is at its order's version; every quote total is the sum of its lines' `net_minor`;
//! - a CAPTURED order's orchestration start is GAVE_UP when the order is a stuck-order anomaly (the
//!   engine was unreachable past the starter's attempts), else PENDING and due (a running starter
//!   carries it out); orders past CAPTURED have no start record (seeded history predates them).
//!
//! What must be young when the run ends (the recent tail, quotes with an open approval, the newest
//! events) is generated in the last batch against the clock of that moment, so the guarantee does not
//! depend on how long the bulk load took. From then on the data ages like real data nobody works on: about
//! 15 minutes after the run the first recent order crosses 8.2's 30 minutes, an hour after it the first
//! open approval falls due. Tests run the detectors right after seeding.
//!
//! Every transition row is a step of the machine tables ([`crate::quote`], [`crate::order`],
//! [`crate::approval`]): the routes in `story.rs` are replayed through [`crate::machine::transition`].
//! Each order and quote transition has its outbox event, with the payload the platform's commands write.
//!
//! # Determinism and running twice
//!
//! The same `rng_seed` gives the same business: tenants, statuses, amounts, lines, paths, anomaly
//! placement, and times relative to the moment of the run. Ids are time-ordered (UUID v7) and drawn from
//! a second stream mixed with the run number, so they differ between runs.
//!
//! Running the seed again on the same database adds a new run next to the old one: each run takes the
//! next run number (under an advisory lock), and its quote and order numbers carry it (`Q-2-0000001`,
//! `SO-2-0000001`, legacy duplicates `LEG-2-…`), and Kafka offsets continue where the recorded ones end.
//! Tenants and policies are found and reused. Anomalies of earlier runs stay, so detectors see the union
//! of every run's `seed_anomaly` rows — plus whatever of an earlier run's young data has aged past a
//! threshold in between (see above).
//!
//! # Speed
//!
//! Rows are generated on a blocking thread, a batch of [`SeedParams::batch_orders`] orders at a time, in
//! binary COPY format, while the previous batch is being copied on three connections at once (quote
//! side, order side, outbox; tables in foreign-key order within each, one transaction per lane and
//! batch). Memory holds at most two batches. Indexes, constraints and triggers stay in place, so the
//! cost is PostgreSQL's: about 39 rows per order (14 of them outbox events), roughly 18 GB per million
//! orders. A run that fails keeps the batches it committed, and its `seed_run` row has no `finished_at`.

mod anomaly;
mod generate;
mod load;
mod rows;
mod story;
mod world;

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use uuid::Uuid;

pub use anomaly::AnomalyType;
pub use generate::FRESH_PENDING;
pub use world::{POLICY_NAME, PRODUCTS};

use crate::machine::Named;
use crate::{Error, Result};

/// What to seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedParams {
    /// Orders the platform captured (each from its own accepted quote). Legacy duplicates come on top.
    pub orders: u64,
    /// Tenants beyond the four well-known ones (created once, reused by later runs).
    pub extra_tenants: u32,
    /// Share of orders each anomaly type gets (at least one of each when positive, and at least one
    /// stuck order per active status). At most 0.25.
    pub anomaly_rate: f64,
    pub rng_seed: u64,
}

impl Default for SeedParams {
    fn default() -> Self {
        SeedParams { orders: 5_000, extra_tenants: 2, anomaly_rate: 0.02, rng_seed: 42 }
    }
}

impl SeedParams {
    /// Orders generated and copied per batch: big enough to keep COPY efficient, small enough that two
    /// batches in memory stay in the tens of megabytes.
    pub const fn batch_orders() -> u64 {
        5_000
    }

    pub fn validate(&self) -> Result<()> {
        if self.orders == 0 {
            return Err(Error::Invalid { field: "orders", message: "at least one order".into() });
        }
        if !(0.0..=0.25).contains(&self.anomaly_rate) {
            return Err(Error::Invalid {
                field: "anomaly_rate",
                message: format!("must be between 0 and 0.25, got {}", self.anomaly_rate),
            });
        }
        if self.extra_tenants > 1_000 {
            return Err(Error::Invalid { field: "extra_tenants", message: "at most 1000".into() });
        }
        Ok(())
    }
}

/// What a run wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeedReport {
    pub seed_run_id: Uuid,
    /// The run's number: its quote and order numbers carry it (`Q-<run_no>-0000001`).
    pub run_no: u32,
    pub params: SeedParams,
    /// Tenants that received data.
    pub tenants: usize,
    /// Rows written per table (`schema.table`).
    pub rows: BTreeMap<String, u64>,
    /// Anomalies injected per type (the `anomaly_type` names); every type is listed.
    pub anomalies: BTreeMap<String, u64>,
    pub elapsed_ms: u64,
}

impl SeedReport {
    /// Rows written to `table` (`"oms.sales_order"`), 0 when none.
    pub fn rows_in(&self, table: &str) -> u64 {
        self.rows.get(table).copied().unwrap_or(0)
    }

    pub fn anomalies_of(&self, kind: AnomalyType) -> u64 {
        self.anomalies.get(kind.name()).copied().unwrap_or(0)
    }
}

/// Seeds the platform's tables. See the module docs for what is written and what is guaranteed.
#[tracing::instrument(skip(pool), err(Display))]
pub async fn run(pool: &PgPool, params: &SeedParams) -> Result<SeedReport> {
    params.validate()?;
    // A connection of its own: it holds the seed lock for the whole run and releases it by closing.
    let mut conn = pool.acquire().await?.detach();
    let result = run_locked(pool, &mut conn, params).await;
    // Closing releases the lock at once, whatever the outcome.
    let _ = sqlx::Connection::close(conn).await;
    result
}

async fn run_locked(pool: &PgPool, conn: &mut sqlx::PgConnection, params: &SeedParams) -> Result<SeedReport> {
    let started = Instant::now();
    load::lock(conn).await?;
    let now_ms = chrono::Utc::now().timestamp_millis();
    let tenants = world::prepare(pool, conn, params.extra_tenants, now_ms).await?;
    let tenant_count = tenants.len();
    let run_no = load::next_run_no(conn).await?;
    let seed_run_id = Uuid::now_v7();
    let kafka_next = load::kafka_next(conn).await?;

    let mut generator = generate::Generator::new(
        generate::Config {
            orders: params.orders,
            anomaly_rate: params.anomaly_rate,
            rng_seed: params.rng_seed,
            run_no,
            seed_run_id,
            now_ms,
            batch_orders: SeedParams::batch_orders(),
            kafka_next,
        },
        tenants,
    )
    .map_err(|message| Error::Invalid { field: "orders", message })?;

    let mut recorded =
        serde_json::to_value(params).map_err(|e| Error::Invalid { field: "params", message: e.to_string() })?;
    recorded["run_no"] = run_no.into();
    load::start_run(conn, seed_run_id, recorded).await?;
    tracing::info!(%seed_run_id, run_no, orders = params.orders, "seed run started");

    // Generate on a blocking thread while the previous batch is copied.
    let (tx, mut rx) = tokio::sync::mpsc::channel::<generate::Batch>(1);
    let producer = tokio::task::spawn_blocking(move || {
        while let Some(batch) = generator.next_batch() {
            if tx.blocking_send(batch).is_err() {
                break; // the loader failed; its error is reported
            }
        }
        generator
    });

    let mut order_lane = pool.acquire().await?;
    let mut outbox_lane = pool.acquire().await?;
    let mut rows: BTreeMap<String, u64> = BTreeMap::new();
    let mut anomalies = [0_u64; 7];
    let mut loaded = Ok(());
    while let Some(batch) = rx.recv().await {
        let lane = |n: usize| batch.tables.iter().filter(move |t| load::lane(t.table) == n);
        let copied = tokio::try_join!(
            load::copy_tables(conn, lane(0)),
            load::copy_tables(&mut order_lane, lane(1)),
            load::copy_tables(&mut outbox_lane, lane(2)),
        );
        if let Err(e) = copied {
            loaded = Err(e);
            break;
        }
        for t in &batch.tables {
            *rows.entry(t.table.to_owned()).or_default() += t.rows;
        }
        for (sum, n) in anomalies.iter_mut().zip(batch.anomalies) {
            *sum += n;
        }
        tracing::debug!(orders = rows.get("oms.sales_order").copied().unwrap_or(0), "seed batch copied");
    }
    drop(rx);
    drop((order_lane, outbox_lane));
    let generator = match producer.await {
        Ok(g) => g,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(e) => return Err(Error::Invalid { field: "seed", message: format!("generator did not finish: {e}") }),
    };
    loaded?;

    let heartbeats = load::record_crashed_relays(conn, generator.crashed_relays()).await?;
    rows.insert("platform.worker_heartbeat".to_owned(), heartbeats);
    let starts = load::record_orchestration_starts(conn, seed_run_id, run_no).await?;
    rows.insert("oms.orchestration_start".to_owned(), starts);
    let report = SeedReport {
        seed_run_id,
        run_no,
        params: params.clone(),
        tenants: tenant_count,
        rows,
        anomalies: AnomalyType::ALL.iter().map(|k| (k.name().to_owned(), anomalies[*k as usize])).collect(),
        elapsed_ms: started.elapsed().as_millis() as u64,
    };
    let counts =
        serde_json::to_value(&report).map_err(|e| Error::Invalid { field: "counts", message: e.to_string() })?;
    load::finish_run(conn, seed_run_id, counts).await?;
    load::analyze(conn).await?;
    tracing::info!(%seed_run_id, run_no, elapsed_ms = report.elapsed_ms, "seed run finished");
    Ok(SeedReport { elapsed_ms: started.elapsed().as_millis() as u64, ..report })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_params_are_valid() {
        SeedParams::default().validate().unwrap();
    }

    #[test]
    fn rates_outside_zero_to_a_quarter_are_refused() {
        for rate in [-0.1, 0.3, f64::NAN] {
            let p = SeedParams { anomaly_rate: rate, ..SeedParams::default() };
            assert!(matches!(p.validate(), Err(Error::Invalid { field: "anomaly_rate", .. })), "{rate}");
        }
    }

    #[test]
    fn zero_orders_is_refused() {
        let p = SeedParams { orders: 0, ..SeedParams::default() };
        assert!(p.validate().is_err());
    }
}
