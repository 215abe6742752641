//! Rows in PostgreSQL's binary COPY format, written straight into per-table byte buffers.
//!
//! Binary rather than text: the server then reads uuids, integers and timestamps without parsing them
//! (about 4× faster on the transition tables, 1.5× on the outbox, whose jsonb is still parsed: it is
//! sent as text behind a one-byte version). Every field method must match its column's type exactly
//! (`i32` for `integer`, `i64` for `bigint`, ...): the server refuses a row whose field has the wrong size.

use std::io::Write as _;

use uuid::Uuid;

/// Starts every binary COPY stream: signature, flags, header extension length.
pub(super) const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Ends every binary COPY stream: a tuple with field count -1.
pub(super) const TRAILER: [u8; 2] = (-1_i16).to_be_bytes();
/// Milliseconds between the Unix epoch and PostgreSQL's (2000-01-01).
pub(super) const PG_EPOCH_MS: i64 = 946_684_800_000;

/// One table's rows for a batch, in the column order of its COPY statement.
pub(super) struct TableBuf {
    pub table: &'static str,
    pub columns: &'static str,
    pub buf: Vec<u8>,
    pub rows: u64,
}

impl TableBuf {
    pub fn new(table: &'static str, columns: &'static str) -> Self {
        Self { table, columns, buf: HEADER.to_vec(), rows: 0 }
    }

    /// Starts a row; fields are appended with the [`Row`] methods and the row ends when it is dropped.
    pub fn row(&mut self) -> Row<'_> {
        self.rows += 1;
        let count_at = self.buf.len();
        self.buf.extend_from_slice(&[0, 0]);
        Row { buf: &mut self.buf, count_at, fields: 0 }
    }

    pub fn copy_statement(&self) -> String {
        format!("copy {} ({}) from stdin (format binary)", self.table, self.columns)
    }
}

/// A row being written. Each method appends one field.
pub(super) struct Row<'a> {
    buf: &'a mut Vec<u8>,
    count_at: usize,
    fields: i16,
}

impl Row<'_> {
    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.fields += 1;
        self.buf.extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.fields += 1;
        self.buf.extend_from_slice(&(-1_i32).to_be_bytes());
        self
    }

    pub fn uuid(&mut self, id: Uuid) -> &mut Self {
        self.field(id.as_bytes())
    }

    pub fn opt_uuid(&mut self, id: Option<Uuid>) -> &mut Self {
        match id {
            Some(id) => self.uuid(id),
            None => self.null(),
        }
    }

    /// `text`, `char(n)`.
    pub fn text(&mut self, s: &str) -> &mut Self {
        self.field(s.as_bytes())
    }

    pub fn opt_text(&mut self, s: Option<&str>) -> &mut Self {
        match s {
            Some(s) => self.text(s),
            None => self.null(),
        }
    }

    /// `jsonb`: format version 1, then the JSON text.
    pub fn jsonb(&mut self, json: &[u8]) -> &mut Self {
        self.fields += 1;
        self.buf.extend_from_slice(&(json.len() as i32 + 1).to_be_bytes());
        self.buf.push(1);
        self.buf.extend_from_slice(json);
        self
    }

    /// `integer`.
    pub fn i32(&mut self, n: i32) -> &mut Self {
        self.field(&n.to_be_bytes())
    }

    pub fn opt_i32(&mut self, n: Option<i32>) -> &mut Self {
        match n {
            Some(n) => self.i32(n),
            None => self.null(),
        }
    }

    /// `bigint`.
    pub fn i64(&mut self, n: i64) -> &mut Self {
        self.field(&n.to_be_bytes())
    }

    /// A `numeric` percentage given in basis points (1250 → 12.50), in the binary numeric layout:
    /// digit count, weight, sign, display scale, then base-10000 digits.
    pub fn pct_bp(&mut self, bp: i32) -> &mut Self {
        let (whole, hundredths) = ((bp / 100) as i16, (bp % 100) as i16);
        let (weight, digits): (i16, &[i16]) = match (whole, hundredths) {
            (0, 0) => (0, &[]),
            (0, h) => (-1, &[h * 100]),
            (w, 0) => (0, &[w]),
            (w, h) => (0, &[w, h * 100]),
        };
        let mut bytes = [0u8; 12];
        bytes[0..2].copy_from_slice(&(digits.len() as i16).to_be_bytes());
        bytes[2..4].copy_from_slice(&weight.to_be_bytes());
        bytes[4..6].copy_from_slice(&0_i16.to_be_bytes());
        bytes[6..8].copy_from_slice(&2_i16.to_be_bytes());
        for (i, d) in digits.iter().enumerate() {
            bytes[8 + 2 * i..10 + 2 * i].copy_from_slice(&d.to_be_bytes());
        }
        let len = 8 + 2 * digits.len();
        self.field(&bytes[..len])
    }

    /// A `timestamptz` given in milliseconds since the Unix epoch.
    pub fn ts(&mut self, ms: i64) -> &mut Self {
        self.field(&((ms - PG_EPOCH_MS) * 1_000).to_be_bytes())
    }

    pub fn opt_ts(&mut self, ms: Option<i64>) -> &mut Self {
        match ms {
            Some(ms) => self.ts(ms),
            None => self.null(),
        }
    }
}

