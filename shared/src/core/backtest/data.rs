//! The backtest's inputs: raw bars and scored Reddit items, and the point-in-time feature
//! rows built from them by the same functions the live `build-features` uses.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use crate::core::features::training::daily_sentiment_by_ticker;
use crate::core::features::{universe_features, DailySentiment, FeatureRow, Market};
use crate::core::mention_sentiment::ScoredItem;
use crate::core::nyse;
use crate::core::prediction::SEQUENCE_DAYS;
use crate::core::DailyBar;

/// What a backtest reads, before any feature is computed: split-adjusted daily bars per
/// ticker (date order), the scored Reddit items (any order) and the benchmark's bars
/// (SPY, date order; empty: no market regime). The tickers of `prices` are the universe
/// the cross-sectional features rank over.
#[derive(Debug, Clone, Default)]
pub struct RawInputs {
    pub prices: Vec<(String, Vec<DailyBar>)>,
    pub items: Vec<ScoredItem>,
    pub benchmark: Vec<DailyBar>,
    /// The daily sentiment already aggregated (a daily sentiment file): when given, it is
    /// read instead of `items` (which should then be empty).
    pub daily_sentiment: Option<BTreeMap<String, Vec<DailySentiment>>>,
}

impl RawInputs {
    /// The daily sentiment by ticker of the trading days `from..=to`: the given table's
    /// rows, or the items aggregated per day.
    pub fn daily_sentiment(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> BTreeMap<String, Vec<DailySentiment>> {
        match &self.daily_sentiment {
            None => daily_sentiment_by_ticker(&self.items, from, to),
            Some(table) => table
                .iter()
                .filter_map(|(ticker, days)| {
                    let kept: Vec<DailySentiment> = days
                        .iter()
                        .filter(|d| from <= d.trading_date && d.trading_date <= to)
                        .copied()
                        .collect();
                    (!kept.is_empty()).then(|| (ticker.clone(), kept))
                })
                .collect(),
        }
    }
}

/// One ticker's bars and feature rows (same length, same dates), trimmed to the test
/// window plus the warm-up the feature windows need.
#[derive(Debug, Clone)]
pub struct TickerData {
    pub ticker: String,
    pub bars: Vec<DailyBar>,
    pub features: Vec<FeatureRow>,
}

impl TickerData {
    /// Index of the bar dated `date`.
    pub fn index_of(&self, date: NaiveDate) -> Option<usize> {
        self.bars.binary_search_by_key(&date, |b| b.date).ok()
    }
}

/// Every ticker's bars and features, sorted by ticker.
#[derive(Debug, Clone, Default)]
pub struct MarketData {
    pub tickers: Vec<TickerData>,
}

/// Calendar days of sentiment aggregated before the first kept row, so the 5-day
/// sentiment averages of the first rows are complete.
const SENTIMENT_LEAD_DAYS: u64 = 14;

impl MarketData {
    /// Features for every ticker over its whole history (indicators need it), keeping
    /// the rows from [`SEQUENCE_DAYS`] trading days before `from` up to `to`: the row of
    /// day D reads bars `<= D` (the benchmark's too), aggregates of trading days `<= D`,
    /// and the other tickers' rows of day D only.
    pub fn build(raw: &RawInputs, from: NaiveDate, to: NaiveDate) -> Self {
        let keep_from = nyse::add_trading_days(from, -(SEQUENCE_DAYS as i64 + 5));
        let since = keep_from
            .checked_sub_days(chrono::Days::new(SENTIMENT_LEAD_DAYS))
            .unwrap_or(keep_from);
        let sentiment = raw.daily_sentiment(since, to);
        Self::from_sentiment(raw, &sentiment, keep_from, to)
    }

