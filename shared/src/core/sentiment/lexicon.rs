//! The lexicons: vaderSentiment 3.3.2's `vader_lexicon.txt` and `emoji_utf8_lexicon.txt`,
//! embedded in the binary and parsed once (`make_lex_dict`, `make_emoji_dict`), plus the
//! market additions in market mode.

use std::borrow::Cow;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::market::Market;
use super::pystr;
use super::vader::{special_case_words, Rw, BOOSTER_DICT, B_DECR, B_INCR, NEGATE, RULE_WORDS};

/// `vader_lexicon.txt` of vaderSentiment 3.3.2, byte for byte (CRLF line ends).
pub const VADER_LEXICON: &str = include_str!("data/vader_lexicon.txt");
/// `emoji_utf8_lexicon.txt` of vaderSentiment 3.3.2, byte for byte.
pub const EMOJI_LEXICON: &str = include_str!("data/emoji_utf8_lexicon.txt");

/// FxHash (the rustc hasher): the keys are short words looked up a few times per word of
/// every text, where SipHash's DoS resistance buys nothing (the keys are fixed).
#[derive(Default, Clone, Copy)]
pub struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().unwrap_or_default()));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut buf = [0u8; 8];
            buf[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(buf));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub type FxHashMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// What the rules need to know about one lowercase word, found with one hash lookup
/// (16 bytes, so the table of ~7,600 words stays small in cache).
#[derive(Debug, Clone, Copy)]
pub struct WordInfo {
    /// `self.lexicon.get(word)`; NaN when absent.
    valence: f64,
    /// `BOOSTER_DICT.get(word)`: 1 for `B_INCR`, -1 for `B_DECR`, 0 when absent.
    booster: i8,
    /// `NEGATE_FLAG` | `IDIOM_FLAG` | `PHRASE_FLAG`.
    flags: u8,
    /// The word's name for the rules.
    rule: Rw,
}

const NEGATE_FLAG: u8 = 1;
const IDIOM_FLAG: u8 = 2;
const PHRASE_FLAG: u8 = 4;

impl Default for WordInfo {
    fn default() -> WordInfo {
        WordInfo {
            valence: f64::NAN,
            booster: 0,
            flags: 0,
            rule: Rw::Other,
        }
    }
}

impl WordInfo {
    /// `self.lexicon.get(word)`.
    #[inline]
    pub fn valence(&self) -> Option<f64> {
        (!self.valence.is_nan()).then_some(self.valence)
    }

    /// `BOOSTER_DICT.get(word)`.
    #[inline]
    pub fn booster(&self) -> Option<f64> {
        match self.booster {
            1 => Some(B_INCR),
            -1 => Some(B_DECR),
            _ => None,
        }
    }

    /// `word in NEGATE`.
    #[inline]
    pub fn negate(&self) -> bool {
        self.flags & NEGATE_FLAG != 0
    }

    /// The word occurs in a `SPECIAL_CASES` key.
    #[inline]
    pub fn idiom(&self) -> bool {
        self.flags & IDIOM_FLAG != 0
    }

    /// The word starts a market phrase.
    #[inline]
    pub fn phrase_start(&self) -> bool {
        self.flags & PHRASE_FLAG != 0
    }

    /// Which rule word this is.
    #[inline]
    pub fn rule(&self) -> Rw {
        self.rule
    }
}

/// The word -> [`WordInfo`] table [`Lexicons::word`] reads for every word of every text:
/// hashbrown (std's map) with [`WordHasher`].
type WordTable = HashMap<&'static str, WordInfo, BuildHasherDefault<WordHasher>>;

/// Hashes a `str` key with [`word_hash`] (one 128-bit multiply), much cheaper on short
/// words than a byte-by-byte hasher. Only for `str` keys: `Hash for str` writes the bytes
/// then a 0xff terminator, which is ignored here.
#[derive(Default, Clone, Copy)]
pub struct WordHasher {
    hash: u64,
}

impl Hasher for WordHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.hash = word_hash(bytes);
    }

    #[inline]
    fn write_u8(&mut self, _terminator: u8) {}

    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// Hash of a word: its first and last 8 (or 4) bytes, or three of its bytes when it is
