//! How values read in the console: money in its currency's minor units, instants in UTC.

use chrono::{DateTime, Utc};

/// Decimal places of a currency's minor unit (ISO 4217). Most have two; these are the exceptions.
fn minor_unit_digits(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
        | "VUV" | "XAF" | "XOF" | "XPF" => 0,
        "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
        _ => 2,
    }
}

/// `1234567` EUR → `EUR 12,345.67`; `1500` JPY → `JPY 1,500`. Exact: no floating point.
pub fn money(minor: i64, currency: &str) -> String {
    let digits = minor_unit_digits(currency);
    let scale = 10_i128.pow(digits);
    let value = i128::from(minor);
    let sign = if value < 0 { "-" } else { "" };
    let units = group_thousands(&(value.abs() / scale).to_string());
    if digits == 0 {
        format!("{currency} {sign}{units}")
    } else {
        let fraction = value.abs() % scale;
        format!("{currency} {sign}{units}.{fraction:0width$}", width = digits as usize)
    }
}

// `usize::is_multiple_of` needs Rust 1.87; the workspace supports 1.85.
#[allow(clippy::manual_is_multiple_of)]
fn group_thousands(digits: &str) -> String {
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

/// `2026-11-25 18:40:12 UTC`: one zone for everyone reading the same incident.
pub fn instant(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The machine-readable form for `<time datetime>`.
pub fn instant_attr(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// How long ago, coarsely: `42 s`, `5 min`, `3 h 12 min`, `4 d 2 h`.
pub fn age(at: &DateTime<Utc>, now: &DateTime<Utc>) -> String {
    let seconds = (*now - *at).num_seconds();
    if seconds < 0 {
        return "in the future".to_string();
    }
    match seconds {
        s if s < 60 => format!("{s} s ago"),
        s if s < 3_600 => format!("{} min ago", s / 60),
        s if s < 86_400 => format!("{} h {} min ago", s / 3_600, (s % 3_600) / 60),
        s => format!("{} d {} h ago", s / 86_400, (s % 86_400) / 3_600),
    }
}

/// The visual tone of a status value, shared by every badge: done, in flight, failed, or withdrawn.
pub fn status_tone(status: &str) -> &'static str {
    match status {
        "FULFILLED" | "PUBLISHED" | "COMPLETED" | "ACKNOWLEDGED" | "ACCEPTED" | "APPROVED" | "up" => "tone-ok",
        "FAILED" | "QUARANTINED" | "REJECTED" | "down" => "tone-bad",
        "CANCELLED" | "EXPIRED" => "tone-muted",
        _ => "tone-active",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn money_is_formatted_in_the_currency_minor_units() {
        assert_eq!(money(1_234_567, "EUR"), "EUR 12,345.67");
        assert_eq!(money(5, "EUR"), "EUR 0.05");
        assert_eq!(money(0, "USD"), "USD 0.00");
        assert_eq!(money(1_500, "JPY"), "JPY 1,500");
        assert_eq!(money(1_234_567, "KWD"), "KWD 1,234.567");
        assert_eq!(money(-100_050, "EUR"), "EUR -1,000.50");
        assert_eq!(money(i64::MAX, "EUR"), "EUR 92,233,720,368,547,758.07");
    }

    #[test]
    fn ages_are_coarse() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
        assert_eq!(age(&(now - chrono::Duration::seconds(42)), &now), "42 s ago");
        assert_eq!(age(&(now - chrono::Duration::minutes(192)), &now), "3 h 12 min ago");
        assert_eq!(age(&(now - chrono::Duration::hours(98)), &now), "4 d 2 h ago");
    }
}
