//! Market mode: plain VADER plus `data/market_lexicon.tsv`, WSB and finance terms with a
//! valence on VADER's -4..+4 scale (each justified in `docs/sentiment.md`).
//!
//! Three changes, all before VADER's rules run, so negation ("not bullish"), boosters
//! ("very bullish"), ALL CAPS ("MOON") and "!" apply to the new terms as to any word:
//! 1. The market terms are added to the lexicon (a market value replaces VADER's for the
//!    few words both have, e.g. "crash", "miss").
//! 2. Phrases. A term of several words ("to the moon", "diamond hands", "buy the dip",
//!    "💎 🙌") is matched on VADER's words (after its punctuation stripping, compared
//!    lowercase), longest first, left to right, and the matched words become one word
//!    whose lexicon key is the phrase. A phrase word is ALL CAPS when its words are
//!    ("DIAMOND HANDS"). Phrases can also neutralise a word: "short term" (0) keeps
//!    "short" (the position, -1) out of "short term outlook".
//! 3. Signed percentages: a word such as "+4%", "-1.5%" or "(+0.2%" (a sign, digits, an
//!    optional decimal part, "%", optionally wrapped in brackets or followed by , ; : .)
//!    becomes the word "+n%" or "-n%" of the lexicon: the price moved up or down. (VADER's
//!    punctuation stripping would otherwise turn "+11.5%" into "11.5", and keep "+4%" as
//!    an unknown word.)
//! 4. Emoji of the market lexicon (🚀 💎 🙌 🐻 ...) are kept as words of their own in the
//!    emoji pass instead of being replaced by their description ("rocket", "gem stone",
//!    "bear face"), with a following variation selector U+FE0F dropped.

use std::collections::HashSet;

use super::lexicon::{FxHashMap, Lexicons};
use super::pystr::Casing;
use super::vader::Word;

/// `data/market_lexicon.tsv`: `term<TAB>valence<TAB>reason`, `#` comments.
pub const MARKET_LEXICON: &str = include_str!("data/market_lexicon.tsv");

/// One market term.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketTerm {
    /// Lowercase; the words of a phrase are separated by one space.
    pub term: &'static str,
    pub valence: f64,
    pub reason: &'static str,
}

/// Parses `data/market_lexicon.tsv`.
pub fn market_terms() -> Vec<MarketTerm> {
    MARKET_LEXICON
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|line| {
            let mut fields = line.split('\t');
            let (Some(term), Some(valence), Some(reason)) =
                (fields.next(), fields.next(), fields.next())
            else {
                panic!("market_lexicon.tsv: expected term<TAB>valence<TAB>reason: {line:?}");
            };
            let valence = valence
                .parse()
                .unwrap_or_else(|_| panic!("market_lexicon.tsv: bad valence in {line:?}"));
            MarketTerm {
                term,
                valence,
                reason,
            }
        })
        .collect()
}

/// The market additions an analyzer needs beyond its lexicon.
pub struct Market {
    /// first word of a phrase -> the phrases starting with it (words, key), longest first.
    phrases: FxHashMap<&'static str, Vec<(Vec<&'static str>, &'static str)>>,
    /// Emoji kept as words.
    emoji: HashSet<char>,
}

impl Market {
    fn new(terms: &[MarketTerm]) -> Market {
        let mut phrases: FxHashMap<&'static str, Vec<(Vec<&'static str>, &'static str)>> =
            FxHashMap::default();
        let mut emoji = HashSet::new();
        for t in terms {
            let words: Vec<&'static str> = t.term.split(' ').collect();
            for w in &words {
                let mut chars = w.chars();
                if let (Some(c), None) = (chars.next(), chars.next()) {
                    if !c.is_ascii() {
                        emoji.insert(c);
                    }
                }
            }
            if words.len() > 1 {
                phrases.entry(words[0]).or_default().push((words, t.term));
            }
        }
        for list in phrases.values_mut() {
            list.sort_by_key(|(words, _)| std::cmp::Reverse(words.len()));
        }
        Market { phrases, emoji }
    }

    /// The first words of the phrases.
    pub fn phrase_first_words(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.phrases.keys().copied()
    }

