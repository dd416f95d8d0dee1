//! Which tickers the system follows.
//!
//! Today that is a configured watchlist; the Reddit ingestion adds the tickers trending
//! there through [`Universe::with_trending`]. Both go through the same normalisation, so
//! a symbol is stored once whatever its source.

use std::collections::BTreeSet;

/// Why a symbol was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid ticker symbol {symbol:?}: {reason}")]
pub struct InvalidTicker {
    pub symbol: String,
    pub reason: &'static str,
}

/// Normalises a symbol to upper case and checks its form: 1-5 letters, optionally a
/// class suffix after a dot or dash (`BRK.B`, `BF-B`), at most 10 characters (the
/// `stock_prices.ticker` column width). Yahoo spells class shares with a dash.
pub fn normalize_ticker(raw: &str) -> Result<String, InvalidTicker> {
    let symbol = raw.trim().to_ascii_uppercase();
    let invalid = |reason| InvalidTicker {
        symbol: raw.to_string(),
        reason,
    };
    if symbol.is_empty() {
        return Err(invalid("empty"));
    }
    if symbol.len() > 10 {
        return Err(invalid("longer than 10 characters"));
    }
    let mut parts = symbol.splitn(2, ['.', '-']);
    let root = parts.next().unwrap_or_default();
    if root.is_empty() || root.len() > 5 || !root.chars().all(|c| c.is_ascii_uppercase()) {
        return Err(invalid("root must be 1-5 letters"));
    }
    if let Some(class) = parts.next() {
        if class.is_empty() || class.len() > 2 || !class.chars().all(|c| c.is_ascii_uppercase()) {
            return Err(invalid("class suffix must be 1-2 letters"));
        }
    }
    Ok(symbol.replace('.', "-"))
}

/// The set of tickers to fetch, sorted and without duplicates.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Universe {
    tickers: BTreeSet<String>,
}

impl Universe {
    /// Builds the universe from a watchlist; invalid symbols are returned, not dropped
    /// silently, so the caller can report them.
    pub fn from_watchlist<I, S>(symbols: I) -> (Self, Vec<InvalidTicker>)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut universe = Self::default();
        let rejected = universe.extend(symbols);
        (universe, rejected)
    }

    /// Adds the tickers trending on Reddit (the seam for the Reddit ingestion).
    pub fn with_trending<I, S>(mut self, symbols: I) -> (Self, Vec<InvalidTicker>)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let rejected = self.extend(symbols);
        (self, rejected)
    }

    fn extend<I, S>(&mut self, symbols: I) -> Vec<InvalidTicker>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut rejected = Vec::new();
        for raw in symbols {
            match normalize_ticker(raw.as_ref()) {
                Ok(t) => {
                    self.tickers.insert(t);
                }
                Err(e) => rejected.push(e),
            }
        }
        rejected
    }

    pub fn tickers(&self) -> impl Iterator<Item = &str> {
        self.tickers.iter().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.tickers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tickers.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_class_shares() {
        assert_eq!(normalize_ticker(" aapl ").unwrap(), "AAPL");
        assert_eq!(normalize_ticker("brk.b").unwrap(), "BRK-B");
        assert_eq!(normalize_ticker("BF-B").unwrap(), "BF-B");
    }

    #[test]
    fn refuses_malformed_symbols() {
        for bad in ["", "TOOLONG", "A1", "$TSLA", "BRK.", "BRK.BBB", "EURUSD=X"] {
            assert!(normalize_ticker(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn watchlist_and_trending_merge_without_duplicates() {
        let (u, rejected) = Universe::from_watchlist(["MSFT", "aapl", "bad!"]);
        assert_eq!(rejected.len(), 1);
        let (u, rejected) = u.with_trending(["AAPL", "GME"]);
        assert!(rejected.is_empty());
        assert_eq!(u.tickers().collect::<Vec<_>>(), ["AAPL", "GME", "MSFT"]);
    }
}
