//! The three models of a verified bundle, loaded once and run on a whole day of tickers:
//! each model's class probabilities, combined by the manifest's weights
//! ([`shared::core::prediction::weighted_vote`]) into one [`Prediction`] per ticker.
//!
//! Inputs: the LSTM (a `[batch, 30, 31]` model) reads each ticker's whole
//! [`FeatureWindow`], the tree models (`[batch, 31]`) its last row. A window that is not
//! complete (fewer than 30 rows), does not end at the signal date, or holds a row of the
//! wrong width or a non-finite value is skipped with its reason, never padded; so is a
//! ticker one model gives unusable probabilities for (a NaN, a value outside [0, 1]): the
//! rest of the day is still predicted.
//!
//! Batches are cut into chunks ([`SEQUENCE_CHUNK_ROWS`] windows for the LSTM, [`CHUNK_ROWS`]
//! rows for the trees) and each chunk is padded with zero rows to a multiple of
//! [`PAD_ROWS`]: tract optimises one plan per batch size, so this bounds the plans a
//! long-lived process (a warm Lambda, a backtest over years of days) keeps. Rows are
//! independent in every model, so padding changes nothing in the real rows.
//!
//! The LSTM's chunk is small on purpose: measured on 500 windows (one thread, min CPU
//! time), tract takes 68 ms as one batch of 512 but 43-44 ms in chunks of 32 or 64: each
//! step's `[batch, 4 × 128]` gate block then stays in cache.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;
use shared::core::features::FEATURE_SCHEMA;
use shared::core::prediction::{
    weighted_vote, ClassProbabilities, FeatureWindow, Prediction, Predictor, PredictorError,
    VoteError, SEQUENCE_DAYS,
};

use crate::calibration::{ClassMaps, ExpectedReturns};
use crate::golden::{Golden, GoldenReport};
use crate::manifest::BundleError;
use crate::store::{Bundle, ModelStore};
use crate::{Backend, OnnxModel};

/// Rows per run of a tree model.
pub const CHUNK_ROWS: usize = 512;
/// Windows per run of the sequence model (see the module notes).
pub const SEQUENCE_CHUNK_ROWS: usize = 64;
/// Batch sizes are rounded up to a multiple of this (zero rows, dropped after the run).
pub const PAD_ROWS: usize = 32;
/// Largest |tract − onnxruntime| on the bundle's golden inputs a model may show to be served.
pub const GOLDEN_TOLERANCE: f64 = 1e-5;

/// Why an ensemble cannot be built or run.
#[derive(Debug, thiserror::Error)]
pub enum EnsembleError {
    #[error(transparent)]
    Bundle(#[from] BundleError),
    #[error("model {version}/{model}: {source}")]
    Model {
        version: String,
        model: String,
        #[source]
        source: crate::Error,
    },
    #[error("model {version}/{model} is unusable: {reason}")]
    Unusable {
        version: String,
        model: String,
        reason: String,
    },
    #[error("model {version}: {reason}")]
    Golden { version: String, reason: String },
    #[error("model {version}: the vote failed: {source}")]
    Vote {
        version: String,
        #[source]
        source: VoteError,
    },
    /// A version this process already failed to load, not loaded again (the reason is
    /// that failure's, which names the version).
    #[error("{reason} (refused earlier: {version} is not loaded again until `current` names another version)")]
    Refused { version: String, reason: String },
    #[error("no model named {0:?} in the bundle")]
    NoSuchModel(String),
}

/// One member of the ensemble.
struct Member {
    name: String,
    weight: f64,
    model: Arc<OnnxModel>,
    /// The manifest's calibration of this model (None: identity).
    calibration: Option<ClassMaps>,
}

/// The served ensemble: every model of one bundle version, loaded once.
pub struct Ensemble {
    version: String,
    members: Vec<Member>,
    expected_returns: Option<ExpectedReturns>,
}

/// A ticker not predicted, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Skipped {
    pub ticker: String,
    pub reason: String,
}

