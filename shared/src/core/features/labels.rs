//! Triple-barrier labels: what a long trade entered at the next day's open did.
//!
//! For bar i, the trade enters at `entry = open[i + 1]` with a target at
//! `entry * (1 + target)` and a stop at `entry * (1 - stop)`, and is watched over bars
//! `i + 1 ..= i + horizon_days` (the entry day is the first of the horizon). Bar by bar:
//! - from the second bar on, the open is checked first: an open at or below the stop is a
//!   gap through it (SELL, filled at that open), at or above the target a gap through it
//!   (BUY);
//! - then the day's range: a low at or below the stop and a high at or above the target
//!   on the same day cannot be ordered from daily bars, so it counts as the stop (SELL,
//!   the conservative reading); a low at or below the stop alone is SELL, a high at or
//!   above the target alone is BUY;
//! - no barrier touched by the last bar of the horizon: HOLD.
//!
//! The label of bar i reads bars `i + 1 ..= i + horizon_days` and nothing else; it is
//! `None` where fewer than `horizon_days` bars follow (the future is never guessed).

use serde::{Deserialize, Serialize};

use crate::core::DailyBar;

/// A training class; the discriminant is the class index models output.
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
}

/// The barriers of a trade, as fractions of the entry price.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BarrierConfig {
    /// Trading days watched, the entry day included (7).
    pub horizon_days: usize,
    /// Take-profit distance above the entry (0.10: reward/risk 2 with a 5 % stop).
    pub target: f64,
    /// Stop-loss distance below the entry (0.05).
    pub stop: f64,
}

impl Default for BarrierConfig {
    fn default() -> Self {
        Self {
            horizon_days: 7,
            target: 0.10,
            stop: 0.05,
        }
    }
}

/// Label of the trade entered at the open of bar i+1 for each bar i; None where fewer
/// than horizon bars follow (never guess the future), and everywhere if `horizon_days`
/// is 0.
pub fn triple_barrier_labels(bars: &[DailyBar], config: &BarrierConfig) -> Vec<Option<Label>> {
    (0..bars.len()).map(|i| label_at(bars, i, config)).collect()
}

