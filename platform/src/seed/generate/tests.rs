//! The generator without a database: decoded batches checked against the guarantees of [`super`].

use super::*;
use crate::seed::rows::{TableBuf, HEADER, PG_EPOCH_MS};
use crate::seed::world::{Policy, PolicyVersion};

fn tenants() -> Vec<Tenant> {
    (0..2)
        .map(|i| Tenant {
            id: Uuid::from_u128(i + 1),
            currency: "EUR",
            weight: 1,
            vendor: "shipfast",
            reps: vec!["rep@t.example".into()],
            approvers: vec!["approver@t.example".into()],
            escalation_approver: "head@t.example".into(),
            policy: Policy {
                policy_id: Uuid::from_u128(100 + i),
                versions: vec![PolicyVersion { version: 1, max_discount_bp: 1500, active_from: 0 }],
                max_total_minor: 5_000_000,
                sla_ms: 4 * HOUR,
            },
        })
        .collect()
}

fn generator(now_ms: i64, orders: u64, rate: f64) -> Generator {
    let cfg = Config {
        orders,
        anomaly_rate: rate,
        rng_seed: 3,
        run_no: 1,
        seed_run_id: Uuid::nil(),
        now_ms,
        batch_orders: 50,
        kafka_next: [[0; 3]; 2],
    };
    Generator::new(cfg, tenants()).unwrap()
}

/// The fields of each row of a binary COPY buffer.
fn decode(t: &TableBuf) -> Vec<Vec<Option<Vec<u8>>>> {
    let b = &t.buf;
    let mut p = HEADER.len();
    let mut rows = Vec::new();
    while p < b.len() {
        let n = i16::from_be_bytes([b[p], b[p + 1]]);
        p += 2;
        let mut row = Vec::new();
        for _ in 0..n {
            let len = i32::from_be_bytes(b[p..p + 4].try_into().unwrap());
            p += 4;
            if len < 0 {
                row.push(None);
            } else {
                row.push(Some(b[p..p + len as usize].to_vec()));
                p += len as usize;
            }
        }
        rows.push(row);
    }
    rows
}

fn ts(field: &Option<Vec<u8>>) -> i64 {
    i64::from_be_bytes(field.as_ref().unwrap()[..].try_into().unwrap()) / 1_000 + PG_EPOCH_MS
}

fn text(field: &Option<Vec<u8>>) -> String {
    String::from_utf8(field.clone().unwrap()).unwrap()
}

#[test]
fn what_must_be_young_is_timed_against_the_clock_of_the_last_batch() {
    // A run that started three hours ago (a slow bulk load) and no anomalies.
    let real_now = chrono::Utc::now().timestamp_millis();
    let mut g = generator(real_now - 3 * HOUR, 400, 0.0);
    let mut active = 0;
    let mut open = 0;
    let mut batches = 0;
    while let Some(b) = g.next_batch() {
        batches += 1;
        for row in decode(&b.tables[t::ORDER]) {
            // status 5, updated_at 12
            if ["CAPTURED", "ORCHESTRATING", "IN_PROGRESS", "PARTIALLY_FULFILLED"].contains(&text(&row[5]).as_str()) {
                active += 1;
                assert!(ts(&row[12]) > real_now - 16 * MINUTE, "an active order older than the recent tail");
            }
        }
        for row in decode(&b.tables[t::APPROVAL_REQUEST]) {
            // status 7, due_at 9
            if ["PENDING", "ESCALATED"].contains(&text(&row[7]).as_str()) {
                open += 1;
                assert!(ts(&row[9]) > real_now + 55 * MINUTE, "an open approval due within the hour");
            }
        }
    }
    assert!(batches > 2);
    assert!(active >= 4, "the recent tail holds active orders");
    assert!(open >= 1, "some quote is pending approval");
}

#[test]
fn the_same_seed_and_run_generate_the_same_settled_batches() {
    let now = 1_800_000_000_000;
    let (mut a, mut b) = (generator(now, 200, 0.05), generator(now, 200, 0.05));
    let (first_a, first_b) = (a.next_batch().unwrap(), b.next_batch().unwrap());
    for (x, y) in first_a.tables.iter().zip(&first_b.tables) {
        assert_eq!(x.buf, y.buf, "{}", x.table);
    }
}

#[test]
fn every_row_has_as_many_fields_as_its_copy_statement_names() {
    let mut g = generator(chrono::Utc::now().timestamp_millis(), 300, 0.05);
    while let Some(b) = g.next_batch() {
        for t in &b.tables {
            let columns = t.columns.split(',').count();
            for row in decode(t) {
                assert_eq!(row.len(), columns, "{}", t.table);
            }
        }
    }
}

#[test]
fn the_recent_tail_is_small_but_holds_every_active_status() {
    assert_eq!(recent_tail(2_000), 8);
    assert_eq!(recent_tail(1_000_000), 500);
    assert_eq!(recent_tail(20), 4);
}
