//! What the model side hands to the trading side: one [`Prediction`] per (ticker, day),
//! and the ensemble's weighted vote that makes one from the three models' probabilities.
//!
//! Live (`functions/predict` → `predictions` table → `functions/generate-signals`) and the
//! backtester use these same types, so a strategy is one [`Predictor`] whichever way it runs.
//!
//! Inputs: every model sees the same [`FeatureWindow`]: the ticker's last
//! [`SEQUENCE_DAYS`] feature rows ending at the signal date, oldest first. The LSTM reads
//! the whole window (`[batch, 30, n_features]`); the tree models and the rule strategy read
//! its last row (the signal date's features). A ticker with fewer than [`SEQUENCE_DAYS`]
//! rows is not predicted (its window is incomplete), never padded.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::core::features::{FeatureRow, Label};

/// Trading days of features the sequence model reads (the seed's 30-day sequences).
pub const SEQUENCE_DAYS: usize = 30;

/// One ticker's feature rows up to and including the signal date, oldest first: a view
/// into rows held elsewhere (the backtester's per-ticker history, an [`OwnedWindow`]), so
/// handing a day's windows to a predictor copies nothing.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FeatureWindow<'a> {
    pub ticker: &'a str,
    pub rows: &'a [FeatureRow],
}

impl<'a> FeatureWindow<'a> {
    /// The signal date's row (the last).
    pub fn latest(&self) -> Option<&'a FeatureRow> {
        self.rows.last()
    }

    /// The window holds exactly [`SEQUENCE_DAYS`] rows.
    pub fn is_complete(&self) -> bool {
        self.rows.len() == SEQUENCE_DAYS
    }
}

/// A window that owns its rows (read from the feature store, built by a test); lend it
/// to a predictor with [`OwnedWindow::as_window`] or [`as_windows`].
#[derive(Debug, Clone, PartialEq)]
pub struct OwnedWindow {
    pub ticker: String,
    pub rows: Vec<FeatureRow>,
}

impl OwnedWindow {
    pub fn as_window(&self) -> FeatureWindow<'_> {
        FeatureWindow {
            ticker: &self.ticker,
            rows: &self.rows,
        }
    }
}

/// Views of owned windows, same order.
pub fn as_windows(owned: &[OwnedWindow]) -> Vec<FeatureWindow<'_>> {
    owned.iter().map(OwnedWindow::as_window).collect()
}

/// Class probabilities in [`Label::CLASSES`] order: SELL, HOLD, BUY.
pub type ClassProbabilities = [f64; 3];

/// A model's call on one ticker for one signal date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub ticker: String,
    /// The trading day whose close the prediction is made after.
    pub date: NaiveDate,
    /// The model bundle (or strategy) that produced it, e.g. `"2021-06-30-a1b2c3"` or `"rules-v1"`.
    pub model_version: String,
    /// SELL, HOLD, BUY.
    pub probabilities: ClassProbabilities,
    /// The arg-max class.
    pub signal: Label,
    /// The probability of `signal`.
    pub confidence: f64,
    /// Mean net return of the model's time-out/flip trades on its calibration slice (the
    /// manifest's `expected_returns.timeout`): what the expected-value gate needs beyond
    /// the probabilities. `None` for a model without one (the seed's gate only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_return: Option<f64>,
}

impl Prediction {
    /// A prediction from probabilities: the signal is the arg-max (ties go to HOLD, then
    /// to the lower index), the confidence its probability.
    pub fn from_probabilities(
        ticker: impl Into<String>,
        date: NaiveDate,
        model_version: impl Into<String>,
        probabilities: ClassProbabilities,
    ) -> Self {
        let signal = arg_max(&probabilities);
        Self {
            ticker: ticker.into(),
            date,
            model_version: model_version.into(),
            probabilities,
            signal,
            confidence: probabilities[signal.index()],
            timeout_return: None,
        }
    }

    /// The same prediction with the model's time-out return (see the field).
    pub fn with_timeout_return(mut self, timeout_return: Option<f64>) -> Self {
        self.timeout_return = timeout_return;
        self
    }
}