    /// As [`Self::build`], with the daily sentiment aggregates already made (the database
    /// stores them; `raw.items` is not read).
    pub fn from_daily_sentiment(
        raw: &RawInputs,
        sentiment: &BTreeMap<String, Vec<DailySentiment>>,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Self {
        let keep_from = nyse::add_trading_days(from, -(SEQUENCE_DAYS as i64 + 5));
        Self::from_sentiment(raw, sentiment, keep_from, to)
    }

    fn from_sentiment(
        raw: &RawInputs,
        sentiment: &BTreeMap<String, Vec<DailySentiment>>,
        keep_from: NaiveDate,
        to: NaiveDate,
    ) -> Self {
        // Bars after `to` are never read (as if the run happened on `to`).
        let prices: Vec<(String, Vec<DailyBar>)> = raw
            .prices
            .iter()
            .map(|(ticker, bars)| {
                let end = bars.partition_point(|b| b.date <= to);
                (ticker.clone(), bars[..end].to_vec())
            })
            .collect();
        let market = Market::new(raw.benchmark.clone(), prices.iter().map(|(t, _)| t.clone()));
        let (rows, offsets) = universe_features(&prices, sentiment, &market, keep_from);
        let mut tickers: Vec<TickerData> = prices
            .into_iter()
            .zip(rows.into_iter().zip(offsets))
            .filter_map(|((ticker, bars), (features, start))| {
                if start == bars.len() {
                    return None;
                }
                Some(TickerData {
                    ticker,
                    bars: bars[start..].to_vec(),
                    features,
                })
            })
            .collect();
        tickers.sort_by(|a, b| a.ticker.cmp(&b.ticker));
        Self { tickers }
    }

    pub fn ticker(&self, ticker: &str) -> Option<&TickerData> {
        self.position(ticker).map(|i| &self.tickers[i])
    }

    /// Index of `ticker` in [`Self::tickers`].
    pub fn position(&self, ticker: &str) -> Option<usize> {
        self.tickers
            .binary_search_by(|t| t.ticker.as_str().cmp(ticker))
            .ok()
    }
}

/// The probe's alteration of the future: every bar dated after `date` (the benchmark's
/// too) gets its prices
/// scaled by a factor that alternates 1.37 / 0.71 (gaps, new highs and lows, different
/// indicators) and its volume ×3 + 1; every item created at or after `date`'s 16:30
/// cutoff (so not yet known when `date`'s signals are made) has its sentiment negated
/// (0 becomes 0.9) and gains a twin from a new author (mention counts double). A daily
/// sentiment table is altered the same way: the rows of trading days after `date` (whose
/// windows start at or after `date`'s cutoff) get their sentiment negated and their
/// mentions doubled.
pub fn alter_after(raw: &RawInputs, date: NaiveDate) -> RawInputs {
    let alter = |bars: &[DailyBar]| -> Vec<DailyBar> {
        bars.iter()
            .scan(0usize, |k, b| {
                if b.date <= date {
                    return Some(*b);
                }
                *k += 1;
                let f = if *k % 2 == 1 { 1.37 } else { 0.71 };
                Some(DailyBar {
                    open: b.open * f,
                    high: b.high * f,
                    low: b.low * f,
                    close: b.close * f,
                    adjusted_close: b.adjusted_close * f,
                    volume: b.volume.saturating_mul(3).saturating_add(1),
                    ..*b
                })
            })
            .collect()
    };
    let prices = raw
        .prices
        .iter()
        .map(|(ticker, bars)| (ticker.clone(), alter(bars)))
        .collect();
    let cutoff = crate::core::mention_sentiment::SentimentWindow::for_trading_date(date).cutoff;
    let mut items = Vec::with_capacity(raw.items.len());
    for item in &raw.items {
        if item.created_at < cutoff {
            items.push(item.clone());
            continue;
        }
        let sentiment = if item.sentiment == 0.0 {
            0.9
        } else {
            -item.sentiment
        };
        items.push(ScoredItem {
            sentiment,
            ..item.clone()
        });
        items.push(ScoredItem {
            post_id: format!("{}-probe-twin", item.post_id),
            author: Some(format!("probe-twin-{}", item.post_id)),
            sentiment,
            ..item.clone()
        });
    }
    let flip = |x: f64| if x == 0.0 { 0.9 } else { -x };
    let daily_sentiment = raw.daily_sentiment.as_ref().map(|table| {
        table
            .iter()
            .map(|(ticker, days)| {
                let days = days
                    .iter()
                    .map(|d| {
                        if d.trading_date <= date {
                            return *d;
                        }
                        DailySentiment {
                            mentions: d.mentions.saturating_mul(2),
                            mean_sentiment: flip(d.mean_sentiment),
                            weighted_sentiment: flip(d.weighted_sentiment),
                            bullish_share: 1.0 - d.bullish_share,
                            ..*d
                        }
                    })
                    .collect();
                (ticker.clone(), days)
            })
            .collect()
    });
    RawInputs {
        prices,
        items,
        benchmark: alter(&raw.benchmark),
        daily_sentiment,
    }
}

#[cfg(test)]
mod daily_sentiment_tests {
    use super::*;

    fn day(date: &str, mentions: u32, mean: f64) -> DailySentiment {
        DailySentiment {
            trading_date: date.parse().unwrap(),
            mentions,
            mean_sentiment: mean,
            weighted_sentiment: mean / 2.0,
            bullish_share: 0.25,
        }
    }

    #[test]
    fn a_given_table_is_read_in_place_of_items_and_the_probe_alters_only_its_future() {
        let table: BTreeMap<String, Vec<DailySentiment>> = [(
            "GME".to_string(),
            vec![
                day("2021-01-26", 3, 0.4),
                day("2021-01-27", 5, 0.0),
                day("2021-01-28", 8, -0.2),
            ],
        )]
        .into();
        let raw = RawInputs {
            daily_sentiment: Some(table),
            ..RawInputs::default()
        };
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        let got = raw.daily_sentiment(d("2021-01-27"), d("2021-01-31"));
        assert_eq!(got["GME"].len(), 2);
        assert!(raw
            .daily_sentiment(d("2021-02-01"), d("2021-02-28"))
            .is_empty());

        let altered = alter_after(&raw, d("2021-01-26"));
        let rows = altered.daily_sentiment(d("2021-01-01"), d("2021-12-31"));
        let rows = &rows["GME"];
        assert_eq!(rows[0], day("2021-01-26", 3, 0.4));
        assert_eq!((rows[1].mentions, rows[1].mean_sentiment), (10, 0.9));
        assert_eq!((rows[2].mentions, rows[2].mean_sentiment), (16, 0.2));
        assert_eq!(rows[2].bullish_share, 0.75);
    }
}
