//! Calibration round trip with a non-identity calibration: Python fits it → bundle → Rust
//! applies it. The bundle in `tests/fixtures/calibrated` was trained by
//! `models/tft_models/train.py` (tiny settings, data/sample export with synthetic trade
//! columns; the command is in its manifest) and carries a per-model isotonic calibration,
//! `golden.json` with Python's raw (onnxruntime) and calibrated outputs, and expected returns.
//!
//! Regenerate (e.g. after a feature schema change) with models/README.md's "Test fixture".

use std::path::PathBuf;

use ensemble::golden::Golden;
use ensemble::store::ModelStore;
use ensemble::Ensemble;
use shared::core::features::FeatureRow;
use shared::core::prediction::{as_windows, weighted_vote, ClassProbabilities, OwnedWindow};

fn store() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/calibrated")
}

fn max_diff(a: &ClassProbabilities, b: &ClassProbabilities) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}

#[tokio::test]
async fn rust_applies_pythons_calibration_to_pythons_raw_outputs_to_1e6() {
    let bundle = ModelStore::Local(store()).load_current().await.unwrap();
    let calibration = bundle
        .manifest
        .calibration
        .clone()
        .expect("calibrated bundle");
    assert_eq!(calibration.method, "isotonic");
    let golden = Golden::parse(bundle.file(&bundle.manifest.golden.file).unwrap()).unwrap();
    let raw = golden.raw_outputs.as_ref().expect("raw outputs kept");
    let n = golden.rows.len();
    let mut worst: f64 = 0.0;
    let mut changed: f64 = 0.0;
    let mut calibrated = Vec::new();
    for model in ["lstm", "xgboost", "lightgbm"] {
        let maps = &calibration.models[model];
        assert!(
            !maps.is_identity(),
            "{model}: the fixture's calibration must not be the identity"
        );
        let ours: Vec<ClassProbabilities> = raw[model].iter().map(|p| maps.apply(*p)).collect();
        for i in 0..n {
            worst = worst.max(max_diff(&ours[i], &golden.outputs[model][i]));
            changed = changed.max(max_diff(&ours[i], &raw[model][i]));
            assert!((ours[i].iter().sum::<f64>() - 1.0).abs() < 1e-12);
        }
        calibrated.push((bundle.manifest.weights[model], ours));
    }
    for i in 0..n {
        let votes: Vec<(f64, ClassProbabilities)> =
            calibrated.iter().map(|(w, p)| (*w, p[i])).collect();
        let vote = weighted_vote(&votes).unwrap();
        worst = worst.max(max_diff(&vote, &golden.outputs["ensemble"][i]));
    }
    println!(
        "calibrated vs Python: max |diff| {worst:e}; calibration moved values by up to {changed}"
    );
    assert!(worst <= 1e-6, "{worst:e}");
    assert!(
        changed > 0.01,
        "the calibration should move probabilities: {changed}"
    );
}

#[tokio::test]
async fn the_served_ensemble_reproduces_the_calibrated_goldens_through_tract() {
    let bundle = ModelStore::Local(store()).load_current().await.unwrap();
    let golden = Golden::parse(bundle.file(&bundle.manifest.golden.file).unwrap()).unwrap();
    let ensemble = Ensemble::from_bundle(&bundle).expect("tract + calibration within 1e-5");
    let report = ensemble.check_golden(&golden).unwrap();
    println!("{:?} {:?}", report.max_abs_diff, report.raw_max_abs_diff);
    assert_eq!(report.raw_max_abs_diff.len(), 4);
    for (k, d) in report.max_abs_diff.iter().chain(&report.raw_max_abs_diff) {
        assert!(*d <= 1e-5, "{k}: {d:e}");
    }
    // Through feature windows: the prediction is the calibrated vote, each model calibrated.
    let date = chrono::NaiveDate::from_ymd_opt(2021, 3, 1).unwrap();
    let windows: Vec<OwnedWindow> = golden
        .sequences
        .iter()
        .enumerate()
        .map(|(i, seq)| {
            let ticker = format!("T{i}");
            let rows = seq
                .iter()
                .enumerate()
                .map(|(k, v)| FeatureRow {
                    ticker: ticker.clone(),
                    date: date - chrono::Days::new((seq.len() - 1 - k) as u64),
                    values: v.iter().map(|x| *x as f64).collect(),
                })
                .collect();
            OwnedWindow { ticker, rows }
        })
        .collect();
    let day = ensemble
        .predict_windows(date, &as_windows(&windows))
        .unwrap();
    assert_eq!(day.predictions.len(), golden.rows.len());
    for (i, p) in day.predictions.iter().enumerate() {
        assert!(max_diff(&p.prediction.probabilities, &golden.outputs["ensemble"][i]) <= 1e-5);
        for (model, probs) in &p.model_probabilities {
            assert!(
                max_diff(probs, &golden.outputs[model][i]) <= 1e-5,
                "{model} {i}"
            );
        }
    }
    let lstm = ensemble.single("lstm").unwrap();
    let alone =
        shared::core::prediction::Predictor::predict_day(&lstm, date, &as_windows(&windows))
            .unwrap();
    assert!(max_diff(&alone[0].probabilities, &golden.outputs["lstm"][0]) <= 1e-5);
}

#[tokio::test]
async fn expected_returns_are_exposed() {
    let ensemble = Ensemble::load_local(&store()).await.unwrap();
    let er = ensemble
        .expected_returns()
        .expect("the fixture has trade columns");
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            store()
                .join("ensemble")
                .join(ensemble.version())
                .join("manifest.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let want = &manifest["expected_returns"];
    assert_eq!(er.timeout, want["timeout"].as_f64().unwrap());
    assert_eq!(er.target, want["target"].as_f64().unwrap());
    assert_eq!(er.stop, want["stop"].as_f64().unwrap());
    assert!(er.stop < er.timeout && er.timeout < er.target, "{er:?}");
    assert!(er.rows["timeout"] > 0);
    assert!(ensemble.calibration("xgboost").is_some());
}

/// The committed bundle (models/store, what `make demo` and a first deploy serve) ships a
/// calibration that is not the identity for any model, and the time-out return the
/// expected-value gate needs.
#[tokio::test]
async fn the_committed_bundle_is_calibrated() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../models/store");
    let ensemble = Ensemble::load_local(&root).await.unwrap();
    for model in ["lstm", "xgboost", "lightgbm"] {
        let maps = ensemble.calibration(model).expect(model);
        assert!(!maps.is_identity(), "{model}");
    }
    let er = ensemble.expected_returns().expect("expected_returns");
    assert!(er.timeout.is_finite() && er.stop < er.timeout && er.timeout < er.target);
}
