//! The few pieces of CPython 3.11's `str` and `round` semantics that vaderSentiment's
//! output depends on, so the port can call them by their Python names.
//!
//! - [`is_space`]: `str.isspace()` of one character, which `str.split()` and `str.strip()`
//!   (no argument) use. Rust's `char::is_whitespace` is Unicode `White_Space`; CPython
//!   also counts U+001C..U+001F (bidi class B/S) as whitespace.
//! - [`is_upper`]: `str.isupper()`: at least one cased character, and no lowercase or
//!   titlecase one. Rust's `char::is_lowercase`/`is_uppercase` follow the same Unicode
//!   `Lowercase`/`Uppercase` properties, but of a newer Unicode than CPython 3.11's 14.0:
//!   the characters whose casing changed or that were added since are listed below and
//!   answered as CPython 3.11 does (an exhaustive sweep over every code point found
//!   exactly these differences). Titlecase letters (category Lt) are listed too: Rust
//!   has no `is_titlecase`.
//! - [`strip_punctuation`]: `token.strip(string.punctuation)` (ASCII punctuation only).
//! - [`round`]: `round(x, ndigits)`, correctly rounded from the exact binary value, ties
//!   to even, as CPython's `float.__round__` does (through its `dtoa`).
//!
//! `str.lower()` is Rust's `str::to_lowercase` (both apply Unicode full lowercase mapping
//! with the final-sigma rule); their differences are confined to characters added after
//! Unicode 14, none of which can lowercase to a lexicon word.

/// `string.punctuation` (what [`strip_punctuation`] strips: `char::is_ascii_punctuation`).
#[cfg(test)]
pub const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

/// `c.isspace()` in CPython.
#[inline]
pub fn is_space(c: char) -> bool {
    if c.is_ascii() {
        matches!(c, ' ' | '\t'..='\r' | '\x1c'..='\x1f')
    } else {
        c.is_whitespace()
    }
}

/// Byte classes of ASCII for the one-pass tokenizer ([`ascii_class`]).
pub const ASCII_SPACE: u8 = 1;
pub const ASCII_PUNCT: u8 = 2;
pub const ASCII_UPPER: u8 = 4;
pub const ASCII_LOWER: u8 = 8;

const ASCII_CLASSES: [u8; 128] = {
    let mut t = [0u8; 128];
    let mut i = 0;
    while i < 128 {
        let c = i as u8;
        t[i] = if matches!(c, b' ' | b'\t'..=b'\r' | 0x1c..=0x1f) {
            ASCII_SPACE
        } else if c.is_ascii_punctuation() {
            ASCII_PUNCT
        } else if c.is_ascii_uppercase() {
            ASCII_UPPER
        } else if c.is_ascii_lowercase() {
            ASCII_LOWER
        } else {
            0
        };
        i += 1;
    }
    t
};

/// The class bits of an ASCII byte (`str.isspace()`, `string.punctuation`, upper,
/// lower); 0 for digits, control characters and non-ASCII bytes.
#[inline]
pub fn ascii_class(b: u8) -> u8 {
    ASCII_CLASSES.get(usize::from(b)).copied().unwrap_or(0)
}

/// Lt: the titlecase letters (Unicode 14 and later alike).
fn is_titlecase(c: char) -> bool {
    matches!(
        c as u32,
        0x01C5 | 0x01C8 | 0x01CB | 0x01F2
            | 0x1F88..=0x1F8F
            | 0x1F98..=0x1F9F
            | 0x1FA8..=0x1FAF
            | 0x1FBC
            | 0x1FCC
            | 0x1FFC
    )
}

/// Characters Rust calls uppercase that CPython 3.11 (Unicode 14) does not (all added
/// in Unicode 15/16).
fn upper_not_in_py311(c: u32) -> bool {
    matches!(
        c,
        0x1C89 | 0xA7CB..=0xA7CC | 0xA7CE | 0xA7D2 | 0xA7D4 | 0xA7DA | 0xA7DC
            | 0x10D50..=0x10D65
            | 0x16EA0..=0x16EB8
    )
}

/// Characters Rust calls lowercase that CPython 3.11 does not (added after Unicode 14).
fn lower_not_in_py311(c: u32) -> bool {
    matches!(
        c,
        0x10FC
            | 0x1C8A
            | 0xA7CD
            | 0xA7CF
            | 0xA7DB
            | 0xA7F1..=0xA7F4
            | 0xAB69
            | 0x10D70..=0x10D85
            | 0x16EBB..=0x16ED3
            | 0x1DF25..=0x1DF2A
            | 0x1E030..=0x1E06D
    )
}

