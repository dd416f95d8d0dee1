//! When an open long position closes, and at what price: one decision, [`decide_exit`],
//! for the backtester, the live monitor and the training labels.
//!
//! [`decide_exit`] judges "the bar so far" ([`BarSoFar`]: the trading day's open if known,
//! high, low, last price, and whether the bar is final or a live quote at some instant).
//! [`exit_on_bar`] (a completed daily bar: the backtester, generate-signals' settling) and
//! [`exit_intraday`] (the 15-minute monitor's quote) are thin wrappers over it, and
//! [`simulate_long_trade`] walks one signal's trade over a ticker's bars with it (the
//! labels of `features::labels`). First match wins:
//!
//! 1. **Gap at the open**, from the day after the entry day on (on the entry day the
//!    open is the fill): an open at or below the stop is a gap through it (`stop_loss`
//!    at the open); at or above the target a gap through it (`target` at the open). A
//!    live quote without the day's open skips this (the range then fills at the barrier).
//! 2. **Sentiment flip**, from the day after the entry day on: the latest reading dated
//!    on an *earlier* trading day than today (known after its 16:30 cutoff) and not
//!    before the entry day (the signal day's reading justified the entry) is a bearish
//!    flip → `signal_flip` at market: the open for a final bar (the position is sold as
//!    the session opens), the last price live (the monitor sells when it sees it).
//! 3. **The range**: low (or the last price) at or below the stop → `stop_loss` at the
//!    stop price, **also when the high reached the target the same day** (daily bars
//!    cannot order them: the conservative reading); else high (or last) at or above the
//!    target → `target` at the target price. Touching counts.
//! 4. **Time decay** on the [`ExitConfig::hold_days`]-th NYSE trading day of the hold,
//!    the entry day being the 1st ([`time_decay_date`], holidays skipped): `time_decay`
//!    at the last price (the close of a final bar); live, from
//!    [`ExitConfig::time_decay_window_minutes`] before that session's close. A day after
//!    it (the 7th day had no bar: a halt; or the monitor missed its window) times out at
//!    once.
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
use super::portfolio::{Costs, Position};
use super::risk::{price_levels, RiskConfig};
use super::DailyBar;

/// Why a position closed; serialised as the seed's `exit_reason` strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExitReason {
    Target,
    StopLoss,
    SignalFlip,
    TimeDecay,
    /// A trader asked for the close (`POST /v1/positions/{id}/close`): live only, at the
    /// monitor's next quote. No rule produces it, so the backtester never does.
    Manual,
}

impl ExitReason {
    /// The exits the rules produce (the backtester's breakdowns, the labels).
    pub const ALL: [ExitReason; 4] = [
        ExitReason::Target,
        ExitReason::StopLoss,
        ExitReason::SignalFlip,
        ExitReason::TimeDecay,
    ];

    /// 'target', 'stop_loss', 'signal_flip', 'time_decay' or 'manual'.
    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Target => "target",
            ExitReason::StopLoss => "stop_loss",
            ExitReason::SignalFlip => "signal_flip",
            ExitReason::TimeDecay => "time_decay",
            ExitReason::Manual => "manual",
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
            .chain([ExitReason::Manual])
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

/// The levels an open long trade exits at, and when it entered.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ExitLevels {
    /// The trading day of the fill (day 1 of the hold).
    pub entry_date: NaiveDate,
    /// Stop-loss price (market price, before slippage).
    pub stop: f64,
    /// Profit-target price.
    pub target: f64,
}

impl From<&Position> for ExitLevels {
    fn from(p: &Position) -> Self {
        Self {
            entry_date: p.entry_date,
            stop: p.stop,
            target: p.target,
        }
    }
}

/// How far a [`BarSoFar`] has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BarProgress {
    /// The session is over: `last` is the close. Market exits (the flip) fill at the
    /// open, where a trader acting on a reading known before the session would sell;
    /// time decay fires on its day.
    Final,
    /// A live quote taken at this instant: market exits fill at `last`; time decay fires
    /// only in the last [`ExitConfig::time_decay_window_minutes`] of its day.
    Live(DateTime<Utc>),
}

