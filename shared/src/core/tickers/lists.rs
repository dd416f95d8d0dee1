//! The word lists embedded in the binary (`data/*.txt`), parsed once.
//!
//! Every file has the same format: symbols or words separated by white space, any number
//! per line, `#` starting a comment that runs to the end of the line. The reasons for each
//! entry are those comments; `docs/tickers.md` summarises them.

use std::collections::HashSet;
use std::sync::OnceLock;

/// US-listed symbols on 2026-08-22 (NASDAQ screener data, rreichel3/US-Stock-Symbols
/// @7d1d2218), class shares in the storage spelling `BRK-B`.
pub(crate) const US_LISTED: &str = include_str!("data/us_listed_2026-08-22.txt");
/// ETFs, ETNs and trusts traders name (the snapshot lists operating companies only).
pub(crate) const ETFS: &str = include_str!("data/etfs.txt");
/// Symbols of 2019-2021 since delisted or renamed (BBBY, FB, SQ, ...).
pub(crate) const HISTORICAL: &str = include_str!("data/historical.txt");
/// Words that count only as cashtags, never bare (IT, DD, YOLO, ...).
pub(crate) const BLACKLIST: &str = include_str!("data/blacklist.txt");
/// Universe symbols that are English words: not tickers inside a shouted sentence.
const ENGLISH_WORDS: &str = include_str!("data/english_words.txt");
/// Cashtags that name no stock ($BTC, $USD, $ROPE): refused when not in the universe.
const NON_TICKERS: &str = include_str!("data/non_tickers.txt");
/// Symbols that count bare in lower or mixed case too ("gme", "Pltr").
const LOWER_CASE: &str = include_str!("data/lower_case.txt");

/// The entries of one embedded list, in file order.
pub(crate) fn entries(list: &'static str) -> impl Iterator<Item = &'static str> {
    list.lines()
        .map(|line| line.split('#').next().unwrap_or_default())
        .flat_map(str::split_whitespace)
}

fn set_of(list: &'static str) -> HashSet<&'static str> {
    entries(list).collect()
}

/// Universe symbols that are ordinary English words (GOLD, PLAY, LINE, ...).
pub(crate) fn english_words() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| set_of(ENGLISH_WORDS))
}

/// Cashtags that are crypto coins, currencies or jokes.
pub(crate) fn non_tickers() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| set_of(NON_TICKERS))
}

/// Symbols WSB writes in lower case that are neither words nor company names.
pub(crate) fn lower_case() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| set_of(LOWER_CASE))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::universe::normalize_ticker;

    #[test]
    fn every_embedded_entry_is_well_formed() {
        for (name, list) in [
            ("us_listed", US_LISTED),
            ("etfs", ETFS),
            ("historical", HISTORICAL),
        ] {
            let mut n = 0;
            for s in entries(list) {
                n += 1;
                assert_eq!(normalize_ticker(s).as_deref(), Ok(s), "{name}: {s}");
            }
            assert!(n > 50, "{name} has only {n} entries");
        }
        for (name, list) in [
            ("blacklist", BLACKLIST),
            ("english_words", ENGLISH_WORDS),
            ("non_tickers", NON_TICKERS),
            ("lower_case", LOWER_CASE),
        ] {
            for w in entries(list) {
                assert!(
                    w.len() <= 10 && w.bytes().all(|b| b.is_ascii_uppercase()),
                    "{name}: {w:?}"
                );
            }
        }
    }

    #[test]
    fn snapshot_has_the_expected_size_and_spelling() {
        let snapshot: HashSet<_> = entries(US_LISTED).collect();
        assert_eq!(snapshot.len(), 6798);
        assert!(snapshot.contains("BRK-B") && snapshot.contains("GME"));
        // ETFs and historical symbols are not in the snapshot: that is why they are listed.
        assert!(entries(ETFS).all(|s| !snapshot.contains(s)));
        assert!(entries(HISTORICAL).all(|s| !snapshot.contains(s)));
    }
}
