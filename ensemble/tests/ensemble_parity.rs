//! The committed bundle (`models/store`, read through the verifying local store: sha256 of
//! every file, the feature schema of this code) served by tract equals onnxruntime's golden
//! outputs for the LSTM, XGBoost, LightGBM and the weighted ensemble, to 1e-5; the same
//! through feature windows, the single-model predictors, chunked and padded batches.
//!
//! `TFT_PARITY_STORE` points the tests at another store root (e.g. a freshly trained one).

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use ensemble::golden::Golden;
use ensemble::store::{Bundle, ModelStore};
use ensemble::{Ensemble, EnsembleError};
use shared::core::features::{FeatureRow, FEATURE_SCHEMA};
use shared::core::prediction::{as_windows, ClassProbabilities, OwnedWindow, Predictor};

const TOLERANCE: f64 = 1e-5;

fn store_root() -> PathBuf {
    std::env::var_os("TFT_PARITY_STORE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/store"))
}

async fn bundle() -> Bundle {
    ModelStore::Local(store_root())
        .load_current()
        .await
        .expect("the committed bundle verifies")
}

fn golden(bundle: &Bundle) -> Golden {
    Golden::parse(bundle.file(&bundle.manifest.golden.file).unwrap()).unwrap()
}

fn signal_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2021, 3, 1).unwrap()
}

/// Golden sequence `i` as a feature window ending on [`signal_date`] (the dates are only
/// labels: the models read the values).
fn window(golden: &Golden, i: usize, ticker: String) -> OwnedWindow {
    let seq = &golden.sequences[i];
    let rows = seq
        .iter()
        .enumerate()
        .map(|(k, values)| FeatureRow {
            ticker: ticker.clone(),
            date: signal_date() - chrono::Days::new((seq.len() - 1 - k) as u64),
            values: values.iter().map(|v| *v as f64).collect(),
        })
        .collect();
    OwnedWindow { ticker, rows }
}

fn windows(golden: &Golden) -> Vec<OwnedWindow> {
    (0..golden.sequences.len())
        .map(|i| window(golden, i, format!("T{i:03}")))
        .collect()
}

fn max_diff(a: &ClassProbabilities, b: &ClassProbabilities) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[tokio::test]
async fn ensemble_reproduces_onnxruntime_golden_outputs() {
    let bundle = bundle().await;
    let golden = golden(&bundle);
    let ensemble = Ensemble::from_bundle(&bundle).expect("served");
    let report = ensemble.check_golden(&golden).unwrap();
    println!(
        "bundle {} ({} golden windows): max |tract - onnxruntime| = {:?}",
        ensemble.version(),
        report.rows,
        report.max_abs_diff
    );
    assert_eq!(
        report.max_abs_diff.keys().collect::<Vec<_>>(),
        ["ensemble", "lightgbm", "lstm", "xgboost"]
    );
    for (output, diff) in &report.max_abs_diff {
        assert!(*diff <= TOLERANCE, "{output}: {diff:e} > {TOLERANCE:e}");
    }
    assert!(report.rows >= 64);
}

#[tokio::test]
async fn feature_windows_give_the_golden_votes() {
    let bundle = bundle().await;
    let golden = golden(&bundle);
    let ensemble = Ensemble::from_bundle(&bundle).unwrap();
    let day = ensemble
        .predict_windows(signal_date(), &as_windows(&windows(&golden)))
        .unwrap();
    assert!(day.skipped.is_empty());
    assert_eq!(day.predictions.len(), golden.sequences.len());
    for (i, p) in day.predictions.iter().enumerate() {
        assert_eq!(p.prediction.ticker, format!("T{i:03}"));
        assert_eq!(p.prediction.model_version, ensemble.version());
        let want = &golden.outputs["ensemble"][i];
        assert!(max_diff(&p.prediction.probabilities, want) <= TOLERANCE);
        assert_eq!(
            p.prediction.confidence,
            p.prediction.probabilities[p.prediction.signal.index()]
        );
        for (model, probabilities) in &p.model_probabilities {
            assert!(
                max_diff(probabilities, &golden.outputs[model][i]) <= TOLERANCE,
                "{model} row {i}"
            );
        }
    }
    // The Predictor view gives the same predictions.
    let plain = ensemble
        .predict_day(signal_date(), &as_windows(&windows(&golden)))
        .unwrap();
    let full: Vec<_> = day
        .predictions
        .iter()
        .map(|p| p.prediction.clone())
        .collect();
    assert_eq!(plain, full);
}

#[tokio::test]
async fn each_model_alone_gives_its_golden_output() {
    let bundle = bundle().await;
    let golden = golden(&bundle);
    let ensemble = Ensemble::from_bundle(&bundle).unwrap();
    for model in ["lstm", "xgboost", "lightgbm"] {
        let single = ensemble.single(model).unwrap();
        assert_eq!(single.version(), format!("{}/{model}", ensemble.version()));
        let predictions = single
            .predict_day(signal_date(), &as_windows(&windows(&golden)))
            .unwrap();
        assert_eq!(predictions.len(), golden.sequences.len());
        let worst = predictions
            .iter()
            .zip(&golden.outputs[model])
            .map(|(p, want)| max_diff(&p.probabilities, want))
            .fold(0.0, f64::max);
        assert!(worst <= TOLERANCE, "{model}: {worst:e}");
    }
    assert!(matches!(
        ensemble.single("random_forest"),
        Err(EnsembleError::NoSuchModel(_))
    ));
}

