//! The bundle's `golden.json`: fixed feature windows and onnxruntime's outputs on them,
//! written by the training code. The served ensemble must reproduce them (to
//! [`crate::ensemble::GOLDEN_TOLERANCE`]) before it predicts anything.
//!
//! ```json
//! {"schema_hash": "dd6fbf11d7d7b069", "feature_names": [...], "classes": ["SELL", "HOLD", "BUY"],
//!  "seq_len": 30, "rows": [{"ticker": "AAPL", "date": "2021-03-01"}, ...],
//!  "sequences": [N][30][31],
//!  "outputs": {"lstm": [N][3], "xgboost": [N][3], "lightgbm": [N][3], "ensemble": [N][3]},
//!  "raw_outputs": {the same keys}}
//! ```
//! The tree models read `sequences[i][29]`. `outputs` are what is served: each model's
//! probabilities after the manifest's calibration, `ensemble` Σ weight × those. `raw_outputs`
//! (bundles with a calibration) are onnxruntime's outputs before it, `ensemble` their vote.
//! A bundle without calibration has no `raw_outputs`: its `outputs` are the raw ones.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::Deserialize;
use shared::core::features::FEATURE_SCHEMA;
use shared::core::prediction::{ClassProbabilities, SEQUENCE_DAYS};

/// Which ticker and day a golden window is.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct GoldenRow {
    pub ticker: String,
    pub date: NaiveDate,
}

/// `golden.json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Golden {
    pub schema_hash: String,
    pub feature_names: Vec<String>,
    pub classes: Vec<String>,
    pub seq_len: usize,
    pub rows: Vec<GoldenRow>,
    pub sequences: Vec<Vec<Vec<f32>>>,
    pub outputs: BTreeMap<String, Vec<ClassProbabilities>>,
    #[serde(default)]
    pub raw_outputs: Option<BTreeMap<String, Vec<ClassProbabilities>>>,
}

/// Largest |ours − golden| per output (models and "ensemble"): the served (calibrated)
/// outputs, and the raw ones when the golden file has them.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldenReport {
    pub rows: usize,
    pub max_abs_diff: BTreeMap<String, f64>,
    pub raw_max_abs_diff: BTreeMap<String, f64>,
}

impl GoldenReport {
    /// The output that differs most, with its difference (NaN counts as worst).
    pub fn worst(&self) -> Option<(&str, f64)> {
        self.max_abs_diff
            .iter()
            .chain(&self.raw_max_abs_diff)
            .map(|(k, v)| (k.as_str(), *v))
            .max_by(|a, b| {
                let key = |d: f64| if d.is_nan() { f64::INFINITY } else { d };
                key(a.1).total_cmp(&key(b.1))
            })
    }
}

impl Golden {
    /// Parses and checks the shape: the code's schema, 30-day windows of 31 features, one
    /// output row per window.
    pub fn parse(bytes: &[u8]) -> Result<Golden, String> {
        let golden: Golden =
            serde_json::from_slice(bytes).map_err(|e| format!("golden.json: {e}"))?;
        if golden.schema_hash != FEATURE_SCHEMA.hash() {
            return Err(format!(
                "golden.json is for feature schema {}, the code computes {}",
                golden.schema_hash,
                FEATURE_SCHEMA.hash()
            ));
        }
        let n = golden.rows.len();
        let shape_ok = golden.seq_len == SEQUENCE_DAYS
            && n > 0
            && golden.sequences.len() == n
            && golden.sequences.iter().all(|s| {
                s.len() == SEQUENCE_DAYS && s.iter().all(|r| r.len() == FEATURE_SCHEMA.len())
            });
        if !shape_ok {
            return Err(format!(
                "golden.json must hold {n} > 0 windows of {SEQUENCE_DAYS} × {} features",
                FEATURE_SCHEMA.len()
            ));
        }
        let all = golden
            .outputs
            .iter()
            .chain(golden.raw_outputs.iter().flatten());
        if let Some((name, _)) = all.clone().find(|(_, o)| o.len() != n) {
            return Err(format!(
                "golden.json: outputs.{name} does not have {n} rows"
            ));
        }
        if let Some(raw) = &golden.raw_outputs {
            if raw.keys().ne(golden.outputs.keys()) {
                return Err("golden.json: raw_outputs and outputs name different models".into());
            }
        }
        Ok(golden)
    }

    /// Compares our served and raw outputs with the golden ones; every golden output must be
    /// among ours (`ours_raw` is only compared when the file has `raw_outputs`).
    pub fn compare(
        &self,
        ours: &BTreeMap<String, Vec<ClassProbabilities>>,
        ours_raw: &BTreeMap<String, Vec<ClassProbabilities>>,
    ) -> Result<GoldenReport, String> {
        let max_abs_diff = compare_outputs(&self.outputs, ours)?;
        let raw_max_abs_diff = match &self.raw_outputs {
            Some(raw) => compare_outputs(raw, ours_raw)?
                .into_iter()
                .map(|(k, v)| (format!("raw {k}"), v))
                .collect(),
            None => BTreeMap::new(),
        };
        Ok(GoldenReport {
            rows: self.rows.len(),
            max_abs_diff,
            raw_max_abs_diff,
        })
    }
}

fn compare_outputs(
    golden: &BTreeMap<String, Vec<ClassProbabilities>>,
    ours: &BTreeMap<String, Vec<ClassProbabilities>>,
) -> Result<BTreeMap<String, f64>, String> {
    let mut max_abs_diff = BTreeMap::new();
    for (name, want) in golden {
        let got = ours
            .get(name)
            .ok_or_else(|| format!("golden.json has outputs.{name}, the bundle no such model"))?;
        if got.len() != want.len() {
            return Err(format!("{name}: {} rows, golden {}", got.len(), want.len()));
        }
        let worst = got
            .iter()
            .flatten()
            .zip(want.iter().flatten())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, |w: f64, d| {
                if w.is_nan() || d.is_nan() {
                    f64::NAN
                } else {
                    w.max(d)
                }
            });
        max_abs_diff.insert(name.clone(), worst);
    }
    for name in ours.keys() {
        if !golden.contains_key(name) {
            return Err(format!("golden.json has no outputs.{name}"));
        }
    }
    Ok(max_abs_diff)
}
