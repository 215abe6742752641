//! The anomalies the seed injects on purpose, and the plan of where they go.
//!
//! Every injected anomaly is recorded in `platform.seed_anomaly`, so a detector (a runbook query, a
//! reconciliation) can be checked for finding exactly these and nothing else.

use rand::seq::index;
use rand::Rng;

use crate::named_enum;

named_enum!(/// What the seed broke on purpose, as stored in `platform.seed_anomaly.anomaly_type`.
AnomalyType {
    /// Order in an active status, untouched for hours (runbook 8).
    StuckOrder => "STUCK_ORDER",
    /// Quote accepted more than 5 minutes ago without an order (reconciliation 17.2).
    AcceptedQuoteWithoutOrder => "ACCEPTED_QUOTE_WITHOUT_ORDER",
    /// A second order for one quote, from the legacy import (runbook 9).
    DuplicateOrder => "DUPLICATE_ORDER",
    /// Read model behind the order's version (reconciliation Kafka vs projection).
    StaleProjection => "STALE_PROJECTION",
    /// Open approval past its due time on a quote pending approval (runbook 10).
    OverdueApproval => "OVERDUE_APPROVAL",
    /// Outbox event claimed by a relay instance that died (runbook 12.3).
    StaleOutboxClaim => "STALE_OUTBOX_CLAIM",
    /// Quote total different from the sum of its priced lines (reconciliation 17.1).
    PriceSnapshotMismatch => "PRICE_SNAPSHOT_MISMATCH",
});

impl AnomalyType {
    /// The `entity_type` its `seed_anomaly` rows carry (the vocabulary of `ops.incident_entity`), and so
    /// what `entity_id` is: the stuck order, the quote (for duplicates: the quote both orders came from),
    /// the approval request, the outbox event.
    pub fn entity_type(self) -> &'static str {
        match self {
            AnomalyType::StuckOrder | AnomalyType::StaleProjection => "ORDER",
            AnomalyType::AcceptedQuoteWithoutOrder
            | AnomalyType::DuplicateOrder
            | AnomalyType::PriceSnapshotMismatch => "QUOTE",
            AnomalyType::OverdueApproval => "APPROVAL",
            AnomalyType::StaleOutboxClaim => "OUTBOX_EVENT",
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// How many of each anomaly a run injects: `round(rate × orders)`, at least one of each when the rate is
/// positive, and at least one stuck order per active status.
pub(super) fn anomaly_count(kind: AnomalyType, orders: u64, rate: f64) -> u64 {
    if rate <= 0.0 {
        return 0;
    }
    let n = ((orders as f64) * rate).round() as u64;
    let floor = if kind == AnomalyType::StuckOrder { 4 } else { 1 };
    n.max(floor)
}

/// The slots (order indexes) that carry an anomaly. Order anomalies (stuck, duplicate, stale projection)
/// replace or change that slot's order and never share a slot; quote, approval and outbox anomalies are
/// extra entities generated next to the slot's order, so they may share.
pub(super) struct Plan {
    flags: Vec<u8>,
}

/// The anomalies that change the order of their slot.
pub(super) const ORDER_ANOMALIES: [AnomalyType; 3] =
    [AnomalyType::StuckOrder, AnomalyType::DuplicateOrder, AnomalyType::StaleProjection];
/// The anomalies that add an entity next to their slot's order.
pub(super) const EXTRA_ANOMALIES: [AnomalyType; 4] = [
    AnomalyType::AcceptedQuoteWithoutOrder,
    AnomalyType::OverdueApproval,
    AnomalyType::StaleOutboxClaim,
    AnomalyType::PriceSnapshotMismatch,
];

impl Plan {
    /// Places the anomalies of `orders` slots. Order anomalies go only to the first `old` slots (orders
    /// that are hours old or more); extra anomalies to any slot.
    pub fn new(rng: &mut impl Rng, orders: u64, old: u64, rate: f64) -> Result<Self, String> {
        let mut flags = vec![0u8; orders as usize];
        let counts: Vec<(AnomalyType, u64)> =
            ORDER_ANOMALIES.iter().map(|&k| (k, anomaly_count(k, orders, rate))).collect();
        let needed: u64 = counts.iter().map(|c| c.1).sum();
        if needed > old {
            return Err(format!(
                "{orders} orders leave {old} old enough to carry {needed} order anomalies: raise orders or lower the anomaly rate"
            ));
        }
        let chosen = index::sample(rng, old as usize, needed as usize).into_vec();
        let mut at = 0;
        for (kind, n) in counts {
            for &slot in &chosen[at..at + n as usize] {
                flags[slot] |= kind.bit();
            }
            at += n as usize;
        }
        for kind in EXTRA_ANOMALIES {
            let n = anomaly_count(kind, orders, rate).min(orders);
            for slot in index::sample(rng, orders as usize, n as usize) {
                flags[slot] |= kind.bit();
            }
        }
        Ok(Plan { flags })
    }

    pub fn has(&self, slot: u64, kind: AnomalyType) -> bool {
        self.flags[slot as usize] & kind.bit() != 0
    }

    #[cfg(test)]
    pub fn count(&self, kind: AnomalyType) -> u64 {
        self.flags.iter().filter(|f| **f & kind.bit() != 0).count() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::Named;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn counts_follow_the_rate_with_a_floor_of_one_and_four_stuck_orders() {
        assert_eq!(anomaly_count(AnomalyType::DuplicateOrder, 5_000, 0.02), 100);
        assert_eq!(anomaly_count(AnomalyType::DuplicateOrder, 10, 0.02), 1);
        assert_eq!(anomaly_count(AnomalyType::StuckOrder, 10, 0.02), 4);
        assert_eq!(anomaly_count(AnomalyType::StuckOrder, 5_000, 0.0), 0);
    }

    #[test]
    fn order_anomalies_never_share_a_slot_and_stay_among_old_orders() {
        let plan = Plan::new(&mut StdRng::seed_from_u64(1), 1_000, 900, 0.05).unwrap();
        for slot in 0..1_000 {
            let n = ORDER_ANOMALIES.iter().filter(|k| plan.has(slot, **k)).count();
            assert!(n <= 1, "slot {slot} has {n} order anomalies");
            if slot >= 900 {
                assert_eq!(n, 0);
            }
        }
        for kind in AnomalyType::ALL {
            assert_eq!(plan.count(*kind), 50, "{kind}");
        }
    }

    #[test]
    fn the_same_rng_seed_places_the_same_anomalies() {
        let a = Plan::new(&mut StdRng::seed_from_u64(9), 500, 400, 0.03).unwrap();
        let b = Plan::new(&mut StdRng::seed_from_u64(9), 500, 400, 0.03).unwrap();
        assert_eq!(a.flags, b.flags);
    }

    #[test]
    fn too_few_old_orders_for_the_rate_is_refused() {
        assert!(Plan::new(&mut StdRng::seed_from_u64(1), 100, 10, 0.1).is_err());
    }

    #[test]
    fn anomaly_names_match_the_seed_anomaly_check_constraint() {
        let names: Vec<&str> = AnomalyType::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            [
                "STUCK_ORDER",
                "ACCEPTED_QUOTE_WITHOUT_ORDER",
                "DUPLICATE_ORDER",
                "STALE_PROJECTION",
                "OVERDUE_APPROVAL",
                "STALE_OUTBOX_CLAIM",
                "PRICE_SNAPSHOT_MISMATCH"
            ]
        );
    }
}
