//! Consumer lag evaluation in the manner of Burrow (LinkedIn's lag checker): no thresholds on message
//! counts, but rules over a sliding window of a partition's samples, each carrying the group's committed
//! offset, when that offset was committed, and the lag at that moment.
//!
//! The window is first reduced to the *commits* it saw (consecutive samples of one commit count once, at
//! their first sample), then the rules run in Burrow's order, the first that holds deciding:
//!
//! 1. no lag now, or lag zero at any commit of the window → **OK** (it caught up within the window);
//! 2. a commit lower than the one before → **REWIND** (offsets were reset backwards);
//! 3. the time since the last commit exceeds the time the window's commits span (and at least
//!    [`Rules::min_silence`]) → **STOP**: the group stopped committing while there is lag;
//! 4. two or more commits, all of the same offset → **STALL**: the consumer is alive and committing, but
//!    not moving (a poison record retried for ever, a stuck handler);
//! 5. the lag never decreased from one commit to the next (or one commit is all the window holds) →
//!    **WARN**: the consumer moves but falls behind;
//! 6. otherwise **OK**.
//!
//! A group is **ERR** when any partition is STOP, STALL or REWIND, **WARN** when any is WARN, else OK:
//! a stopped or stalled consumer never looks healthy, whatever its other partitions do.
//!
//! The one departure from Burrow is `min_silence`: Burrow sees every commit as it happens; a sampler sees
//! commits only at its interval, so a window holding one commit has no span, and without a floor the
//! first sample after any commit would read as STOP.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One partition of one group, as one sampling round saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    pub sampled_at: DateTime<Utc>,
    pub committed_offset: i64,
    pub committed_at: DateTime<Utc>,
    pub log_end_offset: i64,
    pub lag: i64,
    pub oldest_unconsumed_at: Option<DateTime<Utc>>,
}

/// A partition's status (Burrow's partition statuses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PartitionStatus {
    Ok,
    Warn,
    Stop,
    Stall,
    Rewind,
}

impl PartitionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PartitionStatus::Ok => "OK",
            PartitionStatus::Warn => "WARN",
            PartitionStatus::Stop => "STOP",
            PartitionStatus::Stall => "STALL",
            PartitionStatus::Rewind => "REWIND",
        }
    }

    /// What the status means, for a person.
    pub fn meaning(self) -> &'static str {
        match self {
            PartitionStatus::Ok => "keeping up",
            PartitionStatus::Warn => "moving, but the lag is not going down",
            PartitionStatus::Stop => "stopped: no commit for longer than the window, with lag",
            PartitionStatus::Stall => "stalled: committing the same offset again and again, with lag",
            PartitionStatus::Rewind => "rewound: the committed offset went backwards",
        }
    }

    /// The value exported as `opsdeck_kafka_partition_status`.
    pub fn code(self) -> u8 {
        self as u8
    }
}

/// A group's status (Burrow's group statuses): the worst of its partitions, STOP/STALL/REWIND as ERR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum GroupStatus {
    Ok,
    Warn,
    Err,
}

impl GroupStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupStatus::Ok => "OK",
            GroupStatus::Warn => "WARN",
            GroupStatus::Err => "ERR",
        }
    }

    /// The value exported as `opsdeck_kafka_consumer_status` (0 OK, 1 WARN, 2 ERR).
    pub fn code(self) -> u8 {
        self as u8
    }

    pub fn of(partitions: impl IntoIterator<Item = PartitionStatus>) -> GroupStatus {
        partitions
            .into_iter()
            .map(|p| match p {
                PartitionStatus::Ok => GroupStatus::Ok,
                PartitionStatus::Warn => GroupStatus::Warn,
                PartitionStatus::Stop | PartitionStatus::Stall | PartitionStatus::Rewind => GroupStatus::Err,
            })
            .max()
            .unwrap_or(GroupStatus::Ok)
    }
}

/// The evaluator's one setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rules {
    /// How long a group with lag may go without a commit before it is STOP even when the window holds a
    /// single commit: at least the sampling interval.
    pub min_silence: Duration,
}

/// Evaluates one partition's window (samples oldest first) as of `now`.
pub fn evaluate(window: &[Sample], now: DateTime<Utc>, rules: Rules) -> PartitionStatus {
    let Some(latest) = window.last() else { return PartitionStatus::Ok };
    let commits = commits(window);
    // Rule 1.
    if latest.lag == 0 || commits.iter().any(|c| c.lag == 0) {
        return PartitionStatus::Ok;
    }
    // Rule 2.
    if commits.windows(2).any(|w| w[1].committed_offset < w[0].committed_offset) {
        return PartitionStatus::Rewind;
    }
    // Rule 3.
    let (first, last) = (commits[0], commits[commits.len() - 1]);
    let span = (last.committed_at - first.committed_at).to_std().unwrap_or_default();
    let silence = (now - last.committed_at).to_std().unwrap_or_default();
    if silence > span.max(rules.min_silence) {
        return PartitionStatus::Stop;
    }
    // Rule 4.
    if commits.len() >= 2 && commits.iter().all(|c| c.committed_offset == first.committed_offset) {
        return PartitionStatus::Stall;
    }
    // Rule 5.
    if !commits.windows(2).any(|w| w[1].lag < w[0].lag) {
        return PartitionStatus::Warn;
    }
    PartitionStatus::Ok
}

