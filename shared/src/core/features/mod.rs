//! Point-in-time features and the training labels, one implementation for export,
//! training and serving.
//!
//! [`ticker_features`] turns one ticker's bars and daily sentiment aggregates into one
//! [`FeatureRow`] per bar, its values in [`FEATURE_SCHEMA`] order. The row of day D reads
//! only bars dated `<= D` and sentiment aggregates of trading days `<= D` (each of which
//! holds only items created before that day's 16:30 New York cutoff, see
//! [`crate::core::mention_sentiment`]), so it is the same whether computed on D's evening
//! or years later with the whole history. Every value is finite; a day without mentions
//! is a row with 0 mentions and neutral (0) sentiment. Definitions: `docs/features.md`.
//!
//! [`exit_labels`] looks ahead on purpose (up to the 7th trading day of the trade):
//! labels are the exits of the trade each signal would have made, for training and
//! evaluation only, never an input.

pub mod candles;
pub mod labels;
pub mod schema;
pub mod sentiment;
pub mod technical;
pub mod training;
pub mod universe;

use chrono::NaiveDate;
use serde::Serialize;

pub use labels::{exit_labels, Label};
pub use schema::{FeatureSchema, FEATURE_SCHEMA, TICKER_FEATURES};
pub use universe::{cross_section, Market, SectorMap};

use super::mention_sentiment::TickerSentiment;
use super::DailyBar;

/// What Reddit said about one ticker on one trading day (the part of
/// [`TickerSentiment`] the features use).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DailySentiment {
    pub trading_date: NaiveDate,
    /// Distinct authors (an author counts once per ticker per day).
    pub mentions: u32,
    /// Mean over authors of each author's mean compound.
    pub mean_sentiment: f64,
    /// Engagement-weighted mean compound over items.
    pub weighted_sentiment: f64,
    /// Share of authors whose mean compound is > 0.05.
    pub bullish_share: f64,
}

impl From<&TickerSentiment> for DailySentiment {
    fn from(t: &TickerSentiment) -> Self {
        Self {
            trading_date: t.trading_date,
            mentions: t.mentions,
            mean_sentiment: t.mean_sentiment,
            weighted_sentiment: t.weighted_sentiment,
            bullish_share: t.bullish_share,
        }
    }
}

/// The features of one ticker on one trading day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeatureRow {
    pub ticker: String,
    pub date: NaiveDate,
    /// In [`FEATURE_SCHEMA`] order; booleans as 0.0 / 1.0; always finite.
    pub values: Vec<f64>,
}

impl FeatureRow {
    /// The value of feature `name`, if the schema has it.
    pub fn get(&self, name: &str) -> Option<f64> {
        FEATURE_SCHEMA
            .index_of(name)
            .and_then(|i| self.values.get(i).copied())
    }
}

/// The per-ticker features of every bar of one ticker: the first [`TICKER_FEATURES`]
/// values of the schema (technical, candles, sentiment); [`cross_section`] appends the
/// market block. `bars` in date order (valid bars: positive, finite prices, as the price
/// adapters guarantee); `sentiment` = that ticker's daily aggregates (any order, days
/// without a row = no mentions).
///
/// Row `i` depends only on `bars[..=i]` and on the aggregates dated `<= bars[i].date`.
pub fn ticker_features(
    ticker: &str,
    bars: &[DailyBar],
    sentiment: &[DailySentiment],
) -> Vec<FeatureRow> {
    let dates: Vec<NaiveDate> = bars.iter().map(|b| b.date).collect();
    let technical = technical::technical_features(bars);
    let candles = candles::candle_features(bars);
    let social = sentiment::sentiment_features(&dates, sentiment);
    dates
        .iter()
        .zip(technical.iter().zip(&candles).zip(&social))
        .map(|(date, ((t, c), s))| {
            // Room for the market block cross_section appends.
            let mut values = Vec::with_capacity(FEATURE_SCHEMA.len());
            values.extend_from_slice(t);
            values.extend_from_slice(c);
            values.extend_from_slice(s);
            // Valid bars never give a non-finite value; invalid input must not leak a
            // NaN into a model either.
            for v in &mut values {
                if !v.is_finite() {
                    *v = 0.0;
                }
            }
            FeatureRow {
                ticker: ticker.to_string(),
                date: *date,
                values,
            }
        })
        .collect()
}