/// Batches larger than a chunk, and of sizes that need padding, give each row the value
/// it has alone.
#[tokio::test]
async fn chunked_and_padded_batches_change_no_row() {
    let bundle = bundle().await;
    let golden = golden(&bundle);
    let ensemble = Ensemble::from_bundle(&bundle).unwrap();
    let n = golden.sequences.len();
    let many: Vec<OwnedWindow> = (0..1_100)
        .map(|k| window(&golden, k % n, format!("K{k:04}")))
        .collect();
    let day = ensemble
        .predict_windows(signal_date(), &as_windows(&many))
        .unwrap();
    assert_eq!(day.predictions.len(), 1_100);
    for (k, p) in day.predictions.iter().enumerate() {
        let want = &golden.outputs["ensemble"][k % n];
        assert!(
            max_diff(&p.prediction.probabilities, want) <= TOLERANCE,
            "row {k}"
        );
    }
    for k in [0, 7, n - 1] {
        let alone = ensemble
            .predict_windows(signal_date(), &as_windows(&many[k..k + 1]))
            .unwrap();
        let want = &golden.outputs["ensemble"][k];
        assert!(max_diff(&alone.predictions[0].prediction.probabilities, want) <= TOLERANCE);
    }
}

#[tokio::test]
async fn incomplete_or_stale_windows_are_skipped_not_padded() {
    let bundle = bundle().await;
    let golden = golden(&bundle);
    let ensemble = Ensemble::from_bundle(&bundle).unwrap();
    let mut short = window(&golden, 0, "SHORT".into());
    short.rows.remove(0);
    let mut stale = window(&golden, 1, "STALE".into());
    for row in &mut stale.rows {
        row.date = row.date - chrono::Days::new(1);
    }
    let mut broken = window(&golden, 2, "NAN".into());
    broken.rows[5].values[3] = f64::NAN;
    let good = window(&golden, 3, "GOOD".into());
    let day = ensemble
        .predict_windows(signal_date(), &as_windows(&[short, stale, broken, good]))
        .unwrap();
    assert_eq!(day.predictions.len(), 1);
    assert_eq!(day.predictions[0].prediction.ticker, "GOOD");
    let skipped: Vec<&str> = day.skipped.iter().map(|s| s.ticker.as_str()).collect();
    assert_eq!(skipped, ["SHORT", "STALE", "NAN"]);
    assert!(
        day.skipped[0].reason.contains("29 feature rows"),
        "{:?}",
        day.skipped
    );
    let empty = ensemble.predict_windows(signal_date(), &[]).unwrap();
    assert!(empty.predictions.is_empty() && empty.skipped.is_empty());
}

/// A bundle whose golden outputs tract does not reproduce is not served.
#[tokio::test]
async fn a_bundle_tract_disagrees_with_is_refused() {
    let mut bundle = bundle().await;
    let name = bundle.manifest.golden.file.clone();
    let mut value: serde_json::Value = serde_json::from_slice(bundle.file(&name).unwrap()).unwrap();
    let cell = &mut value["outputs"]["lightgbm"][3][1];
    *cell = serde_json::json!(cell.as_f64().unwrap() + 1e-3);
    bundle
        .files
        .insert(name, serde_json::to_vec(&value).unwrap());
    let err = Ensemble::from_bundle(&bundle).err().expect("refused");
    assert!(matches!(err, EnsembleError::Golden { .. }), "{err}");
    assert!(err.to_string().contains("lightgbm"), "{err}");
}

#[test]
fn golden_schema_is_this_codes() {
    let weights: BTreeMap<&str, f64> = [("lstm", 0.3), ("xgboost", 0.4), ("lightgbm", 0.3)]
        .into_iter()
        .collect();
    let bundle = tokio::runtime::Runtime::new().unwrap().block_on(bundle());
    let golden = golden(&bundle);
    assert_eq!(golden.schema_hash, FEATURE_SCHEMA.hash());
    let names: Vec<&str> = golden.feature_names.iter().map(String::as_str).collect();
    assert_eq!(names, FEATURE_SCHEMA.names);
    assert_eq!(golden.classes, ["SELL", "HOLD", "BUY"]);
    let served: BTreeMap<&str, f64> = bundle
        .manifest
        .weights
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(served, weights, "the seed's weights");
}

#[test]
fn the_ensemble_can_be_shared_across_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<Ensemble>();
    shared::<ensemble::SingleModel>();
}

#[test]
fn load_local_blocking_serves_current() {
    let ensemble = Ensemble::load_local_blocking(&store_root()).unwrap();
    let want = std::fs::read_to_string(store_root().join("ensemble/current")).unwrap();
    assert_eq!(ensemble.version(), want.trim());
}
