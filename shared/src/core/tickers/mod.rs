//! Stock tickers mentioned in Reddit text.
//!
//! [`TickerExtractor::us_listed`] knows the US-listed symbols of 2026-08-22, the ETFs
//! traders name and the WSB symbols of 2019-2021 delisted since; it returns the tickers a
//! text mentions, in the storage spelling of [`normalize_ticker`] (upper case, class shares
//! with Yahoo's dash: `BRK-B`), so they go straight into `stock_prices` and
//! [`Universe::with_trending`](crate::core::universe::Universe::with_trending).
//!
//! The rules, each decided from hand-labelled real comments (`docs/tickers.md` gives the
//! evidence and the measured precision and recall):
//!
//! - **Cashtags** (`$GME`, `$gme`, `$$GME`, `$ GME`, `$BRK.B`) count in any case when the
//!   symbol is in the universe, blacklisted words included (`$ALL` is Allstate). An
//!   upper-case cashtag of 2-5 letters that is *not* in the universe counts too (OTC and
//!   freshly listed symbols: `$RDEXF`), unless it is a crypto coin, a currency or a joke
//!   (`$BTC`, `$USD`, `$ROPE`); [`TickerExtractor::with_unknown_cashtags`] turns that off.
//! - **Bare symbols** count when written in capitals, 2-5 letters (or a class share such as
//!   `BRK.B`), in the universe and not blacklisted. Single letters (`A`, `F`, `T`) count only
//!   as cashtags. In lower or mixed case only a dozen symbols that are neither English words
//!   nor company names count (`gme`, `Pltr`, `tsla`); `Nio`, `Uber`, `spy` do not.
//! - **Shouted sentences** ("BUY THE DIP AND HOLD"): inside a sentence mostly in capitals, a
//!   bare symbol that is also an English word (GOLD, PLAY, LINE) does not count.
//! - URLs, `r/` and `u/` names, `@handles`, dotted names (`chewy.com`), `S&P`/`AT&T`, and
//!   words glued to digits (`H2`, `0DTE`) produce nothing. Punctuation, emoji and possessives
//!   around a symbol do not hide it (`GME!!!`, `(AMC)`, `TSLA's`, `AMDs`).

mod extract;
mod lists;

use std::collections::HashSet;
use std::sync::OnceLock;

use crate::core::universe::normalize_ticker;
use extract::{is_shouted, sentences, KeyBuf, Kind, Token, Tokens};

/// Finds ticker mentions in text. Build it once; [`extract`](Self::extract) is cheap.
#[derive(Debug, Clone)]
pub struct TickerExtractor {
    /// Storage spelling (`GME`, `BRK-B`).
    symbols: HashSet<Box<str>>,
    /// Words that count only as cashtags.
    blacklist: HashSet<Box<str>>,
    unknown_cashtags: bool,
}

