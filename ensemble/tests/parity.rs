//! tract (with the fast tree operator) against onnxruntime's outputs on the committed goldens:
//! `tests/golden/<model>.onnx` + `<model>.json` (input rows, onnxruntime's labels and
//! probabilities), written by `models/` (`uv run python -m tft_models.tree_experiment`).

use std::path::PathBuf;

use ensemble::{Backend, OnnxModel};
use serde_json::Value;

const TOLERANCE: f32 = 1e-5;

struct Golden {
    model: PathBuf,
    input: Vec<f32>,
    n_features: usize,
    labels: Vec<i64>,
    probabilities: Vec<Vec<f32>>,
}

fn golden(name: &str) -> Golden {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let text = std::fs::read_to_string(dir.join(format!("{name}.json"))).expect("golden json");
    let v: Value = serde_json::from_str(&text).expect("golden json");
    let rows: Vec<Vec<f32>> = serde_json::from_value(v["input"].clone()).expect("input");
    assert_eq!(v["schema_hash"], "dd6fbf11d7d7b069");
    Golden {
        model: dir.join(v["model"].as_str().expect("model")),
        n_features: rows[0].len(),
        input: rows.concat(),
        labels: serde_json::from_value(v["label"].clone()).expect("label"),
        probabilities: serde_json::from_value(v["probabilities"].clone()).expect("probabilities"),
    }
}

fn max_abs_diff(model: &OnnxModel, g: &Golden, rows: std::ops::Range<usize>) -> f32 {
    let nf = g.n_features;
    let p = model
        .predict(&g.input[rows.start * nf..rows.end * nf])
        .expect("predict");
    assert_eq!(p.rows(), rows.len());
    let mut worst = 0f32;
    for (i, r) in rows.enumerate() {
        let row = p.row(i);
        let want = &g.probabilities[r];
        for (a, b) in row.iter().zip(want) {
            worst = worst.max((a - b).abs());
        }
        let argmax = (0..row.len()).fold(0, |best, j| if row[j] > row[best] { j } else { best });
        assert_eq!(argmax as i64, g.labels[r], "label of row {r}");
    }
    worst
}

fn check(name: &str) {
    let g = golden(name);
    let model = OnnxModel::load(&g.model).expect("load");
    assert_eq!(model.n_features(), 31);
    assert_eq!(model.n_classes(), 3);
    let n = g.labels.len();
    let worst = max_abs_diff(&model, &g, 0..n);
    println!("{name}: {n} rows, max |tract - onnxruntime| = {worst:e}");
    assert!(
        worst <= TOLERANCE,
        "{name}: max abs diff {worst} > {TOLERANCE}"
    );
    // Other batch sizes (a plan per size) give the same rows.
    assert!(max_abs_diff(&model, &g, 0..1) <= TOLERANCE);
    assert!(max_abs_diff(&model, &g, 5..12) <= TOLERANCE);
    assert!(max_abs_diff(&model, &g, 0..n) <= TOLERANCE);
}

#[test]
fn xgboost_equals_onnxruntime() {
    check("xgboost");
}

#[test]
fn lightgbm_equals_onnxruntime() {
    check("lightgbm");
}

/// The fast operator equals tract's own TreeEnsembleClassifier (a few rows: that one is slow).
#[test]
fn fast_operator_equals_tract_stock_operator() {
    for name in ["xgboost", "lightgbm"] {
        let g = golden(name);
        let rows = &g.input[..4 * g.n_features];
        let fast = OnnxModel::load(&g.model).unwrap().predict(rows).unwrap();
        let stock = OnnxModel::load_with(&g.model, Backend::Stock)
            .unwrap()
            .predict(rows)
            .unwrap();
        let worst = fast
            .values
            .iter()
            .zip(&stock.values)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= TOLERANCE, "{name}: fast vs stock {worst}");
    }
}

#[test]
fn bad_input_is_an_error() {
    let g = golden("xgboost");
    let model = OnnxModel::load(&g.model).unwrap();
    assert!(model.predict(&[0.0; 30]).is_err());
    assert_eq!(model.predict(&[]).unwrap().rows(), 0);
}
