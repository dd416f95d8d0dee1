//! The backtester, pure: the same core the live functions run (features → a
//! [`Predictor`] → [`crate::core::signals::plan_day`] → [`crate::core::portfolio`] fills →
//! [`crate::core::exits::exit_on_bar`]) walked over history one trading day at a time.
//!
//! - [`data`]: raw bars + scored Reddit items → point-in-time feature rows;
//! - [`engine`]: the day loop and its fills;
//! - [`metrics`]: returns, risk and trade statistics (backtesting.py / freqtrade
//!   conventions);
//! - [`probe`]: the look-ahead probe;
//! - [`benchmark`]: buy-and-hold of one ticker (SPY);
//! - [`walkforward`]: the walk-forward's fold schedule and the predictor that serves each
//!   day with its fold's model;
//! - [`random_entry`]: the random-entry baseline (chance through the same rules);
//! - [`stats`]: percentiles, bootstrap intervals, the deflated Sharpe ratio;
//! - [`universe`]: the universe split by index membership and its survivorship;
//! - [`check_out_of_sample`]: a fixed model may only be tested after what it was fitted on.
//!
//! Prose, conventions and limits: `docs/backtest.md`.

pub mod benchmark;
pub mod data;
pub mod engine;
pub mod metrics;
pub mod probe;
pub mod random_entry;
pub mod stats;
pub mod universe;
pub mod walkforward;

#[cfg(test)]
mod tests;

use chrono::NaiveDate;
use serde::Serialize;

pub use data::{MarketData, RawInputs, TickerData};
pub use engine::{run, BacktestConfig, BacktestError, BacktestRun, EquityPoint};

use crate::core::prediction::{FeatureWindow, Prediction, Predictor, PredictorError};

/// A borrowed predictor is a predictor (the probe builds one per run).
impl<T: Predictor + ?Sized> Predictor for &T {
    fn version(&self) -> &str {
        (**self).version()
    }

    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError> {
        (**self).predict_day(date, windows)
    }
}

/// A date range a model was fitted or selected on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModelWindow {
    /// "training" or "validation".
    pub name: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// A test window that overlaps what a fixed model has seen.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "the test window {test_from}..={test_to} overlaps the model's {window} window \
     {window_from}..={window_to}: a fixed model can only be backtested on days it was not \
     trained or selected on; use --from {earliest} or later, or a model trained earlier"
)]
pub struct WindowOverlap {
    pub test_from: NaiveDate,
    pub test_to: NaiveDate,
    pub window: String,
    pub window_from: NaiveDate,
    pub window_to: NaiveDate,
    /// The first day after every model window.
    pub earliest: NaiveDate,
}

/// Refuses a test window `from..=to` that shares a day with any of the model's windows.
pub fn check_out_of_sample(
    from: NaiveDate,
    to: NaiveDate,
    windows: &[ModelWindow],
) -> Result<(), WindowOverlap> {
    let earliest = windows
        .iter()
        .map(|w| w.to)
        .max()
        .and_then(|d| d.succ_opt())
        .unwrap_or(from);
    match windows.iter().find(|w| from <= w.to && w.from <= to) {
        Some(w) => Err(WindowOverlap {
            test_from: from,
            test_to: to,
            window: w.name.clone(),
            window_from: w.from,
            window_to: w.to,
            earliest,
        }),
        None => Ok(()),
    }
}