impl TickerExtractor {
    /// The default extractor: the embedded 2026-08-22 snapshot of US-listed symbols, plus
    /// the ETFs and the 2019-2021 symbols delisted since, with the embedded blacklist.
    pub fn us_listed() -> &'static TickerExtractor {
        static DEFAULT: OnceLock<TickerExtractor> = OnceLock::new();
        DEFAULT.get_or_init(|| {
            TickerExtractor::new(
                embedded_symbols().map(String::from),
                embedded_blacklist().map(String::from),
            )
        })
    }

    /// An extractor over `symbols` (any spelling `normalize_ticker` accepts, or `BRK/B`;
    /// malformed ones are skipped) with `blacklist` (words counted only as cashtags).
    /// Unknown upper-case cashtags are accepted, as in [`us_listed`](Self::us_listed).
    pub fn new(
        symbols: impl IntoIterator<Item = String>,
        blacklist: impl IntoIterator<Item = String>,
    ) -> Self {
        let extractor = Self {
            symbols: HashSet::new(),
            blacklist: blacklist
                .into_iter()
                .map(|w| w.trim().to_ascii_uppercase().into_boxed_str())
                .collect(),
            unknown_cashtags: true,
        };
        extractor.with_symbols(symbols)
    }

    /// Adds symbols to the universe (production refreshes it from the symbols table).
    pub fn with_symbols(mut self, extra: impl IntoIterator<Item = String>) -> Self {
        for raw in extra {
            if let Some(symbol) = storage_spelling(&raw) {
                self.symbols.insert(symbol.into_boxed_str());
            }
        }
        self
    }

    /// Whether an upper-case cashtag whose symbol is not in the universe counts (default
    /// `true`: OTC symbols, new listings). With `false` only universe symbols are returned.
    pub fn with_unknown_cashtags(mut self, accept: bool) -> Self {
        self.unknown_cashtags = accept;
        self
    }

    /// Whether `s` (any accepted spelling: `brk.b`, `BRK-B`, `BRK/B`) is in the universe.
    pub fn is_valid_symbol(&self, s: &str) -> bool {
        storage_spelling(s).is_some_and(|symbol| self.symbols.contains(symbol.as_str()))
    }

    /// Number of symbols in the universe.
    pub fn len(&self) -> usize {
        self.symbols.len()
    }

    pub fn is_empty(&self) -> bool {
        self.symbols.is_empty()
    }

    /// Tickers mentioned in `text`: unique, sorted, in the storage spelling (`BRK-B`).
    pub fn extract(&self, text: &str) -> Vec<String> {
        let mut found: Vec<String> = Vec::new();
        for sentence in sentences(text) {
            let shouted = is_shouted(Tokens::new(sentence, &self.symbols));
            for token in Tokens::new(sentence, &self.symbols) {
                if let Some(key) = self.resolve(&token, shouted) {
                    if !found.iter().any(|f| f == key.as_str()) {
                        found.push(key.as_str().to_owned());
                    }
                }
            }
        }
        found.sort_unstable();
        found
    }

    /// The symbol a token names, if any.
    fn resolve(&self, t: &Token<'_>, shouted: bool) -> Option<KeyBuf> {
        let letters = t.letters;
        let is_upper = |s: &[u8]| s.iter().all(u8::is_ascii_uppercase);
        if let Some((sep, suffix)) = t.class {
            let mut key = KeyBuf::new();
            let spelled = t.kind == Kind::Cashtag || is_upper(letters) && is_upper(suffix);
            if spelled
                && key.push_upper(letters)
                && key.push(b'-')
                && key.push_upper(suffix)
                && self.symbols.contains(key.as_str())
            {
                return Some(key);
            }
            if sep != b'/' {
                // MCB.L, DF.TO, CAR-T: another exchange's listing or a compound word.
                return None;
            }
        }
        // "AMDs", "$RYNs": a plural or a lazy possessive of a symbol.
        let plural_root = match letters {
            [root @ .., b's'] if (2..=5).contains(&root.len()) && is_upper(root) => Some(root),
            _ => None,
        };
        match t.kind {
            Kind::Bare => {
                if !is_upper(letters) && plural_root.is_none() {
                    // "gme", "Pltr": only the few symbols that are neither words nor names.
                    let key = self.lookup(letters)?;
                    return lists::lower_case().contains(key.as_str()).then_some(key);
                }
                let root = if (2..=5).contains(&letters.len()) && is_upper(letters) {
                    letters
                } else {
                    plural_root?
                };
                let key = self.lookup(root)?;
                let word = key.as_str();
                let refused = self.blacklist.contains(word)
                    || shouted && lists::english_words().contains(word);
                (!refused).then_some(key)
            }
            Kind::Cashtag => {
                if letters.len() == 1 && !is_upper(letters) {
                    return None; // "$h!t"
                }
                if let Some(key) = self.lookup(letters).or_else(|| self.lookup(plural_root?)) {
                    return Some(key);
                }
                if !self.unknown_cashtags || !(2..=5).contains(&letters.len()) || !is_upper(letters)
                {
                    return None;
                }
                let mut key = KeyBuf::new();
                key.push_upper(letters);
                let word = key.as_str();
                let refused = lists::non_tickers().contains(word) || self.blacklist.contains(word);
                (!refused).then_some(key)
            }
        }
    }

    /// `letters` upper-cased, if that is a symbol of the universe.
    fn lookup(&self, letters: &[u8]) -> Option<KeyBuf> {
        if letters.len() > 5 {
            return None;
        }
        let mut key = KeyBuf::new();
        key.push_upper(letters);
        self.symbols.contains(key.as_str()).then_some(key)
    }
}

/// The storage spelling of a symbol: [`normalize_ticker`]'s (`brk.b`, `BRK/B` → `BRK-B`).
pub fn storage_spelling(raw: &str) -> Option<String> {
    normalize_ticker(&raw.replace('/', "-")).ok()
}

/// The spelling people write and the NASDAQ lists use: `BRK-B` → `BRK.B`.
pub fn dot_spelling(symbol: &str) -> String {
    symbol.replace('-', ".")
}

/// The embedded universe: the 2026-08-22 snapshot, the ETFs and the historical symbols.
pub fn embedded_symbols() -> impl Iterator<Item = &'static str> {
    lists::entries(lists::US_LISTED)
        .chain(lists::entries(lists::ETFS))
        .chain(lists::entries(lists::HISTORICAL))
}

/// The embedded blacklist (words that count only as cashtags).
pub fn embedded_blacklist() -> impl Iterator<Item = &'static str> {
    lists::entries(lists::BLACKLIST)
}

#[cfg(test)]
mod tests;