/// One trading day's price action so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BarSoFar {
    /// The New York trading date.
    pub date: NaiveDate,
    /// The session's open, when known (always on a daily bar).
    pub open: Option<f64>,
    pub high: f64,
    pub low: f64,
    /// The last price (the close of a final bar).
    pub last: f64,
    pub progress: BarProgress,
}

impl BarSoFar {
    /// A completed daily bar.
    pub fn final_bar(bar: &DailyBar) -> Self {
        Self {
            date: bar.date,
            open: Some(bar.open),
            high: bar.high,
            low: bar.low,
            last: bar.close,
            progress: BarProgress::Final,
        }
    }

    /// The monitor's quote, dated by its New York date.
    pub fn live(quote: &IntradayQuote) -> Self {
        Self {
            date: new_york_date(quote.at),
            open: quote.day_open,
            high: quote.day_high,
            low: quote.day_low,
            last: quote.last,
            progress: BarProgress::Live(quote.at),
        }
    }
}

/// A flip read on an earlier trading day than `today`, not before the entry (the reading
/// that justified the entry cannot close it).
fn flipped(
    levels: &ExitLevels,
    sentiment: Option<&SentimentReading>,
    today: NaiveDate,
    config: &ExitConfig,
) -> bool {
    sentiment.is_some_and(|s| {
        s.trading_date >= levels.entry_date && s.trading_date < today && s.is_bearish_flip(config)
    })
}

fn exit(reason: ExitReason, price: f64) -> Option<Exit> {
    Some(Exit { reason, price })
}

/// The one exit decision (rules and their order in the module docs): does the trade at
/// `levels` close on `bar` so far, given the latest `sentiment` reading known, and at
/// what market price? A bar before the entry day gives None.
pub fn decide_exit(
    levels: &ExitLevels,
    bar: &BarSoFar,
    sentiment: Option<&SentimentReading>,
    config: &ExitConfig,
) -> Option<Exit> {
    let today = bar.date;
    if today < levels.entry_date {
        return None;
    }
    // 1. and 2.: the open and what was known before it, from the second day on.
    if today > levels.entry_date {
        if let Some(open) = bar.open {
            if open <= levels.stop {
                return exit(ExitReason::StopLoss, open);
            }
            if open >= levels.target {
                return exit(ExitReason::Target, open);
            }
        }
        if flipped(levels, sentiment, today, config) {
            let at_market = match bar.progress {
                BarProgress::Final => bar.open.unwrap_or(bar.last),
                BarProgress::Live(_) => bar.last,
            };
            return exit(ExitReason::SignalFlip, at_market);
        }
    }
    // 3. The range (the last price counts even if the day's low or high lags it).
    if bar.low.min(bar.last) <= levels.stop {
        return exit(ExitReason::StopLoss, levels.stop);
    }
    if bar.high.max(bar.last) >= levels.target {
        return exit(ExitReason::Target, levels.target);
    }
    // 4. Time decay.
    let decay = time_decay_date(levels.entry_date, config);
    let due = today > decay
        || (today == decay
            && match bar.progress {
                BarProgress::Final => true,
                BarProgress::Live(at) => nyse::session(today).is_none_or(|s| {
                    at >= s.close - Duration::minutes(config.time_decay_window_minutes)
                }),
            });
    if due {
        return exit(ExitReason::TimeDecay, bar.last);
    }
    None
}

