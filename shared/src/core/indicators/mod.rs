//! Technical indicators, equal to TA-Lib's definitions (see each module's golden tests).
//!
//! API contract used by the rest of the system: [`compute`] takes a ticker's bars in
//! date order (split-adjusted closes and volumes) and returns one [`IndicatorRow`] per
//! bar; a field is `None` exactly where TA-Lib returns NaN (the warm-up bars).
//!
//! Each indicator lives in its own module as a pure function over `&[f64]` that
//! mimics TA-Lib's own algorithm (same seeds, same running sums, same operation
//! order), so the values equal TA-Lib 0.8 (default settings, unstable period 0) to
//! rounding; `shared/tests/indicators_golden.rs` checks them against TA-Lib's output
//! on real tickers. Each module also has a streaming state (`Sma`, `Rsi`, ...) updated
//! bar by bar, which [`compute`] uses to fill every row in a single pass over the bars:
//! the indicators' independent recurrences then overlap in the CPU instead of running
//! one after the other.

pub mod bollinger;
pub mod ema;
pub mod macd;
pub mod rsi;
pub mod sma;
pub mod volume_ratio;

/// RSI period (TA-Lib's default).
pub const RSI_PERIOD: usize = 14;
/// MACD fast, slow and signal periods (TA-Lib's defaults).
pub const MACD_FAST: usize = 12;
pub const MACD_SLOW: usize = 26;
pub const MACD_SIGNAL: usize = 9;
/// Bollinger period and width in standard deviations.
pub const BOLLINGER_PERIOD: usize = 20;
pub const BOLLINGER_NB_DEV: f64 = 2.0;
/// Trend moving averages.
pub const SMA_SHORT: usize = 50;
pub const SMA_LONG: usize = 200;
/// Volume average period for [`IndicatorRow::volume_ratio`].
pub const VOLUME_PERIOD: usize = 20;

/// The indicator values of one bar.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct IndicatorRow {
    pub rsi_14: Option<f64>,
    pub macd: Option<f64>,
    pub macd_signal: Option<f64>,
    pub macd_hist: Option<f64>,
    pub bb_upper: Option<f64>,
    pub bb_middle: Option<f64>,
    pub bb_lower: Option<f64>,
    pub sma_50: Option<f64>,
    pub sma_200: Option<f64>,
    pub volume_ratio: Option<f64>,
}

/// Computes every indicator for a series of closes and volumes (same length, date order).
///
/// - `rsi_14`: TA-Lib `RSI(close, 14)`, first value at index 14;
/// - `macd`, `macd_signal`, `macd_hist`: TA-Lib `MACD(close, 12, 26, 9)`, from index 33;
/// - `bb_*`: TA-Lib `BBANDS(close, 20, 2, 2, SMA)`, from index 19;
/// - `sma_50`, `sma_200`: TA-Lib `SMA`, from index 49 and 199 (never, on shorter series);
/// - `volume_ratio`: `volume / SMA(volume, 20)`, from index 19, `None` where that average is 0.
///
/// # Panics
/// If `close` and `volume` differ in length.
pub fn compute(close: &[f64], volume: &[f64]) -> Vec<IndicatorRow> {
    assert_eq!(
        close.len(),
        volume.len(),
        "close and volume differ in length"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the FMA instructions `compute_fma` is compiled for.
            return unsafe { compute_fma(close, volume) };
        }
    }
    compute_rows(close, volume)
}

/// [`compute_rows`] compiled with hardware FMA, as TA-Lib dispatches its own fused
/// indicators: `f64::mul_add` becomes one instruction instead of a call to libm's `fma`.
/// Both are correctly rounded, so the values are the same bit for bit.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "fma")]
fn compute_fma(close: &[f64], volume: &[f64]) -> Vec<IndicatorRow> {
    compute_rows(close, volume)
}

