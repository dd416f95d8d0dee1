//! The scanner behind [`TickerExtractor::extract`](super::TickerExtractor::extract).
//!
//! One pass over the bytes of the text cuts it into sentences; each sentence is scanned
//! twice by the same tokenizer, once to tell whether it is shouted (mostly capitals), once
//! to look its candidate tokens up. Nothing is compiled per call and nothing is allocated
//! except the `String` of a ticker found: a candidate is upper-cased into a stack buffer
//! and looked up in a `HashSet<Box<str>>` by `&str`.
//!
//! Everything the rules care about is ASCII, so the scan works on bytes: any byte of a
//! multi-byte UTF-8 character (emoji, curly quotes, mojibake) is a word boundary.

use std::collections::HashSet;

/// How a candidate was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// `$GME`, `$$GME`, `$ GME`, `$gme`.
    Cashtag,
    /// `GME`, `(GME)`, `#GME`, `GME's`, and every other word of the sentence.
    Bare,
}

/// A word of a sentence, with what followed it if that looks like a class suffix.
#[derive(Clone, Copy, Debug)]
pub(super) struct Token<'a> {
    pub kind: Kind,
    /// The ASCII letters as written.
    pub letters: &'a [u8],
    /// `Some((separator, letters))` for `BRK.B`, `BF-B`, `BRK/B`, `MCB.L`, `CAR-T`:
    /// 1-2 letters after `.`, `-` or `/` ending the word.
    pub class: Option<(u8, &'a [u8])>,
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_'
}

/// End of the run of ASCII letters starting at `i`.
fn letters_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && b[i].is_ascii_alphabetic() {
        i += 1;
    }
    i
}

/// End of the run of word bytes (letters, digits, `_`) starting at `i`.
fn word_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && is_word_byte(b[i]) {
        i += 1;
    }
    i
}

fn starts_with_ignore_case(b: &[u8], i: usize, prefix: &[u8]) -> bool {
    b.len() >= i + prefix.len() && b[i..i + prefix.len()].eq_ignore_ascii_case(prefix)
}

/// `http://`, `https://` or `www.` at `i`.
fn is_url_start(b: &[u8], i: usize) -> bool {
    matches!(b[i], b'h' | b'H' | b'w' | b'W')
        && (starts_with_ignore_case(b, i, b"http://")
            || starts_with_ignore_case(b, i, b"https://")
            || starts_with_ignore_case(b, i, b"www."))
}

/// A URL runs to white space or to a character that closes it in markdown or HTML.
fn url_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len()
        && !b[i].is_ascii_whitespace()
        && !matches!(b[i], b')' | b']' | b'>' | b'<' | b'"')
    {
        i += 1;
    }
    i
}

fn at_boundary(b: &[u8], i: usize) -> bool {
    i == 0 || !is_word_byte(b[i - 1])
}

/// Cuts a text into sentences: at a line break, `!`, `?`, or `.` followed by white space.
/// URLs are stepped over whole (their `?` and `.` do not end a sentence).
pub(super) fn sentences(text: &str) -> impl Iterator<Item = &[u8]> {
    let b = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    std::iter::from_fn(move || {
        while i < b.len() {
            let c = b[i];
            if at_boundary(b, i) && is_url_start(b, i) {
                i = url_end(b, i);
                continue;
            }
            let ends = match c {
                b'\n' | b'!' | b'?' => true,
                b'.' => b.get(i + 1).is_none_or(|n| n.is_ascii_whitespace()),
                _ => false,
            };
            i += 1;
            if ends {
                let sentence = &b[start..i];
                start = i;
                return Some(sentence);
            }
        }
        if start < b.len() {
            let sentence = &b[start..];
            start = b.len();
            return Some(sentence);
        }
        None
    })
}

/// The words of one sentence: cashtags and bare words, URLs and `r/`, `u/` names skipped.
pub(super) struct Tokens<'a, 's> {
    b: &'a [u8],
    i: usize,
    symbols: &'s HashSet<Box<str>>,
}

impl<'a, 's> Tokens<'a, 's> {
    pub(super) fn new(sentence: &'a [u8], symbols: &'s HashSet<Box<str>>) -> Self {
        Self {
            b: sentence,
            i: 0,
            symbols,
        }
    }