fn arg_max(p: &ClassProbabilities) -> Label {
    let hold = Label::Hold.index();
    let mut best = hold;
    for label in Label::CLASSES {
        let i = label.index();
        if p[i] > p[best] {
            best = i;
        }
    }
    Label::CLASSES[best]
}

/// Why a vote cannot be taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum VoteError {
    #[error("no models to vote")]
    Empty,
    #[error("ensemble weights must be finite, non-negative and sum to 1, got {0:?}")]
    BadWeights(Vec<f64>),
    #[error("model {0} gave probabilities that are not finite and in [0, 1]: {1:?}")]
    BadProbabilities(usize, ClassProbabilities),
}

/// The ensemble's weighted soft vote: `Σ weight_m × p_m` per class. With the seed's weights
/// (LSTM 0.3, XGBoost 0.4, LightGBM 0.3) a class needs broad agreement to pass the risk
/// manager's confidence > 0.70.
pub fn weighted_vote(votes: &[(f64, ClassProbabilities)]) -> Result<ClassProbabilities, VoteError> {
    if votes.is_empty() {
        return Err(VoteError::Empty);
    }
    let weights: Vec<f64> = votes.iter().map(|(w, _)| *w).collect();
    let total: f64 = weights.iter().sum();
    if weights.iter().any(|w| !w.is_finite() || *w < 0.0) || (total - 1.0).abs() > 1e-9 {
        return Err(VoteError::BadWeights(weights));
    }
    let mut out = [0.0; 3];
    for (m, (w, p)) in votes.iter().enumerate() {
        if p.iter()
            .any(|x| !x.is_finite() || *x < -1e-6 || *x > 1.0 + 1e-6)
        {
            return Err(VoteError::BadProbabilities(m, *p));
        }
        for (o, x) in out.iter_mut().zip(p) {
            *o += w * x;
        }
    }
    Ok(out)
}

/// Something that turns a day's feature windows into predictions: the ONNX ensemble (the
/// `ensemble` crate), a single model of it, or the seed's rule-only strategy.
pub trait Predictor {
    /// Recorded on every prediction and signal (`model_version`).
    fn version(&self) -> &str;

    /// Predictions for `date`, one per window it can predict (incomplete windows are
    /// skipped). Windows all end at `date`.
    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError>;
}

/// A predictor failed as a whole (a bad window is skipped, not an error).
#[derive(Debug, thiserror::Error)]
#[error("{predictor}: {message}")]
pub struct PredictorError {
    pub predictor: String,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d() -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 3, 1).unwrap()
    }

    #[test]
    fn vote_weights_each_model() {
        let p = weighted_vote(&[
            (0.3, [0.1, 0.2, 0.7]),
            (0.4, [0.0, 0.1, 0.9]),
            (0.3, [0.2, 0.6, 0.2]),
        ])
        .unwrap();
        let expected = [0.09, 0.28, 0.63];
        for (a, b) in p.iter().zip(expected) {
            assert!((a - b).abs() < 1e-12, "{p:?}");
        }
    }

    #[test]
    fn vote_refuses_bad_weights_and_probabilities() {
        assert_eq!(weighted_vote(&[]), Err(VoteError::Empty));
        assert!(matches!(
            weighted_vote(&[(0.5, [0.0, 1.0, 0.0])]),
            Err(VoteError::BadWeights(_))
        ));
        assert!(matches!(
            weighted_vote(&[(1.0, [f64::NAN, 1.0, 0.0])]),
            Err(VoteError::BadProbabilities(0, _))
        ));
    }

    #[test]
    fn signal_is_arg_max_and_ties_go_to_hold() {
        let p = Prediction::from_probabilities("AAPL", d(), "v", [0.1, 0.15, 0.75]);
        assert_eq!((p.signal, p.confidence), (Label::Buy, 0.75));
        let tie = Prediction::from_probabilities("AAPL", d(), "v", [0.4, 0.4, 0.2]);
        assert_eq!(tie.signal, Label::Hold);
        let buy_sell = Prediction::from_probabilities("AAPL", d(), "v", [0.45, 0.1, 0.45]);
        assert_eq!(buy_sell.signal, Label::Sell);
    }
}
