//! Volume ratio: a bar's volume over the 20-bar simple average of volume (the bar
//! itself included), the average being TA-Lib's `SMA(volume, period)`.
//!
//! Where the average is 0 (a run of zero-volume bars, as in thinly traded names) the
//! ratio is undefined and `None`, never an infinity or a NaN.

use super::sma::Sma;

/// Streaming state of the volume ratio over one volume series.
#[derive(Debug, Clone)]
pub struct VolumeRatio {
    average: Sma,
}

impl VolumeRatio {
    /// # Panics
    /// If `period` is 0.
    pub fn new(period: usize) -> Self {
        Self {
            average: Sma::new(period),
        }
    }

    /// The ratio at bar `i` of `volume`; call it for `i = 0, 1, 2, ...` in order,
    /// always with the same `volume`. `None` on the first `period - 1` bars and where
    /// the average is not positive.
    #[inline(always)]
    pub fn update(&mut self, volume: &[f64], i: usize) -> Option<f64> {
        let average = self.average.update(volume, i)?;
        if average > 0.0 {
            Some(volume[i] / average)
        } else {
            None
        }
    }
}

/// `volume / SMA(volume, period)`: `None` on the first `period - 1` bars and where
/// the average is 0.
pub fn volume_ratio(volume: &[f64], period: usize) -> Vec<Option<f64>> {
    let mut state = VolumeRatio::new(period);
    (0..volume.len()).map(|i| state.update(volume, i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_to_the_average_including_the_bar() {
        let out = volume_ratio(&[100.0, 100.0, 400.0], 3);
        assert_eq!(out, vec![None, None, Some(2.0)]);
    }

    #[test]
    fn zero_average_is_none() {
        let out = volume_ratio(&[0.0, 0.0, 0.0, 30.0], 3);
        assert_eq!(out, vec![None, None, None, Some(3.0)]);
    }
}
