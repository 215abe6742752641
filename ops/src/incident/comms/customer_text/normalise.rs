//! The text as the guard's rules read it: what a reader sees, spelled in ASCII where a character looks like
//! an ASCII one, with a map back to the text as written.
//!
//! A leak does not stop being a leak because it was pasted from a terminal in full-width letters, typed
//! with a Cyrillic `а`, or carries a zero-width space: a customer reads "Kafka" all the same. So each
//! written character is put through NFKC (full-width and other compatibility forms become ASCII), then,
//! if it is still not ASCII, through the UTS #39 confusable skeleton from `unicode-security` and mapped to
//! the ASCII character with the same skeleton. Default-ignorable characters (zero-width spaces and joiners,
//! soft hyphens) and combining marks disappear. The rules then match ASCII patterns only.
//!
//! Findings must still be reported as written, or the comms owner cannot find them to reword: every byte
//! of the normalised text remembers the written character it came from.
//!
//! The skeleton is used per character, not over the whole text, because it also maps ASCII to ASCII
//! (`1` and `I` to `l`, `0` to `O`, `m` to `rn`), which would turn "HTTP 500" into something no rule
//! reads. Text that is ASCII already is read as it is.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::LazyLock;

use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;
use unicode_security::skeleton;

/// The text the rules read, and where each of its bytes came from in the text as written.
pub(super) struct Normalised<'a> {
    text: Cow<'a, str>,
    /// For each byte of `text`, the byte range of the written character it stands for; `None` when the
    /// written text was ASCII and is read as it is.
    written: Option<Vec<Range<usize>>>,
}

impl<'a> Normalised<'a> {
    pub(super) fn of(written: &'a str) -> Self {
        if written.is_ascii() {
            return Normalised { text: Cow::Borrowed(written), written: None };
        }
        let mut text = String::with_capacity(written.len());
        let mut origin: Vec<Range<usize>> = Vec::with_capacity(written.len());
        // Where the last character that produced text begins in `text`, so a combining mark after it can
        // join its written range: "Redis\u{301}" is reported with its accent.
        let mut last_read: Option<usize> = None;
        for (at, c) in written.char_indices() {
            let from = at..at + c.len_utf8();
            let before = text.len();
            if c.is_ascii() {
                text.push(c);
            } else {
                for d in std::iter::once(c).nfkc() {
                    push_as_read(d, &mut text);
                }
            }
            if text.len() > before {
                origin.resize(text.len(), from);
                last_read = Some(before);
            } else if is_combining_mark(c) {
                if let Some(start) = last_read {
                    origin[start..].iter_mut().for_each(|r| r.end = from.end);
                }
            }
        }
        Normalised { text: Cow::Owned(text), written: Some(origin) }
    }

    pub(super) fn as_str(&self) -> &str {
        &self.text
    }

    /// The byte range, in the text as written, of the normalised bytes `read`.
    pub(super) fn written_range(&self, read: Range<usize>) -> Range<usize> {
        match &self.written {
            None => read,
            // Rules never report an empty span; one would stand for the character it starts at.
            Some(origin) => origin[read.start].start..origin[read.end.max(read.start + 1) - 1].end,
        }
    }
}

/// A non-ASCII character as a reader takes it: its ASCII look-alike, nothing (an invisible character or a
/// bare mark), or itself.
fn push_as_read(d: char, text: &mut String) {
    if d.is_ascii() {
        text.push(d);
        return;
    }
    let shape = skeleton_of(d);
    if shape.is_empty() {
        return;
    }
    match ASCII_BY_SKELETON.get(&shape) {
        Some(alike) => text.push(most_like(alike, d)),
        None if shape.is_ascii() => text.push_str(&shape),
        None => text.push(d),
    }
}

/// The UTS #39 skeleton of one character, without combining marks: `é` and `e` read the same.
fn skeleton_of(c: char) -> String {
    skeleton(c.encode_utf8(&mut [0; 4])).filter(|c| !is_combining_mark(*c)).collect()
}

/// Printable ASCII characters by skeleton; several share one (`1`, `I`, `l` and `|` all have `l`).
static ASCII_BY_SKELETON: LazyLock<HashMap<String, Vec<char>>> = LazyLock::new(|| {
    let mut by_skeleton: HashMap<String, Vec<char>> = HashMap::new();
    for c in (b' '..=b'~').map(char::from) {
        by_skeleton.entry(skeleton_of(c)).or_default().push(c);
    }
    by_skeleton
});

/// Of the ASCII characters confusable with `c`, the one of its kind: a capital for a capital (Cyrillic `І`
/// reads `I`, not `l`), a small letter for a small one, a digit for a digit.
fn most_like(alike: &[char], c: char) -> char {
    let same_kind = |a: &char| {
        if c.is_uppercase() {
            a.is_ascii_uppercase()
        } else if c.is_lowercase() {
            a.is_ascii_lowercase()
        } else if c.is_numeric() {
            a.is_ascii_digit()
        } else {
            !a.is_ascii_alphanumeric()
        }
    };
    alike.iter().copied().find(same_kind).unwrap_or(alike[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(written: &str) -> String {
        Normalised::of(written).as_str().to_string()
    }

    #[test]
    fn ascii_text_is_read_as_written() {
        let n = Normalised::of("HTTP 500 on orders-db-01, I/O 0l1");
        assert_eq!(n.as_str(), "HTTP 500 on orders-db-01, I/O 0l1");
        assert_eq!(n.written_range(5..8), 5..8);
    }

    #[test]
    fn letters_from_other_alphabets_read_as_their_latin_look_alikes() {
        assert_eq!(read("K\u{430}fka"), "Kafka");
        assert_eq!(read("\u{3a1}ostgres"), "Postgres");
        assert_eq!(read("\u{399}NGRESS"), "INGRESS");
        assert_eq!(read("Kubern\u{435}tes"), "Kubernetes");
    }

    #[test]
    fn width_variants_read_as_ascii() {
        assert_eq!(read("\u{ff32}\u{ff45}\u{ff44}\u{ff49}\u{ff53}"), "Redis");
        assert_eq!(read("HTTP \u{ff15}\u{ff10}\u{ff13}"), "HTTP 503");
    }

    #[test]
    fn invisible_characters_and_accents_are_not_read() {
        assert_eq!(read("Ka\u{200b}fka"), "Kafka");
        assert_eq!(read("Post\u{ad}gres"), "Postgres");
        assert_eq!(read("Re\u{301}dis"), "Redis");
        assert_eq!(read("R\u{e9}dis"), "Redis");
    }

    #[test]
    fn unicode_hyphens_and_spaces_read_as_ascii_ones() {
        assert_eq!(read("orders\u{2010}db\u{2010}01"), "orders-db-01");
        assert_eq!(read("select\u{a0}*"), "select *");
    }

    #[test]
    fn text_with_no_look_alike_is_kept() {
        assert_eq!(read("\u{8ba2}\u{5355} SO-1"), "\u{8ba2}\u{5355} SO-1");
    }

    #[test]
    fn a_range_read_maps_back_to_the_characters_as_written() {
        let written = "see Ka\u{200b}f\u{ff4b}a\u{301} now";
        let n = Normalised::of(written);
        let at = n.as_str().find("Kafka").unwrap();
        let range = n.written_range(at..at + "Kafka".len());
        assert_eq!(&written[range], "Ka\u{200b}f\u{ff4b}a\u{301}");
    }
}