/// Full-schema rows of many tickers: [`ticker_features`] of each, then the market block
/// ([`cross_section`]) over all of them. `prices` = (ticker, bars in date order);
/// `sentiment` by ticker (a ticker without an entry has no mentions). Rows dated before
/// `keep_from` are dropped before the market block (each date's block reads only that
/// date's rows, so this changes nothing but the work); the result has one vector per
/// ticker of `prices`, in order, and `offsets[t]` = the index in `prices[t].1` of its
/// first row.
pub fn universe_features(
    prices: &[(String, Vec<DailyBar>)],
    sentiment: &std::collections::BTreeMap<String, Vec<DailySentiment>>,
    market: &Market,
    keep_from: NaiveDate,
) -> (Vec<Vec<FeatureRow>>, Vec<usize>) {
    let none = Vec::new();
    let mut offsets = Vec::with_capacity(prices.len());
    let per_ticker: Vec<Vec<FeatureRow>> = prices
        .iter()
        .map(|(ticker, bars)| {
            let mut rows = ticker_features(ticker, bars, sentiment.get(ticker).unwrap_or(&none));
            let start = rows.partition_point(|r| r.date < keep_from);
            offsets.push(start);
            rows.drain(..start);
            rows
        })
        .collect();
    (cross_section(per_ticker, market), offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bars(n: usize) -> Vec<DailyBar> {
        let start = NaiveDate::from_ymd_opt(2021, 1, 4).unwrap();
        (0..n)
            .map(|i| {
                let close = 50.0 + (i as f64 * 0.3).sin() * 4.0 + i as f64 * 0.02;
                DailyBar {
                    date: start + chrono::Days::new(i as u64),
                    open: close * 0.99,
                    high: close * 1.02,
                    low: close * 0.97,
                    close,
                    adjusted_close: close,
                    volume: 1_000 + (i as i64 % 13) * 70,
                }
            })
            .collect()
    }

    #[test]
    fn one_finite_row_per_bar_in_schema_order() {
        let bars = bars(260);
        let day = |i: usize| bars[i].date;
        let sentiment = [DailySentiment {
            trading_date: day(250),
            mentions: 60,
            mean_sentiment: 0.4,
            weighted_sentiment: 0.3,
            bullish_share: 0.7,
        }];
        let rows = ticker_features("ABC", &bars, &sentiment);
        assert_eq!(rows.len(), bars.len());
        for (row, bar) in rows.iter().zip(&bars) {
            assert_eq!(row.ticker, "ABC");
            assert_eq!(row.date, bar.date);
            assert_eq!(row.values.len(), TICKER_FEATURES);
            assert!(row.values.iter().all(|v| v.is_finite()));
        }
        let r = &rows[250];
        assert_eq!(r.get("conviction"), Some(1.0));
        assert_eq!(r.get("sentiment_score"), Some(0.4));
        assert_eq!(r.get("sma_200_ready"), Some(1.0));
        assert_eq!(rows[249].get("has_mentions"), Some(0.0));
        assert_eq!(r.get("not_a_feature"), None);
    }

    #[test]
    fn empty_input_gives_no_rows() {
        assert!(ticker_features("ABC", &[], &[]).is_empty());
    }

    #[test]
    fn converts_a_ticker_sentiment() {
        let date = NaiveDate::from_ymd_opt(2021, 1, 4).unwrap();
        let t = TickerSentiment {
            ticker: "GME".into(),
            trading_date: date,
            window_start: "2021-01-01T21:30:00Z".parse().unwrap(),
            cutoff_at: "2021-01-04T21:30:00Z".parse().unwrap(),
            mentions: 3,
            items: 4,
            unique_authors: 2,
            mean_sentiment: 0.1,
            weighted_sentiment: 0.2,
            bullish_share: 0.5,
        };
        let d = DailySentiment::from(&t);
        assert_eq!(
            (d.trading_date, d.mentions, d.bullish_share),
            (date, 3, 0.5)
        );
        assert_eq!((d.mean_sentiment, d.weighted_sentiment), (0.1, 0.2));
    }
}
