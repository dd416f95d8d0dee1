//! Simple moving average, as TA-Lib's `TA_SMA` computes it.
//!
//! TA-Lib keeps one running sum: it adds the new bar, divides by the period, then
//! subtracts the bar leaving the window. The same operations in the same order give
//! the same rounding, so the values equal TA-Lib's bit for bit.

/// Streaming state of TA-Lib's SMA over one input series.
#[derive(Debug, Clone)]
pub struct Sma {
    period: usize,
    divisor: f64,
    total: f64,
}

impl Sma {
    /// # Panics
    /// If `period` is 0.
    pub fn new(period: usize) -> Self {
        assert!(period >= 1, "SMA period must be at least 1");
        Self {
            period,
            divisor: period as f64,
            total: 0.0,
        }
    }

    /// The SMA at bar `i` of `input`; call it for `i = 0, 1, 2, ...` in order, always
    /// with the same `input`. `None` on the first `period - 1` bars.
    #[inline(always)]
    pub fn update(&mut self, input: &[f64], i: usize) -> Option<f64> {
        self.total += input[i];
        if i + 1 < self.period {
            return None;
        }
        let value = self.total / self.divisor;
        self.total -= input[i + 1 - self.period];
        Some(value)
    }
}

/// TA-Lib's `SMA(input, period)`: `None` on the first `period - 1` bars (TA-Lib's NaN).
pub fn sma(input: &[f64], period: usize) -> Vec<Option<f64>> {
    let mut state = Sma::new(period);
    (0..input.len()).map(|i| state.update(input, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_is_none_then_running_average() {
        let out = sma(&[1.0, 2.0, 3.0, 4.0, 5.0], 3);
        assert_eq!(out, vec![None, None, Some(2.0), Some(3.0), Some(4.0)]);
    }

    #[test]
    fn shorter_than_period_is_all_none() {
        assert_eq!(sma(&[1.0, 2.0], 3), vec![None, None]);
        assert!(sma(&[], 3).is_empty());
    }

    #[test]
    fn period_one_is_the_input() {
        assert_eq!(sma(&[1.5, 2.5], 1), vec![Some(1.5), Some(2.5)]);
    }

    #[test]
    fn equals_talib_running_sum_rounding() {
        // TA-Lib 0.8.1 SMA(x, 3) on these values (rounding of the running sum included).
        let x = [0.1, 0.2, 0.3, 0.4, 0.5];
        let out = sma(&x, 3);
        let total = 0.1 + 0.2 + 0.3;
        assert_eq!(out[2], Some(total / 3.0));
        let total = total - 0.1 + 0.4;
        assert_eq!(out[3], Some(total / 3.0));
    }
}
