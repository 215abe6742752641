//! The generator: turns the slots of a run into rows, a batch of orders at a time. It never touches the
//! database; [`super::load`] copies what it produces.
//!
//! A slot is one order with the quote it was accepted from, plus whatever else the slot carries: an
//! "other" quote (one that never became an order) about every third slot, the extra entities of the
//! quote/approval/outbox anomalies planned for it, and the last slot brings the newest few quotes.
//!
//! Time: `now` is taken when the run starts, and again for the last batch (see [`Generator::next_batch`]).
//! Orders are spread over [`HISTORY`] ending an hour ago, except the last few (the "recent tail"),
//! captured in the last 15 minutes: those are the only normal orders that may still be active.
//! Everything else that is normal is settled the way the runbooks' detectors expect (see the module docs
//! of [`super`]).
//!
//! One file per part of what a slot writes: [`slots`] decides what a slot holds; [`quotes`] and
//! [`approvals`], [`orders`] with [`fulfillment`] and [`projection`], and [`outbox`] write the rows;
//! [`anomalies`] writes the recorded anomalies; [`batch`] is the tables a batch fills.

mod anomalies;
mod approvals;
mod batch;
mod fulfillment;
mod orders;
mod outbox;
mod projection;
mod quotes;
mod slots;
#[cfg(test)]
mod tests;

use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

use super::anomaly::Plan;
use super::rows::push_rfc3339;
use super::world::Tenant;
pub(super) use batch::Batch;
use batch::{t, TABLES};
pub(super) use outbox::CrashedRelay;
use outbox::PARTITIONS;

pub(super) const SECOND: i64 = 1_000;
pub(super) const MINUTE: i64 = 60 * SECOND;
pub(super) const HOUR: i64 = 60 * MINUTE;
pub(super) const DAY: i64 = 24 * HOUR;
/// How far back the seeded business goes.
pub(super) const HISTORY: i64 = 120 * DAY;
/// How many of the newest quote events are left PENDING for the relay.
pub const FRESH_PENDING: usize = 5;

/// What a run is asked to generate.
pub(super) struct Config {
    pub orders: u64,
    pub anomaly_rate: f64,
    pub rng_seed: u64,
    pub run_no: u32,
    pub seed_run_id: Uuid,
    pub now_ms: i64,
    pub batch_orders: u64,
    /// Next Kafka offset per topic (quote, order) and partition.
    pub kafka_next: [[i64; PARTITIONS as usize]; 2],
}

pub(super) struct Generator {
    cfg: Config,
    rng: StdRng,
    /// Ids come from their own stream, mixed with the run number, so a second run with the same rng seed
    /// produces the same business under new ids.
    ids: StdRng,
    tenants: Vec<Tenant>,
    tenant_cum: Vec<u32>,
    plan: Plan,
    old: u64,
    next_slot: u64,
    quote_seq: u64,
    stuck_seen: u64,
    claims_seen: u64,
    recent_seen: u64,
    relays: Vec<CrashedRelay>,
    /// Quotes pending approval drawn before the last batch, written in it.
    deferred_pending: u64,
    /// Generating the last batch (timed against a fresh clock).
    fresh: bool,
    capacity: Vec<usize>,
    json: Vec<u8>,
    done: bool,
}

impl Generator {
    pub fn new(cfg: Config, tenants: Vec<Tenant>) -> Result<Self, String> {
        let mut rng = StdRng::seed_from_u64(cfg.rng_seed);
        let ids = StdRng::seed_from_u64(cfg.rng_seed ^ u64::from(cfg.run_no).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        let recent = recent_tail(cfg.orders);
        let old = cfg.orders - recent;
        let plan = Plan::new(&mut rng, cfg.orders, old, cfg.anomaly_rate)?;
        let mut acc = 0;
        let tenant_cum = tenants
            .iter()
            .map(|t| {
                acc += t.weight;
                acc
            })
            .collect();
        let relays = ["a", "b", "c"]
            .iter()
            .map(|s| CrashedRelay {
                instance_id: format!("relay-crashed-{}-{s}", cfg.run_no),
                first_claim_ms: i64::MAX,
                last_claim_ms: i64::MIN,
            })
            .collect();
        Ok(Generator {
            rng,
            ids,
            tenants,
            tenant_cum,
            plan,
            old,
            next_slot: 0,
            quote_seq: 0,
            stuck_seen: 0,
            claims_seen: 0,
            recent_seen: 0,
            relays,
            deferred_pending: 0,
            fresh: false,
            capacity: vec![0; TABLES.len()],
            json: Vec::with_capacity(512),
            done: false,
            cfg,
        })
    }

    /// The next batch of rows, or `None` when the run is complete.
    ///
    /// The settled past comes first, a batch at a time. The last batch holds what must be fresh when the
    /// run ends — the recent tail of orders, quotes with an open approval, the newest outbox events — and
    /// is timed against the clock at the moment it is generated, so that however long the bulk load
    /// took, those entities are as young as the detectors' thresholds expect.
    pub fn next_batch(&mut self) -> Option<Batch> {
        if self.done {
            return None;
        }
        let mut b = Batch::new(&self.capacity);
        if self.next_slot < self.old {
            let end = (self.next_slot + self.cfg.batch_orders).min(self.old);
            for slot in self.next_slot..end {
                self.slot(&mut b, slot);
            }
            self.next_slot = end;
        } else {
            self.cfg.now_ms = self.cfg.now_ms.max(chrono::Utc::now().timestamp_millis());
            self.fresh = true;
            for slot in self.old..self.cfg.orders {
                self.slot(&mut b, slot);
            }
            self.next_slot = self.cfg.orders;
            self.finale(&mut b);
            self.done = true;
        }
        for (cap, t) in self.capacity.iter_mut().zip(&b.tables) {
            *cap = (*cap).max(t.buf.len() + t.buf.len() / 8);
        }
        Some(b)
    }

    /// The relay instances that claimed events and died (those that claimed any).
    pub fn crashed_relays(&self) -> impl Iterator<Item = &CrashedRelay> {
        self.relays.iter().filter(|r| r.first_claim_ms != i64::MAX)
    }

    fn pick_tenant(&mut self) -> usize {
        let total = *self.tenant_cum.last().expect("at least one tenant");
        let x = self.rng.random_range(0..total);
        self.tenant_cum.iter().position(|&c| x < c).expect("within the total")
    }

    /// A time-ordered (v7) id for something that happened at `ms`.
    fn id_at(&mut self, ms: i64) -> Uuid {
        let random: [u8; 16] = self.ids.random();
        let mut bytes = [0u8; 10];
        bytes.copy_from_slice(&random[..10]);
        uuid::Builder::from_unix_timestamp_millis(ms.max(0) as u64, &bytes).into_uuid()
    }
}

/// How many orders form the recent tail (captured in the last 20 minutes, possibly still active).
pub(super) fn recent_tail(orders: u64) -> u64 {
    if orders >= 40 {
        (orders / 2_000).max(8)
    } else {
        orders / 5
    }
}

/// A seed time (ms since the epoch) as events carry it.
fn utc(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).expect("seed times are within chrono's range")
}

fn rfc3339(ms: i64) -> String {
    let mut buf = Vec::with_capacity(24);
    push_rfc3339(&mut buf, ms);
    String::from_utf8(buf).expect("ascii")
}
