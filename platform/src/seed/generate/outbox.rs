//! Outbox events: each written with the fate it met — published to Kafka at the next offset of its
//! topic partition, still pending, or claimed by a relay that died.

use rand::Rng;
use uuid::Uuid;

use super::{t, Batch, Generator};
use crate::events::Event;
use crate::outbox::aggregate;
use crate::seed::rows::kafka_partition;

/// Kafka partitions per topic (the local broker's `num.partitions`).
pub(in crate::seed) const PARTITIONS: u32 = 3;

/// A relay instance that claimed events and died; the loader records its last heartbeat.
pub(in crate::seed) struct CrashedRelay {
    pub instance_id: String,
    pub first_claim_ms: i64,
    pub last_claim_ms: i64,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Topic {
    Quote = 0,
    Order = 1,
}

impl Topic {
    fn of(event: &Event) -> Topic {
        match event.aggregate_type() {
            aggregate::QUOTE => Topic::Quote,
            aggregate::ORDER => Topic::Order,
            other => panic!("the seed writes quote and order events, not {other} events"),
        }
    }
    fn topic(self) -> &'static str {
        match self {
            Topic::Quote => "opsdeck.quote",
            Topic::Order => "opsdeck.order",
        }
    }
}

/// What happened to an outbox event.
#[derive(Clone, Copy)]
pub(super) enum Fate {
    Published,
    /// Not yet picked up by the relay.
    Pending,
    /// Claimed by a relay instance (index into the crashed relays) that died at `at`.
    Claimed {
        relay: usize,
        at: i64,
    },
}

impl Generator {
    /// Writes `event` to the outbox, with the fate it met; returns the outbox event id.
    pub(super) fn event(&mut self, b: &mut Batch, event: &Event, partition: i32, correlation: Uuid, at: i64, fate: Fate) -> Uuid {
        let id = self.id_at(at);
        let topic = Topic::of(event);
        let mut payload = std::mem::take(&mut self.json);
        payload.clear();
        serde_json::to_writer(&mut payload, event).expect("an event serializes");
        let headers = format!(r#"{{"correlation_id":"{correlation}","schema_version":1}}"#);
        let mut row = b.tables[t::OUTBOX].row();
        row.uuid(id)
            .uuid(event.tenant_id().as_uuid())
            .text(event.aggregate_type())
            .uuid(event.aggregate_id())
            .i64(event.aggregate_version())
            .text(event.event_type())
            .jsonb(&payload)
            .jsonb(headers.as_bytes());
        match fate {
            Fate::Published => {
                let published_at = (at + self.rng.random_range(20..1_500)).min(self.cfg.now_ms - 1);
                let next = &mut self.cfg.kafka_next[topic as usize][partition as usize];
                let offset = *next;
                *next += 1;
                // `attempts` counts failed attempts (as the relay keeps it): these went through first time.
                row.text("PUBLISHED")
                    .i32(0)
                    .null()
                    .null()
                    .null()
                    .null()
                    .ts(at)
                    .ts(published_at)
                    .text(topic.topic())
                    .i32(partition)
                    .i64(offset);
            }
            Fate::Pending => {
                row.text("PENDING").i32(0).null().null().null().null().ts(at).null().null().null().null();
            }
            Fate::Claimed { relay, at: claimed_at } => {
                row.text("PROCESSING")
                    .i32(0)
                    .null()
                    .null()
                    .text(&self.relays[relay].instance_id)
                    .ts(claimed_at)
                    .ts(at)
                    .null()
                    .null()
                    .null()
                    .null();
            }
        }
        drop(row);
        self.json = payload;
        id
    }
}

pub(super) fn partition_of(aggregate_id: Uuid) -> i32 {
    let mut key = [0u8; 36];
    kafka_partition(aggregate_id.as_hyphenated().encode_lower(&mut key).as_bytes(), PARTITIONS)
}
