//! Combining a ticker's stored history with freshly fetched bars.
//!
//! Indicators at a bar depend on every bar before it (Wilder's RSI and the EMAs are
//! seeded at the start of the series), so new bars are computed over the whole stored
//! history plus the fetch. That is only right while the stored history and Yahoo's
//! current series agree on the price scale: a split re-scales every earlier bar, so an
//! overlap that no longer matches means "re-fetch everything".

use chrono::NaiveDate;

use super::DailyBar;

/// Relative difference below which a stored and a fetched price are the same price
/// (Yahoo re-serialises floats; a split changes prices by 33 % or more).
pub const SAME_PRICE_TOLERANCE: f64 = 1e-6;

/// Why a fetched bar was not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InvalidBar {
    NonPositivePrice,
    NotFinite,
    NegativeVolume,
    HighBelowLow,
}

/// Checks one bar for values that must never be stored.
pub fn validate_bar(bar: &DailyBar) -> Result<(), InvalidBar> {
    let prices = [bar.open, bar.high, bar.low, bar.close, bar.adjusted_close];
    if prices.iter().any(|p| !p.is_finite()) {
        return Err(InvalidBar::NotFinite);
    }
    if prices.iter().any(|p| *p <= 0.0) {
        return Err(InvalidBar::NonPositivePrice);
    }
    if bar.volume < 0 {
        return Err(InvalidBar::NegativeVolume);
    }
    if bar.high < bar.low {
        return Err(InvalidBar::HighBelowLow);
    }
    Ok(())
}

/// Keeps the valid bars and returns how many were dropped.
pub fn drop_invalid_bars(bars: Vec<DailyBar>) -> (Vec<DailyBar>, usize) {
    let before = bars.len();
    let kept: Vec<DailyBar> = bars
        .into_iter()
        .filter(|b| validate_bar(b).is_ok())
        .collect();
    let dropped = before - kept.len();
    (kept, dropped)
}

fn same_price(a: f64, b: f64) -> bool {
    (a - b).abs() <= SAME_PRICE_TOLERANCE * a.abs().max(b.abs())
}

/// How the fetched bars relate to the stored ones on the days both have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    /// Nothing stored yet, or no day in common.
    None,
    /// Every common day has the same close.
    Consistent { days: usize },
    /// At least one common day differs: the series was re-adjusted (split) or corrected.
    Rescaled { first_mismatch: NaiveDate },
}

/// Compares closes on the days present in both series (both sorted by date).
pub fn compare_overlap(stored: &[DailyBar], fetched: &[DailyBar]) -> Overlap {
    let mut days = 0;
    let mut i = 0;
    for f in fetched {
        while i < stored.len() && stored[i].date < f.date {
            i += 1;
        }
        if i < stored.len() && stored[i].date == f.date {
            if !same_price(stored[i].close, f.close) {
                return Overlap::Rescaled {
                    first_mismatch: f.date,
                };
            }
            days += 1;
        }
    }
    if days == 0 {
        Overlap::None
    } else {
        Overlap::Consistent { days }
    }
}

/// The stored bars before the first fetched day, followed by the fetched bars, and the
/// index in the result where the fetched bars start (the rows to write).
pub fn merge_history(stored: &[DailyBar], fetched: &[DailyBar]) -> (Vec<DailyBar>, usize) {
    let Some(first_fetched) = fetched.first().map(|b| b.date) else {
        return (stored.to_vec(), stored.len());
    };
    let mut merged: Vec<DailyBar> = stored
        .iter()
        .take_while(|b| b.date < first_fetched)
        .copied()
        .collect();
    let start = merged.len();
    merged.extend_from_slice(fetched);
    (merged, start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(day: u32, close: f64) -> DailyBar {
        DailyBar {
            date: NaiveDate::from_ymd_opt(2021, 3, day).unwrap(),
            open: close,
            high: close,
            low: close,
            close,
            adjusted_close: close,
            volume: 100,
        }
    }

    #[test]
    fn zeros_nan_and_inverted_ranges_are_never_stored() {
        let mut zero = bar(1, 10.0);
        zero.open = 0.0;
        let mut nan = bar(2, 10.0);
        nan.close = f64::NAN;
        let mut inverted = bar(3, 10.0);
        inverted.high = 9.0;
        let (kept, dropped) = drop_invalid_bars(vec![zero, nan, inverted, bar(4, 10.0)]);
        assert_eq!(dropped, 3);
        assert_eq!(kept, vec![bar(4, 10.0)]);
    }

    #[test]
    fn overlap_detects_a_split_rescale() {
        let stored = [bar(1, 400.0), bar(2, 404.0)];
        assert_eq!(
            compare_overlap(&stored, &[bar(2, 404.0000001), bar(3, 101.0)]),
            Overlap::Consistent { days: 1 }
        );
        assert_eq!(
            compare_overlap(&stored, &[bar(2, 101.0), bar(3, 101.5)]),
            Overlap::Rescaled {
                first_mismatch: bar(2, 0.0).date
            }
        );
        assert_eq!(compare_overlap(&[], &[bar(3, 1.0)]), Overlap::None);
    }

    #[test]
    fn merge_keeps_older_stored_bars_and_replaces_the_overlap() {
        let stored = [bar(1, 1.0), bar(2, 2.0), bar(3, 3.0)];
        let fetched = [bar(2, 2.5), bar(3, 3.0), bar(4, 4.0)];
        let (merged, start) = merge_history(&stored, &fetched);
        assert_eq!(
            merged,
            vec![bar(1, 1.0), bar(2, 2.5), bar(3, 3.0), bar(4, 4.0)]
        );
        assert_eq!(start, 1);
        let (merged, start) = merge_history(&stored, &[]);
        assert_eq!((merged.len(), start), (3, 3));
    }
}
