//! Model inference for TFT Trader: the ONNX models trained in `models/` run by tract.
//!
//! - [`OnnxModel`] loads a classifier (`[batch, features]` or, for the LSTM,
//!   `[batch, seq, features]` f32 in, class scores out) and runs whole batches; plans are
//!   optimised per concrete batch size and cached.
//! - [`trees`] registers a fast `ai.onnx.ml` `TreeEnsembleClassifier` with tract-onnx: the
//!   XGBoost and LightGBM models are standard ONNX tree ensembles (what onnxruntime runs
//!   natively), see docs/trees-in-tract.md for the options measured and the decision.
//! - [`Ensemble`] serves a verified bundle: the three models loaded once, a day's tickers
//!   in one batch per model, the weighted vote; each model alone is a [`SingleModel`]. Both
//!   are [`shared::core::prediction::Predictor`]s.
//! - [`calibration`]: each model's isotonic calibration from the manifest, applied to its
//!   raw probabilities before the vote; the manifest's expected return per exit kind.
//! - [`golden`]: the bundle's onnxruntime outputs, reproduced by tract before serving.
//! - [`store`] and [`manifest`]: the model bundle (manifest + files) in a local directory or
//!   S3, verified (sha256 of every file, the feature schema hash of this code) before it is
//!   served; promotion only when validation does not get worse.

//!
//! Features: `serving` (default) is everything that runs a model (tract); without it the
//! crate is the store and the manifest only, which is what the query API reads.

pub mod calibration;
#[cfg(feature = "deploy")]
pub mod deploy;
#[cfg(feature = "serving")]
pub mod ensemble;
pub mod golden;
#[cfg(feature = "job")]
pub mod job;
#[cfg(feature = "location")]
pub mod location;
pub mod manifest;
#[cfg(feature = "serving")]
mod model;
pub mod store;
#[cfg(feature = "serving")]
pub mod trees;

pub use calibration::{ClassMaps, ExpectedReturns, Knots};
#[cfg(feature = "serving")]
pub use ensemble::{
    DayPredictions, Ensemble, EnsembleError, EnsemblePrediction, SingleModel, Skipped,
};
#[cfg(feature = "serving")]
pub use model::{Backend, OnnxModel, Probabilities};

/// Errors of loading and running a model.
#[cfg(feature = "serving")]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("tract failed at {stage}: {message}")]
    Tract {
        stage: &'static str,
        message: String,
    },
    #[error("unsupported model: {0}")]
    Model(String),
    #[error("bad input: {0}")]
    Input(String),
    #[error("{0}: {1}")]
    Context(String, Box<Error>),
}

#[cfg(feature = "serving")]
impl Error {
    fn tract(stage: &'static str) -> impl Fn(tract_onnx::prelude::TractError) -> Error {
        move |e| Error::Tract {
            stage,
            message: format!("{e:#}"),
        }
    }

    fn context(self, what: String) -> Error {
        Error::Context(what, Box::new(self))
    }
}
