//! Bollinger Bands, as TA-Lib's `TA_BBANDS` computes them with an SMA middle band.
//!
//! The middle band is TA-Lib's running-sum SMA. The deviation is the population
//! standard deviation, computed the way TA-Lib 0.8 does it (its "shifted data"
//! variance, free of the cancellation of `E[x^2] - E[x]^2`):
//! - sums of `x - shift` and `(x - shift)^2` are kept over the window, `shift` being
//!   the first bar of the first window; the variance is
//!   `sum2 / n - (sum1 / n)^2` (`/ n` as a multiply by the reciprocal);
//! - when that variance loses too much precision (below 1e-6 of `sum2 / n`), when
//!   the bar leaving the window dominates the remaining sum, or at the latest every
//!   `32 * period` bars, both sums are rebuilt around the window's own mean and the
//!   variance recomputed, floored to 0 below 1e-12 of `sum2 / n`;
//! - the deviation is `sqrt(variance)`, 0 where the variance is exactly 0.
//!
//! Same operations in the same order as TA-Lib, so the bands equal it bit for bit.

/// One bar of Bollinger output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    pub upper: f64,
    pub middle: f64,
    pub lower: f64,
}

/// Bollinger series: each `None` exactly where TA-Lib gives NaN.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bands {
    pub upper: Vec<Option<f64>>,
    pub middle: Vec<Option<f64>>,
    pub lower: Vec<Option<f64>>,
}

/// Streaming state of TA-Lib's BBANDS (SMA middle band) over one input series.
#[derive(Debug, Clone)]
pub struct Bollinger {
    period: usize,
    nb_dev: f64,
    divisor: f64,
    inv_period: f64,
    reseed_every: usize,
    bars_since_reseed: usize,
    shift: f64,
    total: f64,
    sum1: f64,
    sum2: f64,
}

impl Bollinger {
    /// Bands `nb_dev` standard deviations above and below the `period`-bar SMA.
    ///
    /// # Panics
    /// If `period` is below 2 (TA-Lib's minimum).
    pub fn new(period: usize, nb_dev: f64) -> Self {
        assert!(period >= 2, "Bollinger period must be at least 2");
        Self {
            period,
            nb_dev,
            divisor: period as f64,
            inv_period: 1.0 / period as f64,
            reseed_every: 32 * period,
            bars_since_reseed: 32 * period,
            shift: 0.0,
            total: 0.0,
            sum1: 0.0,
            sum2: 0.0,
        }
    }

    /// The bands at bar `i` of `input`; call it for `i = 0, 1, 2, ...` in order, always
    /// with the same `input`. `None` on the first `period - 1` bars.
    #[inline(always)]
    pub fn update(&mut self, input: &[f64], i: usize) -> Option<Band> {
        let new = input[i];
        if i == 0 {
            self.shift = new;
        }
        self.total += new;
        let d = new - self.shift;
        self.sum1 += d;
        self.sum2 += d * d;
        if i + 1 < self.period {
            return None;
        }
        let inv_period = self.inv_period;
        let mean1 = self.sum1 * inv_period;
        let mut variance = self.sum2 * inv_period - mean1 * mean1;
        let middle = self.total / self.divisor;

        let start = i + 1 - self.period;
        let old = input[start];
        self.total -= old;
        let d = old - self.shift;
        self.sum1 -= d;
        let leaving_sq = d * d;
        self.sum2 -= leaving_sq;

        self.bars_since_reseed -= 1;
        if variance < 1e-6 * (self.sum2 * inv_period)
            || leaving_sq > 1e6 * self.sum2
            || self.bars_since_reseed == 0
        {
            variance = self.reseed(&input[start..=i]);
        }

        let deviation = if variance != 0.0 {
            variance.sqrt()
        } else {
            0.0
        };
        let width = deviation * self.nb_dev;
        Some(Band {
            upper: middle + width,
            middle,
            lower: middle - width,
        })
    }