/// `Py_UNICODE_ISLOWER(c) || Py_UNICODE_ISTITLE(c)` for CPython 3.11.
#[inline]
fn is_lower_or_title(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_lowercase();
    }
    // U+0295 was Ll (so Lowercase) until Unicode 16 made it Lo.
    c == '\u{295}' || (c.is_lowercase() && !lower_not_in_py311(c as u32)) || is_titlecase(c)
}

/// `Py_UNICODE_ISUPPER(c)` for CPython 3.11.
#[inline]
fn is_upper_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_uppercase();
    }
    c.is_uppercase() && !upper_not_in_py311(c as u32)
}

/// Casing facts of one string, from which `isupper()` follows; they combine over
/// concatenation (`join`), which the market mode's phrase tokens need.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Casing {
    /// Some character is lowercase or titlecase.
    pub has_lower: bool,
    /// Some character is uppercase.
    pub has_upper: bool,
}

impl Casing {
    pub fn of(s: &str) -> Casing {
        let mut casing = Casing::default();
        if s.is_ascii() {
            for b in s.bytes() {
                casing.has_lower |= b.is_ascii_lowercase();
                casing.has_upper |= b.is_ascii_uppercase();
            }
        } else {
            for c in s.chars() {
                casing.has_lower |= is_lower_or_title(c);
                casing.has_upper |= is_upper_char(c);
            }
        }
        casing
    }

    /// The casing of the concatenation of two strings.
    pub fn join(self, other: Casing) -> Casing {
        Casing {
            has_lower: self.has_lower || other.has_lower,
            has_upper: self.has_upper || other.has_upper,
        }
    }

    /// `str.isupper()`.
    pub fn is_upper(self) -> bool {
        self.has_upper && !self.has_lower
    }
}

/// `s.isupper()` in CPython 3.11.
#[cfg(test)]
pub fn is_upper(s: &str) -> bool {
    Casing::of(s).is_upper()
}

/// `s.strip()`: CPython whitespace removed from both ends.
pub fn strip(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// `s.split()`: runs of CPython whitespace separate the words; no empty words.
pub fn split(s: &str) -> Split<'_> {
    Split { s, pos: 0 }
}

/// The iterator of [`split`]: bytewise on ASCII, decoding only non-ASCII characters.
pub struct Split<'a> {
    s: &'a str,
    pos: usize,
}

impl Split<'_> {
    /// The length of the whitespace character at `pos`, or 0 if it is not whitespace.
    #[inline]
    fn space_len(&self, pos: usize) -> usize {
        let b = self.s.as_bytes()[pos];
        if b < 0x80 {
            usize::from(matches!(b, b' ' | b'\t'..=b'\r' | 0x1c..=0x1f))
        } else {
            match self.s[pos..].chars().next() {
                Some(c) if c.is_whitespace() => c.len_utf8(),
                _ => 0,
            }
        }
    }

    /// The length of the character at `pos`.
    #[inline]
    fn char_len(&self, pos: usize) -> usize {
        match self.s.as_bytes()[pos] {
            b if b < 0x80 => 1,
            b if b >= 0xF0 => 4,
            b if b >= 0xE0 => 3,
            _ => 2,
        }
    }
}

impl<'a> Iterator for Split<'a> {
    type Item = &'a str;

    #[inline]
    fn next(&mut self) -> Option<&'a str> {
        let n = self.s.len();
        while self.pos < n {
            let len = self.space_len(self.pos);
            if len == 0 {
                break;
            }
            self.pos += len;
        }
        if self.pos >= n {
            return None;
        }
        let start = self.pos;
        while self.pos < n && self.space_len(self.pos) == 0 {
            self.pos += self.char_len(self.pos);
        }
        Some(&self.s[start..self.pos])
    }
}

/// `s.strip(string.punctuation)` (ASCII bytes only, so bytewise is exact: no UTF-8
/// continuation byte is ASCII).
pub fn strip_punctuation(s: &str) -> &str {
    let b = s.as_bytes();
    let start = b
        .iter()
        .position(|c| !c.is_ascii_punctuation())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_punctuation())
        .map_or(start, |i| i + 1);
    &s[start..end]
}

/// `len(s)` in CPython: code points.
pub fn len(s: &str) -> usize {
    if s.is_ascii() {
        s.len()
    } else {
        s.chars().count()
    }
}

