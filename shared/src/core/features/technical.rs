//! Price and volume features of each bar, from that bar and the bars before it only.
//!
//! The indicators come from [`crate::core::indicators::compute`] (TA-Lib's definitions),
//! whose row `i` reads only bars `..=i`; the windows here (returns, volatility, volume
//! z-score) read bars `i - n..=i`. Every value is finite: where a window is not full yet
//! (the warm-up) the feature takes a neutral value (`rsi_14` 50, `volume_ratio` 1, the
//! others 0) and the two flags `indicators_ready` / `sma_200_ready` say whether it is a
//! real value. Definitions: `docs/features.md`.

use crate::core::indicators::{compute, IndicatorRow};
use crate::core::DailyBar;

/// RSI strictly below this is oversold (exactly 30 is not).
pub const RSI_OVERSOLD: f64 = 30.0;
/// RSI strictly above this is overbought (exactly 70 is not).
pub const RSI_OVERBOUGHT: f64 = 70.0;
/// `volume_ratio` strictly above this is a spike (exactly 2x is not).
pub const VOLUME_SPIKE_RATIO: f64 = 2.0;
/// `sma_crossover` is 1 when SMA 50 crossed above SMA 200 within this many bars (D included).
pub const SMA_CROSS_LOOKBACK: usize = 5;
/// Bars in the volume z-score window and daily log returns in the volatility window.
pub const WINDOW_20: usize = 20;

/// The technical features, in schema order.
pub const NAMES: [&str; 21] = [
    "indicators_ready",
    "sma_200_ready",
    "rsi_14",
    "rsi_oversold",
    "rsi_overbought",
    "macd_hist_norm",
    "macd_crossover",
    "macd_crossunder",
    "sma_gap",
    "sma_50_over_200",
    "sma_crossover",
    "bb_position",
    "bb_breakout",
    "volume_ratio",
    "volume_spike",
    "volume_zscore_20",
    "return_1d",
    "return_5d",
    "return_10d",
    "return_20d",
    "volatility_20d",
];

/// The technical features of every bar (`bars` in date order, positive prices).
pub fn technical_features(bars: &[DailyBar]) -> Vec<[f64; NAMES.len()]> {
    let close: Vec<f64> = bars.iter().map(|b| b.close).collect();
    let volume: Vec<f64> = bars.iter().map(|b| b.volume as f64).collect();
    let indicators = compute(&close, &volume);
    (0..bars.len())
        .map(|i| features_at(i, &close, &volume, &indicators))
        .collect()
}

fn flag(b: bool) -> f64 {
    if b {
        1.0
    } else {
        0.0
    }
}

fn macd_pair(row: &IndicatorRow) -> Option<(f64, f64)> {
    Some((row.macd?, row.macd_signal?))
}

fn sma_pair(row: &IndicatorRow) -> Option<(f64, f64)> {
    Some((row.sma_50?, row.sma_200?))
}

/// `a` crossed above `b` between the two bars: `a <= b` before, `a > b` now.
fn crossed_above(before: Option<(f64, f64)>, now: Option<(f64, f64)>) -> bool {
    matches!((before, now), (Some((a0, b0)), Some((a1, b1))) if a0 <= b0 && a1 > b1)
}

/// `a` crossed below `b` between the two bars: `a >= b` before, `a < b` now.
fn crossed_below(before: Option<(f64, f64)>, now: Option<(f64, f64)>) -> bool {
    matches!((before, now), (Some((a0, b0)), Some((a1, b1))) if a0 >= b0 && a1 < b1)
}

/// `close[i] / close[i - n] - 1`, or 0 when `i < n`.
pub(crate) fn simple_return(close: &[f64], i: usize, n: usize) -> f64 {
    if i < n {
        0.0
    } else {
        close[i] / close[i - n] - 1.0
    }
}

/// Mean and sample standard deviation (n - 1), two-pass, so a constant window has
/// exactly 0 deviation.
pub(crate) fn mean_and_sample_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let squares: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (mean, (squares / (n - 1.0)).sqrt())
}

