//! When an open long position closes, and at what price.
//!
//! Daily bar (the backtester), in this order, first match wins:
//! 1. from the day after the entry day on, the open: at or below the stop is a gap
//!    through it (`stop_loss` at the open); at or above the target a gap through it
//!    (`target` at the open);
//! 2. from the day after the entry day on, a sentiment flip read after an earlier
//!    trading day's cutoff (`signal_flip` at the open);
//! 3. the range: low at or below the stop (`stop_loss` at the stop price; when the high
//!    also reaches the target the same day, daily bars cannot order them and the stop is
//!    taken, the conservative reading); else high at or above the target (`target` at
//!    the target price);
//! 4. the 7th trading day of the hold, the entry day being the 1st (NYSE calendar):
//!    `time_decay` at the close.
//!
//! This is the triple-barrier label's rule (`features::labels`): same order, ties to the
//! stop, gaps filled at the open, 7 bars with the entry day included.
//!
//! The 15-minute monitor ([`exit_intraday`]) applies the same order to the day so far
//! (open, high, low, last): gaps at the open, then the flip (at the last price), then the
//! range (at the stop or target price), then time decay in the last
//! [`ExitConfig::time_decay_window_minutes`] of the 7th day's session (at the last price).
//!
//! Sentiment flip: at least [`ExitConfig::flip_min_mentions`] mentions that day,
//! `sentiment_trend` below [`ExitConfig::flip_max_trend`] and `sentiment_score` below
//! [`ExitConfig::flip_max_score`] (reasons in `docs/risk.md`).

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::calendar::{new_york_date, new_york_instant};
use super::features::FeatureRow;
use super::nyse;
use super::portfolio::Position;
use super::DailyBar;

/// Why a position closed; serialised as the seed's `exit_reason` strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    Target,
    StopLoss,
    SignalFlip,
    TimeDecay,
}

impl ExitReason {
    pub const ALL: [ExitReason; 4] = [
        ExitReason::Target,
        ExitReason::StopLoss,
        ExitReason::SignalFlip,
        ExitReason::TimeDecay,
    ];

    /// 'target', 'stop_loss', 'signal_flip' or 'time_decay'.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Target => "target",
            ExitReason::StopLoss => "stop_loss",
            ExitReason::SignalFlip => "signal_flip",
            ExitReason::TimeDecay => "time_decay",
        }
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ExitReason {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ExitReason::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown exit reason {s:?}"))
    }
}

/// A decision to close, at a market price (before slippage).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Exit {
    pub reason: ExitReason,
    pub price: f64,
}

/// The exit rules' numbers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExitConfig {
    /// Trading days held before time decay, the entry day included (7).
    pub hold_days: u32,
    /// A flip needs `sentiment_trend` below this (−0.2).
    pub flip_max_trend: f64,
    /// A flip needs `sentiment_score` below this (0.0: the crowd is net bearish).
    pub flip_max_score: f64,
    /// A flip needs at least this many mentions (distinct authors) that day (10).
    pub flip_min_mentions: u32,
    /// The monitor's time decay fires this many minutes before the 7th day's close (30).
    pub time_decay_window_minutes: i64,
}

impl Default for ExitConfig {
    fn default() -> Self {
        Self {
            hold_days: 7,
            flip_max_trend: -0.2,
            flip_max_score: 0.0,
            flip_min_mentions: 10,
            time_decay_window_minutes: 30,
        }
    }
}

/// A ticker's sentiment on one trading day, known after that day's 16:30 cutoff.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SentimentReading {
    pub trading_date: NaiveDate,
    /// Distinct authors (the `mention_count` feature).
    pub mentions: u32,
    /// The `sentiment_score` feature (mean author compound, −1..1).
    pub sentiment_score: f64,
    /// The `sentiment_trend` feature (`sentiment_score − sentiment_ma_5`).
    pub sentiment_trend: f64,
}

