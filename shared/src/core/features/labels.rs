//! Training labels = the exits: what the long trade of each bar's signal did when traded
//! exactly as the backtester and the live system trade it.
//!
//! For bar i (signal day D), [`crate::core::exits::simulate_long_trade`] enters at the
//! next trading day's open, puts the stop and target where the risk manager does
//! (`risk::price_levels` from D's `volatility_20d`: stop 2-5 %, target 2 × stop within
//! 5-10 %), and walks the bars with the one exit decision the backtester and the monitor
//! use (gaps at the open, the point-in-time sentiment flip, stop first on a tied bar,
//! time decay on the 7th NYSE trading day). The exit reason is the class:
//!
//! | class | index | exit |
//! |---|---|---|
//! | SELL | 0 | `stop_loss` (in the range or a gap through it) |
//! | HOLD | 1 | `time_decay` or `signal_flip` (an exit at market, neither barrier) |
//! | BUY | 2 | `target` (in the range or a gap through it) |
//!
//! The label of bar i reads the bars after D up to the time-decay day and nothing else;
//! it is `None` where the bars do not reach that day (the future is never guessed) or
//! where the next trading day has no bar (the backtester would miss the entry).

use serde::{Deserialize, Serialize};

use super::{FeatureRow, FEATURE_SCHEMA};
use crate::core::exits::{
    simulate_long_trade, ExitReason, SentimentReading, TradeOutcome, TradeRules,
};
use crate::core::DailyBar;

/// A training class; the discriminant is the class index models output. Since labels
/// are the exits: SELL = the trade hit its stop, HOLD = it timed out or the sentiment
/// flipped, BUY = it reached its target.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Label {
    Sell = 0,
    Hold = 1,
    Buy = 2,
}

impl Label {
    /// The classes in index order (recorded in the schema docs and the model manifest).
    pub const CLASSES: [Label; 3] = [Label::Sell, Label::Hold, Label::Buy];

    /// The class index (0 SELL, 1 HOLD, 2 BUY).
    pub fn index(self) -> usize {
        self as usize
    }

    /// "SELL", "HOLD" or "BUY".
    pub fn name(self) -> &'static str {
        match self {
            Label::Sell => "SELL",
            Label::Hold => "HOLD",
            Label::Buy => "BUY",
        }
    }

    /// The class of a trade that exited for `reason`: stop / time-out or flip / target.
    pub fn of_exit(reason: ExitReason) -> Label {
        match reason {
            ExitReason::StopLoss => Label::Sell,
            ExitReason::TimeDecay | ExitReason::SignalFlip | ExitReason::Manual => Label::Hold,
            ExitReason::Target => Label::Buy,
        }
    }
}

/// The rule text recorded with a training set (meta.json, the model manifest).
pub const LABEL_RULE: &str = "labels = the exits: long entry at the next trading day's open; \
stop/target from risk::price_levels(entry, signal day's volatility_20d); exits by \
exits::decide_exit on daily bars (gap at the open, sentiment flip read on an earlier day, \
stop first on a tied bar, time decay on the hold_days-th NYSE trading day); \
0 SELL = stop_loss, 1 HOLD = time_decay or signal_flip, 2 BUY = target; \
net_return after costs as the paper portfolio books it";