/// `s.lower()`, borrowing when nothing changes (the common, ASCII lowercase, case).
pub fn lower(s: &str) -> std::borrow::Cow<'_, str> {
    if s.is_ascii() {
        if s.bytes().any(|b| b.is_ascii_uppercase()) {
            std::borrow::Cow::Owned(s.to_ascii_lowercase())
        } else {
            std::borrow::Cow::Borrowed(s)
        }
    } else {
        std::borrow::Cow::Owned(s.to_lowercase())
    }
}

/// `round(x, ndigits)` of CPython: the double nearest to the decimal that is the exact
/// binary value of `x` rounded half-even to `ndigits` decimals.
pub fn round(x: f64, ndigits: i32) -> f64 {
    let scale = match ndigits {
        3 => 1e3,
        4 => 1e4,
        _ => 10f64.powi(ndigits),
    };
    let y = x * scale;
    // |y| <= 1e4 here: integer truncation is exact and avoids libm's round/trunc calls
    if y.abs() < 1e15 {
        let t = y as i64;
        let frac = y - t as f64;
        // `x * scale` is itself rounded; only near a tie can that change the answer (or
        // a tie be decided half-away instead of half-even): then decide from the exact
        // value below.
        if (frac.abs() - 0.5).abs() > 1e-6 {
            let r = if frac >= 0.5 {
                t + 1
            } else if frac <= -0.5 {
                t - 1
            } else {
                t
            };
            // copysign keeps Python's -0.0 for small negatives
            return (r as f64 / scale).copysign(x);
        }
    }
    format!("{x:.prec$}", prec = ndigits as usize)
        .parse()
        .unwrap_or(y.round() / scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punctuation_is_python_string_punctuation() {
        let ascii: String = (0u8..128)
            .map(char::from)
            .filter(char::is_ascii_punctuation)
            .collect();
        assert_eq!(ascii, PUNCTUATION);
    }

    #[test]
    fn isupper_like_python() {
        assert!(is_upper("GME"));
        assert!(is_upper("GME!!!"));
        assert!(is_upper("ÉTÉ"));
        assert!(!is_upper("GMe"));
        assert!(!is_upper("123"));
        assert!(!is_upper(":)"));
        assert!(!is_upper("ǅA")); // titlecase
        assert!(!is_upper("ʕA")); // Ll in Unicode 14
        assert!(is_upper("A\u{A7CB}")); // uncased in Python 3.11
    }

    #[test]
    fn split_and_strip_like_python() {
        let words: Vec<&str> = split(" a\u{1c}b\u{a0}c\u{2028}d  ").collect();
        assert_eq!(words, ["a", "b", "c", "d"]);
        assert_eq!(strip("\u{1f} x \u{3000}"), "x");
        assert_eq!(strip_punctuation("...$GME!!"), "GME");
        assert_eq!(strip_punctuation("“quoted”"), "“quoted”");
        assert_eq!(strip_punctuation("!!!"), "");
        assert_eq!(strip_punctuation("(é)"), "é");
        let words: Vec<&str> = split("ÉTÉ\u{3000}🚀x\tñ").collect();
        assert_eq!(words, ["ÉTÉ", "🚀x", "ñ"]);
        assert_eq!(split("   ").count(), 0);
    }

    #[test]
    fn round_like_python() {
        assert_eq!(round(0.12345, 4), 0.1235); // 0.12345 is above the tie in binary
        assert_eq!(round(2.675, 2), 2.67); // below the tie in binary
        assert_eq!(round(0.0005, 3), 0.001); // 0.0005 is a hair above 5e-4
        assert_eq!(round(0.125, 2), 0.12); // exact tie: half-even
        assert_eq!(round(0.375, 2), 0.38);
        assert_eq!(round(-0.00004, 4), 0.0);
        assert!(round(-0.00004, 4).is_sign_negative());
        assert_eq!(round(0.4588235294117647, 3), 0.459);
    }

    #[test]
    fn lower_borrows_when_unchanged() {
        assert!(matches!(lower("moon"), std::borrow::Cow::Borrowed(_)));
        assert!(matches!(lower("MOON"), std::borrow::Cow::Owned(_)));
        assert_eq!(lower("MOON"), "moon");
        assert_eq!(lower("ÉTÉ"), "été");
        assert_eq!(lower("\u{212A}ill"), "kill"); // Kelvin sign
    }
}
