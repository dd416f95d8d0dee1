//! Times tract on the three models of a bundle and a fixed batch of feature windows;
//! `models/bench_ensemble.py` runs it and compares with onnxruntime on the same files and
//! batch in one run.
//!
//! cargo run --release -p ensemble --example bench_ensemble -- \
//!     --store models/store --batch windows.f32 [--runs 20] [--out DIR]
//!
//! `--batch`: little-endian f32 `[n, 30, 31]` (the LSTM reads the windows, the trees each
//! window's last row). Prints one JSON object per model (ms: load = parse + declutter,
//! first = first run including the plan for that batch size, min / median of `--runs`) on
//! the whole batch at once, then each model as served (`Ensemble::single`: windows in,
//! chunked and padded runs) and the whole ensemble (`Ensemble::predict_windows`: three
//! models and the weighted vote), marked `"served": true`. `--out` writes each model's probabilities to `DIR/<model>.tract.f32`.

use std::path::PathBuf;
use std::time::Instant;

use chrono::NaiveDate;
use ensemble::store::ModelStore;
use ensemble::{Backend, Ensemble, OnnxModel};
use shared::core::features::FeatureRow;
use shared::core::prediction::{as_windows, OwnedWindow, Predictor, SEQUENCE_DAYS};

const N_FEATURES: usize = 31;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (mut store, mut batch, mut runs, mut out) = (None, None, 20usize, None);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--store" => store = args.next().map(PathBuf::from),
            "--batch" => batch = args.next().map(PathBuf::from),
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--out" => out = args.next().map(PathBuf::from),
            other => panic!("unknown argument {other}"),
        }
    }
    let store = ModelStore::Local(store.expect("--store DIR"));
    let bundle = store.load_current().await.expect("a verified bundle");
    let bytes = std::fs::read(batch.expect("--batch FILE")).expect("read batch");
    let sequences: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let width = SEQUENCE_DAYS * N_FEATURES;
    let n = sequences.len() / width;
    let last_rows: Vec<f32> = sequences
        .chunks_exact(width)
        .flat_map(|w| w[width - N_FEATURES..].iter().copied())
        .collect();

    for (name, file) in &bundle.manifest.models {
        let bytes = bundle.file(&file.file).expect("model file");
        let t = Instant::now();
        let model = OnnxModel::from_bytes(bytes, Backend::Fast).expect("load");
        let load_ms = ms(t);
        let input = if model.seq_len().is_some() {
            &sequences
        } else {
            &last_rows
        };
        let (first_ms, min, median, first) = time(runs, || model.predict(input).expect("run"));
        if let Some(dir) = &out {
            let data: Vec<u8> = first.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(dir.join(format!("{name}.tract.f32")), data).expect("write output");
        }
        println!(
            "{{\"model\": \"{name}\", \"rows\": {n}, \"load_ms\": {load_ms:.3}, \"first_ms\": {first_ms:.3}, \
             \"min_ms\": {min:.3}, \"median_ms\": {median:.3}, \"runs\": {runs}}}"
        );
    }

    // The served path: windows in, weighted votes out.
    let t = Instant::now();
    let ensemble = Ensemble::from_bundle(&bundle).expect("served");
    let load_ms = ms(t);
    let date = NaiveDate::from_ymd_opt(2021, 3, 1).unwrap();
    let owned = windows(&sequences, date);
    let windows = as_windows(&owned);
    // Each model as served (chunked and padded as the ensemble runs it).
    for name in bundle.manifest.models.keys() {
        let single = ensemble.single(name).expect("model");
        let (first_ms, min, median, p) = time(runs, || {
            single.predict_day(date, &windows).expect("predict")
        });
        assert_eq!(p.len(), n);
        println!(
            "{{\"model\": \"{name}\", \"served\": true, \"rows\": {n}, \"first_ms\": {first_ms:.3}, \
             \"min_ms\": {min:.3}, \"median_ms\": {median:.3}, \"runs\": {runs}}}"
        );
    }
    let (first_ms, min, median, day) = time(runs, || {
        ensemble.predict_windows(date, &windows).expect("predict")
    });
    assert_eq!(day.predictions.len(), n);
    println!(
        "{{\"model\": \"ensemble\", \"served\": true, \"rows\": {n}, \"load_ms\": {load_ms:.3}, \
         \"first_ms\": {first_ms:.3}, \"min_ms\": {min:.3}, \"median_ms\": {median:.3}, \"runs\": {runs}}}"
    );
}

/// The batch as feature windows ending on `date`.
fn windows(sequences: &[f32], date: NaiveDate) -> Vec<OwnedWindow> {
    let width = SEQUENCE_DAYS * N_FEATURES;
    sequences
        .chunks_exact(width)
        .enumerate()
        .map(|(i, w)| {
            let ticker = format!("T{i:04}");
            let rows = w
                .chunks_exact(N_FEATURES)
                .enumerate()
                .map(|(k, values)| FeatureRow {
                    ticker: ticker.clone(),
                    date: date - chrono::Days::new((SEQUENCE_DAYS - 1 - k) as u64),
                    values: values.iter().map(|v| *v as f64).collect(),
                })
                .collect();
            OwnedWindow { ticker, rows }
        })
        .collect()
}

/// First run, then min and median of `runs` more; the first result.
fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, f64, f64, T) {
    let t = Instant::now();
    let first = f();
    let first_ms = ms(t);
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(f());
            ms(t)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let (min, median) = match times.len() {
        0 => (first_ms, first_ms),
        k => (times[0], times[k / 2]),
    };
    (first_ms, min, median, first)
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
