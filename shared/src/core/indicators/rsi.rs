//! Relative Strength Index, as TA-Lib's `TA_RSI` computes it (default compatibility,
//! no unstable period).
//!
//! The first `period` price changes are summed into a gain and a loss total, scaled
//! by `1 / period`; each later change is smoothed in Wilder's way:
//! `avg = (avg * (period - 1) + change) * (1 / period)`, in exactly that order (TA-Lib
//! 0.8 multiplies by the hoisted reciprocal; older TA-Lib divided, which differs in
//! the last bit). The RSI is `100 * (gain / (gain + loss))`, or 0 when `gain + loss`
//! is exactly 0 (no change over the whole smoothing memory). The first value is at
//! index `period`.

#[inline(always)]
fn rsi_value(gain: f64, loss: f64) -> f64 {
    let total = gain + loss;
    if total > 0.0 {
        100.0 * (gain / total)
    } else {
        0.0
    }
}

/// Splits a price change into (gain, loss) increments without a branch, as TA-Lib
/// does: the loss increment `gain - change` is exact for every finite change.
#[inline(always)]
fn split(change: f64) -> (f64, f64) {
    let gain = if change > 0.0 { change } else { 0.0 };
    (gain, gain - change)
}

/// Streaming state of TA-Lib's RSI over one input series.
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    inv_period: f64,
    keep: f64,
    gain: f64,
    loss: f64,
}

impl Rsi {
    /// # Panics
    /// If `period` is below 2 (TA-Lib's minimum).
    pub fn new(period: usize) -> Self {
        assert!(period >= 2, "RSI period must be at least 2");
        Self {
            period,
            inv_period: 1.0 / period as f64,
            keep: (period - 1) as f64,
            gain: 0.0,
            loss: 0.0,
        }
    }

    /// The RSI at bar `i` of `input`; call it for `i = 0, 1, 2, ...` in order, always
    /// with the same `input`. `None` on the first `period` bars.
    #[inline(always)]
    pub fn update(&mut self, input: &[f64], i: usize) -> Option<f64> {
        if i == 0 {
            return None;
        }
        let (up, down) = split(input[i] - input[i - 1]);
        if i > self.period {
            self.loss *= self.keep;
            self.gain *= self.keep;
        }
        self.gain += up;
        self.loss += down;
        if i < self.period {
            return None;
        }
        self.loss *= self.inv_period;
        self.gain *= self.inv_period;
        Some(rsi_value(self.gain, self.loss))
    }
}

/// TA-Lib's `RSI(input, period)`: `None` on the first `period` bars.
pub fn rsi(input: &[f64], period: usize) -> Vec<Option<f64>> {
    let mut state = Rsi::new(period);
    (0..input.len()).map(|i| state.update(input, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_at_index_period() {
        let x: Vec<f64> = (0..20).map(|i| f64::from(i % 3)).collect();
        let out = rsi(&x, 14);
        assert!(out[..14].iter().all(Option::is_none));
        assert!(out[14..].iter().all(Option::is_some));
    }

    #[test]
    fn only_gains_is_100_only_losses_is_0() {
        let up: Vec<f64> = (0..20).map(f64::from).collect();
        assert!(rsi(&up, 14)[14..].iter().all(|v| *v == Some(100.0)));
        let down: Vec<f64> = (0..20).map(|i| 100.0 - f64::from(i)).collect();
        assert!(rsi(&down, 14)[14..].iter().all(|v| *v == Some(0.0)));
    }

    #[test]
    fn flat_prices_give_zero_like_talib() {
        assert!(rsi(&[5.0; 30], 14)[14..].iter().all(|v| *v == Some(0.0)));
    }

    #[test]
    fn wilder_smoothing() {
        // Period 2: changes +1, -1 seed gain = loss = 0.5 -> 50; then +2:
        // gain = (0.5 * 1 + 2) * 0.5 = 1.25, loss = 0.5 * 0.5 = 0.25 -> 100 * 1.25 / 1.5.
        let out = rsi(&[1.0, 2.0, 1.0, 3.0], 2);
        assert_eq!(out[2], Some(50.0));
        assert_eq!(out[3], Some(100.0 * (1.25 / 1.5)));
    }

    #[test]
    fn tiny_prices_are_not_zeroed() {
        // TA-Lib 0.8 tests gain + loss exactly, not against a fixed epsilon band.
        let x: Vec<f64> = [1.0, 2.0, 1.0, 3.0]
            .repeat(5)
            .iter()
            .map(|v| v * 1e-16)
            .collect();
        let out = rsi(&x, 14);
        assert!(
            out[14].unwrap() > 40.0 && out[14].unwrap() < 60.0,
            "{out:?}"
        );
    }

    #[test]
    fn too_short_is_all_none() {
        assert!(rsi(&[1.0; 14], 14).iter().all(Option::is_none));
    }
}
