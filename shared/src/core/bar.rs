//! One trading day of one ticker, as the exchange reports it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// A daily OHLCV bar. `open..close` are split-adjusted (not dividend-adjusted) prices,
/// which is what Yahoo's chart `quote` arrays hold and what fills and indicators use;
/// `adjusted_close` is also dividend-adjusted and is kept for reference only (it embeds
/// dividends paid after the bar, so using it in a backtest is look-ahead).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DailyBar {
    /// The trading day in the exchange's own time zone.
    pub date: NaiveDate,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub adjusted_close: f64,
    pub volume: i64,
}