/// The trade outcome of every bar's signal (`features[i]` is `bars[i]`'s row, as
/// `ticker_features` returns them); None where there is no outcome yet (module docs).
pub fn exit_labels(
    bars: &[DailyBar],
    features: &[FeatureRow],
    rules: &TradeRules,
) -> Vec<Option<TradeOutcome>> {
    debug_assert_eq!(bars.len(), features.len());
    let volatility = FEATURE_SCHEMA.index_of("volatility_20d");
    let readings: Vec<SentimentReading> = features
        .iter()
        .map(SentimentReading::from_features)
        .collect();
    (0..bars.len())
        .map(|i| {
            let sigma = volatility
                .and_then(|k| features.get(i)?.values.get(k).copied())
                .unwrap_or(0.0);
            simulate_long_trade(bars, i, sigma, &readings, rules)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::exits::ExitReason;
    use crate::core::nyse;
    use chrono::NaiveDate;

    type Ohlc = (f64, f64, f64, f64);

    /// Bars from (open, high, low, close) on consecutive NYSE trading days from Monday
    /// 2021-03-01, with feature rows carrying `sigma` as `volatility_20d`.
    fn series(ohlc: &[Ohlc], sigma: f64) -> (Vec<DailyBar>, Vec<FeatureRow>) {
        let start = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap();
        let bars: Vec<DailyBar> = ohlc
            .iter()
            .enumerate()
            .map(|(i, &(open, high, low, close))| DailyBar {
                date: nyse::add_trading_days(start, i as i64),
                open,
                high,
                low,
                close,
                adjusted_close: close,
                volume: 1_000,
            })
            .collect();
        let vol = FEATURE_SCHEMA.index_of("volatility_20d").unwrap();
        let rows = bars
            .iter()
            .map(|b| {
                let mut values = vec![0.0; FEATURE_SCHEMA.len()];
                values[vol] = sigma;
                FeatureRow {
                    ticker: "TEST".into(),
                    date: b.date,
                    values,
                }
            })
            .collect();
        (bars, rows)
    }

    fn labels(ohlc: &[Ohlc], sigma: f64) -> Vec<Option<Label>> {
        let (bars, rows) = series(ohlc, sigma);
        exit_labels(&bars, &rows, &TradeRules::default())
            .into_iter()
            .map(|o| o.map(|o| Label::of_exit(o.reason)))
            .collect()
    }

    const FLAT: Ohlc = (100.0, 101.0, 99.0, 100.0);
    /// σ = 3 %: the risk manager's widest levels, stop 5 %, target 10 %.
    const WIDE: f64 = 0.03;

    /// Bar 0 (signal day), bar 1 entry at open 100, then `rest`, padded with flat bars
    /// to 8 bars (a full 7-day horizon for bar 0).
    fn trade(rest: &[Ohlc], sigma: f64) -> Option<Label> {
        let mut ohlc = vec![FLAT, FLAT];
        ohlc.extend_from_slice(rest);
        while ohlc.len() < 8 {
            ohlc.push(FLAT);
        }
        labels(&ohlc, sigma)[0]
    }

    #[test]
    fn labels_quiet_week_is_hold() {
        assert_eq!(trade(&[], WIDE), Some(Label::Hold));
    }

    #[test]
    fn labels_target_first_is_buy_and_stop_first_is_sell() {
        assert_eq!(
            trade(&[(100.0, 110.5, 99.0, 110.0)], WIDE),
            Some(Label::Buy)
        );
        assert_eq!(
            trade(&[(100.0, 101.0, 94.0, 95.0)], WIDE),
            Some(Label::Sell)
        );
        // Stop on day 3, target on day 4: the stop came first.
        assert_eq!(
            trade(
                &[FLAT, (99.0, 99.0, 94.9, 96.0), (100.0, 120.0, 99.0, 119.0)],
                WIDE
            ),
            Some(Label::Sell)
        );
    }

    #[test]
    fn labels_use_the_risk_managers_levels_from_the_signal_days_volatility() {
        // σ = 1 %: stop 2 %, target 5 % (the floors). A 6 % run is a target, a 3 % dip a
        // stop, where the fixed +10 / −5 % barrier saw two quiet weeks.
        let calm = 0.01;
        assert_eq!(
            trade(&[(100.0, 106.0, 99.5, 105.0)], calm),
            Some(Label::Buy)
        );
        assert_eq!(
            trade(&[(100.0, 100.5, 97.0, 98.0)], calm),
            Some(Label::Sell)
        );
        assert_eq!(
            trade(&[(100.0, 106.0, 99.5, 105.0)], WIDE),
            Some(Label::Hold)
        );
        assert_eq!(
            trade(&[(100.0, 100.5, 97.0, 98.0)], WIDE),
            Some(Label::Hold)
        );
        // Unknown volatility (0): the seed's 5 % stop and 10 % target.
        assert_eq!(
            trade(&[(100.0, 106.0, 96.0, 105.0)], 0.0),
            Some(Label::Hold)
        );
    }

    #[test]
    fn labels_touching_a_barrier_exactly_counts() {
        // Entry 100: target 100 × 1.1 = 110.00000000000001 in f64, stop 95.
        let upper = 100.0 * (1.0 + 0.10);
        assert_eq!(
            trade(&[(100.0, upper, 99.0, 100.0)], WIDE),
            Some(Label::Buy)
        );
        assert_eq!(
            trade(&[(100.0, 101.0, 95.0, 100.0)], WIDE),
            Some(Label::Sell)
        );
        assert_eq!(
            trade(&[(100.0, 109.99, 95.01, 100.0)], WIDE),
            Some(Label::Hold)
        );
    }

    #[test]
    fn labels_both_barriers_on_the_same_day_count_as_stop() {
        assert_eq!(
            trade(&[(100.0, 115.0, 90.0, 112.0)], WIDE),
            Some(Label::Sell)
        );
        // Also on the entry day itself.
        let mut ohlc = vec![FLAT, (100.0, 115.0, 90.0, 112.0)];
        ohlc.extend([FLAT; 6]);
        assert_eq!(labels(&ohlc, WIDE)[0], Some(Label::Sell));
    }

    #[test]
    fn labels_a_gap_through_a_barrier_counts_at_the_open() {
        // Opens at 90, below the 95 stop, then rallies past the target intraday: SELL.
        assert_eq!(
            trade(&[(90.0, 112.0, 89.0, 111.0)], WIDE),
            Some(Label::Sell)
        );
        // Opens at 112, above the target, then collapses through the stop: BUY.
        assert_eq!(trade(&[(112.0, 113.0, 90.0, 91.0)], WIDE), Some(Label::Buy));
    }

    #[test]
    fn labels_entry_is_the_next_open_not_todays_close() {
        // Signal-day close 50, next open 100: barriers around 100, not 50.
        let mut ohlc = vec![(50.0, 50.0, 50.0, 50.0), FLAT];
        ohlc.extend([(100.0, 104.0, 98.0, 100.0); 6]);
        assert_eq!(labels(&ohlc, WIDE)[0], Some(Label::Hold));
    }

    #[test]
    fn labels_the_horizon_ends_on_the_7th_trading_day() {
        // A target hit on the 8th bar after entry is outside the horizon.
        let mut ohlc = vec![FLAT; 8];
        ohlc.push((100.0, 130.0, 99.0, 125.0));
        let l = labels(&ohlc, WIDE);
        assert_eq!(l[0], Some(Label::Hold));
        assert_eq!(l[1], Some(Label::Buy)); // bar 8 is bar 1's 7th trading day
    }

    #[test]
    fn labels_fewer_than_seven_bars_ahead_is_none() {
        let l = labels(&[FLAT; 10], WIDE);
        assert_eq!(l.len(), 10);
        assert!(l[..3].iter().all(|l| *l == Some(Label::Hold)));
        assert!(l[3..].iter().all(Option::is_none), "{l:?}");
        // Even a stop inside the available bars: the horizon must be complete.
        let mut ohlc = vec![FLAT; 9];
        ohlc.push((100.0, 100.0, 90.0, 91.0));
        let l = labels(&ohlc, WIDE);
        assert_eq!(l[2], Some(Label::Sell), "bar 9 is bar 2's 7th trading day");
        assert_eq!(
            l[3], None,
            "stopped on bar 9, but its horizon ends after the data"
        );
        assert!(labels(&[], WIDE).is_empty());
    }

    #[test]
    fn labels_a_bearish_flip_is_hold() {
        let mut ohlc = vec![FLAT; 8];
        ohlc[7] = (100.0, 100.0, 99.0, 99.5);
        let (bars, mut rows) = series(&ohlc, WIDE);
        let set = |row: &mut FeatureRow, name: &str, x: f64| {
            row.values[FEATURE_SCHEMA.index_of(name).unwrap()] = x;
        };
        // Read on the entry day's evening (bar 1): out at bar 2's open.
        set(&mut rows[1], "mention_count", 30.0);
        set(&mut rows[1], "sentiment_score", -0.4);
        set(&mut rows[1], "sentiment_trend", -0.6);
        let out = exit_labels(&bars, &rows, &TradeRules::default())[0].unwrap();
        assert_eq!(out.reason, ExitReason::SignalFlip);
        assert_eq!(out.exit_date, bars[2].date);
        assert_eq!(Label::of_exit(out.reason), Label::Hold);
    }

    #[test]
    fn labels_class_order_and_names() {
        assert_eq!(
            Label::CLASSES.map(Label::index),
            [0, 1, 2],
            "SELL, HOLD, BUY"
        );
        assert_eq!(Label::CLASSES.map(Label::name), ["SELL", "HOLD", "BUY"]);
        assert_eq!(serde_json::to_string(&Label::Buy).unwrap(), "\"BUY\"");
        assert_eq!(
            ExitReason::ALL.map(Label::of_exit),
            [Label::Buy, Label::Sell, Label::Hold, Label::Hold]
        );
    }
}