    /// Rebuilds the shifted sums around the mean of `window` (the current window) and
    /// returns its variance, then drops the window's first bar from the sums.
    #[cold]
    fn reseed(&mut self, window: &[f64]) -> f64 {
        let inv_period = self.inv_period;
        self.bars_since_reseed = self.reseed_every;
        self.shift = window.iter().sum::<f64>() * inv_period;
        let (mut sum1, mut sum2) = (0.0_f64, 0.0_f64);
        for &x in window {
            let d = x - self.shift;
            sum1 += d;
            sum2 += d * d;
        }
        let mean1 = sum1 * inv_period;
        let mut variance = sum2 * inv_period - mean1 * mean1;
        if variance < 1e-12 * (sum2 * inv_period) {
            variance = 0.0;
        }
        let d = window[0] - self.shift;
        self.sum1 = sum1 - d;
        self.sum2 = sum2 - d * d;
        variance
    }
}

/// TA-Lib's `BBANDS(input, period, nb_dev, nb_dev, MA_Type.SMA)`.
pub fn bollinger(input: &[f64], period: usize, nb_dev: f64) -> Bands {
    let n = input.len();
    let mut out = Bands {
        upper: Vec::with_capacity(n),
        middle: Vec::with_capacity(n),
        lower: Vec::with_capacity(n),
    };
    let mut state = Bollinger::new(period, nb_dev);
    for i in 0..n {
        let band = state.update(input, i);
        out.upper.push(band.map(|b| b.upper));
        out.middle.push(band.map(|b| b.middle));
        out.lower.push(band.map(|b| b.lower));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::sma;
    use super::*;

    #[test]
    fn middle_is_the_sma_and_bands_are_symmetric() {
        let x: Vec<f64> = (0..40).map(|i| 50.0 + f64::from(i % 7) * 1.3).collect();
        let out = bollinger(&x, 20, 2.0);
        assert_eq!(out.middle, sma::sma(&x, 20));
        assert!(out.upper[..19].iter().all(Option::is_none));
        for i in 19..40 {
            let (u, m, l) = (
                out.upper[i].unwrap(),
                out.middle[i].unwrap(),
                out.lower[i].unwrap(),
            );
            assert!(u > m && m > l);
            assert!(((u - m) - (m - l)).abs() < 1e-12);
        }
    }

    #[test]
    fn population_standard_deviation() {
        // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, population sd 2.
        let x = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        let out = bollinger(&x, 8, 2.0);
        assert_eq!(out.middle[7], Some(5.0));
        assert_eq!(out.upper[7], Some(9.0));
        assert_eq!(out.lower[7], Some(1.0));
    }

    #[test]
    fn flat_window_has_zero_width() {
        let out = bollinger(&[3.3; 25], 20, 2.0);
        assert_eq!(out.upper[24], out.middle[24]);
        assert_eq!(out.lower[24], out.middle[24]);
    }

    #[test]
    fn no_cancellation_on_a_high_priced_flat_window() {
        // E[x^2] - E[x]^2 would leave a rounding residue here; the shifted variance
        // (and TA-Lib) give exactly 0.
        let x: Vec<f64> = [4999.99, 5000.01]
            .repeat(10)
            .into_iter()
            .chain([5000.0; 25])
            .collect();
        let out = bollinger(&x, 20, 2.0);
        assert_eq!(out.upper[44], out.middle[44]);
        assert!(out.upper[19].unwrap() > out.middle[19].unwrap());
    }

    #[test]
    fn long_series_reseeds_without_drift() {
        let x: Vec<f64> = (0..2000)
            .map(|i| 1000.0 + (f64::from(i) * 0.1).sin())
            .collect();
        let out = bollinger(&x, 20, 2.0);
        for i in [19, 700, 1999] {
            let window = &x[i - 19..=i];
            let mean = window.iter().sum::<f64>() / 20.0;
            let var = window.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / 20.0;
            let upper = out.upper[i].unwrap();
            assert!((upper - (mean + 2.0 * var.sqrt())).abs() < 1e-9, "bar {i}");
        }
    }

    #[test]
    fn too_short_is_all_none() {
        let out = bollinger(&[1.0; 19], 20, 2.0);
        assert!(out.middle.iter().all(Option::is_none));
    }
}