    /// The word whose letters are `b[start..end]`: reads a class suffix and checks that
    /// the word really ends there (`H2`, `PG&E`, `COP26` are no tickers).
    fn finish(&mut self, start: usize, end: usize, kind: Kind) -> Option<Token<'a>> {
        let b = self.b;
        let letters = &b[start..end];
        let mut k = end;
        let mut class = None;
        if k < b.len() && matches!(b[k], b'.' | b'-' | b'/') {
            let s = k + 1;
            let e = letters_end(b, s);
            let ends_word = e == b.len() || !is_word_byte(b[e]);
            if (1..=2).contains(&(e - s)) && ends_word && letters.len() <= 5 {
                let sep = b[k];
                let suffix = &b[s..e];
                if sep == b'/' && !self.is_class_share(letters, suffix) {
                    // "DIS/MU", "AAL/CCL": two words, not a class share.
                } else {
                    class = Some((sep, suffix));
                    k = e;
                }
            }
        }
        if k < b.len() && (is_word_byte(b[k]) || b[k] == b'&' || b[k] == b'@') {
            self.i = word_end(b, k);
            return None;
        }
        self.i = k;
        Some(Token {
            kind,
            letters,
            class,
        })
    }

    fn is_class_share(&self, root: &[u8], suffix: &[u8]) -> bool {
        let mut buf = KeyBuf::new();
        buf.push_upper(root)
            && buf.push(b'-')
            && buf.push_upper(suffix)
            && self.symbols.contains(buf.as_str())
    }
}

impl<'a> Iterator for Tokens<'a, '_> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        let b = self.b;
        let n = b.len();
        while self.i < n {
            let i = self.i;
            let c = b[i];
            let boundary = at_boundary(b, i);
            if boundary && is_url_start(b, i) {
                self.i = url_end(b, i);
                continue;
            }
            if boundary && matches!(c, b'r' | b'R' | b'u' | b'U') && b.get(i + 1) == Some(&b'/') {
                // r/wallstreetbets, /u/DeepFuckingValue: a name, not words.
                let mut j = i + 2;
                while j < n && (is_word_byte(b[j]) || b[j] == b'-') {
                    j += 1;
                }
                self.i = j;
                continue;
            }
            if c == b'$' {
                if i > 0 && b[i - 1].is_ascii_alphanumeric() {
                    // "C$ 275", "US$4.6", "20$": a currency sign, not a cashtag.
                    self.i = i + 1;
                    continue;
                }
                let mut j = i;
                while j < n && b[j] == b'$' {
                    j += 1;
                }
                let spaced = j < n && b[j] == b' ';
                let start = if spaced { j + 1 } else { j };
                let end = letters_end(b, start);
                if end == start {
                    self.i = j;
                    continue;
                }
                if spaced && !b[start..end].iter().all(u8::is_ascii_uppercase) {
                    // "$ on BYND": the dollar sign stands alone; the word is an ordinary one.
                    self.i = start;
                    continue;
                }
                match self.finish(start, end, Kind::Cashtag) {
                    Some(t) => return Some(t),
                    None => continue,
                }
            }
            if c.is_ascii_alphabetic() && boundary {
                let joined = i > 0
                    && match b[i - 1] {
                        // @handle, e-mail; the second half of S&P, AT&T
                        b'@' | b'&' => true,
                        // chewy.com, OSRn.DE: the tail of a dotted name
                        b'.' => i >= 2 && is_word_byte(b[i - 2]),
                        _ => false,
                    };
                if joined {
                    self.i = word_end(b, i);
                    continue;
                }
                let end = letters_end(b, i);
                match self.finish(i, end, Kind::Bare) {
                    Some(t) => return Some(t),
                    None => continue,
                }
            }
            self.i = if is_word_byte(c) {
                word_end(b, i)
            } else {
                i + 1
            };
        }
        None
    }
}

/// A symbol being built on the stack: at most 5 letters, `-`, 2 letters.
pub(super) struct KeyBuf {
    buf: [u8; 8],
    len: usize,
}

impl KeyBuf {
    pub(super) fn new() -> Self {
        Self {
            buf: [0; 8],
            len: 0,
        }
    }

    pub(super) fn push(&mut self, c: u8) -> bool {
        if self.len == self.buf.len() {
            return false;
        }
        self.buf[self.len] = c;
        self.len += 1;
        true
    }

    pub(super) fn push_upper(&mut self, letters: &[u8]) -> bool {
        letters.iter().all(|&c| self.push(c.to_ascii_uppercase()))
    }

    pub(super) fn as_str(&self) -> &str {
        // Only ASCII letters and '-' are ever pushed.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// A sentence is shouted when at least two of its words, and at least 60% of them, are
/// written in capitals (words of two letters or more; cashtags, URLs and names aside).
pub(super) fn is_shouted<'a>(tokens: impl Iterator<Item = Token<'a>>) -> bool {
    let (mut words, mut capitals) = (0usize, 0usize);
    for t in tokens {
        if t.kind == Kind::Bare && t.letters.len() >= 2 {
            words += 1;
            if t.letters.iter().all(u8::is_ascii_uppercase) {
                capitals += 1;
            }
        }
    }
    capitals >= 2 && capitals * 5 >= words * 3
}
