//! The model bundle's `manifest.json`: what was trained, on which features, how the
//! three models are combined, and the sha256 of every file, checked before serving.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use shared::core::features::{Label, FEATURE_SCHEMA};

use crate::calibration::{Calibration, ExpectedReturns};

/// Why a bundle is refused. A refused bundle is never served; a warm container keeps
/// serving its last good one.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BundleError {
    #[error("no current model: the store has no `current` pointer ({0})")]
    NoCurrent(String),
    #[error("model {version}: cannot read {file}: {reason}")]
    Unreadable {
        version: String,
        file: String,
        reason: String,
    },
    #[error("model {version}: manifest.json is not a valid manifest: {reason}")]
    BadManifest { version: String, reason: String },
    #[error("model {version}: {file} is corrupt: sha256 {actual}, manifest says {expected}")]
    Corrupt {
        version: String,
        file: String,
        expected: String,
        actual: String,
    },
    #[error(
        "model {version} was trained on feature schema {trained} but this code computes {serving}: \
         retrain or deploy the matching code"
    )]
    SchemaMismatch {
        version: String,
        trained: String,
        serving: String,
    },
    #[error("model {version}: {reason}")]
    Inconsistent { version: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SchemaRef {
    pub version: u32,
    pub hash: String,
    pub names: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Window {
    pub from: chrono::NaiveDate,
    pub to: chrono::NaiveDate,
}

/// One file of the bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileRef {
    pub file: String,
    pub sha256: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: String,
    pub feature_schema: SchemaRef,
    /// Class order of every model's probability output.
    pub classes: Vec<String>,
    /// Ensemble weights by model name (lstm, xgboost, lightgbm); they sum to 1.
    pub weights: BTreeMap<String, f64>,
    pub training_window: Window,
    /// The calibration slice (about 3 months after the training window and its purge): the
    /// calibration is fitted and the metrics measured there. Bundles before calibration
    /// called it the validation window; the key stayed.
    pub validation_window: Window,
    /// Metrics on that slice by model name ("ensemble" included), e.g. accuracy, macro_f1;
    /// of the calibrated probabilities when the bundle has a calibration.
    pub validation_metrics: BTreeMap<String, BTreeMap<String, f64>>,
    /// The ONNX file of each model, by model name.
    pub models: BTreeMap<String, FileRef>,
    /// Fixed inputs and onnxruntime's outputs for them (the parity check).
    pub golden: FileRef,
    /// Per-model probability calibration; absent = identity (bundles before it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calibration: Option<Calibration>,
    /// Mean net return of each exit kind on the calibration slice (new exports only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_returns: Option<ExpectedReturns>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Manifest {
    pub fn parse(version: &str, bytes: &[u8]) -> Result<Self, BundleError> {
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| BundleError::BadManifest {
                version: version.to_string(),
                reason: e.to_string(),
            })?;
        if manifest.version != version {
            return Err(BundleError::Inconsistent {
                version: version.to_string(),
                reason: format!("manifest names version {:?}", manifest.version),
            });
        }
        Ok(manifest)
    }

    /// The schema, classes and weights agree with this code.
    pub fn check_against_code(&self) -> Result<(), BundleError> {
        let serving = FEATURE_SCHEMA.hash();
        let names_match = self
            .feature_schema
            .names
            .iter()
            .map(String::as_str)
            .eq(FEATURE_SCHEMA.names.iter().copied());
        if self.feature_schema.hash != serving || !names_match {
            return Err(BundleError::SchemaMismatch {
                version: self.version.clone(),
                trained: self.feature_schema.hash.clone(),
                serving,
            });
        }
        let inconsistent = |reason: String| BundleError::Inconsistent {
            version: self.version.clone(),
            reason,
        };
        let classes: Vec<&str> = Label::CLASSES.iter().map(|c| c.name()).collect();
        if self
            .classes
            .iter()
            .map(String::as_str)
            .ne(classes.iter().copied())
        {
            return Err(inconsistent(format!(
                "class order {:?}, code uses {classes:?}",
                self.classes
            )));
        }
        let total: f64 = self.weights.values().sum();
        if (total - 1.0).abs() > 1e-9 || self.weights.values().any(|w| *w < 0.0) {
            return Err(inconsistent(format!(
                "ensemble weights {:?} do not sum to 1",
                self.weights
            )));
        }
        if let Some(missing) = self.weights.keys().find(|m| !self.models.contains_key(*m)) {
            return Err(inconsistent(format!(
                "weight for {missing} but no model file"
            )));
        }
        if let Some(calibration) = &self.calibration {
            if calibration.method != "isotonic" {
                return Err(inconsistent(format!(
                    "calibration method {:?}, this code applies \"isotonic\"",
                    calibration.method
                )));
            }
            if let Some(unknown) = calibration
                .models
                .keys()
                .find(|m| !self.weights.contains_key(*m))
            {
                return Err(inconsistent(format!(
                    "calibration for {unknown}, which is not in the ensemble"
                )));
            }
        }
        if let Some(er) = &self.expected_returns {
            if [er.timeout, er.target, er.stop]
                .iter()
                .any(|r| !r.is_finite())
            {
                return Err(inconsistent(format!(
                    "expected returns {er:?} are not finite"
                )));
            }
        }
        Ok(())
    }

    /// Every file the manifest lists (models, then the golden file).
    pub fn files(&self) -> impl Iterator<Item = &FileRef> {
        self.models.values().chain(std::iter::once(&self.golden))
    }

    /// `bytes` is the file named `file.file` and matches its recorded sha256.
    pub fn verify_file(&self, file: &FileRef, bytes: &[u8]) -> Result<(), BundleError> {
        let actual = sha256_hex(bytes);
        if !actual.eq_ignore_ascii_case(&file.sha256) {
            return Err(BundleError::Corrupt {
                version: self.version.clone(),
                file: file.file.clone(),
                expected: file.sha256.clone(),
                actual,
            });
        }
        Ok(())
    }
}