#[inline(always)]
fn compute_rows(close: &[f64], volume: &[f64]) -> Vec<IndicatorRow> {
    let mut rsi = rsi::Rsi::new(RSI_PERIOD);
    let mut macd = macd::MacdState::new(MACD_FAST, MACD_SLOW, MACD_SIGNAL);
    let mut bands = bollinger::Bollinger::new(BOLLINGER_PERIOD, BOLLINGER_NB_DEV);
    let mut sma_short = sma::Sma::new(SMA_SHORT);
    let mut sma_long = sma::Sma::new(SMA_LONG);
    let mut volume_ratio = volume_ratio::VolumeRatio::new(VOLUME_PERIOD);
    let volume = &volume[..close.len()];
    // A plain loop, not an iterator adapter: a closure would be compiled on its own,
    // without the FMA target feature of `compute_fma`.
    let mut rows = Vec::with_capacity(close.len());
    for i in 0..close.len() {
        let m = macd.update(close, i);
        let b = bands.update(close, i);
        rows.push(IndicatorRow {
            rsi_14: rsi.update(close, i),
            macd: m.map(|p| p.macd),
            macd_signal: m.map(|p| p.signal),
            macd_hist: m.map(|p| p.hist),
            bb_upper: b.map(|b| b.upper),
            bb_middle: b.map(|b| b.middle),
            bb_lower: b.map(|b| b.lower),
            sma_50: sma_short.update(close, i),
            sma_200: sma_long.update(close, i),
            volume_ratio: volume_ratio.update(volume, i),
        });
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(n: usize) -> (Vec<f64>, Vec<f64>) {
        let close = (0..n)
            .map(|i| 100.0 + (i as f64 * 0.37).sin() * 5.0 + i as f64 * 0.05)
            .collect();
        let volume = (0..n).map(|i| 1_000.0 + (i % 11) as f64 * 100.0).collect();
        (close, volume)
    }

    fn first_some(
        rows: &[IndicatorRow],
        field: impl Fn(&IndicatorRow) -> Option<f64>,
    ) -> Option<usize> {
        rows.iter().position(|r| field(r).is_some())
    }

    #[test]
    fn warm_up_lengths_match_talib_lookbacks() {
        let (close, volume) = series(250);
        let rows = compute(&close, &volume);
        assert_eq!(rows.len(), 250);
        assert_eq!(first_some(&rows, |r| r.rsi_14), Some(14));
        assert_eq!(first_some(&rows, |r| r.macd), Some(33));
        assert_eq!(first_some(&rows, |r| r.macd_signal), Some(33));
        assert_eq!(first_some(&rows, |r| r.macd_hist), Some(33));
        assert_eq!(first_some(&rows, |r| r.bb_upper), Some(19));
        assert_eq!(first_some(&rows, |r| r.bb_middle), Some(19));
        assert_eq!(first_some(&rows, |r| r.bb_lower), Some(19));
        assert_eq!(first_some(&rows, |r| r.sma_50), Some(49));
        assert_eq!(first_some(&rows, |r| r.sma_200), Some(199));
        assert_eq!(first_some(&rows, |r| r.volume_ratio), Some(19));
        // Once defined, defined to the end.
        assert!(rows[199..]
            .iter()
            .all(|r| r.sma_200.is_some() && r.macd.is_some()));
    }

    #[test]
    fn rows_equal_the_module_functions() {
        let (close, volume) = series(120);
        let rows = compute(&close, &volume);
        let rsi = rsi::rsi(&close, 14);
        let macd = macd::macd(&close, 12, 26, 9);
        let bands = bollinger::bollinger(&close, 20, 2.0);
        let sma50 = sma::sma(&close, 50);
        let ratio = volume_ratio::volume_ratio(&volume, 20);
        for (i, row) in rows.iter().enumerate() {
            assert_eq!(row.rsi_14, rsi[i]);
            assert_eq!(row.macd, macd.macd[i]);
            assert_eq!(row.macd_signal, macd.signal[i]);
            assert_eq!(row.macd_hist, macd.hist[i]);
            assert_eq!(row.bb_upper, bands.upper[i]);
            assert_eq!(row.bb_middle, bands.middle[i]);
            assert_eq!(row.bb_lower, bands.lower[i]);
            assert_eq!(row.sma_50, sma50[i]);
            assert_eq!(row.sma_200, None);
            assert_eq!(row.volume_ratio, ratio[i]);
        }
    }

    #[test]
    fn fma_dispatch_gives_the_same_bits() {
        // `compute` may take the hardware-FMA path; `compute_rows` here calls libm's fma.
        let (close, volume) = series(300);
        assert_eq!(compute(&close, &volume), compute_rows(&close, &volume));
    }

    #[test]
    fn empty_and_short_series() {
        assert!(compute(&[], &[]).is_empty());
        let rows = compute(&[1.0; 10], &[5.0; 10]);
        assert!(rows.iter().all(|r| *r == IndicatorRow::default()));
    }

    #[test]
    #[should_panic(expected = "differ in length")]
    fn length_mismatch_panics() {
        compute(&[1.0], &[]);
    }
}
