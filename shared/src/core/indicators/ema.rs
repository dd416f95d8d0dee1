//! Exponential moving average, as TA-Lib's `TA_EMA` computes it (default
//! compatibility): the first value is the simple average of the first `period` bars,
//! then `ema = (x - ema) * k + ema` with `k = 2 / (period + 1)`, the multiply-add
//! fused (one rounding), as TA-Lib 0.8 does in its EMA recursions (EMA, MACD).

/// The smoothing factor TA-Lib uses for a period: `2 / (period + 1)`.
#[inline]
pub fn k(period: usize) -> f64 {
    2.0 / (period as f64 + 1.0)
}

/// One step of TA-Lib's EMA recursion: `fma(x - prev, k, prev)`.
///
/// `mul_add` is correctly rounded whether the CPU has an FMA unit or not (without one
/// it calls libm's `fma`), so the result is the same bit for bit on every machine.
#[inline(always)]
pub fn step(prev: f64, x: f64, k: f64) -> f64 {
    (x - prev).mul_add(k, prev)
}

/// Streaming state of TA-Lib's EMA over one input series.
#[derive(Debug, Clone)]
pub struct Ema {
    period: usize,
    k: f64,
    /// The running sum of the seed window, then the EMA.
    value: f64,
}

impl Ema {
    /// # Panics
    /// If `period` is 0.
    pub fn new(period: usize) -> Self {
        assert!(period >= 1, "EMA period must be at least 1");
        Self {
            period,
            k: k(period),
            value: 0.0,
        }
    }

    /// The EMA at bar `i` of `input`; call it for `i = 0, 1, 2, ...` in order, always
    /// with the same `input`. `None` on the first `period - 1` bars.
    #[inline(always)]
    pub fn update(&mut self, input: &[f64], i: usize) -> Option<f64> {
        let x = input[i];
        if i + 1 < self.period {
            self.value += x;
            return None;
        }
        if i + 1 == self.period {
            self.value = (self.value + x) / self.period as f64;
        } else {
            self.value = step(self.value, x, self.k);
        }
        Some(self.value)
    }
}

/// TA-Lib's `EMA(input, period)`: `None` on the first `period - 1` bars.
pub fn ema(input: &[f64], period: usize) -> Vec<Option<f64>> {
    let mut state = Ema::new(period);
    (0..input.len()).map(|i| state.update(input, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_with_the_simple_average() {
        let out = ema(&[1.0, 2.0, 3.0, 4.0], 3);
        assert_eq!(out[..2], [None, None]);
        assert_eq!(out[2], Some(2.0));
        // k = 0.5: (4 - 2) * 0.5 + 2, exact with or without fusing
        assert_eq!(out[3], Some(3.0));
    }

    #[test]
    fn equals_talib_bit_for_bit() {
        // TA-Lib 0.8.2 EMA(x, 4) on the first ten AAPL closes of 2014.
        let x = [
            19.754642, 19.320715, 19.426071, 19.287144, 19.409286, 19.161428, 18.932142, 19.20643,
            19.033571, 19.133215,
        ];
        let talib: [f64; 7] = [
            19.447143,
            19.4320002,
            19.323771320000002,
            19.167119592000002,
            19.1828437552,
            19.12313465312,
            19.127166791872,
        ];
        let out = ema(&x, 4);
        assert_eq!(out[..3], [None, None, None]);
        for (got, want) in out[3..].iter().zip(talib) {
            assert_eq!(
                got.unwrap().to_bits(),
                want.to_bits(),
                "{got:?} != {want:?}"
            );
        }
    }

    #[test]
    fn shorter_than_period_is_all_none() {
        assert_eq!(ema(&[1.0, 2.0], 3), vec![None, None]);
    }

    #[test]
    fn k_matches_talib() {
        assert_eq!(k(12), 2.0 / 13.0);
        assert_eq!(k(26), 2.0 / 27.0);
        assert_eq!(k(9), 0.2);
    }
}