/// shorter than 4, and its length, folded through one 128-bit multiply (as
/// foldhash/wyhash do), with fixed-size loads only (no memcpy, no store-forwarding
/// stall). Words sharing those bytes and the length collide, which costs a probe, never
/// a wrong answer.
#[inline]
fn word_hash(bytes: &[u8]) -> u64 {
    const K1: u64 = 0x243f_6a88_85a3_08d3;
    const K2: u64 = 0x1319_8a2e_0370_7344;
    let n = bytes.len();
    let (a, b) = if n >= 8 {
        (le64(&bytes[..8]), le64(&bytes[n - 8..]))
    } else if n >= 4 {
        (le32(&bytes[..4]), le32(&bytes[n - 4..]))
    } else if n > 0 {
        let three =
            u64::from(bytes[0]) << 16 | u64::from(bytes[n / 2]) << 8 | u64::from(bytes[n - 1]);
        (three, 0)
    } else {
        (0, 0)
    };
    let full = u128::from(a ^ K1) * u128::from(b ^ K2 ^ (n as u64).rotate_left(32));
    (full as u64) ^ ((full >> 64) as u64)
}

#[inline]
fn le64(b: &[u8]) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(b);
    u64::from_le_bytes(x)
}

#[inline]
fn le32(b: &[u8]) -> u64 {
    let mut x = [0u8; 4];
    x.copy_from_slice(b);
    u64::from(u32::from_le_bytes(x))
}

/// What one analyzer scores with.
pub struct Lexicons {
    /// word (lowercase) -> valence.
    pub lexicon: FxHashMap<&'static str, f64>,
    /// Every word the rules look at (lexicon, boosters, negations, idioms) -> its facts;
    /// built from the other tables by [`Lexicons::index_words`].
    words: WordTable,
    /// emoji (one code point) -> description.
    pub emojis: FxHashMap<char, &'static str>,
    /// Bit `c` is set for every code point `c` the emoji pass replaces or keeps (a quick
    /// "no" for the other characters of non-ASCII text).
    emoji_bits: Vec<u64>,
    /// The market additions (phrases, emoji kept as words), in market mode.
    pub market: Option<Market>,
}

impl Lexicons {
    /// Python vaderSentiment 3.3.2's lexicons.
    pub fn plain() -> Lexicons {
        let mut lexicons = Lexicons {
            lexicon: make_lex_dict(VADER_LEXICON),
            words: WordTable::default(),
            emojis: make_emoji_dict(EMOJI_LEXICON),
            emoji_bits: Vec::new(),
            market: None,
        };
        lexicons.index_words();
        lexicons
    }

    /// (Re)builds [`Lexicons::words`] and the emoji bits from the other tables.
    pub fn index_words(&mut self) {
        let mut words: FxHashMap<&'static str, WordInfo> = FxHashMap::default();
        for (&w, &v) in &self.lexicon {
            words.entry(w).or_default().valence = v;
        }
        for &(w, b) in BOOSTER_DICT {
            words.entry(w).or_default().booster = if b == B_INCR {
                1
            } else {
                assert_eq!(b, B_DECR, "BOOSTER_DICT holds B_INCR and B_DECR only");
                -1
            };
        }
        for &w in NEGATE {
            words.entry(w).or_default().flags |= NEGATE_FLAG;
        }
        for w in special_case_words() {
            words.entry(w).or_default().flags |= IDIOM_FLAG;
        }
        for &(w, rule) in RULE_WORDS {
            words.entry(w).or_default().rule = rule;
        }
        if let Some(market) = &self.market {
            for w in market.phrase_first_words() {
                words.entry(w).or_default().flags |= PHRASE_FLAG;
            }
        }
        self.words = words.into_iter().collect();

        let mut bits = Vec::new();
        let keep = self.market.as_ref().map(|m| m.emoji().collect::<Vec<_>>());
        for c in self
            .emojis
            .keys()
            .copied()
            .chain(keep.into_iter().flatten())
        {
            let i = c as usize;
            if bits.len() <= i / 64 {
                bits.resize(i / 64 + 1, 0u64);
            }
            bits[i / 64] |= 1 << (i % 64);
        }
        self.emoji_bits = bits;
    }

    /// The facts of a lowercase word.
    #[inline]
    pub fn word(&self, lower: &str) -> WordInfo {
        self.words.get(lower).copied().unwrap_or_default()
    }

    /// Whether the emoji pass replaces or keeps `c`.
    #[inline]
    fn is_emoji(&self, c: char) -> bool {
        let i = c as usize;
        self.emoji_bits
            .get(i / 64)
            .is_some_and(|bits| bits >> (i % 64) & 1 == 1)
    }

