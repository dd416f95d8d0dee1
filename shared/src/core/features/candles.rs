//! Candle features: what the day's open, high and low say beyond the close (body, where
//! the close sits in the range, the shadows, the range, the overnight gap, ATR), and the
//! close against its own 50-day average (what market breadth counts).
//!
//! Row `i` reads bars `..=i` only. Every value is finite: a day with no range (high ==
//! low) has its close in the middle (0.5) and no shadows; where a window is not full the
//! value is 0 (`indicators_ready` covers ATR's 14 bars, and SMA 50's 50 bars are why the
//! gap is 0 before bar 49). Definitions: `docs/features.md`.

use crate::core::indicators::sma::sma;
use crate::core::indicators::SMA_SHORT;
use crate::core::DailyBar;

/// ATR period (Wilder's, as TA-Lib's `ATR`).
pub const ATR_PERIOD: usize = 14;

/// The candle features, in schema order.
pub const NAMES: [&str; 8] = [
    "candle_body",
    "close_location",
    "upper_shadow",
    "lower_shadow",
    "range_pct",
    "gap_open",
    "atr_14_pct",
    "close_sma_50_gap",
];

/// TA-Lib's `ATR(high, low, close, 14)`: the true range from bar 1 on
/// (`max(h - l, |h - c[i-1]|, |l - c[i-1]|)`), its plain mean over bars 1..=14 as the first
/// value (bar 14), then Wilder's smoothing `(atr * 13 + tr) / 14`. `None` before bar 14.
pub fn atr(bars: &[DailyBar], period: usize) -> Vec<Option<f64>> {
    let mut out = vec![None; bars.len()];
    let mut sum = 0.0;
    let mut prev: Option<f64> = None;
    for i in 1..bars.len() {
        let (b, c0) = (&bars[i], bars[i - 1].close);
        let tr = (b.high - b.low)
            .max((b.high - c0).abs())
            .max((b.low - c0).abs());
        if i < period {
            sum += tr;
            continue;
        }
        let value = match prev {
            None => (sum + tr) / period as f64,
            Some(p) => (p * (period as f64 - 1.0) + tr) / period as f64,
        };
        prev = Some(value);
        out[i] = Some(value);
    }
    out
}

/// The candle features of every bar (`bars` in date order, positive prices).
pub fn candle_features(bars: &[DailyBar]) -> Vec<[f64; NAMES.len()]> {
    let close: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let sma_50 = sma(&close, SMA_SHORT);
    let atr = atr(bars, ATR_PERIOD);
    bars.iter()
        .enumerate()
        .map(|(i, b)| {
            // The day's range holds the open and the close even where a vendor's high or
            // low does not (Yahoo has a few such bars): shares stay in [0, 1].
            let high = b.high.max(b.open).max(b.close);
            let low = b.low.min(b.open).min(b.close);
            let range = high - low;
            let (location, upper, lower) = if range > 0.0 {
                (
                    (b.close - low) / range,
                    (high - b.open.max(b.close)) / range,
                    (b.open.min(b.close) - low) / range,
                )
            } else {
                (0.5, 0.0, 0.0)
            };
            [
                b.close / b.open - 1.0,
                location,
                upper,
                lower,
                range / b.close,
                i.checked_sub(1)
                    .map_or(0.0, |p| b.open / bars[p].close - 1.0),
                atr[i].map_or(0.0, |a| a / b.close),
                sma_50[i].map_or(0.0, |s| b.close / s - 1.0),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn bar(i: u64, open: f64, high: f64, low: f64, close: f64) -> DailyBar {
        DailyBar {
            date: NaiveDate::from_ymd_opt(2021, 1, 4).unwrap() + chrono::Days::new(i),
            open,
            high,
            low,
            close,
            adjusted_close: close,
            volume: 1_000,
        }
    }

    fn column(rows: &[[f64; NAMES.len()]], name: &str) -> Vec<f64> {
        let k = NAMES.iter().position(|n| *n == name).unwrap();
        rows.iter().map(|r| r[k]).collect()
    }

    #[test]
    fn a_candle_by_hand() {
        // Previous close 100; open 102, high 110, low 98, close 107: range 12.
        let bars = [
            bar(0, 100.0, 100.0, 100.0, 100.0),
            bar(1, 102.0, 110.0, 98.0, 107.0),
        ];
        let rows = candle_features(&bars);
        let r = rows[1];
        assert_eq!(r[0], 107.0 / 102.0 - 1.0);
        assert_eq!(r[1], 9.0 / 12.0);
        assert_eq!(r[2], 3.0 / 12.0);
        assert_eq!(r[3], 4.0 / 12.0);
        assert_eq!(r[4], 12.0 / 107.0);
        assert_eq!(r[5], 102.0 / 100.0 - 1.0);
        // A flat bar: close in the middle, no shadows; the first bar has no gap.
        assert_eq!(rows[0], [0.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn a_bad_vendor_bar_stays_in_range() {
        // The open above the high: the range is widened to hold it.
        let rows = candle_features(&[bar(0, 12.0, 11.0, 9.0, 10.0)]);
        let r = rows[0];
        assert_eq!((r[1], r[2], r[3]), (1.0 / 3.0, 0.0, 1.0 / 3.0));
        assert!(r.iter().all(|v| v.is_finite()));
    }

    #[test]
    fn atr_is_talib_wilder() {
        // Closes 10, 11, 12, ...; high = close + 1, low = close - 1: every true range is
        // max(2, |c+1 - (c-1)|, |c-1 - (c-1)|) = 2, so ATR is 2 from bar 14 on.
        let bars: Vec<DailyBar> = (0..30)
            .map(|i| {
                let c = 10.0 + i as f64;
                bar(i, c, c + 1.0, c - 1.0, c)
            })
            .collect();
        let a = atr(&bars, ATR_PERIOD);
        assert!(a[..14].iter().all(Option::is_none));
        assert!(a[14..].iter().all(|v| *v == Some(2.0)));
        let rows = candle_features(&bars);
        assert_eq!(column(&rows, "atr_14_pct")[13], 0.0);
        assert_eq!(column(&rows, "atr_14_pct")[20], 2.0 / 30.0);
        // A gap: true range reaches back to the previous close.
        let mut gapped = bars.clone();
        gapped[15] = bar(15, 40.0, 41.0, 39.0, 40.0); // previous close 24
        let a2 = atr(&gapped, ATR_PERIOD);
        assert_eq!(a2[15], Some((2.0 * 13.0 + 17.0) / 14.0));
    }

    #[test]
    fn close_against_sma_50_from_bar_49() {
        let bars: Vec<DailyBar> = (0..60)
            .map(|i| {
                let c = 100.0 + i as f64;
                bar(i, c, c, c, c)
            })
            .collect();
        let gap = column(&candle_features(&bars), "close_sma_50_gap");
        assert!(gap[..49].iter().all(|v| *v == 0.0));
        // SMA of 100..=149 is 124.5.
        assert_eq!(gap[49], 149.0 / 124.5 - 1.0);
    }
}