/// The window's commits: each distinct (offset, commit time) once, at the first sample that saw it.
fn commits(window: &[Sample]) -> Vec<&Sample> {
    let mut commits: Vec<&Sample> = Vec::with_capacity(window.len());
    for sample in window {
        let seen = commits.last().is_some_and(|c: &&Sample| {
            c.committed_at == sample.committed_at && c.committed_offset == sample.committed_offset
        });
        if !seen {
            commits.push(sample);
        }
    }
    commits
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const RULES: Rules = Rules { min_silence: Duration::from_secs(15) };

    fn t(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
    }

    /// A window sampled every 15 s: (committed offset, committed at, log end offset) per sample.
    fn window(rows: &[(i64, i64, i64)]) -> Vec<Sample> {
        rows.iter()
            .enumerate()
            .map(|(i, &(offset, committed_at, end))| Sample {
                sampled_at: t(15 * i as i64),
                committed_offset: offset,
                committed_at: t(committed_at),
                log_end_offset: end,
                lag: (end - offset).max(0),
                oldest_unconsumed_at: None,
            })
            .collect()
    }

    #[test]
    fn every_rule_on_its_own_window() {
        use PartitionStatus::*;
        // (what, window, evaluated at, status)
        let cases: [(&str, Vec<Sample>, i64, PartitionStatus); 12] = [
            ("empty window", window(&[]), 0, Ok),
            ("no lag now", window(&[(10, 0, 20), (20, 14, 20)]), 15, Ok),
            ("lag was zero at a commit in the window", window(&[(10, 0, 10), (15, 14, 30), (20, 29, 40)]), 30, Ok),
            ("lag going down", window(&[(10, 0, 50), (30, 14, 60), (55, 29, 70)]), 30, Ok),
            ("offset went backwards", window(&[(50, 0, 60), (20, 14, 70), (30, 29, 80)]), 30, Rewind),
            ("no commit for longer than the window spans", window(&[(10, 0, 20), (12, 5, 30), (12, 5, 40), (12, 5, 50)]), 45, Stop),
            ("one commit, silent past the floor", window(&[(10, 0, 20), (10, 0, 30)]), 16, Stop),
            ("one commit, not yet silent past the floor", window(&[(10, 0, 20)]), 10, Warn),
            ("same offset committed again and again", window(&[(10, 0, 20), (10, 14, 30), (10, 29, 40)]), 30, Stall),
            ("moving but lag growing", window(&[(10, 0, 20), (15, 14, 30), (20, 29, 45)]), 30, Warn),
            ("moving with lag flat", window(&[(10, 0, 20), (20, 14, 30), (30, 29, 40)]), 30, Warn),
            ("stopped beats stalled", window(&[(10, 0, 20), (10, 10, 30), (10, 10, 40), (10, 10, 50), (10, 10, 60)]), 60, Stop),
        ];
        for (what, window, now, expected) in cases {
            assert_eq!(evaluate(&window, t(now), RULES), expected, "{what}");
        }
    }

    #[test]
    fn repeated_samples_of_one_commit_count_once() {
        // Four samples but two commits, 14 s apart; the lag at the second is lower: OK, not WARN.
        let w = window(&[(10, 0, 40), (10, 0, 45), (30, 14, 50), (30, 14, 52)]);
        assert_eq!(commits(&w).len(), 2);
        assert_eq!(evaluate(&w, t(20), RULES), PartitionStatus::Ok);
    }

    #[test]
    fn a_group_is_as_bad_as_its_worst_partition_and_stopped_or_stalled_is_an_error() {
        use PartitionStatus::*;
        assert_eq!(GroupStatus::of([]), GroupStatus::Ok);
        assert_eq!(GroupStatus::of([Ok, Ok]), GroupStatus::Ok);
        assert_eq!(GroupStatus::of([Ok, Warn]), GroupStatus::Warn);
        for bad in [Stop, Stall, Rewind] {
            assert_eq!(GroupStatus::of([Ok, bad, Warn]), GroupStatus::Err, "{bad:?}");
        }
        assert_eq!((GroupStatus::Ok.code(), GroupStatus::Warn.code(), GroupStatus::Err.code()), (0, 1, 2));
    }
}