    /// The emoji pass of `polarity_scores`: each code point found in the emoji lexicon is
    /// replaced by its description, preceded by a space unless the previous character was
    /// a space (`prev_space` is only ever true after an ASCII space). In market mode, an
    /// emoji of the market lexicon is kept as itself, as a word of its own.
    pub fn replace_emojis<'t>(&self, text: &'t str) -> Cow<'t, str> {
        // Every emoji key is outside ASCII: ASCII text has nothing to replace.
        if text.is_ascii() {
            return Cow::Borrowed(text);
        }
        let Some(first) = text.bytes().position(|b| !b.is_ascii()) else {
            return Cow::Borrowed(text);
        };
        let mut emoji = text[first..]
            .char_indices()
            .filter(|&(_, c)| self.is_emoji(c))
            .map(|(i, c)| (first + i, c))
            .peekable();
        if emoji.peek().is_none() {
            return Cow::Borrowed(text);
        }
        // The Python appends one code point at a time; here the text between two emoji is
        // copied at once. `prev_space` is whether the last code point appended was " ".
        let bytes = text.as_bytes();
        let mut text_no_emoji = String::with_capacity(text.len() + 32);
        let mut prev_space = true;
        let mut run_start = 0;
        for (idx, chr) in emoji {
            if idx < run_start {
                continue; // a variation selector already consumed (never an emoji key)
            }
            if idx > run_start {
                text_no_emoji.push_str(&text[run_start..idx]);
                prev_space = bytes[idx - 1] == b' ';
            }
            run_start = idx + chr.len_utf8();
            if let Some(market) = &self.market {
                if market.keeps_emoji(chr) {
                    if !prev_space {
                        text_no_emoji.push(' ');
                    }
                    text_no_emoji.push(chr);
                    // a variation selector after the emoji is dropped, and the emoji ends
                    // its word, so trailing punctuation or letters do not hide it
                    if text[run_start..].starts_with('\u{FE0F}') {
                        run_start += '\u{FE0F}'.len_utf8();
                    }
                    text_no_emoji.push(' ');
                    prev_space = true;
                    continue;
                }
            }
            if let Some(description) = self.emojis.get(&chr) {
                // get the textual description
                if !prev_space {
                    text_no_emoji.push(' ');
                }
                text_no_emoji.push_str(description);
                prev_space = false;
            }
        }
        text_no_emoji.push_str(&text[run_start..]);
        Cow::Owned(text_no_emoji)
    }
}

/// `make_lex_dict`: each non-empty line is stripped, split on tabs, and its first two
/// fields are the word and its mean valence; a later line wins over an earlier one.
pub fn make_lex_dict(raw: &'static str) -> FxHashMap<&'static str, f64> {
    let mut lex_dict = FxHashMap::default();
    for line in raw.trim_end_matches('\n').split('\n') {
        if line.is_empty() {
            continue;
        }
        let mut fields = pystr::strip(line).split('\t');
        let (Some(word), Some(measure)) = (fields.next(), fields.next()) else {
            panic!("vader_lexicon.txt: line without a tab: {line:?}");
        };
        let measure = measure
            .parse()
            .unwrap_or_else(|_| panic!("vader_lexicon.txt: bad valence in {line:?}"));
        lex_dict.insert(word, measure);
    }
    lex_dict
}

/// `make_emoji_dict`. Only one-code-point keys can ever match (the Python looks the text
/// up one code point at a time), so only those are kept.
pub fn make_emoji_dict(raw: &'static str) -> FxHashMap<char, &'static str> {
    let mut emoji_dict = FxHashMap::default();
    for line in raw.trim_end_matches('\n').split('\n') {
        let mut fields = pystr::strip(line).split('\t');
        let (Some(emoji), Some(description)) = (fields.next(), fields.next()) else {
            panic!("emoji_utf8_lexicon.txt: line without a tab: {line:?}");
        };
        let mut chars = emoji.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            emoji_dict.insert(c, description);
        }
    }
    emoji_dict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexicons_parse_like_python() {
        let lex = make_lex_dict(VADER_LEXICON);
        assert_eq!(lex.len(), 7506); // len(SentimentIntensityAnalyzer().lexicon)
        assert_eq!(lex["$:"], -1.5);
        assert_eq!(lex["yolo"], 1.1);
        assert_eq!(lex[":)"], 2.0);
        let emojis = make_emoji_dict(EMOJI_LEXICON);
        assert_eq!(emojis[&'🚀'], "rocket");
        assert_eq!(emojis[&'😀'], "grinning face");
        assert_eq!(emojis.len(), 1212); // one-code-point keys of the 3570
    }

    #[test]
    fn emoji_replacement_spacing_like_python() {
        let lex = Lexicons::plain();
        assert_eq!(
            lex.replace_emojis("GME🚀🚀 to 🚀x"),
            "GME rocket rocket to rocketx"
        );
        assert!(matches!(lex.replace_emojis("no emoji"), Cow::Borrowed(_)));
    }
}