impl SentimentReading {
    /// The reading in a features row (missing features read as 0).
    pub fn from_features(row: &FeatureRow) -> Self {
        let get = |name| row.get(name).unwrap_or(0.0);
        Self {
            trading_date: row.date,
            mentions: get("mention_count").max(0.0) as u32,
            sentiment_score: get("sentiment_score"),
            sentiment_trend: get("sentiment_trend"),
        }
    }

    /// Did the crowd turn bearish, with enough voices to mean it?
    pub fn is_bearish_flip(&self, config: &ExitConfig) -> bool {
        self.mentions >= config.flip_min_mentions
            && self.sentiment_trend < config.flip_max_trend
            && self.sentiment_score < config.flip_max_score
    }
}

/// The day a position entered on trading day `entry_date` times out: its
/// `hold_days`-th trading day, the entry day being the 1st.
pub fn time_decay_date(entry_date: NaiveDate, config: &ExitConfig) -> NaiveDate {
    nyse::add_trading_days(entry_date, i64::from(config.hold_days.max(1)) - 1)
}

/// The close of [`time_decay_date`] (the signal's `expires_at`).
pub fn expires_at(entry_date: NaiveDate, config: &ExitConfig) -> DateTime<Utc> {
    let d = time_decay_date(entry_date, config);
    nyse::session(d)
        .map(|s| s.close)
        .unwrap_or_else(|| new_york_instant(d, nyse::CLOSE_TIME))
}

/// A flip read on an earlier trading day than `today`, after the entry (the reading
/// that justified the entry cannot close it).
fn flipped(
    position: &Position,
    sentiment: Option<&SentimentReading>,
    today: NaiveDate,
    config: &ExitConfig,
) -> bool {
    sentiment.is_some_and(|s| {
        s.trading_date >= position.entry_date && s.trading_date < today && s.is_bearish_flip(config)
    })
}

fn exit(reason: ExitReason, price: f64) -> Option<Exit> {
    Some(Exit { reason, price })
}

/// The exit of `position` on daily `bar`, if any (rules in the module docs). A bar
/// before the entry day gives None.
pub fn exit_on_bar(
    position: &Position,
    bar: &DailyBar,
    sentiment: Option<&SentimentReading>,
    config: &ExitConfig,
) -> Option<Exit> {
    if bar.date < position.entry_date {
        return None;
    }
    if bar.date > position.entry_date {
        if bar.open <= position.stop {
            return exit(ExitReason::StopLoss, bar.open);
        }
        if bar.open >= position.target {
            return exit(ExitReason::Target, bar.open);
        }
        if flipped(position, sentiment, bar.date, config) {
            return exit(ExitReason::SignalFlip, bar.open);
        }
    }
    if bar.low <= position.stop {
        return exit(ExitReason::StopLoss, position.stop);
    }
    if bar.high >= position.target {
        return exit(ExitReason::Target, position.target);
    }
    if bar.date >= time_decay_date(position.entry_date, config) {
        return exit(ExitReason::TimeDecay, bar.close);
    }
    None
}

/// The day so far, as the 15-minute monitor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct IntradayQuote {
    /// When the quote was taken.
    pub at: DateTime<Utc>,
    pub last: f64,
    /// The day's open, when the source gives it (a gap through a barrier then fills at
    /// the open; without it, at the barrier).
    pub day_open: Option<f64>,
    pub day_high: f64,
    pub day_low: f64,
}