impl Drop for Row<'_> {
    fn drop(&mut self) {
        self.buf[self.count_at..self.count_at + 2].copy_from_slice(&self.fields.to_be_bytes());
    }
}

pub(super) fn push_uuid(buf: &mut Vec<u8>, id: Uuid) {
    let mut tmp = [0u8; uuid::fmt::Hyphenated::LENGTH];
    buf.extend_from_slice(id.as_hyphenated().encode_lower(&mut tmp).as_bytes());
}

/// A time for JSON payloads (`occurred_at`), in RFC 3339 with milliseconds.
pub(super) fn push_rfc3339(buf: &mut Vec<u8>, ms: i64) {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(buf, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{millis:03}Z", sod / 3600, (sod / 60) % 60, sod % 60);
}

/// Days since 1970-01-01 → (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Kafka's default partitioner for keyed records: `toPositive(murmur2(key)) % partitions`.
pub(super) fn kafka_partition(key: &[u8], partitions: u32) -> i32 {
    ((murmur2(key) & 0x7fff_ffff) as u32 % partitions) as i32
}

/// Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), seed 0x9747b28c.
fn murmur2(data: &[u8]) -> i32 {
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let length = data.len() as u32;
    let mut h: u32 = 0x9747_b28c ^ length;
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn rfc3339(ms: i64) -> String {
        let mut buf = Vec::new();
        push_rfc3339(&mut buf, ms);
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn json_times_match_chrono_across_leap_years_and_before_the_epoch() {
        for ms in [0_i64, 951_782_400_123, 1_709_164_800_999, 1_795_000_000_001, 4_102_444_799_000, -86_400_001] {
            let want = Utc.timestamp_millis_opt(ms).unwrap().format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
            assert_eq!(rfc3339(ms), want, "{ms}");
        }
    }

    #[test]
    fn rows_carry_their_field_count_and_sized_fields() {
        let mut t = TableBuf::new("x.y", "a, b, c");
        t.row().i32(7).null().text("hi");
        assert_eq!(t.rows, 1);
        assert_eq!(
            &t.buf[HEADER.len()..],
            [&[0, 3][..], &[0, 0, 0, 4, 0, 0, 0, 7], &[0xff, 0xff, 0xff, 0xff], &[0, 0, 0, 2, b'h', b'i']].concat()
        );
    }

    #[test]
    fn percentages_are_binary_numerics_in_base_10000() {
        let field = |bp| {
            let mut t = TableBuf::new("x", "y");
            t.row().pct_bp(bp);
            t.buf[HEADER.len() + 6..].to_vec()
        };
        // ndigits, weight, sign, dscale, digits
        assert_eq!(field(1250), [0, 2, 0, 0, 0, 0, 0, 2, 0, 12, 0x13, 0x88]);
        assert_eq!(field(5), [0, 1, 0xff, 0xff, 0, 0, 0, 2, 0x01, 0xf4]);
        assert_eq!(field(2000), [0, 1, 0, 0, 0, 0, 0, 2, 0, 20]);
        assert_eq!(field(0), [0, 0, 0, 0, 0, 0, 0, 2]);
    }

    #[test]
    fn timestamps_count_microseconds_from_2000() {
        let mut t = TableBuf::new("x", "y");
        t.row().ts(PG_EPOCH_MS + 1);
        assert_eq!(t.buf[HEADER.len() + 6..], 1_000_i64.to_be_bytes());
    }

    #[test]
    fn murmur2_matches_kafkas_reference_values() {
        // The cases of Kafka's UtilsTest.testMurmur2.
        assert_eq!(murmur2(b"21"), -973_932_308);
        assert_eq!(murmur2(b"foobar"), -790_332_482);
        assert_eq!(murmur2(b"a-little-bit-long-string"), -985_981_536);
        assert_eq!(murmur2(b"a-little-bit-longer-string"), -1_486_304_829);
        assert_eq!(murmur2(b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8"), -58_897_971);
        assert_eq!(murmur2(b"abc"), 479_470_107);
    }

    #[test]
    fn partitions_are_within_range() {
        for key in [&b"a"[..], b"order-1", b"", b"\xff\xff\xff\xff\xff"] {
            let p = kafka_partition(key, 3);
            assert!((0..3).contains(&p));
        }
    }
}
