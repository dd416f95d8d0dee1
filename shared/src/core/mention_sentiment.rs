//! What Reddit said about each ticker on a trading day, point in time.
//!
//! The window of trading day D runs from the previous trading day's cutoff to D's
//! cutoff (16:30 New York, half an hour after the close, when the daily steps start),
//! start included, cutoff excluded: an item created at or after the cutoff belongs to the
//! next day. Everything here reads only the items given, so the live features and the
//! backtester get the same numbers from the same items.
//!
//! Per ticker:
//! - `mentions`: once per author per ticker per day (an item without an author counts
//!   as its own author, so imported rows with no author are not merged);
//! - `items`: every item mentioning the ticker;
//! - `unique_authors`: distinct known authors;
//! - `mean_sentiment`: the mean over authors of each author's mean compound (a spammer
//!   weighs as one voice);
//! - `weighted_sentiment`: the mean compound over items weighted by engagement,
//!   `1 + ln(1 + max(score, 0))`;
//! - `bullish_share`: the share of authors whose mean compound is > 0.05 (VADER's
//!   threshold for a positive text).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;

use super::calendar::{new_york_date, new_york_instant};
use super::nyse::{is_trading_day, next_trading_day, previous_trading_day};

/// The daily cutoff in New York time.
pub const CUTOFF_NEW_YORK: NaiveTime = match NaiveTime::from_hms_opt(16, 30, 0) {
    Some(t) => t,
    None => panic!("valid time"),
};

/// VADER's compound threshold for a positive text.
pub const BULLISH_COMPOUND: f64 = 0.05;

/// One scored post or comment, as the aggregation needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredItem {
    pub post_id: String,
    pub author: Option<String>,
    pub tickers: Vec<String>,
    /// Market-mode VADER compound.
    pub sentiment: f64,
    /// Reddit score (upvotes minus downvotes) at the last scrape.
    pub score: i64,
    pub created_at: DateTime<Utc>,
}

/// `[start, cutoff)` of one trading day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SentimentWindow {
    pub trading_date: NaiveDate,
    pub start: DateTime<Utc>,
    pub cutoff: DateTime<Utc>,
}

impl SentimentWindow {
    pub fn for_trading_date(trading_date: NaiveDate) -> Self {
        Self {
            trading_date,
            start: new_york_instant(previous_trading_day(trading_date), CUTOFF_NEW_YORK),
            cutoff: new_york_instant(trading_date, CUTOFF_NEW_YORK),
        }
    }

    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.cutoff
    }

    /// The window that holds `t` (the windows tile time: every instant is in exactly one).
    pub fn containing(t: DateTime<Utc>) -> Self {
        let day = new_york_date(t);
        let trading_date = if is_trading_day(day) && t < new_york_instant(day, CUTOFF_NEW_YORK) {
            day
        } else {
            next_trading_day(day)
        };
        Self::for_trading_date(trading_date)
    }
}

/// The aggregate of one ticker on one trading day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TickerSentiment {
    pub ticker: String,
    pub trading_date: NaiveDate,
    pub window_start: DateTime<Utc>,
    pub cutoff_at: DateTime<Utc>,
    pub mentions: u32,
    pub items: u32,
    pub unique_authors: u32,
    pub mean_sentiment: f64,
    pub weighted_sentiment: f64,
    pub bullish_share: f64,
}

/// Engagement weight of an item: 1 for a fresh or downvoted item, growing slowly.
pub fn engagement_weight(score: i64) -> f64 {
    1.0 + (1.0 + score.max(0) as f64).ln()
}

#[derive(Default)]
struct Acc<'a> {
    items: u32,
    weighted_sum: f64,
    weight_sum: f64,
    /// author key -> (sum of compounds, count)
    authors: HashMap<AuthorKey<'a>, (f64, u32)>,
}

