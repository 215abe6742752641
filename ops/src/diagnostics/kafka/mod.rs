//! Kafka consumer lag (lesson §11): per consumer group and partition, in records and in time (the age of
//! the oldest unconsumed record), judged over a window of samples by Burrow's rules ([`evaluate`]), and
//! in business terms: orders whose latest event is on Kafka but not yet in the projection
//! ([`waiting_orders`]).
//!
//! The samples come from the sampler ([`super::Sampler`]), which asks the process's one long-lived Kafka
//! client ([`KafkaWatch`]) and writes a round to PostgreSQL; reading the panel never talks to Kafka.

mod evaluate;
pub mod offsets_topic;
mod samples;
mod waiting;
mod watch;

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use evaluate::{evaluate, GroupStatus, PartitionStatus, Rules, Sample};
pub use samples::{record, windows, PartitionWindow};
pub use waiting::{waiting_orders, WaitingOrders};
pub use watch::{KafkaWatch, Observation, Position, OWN_GROUP_PREFIX};

use super::panel::{Status, Verdict};

pub const RUNBOOK: &str = "kafka-consumer-lag.md";

/// What Kafka being down hides.
pub const AFFECTED: &str = "consumer lag cannot be measured; the statuses below resume from the next sample \
                            once Kafka answers (orders waiting for the projection are still counted)";

/// One partition of a group, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: i32,
    pub status: PartitionStatus,
    pub committed_offset: i64,
    pub committed_at: DateTime<Utc>,
    /// Since when (as far as the window sees) the committed offset has been what it is now: for a STOP or
    /// STALL, how long the group has not moved.
    pub offset_since: DateTime<Utc>,
    pub log_end_offset: i64,
    pub lag: i64,
    /// Age of the oldest unconsumed record at the latest sample.
    pub lag_seconds: Option<f64>,
    /// Samples in the window.
    pub samples: usize,
}

/// One consumer group, judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupLag {
    pub group: String,
    pub status: GroupStatus,
    pub total_lag: i64,
    /// The oldest unconsumed record of any of its partitions, in seconds.
    pub max_lag_seconds: Option<f64>,
    /// Worst first.
    pub partitions: Vec<PartitionLag>,
}

impl GroupLag {
    /// The worst partition (what the group's status is about).
    pub fn worst(&self) -> Option<&PartitionLag> {
        self.partitions.first()
    }
}

/// Every group the latest round saw, worst first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConsumerLag {
    /// The latest round; `None` before the first.
    pub sampled_at: Option<DateTime<Utc>>,
    pub groups: Vec<GroupLag>,
}

impl ConsumerLag {
    /// Judges every partition's window as of the latest round (not "now": a sampler that skipped a round
    /// must not turn every group into STOP).
    pub fn judge(sampled_at: Option<DateTime<Utc>>, windows: Vec<PartitionWindow>, rules: Rules) -> ConsumerLag {
        let now = sampled_at.unwrap_or_else(Utc::now);
        let mut groups: Vec<GroupLag> = Vec::new();
        for window in windows {
            let Some(latest) = window.samples.last() else { continue };
            let partition = PartitionLag {
                topic: window.topic.clone(),
                partition: window.partition,
                status: evaluate(&window.samples, now, rules),
                committed_offset: latest.committed_offset,
                committed_at: latest.committed_at,
                offset_since: window
                    .samples
                    .iter()
                    .rev()
                    .take_while(|s| s.committed_offset == latest.committed_offset)
                    .map(|s| s.committed_at)
                    .min()
                    .unwrap_or(latest.committed_at),
                log_end_offset: latest.log_end_offset,
                lag: latest.lag,
                lag_seconds: latest
                    .oldest_unconsumed_at
                    .map(|at| ((latest.sampled_at - at).num_milliseconds().max(0) as f64) / 1000.0),
                samples: window.samples.len(),
            };
            match groups.last_mut() {
                Some(g) if g.group == window.group => g.partitions.push(partition),
                _ => groups.push(GroupLag {
                    group: window.group,
                    status: GroupStatus::Ok,
                    total_lag: 0,
                    max_lag_seconds: None,
                    partitions: vec![partition],
                }),
            }
        }
        for group in &mut groups {
            group.partitions.sort_by(|a, b| b.status.cmp(&a.status).then(b.lag.cmp(&a.lag)));
            group.status = GroupStatus::of(group.partitions.iter().map(|p| p.status));
            group.total_lag = group.partitions.iter().map(|p| p.lag).sum();
            group.max_lag_seconds = group.partitions.iter().filter_map(|p| p.lag_seconds).reduce(f64::max);
        }
        groups.sort_by(|a, b| b.status.cmp(&a.status).then(b.total_lag.cmp(&a.total_lag)).then(a.group.cmp(&b.group)));
        ConsumerLag { sampled_at, groups }
    }

    pub fn group(&self, name: &str) -> Option<&GroupLag> {
        self.groups.iter().find(|g| g.group == name)
    }

    /// The reading of the panel: errors first, then time lag past the SLA, then warnings.
    pub fn verdict(&self, sla: Duration) -> Verdict {
        let sla_secs = sla.as_secs_f64();
        let bad: Vec<&GroupLag> = self.groups.iter().filter(|g| g.status == GroupStatus::Err).collect();
        if let Some(first) = bad.first() {
            // "consumer group order-projection STALL on order-events/2 since 10:42 UTC (…)": the partition the
            // group's status is about, and since when its committed offset has not moved.
            let worst = first
                .worst()
                .map(|p| {
                    format!(
                        " {} on {}/{} since {} ({})",
                        p.status.as_str(),
                        p.topic,
                        p.partition,
                        p.offset_since.format("%H:%M UTC"),
                        p.status.meaning()
                    )
                })
                .unwrap_or_default();
            let others = match bad.len() {
                1 => String::new(),
                n => format!("; {} more group(s) not consuming", n - 1),
            };
            return Verdict::new(
                Status::Err,
                format!("consumer group {}{worst}, {} record(s) behind{others}", first.group, first.total_lag),
                "Find out why the consumer stopped or stalls (its log at the stuck offset: a poison event? PostgreSQL \
                 slow?); restart it or quarantine the poison event — never skip offsets without the replay checklist.",
                RUNBOOK,
            );
        }
        if let Some(late) = self.groups.iter().find(|g| g.max_lag_seconds.is_some_and(|s| s > sla_secs)) {
            return Verdict::new(
                Status::Err,
                format!(
                    "{}: oldest unconsumed record is {:.0} s old, over the {:.0} s SLA",
                    late.group,
                    late.max_lag_seconds.unwrap_or_default(),
                    sla_secs
                ),
                "Is lag on one partition or all (a poison event, or volume)? Scale or fix the consumer; check PostgreSQL.",
                RUNBOOK,
            );
        }
        if let Some(slow) = self.groups.iter().find(|g| g.status == GroupStatus::Warn) {
            return Verdict::new(
                Status::Warn,
                format!("{} is falling behind: {} record(s) of lag, not going down", slow.group, slow.total_lag),
                "Watch the next samples; if it keeps growing, check the consumer's throughput and PostgreSQL.",
                RUNBOOK,
            );
        }
        match self.sampled_at {
            None => Verdict::new(Status::Warn, "No lag sample yet.", "Wait for the sampler's first round.", RUNBOOK),
            Some(_) if self.groups.is_empty() => Verdict::ok("No consumer group has committed offsets.", RUNBOOK),
            Some(_) => Verdict::ok(format!("{} consumer group(s) keeping up.", self.groups.len()), RUNBOOK),
        }
    }
}