/// Sample std of the `WINDOW_20` daily log returns ending at bar `i`; 0 before bar 20.
pub(crate) fn volatility(close: &[f64], i: usize) -> f64 {
    if i < WINDOW_20 {
        return 0.0;
    }
    let mut returns = [0.0; WINDOW_20];
    for (slot, k) in returns.iter_mut().zip(i + 1 - WINDOW_20..=i) {
        *slot = (close[k] / close[k - 1]).ln();
    }
    mean_and_sample_std(&returns).1
}

/// `(volume[i] - mean) / std` over the `WINDOW_20` volumes ending at bar `i`; 0 before
/// bar 19 and where the window is constant (e.g. a run of zero-volume days).
fn volume_zscore(volume: &[f64], i: usize) -> f64 {
    if i + 1 < WINDOW_20 {
        return 0.0;
    }
    let (mean, std) = mean_and_sample_std(&volume[i + 1 - WINDOW_20..=i]);
    if std > 0.0 {
        (volume[i] - mean) / std
    } else {
        0.0
    }
}

fn features_at(
    i: usize,
    close: &[f64],
    volume: &[f64],
    indicators: &[IndicatorRow],
) -> [f64; NAMES.len()] {
    let row = &indicators[i];
    let before = i.checked_sub(1).map(|p| &indicators[p]);
    let c = close[i];

    let rsi = row.rsi_14;
    let macd = macd_pair(row);
    let macd_before = before.and_then(macd_pair);
    let sma = sma_pair(row);
    let sma_cross = (i.saturating_sub(SMA_CROSS_LOOKBACK - 1).max(1)..=i)
        .any(|k| crossed_above(sma_pair(&indicators[k - 1]), sma_pair(&indicators[k])));
    let bands = row.bb_upper.zip(row.bb_middle);
    let ready = rsi.is_some() && macd.is_some() && bands.is_some() && i >= WINDOW_20;

    [
        flag(ready),
        flag(sma.is_some()),
        rsi.unwrap_or(50.0),
        flag(rsi.is_some_and(|r| r < RSI_OVERSOLD)),
        flag(rsi.is_some_and(|r| r > RSI_OVERBOUGHT)),
        macd.map_or(0.0, |(m, s)| (m - s) / c),
        flag(crossed_above(macd_before, macd)),
        flag(crossed_below(macd_before, macd)),
        sma.map_or(0.0, |(short, long)| short / long - 1.0),
        flag(sma.is_some_and(|(short, long)| short > long)),
        flag(sma_cross),
        bands.map_or(0.0, |(upper, middle)| {
            let half_width = upper - middle;
            if half_width > 0.0 {
                (c - middle) / half_width
            } else {
                0.0
            }
        }),
        flag(bands.is_some_and(|(upper, _)| c > upper)),
        row.volume_ratio.unwrap_or(1.0),
        flag(row.volume_ratio.is_some_and(|r| r > VOLUME_SPIKE_RATIO)),
        volume_zscore(volume, i),
        simple_return(close, i, 1),
        simple_return(close, i, 5),
        simple_return(close, i, 10),
        simple_return(close, i, 20),
        volatility(close, i),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn bars(close: &[f64], volume: &[i64]) -> Vec<DailyBar> {
        let start = NaiveDate::from_ymd_opt(2021, 1, 4).unwrap();
        close
            .iter()
            .zip(volume)
            .enumerate()
            .map(|(i, (&c, &v))| DailyBar {
                date: start + chrono::Days::new(i as u64),
                open: c,
                high: c,
                low: c,
                close: c,
                adjusted_close: c,
                volume: v,
            })
            .collect()
    }

    fn column(rows: &[[f64; NAMES.len()]], name: &str) -> Vec<f64> {
        let k = NAMES.iter().position(|n| *n == name).unwrap();
        rows.iter().map(|r| r[k]).collect()
    }

    fn features(close: &[f64]) -> Vec<[f64; NAMES.len()]> {
        technical_features(&bars(close, &vec![1_000; close.len()]))
    }

    #[test]
    fn warm_up_values_are_neutral() {
        let rows = features(&[10.0, 11.0, 10.5]);
        for (k, name) in NAMES.iter().enumerate() {
            let neutral = match *name {
                "rsi_14" => 50.0,
                "volume_ratio" => 1.0,
                "return_1d" => continue, // defined from bar 1
                _ => 0.0,
            };
            assert!(rows.iter().all(|r| r[k] == neutral), "{name}");
        }
        assert_eq!(
            column(&rows, "return_1d"),
            [0.0, 11.0 / 10.0 - 1.0, 10.5 / 11.0 - 1.0]
        );
    }

    #[test]
    fn readiness_flags_switch_on_at_the_longest_lookbacks() {
        let close: Vec<f64> = (0..230).map(|i| 50.0 + (i as f64 * 0.2).sin()).collect();
        let rows = features(&close);
        let ready = column(&rows, "indicators_ready");
        assert_eq!(ready.iter().position(|v| *v == 1.0), Some(33)); // MACD's first value
        assert!(ready[33..].iter().all(|v| *v == 1.0));
        let sma = column(&rows, "sma_200_ready");
        assert_eq!(sma.iter().position(|v| *v == 1.0), Some(199));
    }

    #[test]
    fn rsi_thresholds_are_strict() {
        // 14 changes: +3, -7 and twelve zeros: RSI = 100 * 3 / 10 = 30 exactly.
        let mut close = vec![100.0, 103.0, 96.0];
        close.extend([96.0; 12]);
        let rows = features(&close);
        assert_eq!(column(&rows, "rsi_14")[14], 30.0);
        assert_eq!(column(&rows, "rsi_oversold")[14], 0.0);
        // One more point of loss: RSI 3 / 11 * 100 < 30.
        close[2] = 95.0;
        close[3..].fill(95.0);
        assert_eq!(column(&features(&close), "rsi_oversold")[14], 1.0);
        // Mirror: -3, +7: RSI 70 exactly, not overbought; +8 is.
        let mut close = vec![100.0, 97.0, 104.0];
        close.extend([104.0; 12]);
        let rows = features(&close);
        assert_eq!(column(&rows, "rsi_14")[14], 70.0);
        assert_eq!(column(&rows, "rsi_overbought")[14], 0.0);
        close[2] = 105.0;
        close[3..].fill(105.0);
        assert_eq!(column(&features(&close), "rsi_overbought")[14], 1.0);
    }

    #[test]
    fn macd_crossings_follow_the_definition() {
        // Down, up, down: MACD crosses its signal both ways.
        let close: Vec<f64> = (0..120)
            .map(|i| 100.0 + 10.0 * (i as f64 / 15.0).sin())
            .collect();
        let rows = features(&close);
        let ind = compute(&close, &vec![1.0; close.len()]);
        let up = column(&rows, "macd_crossover");
        let down = column(&rows, "macd_crossunder");
        let hist = column(&rows, "macd_hist_norm");
        for i in 34..close.len() {
            let (m0, s0) = (ind[i - 1].macd.unwrap(), ind[i - 1].macd_signal.unwrap());
            let (m1, s1) = (ind[i].macd.unwrap(), ind[i].macd_signal.unwrap());
            assert_eq!(up[i] == 1.0, m0 <= s0 && m1 > s1, "bar {i}");
            assert_eq!(down[i] == 1.0, m0 >= s0 && m1 < s1, "bar {i}");
            assert_eq!(hist[i], (m1 - s1) / close[i]);
        }
        assert!(up.iter().filter(|v| **v == 1.0).count() >= 1);
        assert!(down.iter().filter(|v| **v == 1.0).count() >= 1);
        // The first MACD bar has no previous value: never a crossing.
        assert_eq!((up[33], down[33]), (0.0, 0.0));
    }

    #[test]
    fn sma_crossover_lasts_five_bars() {
        // 220 bars falling, then a steep rise: SMA 50 crosses above SMA 200 once.
        let mut close: Vec<f64> = (0..220).map(|i| 300.0 - i as f64).collect();
        close.extend((1..=80).map(|i| 80.0 + 6.0 * i as f64));
        let rows = features(&close);
        let state = column(&rows, "sma_50_over_200");
        let cross = column(&rows, "sma_crossover");
        let k = state.iter().position(|v| *v == 1.0).unwrap();
        assert!(k > 220);
        assert!(state[k..].iter().all(|v| *v == 1.0));
        assert_eq!(cross[k - 1], 0.0);
        assert!(cross[k..k + 5].iter().all(|v| *v == 1.0));
        assert!(cross[k + 5..].iter().all(|v| *v == 0.0));
        let gap = column(&rows, "sma_gap");
        assert!(gap[k - 1] <= 0.0 && gap[k] > 0.0);
        assert_eq!(gap[198], 0.0); // SMA 200 undefined
    }

    #[test]
    fn bollinger_position_and_breakout_by_hand() {
        // 19 closes of 100 then 110: mean 100.5, population variance 4.75.
        let mut close = vec![100.0; 19];
        close.push(110.0);
        let rows = features(&close);
        let expected = 9.5 / (2.0 * 4.75_f64.sqrt());
        assert!((column(&rows, "bb_position")[19] - expected).abs() < 1e-12);
        assert_eq!(column(&rows, "bb_breakout")[19], 1.0);
        // A constant window has zero width: position 0, and close == upper is no breakout.
        let rows = features(&[100.0; 20]);
        assert_eq!(column(&rows, "bb_position")[19], 0.0);
        assert_eq!(column(&rows, "bb_breakout")[19], 0.0);
    }

    #[test]
    fn volume_spike_is_strictly_above_twice_the_average() {
        // 19 days of 9 then 19: average 9.5 (today included), ratio exactly 2.
        let mut volume = vec![9; 19];
        volume.push(19);
        let close = vec![10.0; 20];
        let rows = technical_features(&bars(&close, &volume));
        assert_eq!(column(&rows, "volume_ratio")[19], 2.0);
        assert_eq!(column(&rows, "volume_spike")[19], 0.0);
        // Sample std of the window: sqrt((19 * 0.25 + 9.5^2) / 19) = sqrt(5).
        let z = column(&rows, "volume_zscore_20")[19];
        assert!((z - 9.5 / 5.0_f64.sqrt()).abs() < 1e-12, "{z}");
        volume[19] = 20;
        let rows = technical_features(&bars(&close, &volume));
        assert_eq!(column(&rows, "volume_spike")[19], 1.0);
    }

    #[test]
    fn zero_volume_runs_are_neutral_not_nan() {
        let close = vec![5.0; 30];
        let rows = technical_features(&bars(&close, &[0; 30]));
        assert!(rows.iter().flatten().all(|v| v.is_finite()));
        assert!(column(&rows, "volume_ratio").iter().all(|v| *v == 1.0));
        assert!(column(&rows, "volume_zscore_20").iter().all(|v| *v == 0.0));
        assert!(column(&rows, "volume_spike").iter().all(|v| *v == 0.0));
    }

    #[test]
    fn returns_and_volatility_by_hand() {
        let close: Vec<f64> = (1..=25).map(f64::from).collect();
        let rows = features(&close);
        assert_eq!(column(&rows, "return_5d")[24], 25.0 / 20.0 - 1.0);
        assert_eq!(column(&rows, "return_10d")[24], 25.0 / 15.0 - 1.0);
        assert_eq!(column(&rows, "return_20d")[24], 25.0 / 5.0 - 1.0);
        assert_eq!(column(&rows, "return_20d")[19], 0.0);
        // Log returns alternating +0.01 / -0.01: sample std 0.01 * sqrt(20 / 19).
        let close: Vec<f64> = (0..25)
            .map(|i| 100.0 * if i % 2 == 0 { 1.0 } else { 0.01_f64.exp() })
            .collect();
        let vol = column(&features(&close), "volatility_20d");
        assert_eq!(vol[19], 0.0, "needs 20 returns, i.e. 21 bars");
        assert!((vol[20] - 0.01 * (20.0_f64 / 19.0).sqrt()).abs() < 1e-12);
        assert!((vol[24] - 0.01 * (20.0_f64 / 19.0).sqrt()).abs() < 1e-12);
    }
}