/// The exit of `position` given today's quote so far, if any (rules in the module docs).
pub fn exit_intraday(
    position: &Position,
    quote: &IntradayQuote,
    sentiment: Option<&SentimentReading>,
    config: &ExitConfig,
) -> Option<Exit> {
    let today = new_york_date(quote.at);
    if today < position.entry_date {
        return None;
    }
    if today > position.entry_date {
        if let Some(open) = quote.day_open {
            if open <= position.stop {
                return exit(ExitReason::StopLoss, open);
            }
            if open >= position.target {
                return exit(ExitReason::Target, open);
            }
        }
        if flipped(position, sentiment, today, config) {
            return exit(ExitReason::SignalFlip, quote.last);
        }
    }
    let low = quote.day_low.min(quote.last);
    let high = quote.day_high.max(quote.last);
    if low <= position.stop {
        return exit(ExitReason::StopLoss, position.stop);
    }
    if high >= position.target {
        return exit(ExitReason::Target, position.target);
    }
    let decay = time_decay_date(position.entry_date, config);
    let due = today > decay
        || (today == decay
            && nyse::session(today).is_none_or(|s| {
                quote.at >= s.close - Duration::minutes(config.time_decay_window_minutes)
            }));
    if due {
        return exit(ExitReason::TimeDecay, quote.last);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// Entered at 100 on Monday 2021-03-29: stop 95, target 110. Good Friday 2021-04-02
    /// is a holiday, so the 7th trading day is Wednesday 2021-04-07.
    fn position() -> Position {
        Position {
            ticker: "ABC".into(),
            shares: 100,
            entry_date: day("2021-03-29"),
            entry_price: 100.05,
            entry_commission: 5.0,
            stop: 95.0,
            target: 110.0,
            mark: 100.0,
        }
    }

    fn bar(date: &str, open: f64, high: f64, low: f64, close: f64) -> DailyBar {
        DailyBar {
            date: day(date),
            open,
            high,
            low,
            close,
            adjusted_close: close,
            volume: 1_000,
        }
    }

    fn on(date: &str, ohlc: (f64, f64, f64, f64)) -> Option<Exit> {
        let b = bar(date, ohlc.0, ohlc.1, ohlc.2, ohlc.3);
        exit_on_bar(&position(), &b, None, &ExitConfig::default())
    }

    fn exit_at(reason: ExitReason, price: f64) -> Option<Exit> {
        Some(Exit { reason, price })
    }

    const QUIET: (f64, f64, f64, f64) = (100.0, 102.0, 98.0, 101.0);

    #[test]
    fn exits_reasons_use_the_seed_strings() {
        let names: Vec<String> = ExitReason::ALL
            .iter()
            .map(|r| serde_json::to_string(r).unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "\"target\"",
                "\"stop_loss\"",
                "\"signal_flip\"",
                "\"time_decay\""
            ]
        );
        for r in ExitReason::ALL {
            assert_eq!(r.to_string().parse::<ExitReason>(), Ok(r));
        }
        assert!("stop".parse::<ExitReason>().is_err());
    }

    #[test]
    fn exits_stop_and_target_touched_exactly() {
        assert_eq!(on("2021-03-30", QUIET), None);
        assert_eq!(
            on("2021-03-30", (100.0, 101.0, 95.0, 96.0)),
            exit_at(ExitReason::StopLoss, 95.0)
        );
        assert_eq!(
            on("2021-03-30", (100.0, 110.0, 99.0, 109.0)),
            exit_at(ExitReason::Target, 110.0)
        );
        assert_eq!(on("2021-03-30", (100.0, 109.99, 95.01, 100.0)), None);
    }

    #[test]
    fn exits_same_bar_stop_and_target_is_the_stop() {
        assert_eq!(
            on("2021-03-30", (100.0, 115.0, 90.0, 112.0)),
            exit_at(ExitReason::StopLoss, 95.0)
        );
        // On the entry day too.
        assert_eq!(
            on("2021-03-29", (100.0, 115.0, 90.0, 112.0)),
            exit_at(ExitReason::StopLoss, 95.0)
        );
    }

    #[test]
    fn exits_gaps_fill_at_the_open() {
        // Opens at 90 below the 95 stop, then rallies past the target: stop at 90.
        assert_eq!(
            on("2021-03-31", (90.0, 112.0, 89.0, 111.0)),
            exit_at(ExitReason::StopLoss, 90.0)
        );
        // Opens at 112 above the target, then collapses: target at 112.
        assert_eq!(
            on("2021-03-31", (112.0, 113.0, 90.0, 91.0)),
            exit_at(ExitReason::Target, 112.0)
        );
        // The entry day's open is the fill, not a gap.
        assert_eq!(
            on("2021-03-29", (90.0, 91.0, 89.0, 90.0)),
            exit_at(ExitReason::StopLoss, 95.0)
        );
    }

    #[test]
    fn exits_time_decay_on_the_7th_trading_day_across_a_holiday() {
        let c = ExitConfig::default();
        assert_eq!(time_decay_date(day("2021-03-29"), &c), day("2021-04-07"));
        assert_eq!(on("2021-04-06", QUIET), None, "6th trading day");
        assert_eq!(
            on("2021-04-07", QUIET),
            exit_at(ExitReason::TimeDecay, 101.0),
            "7th trading day (Good Friday skipped): out at the close"
        );
        // A barrier on the 7th day still wins over time decay.
        assert_eq!(
            on("2021-04-07", (100.0, 111.0, 99.0, 105.0)),
            exit_at(ExitReason::Target, 110.0)
        );
        // A missing bar (halt): the first bar after the date times out.
        assert_eq!(
            on("2021-04-08", QUIET),
            exit_at(ExitReason::TimeDecay, 101.0)
        );
        assert_eq!(on("2021-03-26", QUIET), None, "before the entry");
        assert_eq!(
            expires_at(day("2021-03-29"), &c).to_rfc3339(),
            "2021-04-07T20:00:00+00:00"
        );
    }

    fn reading(date: &str, mentions: u32, score: f64, trend: f64) -> SentimentReading {
        SentimentReading {
            trading_date: day(date),
            mentions,
            sentiment_score: score,
            sentiment_trend: trend,
        }
    }

    fn with_sentiment(date: &str, ohlc: (f64, f64, f64, f64), s: SentimentReading) -> Option<Exit> {
        let b = bar(date, ohlc.0, ohlc.1, ohlc.2, ohlc.3);
        exit_on_bar(&position(), &b, Some(&s), &ExitConfig::default())
    }

    #[test]
    fn exits_signal_flip_thresholds() {
        let c = ExitConfig::default();
        assert!(reading("2021-03-30", 10, -0.05, -0.21).is_bearish_flip(&c));
        assert!(
            !reading("2021-03-30", 9, -0.05, -0.21).is_bearish_flip(&c),
            "mentions"
        );
        assert!(
            !reading("2021-03-30", 10, -0.05, -0.2).is_bearish_flip(&c),
            "trend"
        );
        assert!(
            !reading("2021-03-30", 10, 0.0, -0.3).is_bearish_flip(&c),
            "score"
        );
    }

    #[test]
    fn exits_signal_flip_closes_at_the_next_open() {
        let flip = reading("2021-03-30", 25, -0.3, -0.5);
        assert_eq!(
            with_sentiment("2021-03-31", QUIET, flip),
            exit_at(ExitReason::SignalFlip, 100.0)
        );
        // Not on the reading's own day (known only after its 16:30 cutoff).
        assert_eq!(with_sentiment("2021-03-30", QUIET, flip), None);
        // Not from before the entry (the signal day's sentiment made the entry).
        let old = reading("2021-03-26", 25, -0.3, -0.5);
        assert_eq!(with_sentiment("2021-03-31", QUIET, old), None);
        // A gap through the stop at the same open is the stop.
        assert_eq!(
            with_sentiment("2021-03-31", (94.0, 96.0, 93.0, 95.0), flip),
            exit_at(ExitReason::StopLoss, 94.0)
        );
    }

    #[test]
    fn exits_sentiment_reading_from_a_features_row() {
        use crate::core::features::FEATURE_SCHEMA;
        let mut values = vec![0.0; FEATURE_SCHEMA.len()];
        let set = |v: &mut Vec<f64>, name, x| v[FEATURE_SCHEMA.index_of(name).unwrap()] = x;
        set(&mut values, "mention_count", 12.0);
        set(&mut values, "sentiment_score", -0.1);
        set(&mut values, "sentiment_trend", -0.25);
        let row = FeatureRow {
            ticker: "ABC".into(),
            date: day("2021-03-30"),
            values,
        };
        assert_eq!(
            SentimentReading::from_features(&row),
            reading("2021-03-30", 12, -0.1, -0.25)
        );
    }

    fn quote(at: &str, last: f64, open: Option<f64>, high: f64, low: f64) -> IntradayQuote {
        IntradayQuote {
            at: at.parse().unwrap(),
            last,
            day_open: open,
            day_high: high,
            day_low: low,
        }
    }

    fn intraday(q: IntradayQuote) -> Option<Exit> {
        exit_intraday(&position(), &q, None, &ExitConfig::default())
    }

    #[test]
    fn exits_intraday_barriers() {
        // 2021-03-30 15:00 UTC = 11:00 EDT.
        let t = "2021-03-30T15:00:00Z";
        assert_eq!(intraday(quote(t, 100.0, Some(100.0), 102.0, 98.0)), None);
        assert_eq!(
            intraday(quote(t, 97.0, Some(100.0), 102.0, 94.5)),
            exit_at(ExitReason::StopLoss, 95.0)
        );
        assert_eq!(
            intraday(quote(t, 108.0, Some(100.0), 110.5, 99.0)),
            exit_at(ExitReason::Target, 110.0)
        );
        // Both touched today: the stop.
        assert_eq!(
            intraday(quote(t, 100.0, Some(100.0), 111.0, 94.0)),
            exit_at(ExitReason::StopLoss, 95.0)
        );
        // A gap at the open fills at the open; without the open, at the barrier.
        assert_eq!(
            intraday(quote(t, 93.0, Some(92.0), 94.0, 91.0)),
            exit_at(ExitReason::StopLoss, 92.0)
        );
        assert_eq!(
            intraday(quote(t, 93.0, None, 94.0, 91.0)),
            exit_at(ExitReason::StopLoss, 95.0)
        );
        // The last price counts even if the day's low lags it.
        assert_eq!(
            intraday(quote(t, 94.0, Some(100.0), 101.0, 96.0)),
            exit_at(ExitReason::StopLoss, 95.0)
        );
    }

    #[test]
    fn exits_intraday_time_decay_in_the_last_half_hour_of_the_7th_day() {
        // 2021-04-07 (EDT): close 20:00 UTC, window from 19:30 UTC.
        assert_eq!(
            intraday(quote("2021-04-07T19:29:00Z", 101.0, None, 102.0, 99.0)),
            None
        );
        assert_eq!(
            intraday(quote("2021-04-07T19:30:00Z", 101.0, None, 102.0, 99.0)),
            exit_at(ExitReason::TimeDecay, 101.0)
        );
        // Missed the window (monitor down): any time the next day.
        assert_eq!(
            intraday(quote("2021-04-08T14:00:00Z", 100.5, None, 102.0, 99.0)),
            exit_at(ExitReason::TimeDecay, 100.5)
        );
        // An early close moves the window: entered 2020-11-18, 7th day Friday 11-27
        // (Thanksgiving skipped), closing 13:00 EST = 18:00 UTC.
        let p = Position {
            entry_date: day("2020-11-18"),
            ..position()
        };
        let c = ExitConfig::default();
        let at = |t| exit_intraday(&p, &quote(t, 100.0, None, 101.0, 99.0), None, &c);
        assert_eq!(at("2020-11-27T17:29:00Z"), None);
        assert_eq!(
            at("2020-11-27T17:30:00Z"),
            exit_at(ExitReason::TimeDecay, 100.0)
        );
    }

    #[test]
    fn exits_intraday_flip_sells_at_the_last_price() {
        let flip = reading("2021-03-30", 25, -0.3, -0.5);
        let q = quote("2021-03-31T14:00:00Z", 99.0, Some(100.0), 100.5, 98.5);
        assert_eq!(
            exit_intraday(&position(), &q, Some(&flip), &ExitConfig::default()),
            exit_at(ExitReason::SignalFlip, 99.0)
        );
        let same_day = quote("2021-03-30T19:00:00Z", 99.0, Some(100.0), 100.5, 98.5);
        assert_eq!(
            exit_intraday(&position(), &same_day, Some(&flip), &ExitConfig::default()),
            None
        );
    }
}