fn label_at(bars: &[DailyBar], i: usize, config: &BarrierConfig) -> Option<Label> {
    if config.horizon_days == 0 || i + config.horizon_days >= bars.len() {
        return None;
    }
    let window = &bars[i + 1..=i + config.horizon_days];
    let entry = window[0].open;
    if !(entry > 0.0 && entry.is_finite()) {
        return None;
    }
    let upper = entry * (1.0 + config.target);
    let lower = entry * (1.0 - config.stop);
    for (k, bar) in window.iter().enumerate() {
        if k > 0 {
            if bar.open <= lower {
                return Some(Label::Sell);
            }
            if bar.open >= upper {
                return Some(Label::Buy);
            }
        }
        if bar.low <= lower {
            return Some(Label::Sell); // includes the same-day tie
        }
        if bar.high >= upper {
            return Some(Label::Buy);
        }
    }
    Some(Label::Hold)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    /// Bars from (open, high, low, close), one per day from 2021-03-01.
    fn bars(ohlc: &[(f64, f64, f64, f64)]) -> Vec<DailyBar> {
        let start = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap();
        ohlc.iter()
            .enumerate()
            .map(|(i, &(open, high, low, close))| DailyBar {
                date: start + chrono::Days::new(i as u64),
                open,
                high,
                low,
                close,
                adjusted_close: close,
                volume: 1_000,
            })
            .collect()
    }

    const FLAT: (f64, f64, f64, f64) = (100.0, 101.0, 99.0, 100.0);

    /// Bar 0 (signal day), bar 1 entry at open 100, then `rest`, padded with flat bars
    /// to 8 bars (a full 7-day horizon for bar 0).
    fn trade(rest: &[(f64, f64, f64, f64)]) -> Option<Label> {
        let mut ohlc = vec![FLAT, FLAT];
        ohlc.extend_from_slice(rest);
        while ohlc.len() < 8 {
            ohlc.push(FLAT);
        }
        triple_barrier_labels(&bars(&ohlc), &BarrierConfig::default())[0]
    }

    #[test]
    fn quiet_week_is_hold() {
        assert_eq!(trade(&[]), Some(Label::Hold));
    }

    #[test]
    fn target_first_is_buy_and_stop_first_is_sell() {
        assert_eq!(trade(&[(100.0, 110.5, 99.0, 110.0)]), Some(Label::Buy));
        assert_eq!(trade(&[(100.0, 101.0, 94.0, 95.0)]), Some(Label::Sell));
        // Stop on day 3, target on day 4: the stop came first.
        assert_eq!(
            trade(&[FLAT, (99.0, 99.0, 94.9, 96.0), (100.0, 120.0, 99.0, 119.0)]),
            Some(Label::Sell)
        );
    }

    #[test]
    fn touching_a_barrier_exactly_counts() {
        // Entry 100: target 110 (100 * 1.1 = 110.00000000000001 in f64), stop 95.
        let upper = 100.0 * 1.1;
        assert_eq!(trade(&[(100.0, upper, 99.0, 100.0)]), Some(Label::Buy));
        assert_eq!(trade(&[(100.0, 101.0, 95.0, 100.0)]), Some(Label::Sell));
        assert_eq!(trade(&[(100.0, 109.99, 95.01, 100.0)]), Some(Label::Hold));
    }

    #[test]
    fn both_barriers_on_the_same_day_count_as_stop() {
        assert_eq!(trade(&[(100.0, 115.0, 90.0, 112.0)]), Some(Label::Sell));
        // Also on the entry day itself.
        let mut ohlc = vec![FLAT, (100.0, 115.0, 90.0, 112.0)];
        ohlc.extend([FLAT; 6]);
        let labels = triple_barrier_labels(&bars(&ohlc), &BarrierConfig::default());
        assert_eq!(labels[0], Some(Label::Sell));
    }

    #[test]
    fn a_gap_through_a_barrier_at_the_open_counts_at_the_open() {
        // Opens at 90, below the 95 stop, then rallies past the target intraday: SELL.
        assert_eq!(trade(&[(90.0, 112.0, 89.0, 111.0)]), Some(Label::Sell));
        // Opens at 112, above the target, then collapses through the stop: BUY.
        assert_eq!(trade(&[(112.0, 113.0, 90.0, 91.0)]), Some(Label::Buy));
    }

    #[test]
    fn entry_is_the_next_open_not_todays_close() {
        // Signal-day close 50, next open 100: barriers around 100, not 50.
        let mut ohlc = vec![(50.0, 50.0, 50.0, 50.0), FLAT];
        ohlc.extend([(100.0, 104.0, 98.0, 100.0); 6]);
        let labels = triple_barrier_labels(&bars(&ohlc), &BarrierConfig::default());
        assert_eq!(labels[0], Some(Label::Hold));
    }

    #[test]
    fn the_horizon_ends_after_seven_bars() {
        // A target hit on the 8th bar after entry is outside the horizon.
        let mut ohlc = vec![FLAT; 8];
        ohlc.push((100.0, 130.0, 99.0, 125.0));
        let labels = triple_barrier_labels(&bars(&ohlc), &BarrierConfig::default());
        assert_eq!(labels[0], Some(Label::Hold));
        assert_eq!(labels[1], Some(Label::Buy)); // bar 8 is bar 1's 7th horizon bar
    }

    #[test]
    fn fewer_than_seven_bars_ahead_is_none() {
        let labels = triple_barrier_labels(&bars(&[FLAT; 10]), &BarrierConfig::default());
        assert_eq!(labels.len(), 10);
        assert!(labels[..3].iter().all(|l| *l == Some(Label::Hold)));
        assert!(labels[3..].iter().all(Option::is_none), "{labels:?}");
        assert!(triple_barrier_labels(&[], &BarrierConfig::default()).is_empty());
        let zero = BarrierConfig {
            horizon_days: 0,
            ..BarrierConfig::default()
        };
        assert!(triple_barrier_labels(&bars(&[FLAT; 3]), &zero)
            .iter()
            .all(Option::is_none));
    }

    #[test]
    fn target_is_a_parameter() {
        let tight = BarrierConfig {
            target: 0.02,
            ..BarrierConfig::default()
        };
        let ohlc = [
            FLAT,
            FLAT,
            (100.0, 103.0, 99.0, 102.0),
            FLAT,
            FLAT,
            FLAT,
            FLAT,
            FLAT,
        ];
        let b = bars(&ohlc);
        assert_eq!(triple_barrier_labels(&b, &tight)[0], Some(Label::Buy));
        assert_eq!(
            triple_barrier_labels(&b, &BarrierConfig::default())[0],
            Some(Label::Hold)
        );
    }

    #[test]
    fn class_order_and_names() {
        assert_eq!(
            Label::CLASSES.map(Label::index),
            [0, 1, 2],
            "SELL, HOLD, BUY"
        );
        assert_eq!(Label::CLASSES.map(Label::name), ["SELL", "HOLD", "BUY"]);
        assert_eq!(serde_json::to_string(&Label::Buy).unwrap(), "\"BUY\"");
    }
}