/// The exit of `position` on daily `bar`, if any: [`decide_exit`] on the final bar (the
/// backtester, and generate-signals settling stored bars).
pub fn exit_on_bar(
    position: &Position,
    bar: &DailyBar,
    sentiment: Option<&SentimentReading>,
    config: &ExitConfig,
) -> Option<Exit> {
    decide_exit(
        &ExitLevels::from(position),
        &BarSoFar::final_bar(bar),
        sentiment,
        config,
    )
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

/// The exit of `position` given today's quote so far, if any: [`decide_exit`] on the
/// live bar (the monitor).
pub fn exit_intraday(
    position: &Position,
    quote: &IntradayQuote,
    sentiment: Option<&SentimentReading>,
    config: &ExitConfig,
) -> Option<Exit> {
    decide_exit(
        &ExitLevels::from(position),
        &BarSoFar::live(quote),
        sentiment,
        config,
    )
}

/// Everything a long trade's outcome depends on besides prices and sentiment: the risk
/// manager's stop/target rule, the exit rules and the costs (the backtester's and the
/// live system's defaults). It is also the training labels' definition.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct TradeRules {
    pub risk: RiskConfig,
    pub exits: ExitConfig,
    pub costs: Costs,
}

/// How the trade of one signal played out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TradeOutcome {
    /// The signal day (entry at the next trading day's open).
    pub signal_date: NaiveDate,
    pub entry_date: NaiveDate,
    /// The entry day's open (market price, before slippage).
    pub entry_price: f64,
    /// Stop distance below the entry, as a fraction (`risk::price_levels`).
    pub stop_pct: f64,
    /// Target distance above the entry, as a fraction.
    pub target_pct: f64,
    pub stop: f64,
    pub target: f64,
    pub reason: ExitReason,
    pub exit_date: NaiveDate,
    /// Market exit price, before slippage.
    pub exit_price: f64,
    /// Trading days from entry to exit, both counted (as `ClosedTrade::trading_days_held`).
    pub days_held: i64,
    /// `exit_price / entry_price − 1`, before costs.
    pub gross_return: f64,
    /// The return on the cash put in, slippage and both commissions included: what
    /// `PortfolioState` books as `ClosedTrade::return_pct` for these prices.
    pub net_return: f64,
}

/// Net return of a round trip bought at market `entry` and sold at market `exit`, as
/// `PortfolioState::open` + `close` book it (one share; the share count cancels).
pub fn net_return(entry: f64, exit: f64, costs: &Costs) -> f64 {
    let paid = costs.buy_price(entry);
    let cost_basis = paid + costs.commission(paid);
    let received = costs.sell_price(exit);
    let pnl = received - costs.commission(received) - cost_basis;
    pnl / cost_basis
}

