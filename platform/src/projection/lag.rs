//! The consumer's offset lag: how many records of its assigned partitions it has yet to process — per
//! partition the high watermark minus the group's committed offset (the next record to process), summed.
//!
//! This is the figure a lag alert wants: it grows while the consumer is paused, stuck or slow, and is
//! zero when it has caught up, whatever the age of the records. (The age of the last record processed
//! is a different figure, kept beside it as `record_age_ms`: it says nothing when no record arrives.)
//! It asks the broker (committed offsets, watermarks), so it blocks: call it off the async runtime.

use std::time::Duration;

use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::error::KafkaResult;
use rdkafka::Offset;

/// Where a partition with nothing committed yet starts, as `auto.offset.reset` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reset {
    Earliest,
    Latest,
}

/// The offset lag of the partitions assigned to `consumer` now; `None` while it has none (before its
/// first assignment, or with more members than partitions).
pub fn offset_lag(consumer: &StreamConsumer, reset: Reset, timeout: Duration) -> KafkaResult<Option<i64>> {
    let assignment = consumer.assignment()?;
    if assignment.count() == 0 {
        return Ok(None);
    }
    let committed = consumer.committed_offsets(assignment, timeout)?;
    let mut lag = 0;
    for partition in committed.elements() {
        let (low, high) = consumer.fetch_watermarks(partition.topic(), partition.partition(), timeout)?;
        let next = match (partition.offset(), reset) {
            (Offset::Offset(offset), _) => offset,
            (_, Reset::Earliest) => low,
            (_, Reset::Latest) => high,
        };
        lag += partition_lag(high, next);
    }
    Ok(Some(lag))
}

/// Records from `next` up to (not including) `high`; never negative (a committed offset can be ahead
/// of a watermark read a moment earlier).
fn partition_lag(high: i64, next: i64) -> i64 {
    (high - next).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_lag_counts_the_records_not_yet_processed_and_is_never_negative() {
        assert_eq!(partition_lag(10, 10), 0);
        assert_eq!(partition_lag(10, 7), 3);
        assert_eq!(partition_lag(10, 0), 10);
        assert_eq!(partition_lag(10, 11), 0);
    }
}