/// The ensemble's prediction with each model's own probabilities.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsemblePrediction {
    pub prediction: Prediction,
    /// By model name (lstm, xgboost, lightgbm), SELL/HOLD/BUY, calibrated (what was voted).
    pub model_probabilities: BTreeMap<String, ClassProbabilities>,
}

/// A day's run: one prediction per usable window, the others skipped.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DayPredictions {
    pub predictions: Vec<EnsemblePrediction>,
    pub skipped: Vec<Skipped>,
}

impl Ensemble {
    /// Loads every model of a verified bundle and checks them against the bundle's golden
    /// outputs: a model tract computes differently from onnxruntime is refused.
    pub fn from_bundle(bundle: &Bundle) -> Result<Self, EnsembleError> {
        let manifest = &bundle.manifest;
        let version = manifest.version.clone();
        let mut members = Vec::new();
        for (name, weight) in &manifest.weights {
            let unusable = |reason: String| EnsembleError::Unusable {
                version: version.clone(),
                model: name.clone(),
                reason,
            };
            let file = &manifest
                .models
                .get(name)
                .ok_or_else(|| unusable("no file in the manifest".into()))?
                .file;
            let bytes = bundle
                .file(file)
                .ok_or_else(|| unusable(format!("{file} is not in the bundle")))?;
            let model = OnnxModel::from_bytes(bytes, Backend::Fast).map_err(|source| {
                EnsembleError::Model {
                    version: version.clone(),
                    model: name.clone(),
                    source,
                }
            })?;
            if model.n_features() != FEATURE_SCHEMA.len() || model.n_classes() != 3 {
                return Err(unusable(format!(
                    "reads {} features and gives {} classes; the code has {} features and 3 classes",
                    model.n_features(),
                    model.n_classes(),
                    FEATURE_SCHEMA.len()
                )));
            }
            if let Some(seq) = model.seq_len().filter(|s| *s != SEQUENCE_DAYS) {
                return Err(unusable(format!(
                    "reads sequences of {seq} days, the code builds {SEQUENCE_DAYS}"
                )));
            }
            let calibration = manifest
                .calibration
                .as_ref()
                .and_then(|c| c.models.get(name))
                .cloned();
            members.push(Member {
                name: name.clone(),
                weight: *weight,
                model: Arc::new(model),
                calibration,
            });
        }
        let ensemble = Ensemble {
            version,
            members,
            expected_returns: manifest.expected_returns.clone(),
        };
        let golden = bundle
            .file(&manifest.golden.file)
            .ok_or_else(|| ensemble.golden_error("golden file missing from the bundle".into()))?;
        let golden = Golden::parse(golden).map_err(|e| ensemble.golden_error(e))?;
        let report = ensemble.check_golden(&golden)?;
        if let Some((model, diff)) = report
            .worst()
            .filter(|(_, d)| d.is_nan() || *d > GOLDEN_TOLERANCE)
        {
            return Err(ensemble.golden_error(format!(
                "{model}: tract differs from onnxruntime's golden outputs by {diff:e} (> {GOLDEN_TOLERANCE:e})"
            )));
        }
        tracing::info!(version = %ensemble.version, golden = ?report.max_abs_diff, "ensemble loaded");
        Ok(ensemble)
    }

    /// Loads and verifies the `current` bundle of a local store directory (the layout of
    /// `models/store`: `<root>/ensemble/current`, `<root>/ensemble/<version>/...`).
    pub async fn load_local(root: &Path) -> Result<Self, EnsembleError> {
        let bundle = ModelStore::Local(root.to_path_buf()).load_current().await?;
        Self::from_bundle(&bundle)
    }

