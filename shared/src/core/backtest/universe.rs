//! The universe split and its survivorship, pure. With a manifest of index membership
//! (`ticker,in_sp500_2020_08,...`), every strategy is run a second time on the market
//! data **without** the tickers outside the S&P 500 of 2020-08 (the r/wallstreetbets names
//! picked for their fame): a second engine run on [`restrict`]ed data, not a filter of the
//! first run's trades, so the slots and cash those tickers took go to others.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::data::MarketData;

/// The market data of the tickers `keep` accepts (same rows, same order).
pub fn restrict(data: &MarketData, keep: impl Fn(&str) -> bool) -> MarketData {
    MarketData {
        tickers: data
            .tickers
            .iter()
            .filter(|t| keep(&t.ticker))
            .cloned()
            .collect(),
    }
}

/// Which universe tickers a membership map keeps (member), excludes (not a member), and
/// does not know (absent from the map: excluded too, since membership is not shown).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Split {
    pub kept: Vec<String>,
    pub excluded: Vec<String>,
    pub not_in_manifest: Vec<String>,
}

impl Split {
    /// `members`: ticker → in the index (upper-case tickers).
    pub fn of(data: &MarketData, members: &BTreeMap<String, bool>) -> Self {
        let mut s = Split {
            kept: Vec::new(),
            excluded: Vec::new(),
            not_in_manifest: Vec::new(),
        };
        for t in &data.tickers {
            let name = t.ticker.clone();
            match members.get(&t.ticker.to_ascii_uppercase()) {
                Some(true) => s.kept.push(name),
                Some(false) => s.excluded.push(name),
                None => s.not_in_manifest.push(name),
            }
        }
        s
    }

    pub fn restricted(&self, data: &MarketData) -> MarketData {
        restrict(data, |t| {
            self.kept.binary_search_by(|k| k.as_str().cmp(t)).is_ok()
        })
    }
}

/// What the universe's survivorship is, counted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Survivorship {
    pub tickers: usize,
    /// Tickers whose first bar is after the first test day (listed during the test).
    pub listed_during_test: Vec<String>,
    /// Tickers whose last bar is before the last test day (delisted during the test):
    /// with files pulled in 2024, none can be.
    pub ended_during_test: Vec<String>,
    /// With a manifest: tickers in the S&P 500 of 2020-08, outside it, not in it at all.
    pub in_sp500_2020_08: Option<usize>,
    pub outside_sp500_2020_08: Option<usize>,
    pub not_in_manifest: Option<usize>,
    pub note: &'static str,
}

pub const SURVIVORSHIP_NOTE: &str =
    "Every ticker here still had a price file when the data was pulled (March 2024): \
     companies delisted, acquired or bankrupt before then are missing, whatever the window, so \
     the universe is the survivors of 2024 and no ticker can be delisted during the test. A long \
     strategy (and a random one) is flattered; the S&P 500 members of 2020-08 that are missing \
     cannot be traded at all.";

impl Survivorship {
    pub fn of(
        data: &MarketData,
        from: NaiveDate,
        last_day: NaiveDate,
        split: Option<&Split>,
    ) -> Self {
        let listed_during_test = data
            .tickers
            .iter()
            .filter(|t| t.bars.first().is_some_and(|b| b.date > from))
            .map(|t| t.ticker.clone())
            .collect();
        let ended_during_test = data
            .tickers
            .iter()
            .filter(|t| t.bars.last().is_some_and(|b| b.date < last_day))
            .map(|t| t.ticker.clone())
            .collect();
        Self {
            tickers: data.tickers.len(),
            listed_during_test,
            ended_during_test,
            in_sp500_2020_08: split.map(|s| s.kept.len()),
            outside_sp500_2020_08: split.map(|s| s.excluded.len()),
            not_in_manifest: split.map(|s| s.not_in_manifest.len()),
            note: SURVIVORSHIP_NOTE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::backtest::TickerData;
    use crate::core::DailyBar;

    fn ticker(name: &str, first: &str, last: &str) -> TickerData {
        let bar = |d: &str| DailyBar {
            date: d.parse().unwrap(),
            open: 1.0,
            high: 1.0,
            low: 1.0,
            close: 1.0,
            adjusted_close: 1.0,
            volume: 1,
        };
        TickerData {
            ticker: name.into(),
            bars: vec![bar(first), bar(last)],
            features: Vec::new(),
        }
    }

    #[test]
    fn universe_split_excludes_non_members_and_unknown_tickers() {
        let data = MarketData {
            tickers: vec![
                ticker("AAPL", "2019-12-02", "2021-12-31"),
                ticker("AMC", "2019-12-02", "2021-12-31"),
                ticker("GME", "2019-12-02", "2021-12-31"),
                ticker("PLTR", "2020-09-30", "2021-12-31"),
                ticker("XOM", "2019-12-02", "2021-06-30"),
            ],
        };
        let members: BTreeMap<String, bool> = [
            ("AAPL", true),
            ("AMC", false),
            ("GME", false),
            ("XOM", true),
            ("MSFT", true),
        ]
        .into_iter()
        .map(|(t, m)| (t.to_string(), m))
        .collect();
        let split = Split::of(&data, &members);
        assert_eq!(split.kept, ["AAPL", "XOM"]);
        assert_eq!(split.excluded, ["AMC", "GME"]);
        assert_eq!(split.not_in_manifest, ["PLTR"]);
        let restricted = split.restricted(&data);
        let names: Vec<&str> = restricted
            .tickers
            .iter()
            .map(|t| t.ticker.as_str())
            .collect();
        assert_eq!(names, ["AAPL", "XOM"]);
        assert_eq!(restricted.tickers[1].bars, data.tickers[4].bars);

        let s = Survivorship::of(
            &data,
            "2020-01-13".parse().unwrap(),
            "2021-12-31".parse().unwrap(),
            Some(&split),
        );
        assert_eq!(s.tickers, 5);
        assert_eq!(s.listed_during_test, ["PLTR"]);
        assert_eq!(s.ended_during_test, ["XOM"]);
        assert_eq!(
            (
                s.in_sp500_2020_08,
                s.outside_sp500_2020_08,
                s.not_in_manifest
            ),
            (Some(2), Some(2), Some(1))
        );
    }
}
