//! MACD, as TA-Lib's `TA_MACD` computes it (default compatibility).
//!
//! Two details make TA-Lib's MACD differ from a naive "EMA12 - EMA26":
//! - each EMA is seeded with the simple average of its first `period` bars, and the
//!   fast EMA's seed window *ends on the same bar* as the slow one's (bars
//!   `slow - fast .. slow`), so both start at bar `slow - 1`;
//! - the signal EMA is seeded with the simple average of the first `signal` MACD
//!   values, so MACD, signal and histogram all start at bar `slow - 1 + signal - 1`
//!   (33 for 12/26/9); TA-Lib gives NaN for all three before it.
//!
//! The three EMAs step with TA-Lib 0.8's fused recursion, [`ema::step`].

use super::ema;

/// One bar of MACD output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdPoint {
    pub macd: f64,
    pub signal: f64,
    pub hist: f64,
}

/// MACD series: each `None` exactly where TA-Lib gives NaN.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Macd {
    pub macd: Vec<Option<f64>>,
    pub signal: Vec<Option<f64>>,
    pub hist: Vec<Option<f64>>,
}

/// Index of the first bar with a value (TA-Lib's `TA_MACD_Lookback`).
pub fn lookback(fast: usize, slow: usize, signal: usize) -> usize {
    fast.max(slow) - 1 + signal - 1
}

/// Streaming state of TA-Lib's MACD over one input series.
#[derive(Debug, Clone)]
pub struct MacdState {
    fast: usize,
    slow: usize,
    signal: usize,
    first: usize,
    fast_k: f64,
    slow_k: f64,
    signal_k: f64,
    /// Seed sums, then the EMAs.
    fast_ema: f64,
    slow_ema: f64,
    signal_ema: f64,
}

impl MacdState {
    /// # Panics
    /// If `fast` or `slow` is below 2 or `signal` is 0 (TA-Lib's limits).
    pub fn new(fast: usize, slow: usize, signal: usize) -> Self {
        assert!(fast >= 2 && slow >= 2, "MACD periods must be at least 2");
        assert!(signal >= 1, "MACD signal period must be at least 1");
        // TA-Lib swaps the periods when slow < fast.
        let (fast, slow) = if slow < fast {
            (slow, fast)
        } else {
            (fast, slow)
        };
        Self {
            fast,
            slow,
            signal,
            first: lookback(fast, slow, signal),
            fast_k: ema::k(fast),
            slow_k: ema::k(slow),
            signal_k: ema::k(signal),
            fast_ema: 0.0,
            slow_ema: 0.0,
            signal_ema: 0.0,
        }
    }

    /// The MACD at bar `i` of `input`; call it for `i = 0, 1, 2, ...` in order, always
    /// with the same `input`. `None` before bar `lookback(fast, slow, signal)`.
    #[inline(always)]
    pub fn update(&mut self, input: &[f64], i: usize) -> Option<MacdPoint> {
        let x = input[i];
        if i < self.slow {
            // Seeds: the slow window is bars 0..slow, the fast window its tail.
            self.slow_ema += x;
            if i >= self.slow - self.fast {
                self.fast_ema += x;
            }
            if i + 1 < self.slow {
                return None;
            }
            self.slow_ema /= self.slow as f64;
            self.fast_ema /= self.fast as f64;
        } else {
            self.fast_ema = ema::step(self.fast_ema, x, self.fast_k);
            self.slow_ema = ema::step(self.slow_ema, x, self.slow_k);
        }
        let macd = self.fast_ema - self.slow_ema;
        if i <= self.first {
            // The signal seed: the simple average of the first `signal` MACD values.
            self.signal_ema += macd;
            if i < self.first {
                return None;
            }
            self.signal_ema /= self.signal as f64;
        } else if self.signal == 1 {
            self.signal_ema = macd;
        } else {
            self.signal_ema = ema::step(self.signal_ema, macd, self.signal_k);
        }
        Some(MacdPoint {
            macd,
            signal: self.signal_ema,
            hist: macd - self.signal_ema,
        })
    }
}

/// TA-Lib's `MACD(input, fast, slow, signal)`.
pub fn macd(input: &[f64], fast: usize, slow: usize, signal: usize) -> Macd {
    let n = input.len();
    let mut out = Macd {
        macd: Vec::with_capacity(n),
        signal: Vec::with_capacity(n),
        hist: Vec::with_capacity(n),
    };
    let mut state = MacdState::new(fast, slow, signal);
    for i in 0..n {
        let point = state.update(input, i);
        out.macd.push(point.map(|p| p.macd));
        out.signal.push(point.map(|p| p.signal));
        out.hist.push(point.map(|p| p.hist));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(n: usize) -> Vec<f64> {
        (0..n)
            .map(|i| 10.0 + (i as f64 * 0.7).sin() + i as f64 * 0.1)
            .collect()
    }

    #[test]
    fn first_value_at_33_for_12_26_9() {
        assert_eq!(lookback(12, 26, 9), 33);
        let out = macd(&ramp(60), 12, 26, 9);
        for series in [&out.macd, &out.signal, &out.hist] {
            assert!(series[..33].iter().all(Option::is_none));
            assert!(series[33..].iter().all(Option::is_some));
        }
    }

    #[test]
    fn too_short_is_all_none() {
        let out = macd(&ramp(33), 12, 26, 9);
        assert!(out.macd.iter().all(Option::is_none));
        assert!(macd(&ramp(34), 12, 26, 9).macd[33].is_some());
    }

    #[test]
    fn fast_seed_window_ends_with_the_slow_one() {
        // Periods 2/3/1: slow seed = mean(x0..x2), fast seed = mean(x1, x2), both at bar 2;
        // signal period 1 means the signal equals the MACD line.
        let x = [1.0, 2.0, 4.0, 8.0];
        let out = macd(&x, 2, 3, 1);
        let (fast, slow) = ((2.0 + 4.0) / 2.0, (1.0 + 2.0 + 4.0) / 3.0);
        assert_eq!(out.macd[2], Some(fast - slow));
        assert_eq!(out.signal[2], out.macd[2]);
        assert_eq!(out.hist[2], Some(0.0));
        let fast = ema::step(fast, 8.0, ema::k(2));
        let slow = ema::step(slow, 8.0, ema::k(3));
        assert_eq!(out.macd[3], Some(fast - slow));
    }

    #[test]
    fn swapped_periods_are_reordered() {
        let x = ramp(80);
        assert_eq!(macd(&x, 26, 12, 9), macd(&x, 12, 26, 9));
    }

    #[test]
    fn hist_is_macd_minus_signal() {
        let out = macd(&ramp(100), 12, 26, 9);
        for i in 33..100 {
            assert_eq!(
                out.hist[i].unwrap(),
                out.macd[i].unwrap() - out.signal[i].unwrap()
            );
        }
    }
}
