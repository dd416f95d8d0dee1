//! Times tract on ONNX classifiers and a fixed batch; `models/bench_trees.py` runs it and
//! compares with onnxruntime on the same files and batch.
//!
//! cargo run --release -p ensemble --example bench_trees -- \
//!     --batch models/artifacts/trees/bench_batch.f32 [--features 31] [--runs 20] \
//!     [--stock] [--out DIR] MODEL.onnx...
//!
//! Prints one JSON object per model (times in ms: load = parse + declutter, first = first run
//! including the plan optimisation for that batch size, then min / median of `--runs`), and
//! with `--out` writes the probabilities as little-endian f32 to `DIR/<model stem>.tract.f32`.

use std::path::PathBuf;
use std::time::Instant;

use ensemble::{Backend, OnnxModel};

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut batch, mut features, mut runs, mut backend, mut out) =
        (None, 31usize, 20usize, Backend::Fast, None);
    let mut models = vec![];
    while let Some(a) = args.next() {
        match a.as_str() {
            "--batch" => batch = args.next().map(PathBuf::from),
            "--features" => {
                features = args
                    .next()
                    .and_then(|v| v.parse().ok())
                    .expect("--features N")
            }
            "--runs" => runs = args.next().and_then(|v| v.parse().ok()).expect("--runs N"),
            "--stock" => backend = Backend::Stock,
            "--out" => out = args.next().map(PathBuf::from),
            _ => models.push(PathBuf::from(a)),
        }
    }
    let batch = batch.expect("--batch FILE");
    let bytes = std::fs::read(&batch).expect("read batch");
    let rows: Vec<f32> = bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    let n_rows = rows.len() / features;
    for path in models {
        let t = Instant::now();
        let model = OnnxModel::load_with(&path, backend).expect("load");
        let load_ms = ms(t);
        let t = Instant::now();
        let first = model.predict(&rows).expect("run");
        let first_ms = ms(t);
        let mut times = vec![];
        for _ in 0..runs {
            let t = Instant::now();
            let p = model.predict(&rows).expect("run");
            times.push(ms(t));
            assert_eq!(p, first, "runs differ");
        }
        times.sort_by(f64::total_cmp);
        let (min, median) = match times.len() {
            0 => (first_ms, first_ms),
            n => (times[0], times[n / 2]),
        };
        if let Some(dir) = &out {
            let stem = path.file_stem().unwrap().to_string_lossy();
            let data: Vec<u8> = first.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            std::fs::write(dir.join(format!("{stem}.tract.f32")), data).expect("write output");
        }
        println!(
            "{{\"model\": \"{}\", \"backend\": \"{:?}\", \"rows\": {n_rows}, \"load_ms\": {load_ms:.3}, \
             \"first_ms\": {first_ms:.3}, \"min_ms\": {min:.3}, \"median_ms\": {median:.3}, \"runs\": {runs}}}",
            path.display(),
            backend
        );
    }
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