    /// The emoji kept as words.
    pub fn emoji(&self) -> impl Iterator<Item = char> + '_ {
        self.emoji.iter().copied()
    }

    /// Whether the emoji pass keeps `c` as a word.
    pub fn keeps_emoji(&self, c: char) -> bool {
        !c.is_ascii() && self.emoji.contains(&c)
    }

    /// The lexicon key of a signed-percentage word ("+n%" / "-n%"), if `token` is one.
    pub fn signed_percent(&self, token: &str) -> Option<&'static str> {
        // quick reject: a sign, a bracket, or the first byte of U+2212 must come first
        if !matches!(
            token.as_bytes().first(),
            Some(b'+' | b'-' | b'(' | b'[' | 0xE2)
        ) {
            return None;
        }
        let t = token
            .trim_start_matches(['(', '['])
            .trim_end_matches([')', ']', ',', ';', ':', '.']);
        let (key, rest) = if let Some(rest) = t.strip_prefix('+') {
            ("+n%", rest)
        } else if let Some(rest) = t.strip_prefix('-').or_else(|| t.strip_prefix('\u{2212}')) {
            ("-n%", rest)
        } else {
            return None;
        };
        let number = rest.strip_suffix('%')?;
        let (int, frac) = number.split_once('.').unwrap_or((number, "0"));
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        (digits(int) && digits(frac)).then_some(key)
    }

    /// The phrase starting at `words[j]`, longest first: (its length in words, its key).
    fn phrase_at(&self, words: &[Word<'_>], j: usize) -> Option<(usize, &'static str)> {
        let first = &words[j];
        if !first.info.phrase_start() {
            return None;
        }
        self.phrases
            .get(first.lower.as_ref())?
            .iter()
            .find(|(phrase, _)| {
                j + phrase.len() <= words.len()
                    && phrase
                        .iter()
                        .zip(&words[j..])
                        .all(|(p, w)| w.lower.as_ref() == *p)
            })
            .map(|(phrase, key)| (phrase.len(), *key))
    }

    /// Replaces each phrase found in `words` by one word keyed by the phrase, left to
    /// right.
    pub(crate) fn merge_phrases(&self, words: &mut Vec<Word<'_>>, lexicons: &Lexicons) {
        let Some(first) = (0..words.len()).find(|&j| self.phrase_at(words, j).is_some()) else {
            return; // the common case: nothing to merge, nothing allocated
        };
        let mut out = Vec::with_capacity(words.len());
        out.extend_from_slice(&words[..first]);
        let mut j = first;
        while j < words.len() {
            match self.phrase_at(words, j) {
                Some((len, key)) => {
                    let casing = words[j..j + len]
                        .iter()
                        .fold(Casing::default(), |c, w| c.join(w.casing));
                    out.push(Word::with_info(
                        std::borrow::Cow::Borrowed(key),
                        casing,
                        lexicons,
                    ));
                    j += len;
                }
                None => {
                    out.push(words[j].clone());
                    j += 1;
                }
            }
        }
        *words = out;
    }
}

impl Lexicons {
    /// Plain VADER's lexicons plus the market lexicon.
    pub fn market() -> Lexicons {
        let mut lexicons = Lexicons::plain();
        let terms = market_terms();
        for t in &terms {
            lexicons.lexicon.insert(t.term, t.valence);
        }
        lexicons.market = Some(Market::new(&terms));
        lexicons.index_words();
        lexicons
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_percentages_are_recognised() {
        let market = Market::new(&market_terms());
        for (token, want) in [
            ("+4%", Some("+n%")),
            ("+11.5%", Some("+n%")),
            ("(+0.2%", Some("+n%")),
            ("-1.5%", Some("-n%")),
            ("-39.1%.", Some("-n%")),
            ("\u{2212}3%", Some("-n%")),
            ("4%", None),
            ("+%", None),
            ("+4", None),
            ("+4.%", None),
            ("-x%", None),
            ("8.3%-17%", None),
        ] {
            assert_eq!(market.signed_percent(token), want, "{token:?}");
        }
    }

    #[test]
    fn market_lexicon_is_well_formed() {
        let terms = market_terms();
        assert!(terms.len() >= 40, "{} terms", terms.len());
        let mut seen = HashSet::new();
        for t in &terms {
            assert!(seen.insert(t.term), "duplicate term {:?}", t.term);
            assert_eq!(t.term, t.term.to_lowercase(), "terms are lowercase");
            assert_eq!(t.term.trim(), t.term);
            assert!(!t.term.contains("  "), "{:?}", t.term);
            assert!((-4.0..=4.0).contains(&t.valence), "{:?}", t.term);
            assert!(!t.reason.trim().is_empty(), "{:?} has no reason", t.term);
            // a word is what VADER's tokenizer can produce: no edge punctuation unless short
            for w in t.term.split(' ') {
                let stripped = super::super::pystr::strip_punctuation(w);
                assert!(
                    stripped == w || super::super::pystr::len(stripped) <= 2,
                    "{:?}: VADER strips {w:?} to {stripped:?}",
                    t.term
                );
            }
        }
        for required in [
            "moon",
            "mooning",
            "tendies",
            "calls",
            "puts",
            "bagholder",
            "bagholding",
            "rug pull",
            "diamond hands",
            "paper hands",
            "squeeze",
            "short",
            "bullish",
            "bearish",
            "to the moon",
            "guh",
            "stonks",
            "yolo",
            "dip",
            "buy the dip",
            "rocket",
            "ape",
            "hodl",
            "bull",
            "bear",
            "rally",
            "crash",
            "dump",
            "pump",
            "bankrupt",
            "dilution",
            "beat",
            "miss",
            "upgrade",
            "downgrade",
            "🚀",
            "💎",
            "🙌",
            "🌈 🐻",
            "📉",
            "📈",
            "🐂",
            "🐻",
            "+n%",
            "-n%",
        ] {
            assert!(seen.contains(required), "market lexicon lacks {required:?}");
        }
    }
}