#[derive(Hash, PartialEq, Eq)]
enum AuthorKey<'a> {
    Known(&'a str),
    Anonymous(&'a str),
}

/// Aggregates the items inside `window` per ticker, sorted by ticker. Items outside the
/// window are ignored, so a caller may pass a superset.
pub fn aggregate(items: &[ScoredItem], window: &SentimentWindow) -> Vec<TickerSentiment> {
    let mut per_ticker: BTreeMap<&str, Acc> = BTreeMap::new();
    for item in items.iter().filter(|i| window.contains(i.created_at)) {
        let author = match item.author.as_deref() {
            Some(a) => AuthorKey::Known(a),
            None => AuthorKey::Anonymous(&item.post_id),
        };
        let weight = engagement_weight(item.score);
        let mut seen: Vec<&str> = Vec::with_capacity(item.tickers.len());
        for ticker in &item.tickers {
            if seen.contains(&ticker.as_str()) {
                continue;
            }
            seen.push(ticker);
            let acc = per_ticker.entry(ticker).or_default();
            acc.items += 1;
            acc.weighted_sum += weight * item.sentiment;
            acc.weight_sum += weight;
            let author_key = match &author {
                AuthorKey::Known(a) => AuthorKey::Known(a),
                AuthorKey::Anonymous(id) => AuthorKey::Anonymous(id),
            };
            let entry = acc.authors.entry(author_key).or_insert((0.0, 0));
            entry.0 += item.sentiment;
            entry.1 += 1;
        }
    }
    per_ticker
        .into_iter()
        .map(|(ticker, acc)| {
            // Sum author means in a fixed order so the result does not depend on hashing.
            let mut author_means: Vec<(bool, f64)> = acc
                .authors
                .iter()
                .map(|(k, (sum, n))| (matches!(k, AuthorKey::Known(_)), sum / f64::from(*n)))
                .collect();
            author_means.sort_by(|a, b| a.1.total_cmp(&b.1));
            let mentions = author_means.len() as u32;
            let mean = author_means.iter().map(|(_, m)| m).sum::<f64>() / f64::from(mentions);
            let bullish = author_means
                .iter()
                .filter(|(_, m)| *m > BULLISH_COMPOUND)
                .count();
            TickerSentiment {
                ticker: ticker.to_string(),
                trading_date: window.trading_date,
                window_start: window.start,
                cutoff_at: window.cutoff,
                mentions,
                items: acc.items,
                unique_authors: author_means.iter().filter(|(known, _)| *known).count() as u32,
                mean_sentiment: mean,
                weighted_sentiment: acc.weighted_sum / acc.weight_sum,
                bullish_share: bullish as f64 / f64::from(mentions),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_instant_is_in_the_window_that_contains_it() {
        // Around a holiday weekend (Good Friday 2021-04-02), the cutoff itself, DST.
        let start: DateTime<Utc> = "2021-03-11T00:00:00Z".parse().unwrap();
        for k in 0..(40 * 24 * 4) {
            let t = start + chrono::Duration::minutes(15 * k) + chrono::Duration::seconds(k % 7);
            let w = SentimentWindow::containing(t);
            assert!(w.contains(t), "{t} not in {w:?}");
            assert!(is_trading_day(w.trading_date));
        }
        let cutoff = SentimentWindow::for_trading_date("2021-04-01".parse().unwrap()).cutoff;
        assert_eq!(
            SentimentWindow::containing(cutoff).trading_date,
            "2021-04-05".parse::<NaiveDate>().unwrap()
        );
        assert_eq!(
            SentimentWindow::containing(cutoff - chrono::Duration::seconds(1)).trading_date,
            "2021-04-01".parse::<NaiveDate>().unwrap()
        );
    }

    fn item(
        id: &str,
        author: Option<&str>,
        tickers: &[&str],
        sentiment: f64,
        score: i64,
        at: &str,
    ) -> ScoredItem {
        ScoredItem {
            post_id: id.into(),
            author: author.map(Into::into),
            tickers: tickers.iter().map(|t| t.to_string()).collect(),
            sentiment,
            score,
            created_at: at.parse().unwrap(),
        }
    }

    fn monday() -> SentimentWindow {
        SentimentWindow::for_trading_date(NaiveDate::from_ymd_opt(2021, 1, 11).unwrap())
    }

    #[test]
    fn after_a_holiday_the_window_starts_at_the_last_trading_days_cutoff() {
        // Friday 2021-01-01 was New Year's Day: Monday's window opens Thursday 16:30.
        let w = SentimentWindow::for_trading_date(NaiveDate::from_ymd_opt(2021, 1, 4).unwrap());
        assert_eq!(w.start.to_rfc3339(), "2020-12-31T21:30:00+00:00");
    }

    #[test]
    fn the_window_runs_from_fridays_cutoff_to_mondays() {
        let w = monday();
        assert_eq!(w.start.to_rfc3339(), "2021-01-08T21:30:00+00:00");
        assert_eq!(w.cutoff.to_rfc3339(), "2021-01-11T21:30:00+00:00");
        assert!(w.contains(w.start));
        assert!(
            !w.contains(w.cutoff),
            "an item at the cutoff belongs to the next day"
        );
    }

    #[test]
    fn an_author_counts_once_per_ticker_and_items_after_the_cutoff_are_ignored() {
        let items = [
            item("a", Some("ape1"), &["GME"], 0.8, 10, "2021-01-11T15:00:00Z"),
            item(
                "b",
                Some("ape1"),
                &["GME", "GME"],
                0.4,
                0,
                "2021-01-11T16:00:00Z",
            ),
            item(
                "c",
                Some("bear"),
                &["GME", "AMC"],
                -0.6,
                100,
                "2021-01-10T12:00:00Z",
            ),
            item("d", None, &["GME"], 0.0, 0, "2021-01-09T12:00:00Z"),
            item(
                "late",
                Some("ape2"),
                &["GME"],
                1.0,
                0,
                "2021-01-11T21:30:00Z",
            ),
            item(
                "early",
                Some("ape3"),
                &["GME"],
                1.0,
                0,
                "2021-01-08T21:29:59Z",
            ),
        ];
        let out = aggregate(&items, &monday());
        assert_eq!(
            out.iter().map(|t| t.ticker.as_str()).collect::<Vec<_>>(),
            ["AMC", "GME"]
        );
        let gme = &out[1];
        assert_eq!((gme.mentions, gme.items, gme.unique_authors), (3, 4, 2));
        // Authors: ape1 mean 0.6, bear -0.6, anonymous 0.0.
        assert!((gme.mean_sentiment - 0.0).abs() < 1e-12);
        assert!((gme.bullish_share - 1.0 / 3.0).abs() < 1e-12);
        let w = |s| engagement_weight(s);
        let expected = (w(10) * 0.8 + w(0) * 0.4 + w(100) * -0.6 + w(0) * 0.0)
            / (w(10) + w(0) + w(100) + w(0));
        assert!((gme.weighted_sentiment - expected).abs() < 1e-12);
        let amc = &out[0];
        assert_eq!((amc.mentions, amc.bullish_share), (1, 0.0));
    }

    #[test]
    fn no_items_is_no_rows() {
        assert!(aggregate(&[], &monday()).is_empty());
    }
}
