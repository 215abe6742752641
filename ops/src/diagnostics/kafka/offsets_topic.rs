//! Reading the group coordinator's own log, `__consumer_offsets`: every offset commit of every group is a
//! record there, with the time the coordinator took it. That time is what tells a stopped group (no new
//! commit) from a stalled one (the same offset committed again) — the committed offsets the Kafka API
//! returns carry no time at all.
//!
//! Record formats (Kafka's `OffsetCommitKey`/`OffsetCommitValue` schemas; big-endian):
//! - key: `int16` version — 0 and 1 are offset commits: `string` group, `string` topic, `int32` partition;
//!   other versions are group metadata and are skipped;
//! - value: `int16` version, `int64` offset, `int32` leader epoch (v3+), metadata (`string`, or a compact
//!   string from v4, the first flexible version), `int64` commit timestamp, `int64` expire timestamp (v1
//!   only), tagged fields (v4+). No value (a tombstone) deletes the group's offset.

use chrono::{DateTime, Utc};

pub const TOPIC: &str = "__consumer_offsets";

/// One offset commit, or its deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRecord {
    pub group: String,
    pub topic: String,
    pub partition: i32,
    /// `None`: the offset was deleted (group deleted, offsets expired).
    pub commit: Option<Commit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit {
    pub offset: i64,
    pub committed_at: DateTime<Utc>,
}

/// The commit a record holds; `None` for records that are not offset commits, or that cannot be read.
pub fn parse(key: &[u8], value: Option<&[u8]>) -> Option<CommitRecord> {
    let mut k = Reader(key);
    let version = k.i16()?;
    if !(0..=1).contains(&version) {
        return None;
    }
    let group = k.string()?;
    let topic = k.string()?;
    let partition = k.i32()?;
    let commit = match value {
        None => None,
        Some(value) => Some(parse_value(value)?),
    };
    Some(CommitRecord { group, topic, partition, commit })
}

fn parse_value(value: &[u8]) -> Option<Commit> {
    let mut v = Reader(value);
    let version = v.i16()?;
    let offset = v.i64()?;
    if version >= 3 {
        v.i32()?; // leader epoch
    }
    if version >= 4 {
        v.compact_string()?;
    } else {
        v.string()?;
    }
    let committed_at = DateTime::from_timestamp_millis(v.i64()?)?;
    (0..=4).contains(&version).then_some(Commit { offset, committed_at })
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn i16(&mut self) -> Option<i16> {
        Some(i16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    fn string(&mut self) -> Option<String> {
        let len = usize::try_from(self.i16()?).ok()?;
        String::from_utf8(self.take(len)?.to_vec()).ok()
    }

    /// Length + 1 as an unsigned varint, then the bytes (0: null).
    fn compact_string(&mut self) -> Option<String> {
        let mut len: u64 = 0;
        for shift in (0..35).step_by(7) {
            let byte = *self.take(1)?.first()?;
            len |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                let len = usize::try_from(len.checked_sub(1)?).ok()?;
                return String::from_utf8(self.take(len)?.to_vec()).ok();
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(s: &str) -> Vec<u8> {
        let mut out = (s.len() as i16).to_be_bytes().to_vec();
        out.extend_from_slice(s.as_bytes());
        out
    }

    fn key(version: i16) -> Vec<u8> {
        let mut key = version.to_be_bytes().to_vec();
        key.extend(string("order-projection"));
        key.extend(string("opsdeck.order"));
        key.extend(2i32.to_be_bytes());
        key
    }

    const AT_MS: i64 = 1_795_000_000_123;

    fn value(version: i16) -> Vec<u8> {
        let mut value = version.to_be_bytes().to_vec();
        value.extend(42i64.to_be_bytes());
        if version >= 3 {
            value.extend(7i32.to_be_bytes());
        }
        if version >= 4 {
            value.extend([4u8]); // "abc": length 3, written as 4
            value.extend(b"abc");
        } else {
            value.extend(string("abc"));
        }
        value.extend(AT_MS.to_be_bytes());
        if version == 1 {
            value.extend((-1i64).to_be_bytes());
        }
        if version >= 4 {
            value.push(0); // no tagged fields
        }
        value
    }

    #[test]
    fn every_value_version_gives_the_offset_and_the_commit_time() {
        for version in 0..=4 {
            let record = parse(&key(1), Some(&value(version))).unwrap_or_else(|| panic!("v{version}"));
            assert_eq!(
                (record.group.as_str(), record.topic.as_str(), record.partition),
                ("order-projection", "opsdeck.order", 2)
            );
            let commit = record.commit.unwrap();
            assert_eq!(commit.offset, 42, "v{version}");
            assert_eq!(commit.committed_at.timestamp_millis(), AT_MS, "v{version}");
        }
    }

    #[test]
    fn a_tombstone_deletes_and_group_metadata_is_not_a_commit() {
        assert_eq!(parse(&key(0), None).unwrap().commit, None);
        assert_eq!(parse(&key(2), Some(&value(3))), None, "group metadata");
        assert_eq!(parse(&key(1), Some(&value(3)[..9])), None, "truncated");
        assert_eq!(parse(&[0], None), None);
    }
}