    /// [`Ensemble::load_local`] for synchronous callers (builds its own small runtime: do not
    /// call from inside an async runtime).
    pub fn load_local_blocking(root: &Path) -> Result<Self, EnsembleError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| {
                EnsembleError::Bundle(BundleError::NoCurrent(format!(
                    "cannot start a runtime to read {}: {e}",
                    root.display()
                )))
            })?;
        runtime.block_on(Self::load_local(root))
    }

    fn golden_error(&self, reason: String) -> EnsembleError {
        EnsembleError::Golden {
            version: self.version.clone(),
            reason,
        }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    /// Model names with their ensemble weights.
    pub fn weights(&self) -> impl Iterator<Item = (&str, f64)> {
        self.members.iter().map(|m| (m.name.as_str(), m.weight))
    }

    /// A model's calibration (None: served raw, the identity).
    pub fn calibration(&self, model: &str) -> Option<&ClassMaps> {
        self.members
            .iter()
            .find(|m| m.name == model)
            .and_then(|m| m.calibration.as_ref())
    }

    /// Mean net return of the calibration slice's trades by exit kind (time-out/flip,
    /// target, stop), for ranking entries by expected value; None for bundles trained on the
    /// old export (label only).
    pub fn expected_returns(&self) -> Option<&ExpectedReturns> {
        self.expected_returns.as_ref()
    }

    /// The mean net return of the calibration slice's time-out/flip trades, carried by
    /// every prediction for the expected-value gate (`None`: the bundle has none).
    pub fn timeout_return(&self) -> Option<f64> {
        self.expected_returns.as_ref().map(|e| e.timeout)
    }

    /// One model of the ensemble as a predictor of its own (a backtest baseline); its
    /// predictions carry the version `<bundle version>/<model>`.
    pub fn single(&self, name: &str) -> Result<SingleModel, EnsembleError> {
        let member = self
            .members
            .iter()
            .find(|m| m.name == name)
            .ok_or_else(|| EnsembleError::NoSuchModel(name.to_string()))?;
        Ok(SingleModel {
            version: format!("{}/{}", self.version, member.name),
            name: member.name.clone(),
            model: member.model.clone(),
            calibration: member.calibration.clone(),
            timeout_return: self.timeout_return(),
        })
    }

    /// Each model's probabilities on the golden inputs against onnxruntime's (raw, and
    /// through the calibration), and the weighted vote of the calibrated ones against the
    /// golden ensemble output.
    pub fn check_golden(&self, golden: &Golden) -> Result<GoldenReport, EnsembleError> {
        let mut outputs = BTreeMap::new();
        let mut raw_outputs = BTreeMap::new();
        for member in &self.members {
            let input: Vec<f32> = match member.model.seq_len() {
                Some(_) => golden
                    .sequences
                    .iter()
                    .flatten()
                    .flatten()
                    .copied()
                    .collect(),
                None => golden
                    .sequences
                    .iter()
                    .filter_map(|s| s.last())
                    .flatten()
                    .copied()
                    .collect(),
            };
            let raw = self.run_model(member, &input, golden.sequences.len())?;
            outputs.insert(
                member.name.clone(),
                calibrate(member.calibration.as_ref(), &raw),
            );
            raw_outputs.insert(member.name.clone(), raw);
        }
        for by_model in [&mut outputs, &mut raw_outputs] {
            let ensemble = (0..golden.sequences.len())
                .map(|i| self.vote(by_model.iter().map(|(name, p)| (name.as_str(), p[i]))))
                .collect::<Result<Vec<_>, _>>()?;
            by_model.insert("ensemble".to_string(), ensemble);
        }
        golden
            .compare(&outputs, &raw_outputs)
            .map_err(|reason| self.golden_error(reason))
    }

    /// The weighted vote over per-model probabilities.
    fn vote<'a>(
        &self,
        by_model: impl Iterator<Item = (&'a str, ClassProbabilities)>,
    ) -> Result<ClassProbabilities, EnsembleError> {
        let by_model: BTreeMap<&str, ClassProbabilities> = by_model.collect();
        let votes: Vec<(f64, ClassProbabilities)> = self
            .members
            .iter()
            .filter_map(|m| by_model.get(m.name.as_str()).map(|p| (m.weight, *p)))
            .collect();
        weighted_vote(&votes).map_err(|source| EnsembleError::Vote {
            version: self.version.clone(),
            source,
        })
    }

    /// Runs one model over `n` rows of its input, in padded chunks.
    fn run_model(
        &self,
        member: &Member,
        input: &[f32],
        n: usize,
    ) -> Result<Vec<ClassProbabilities>, EnsembleError> {
        run_padded(&member.model, input, n).map_err(|source| EnsembleError::Model {
            version: self.version.clone(),
            model: member.name.clone(),
            source,
        })
    }

    /// Predicts every usable window for `date` (all tickers of the day in one batch per
    /// model), keeping each model's vote beside the ensemble's.
    #[tracing::instrument(skip(self, windows), fields(version = %self.version, windows = windows.len()))]
    pub fn predict_windows(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<DayPredictions, EnsembleError> {
        let (usable, skipped) = usable_windows(date, windows);
        let mut by_model: Vec<(String, Vec<ClassProbabilities>)> = Vec::new();
        for member in &self.members {
            let input = model_input(&member.model, &usable);
            let raw = self.run_model(member, &input, usable.len())?;
            by_model.push((
                member.name.clone(),
                calibrate(member.calibration.as_ref(), &raw),
            ));
        }
        let tickers: Vec<&str> = usable.iter().map(|w| w.ticker).collect();
        let weights: Vec<(&str, f64)> = self.weights().collect();
        let mut voted = vote_each_ticker(&self.version, &weights, date, &tickers, &by_model)?;
        let timeout = self.timeout_return();
        for p in &mut voted.predictions {
            p.prediction.timeout_return = timeout;
        }
        Ok(DayPredictions {
            predictions: voted.predictions,
            skipped: skipped.into_iter().chain(voted.skipped).collect(),
        })
    }
}

/// The weighted vote for each ticker over the models' rows (`by_model[m].1[i]` is model
/// `m`'s probabilities for `tickers[i]`). A ticker a model gave unusable probabilities (a
/// NaN, a value outside [0, 1]) is skipped with the model and the values, the others are
/// predicted; weights that cannot vote at all fail the day.
fn vote_each_ticker(
    version: &str,
    weights: &[(&str, f64)],
    date: NaiveDate,
    tickers: &[&str],
    by_model: &[(String, Vec<ClassProbabilities>)],
) -> Result<DayPredictions, EnsembleError> {
    let mut day = DayPredictions::default();
    for (i, ticker) in tickers.iter().enumerate() {
        let model_probabilities: BTreeMap<String, ClassProbabilities> = by_model
            .iter()
            .map(|(name, p)| (name.clone(), p[i]))
            .collect();
        let votes: Vec<(&str, f64, ClassProbabilities)> = weights
            .iter()
            .filter_map(|(name, w)| model_probabilities.get(*name).map(|p| (*name, *w, *p)))
            .collect();
        let pairs: Vec<(f64, ClassProbabilities)> =
            votes.iter().map(|(_, w, p)| (*w, *p)).collect();
        match weighted_vote(&pairs) {
            Ok(probabilities) => day.predictions.push(EnsemblePrediction {
                prediction: Prediction::from_probabilities(*ticker, date, version, probabilities),
                model_probabilities,
            }),
            Err(VoteError::BadProbabilities(m, p)) => {
                let model = votes.get(m).map_or("?", |v| v.0);
                tracing::warn!(%ticker, model, probabilities = ?p, "model output unusable; ticker skipped");
                day.skipped.push(Skipped {
                    ticker: ticker.to_string(),
                    reason: format!(
                        "model {model} gave probabilities that are not finite and in [0, 1]: {p:?}"
                    ),
                });
            }
            Err(source) => {
                return Err(EnsembleError::Vote {
                    version: version.to_string(),
                    source,
                })
            }
        }
    }
    Ok(day)
}

impl Predictor for Ensemble {
    fn version(&self) -> &str {
        &self.version
    }

    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError> {
        self.predict_windows(date, windows)
            .map(|day| day.predictions.into_iter().map(|p| p.prediction).collect())
            .map_err(|e| PredictorError {
                predictor: self.version.clone(),
                message: e.to_string(),
            })
    }
}

/// Each row through the model's calibration. A row that is not usable (a NaN, a value
/// outside [0, 1]) passes unchanged, so the vote still refuses it instead of the clamped
/// ends of the maps hiding it.
fn calibrate(maps: Option<&ClassMaps>, raw: &[ClassProbabilities]) -> Vec<ClassProbabilities> {
    let Some(maps) = maps else {
        return raw.to_vec();
    };
    raw.iter()
        .map(|p| {
            if p.iter().all(|v| v.is_finite() && (0.0..=1.0).contains(v)) {
                maps.apply(*p)
            } else {
                *p
            }
        })
        .collect()
}

/// One model of an [`Ensemble`] on its own (calibrated like in the ensemble).
#[derive(Clone)]
pub struct SingleModel {
    version: String,
    name: String,
    model: Arc<OnnxModel>,
    calibration: Option<ClassMaps>,
    timeout_return: Option<f64>,
}

impl SingleModel {
    /// The model's name in the bundle (lstm, xgboost, lightgbm).
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Predictor for SingleModel {
    fn version(&self) -> &str {
        &self.version
    }

    fn predict_day(
        &self,
        date: NaiveDate,
        windows: &[FeatureWindow<'_>],
    ) -> Result<Vec<Prediction>, PredictorError> {
        let (usable, _) = usable_windows(date, windows);
        let input = model_input(&self.model, &usable);
        let raw = run_padded(&self.model, &input, usable.len()).map_err(|e| PredictorError {
            predictor: self.version.clone(),
            message: e.to_string(),
        })?;
        let probabilities = calibrate(self.calibration.as_ref(), &raw);
        Ok(usable
            .iter()
            .zip(probabilities)
            .map(|(w, p)| {
                Prediction::from_probabilities(w.ticker, date, &self.version, p)
                    .with_timeout_return(self.timeout_return)
            })
            .collect())
    }
}

/// The windows a model can read, and the others with the reason.
fn usable_windows<'w>(
    date: NaiveDate,
    windows: &[FeatureWindow<'w>],
) -> (Vec<FeatureWindow<'w>>, Vec<Skipped>) {
    let mut usable = Vec::with_capacity(windows.len());
    let mut skipped = Vec::new();
    for window in windows {
        let reason = if !window.is_complete() {
            Some(format!(
                "{} feature rows, the models need {SEQUENCE_DAYS}",
                window.rows.len()
            ))
        } else if window.latest().map(|r| r.date) != Some(date) {
            Some(format!(
                "the window ends {:?}, not on {date}",
                window.latest().map(|r| r.date)
            ))
        } else {
            window
                .rows
                .iter()
                .find(|r| {
                    r.values.len() != FEATURE_SCHEMA.len()
                        || r.values.iter().any(|v| !v.is_finite())
                })
                .map(|row| {
                    format!(
                        "the row of {} has {} values or a non-finite one",
                        row.date,
                        row.values.len()
                    )
                })
        };
        match reason {
            None => usable.push(*window),
            Some(reason) => skipped.push(Skipped {
                ticker: window.ticker.to_string(),
                reason,
            }),
        }
    }
    (usable, skipped)
}

/// The model's input for usable windows: whole sequences for the LSTM, last rows otherwise.
fn model_input(model: &OnnxModel, windows: &[FeatureWindow<'_>]) -> Vec<f32> {
    let rows_per_window = if model.seq_len().is_some() {
        SEQUENCE_DAYS
    } else {
        1
    };
    let mut input = Vec::with_capacity(windows.len() * model.row_width());
    for window in windows {
        for row in &window.rows[window.rows.len() - rows_per_window..] {
            input.extend(row.values.iter().map(|v| *v as f32));
        }
    }
    input
}

/// Runs `n` rows in chunks ([`SEQUENCE_CHUNK_ROWS`] or [`CHUNK_ROWS`]), each padded to a
/// multiple of [`PAD_ROWS`].
fn run_padded(
    model: &OnnxModel,
    input: &[f32],
    n: usize,
) -> Result<Vec<ClassProbabilities>, crate::Error> {
    let width = model.row_width();
    if input.len() != n * width {
        return Err(crate::Error::Input(format!(
            "{} values for {n} rows of {width}",
            input.len()
        )));
    }
    let mut out = Vec::with_capacity(n);
    let mut padded = Vec::new();
    let chunk_rows = if model.seq_len().is_some() {
        SEQUENCE_CHUNK_ROWS
    } else {
        CHUNK_ROWS
    };
    for chunk in input.chunks(chunk_rows * width) {
        let rows = chunk.len() / width;
        let batch = rows.div_ceil(PAD_ROWS) * PAD_ROWS;
        padded.clear();
        padded.extend_from_slice(chunk);
        padded.resize(batch * width, 0.0);
        let p = model.predict(&padded)?;
        if p.n_classes != 3 {
            return Err(crate::Error::Model(format!("{} classes", p.n_classes)));
        }
        out.extend((0..rows).map(|i| {
            let r = p.row(i);
            [r[0] as f64, r[1] as f64, r[2] as f64]
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::core::features::Label;

    const WEIGHTS: [(&str, f64); 3] = [("lstm", 0.3), ("xgboost", 0.4), ("lightgbm", 0.3)];

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2021, 3, 1).unwrap()
    }

    fn rows(lstm: [ClassProbabilities; 3]) -> Vec<(String, Vec<ClassProbabilities>)> {
        let buy = [0.05, 0.05, 0.9];
        vec![
            ("lightgbm".into(), vec![buy; 3]),
            ("lstm".into(), lstm.to_vec()),
            ("xgboost".into(), vec![buy; 3]),
        ]
    }

    #[test]
    fn a_ticker_with_an_unusable_model_output_is_skipped_and_the_others_predicted() {
        let lstm = [[0.1, 0.1, 0.8], [f64::NAN, 0.5, 0.5], [0.2, 0.2, 0.6]];
        let day = vote_each_ticker(
            "v1",
            &WEIGHTS,
            date(),
            &["AAPL", "BAD", "MSFT"],
            &rows(lstm),
        )
        .unwrap();
        let predicted: Vec<&str> = day
            .predictions
            .iter()
            .map(|p| p.prediction.ticker.as_str())
            .collect();
        assert_eq!(predicted, ["AAPL", "MSFT"]);
        assert_eq!(day.skipped.len(), 1);
        assert_eq!(day.skipped[0].ticker, "BAD");
        assert!(
            day.skipped[0].reason.contains("model lstm") && day.skipped[0].reason.contains("NaN"),
            "{}",
            day.skipped[0].reason
        );
        let aapl = &day.predictions[0];
        let want = 0.3 * 0.8 + 0.4 * 0.9 + 0.3 * 0.9;
        assert!((aapl.prediction.probabilities[2] - want).abs() < 1e-12);
        assert_eq!(aapl.prediction.signal, Label::Buy);
        assert_eq!(aapl.model_probabilities["lstm"], [0.1, 0.1, 0.8]);
    }

    #[test]
    fn a_probability_above_one_is_skipped_too() {
        let lstm = [[0.1, 0.1, 0.8], [0.0, 0.0, 1.5], [0.2, 0.2, 0.6]];
        let day = vote_each_ticker("v1", &WEIGHTS, date(), &["A", "B", "C"], &rows(lstm)).unwrap();
        assert_eq!(day.predictions.len(), 2);
        assert_eq!(day.skipped[0].ticker, "B");
    }

    #[test]
    fn weights_that_cannot_vote_fail_the_day() {
        let lstm = [[0.1, 0.1, 0.8]; 3];
        let bad = [("lstm", 0.5), ("xgboost", 0.4), ("lightgbm", 0.3)];
        let err = vote_each_ticker("v1", &bad, date(), &["A", "B", "C"], &rows(lstm)).unwrap_err();
        assert!(matches!(err, EnsembleError::Vote { .. }), "{err}");
    }
}