/// The long trade of the signal after the close of `bars[signal]`, walked with
/// [`decide_exit`] exactly as the backtester trades it:
/// - entry at the open of `bars[signal + 1]`, which must be the next NYSE trading day
///   (otherwise the backtester misses the entry: None);
/// - stop and target from `risk::price_levels(entry, volatility_20d)`, `volatility_20d`
///   being the signal day's feature: the plan's distances re-based on the fill, the
///   very prices `PortfolioState::open` sets;
/// - each bar from the entry day on is a final bar, with the latest reading in
///   `sentiment` dated before it (`sentiment` sorted by date, e.g. one per feature row:
///   [`SentimentReading::from_features`]);
/// - None unless the bars reach the time-decay day ([`time_decay_date`]): the last
///   signals of a series have no outcome yet, even those that would exit early, so the
///   outcome of a signal never depends on how far the data reach.
pub fn simulate_long_trade(
    bars: &[DailyBar],
    signal: usize,
    volatility_20d: f64,
    sentiment: &[SentimentReading],
    rules: &TradeRules,
) -> Option<TradeOutcome> {
    let signal_bar = bars.get(signal)?;
    let entry_bar = bars.get(signal + 1)?;
    if entry_bar.date != nyse::next_trading_day(signal_bar.date) {
        return None;
    }
    let entry = entry_bar.open;
    if !(entry > 0.0 && entry.is_finite()) {
        return None;
    }
    let decay = time_decay_date(entry_bar.date, &rules.exits);
    if bars.last()?.date < decay {
        return None;
    }
    let plan = price_levels(entry, volatility_20d, &rules.risk);
    let levels = ExitLevels {
        entry_date: entry_bar.date,
        stop: plan.stop,
        target: plan.target,
    };
    let mut known = sentiment.partition_point(|s| s.trading_date < entry_bar.date);
    for bar in &bars[signal + 1..] {
        while known < sentiment.len() && sentiment[known].trading_date < bar.date {
            known += 1;
        }
        let reading = known.checked_sub(1).map(|k| &sentiment[k]);
        let Some(exit) = decide_exit(&levels, &BarSoFar::final_bar(bar), reading, &rules.exits)
        else {
            continue;
        };
        return Some(TradeOutcome {
            signal_date: signal_bar.date,
            entry_date: entry_bar.date,
            entry_price: entry,
            stop_pct: plan.stop_pct,
            target_pct: plan.target_pct,
            stop: plan.stop,
            target: plan.target,
            reason: exit.reason,
            exit_date: bar.date,
            exit_price: exit.price,
            days_held: nyse::trading_days_between(entry_bar.date, bar.date) + 1,
            gross_return: exit.price / entry - 1.0,
            net_return: net_return(entry, exit.price, &rules.costs),
        });
    }
    None // unreachable: a final bar on or after the decay day always exits
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

    // ---- simulate_long_trade: the labeller's walk, with the risk manager's levels ----

    type Ohlc = (f64, f64, f64, f64);
    const FLAT: Ohlc = (100.0, 101.0, 99.0, 100.0);
    /// σ = 3 %: stop 5 %, target 10 % (the risk manager's widest levels).
    const WIDE: f64 = 0.03;

    /// Bars on consecutive NYSE trading days from `start`.
    fn series(start: &str, ohlc: &[Ohlc]) -> Vec<DailyBar> {
        ohlc.iter()
            .enumerate()
            .map(|(i, &(o, h, l, c))| {
                let d = nyse::add_trading_days(day(start), i as i64);
                bar(&d.to_string(), o, h, l, c)
            })
            .collect()
    }

    /// Signal on Friday 2021-03-26, entry Monday 03-29 at 100, then `rest`, padded flat
    /// to the 7th trading day (Wednesday 04-07: Good Friday 04-02 is skipped).
    fn week(rest: &[Ohlc]) -> Vec<DailyBar> {
        let mut ohlc = vec![FLAT, FLAT];
        ohlc.extend_from_slice(rest);
        while ohlc.len() < 8 {
            ohlc.push(FLAT);
        }
        series("2021-03-26", &ohlc)
    }

    fn simulate(bars: &[DailyBar], sentiment: &[SentimentReading]) -> Option<TradeOutcome> {
        simulate_long_trade(bars, 0, WIDE, sentiment, &TradeRules::default())
    }

    fn outcome(rest: &[Ohlc]) -> (ExitReason, f64, NaiveDate, i64) {
        let t = simulate(&week(rest), &[]).expect("a full horizon");
        (t.reason, t.exit_price, t.exit_date, t.days_held)
    }

    #[test]
    fn simulate_gap_down_through_the_stop_fills_at_the_open() {
        // Day 2 opens at 90 under the 95 stop and rallies past the target: out at 90.
        assert_eq!(
            outcome(&[(90.0, 112.0, 89.0, 111.0)]),
            (ExitReason::StopLoss, 90.0, day("2021-03-30"), 2)
        );
    }

    #[test]
    fn simulate_gap_up_through_the_target_fills_at_the_open() {
        assert_eq!(
            outcome(&[FLAT, (112.0, 113.0, 90.0, 91.0)]),
            (ExitReason::Target, 112.0, day("2021-03-31"), 3)
        );
    }

    #[test]
    fn simulate_a_tied_bar_is_the_stop() {
        assert_eq!(
            outcome(&[(100.0, 115.0, 90.0, 112.0)]),
            (ExitReason::StopLoss, 95.0, day("2021-03-30"), 2)
        );
        // On the entry day itself too (its open is the fill, not a gap).
        let mut ohlc = vec![FLAT, (100.0, 115.0, 90.0, 112.0)];
        ohlc.extend([FLAT; 6]);
        let t = simulate(&series("2021-03-26", &ohlc), &[]).unwrap();
        assert_eq!(
            (t.reason, t.exit_price, t.days_held),
            (ExitReason::StopLoss, 95.0, 1)
        );
    }

    #[test]
    fn simulate_stop_only_and_target_only() {
        assert_eq!(
            outcome(&[FLAT, (99.0, 99.5, 94.0, 96.0)]),
            (ExitReason::StopLoss, 95.0, day("2021-03-31"), 3)
        );
        let t = simulate(&week(&[FLAT, FLAT, (101.0, 111.0, 100.0, 110.5)]), &[]).unwrap();
        assert_eq!(
            (t.reason, t.exit_price, t.exit_date),
            (ExitReason::Target, 100.0 * (1.0 + 0.10), day("2021-04-01"))
        );
        assert_eq!((t.stop_pct, t.target_pct), (0.05, 0.10));
    }

    #[test]
    fn simulate_levels_come_from_the_risk_manager_on_the_entry_open() {
        // σ = 1 %: stop 2 %, target 5 %, around the entry open 50 (not the signal
        // close 100): stop 49, target 52.5.
        let mut ohlc = vec![FLAT, (50.0, 50.5, 49.5, 50.0)];
        ohlc.extend([(50.0, 51.0, 49.2, 50.5); 6]);
        ohlc[4] = (50.5, 52.6, 50.0, 52.0);
        let bars = series("2021-03-26", &ohlc);
        let t = simulate_long_trade(&bars, 0, 0.01, &[], &TradeRules::default()).unwrap();
        let levels = price_levels(50.0, 0.01, &RiskConfig::default());
        assert_eq!((t.stop, t.target), (levels.stop, levels.target));
        assert_eq!((t.stop_pct, t.target_pct), (0.02, 0.05));
        assert_eq!(
            (t.reason, t.exit_price),
            (ExitReason::Target, levels.target)
        );
        assert_eq!(t.exit_date, bars[4].date);
    }

    fn flip_on(date: &str) -> SentimentReading {
        reading(date, 40, -0.4, -0.6)
    }

    #[test]
    fn simulate_a_flip_read_on_an_earlier_day_exits_at_the_next_open() {
        // Read on Tuesday 03-30's evening: out at Wednesday's open (99.0).
        let bars = week(&[FLAT, (99.0, 100.0, 98.0, 99.5)]);
        let t = simulate(&bars, &[flip_on("2021-03-30")]).unwrap();
        assert_eq!(
            (t.reason, t.exit_price, t.exit_date, t.days_held),
            (ExitReason::SignalFlip, 99.0, day("2021-03-31"), 3)
        );
    }

    #[test]
    fn simulate_a_flip_on_the_entry_days_evening_counts_from_the_next_day() {
        let bars = week(&[(100.5, 101.0, 99.0, 100.0)]);
        let t = simulate(&bars, &[flip_on("2021-03-29")]).unwrap();
        assert_eq!(
            (t.reason, t.exit_price, t.exit_date, t.days_held),
            (ExitReason::SignalFlip, 100.5, day("2021-03-30"), 2)
        );
    }

    #[test]
    fn simulate_a_flip_on_the_signal_day_does_not_close() {
        // The signal day's reading is what the entry was made on.
        let t = simulate(&week(&[]), &[flip_on("2021-03-26")]).unwrap();
        assert_eq!(t.reason, ExitReason::TimeDecay);
        // A later, milder reading replaces it: still no flip.
        let mild = reading("2021-03-30", 40, 0.1, -0.6);
        let t = simulate(&week(&[]), &[flip_on("2021-03-26"), mild]).unwrap();
        assert_eq!(t.reason, ExitReason::TimeDecay);
    }

    #[test]
    fn simulate_time_decay_on_exactly_the_7th_trading_day_across_a_holiday() {
        let bars = week(&[]);
        assert_eq!(bars[7].date, day("2021-04-07"), "Good Friday skipped");
        let t = simulate(&bars, &[]).unwrap();
        assert_eq!(
            (t.reason, t.exit_price, t.exit_date, t.days_held),
            (ExitReason::TimeDecay, 100.0, day("2021-04-07"), 7)
        );
        assert_eq!(t.gross_return, 0.0);
        assert!(t.net_return < -0.0019 && t.net_return > -0.0021, "{t:?}");
        // A halt on the 7th day: out at the close of the first bar after it.
        let mut halted = series("2021-03-26", &[FLAT; 9]);
        halted.remove(7);
        halted[7].close = 98.0;
        let t = simulate(&halted, &[]).unwrap();
        assert_eq!(
            (t.reason, t.exit_price, t.exit_date, t.days_held),
            (ExitReason::TimeDecay, 98.0, day("2021-04-08"), 8)
        );
    }

    #[test]
    fn simulate_an_incomplete_horizon_is_none() {
        let bars = week(&[]);
        assert_eq!(simulate(&bars[..7], &[]), None, "no bar on the 7th day yet");
        // Even an exit inside the bars at hand waits for the full horizon.
        let stopped = week(&[(100.0, 101.0, 90.0, 91.0)]);
        assert!(simulate(&stopped, &[]).is_some());
        assert_eq!(simulate(&stopped[..7], &[]), None);
        // No entry bar, or one that is not the next trading day (a halt: the backtester
        // misses the entry).
        assert_eq!(simulate(&bars[..1], &[]), None);
        let mut gap = bars.clone();
        gap.remove(1);
        gap.push(bar("2021-04-08", 100.0, 101.0, 99.0, 100.0));
        assert_eq!(simulate(&gap, &[]), None);
        assert_eq!(
            simulate_long_trade(&bars, 99, WIDE, &[], &TradeRules::default()),
            None
        );
    }

    #[test]
    fn simulate_net_return_is_what_the_portfolio_books() {
        use crate::core::portfolio::PortfolioState;
        use crate::core::risk::test_plan;
        let costs = Costs::default();
        for (rest, reason) in [
            (vec![(100.0, 111.0, 99.0, 110.0)], ExitReason::Target),
            (vec![(93.0, 94.0, 92.0, 93.5)], ExitReason::StopLoss),
            (vec![], ExitReason::TimeDecay),
        ] {
            let mut ohlc = vec![FLAT, (100.37, 101.0, 99.5, 100.2)];
            ohlc.extend(rest);
            while ohlc.len() < 8 {
                ohlc.push((100.1, 101.0, 99.5, 100.9));
            }
            let bars = series("2021-03-26", &ohlc);
            let t = simulate(&bars, &[]).unwrap();
            assert_eq!(t.reason, reason);
            let mut book = PortfolioState::new(10_000.0);
            let plan = test_plan("ABC", 1, t.stop_pct, t.target_pct);
            let position = book
                .open(&plan, t.entry_price, t.entry_date, &costs)
                .unwrap();
            assert_eq!((position.stop, position.target), (t.stop, t.target));
            let closed = book
                .close("ABC", t.exit_price, t.exit_date, t.reason, &costs)
                .unwrap();
            assert_eq!(closed.return_pct, t.net_return, "{reason}");
            assert_eq!(closed.trading_days_held, t.days_held);
            assert!(t.net_return < t.gross_return);
        }
        assert!((net_return(100.0, 110.0, &Costs::ZERO) - 0.10).abs() < 1e-15);
    }

    /// A deterministic wandering series with gaps, wide ranges and a holiday or two.
    fn random_walk(n: usize) -> Vec<DailyBar> {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 10_000) as f64 / 10_000.0
        };
        let mut close: f64 = 50.0;
        let ohlc: Vec<Ohlc> = (0..n)
            .map(|_| {
                let open = close * (1.0 + (next() - 0.5) * 0.08);
                let c = open * (1.0 + (next() - 0.5) * 0.08);
                let high = open.max(c) * (1.0 + next() * 0.04);
                let low = open.min(c) * (1.0 - next() * 0.04);
                close = c;
                (open, high, low, c)
            })
            .collect();
        series("2020-11-02", &ohlc)
    }

    #[test]
    fn exits_labeller_backtester_and_monitor_agree_on_the_same_bars() {
        use crate::core::calendar::new_york_instant;
        use crate::core::features::Label;
        use crate::core::portfolio::PortfolioState;
        use crate::core::risk::{evaluate, Candidate, Decision};
        let bars = random_walk(120);
        // A bearish reading now and then (some flips), otherwise calm.
        let readings: Vec<SentimentReading> = bars
            .iter()
            .enumerate()
            .map(|(k, b)| {
                let flip = k % 11 == 5;
                SentimentReading {
                    trading_date: b.date,
                    mentions: if flip { 30 } else { 3 },
                    sentiment_score: if flip { -0.3 } else { 0.1 },
                    sentiment_trend: if flip { -0.5 } else { 0.0 },
                }
            })
            .collect();
        let rules = TradeRules::default();
        let sigma = |i: usize| [0.004, 0.012, 0.02, 0.03][i % 4];
        let mut reasons = std::collections::HashSet::new();
        for i in 0..bars.len() {
            let label = simulate_long_trade(&bars, i, sigma(i), &readings, &rules);
            if i + 7 >= bars.len() {
                assert_eq!(label, None, "bar {i}: incomplete horizon");
                continue;
            }
            let label = label.unwrap_or_else(|| panic!("bar {i}: a full horizon"));
            reasons.insert(label.reason);

            // The backtester: the risk manager's plan, filled at the next open, then
            // exit_on_bar with the previous bar's reading, closed with costs.
            let candidate = Candidate {
                ticker: "ABC".into(),
                date: bars[i].date,
                entry_price: bars[i].close,
                confidence: 0.9,
                predicted: Label::Buy,
                volatility_20d: sigma(i),
                expected_return: None,
            };
            let Decision::Accept(plan) =
                evaluate(&candidate, &PortfolioState::new(100_000.0), &rules.risk)
            else {
                panic!("bar {i}: refused");
            };
            let mut book = PortfolioState::new(100_000.0);
            let position = book
                .open(&plan, bars[i + 1].open, bars[i + 1].date, &rules.costs)
                .unwrap()
                .clone();
            assert_eq!((position.stop, position.target), (label.stop, label.target));
            let (j, backtest) = (i + 1..bars.len())
                .find_map(|j| {
                    exit_on_bar(&position, &bars[j], Some(&readings[j - 1]), &rules.exits)
                        .map(|e| (j, e))
                })
                .unwrap();
            assert_eq!(
                (backtest.reason, backtest.price, bars[j].date),
                (label.reason, label.exit_price, label.exit_date),
                "bar {i}: labeller vs backtester"
            );
            let closed = book
                .close(
                    "ABC",
                    backtest.price,
                    bars[j].date,
                    backtest.reason,
                    &rules.costs,
                )
                .unwrap();
            assert!(
                (closed.return_pct - label.net_return).abs() < 1e-12,
                "bar {i}: {} shares",
                closed.shares
            );

            // The monitor, on each day's final quote (15:59 New York).
            let (k, monitor) = (i + 1..bars.len())
                .find_map(|k| {
                    let b = &bars[k];
                    let at = new_york_instant(
                        b.date,
                        chrono::NaiveTime::from_hms_opt(15, 59, 0).unwrap(),
                    );
                    let q = IntradayQuote {
                        at,
                        last: b.close,
                        day_open: Some(b.open),
                        day_high: b.high,
                        day_low: b.low,
                    };
                    exit_intraday(&position, &q, Some(&readings[k - 1]), &rules.exits)
                        .map(|e| (k, e))
                })
                .unwrap();
            assert_eq!(
                (monitor.reason, bars[k].date),
                (label.reason, label.exit_date),
                "bar {i}: labeller vs monitor"
            );
            // A flip sells at market: the open on a completed bar, the monitor's last
            // price live (here the close). Every other exit has one price.
            let expected = if label.reason == ExitReason::SignalFlip {
                bars[k].close
            } else {
                label.exit_price
            };
            assert_eq!(monitor.price, expected, "bar {i}");
        }
        assert_eq!(
            reasons.len(),
            4,
            "every exit reason is exercised: {reasons:?}"
        );
    }
}
